"""Peak memory and time of rendering a MIDI file (generate --midi_file).

  python tools/bench_midi.py [--ckpt_dir=models/cpu_small] [--notes=500,5000]
      [--batch_size=8] [--in_memory]

Writes a synthetic MIDI file per --notes count (one note every 0.1 s, each
0.25 s long, pitches cycling through the model's range, so 5,000 notes last
500 s, within the default --max_midi_seconds) and renders each with the real
command line (`python -m gansynth_tf2.generate --midi_file=...`, PNG
included) in a fresh subprocess. Prints, per count, the child's peak RSS
(`os.wait4`'s rusage: ru_maxrss of that child alone) and its wall time
(Python and TensorFlow start-up and the model's loading included), plus the
CPU model (lscpu's "Model name"). Memory is bounded by --batch_size when the
peak RSS stays flat from 500 to 5,000 notes.

--in_memory also runs, per count, the rendering as it was before it was
streamed (every note's audio generated and held, `midi.mix_notes` over all
of them, `writers.write_clip`), in a fresh subprocess likewise, for
comparison.
"""

import json
import os
import subprocess
import sys
import tempfile
import time

from absl import app
from absl import flags

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

_CKPT = flags.DEFINE_string('ckpt_dir', os.path.join(ROOT, 'models',
                                                     'cpu_small'),
                            'The checkpoint that plays the notes.')
_NOTES = flags.DEFINE_list('notes', ['500', '5000'], 'Note counts, one '
                           'synthetic MIDI file and one fresh process each.')
_BATCH = flags.DEFINE_integer('batch_size', 8, "generate's --batch_size.")
_IN_MEMORY = flags.DEFINE_boolean(
    'in_memory', False, 'Also time the all-in-memory rendering (before '
    'streaming) for comparison.')
_CHILD = flags.DEFINE_string('in_memory_child', None, 'Internal: render '
                             'this MIDI file all in memory into '
                             '--in_memory_out.')
_CHILD_OUT = flags.DEFINE_string('in_memory_out', None, 'Internal.')

ONSET_STEP = 0.1  # seconds between note onsets
NOTE_LENGTH = 0.25  # seconds from note-on to note-off


def write_synthetic_midi(path, count, min_pitch=36, max_pitch=84):
  """`count` notes, one every ONSET_STEP s, pitches cycling up and down."""
  import pretty_midi  # pylint: disable=import-outside-toplevel
  pm = pretty_midi.PrettyMIDI()
  piano = pretty_midi.Instrument(program=0)
  span = max_pitch - min_pitch
  for i in range(count):
    step = i % (2 * span)
    pitch = min_pitch + (step if step < span else 2 * span - step)
    start = i * ONSET_STEP
    piano.notes.append(pretty_midi.Note(velocity=40 + (i * 7) % 88,
                                        pitch=pitch, start=start,
                                        end=start + NOTE_LENGTH))
  pm.instruments.append(piano)
  pm.write(path)


def cpu_model():
  """lscpu's "Model name" line (or 'unknown')."""
  try:
    out = subprocess.run(['lscpu'], capture_output=True, text=True,
                         check=False).stdout
  except OSError:
    return 'unknown (no lscpu)'
  for line in out.splitlines():
    if line.startswith('Model name:'):
      return line.split(':', 1)[1].strip()
  return 'unknown'


def run_child(cmd):
  """Runs `cmd` as a child; returns (peak RSS MiB, wall seconds, stdout).

  The child is waited for with os.wait4, whose rusage is that child's
  alone (RUSAGE_CHILDREN would be the largest of all children so far).
  """
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL='2')
  with tempfile.TemporaryFile('w+') as out, tempfile.TemporaryFile('w+') as err:
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=err)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    out.seek(0)
    err.seek(0)
    if proc.returncode:
      tail = '\n'.join(err.read().strip().splitlines()[-10:])
      raise SystemExit(f'ERROR: {" ".join(cmd)} failed (exit '
                       f'{proc.returncode}):\n{tail}')
    return usage.ru_maxrss / 1024.0, seconds, out.read()


def render_in_memory(midi_file, out_dir, ckpt_dir, batch_size):
  """The rendering before streaming: all notes' audio held, then mixed."""
  # pylint: disable=import-outside-toplevel
  import numpy as np
  import gansynth_tf2
  from gansynth_tf2 import generate_modes
  from gansynth_tf2 import midi
  from gansynth_tf2 import writers
  model = gansynth_tf2.load_model(ckpt_dir, batch_size=batch_size)
  notes, _ = midi.load_midi(midi_file, model.min_pitch, model.max_pitch)
  t_inst = midi.instrument_times(notes.total_time, 6.0)
  z_inst = model.generate_z(len(t_inst), seed=0)
  z_notes = midi.z_for_notes(notes.start_times, z_inst, t_inst)
  audio = generate_modes.synthesize(model, z_notes, notes.pitches,
                                    batch_size, progress=False)
  clip = midi.mix_notes(audio, notes, model.sample_rate)
  os.makedirs(out_dir, exist_ok=True)
  writers.write_clip(out_dir, 'generated_clip', clip, model.sample_rate,
                     os.path.basename(midi_file), notes)
  print(json.dumps({'samples': int(np.asarray(clip).size)}))


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'unexpected arguments: {argv[1:]}')
  if _CHILD.value:
    render_in_memory(_CHILD.value, _CHILD_OUT.value, _CKPT.value,
                     _BATCH.value)
    return
  print(f'CPU: {cpu_model()} ({os.cpu_count()} logical CPUs)')
  print(f'checkpoint: {_CKPT.value}, --batch_size={_BATCH.value}')
  print(f'{"notes":>6} {"clip s":>7} {"mode":>10} {"peak RSS MiB":>13} '
        f'{"wall s":>7} {"notes/s":>8}')
  with tempfile.TemporaryDirectory(prefix='bench_midi-') as tmp:
    for count in [int(c) for c in _NOTES.value]:
      path = os.path.join(tmp, f'notes_{count}.mid')
      write_synthetic_midi(path, count)
      clip_s = (count - 1) * ONSET_STEP + NOTE_LENGTH
      modes = [('streamed', [
          sys.executable, '-m', 'gansynth_tf2.generate',
          f'--ckpt_dir={_CKPT.value}', f'--midi_file={path}',
          f'--output_dir={os.path.join(tmp, f"streamed_{count}")}',
          '--seed=0', f'--batch_size={_BATCH.value}'])]
      if _IN_MEMORY.value:
        modes.append(('in memory', [
            sys.executable, os.path.abspath(__file__),
            f'--in_memory_child={path}', f'--ckpt_dir={_CKPT.value}',
            f'--in_memory_out={os.path.join(tmp, f"in_memory_{count}")}',
            f'--batch_size={_BATCH.value}']))
      for mode, cmd in modes:
        rss, seconds, _ = run_child(cmd)
        print(f'{count:>6} {clip_s:>7.1f} {mode:>10} {rss:>13.0f} '
              f'{seconds:>7.1f} {count / seconds:>8.1f}', flush=True)


if __name__ == '__main__':
  app.run(main)
