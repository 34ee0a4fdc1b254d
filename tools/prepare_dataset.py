r"""Converts a folder of your own note samples into NSynth-schema TFRecords.

Each audio file (wav, flac, ogg, aiff, mp3; any rate, mono or stereo) is one
note. Its pitch is read from the file name, NSynth style
`<name>-<pitch>-<velocity>.wav` by default (--pitch_regex for other names), or
estimated with pYIN (--estimate_pitch). Writes `<output_dir>/*.tfrecord*` and a
`manifest.json` listing every file, accepted or rejected with the reason.

Examples:
  python tools/prepare_dataset.py --input_dir=~/samples --output_dir=/tmp/mine
  # files named like 'piano_C#4.wav':
  python tools/prepare_dataset.py --input_dir=DIR --output_dir=OUT \
    --pitch_regex='_(?P<note>[A-G][#b]?-?\d)$'
"""
import os
import sys
import time

from absl import app
from absl import flags

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from gansynth_tf2.data import audio_files  # noqa: E402  pylint: disable=wrong-import-position

FLAGS = flags.FLAGS
flags.DEFINE_string('input_dir', None, 'Folder of audio files (searched '
                    'recursively).')
flags.DEFINE_string('output_dir', None, 'Destination folder.')
flags.DEFINE_string('pitch_regex', audio_files.NSYNTH_PATTERN,
                    'Regex on the file name without extension with a '
                    '(?P<pitch>MIDI number) or (?P<note>name like C#4) group; '
                    'optional (?P<velocity>) and (?P<name>) groups.')
flags.DEFINE_boolean('estimate_pitch', False, 'Estimate each pitch with '
                     'librosa.pyin (overrides the file name).')
flags.DEFINE_integer('min_pitch', 24, 'Lowest MIDI pitch kept (others are '
                     'rejected and listed in manifest.json).')
flags.DEFINE_integer('max_pitch', 84, 'Highest MIDI pitch kept.')
flags.DEFINE_integer('num_shards', 1, 'Number of TFRecord shards.')
flags.DEFINE_integer('num_workers', None, 'Decoding processes (default: all '
                     'CPU cores).')
flags.mark_flags_as_required(['input_dir', 'output_dir'])


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'unexpected arguments: {argv[1:]}')
  # Bad flags: one line, before TensorFlow is imported or anything written.
  if not 0 <= FLAGS.min_pitch <= FLAGS.max_pitch <= 127:
    sys.exit(f'error: --min_pitch={FLAGS.min_pitch} and --max_pitch='
             f'{FLAGS.max_pitch}: expected 0 <= --min_pitch <= --max_pitch '
             '<= 127 (MIDI pitches kept)')
  for flag in ('num_shards', 'num_workers'):
    value = getattr(FLAGS, flag)
    if value is not None and value < 1:
      sys.exit(f'error: --{flag} must be >= 1, got {value}')
  # Imported here, not at the top: the spawned decoding workers re-import this
  # script, and should not pay for the TensorFlow import that folders needs.
  from gansynth_tf2.data import folders  # pylint: disable=import-outside-toplevel
  start = time.time()
  input_dir = os.path.expanduser(FLAGS.input_dir)
  output_dir = os.path.expanduser(FLAGS.output_dir)
  try:
    manifest = folders.prepare_folder(
        input_dir, output_dir, pitch_regex=FLAGS.pitch_regex,
        estimate_pitches=FLAGS.estimate_pitch, min_pitch=FLAGS.min_pitch,
        max_pitch=FLAGS.max_pitch, num_shards=FLAGS.num_shards,
        num_workers=FLAGS.num_workers or os.cpu_count())
  except (FileNotFoundError, RuntimeError, ValueError) as e:
    sys.exit(f'error: {e}')
  print(f'\nAccepted {manifest["num_examples"]} notes, rejected '
        f'{manifest["num_rejected"]}, in {time.time() - start:.1f} s.')
  changed = [e for e in manifest['accepted'] if e.get('notes')]
  if changed:
    print(f'{len(changed)} accepted files were changed (resampled, mixed to '
          'mono, cropped or padded; see manifest.json).')
  for r in manifest['rejected'][:20]:
    print(f'  rejected {r["file"]}: {r["reason"]}')
  if manifest['num_rejected'] > 20:
    print(f'  ... and {manifest["num_rejected"] - 20} more in manifest.json')
  counts = manifest['pitch_counts']
  print(f'Pitches {min(counts)}..{max(counts)}, {len(counts)} distinct.')
  print(f'Wrote {", ".join(manifest["shards"])} and manifest.json to '
        f'{output_dir}.')
  print('Train on it with --gin_file=gin/datasets/prepared.gin '
        f"--gin_param=\"PreparedDataset.data_dir='{output_dir}'\"")


if __name__ == '__main__':
  app.run(main)
