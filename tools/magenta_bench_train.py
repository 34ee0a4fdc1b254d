r"""Times Magenta's own GANSynth training step: the baseline of bench_train.py.

Run with an interpreter that imports Magenta 2.1.4 (see
../shared/oracle/magenta_env.sh), never with ours: this script does not
import gansynth_tf2. tools/bench_common.run_magenta runs it and reads the JSON
line it prints last.

It builds Magenta's `lib.model.Model` for the last stage of the paper's config
`mel_prog_hires` exactly as `gansynth_train.main` / `run` do (config module,
then overrides, then `model.set_flags`; stage 12 of 13 = all 7 blocks,
128x1024), with random weights (`global_variables_initializer`, no
checkpoint) and the oracle's synthetic dataset `oracle_harmonic`. The global
step (= image id) is set to the stage's image count, so that
`compute_progress` gives 6.0 (no blending). Each timed step runs what
tfgan's sequential hooks run per step in `train_util.train`: the generator
train op (Adam + EMA), then the discriminator train op, then the image-id
increment. Summaries, logging and checkpoint hooks are not run.

  $MAGENTA_PY tools/magenta_bench_train.py --batch_size 8 --steps 3
  $MAGENTA_PY tools/magenta_bench_train.py --fmap_base 512 --fmap_max 8  # tiny

Prints one JSON line: {"seconds_per_step": [...], "median", "min",
"batch_size", "config": {...}, ...}.
"""
import argparse
import json
import os
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_ORACLE_DIR = os.path.normpath(
    os.path.join(ROOT, '..', 'shared', 'oracle'))


def log(msg):
  print(f'[magenta_bench_train] {msg}', file=sys.stderr, flush=True)


def build_flags(args, train_root):
  """Magenta's flags for mel_prog_hires, as gansynth_train.main makes them."""
  import importlib  # pylint: disable=g-import-not-at-top
  from magenta.models.gansynth.lib import flags as lib_flags  # pylint: disable=g-import-not-at-top
  from magenta.models.gansynth.lib import model as lib_model  # pylint: disable=g-import-not-at-top
  flags = lib_flags.Flags()
  config_module = importlib.import_module(
      f'magenta.models.gansynth.configs.{args.config}')
  flags.load(config_module.hparams)
  overrides = {'dataset_name': 'oracle_harmonic',
               'batch_size_schedule': [args.batch_size]}
  if args.fmap_base is not None:
    overrides['fmap_base'] = args.fmap_base
  if args.fmap_max is not None:
    overrides['fmap_max'] = args.fmap_max
  flags.load(dict(overrides, train_root_dir=train_root))
  lib_model.set_flags(flags)
  return flags, overrides


def count_convs(sess, op):
  """{kernel type: count} of the conv kernels one traced run of op executed."""
  import collections  # pylint: disable=g-import-not-at-top
  import tensorflow.compat.v1 as tf  # pylint: disable=g-import-not-at-top
  metadata = tf.RunMetadata()
  sess.run(op, options=tf.RunOptions(trace_level=tf.RunOptions.FULL_TRACE),
           run_metadata=metadata)
  counts = collections.Counter()
  for device in metadata.step_stats.dev_stats:
    for node in device.node_stats:
      kind = node.timeline_label.split('(')[0].split('=')[-1].strip()
      kind = kind.split()[0] if kind else ''
      if 'Conv' in kind:
        counts[kind] += 1
  return dict(counts)


def main():
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--oracle_dir', default=DEFAULT_ORACLE_DIR,
                      help='folder of oracle_setup.py (Magenta runtime stubs)')
  parser.add_argument('--config', default='mel_prog_hires',
                      help='module of magenta.models.gansynth.configs')
  parser.add_argument('--batch_size', type=int, default=8)
  parser.add_argument('--steps', type=int, default=3,
                      help='timed steps after one untimed step')
  parser.add_argument('--fmap_base', type=int, default=None,
                      help='override (e.g. 512 with --fmap_max 8: tiny)')
  parser.add_argument('--fmap_max', type=int, default=None)
  parser.add_argument('--count_convs', action='store_true',
                      help='trace one more step of each train op and count '
                      'the convolution kernels it ran (after Grappler)')
  args = parser.parse_args()

  sys.path.insert(0, os.path.abspath(args.oracle_dir))
  import oracle_setup  # pylint: disable=g-import-not-at-top
  oracle_setup.setup()
  import numpy as np  # pylint: disable=g-import-not-at-top
  import tensorflow.compat.v1 as tf  # pylint: disable=g-import-not-at-top
  from magenta.models.gansynth.lib import model as lib_model  # pylint: disable=g-import-not-at-top
  from magenta.models.gansynth.lib import train_util  # pylint: disable=g-import-not-at-top

  with tempfile.TemporaryDirectory() as train_root:
    flags, overrides = build_flags(args, train_root)
    # The last of the 2 * num_resolutions - 1 stages: stage 12 for 7.
    stage_id = train_util.get_total_num_stages(**flags) - 1
    num_blocks, num_images = train_util.get_stage_info(stage_id, **flags)
    start = time.time()
    tf.reset_default_graph()
    with tf.device(tf.train.replica_device_setter(flags['ps_tasks'])):
      model = lib_model.Model(stage_id, args.batch_size, flags)
    build_seconds = time.time() - start
    sess = model.sess
    ops = model.gan_train_ops
    start = time.time()
    sess.run(tf.global_variables_initializer())
    # Magenta registers its dataset iterator's initializer here.
    sess.run(tf.tables_initializer())
    # Past the last transition: compute_progress caps the image id, so the
    # progress is num_blocks - 1 (6.0) and stays there while it grows.
    sess.run(model.current_image_id.assign(num_images))
    progress = float(sess.run(model.progress))
    gen_shape = model.gan_model.generated_data.shape.as_list()
    real_shape = model.gan_model.real_data.shape.as_list()
    log(f'stage {stage_id}, {num_blocks} blocks, progress {progress}, '
        f'generator output {gen_shape}, real data {real_shape}, '
        f'{len(tf.trainable_variables())} trainable variables')
    assert num_blocks - 1 == progress, (num_blocks, progress)

    def step():
      sess.run(ops.generator_train_op)
      sess.run(ops.discriminator_train_op)
      sess.run(ops.global_step_inc_op)

    step()  # untimed: graph optimisation, shuffle buffer fill, allocations
    first_seconds = time.time() - start
    times = []
    for _ in range(args.steps):
      start = time.time()
      step()
      times.append(time.time() - start)
      log(f'step {times[-1]:.3f} s')
    # The input pipeline alone (tf.data: waves -> mel, which runs in the
    # background during the steps above), for comparison only: after the
    # prefetched batches are drained, the time per batch it makes.
    get_next = [op for op in tf.get_default_graph().get_operations()
                if op.type == 'IteratorGetNext']
    input_times = []
    for _ in range(5):
      start = time.time()
      sess.run(get_next[0].outputs)
      input_times.append(time.time() - start)
    if args.count_convs:
      convs = {name: count_convs(sess, op) for name, op in (
          ('generator_train_op', ops.generator_train_op),
          ('discriminator_train_op', ops.discriminator_train_op))}
    progress_after = float(sess.run(model.progress))

  config = {k: flags[k] for k in (
      'fmap_base', 'fmap_max', 'num_resolutions', 'start_height',
      'start_width', 'latent_vector_size', 'gradient_penalty_weight',
      'generator_ac_loss_weight', 'discriminator_ac_loss_weight',
      'gen_gl_consistency_loss_weight')}
  config.update(name=args.config, overrides=overrides, stage_id=stage_id,
                num_blocks=num_blocks, progress=progress,
                progress_after=progress_after,
                generator_output_shape=gen_shape, real_data_shape=real_shape,
                dtype='float32')
  print(json.dumps({
      'seconds_per_step': times,
      'median': float(np.median(times)),
      'min': float(np.min(times)),
      'batch_size': args.batch_size,
      'build_seconds': build_seconds,
      'first_step_seconds': first_seconds,
      'input_batch_seconds': float(np.median(input_times[2:])),
      'step': 'generator_train_op (Adam + EMA), discriminator_train_op, '
              'global_step_inc_op',
      'config': config,
      **({'executed_convs': convs} if args.count_convs else {}),
  }))


if __name__ == '__main__':
  main()
