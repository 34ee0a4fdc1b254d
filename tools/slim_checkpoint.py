r"""Copies a training run's last stage without the discriminator and optimizers.

A checkpoint of ours holds the generator, its moving average (EMA), the
discriminator and both optimizers' Adam slots; generation needs only the
generators. The slim copy (experiment.json, operative_config.gin, normalizer
assets and `stage_000NN/ckpt-1` with `ema_generator`, `generator`,
`image_id` and `train_time`) loads with `gansynth_tf2.load_model` and the
generate / export / evaluate tools like the full run; it cannot resume
training. This is how models/cpu_small was made from its training run:

  python tools/slim_checkpoint.py --train_dir=runs/cpu_small --output_dir=models/cpu_small
"""
import argparse
import os
import shutil
import sys

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

import tensorflow as tf  # pylint: disable=g-import-not-at-top

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import gansynth_tf2  # pylint: disable=g-import-not-at-top
from gansynth_tf2 import files  # pylint: disable=g-import-not-at-top
from gansynth_tf2 import run_dir  # pylint: disable=g-import-not-at-top


def slim_copy(train_dir, output_dir):
  """Writes the slim copy of `train_dir`'s last stage to `output_dir`
  (published whole: an existing output_dir is replaced in one step)."""
  run = run_dir.Run(train_dir)
  stage_id, prefix = run.pick()
  ema = gansynth_tf2.load_model(train_dir, use_ema=True)
  raw = gansynth_tf2.load_model(train_dir, use_ema=False)
  image_id = tf.Variable(run_dir.read_scalar(prefix, 'image_id'),
                         dtype=tf.int64)
  train_time = tf.Variable(run_dir.read_scalar(prefix, 'train_time'),
                           dtype=tf.float64)
  with files.publish_dir(output_dir) as tmp:
    out = run_dir.Run(tmp)
    for src, dst in ((run.experiment_path, out.experiment_path),
                     (run.operative_config_path, out.operative_config_path),
                     (run.assets_dir, out.assets_dir)):
      if os.path.isdir(src):
        shutil.copytree(src, dst)
      elif os.path.exists(src):
        shutil.copy2(src, dst)
    os.makedirs(out.stage_dir(stage_id))
    tf.train.Checkpoint(ema_generator=ema.generator, generator=raw.generator,
                        image_id=image_id, train_time=train_time).write(
                            os.path.join(out.stage_dir(stage_id),
                                         f'{run_dir.CHECKPOINT_NAME}-1'))
  return stage_id, int(image_id.numpy())


def main():
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--train_dir', required=True)
  parser.add_argument('--output_dir', required=True)
  args = parser.parse_args()
  try:
    stage_id, image_id = slim_copy(args.train_dir, args.output_dir)
  except (OSError, ValueError) as e:
    print(f'ERROR: {e}', file=sys.stderr)
    return 1
  print(f'wrote {args.output_dir}: stage {stage_id}, image_id {image_id}')
  return 0


if __name__ == '__main__':
  sys.exit(main())
