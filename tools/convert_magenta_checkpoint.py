"""Converts a Magenta GANSynth checkpoint into a gansynth_tf2 checkpoint.

  python tools/convert_magenta_checkpoint.py \
      --magenta_dir=/path/to/acoustic_only --output_dir=/path/to/converted

`--magenta_dir` is Magenta's train dir (experiment.json + stage_000NN/ with
model.ckpt-<step> files, e.g. an unzipped published checkpoint). The output
holds experiment.json, hparams.gin (the hyperparameters as
`hparams.<name> = value` gin bindings) and stage_000NN/ckpt-1.* with the
generator, its moving average, the discriminator and both optimizers, so it
generates, exports and trains on like any checkpoint of ours. The output is
written beside --output_dir first and renamed into place; nothing is ever
written into --magenta_dir.
"""
import sys

from absl import app
from absl import flags

from gansynth_tf2 import magenta_checkpoint

FLAGS = flags.FLAGS
flags.DEFINE_string('magenta_dir', None, 'Magenta checkpoint directory '
                    '(experiment.json + stage_000NN/).')
flags.DEFINE_string('output_dir', None, 'Directory to write; must not exist '
                    'or be empty, unless --overwrite.')
flags.DEFINE_boolean('overwrite', False, 'Replace an existing --output_dir.')


def main(argv):
  del argv
  if not FLAGS.magenta_dir or not FLAGS.output_dir:
    print('error: --magenta_dir and --output_dir are required',
          file=sys.stderr)
    return 2
  try:
    prefix = magenta_checkpoint.convert(FLAGS.magenta_dir, FLAGS.output_dir,
                                        overwrite=FLAGS.overwrite)
  except ValueError as e:  # CheckpointError is a ValueError
    print(f'error: {e}', file=sys.stderr)
    return 1
  print(f'wrote {prefix}')
  return 0


if __name__ == '__main__':
  app.run(main)
