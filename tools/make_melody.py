r"""Writes a short MIDI melody for the quick start (pretty_midi).

  python tools/make_melody.py --output=melody.mid [--pitches=48,51,...]

Eighth notes at 120 bpm up and down the given pitches, with a final long
note; the default pitches are ones the embedded default dataset has (every
third semitone from 24), so a model trained on it plays them all.
"""
import argparse

import pretty_midi

DEFAULT_PITCHES = (48, 51, 54, 57, 60, 63, 66, 69, 72)


def melody(pitches, note_secs=0.25, program=0):
  """A pretty_midi.PrettyMIDI going up and down `pitches` once."""
  pm = pretty_midi.PrettyMIDI(initial_tempo=120)
  inst = pretty_midi.Instrument(program=program, name='melody')
  sequence = list(pitches) + list(pitches)[-2::-1]
  t = 0.0
  for i, p in enumerate(sequence):
    length = note_secs * (4 if i == len(sequence) - 1 else 1)
    inst.notes.append(pretty_midi.Note(velocity=100, pitch=int(p), start=t,
                                       end=t + length * 0.9))
    t += length
  pm.instruments.append(inst)
  return pm


def main():
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--output', required=True)
  parser.add_argument('--pitches', default=','.join(map(str, DEFAULT_PITCHES)))
  args = parser.parse_args()
  pitches = [int(p) for p in args.pitches.split(',')]
  melody(pitches).write(args.output)
  print(f'wrote {args.output}: {2 * len(pitches) - 1} notes')


if __name__ == '__main__':
  main()
