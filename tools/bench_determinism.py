r"""Does a seeded run repeat itself, and what does op determinism cost?

Trains the same seeded command four times, each in a fresh process, one
after the other on this machine: twice as it is (`train.seed` only) and twice
with `train.deterministic=True` (op determinism, one intra-op thread, no
Grappler: `train.use_determinism`). Prints

  * for each pair of runs, the checkpoint tensors that differ (weights, EMA,
    Adam slots, image count, data position, random state; only the
    wall-clock train_time is left out) and the largest relative difference
    per group: 0 differing tensors = the run repeated bit for bit;
  * the seconds spent in training steps (the checkpoint's train_time) and
    images/s of each run, and the deterministic runs' mean time as a ratio
    of the plain runs' mean (its cost);
  * with --stages, the same comparison stage by stage (each stage's last
    checkpoint), to find where two runs part.

  python tools/bench_determinism.py                       # quickstart, 2,560 images
  python tools/bench_determinism.py --images=512 --config=gin/cpu_small.gin

Each run writes into a temporary folder (--keep to keep them).
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

import numpy as np  # pylint: disable=g-import-not-at-top
import tensorflow as tf  # pylint: disable=g-import-not-at-top

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
from gansynth_tf2 import run_dir  # pylint: disable=g-import-not-at-top


def cpu_line():
  try:
    out = subprocess.run(['lscpu'], capture_output=True, text=True).stdout
    for line in out.splitlines():
      if line.startswith('Model name'):
        return line.split(':', 1)[1].strip()
  except OSError:
    pass
  return 'unknown CPU'


def train(train_dir, args, deterministic):
  cmd = [sys.executable, '-m', 'gansynth_tf2.train',
         f'--gin_file={args.config}', f'--train_dir={train_dir}',
         f'--gin_param=train.seed={args.seed}',
         f'--gin_param=train.stop_after_images={args.images}',
         '--gin_param=train.media_summaries=False']
  if deterministic:
    cmd.append('--gin_param=train.deterministic=True')
  start = time.time()
  result = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
  if result.returncode:
    sys.exit(f'training failed:\n{result.stdout[-3000:]}{result.stderr[-3000:]}')
  return time.time() - start


def final_tensors(train_dir, stage=None):
  """{key: array} of the last checkpoint of `stage` (default: the last)."""
  run = run_dir.Run(train_dir)
  if stage is None:
    stage = run.stages_with_checkpoints()[-1]
  path = run.latest_checkpoint(stage)
  reader = tf.train.load_checkpoint(path)
  return {k: reader.get_tensor(k) for k in reader.get_variable_to_shape_map()
          if k != run_dir.OBJECT_GRAPH_KEY}


def compare(a, b):
  """(tensors compared, {group: largest relative difference})."""
  worst, compared = {}, 0
  for key, x in a.items():
    if key.startswith(('train_time/', 'save_counter/')):
      continue  # wall time, and the number of time-based saves
    compared += 1
    y = b[key]
    if not np.array_equal(x, y):
      scale = float(np.max(np.abs(x))) or 1.0
      group = key.split('/')[0]
      worst[group] = max(worst.get(group, 0.0), float(
          np.max(np.abs(x.astype(np.float64) - y))) / scale)
  return compared, worst


def groups(worst):
  """'group largest-relative-difference, ...' of `compare`'s result."""
  return ', '.join(f'{k} {v:.3g}' for k, v in sorted(worst.items()))


def main():
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--config', default='gin/quickstart.gin')
  parser.add_argument('--images', type=int, default=2560)
  parser.add_argument('--seed', type=int, default=7)
  parser.add_argument('--keep', action='store_true')
  parser.add_argument('--stages', action='store_true',
                      help='compare every stage\'s last checkpoint too')
  args = parser.parse_args()
  print(f'CPU: {cpu_line()}, {os.cpu_count()} cores; TensorFlow '
        f'{tf.__version__}; {args.config}, {args.images} images, seed '
        f'{args.seed}', flush=True)
  root = tempfile.mkdtemp(prefix='bench_determinism-')
  runs = {}
  try:
    for name, deterministic in (('plain_1', False), ('plain_2', False),
                                ('deterministic_1', True),
                                ('deterministic_2', True)):
      folder = os.path.join(root, name)
      wall = train(folder, args, deterministic)
      tensors = final_tensors(folder)
      step_s = float(tensors[run_dir.variable_key('train_time')])
      runs[name] = (tensors, step_s)
      print(f'{name:16s} {step_s:8.1f} s in steps ({args.images / step_s:6.1f}'
            f' img/s), {wall:6.1f} s wall', flush=True)
    for a, b in (('plain_1', 'plain_2'), ('deterministic_1', 'deterministic_2'),
                 ('plain_1', 'deterministic_1')):
      compared, worst = compare(runs[a][0], runs[b][0])
      verdict = ('identical, bit for bit' if not worst else
                 f'{len(worst)} groups differ: {groups(worst)}')
      print(f'{a} vs {b}: {compared} tensors, {verdict}')
      if args.stages:
        dir_a, dir_b = os.path.join(root, a), os.path.join(root, b)
        for stage in run_dir.Run(dir_a).stages_with_checkpoints():
          _, worst = compare(final_tensors(dir_a, stage),
                             final_tensors(dir_b, stage))
          print(f'  stage {stage:2d}: {groups(worst) or "identical"}')
    plain = (runs['plain_1'][1] + runs['plain_2'][1]) / 2
    determ = (runs['deterministic_1'][1] + runs['deterministic_2'][1]) / 2
    print(f'train.deterministic costs {determ / plain:.3f}x the plain runs\' '
          'step time (1.000 = free)')
  finally:
    if args.keep:
      print(f'runs kept in {root}')
    else:
      shutil.rmtree(root, ignore_errors=True)


if __name__ == '__main__':
  main()
