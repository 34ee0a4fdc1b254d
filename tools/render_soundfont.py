r"""Renders notes from an SF2 soundfont into NSynth-schema TFRecords for training.

For each General MIDI program, pitch and velocity: a 3 s note, then its
release, 4 s at 16 kHz, rendered by fluidsynth (in parallel, resumable: rerun
the same command after an interruption). Writes `<output_dir>/*.tfrecord*`
and `<output_dir>/manifest.json`.

Example:
  python tools/render_soundfont.py --sf2=/usr/share/sounds/sf2/TimGM6mb.sf2 \
    --programs=0,40,73 --pitches=24-84 --velocities=100 --output_dir=/tmp/sf

Needs fluidsynth and a soundfont: sudo apt-get install fluidsynth
timgm6mb-soundfont (or fluid-soundfont-gm).
"""
import os
import sys
import time

from absl import app
from absl import flags

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from gansynth_tf2.data import soundfont  # noqa: E402  pylint: disable=wrong-import-position

FLAGS = flags.FLAGS
flags.DEFINE_string('sf2', None, 'SF2 soundfont; default: the first installed '
                    'of ' + ', '.join(soundfont.SOUNDFONT_SEARCH_PATHS))
flags.DEFINE_string('programs', '0,40,73', 'General MIDI programs (0..127): '
                    'comma list and/or ranges, e.g. 0,24-26.')
flags.DEFINE_string('pitches', '24-84', 'MIDI pitches: comma list and/or '
                    'ranges, a range may have a step: 24-84:2.')
flags.DEFINE_string('velocities', '100', 'MIDI velocities, e.g. 50,100,127.')
flags.DEFINE_string('output_dir', None, 'Destination folder.')
flags.DEFINE_integer('num_shards', 1, 'Number of TFRecord shards.')
flags.DEFINE_integer('num_workers', None, 'Parallel fluidsynth processes '
                     '(default: all CPU cores).')
flags.DEFINE_float('gain', 1.0, 'fluidsynth master gain.')
flags.mark_flag_as_required('output_dir')


def parse_int_list(text, flag):
  """'0,3-5,10-20:5' -> [0, 3, 4, 5, 10, 15, 20]."""
  values = []
  try:
    for part in text.split(','):
      part = part.strip()
      if not part:
        continue
      span, _, step = part.partition(':')
      low, sep, high = span.partition('-')
      if sep:
        values.extend(range(int(low), int(high) + 1, int(step or 1)))
      else:
        values.append(int(span))
  except ValueError as e:
    raise app.UsageError(f'--{flag}={text!r}: expected integers and ranges '
                         'like 24-84 or 24-84:3, comma separated.') from e
  if not values:
    raise app.UsageError(f'--{flag} is empty.')
  return values


def main(argv):
  del argv
  programs = parse_int_list(FLAGS.programs, 'programs')
  pitches = parse_int_list(FLAGS.pitches, 'pitches')
  velocities = parse_int_list(FLAGS.velocities, 'velocities')
  try:
    sf2 = soundfont.find_soundfont(FLAGS.sf2)
    soundfont.find_fluidsynth()
  except soundfont.MissingToolError as e:
    sys.exit(f'error: {e}')
  start = time.time()
  manifest = soundfont.render_soundfont(
      FLAGS.output_dir, programs, pitches, velocities, sf2=sf2,
      num_shards=FLAGS.num_shards, num_workers=FLAGS.num_workers,
      gain=FLAGS.gain)
  print(f'\nRendered {manifest["num_examples"]} notes '
        f'({len(programs)} programs x {len(pitches)} pitches x '
        f'{len(velocities)} velocities) from {sf2} in '
        f'{time.time() - start:.1f} s'
        + (f', {manifest["chunks_reused"]} chunks reused from an earlier run'
           if manifest['chunks_reused'] else '') + '.')
  if manifest['rejected']:
    print(f'Skipped {manifest["num_rejected"]} notes:')
    for r in manifest['rejected'][:20]:
      print(f'  {r["note_str"]}: {r["reason"]}')
  print(f'Wrote {", ".join(manifest["shards"])} and manifest.json to '
        f'{FLAGS.output_dir}.')
  print('Train on it with --gin_file=gin/datasets/prepared.gin '
        f"--gin_param=\"PreparedDataset.data_dir='{FLAGS.output_dir}'\"")


if __name__ == '__main__':
  app.run(main)
