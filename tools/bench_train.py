r"""Times GANSynth's training step: seconds per D+G step and images/s.

For each config (the paper's full-size if_mel_hq, the tiny quickstart, and
cpu_small, issue 9's 32x512 learning run, on its 0.5 s notes) the last
stage's networks (all blocks, at the config's image size) are built and the
compiled step
of gansynth_tf2.train is run on one fixed real batch, per --precision
(fp32 by default; bf16, fp16 as `train --precision`), with and without XLA.
The first call (trace + compile) is reported separately. Each row also gives
the step's FLOPs (TF profiler over the step's graph: forward, backward and
the gradient penalty's double backprop), its GFLOP/s as a fraction of this
machine's conv roofline (measured first, bench_common.measure_roofline) and
the process's peak RSS so far (the peak memory of the largest step run yet).

  python tools/bench_train.py                      # both configs, batch 8
  python tools/bench_train.py --configs=quickstart --steps=10
  python tools/bench_train.py --configs=cpu_small --steps=20 --xla=off,on
  python tools/bench_train.py --strategy=mirrored --cpu_replicas=2 \
      --configs=quickstart --xla=off         # 1 vs 2 replicas, same global batch
  python tools/bench_train.py --configs=if_mel_hq \
      --magenta_python=/path/to/magenta/bin/python   # + Magenta's baseline

With --strategy, each config runs on one device and then under the strategy
(the batch is the global batch, split over the replicas) and the ratio of
images/s is printed. On a CPU, logical devices share the same cores, so the
ratio there only shows the cost of the replication; on a GPU machine
`--strategy=mirrored` gives the scaling from one GPU to all of them.

With --magenta_python (an interpreter that imports Magenta 2.1.4, see
../shared/oracle/magenta_env.sh), Magenta's own training step is timed after
our if_mel_hq rows, in the same invocation: tools/magenta_bench_train.py
builds its graph for the same config (mel_prog_hires: fmap_base 4096,
fmap_max 256, last stage, progress 6, fp32, random weights) and runs its
generator train op (Adam + EMA) then its discriminator train op, as tfgan's
sequential hooks do, at the same batch size and number of timed steps. Its
row follows ours, then ours / Magenta's in images/s for each of our if_mel_hq
rows (>1: we are faster).
"""
import argparse
import os
import sys
import tempfile
import time

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

import tensorflow as tf  # pylint: disable=g-import-not-at-top

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_common  # pylint: disable=g-import-not-at-top
from gansynth_tf2 import distribute  # pylint: disable=g-import-not-at-top
from gansynth_tf2 import precision as precision_lib  # pylint: disable=g-import-not-at-top
from gansynth_tf2 import schedule  # pylint: disable=g-import-not-at-top
from gansynth_tf2 import train  # pylint: disable=g-import-not-at-top
from gansynth_tf2 import trainer as trainer_lib  # pylint: disable=g-import-not-at-top
from gansynth_tf2.data import default  # pylint: disable=g-import-not-at-top

CONFIGS = {'if_mel_hq': 'gin/if_mel_hq.gin', 'quickstart': 'gin/quickstart.gin',
           'cpu_small': 'gin/cpu_small.gin'}
# Our config that is Magenta's mel_prog_hires (the baseline's).
MAGENTA_CONFIG = 'if_mel_hq'


def bench(config, jit_compile, batch_size, steps, strategy=None,
          precision='fp32', count_flops=False):
  """Returns (trace_seconds, seconds_per_step, images_per_second, flops,
  the step's op profile (bench_common.op_profile) without XLA, else None)."""
  strategy = strategy or tf.distribute.get_strategy()
  hp = train.hparams_from_gin_files(
      [CONFIGS[config]], [f'hparams.batch_size_schedule=[{batch_size}]'])
  sched = schedule.TrainingSchedule.from_hparams(hp)
  stage_id = sched.num_stages - 1
  # cpu_small trains on the default notes cut to 0.5 s.
  dataset = default.DefaultDataset(audio_length=hp.audio_length)
  with tempfile.TemporaryDirectory() as train_dir:
    trainer = trainer_lib.StageTrainer(stage_id, hp, sched, train_dir,
                                       dataset, strategy,
                                       jit_compile=jit_compile,
                                       precision=precision)
    # Progress in the middle of the schedule's last stage: all blocks.
    trainer.image_id.assign(sched.num_images(stage_id - 1))
    real, one_hot = next(trainer.real_batches())
    start = time.time()
    trainer.run_step(real, one_hot)
    trace = time.time() - start
    start = time.time()
    for _ in range(steps):
      trainer.run_step(real, one_hot)
    per_step = (time.time() - start) / steps
    profile = (None if jit_compile else bench_common.op_profile(
        lambda: trainer.run_step(real, one_hot), warmup=0))
    # The step's own tf.function, traced as run (forward, backward and the
    # gradient penalty's double backprop).
    flops = (bench_common.graph_flops(trainer.step, real, one_hot,
                                      tf.constant(False))
             if count_flops else None)
  return trace, per_step, batch_size / per_step, flops, profile


def main():
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--configs', default='quickstart,if_mel_hq',
                      help='comma-separated: ' + ', '.join(CONFIGS))
  parser.add_argument('--batch_size', type=int, default=8)
  parser.add_argument('--steps', type=int, default=3,
                      help='timed steps after the first (tracing) one')
  parser.add_argument('--xla', default='off,on',
                      help="'off', 'on' or 'off,on'")
  parser.add_argument('--strategy', default=None,
                      choices=distribute.STRATEGIES,
                      help='also time under this strategy (vs one device)')
  parser.add_argument('--cpu_replicas', type=int, default=None,
                      help='with --strategy=mirrored: logical CPU devices')
  parser.add_argument('--magenta_python', default=None,
                      help='interpreter with Magenta 2.1.4: also time '
                      "Magenta's training step (mel_prog_hires) as the "
                      f'baseline of {MAGENTA_CONFIG}')
  parser.add_argument('--precision', default='fp32',
                      help='comma-separated precisions to time: fp32, bf16, '
                      'fp16 (train --precision)')
  parser.add_argument('--roofline', default='on', choices=('on', 'off'),
                      help="measure this machine's conv roofline and print "
                      'each row as a fraction of it')
  parser.add_argument('--oracle_dir', default=bench_common.DEFAULT_ORACLE_DIR,
                      help="folder of oracle_setup.py (Magenta's stubs)")
  args = parser.parse_args()
  precisions = args.precision.split(',')
  for p in precisions:
    if p not in precision_lib.PRECISIONS:
      parser.error(f'--precision: {p!r} is not one of '
                   f'{"|".join(precision_lib.PRECISIONS)}')
  if args.magenta_python:
    bench_common.check_magenta_python(args.magenta_python)
    if MAGENTA_CONFIG not in args.configs.split(','):
      parser.error(f'--magenta_python compares with {MAGENTA_CONFIG}: add it '
                   'to --configs')
  # Before TensorFlow runs anything: the devices are fixed then.
  strategies = [('one device', tf.distribute.get_strategy())]
  if args.strategy:
    strategies.append((args.strategy, distribute.make_strategy(
        args.strategy, args.cpu_replicas)))
  os.chdir(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
  devices = [d.device_type for d in tf.config.list_physical_devices()]
  print(bench_common.machine_line())
  print(f'TensorFlow {tf.__version__}, devices {devices}, fp32, global batch '
        f'{args.batch_size}, {args.steps} timed steps, last stage '
        '(all blocks)')
  magenta = bool(args.magenta_python)
  roofline = {}
  if args.roofline == 'on':
    roofline = bench_common.measure_roofline(
        [precision_lib.compute_dtype(p) for p in precisions])
    print('roofline (best 3x3 conv GFLOP/s, batch 8, oneDNN or XLA): ' +
          ', '.join(f'{d} {r["gflops"]:.0f}' for d, r in roofline.items()))
  print('| config | precision | XLA | strategy | replicas | first step '
        '(trace) s | s / D+G step | images/s | vs one device | GFLOP/step | '
        'GFLOP/s | of roofline | peak RSS MiB |')
  print('|---|---|---|---|---|---|---|---|---|---|---|---|---|')
  ours = []  # (precision, xla, strategy name, images/s) of MAGENTA_CONFIG
  flops_of = {}
  profiles = []
  restate = []  # (label, dtype, GFLOP/s) for bench_common.roofline_again
  for config in args.configs.split(','):
    for prec in precisions:
      for xla in args.xla.split(','):
        base = None
        for name, strategy in strategies:
          trace, per_step, speed, flops, profile = bench(
              config, xla == 'on', args.batch_size, args.steps, strategy,
              prec, count_flops=config not in flops_of)
          flops = flops_of.setdefault(config, flops)
          base = base or speed
          if config == MAGENTA_CONFIG:
            ours.append((prec, xla, name, speed))
          bound = roofline.get(precision_lib.compute_dtype(prec),
                               {}).get('gflops')
          rate = flops / per_step / 1e9 if flops else None
          print(f'| {config} | {prec} | {xla} | {name} | '
                f'{strategy.num_replicas_in_sync} | {trace:.1f} | '
                f'{per_step:.3f} | {speed:.3g} | {speed / base:.2f}x | '
                f'{flops / 1e9 if flops else float("nan"):.0f} | '
                f'{rate or float("nan"):.1f} | '
                f'{rate / bound if rate and bound else float("nan"):.0%} | '
                f'{bench_common.peak_rss_mib():.0f} |', flush=True)
          if profile:
            profiles.append((f'{config} {prec} {name}', profile))
          if rate and bound:
            restate.append((f'{config} {prec} XLA {xla} {name}',
                            precision_lib.compute_dtype(prec), rate))
  if restate:
    print('\n' + bench_common.roofline_again(roofline, restate))
  print('\nWhere the step\'s time goes (TF profiler, one step, no XLA):')
  for what, profile in profiles:
    print(f'  {what}: {bench_common.describe_profile(profile)}')
  if magenta:
    print_magenta_baseline(args, ours)


def print_magenta_baseline(args, ours):
  """Times Magenta's step (tools/magenta_bench_train.py); prints the ratios."""
  result = bench_common.run_magenta(
      args.magenta_python, 'magenta_bench_train.py',
      ['--oracle_dir', args.oracle_dir, '--batch_size', args.batch_size,
       '--steps', args.steps])
  per_step = result['median']
  speed = result['batch_size'] / per_step
  cfg = result['config']
  print(f"| Magenta mel_prog_hires (TF1 graph, stage {cfg['stage_id']}, "
        f"progress {cfg['progress']:g}) | off | one device | 1 | "
        f"{result['first_step_seconds']:.1f} | {per_step:.3f} | {speed:.3g} "
        '| |', flush=True)
  print()
  print(f"Magenta: generator output {cfg['generator_output_shape']}, "
        f"fmap_base {cfg['fmap_base']}, fmap_max {cfg['fmap_max']}; s/step "
        f"median {per_step:.3f}, min {result['min']:.3f} of "
        f"{len(result['seconds_per_step'])} (graph built in "
        f"{result['build_seconds']:.0f} s; its tf.data input pipeline, which "
        'runs beside the step, makes a batch in '
        f"{result['input_batch_seconds']:.3f} s)")
  for prec, xla, name, ours_speed in ours:
    print(f'ours / Magenta, images/s ({MAGENTA_CONFIG}, {prec}, XLA {xla}, '
          f'{name}): {ours_speed / speed:.2f}x', flush=True)


if __name__ == '__main__':
  main()
