r"""Measures the pitch of generated notes with pYIN, without any classifier.

Reads a folder written by `python -m gansynth_tf2.generate` (random notes:
`generated.json` lists each WAV with its asked pitch), estimates each note's
pitch with librosa's pYIN (median over the voiced frames of 0.1-2.1 s, search
range C1..C8: `gansynth_tf2.metrics.pyin_midi`) and prints how many notes are
within 0.5 semitone of the pitch they were asked for.

  python tools/check_pitch.py --notes_dir=out/quickstart/notes
  python tools/check_pitch.py --notes_dir=out/notes --min_fraction=0.75  # exit 1 below
"""
import argparse
import json
import os
import sys

import numpy as np
import soundfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from gansynth_tf2 import metrics  # pylint: disable=g-import-not-at-top


def check_notes(notes_dir, tolerance=0.5):
  """[(wav, asked pitch, estimated MIDI pitch)] of a generate output folder."""
  path = os.path.join(notes_dir, 'generated.json')
  if not os.path.exists(path):
    raise FileNotFoundError(f'{path} not found: --notes_dir must be an '
                            'output folder of gansynth_tf2.generate')
  with open(path) as f:
    meta = json.load(f)
  entries = [e for e in meta.get('files', []) if 'pitch' in e]
  if not entries:
    raise ValueError(f'{path} lists no notes with a pitch (random-notes mode '
                     'of gansynth_tf2.generate writes them)')
  waves, rates = [], set()
  for e in entries:
    wave, rate = soundfile.read(os.path.join(notes_dir, e['wav']),
                                dtype='float32')
    waves.append(wave if wave.ndim == 1 else wave.mean(axis=1))
    rates.add(rate)
  if len(rates) != 1:
    raise ValueError(f'{notes_dir}: WAVs of several sample rates {rates}')
  est = metrics.pyin_midi(waves, sample_rate=rates.pop())
  asked = np.array([e['pitch'] for e in entries])
  return [(e['wav'], int(p), float(m)) for e, p, m in zip(entries, asked, est)]


def main():
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--notes_dir', required=True)
  parser.add_argument('--tolerance', type=float, default=0.5,
                      help='semitones (default 0.5)')
  parser.add_argument('--min_fraction', type=float, default=None,
                      help='exit with status 1 if fewer notes are in tune')
  args = parser.parse_args()
  try:
    rows = check_notes(args.notes_dir, args.tolerance)
  except (OSError, ValueError) as e:
    print(f'ERROR: {e}', file=sys.stderr)
    return 1
  ok = 0
  for wav, asked, est in rows:
    good = bool(np.isfinite(est) and abs(est - asked) <= args.tolerance)
    ok += good
    shown = f'{est:6.2f}' if np.isfinite(est) else '   n/a'
    print(f'{wav:24s} asked {asked:3d}  pYIN {shown}  '
          f'{"ok" if good else "off"}')
  fraction = ok / len(rows)
  print(f'{ok}/{len(rows)} notes ({fraction:.0%}) within {args.tolerance} '
        'semitone of the asked pitch (pYIN)')
  if args.min_fraction is not None and fraction < args.min_fraction:
    return 1
  return 0


if __name__ == '__main__':
  sys.exit(main())
