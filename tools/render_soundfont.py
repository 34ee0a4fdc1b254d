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
flags.DEFINE_string('pitches', '24-84', 'MIDI pitches (0..127): comma list '
                    'and/or ranges, a range may have a step: 24-84:3 is 24, '
                    '27, ..., 84.')
flags.DEFINE_string('velocities', '100', 'MIDI velocities (1..127), e.g. '
                    '50,100,127.')
flags.DEFINE_string('output_dir', None, 'Destination folder.')
flags.DEFINE_integer('num_shards', 1, 'Number of TFRecord shards.')
flags.DEFINE_integer('num_workers', None, 'Parallel fluidsynth processes '
                     '(default: all CPU cores).')
flags.DEFINE_float('gain', 1.0, 'fluidsynth master gain (0..10).')
flags.mark_flag_as_required('output_dir')


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'unexpected arguments: {argv[1:]}')
  # Bad input: one line naming the flag, before anything is written.
  try:
    programs = soundfont.parse_midi_list(FLAGS.programs, 'programs')
    pitches = soundfont.parse_midi_list(FLAGS.pitches, 'pitches')
    velocities = soundfont.parse_midi_list(FLAGS.velocities, 'velocities')
    for flag in ('num_shards', 'num_workers'):
      value = getattr(FLAGS, flag)
      if value is not None and value < 1:
        raise ValueError(f'--{flag} must be >= 1, got {value}')
    if not 0.0 <= FLAGS.gain <= 10.0:
      raise ValueError(f'--gain must be in 0..10 (fluidsynth -g), got '
                       f'{FLAGS.gain}')
    sf2 = soundfont.find_soundfont(FLAGS.sf2)
    soundfont.find_fluidsynth()
    start = time.time()
    manifest = soundfont.render_soundfont(
        FLAGS.output_dir, programs, pitches, velocities, sf2=sf2,
        num_shards=FLAGS.num_shards, num_workers=FLAGS.num_workers,
        gain=FLAGS.gain)
  except (ValueError, RuntimeError) as e:  # MissingToolError included
    sys.exit(f'error: {e}')
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
