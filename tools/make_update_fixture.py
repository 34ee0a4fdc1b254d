#!/usr/bin/env python
"""Writes tests/data/magenta_update.npz: training updates by MAGENTA'S OWN train ops.

From the calm oracle checkpoint (tests/data/calm_oracle/ckpt, made by
tools/make_calm_oracle.py: the paper's mel_prog_hires structure at stage 12
with 16 channels per pixel norm, warm Adam slots and EMA shadows) Magenta
2.1.4's `model.Model` is built as its training builds it (tfgan's GAN model,
its losses, `train_util.define_train_ops`' Adam optimizers and the generator
EMA of `add_generator_smoothing_ops`), every variable (networks, EMA shadows,
Adam slots and powers) is restored from the checkpoint, and one training step
is run as tfgan's sequential hooks run it: the generator train op (its Adam
step, then the EMA), then the discriminator train op. The latents, labels,
real batch and gradient-penalty alpha that Magenta's graph would draw are
fed instead (the real batch is the tiny oracle's three real images and
labels). Variants (VARIANTS):

  plain       stage 12 (progress 6.0), Magenta's config (G&L weight 0);
  gl          stage 12 with `gen_gl_consistency_loss_weight` 1.0;
  transition  stage 11 (7 blocks, block 7 fading in) with Magenta's global
              step (image id) set to 92, so that Magenta's tensor progress
              is 5.5, mid-fade: the same variables, restored from the same
              checkpoint.

Every variable's value after each step is stored, keyed by
'<variant>:<Magenta's name>' ('/' written as '|'), with the losses, the
progress and image id Magenta used, and the inputs. `tests/test_trainer.py`
replays each through our StageTrainer's compiled step from the converted
checkpoint and compares. `--repeat` runs every variant twice and prints how
far Magenta's own step differs from itself. The script only imports and
calls Magenta.

(Until 2026-12-04 this fixture was made from the tiny oracle checkpoint,
tests/data/oracle/ckpt: 4-8 channels per pixel norm, which amplifies each
CPU's float32 rounding, so the comparison held on one kind of CPU only.
`--ckpt_dir=tests/data/oracle/ckpt` still makes that one, plain and gl.)

Environment (as tools/make_schedule_fixture.py):

  PYTHONPATH=/tmp/mgdeps python tools/make_calm_oracle.py  # the checkpoint
  PYTHONPATH=/tmp/mgdeps python tools/make_update_fixture.py \
      --oracle_dir=../shared/oracle --out=tests/data/magenta_update.npz
"""
import argparse
import json
import os

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# variant: (stage, G&L weight, Magenta's image id before the step or None
# for the checkpoint's own).
VARIANTS = {'plain': (12, 0.0, None), 'gl': (12, 1.0, None),
            'transition': (11, 0.0, 92)}


def inputs(num_pitches=61, batch=3, latent=256, seed=20261126):
  """The fed inputs: G step latents/labels, D step latents/labels/alpha."""
  rs = np.random.RandomState(seed)
  return {
      'g_z': rs.standard_normal((batch, latent)).astype(np.float32),
      'g_labels': rs.randint(0, num_pitches, batch).astype(np.int32),
      'd_z': rs.standard_normal((batch, latent)).astype(np.float32),
      'd_labels': rs.randint(0, num_pitches, batch).astype(np.int32),
      'd_alpha': rs.uniform(size=(batch, 1, 1, 1)).astype(np.float32),
  }


def run_variant(tf, lib_flags, lib_model, ckpt_dir, stage, gl_weight,
                image_id, feed_values):
  """One Magenta step; returns ({name: value after}, losses, progress, id)."""
  with open(os.path.join(ckpt_dir, 'experiment.json')) as f:
    experiment = json.load(f)
  ckpt = tf.train.latest_checkpoint(os.path.join(ckpt_dir, 'stage_00012'))
  graph = tf.Graph()
  with graph.as_default():
    flags = lib_flags.Flags()
    flags['train_root_dir'] = ckpt_dir
    flags.load(experiment)
    lib_model.set_flags(flags)
    flags['gen_gl_consistency_loss_weight'] = gl_weight
    batch = feed_values['real_images'].shape[0]
    model = lib_model.Model(stage, batch, flags)
    in_ckpt = dict(tf.train.list_variables(ckpt))
    variables = {v.op.name: v for v in tf.global_variables()
                 if v.op.name in in_ckpt}
    # Every variable of this stage's graph comes from the checkpoint (stage
    # 11 has stage 12's 7 blocks).
    missing = [v.op.name for v in tf.global_variables()
               if v.op.name not in in_ckpt]
    assert not missing, missing
    # The ops that take the fed inputs (the calm oracle's tool finds them).
    from make_calm_oracle import fed_ops  # pylint: disable=g-import-not-at-top,import-outside-toplevel
    fed = fed_ops(tf, graph, model)

    def feed(prefix):
      return fed(feed_values, prefix, feed_values['real_images'],
                 feed_values['real_one_hot'])
    with tf.Session() as sess:
      sess.run(tf.global_variables_initializer())
      tf.train.Saver(variables).restore(sess, ckpt)
      if image_id is not None:
        sess.run(model.current_image_id.assign(image_id))
      progress, used_id = sess.run([model.progress, model.current_image_id])
      # tfgan.get_sequential_train_hooks: the generator's op, then the
      # discriminator's (train_util.train runs GANTrainSteps(1, 1)); the
      # global step moves after both, so both see the same progress.
      train_ops = model.gan_train_ops
      g_loss = sess.run([train_ops.generator_train_op,
                         model.gan_loss.generator_loss], feed('g'))[1]
      d_loss = sess.run([train_ops.discriminator_train_op,
                         model.gan_loss.discriminator_loss], feed('d'))[1]
      values = sess.run(variables)
  print(f'stage {stage}, progress {progress}, image id {used_id}, G&L weight '
        f'{gl_weight}: generator loss {g_loss:.7g}, discriminator loss '
        f'{d_loss:.7g}, {len(values)} variables', flush=True)
  return values, g_loss, d_loss, progress, used_id


def main():
  from make_schedule_fixture import _import_magenta  # pylint: disable=g-import-not-at-top,import-outside-toplevel
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--oracle_dir', default=os.path.join(
      REPO, '..', 'shared', 'oracle'))
  parser.add_argument('--ckpt_dir', default=os.path.join(
      REPO, 'tests', 'data', 'calm_oracle', 'ckpt'),
                      help="Magenta checkpoint folder (experiment.json + "
                      'stage_00012/)')
  parser.add_argument('--variants', default=','.join(VARIANTS))
  parser.add_argument('--out', default=os.path.join(
      REPO, 'tests', 'data', 'magenta_update.npz'))
  parser.add_argument('--repeat', action='store_true',
                      help="run each variant twice; print Magenta's own "
                      'run-to-run difference')
  args = parser.parse_args()
  tf = _import_magenta(args.oracle_dir)[0]
  from magenta.models.gansynth.lib import flags as lib_flags  # pylint: disable=g-import-not-at-top,import-outside-toplevel
  from magenta.models.gansynth.lib import model as lib_model  # pylint: disable=g-import-not-at-top,import-outside-toplevel

  data = os.path.join(REPO, 'tests', 'data', 'oracle')
  ref = np.load(os.path.join(data, 'reference.npz'))
  feed_values = inputs()
  feed_values['real_images'] = ref['real_images'].astype(np.float32)
  feed_values['real_one_hot'] = ref['real_one_hot'].astype(np.float32)
  out = {k: v for k, v in feed_values.items()
         if k not in ('real_images', 'real_one_hot')}
  for variant in args.variants.split(','):
    stage, weight, image_id = VARIANTS[variant]
    values, g_loss, d_loss, progress, used_id = run_variant(
        tf, lib_flags, lib_model, args.ckpt_dir, stage, weight, image_id,
        feed_values)
    if args.repeat:
      again = run_variant(tf, lib_flags, lib_model, args.ckpt_dir, stage,
                          weight, image_id, feed_values)[0]
      worst = max((np.abs(values[k] - again[k]).max() /
                   max(np.abs(values[k]).max(), 1e-30), k) for k in values)
      print(f'{variant}: Magenta run twice differs by up to {worst[0]:.2g} '
            f'of the value ({worst[1]})', flush=True)
    out[f'{variant}:stage'] = np.int32(stage)
    out[f'{variant}:progress'] = np.float32(progress)
    out[f'{variant}:image_id'] = np.int64(used_id)
    out[f'{variant}:generator_loss'] = np.float32(g_loss)
    out[f'{variant}:discriminator_loss'] = np.float32(d_loss)
    for name, value in values.items():
      out[f'{variant}:{name.replace("/", "|")}'] = np.asarray(value)
  np.savez_compressed(args.out, **out)
  print(f'wrote {args.out} ({os.path.getsize(args.out) / 1e6:.1f} MB)')


if __name__ == '__main__':
  main()
