r"""Seeded quick-start runs per precision: do 16-bit loss curves stay within fp32's noise?

  python tools/compare_precision_runs.py --output_dir=/tmp/precision_runs \
      [--runs=fp32:0,fp32:1,bf16:0,fp16:0] [--images_per_stage=16]

Trains `gin/quickstart.gin` (all 13 stages, batch 8, `images_per_stage`
images per stable / transition stage) once per `precision:seed` with
`train.seed`, the scalars written every step, then compares each run's
discriminator and generator loss curves with the first run's (step by step,
mean absolute difference). The first run against the same precision with
another seed is the run-to-run noise; a 16-bit run with the first run's seed
should sit well inside it. Finished runs are reused (delete the folder to
redo one). Writes `comparison.json` (the curves and the differences).
"""

import argparse
import glob
import json
import os
import subprocess
import sys
import time

import numpy as np

LOSSES = ('discriminator_loss', 'generator_loss')


def train(out_dir, precision, seed, images_per_stage):
  """Runs the train CLI once (skipped if already done); returns its folder."""
  run_dir = os.path.join(out_dir, f'{precision}_seed{seed}')
  done = os.path.join(run_dir, 'done')
  if os.path.exists(done):
    return run_dir
  total = 13 * images_per_stage
  cmd = [sys.executable, '-m', 'gansynth_tf2.train', f'--train_dir={run_dir}',
         '--gin_file=gin/quickstart.gin', f'--precision={precision}',
         f'--gin_param=train.seed={seed}',
         f'--gin_param=hparams.stable_stage_num_images={images_per_stage}',
         f'--gin_param=hparams.transition_stage_num_images={images_per_stage}',
         f'--gin_param=hparams.total_num_images={total}',
         '--gin_param=hparams.save_summaries_num_images=8',
         '--gin_param=train.media_summaries=False']
  start = time.time()
  result = subprocess.run(cmd, capture_output=True, text=True, check=False,
                          cwd=os.path.dirname(os.path.dirname(
                              os.path.abspath(__file__))))
  if result.returncode:
    sys.exit(f'{" ".join(cmd)} failed:\n{result.stdout[-2000:]}'
             f'{result.stderr[-2000:]}')
  print(f'{precision} seed {seed}: trained in {time.time() - start:.0f} s',
        flush=True)
  open(done, 'w').close()
  return run_dir


def loss_curves(run_dir):
  """{loss name: {step: value}} from the run's TensorBoard event files."""
  import tensorflow as tf  # pylint: disable=import-outside-toplevel
  curves = {k: {} for k in LOSSES}
  pattern = os.path.join(run_dir, '**', 'events.out.tfevents*')
  for path in sorted(glob.glob(pattern, recursive=True)):
    for event in tf.compat.v1.train.summary_iterator(path):
      for value in event.summary.value:
        name = value.tag.split('/')[-1]
        if name in curves:
          number = (value.simple_value if value.HasField('simple_value')
                    else float(tf.make_ndarray(value.tensor)))
          curves[name][int(event.step)] = number
  return curves


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--output_dir', required=True)
  parser.add_argument('--runs', default='fp32:0,fp32:1,bf16:0,fp16:0',
                      help='precision:seed, ...; the first is the reference')
  parser.add_argument('--images_per_stage', type=int, default=16)
  args = parser.parse_args()
  runs = [tuple(r.split(':')) for r in args.runs.split(',')]
  curves = {}
  for precision, seed in runs:
    name = f'{precision}_seed{seed}'
    curves[name] = loss_curves(train(args.output_dir, precision, int(seed),
                                     args.images_per_stage))
  ref_name = f'{runs[0][0]}_seed{runs[0][1]}'
  ref = curves[ref_name]
  differences = {}
  print(f'mean |loss - {ref_name} loss| per step:')
  for name, curve in curves.items():
    if name == ref_name:
      continue
    for key in LOSSES:
      steps = sorted(set(ref[key]) & set(curve[key]))
      a = np.array([ref[key][s] for s in steps])
      b = np.array([curve[key][s] for s in steps])
      differences[f'{name} {key}'] = {
          'steps': len(steps), 'mean_abs_difference': float(
              np.mean(np.abs(a - b))), 'reference_mean': float(np.mean(a))}
      print(f'  {name} {key}: {np.mean(np.abs(a - b)):.4f} over {len(steps)} '
            f'steps (reference mean {np.mean(a):.2f})')
  with open(os.path.join(args.output_dir, 'comparison.json'), 'w') as f:
    json.dump({'differences': differences,
               'curves': {n: {k: sorted(v.items()) for k, v in c.items()}
                          for n, c in curves.items()}}, f, indent=1)


if __name__ == '__main__':
  main()
