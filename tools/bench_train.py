r"""Times GANSynth's training step: seconds per D+G step and images/s.

For each config (the paper's full-size if_mel_hq and the tiny quickstart) the
last stage's networks (all blocks, 128x1024) are built and the compiled step
of gansynth_tf2.train is run on one fixed real batch, fp32, with and without
XLA. The first call (trace + compile) is reported separately.

  python tools/bench_train.py                      # both configs, batch 8
  python tools/bench_train.py --configs=quickstart --steps=10
  python tools/bench_train.py --strategy=mirrored --cpu_replicas=2 \
      --configs=quickstart --xla=off         # 1 vs 2 replicas, same global batch

With --strategy, each config runs on one device and then under the strategy
(the batch is the global batch, split over the replicas) and the ratio of
images/s is printed. On a CPU, logical devices share the same cores, so the
ratio there only shows the cost of the replication; on a GPU machine
`--strategy=mirrored` gives the scaling from one GPU to all of them.
"""
import argparse
import os
import sys
import tempfile
import time

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

import tensorflow as tf  # pylint: disable=g-import-not-at-top

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from gansynth_tf2 import distribute  # pylint: disable=g-import-not-at-top
from gansynth_tf2 import hparams  # pylint: disable=g-import-not-at-top
from gansynth_tf2 import schedule  # pylint: disable=g-import-not-at-top
from gansynth_tf2 import trainer as trainer_lib  # pylint: disable=g-import-not-at-top
from gansynth_tf2.data import default  # pylint: disable=g-import-not-at-top

CONFIGS = {'if_mel_hq': 'gin/if_mel_hq.gin', 'quickstart': 'gin/quickstart.gin'}


def bench(config, jit_compile, batch_size, steps, strategy=None):
  """Returns (trace_seconds, seconds_per_step, images_per_second)."""
  strategy = strategy or tf.distribute.get_strategy()
  hp = hparams.from_gin_files(
      [CONFIGS[config]], [f'hparams.batch_size_schedule=[{batch_size}]'])
  sched = schedule.TrainingSchedule.from_hparams(hp)
  stage_id = sched.num_stages - 1
  with tempfile.TemporaryDirectory() as train_dir:
    trainer = trainer_lib.StageTrainer(stage_id, hp, sched, train_dir,
                                       default.DefaultDataset(), strategy,
                                       jit_compile=jit_compile)
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
  return trace, per_step, batch_size / per_step


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
  args = parser.parse_args()
  # Before TensorFlow runs anything: the devices are fixed then.
  strategies = [('one device', tf.distribute.get_strategy())]
  if args.strategy:
    strategies.append((args.strategy, distribute.make_strategy(
        args.strategy, args.cpu_replicas)))
  os.chdir(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
  devices = [d.device_type for d in tf.config.list_physical_devices()]
  print(f'TensorFlow {tf.__version__}, devices {devices}, fp32, global batch '
        f'{args.batch_size}, {args.steps} timed steps, last stage '
        '(all blocks)')
  print('| config | XLA | strategy | replicas | first step (trace) s | '
        's / D+G step | images/s | vs one device |')
  print('|---|---|---|---|---|---|---|---|')
  for config in args.configs.split(','):
    for xla in args.xla.split(','):
      base = None
      for name, strategy in strategies:
        trace, per_step, speed = bench(config, xla == 'on', args.batch_size,
                                       args.steps, strategy)
        base = base or speed
        print(f'| {config} | {xla} | {name} | '
              f'{strategy.num_replicas_in_sync} | {trace:.1f} | '
              f'{per_step:.3f} | {speed:.1f} | {speed / base:.2f}x |',
              flush=True)


if __name__ == '__main__':
  main()
