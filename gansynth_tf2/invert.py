r"""Find the latent vector of your own sound: a recorded note -> z.

  python -m gansynth_tf2.invert --ckpt_dir=models/cpu_small \
      --wav=note.wav [--wav=other.wav ...] [--pitch=auto|MIDI|C4[,...]] \
      --output_dir=OUT

Each recording is mixed to mono, resampled to the model's rate and cut or
padded to its note length (the tool says which); its pitch is pYIN's, taken
to the nearest pitch the model was trained on, unless --pitch gives it.
Then `inversion.invert` searches the latent (best of --num_random random
latents, then Adam through the generator and the inverse transform; see
inversion.py). Several files are inverted together (batched).

Writes into OUT (published whole at the end: a failed run leaves nothing):
  z.npy                     [n, latent_size], one row per file, in order:
                            `generate --z_file=OUT/z.npy`, `instrument
                            --z_file`, `model.generate_from_z`
  STEM_target.wav           the recording as prepared (what was matched)
  STEM_reconstruction.wav   the note generated from the found z
  STEM.png                  both spectrograms, one above the other
  invert.json               per file: pitch (heard and used), what was done
                            to the audio, distance_db (log-mel L1, dB) and
                            baseline_db (the best of --num_random random
                            latents at that pitch), seconds
"""

import contextlib
import json
import os
import sys

from absl import app
from absl import flags
import numpy as np

from gansynth_tf2 import files
from gansynth_tf2 import generate_modes
from gansynth_tf2 import inversion
from gansynth_tf2 import model as model_lib
from gansynth_tf2 import writers

FLAGS = flags.FLAGS


def define_flags(flag_values=FLAGS):
  """The command-line flags (`flag_values`: where, for tests)."""
  flags.DEFINE_string('ckpt_dir', None, 'Checkpoint directory (ours or '
                      "Magenta's).", flag_values=flag_values)
  flags.DEFINE_multi_string(
      'wav', None, 'A recorded note (any format soundfile reads: WAV, FLAC, '
      'OGG, AIFF); repeat the flag for several.', flag_values=flag_values)
  flags.DEFINE_list(
      'pitch', ['auto'], "'auto' (pYIN, then the nearest trained pitch) or a "
      'MIDI pitch (number or name like C4); one for all files or one per '
      'file.', flag_values=flag_values)
  flags.DEFINE_string('output_dir', None, 'Where the files go; must not exist '
                      'or be empty unless --overwrite.',
                      flag_values=flag_values)
  flags.DEFINE_integer('num_random', inversion.NUM_RANDOM,
                       'Random latents of the baseline (and pool of starts).',
                       flag_values=flag_values)
  flags.DEFINE_integer('num_starts', inversion.NUM_STARTS,
                       'Starts per note of the first optimisation phase.',
                       flag_values=flag_values)
  flags.DEFINE_list('steps', [str(s) for s in inversion.STEPS],
                    'Adam steps of the two phases.', flag_values=flag_values)
  flags.DEFINE_integer('seed', 0, 'Seed of the random latents and the noise.',
                       flag_values=flag_values)
  flags.DEFINE_boolean('overwrite', False, 'Allow a non-empty --output_dir.',
                       flag_values=flag_values)
  flags.mark_flags_as_required(['ckpt_dir', 'wav', 'output_dir'],
                               flag_values=flag_values)


def read_audio(path):
  """(audio `[samples, channels]` float64, rate) of a file; clear errors."""
  import soundfile  # pylint: disable=import-outside-toplevel
  if not os.path.isfile(path):
    raise FileNotFoundError(f'--wav: no such file: {path}')
  try:
    audio, rate = soundfile.read(path, dtype='float64', always_2d=True)
  except Exception as e:  # soundfile raises its own LibsndfileError
    raise ValueError(f'--wav: {path} is not an audio file soundfile can read '
                     f'({str(e).splitlines()[0]})') from e
  return audio, rate


def _stems(paths):
  """File stems, made unique (a/note.wav, b/note.wav -> note, note_2)."""
  stems, seen = [], {}
  for path in paths:
    stem = os.path.splitext(os.path.basename(path))[0] or 'note'
    seen[stem] = seen.get(stem, 0) + 1
    stems.append(stem if seen[stem] == 1 else f'{stem}_{seen[stem]}')
  return stems


@contextlib.contextmanager
def progress_line(count, enabled=True):
  """Yields an `inversion.invert` progress callback drawing a tqdm line on
  stderr ('inverting 2 note(s): 40%|... random baseline'); None if not
  enabled."""
  if not enabled:
    yield None
    return
  from tqdm import tqdm  # pylint: disable=import-outside-toplevel
  bar = tqdm(total=1, desc=f'inverting {count} note(s)', unit='step',
             file=sys.stderr, mininterval=1.0)

  def on_progress(done, total, what):
    bar.total = total
    bar.set_postfix_str(what, refresh=False)
    bar.update(done - bar.n)

  try:
    yield on_progress
  finally:
    bar.close()


def prepare(model, paths, pitch_flags, log=print):
  """Reads, prepares and pitches the recordings: (waves, pitches, entries)."""
  if len(pitch_flags) not in (1, len(paths)):
    raise ValueError(f'--pitch: give one pitch for all files or one per file '
                     f'({len(paths)}), got {len(pitch_flags)}')
  pitch_flags = list(pitch_flags) * (len(paths) if len(pitch_flags) == 1
                                     else 1)
  trained = inversion.trained_pitches(model)
  waves, pitches, entries = [], [], []
  for path, pitch_flag, stem in zip(paths, pitch_flags, _stems(paths)):
    audio, rate = read_audio(path)
    wave, notes = inversion.prepare_wave(audio, rate, model.sample_rate,
                                         model.audio_length, name=path)
    entry = {'wav': path, 'stem': stem, 'prepared': notes}
    if pitch_flag.strip().lower() == 'auto':
      heard, pitch = inversion.detect_pitch(wave, model.sample_rate, trained,
                                            name=path)
      entry['pitch_heard'] = round(heard, 2)
      notes = notes + [f'pYIN hears MIDI {heard:.2f}; the nearest pitch the '
                       f'model was trained on is {pitch}']
    else:
      pitch = int(generate_modes.parse_pitches(
          [pitch_flag], model.min_pitch, model.max_pitch, flag='--pitch')[0])
    entry['pitch'] = pitch
    for note in notes:
      log(f'{path}: {note}')
    waves.append(wave)
    pitches.append(pitch)
    entries.append(entry)
  return np.stack(waves), np.array(pitches, np.int32), entries


def run(ckpt_dir, wavs, output_dir, *, pitch=('auto',), num_random=None,
        num_starts=None, steps=None, seed=0, overwrite=False, model=None,
        log=print, progress=True):
  """Everything the CLI does; returns the invert.json dict."""
  generate_modes.check_output_dir(output_dir, overwrite)
  files.check_writable_dir(output_dir, '--output_dir')
  if not wavs:
    raise ValueError('--wav: give at least one recording')
  for path in wavs:  # before TensorFlow starts: a typo fails in a second
    if not os.path.isfile(path):
      raise FileNotFoundError(f'--wav: no such file: {path}')
  num_random = inversion.NUM_RANDOM if num_random is None else num_random
  num_starts = inversion.NUM_STARTS if num_starts is None else num_starts
  steps = tuple(int(s) for s in (steps or inversion.STEPS))
  if len(steps) != 2 or min(steps) < 0:
    raise ValueError(f'--steps: two step counts >= 0, got {list(steps)}')
  if num_random < 1 or not 1 <= num_starts <= num_random:
    raise ValueError(f'need 1 <= --num_starts ({num_starts}) <= --num_random '
                     f'({num_random})')
  model = model or model_lib.load_model(ckpt_dir)
  waves, pitches, entries = prepare(model, wavs, pitch, log=log)

  with progress_line(len(wavs), progress) as on_progress:
    found = inversion.invert(
        model, waves, pitches, num_random=num_random, num_starts=num_starts,
        keep=min(inversion.KEEP, num_starts), steps=steps, seed=seed,
        progress=on_progress)
  meta = {'ckpt_dir': ckpt_dir, 'checkpoint': model.checkpoint_path,
          'seed': seed, 'num_random': num_random, 'num_starts': num_starts,
          'steps': list(steps), 'seconds': round(found.seconds, 1),
          'distance': 'log-mel L1 in dB (metrics.log_mel_distance)',
          'notes': []}
  with files.publish_dir(output_dir, mode=files.MERGE) as tmp:
    np.save(os.path.join(tmp, 'z.npy'), found.z.astype(np.float32))
    for i, entry in enumerate(entries):
      stem = entry['stem']
      target, recon = found.targets[i], found.reconstructions[i]
      entry.update(
          target_wav=f'{stem}_target.wav',
          reconstruction_wav=f'{stem}_reconstruction.wav',
          png=f'{stem}.png', z_row=i,
          distance_db=round(float(found.distance_db[i]), 3),
          baseline_db=round(float(found.baseline_db[i]), 3))
      # Both as they are (float WAV): the level is part of the match.
      writers.write_wav(os.path.join(tmp, entry['target_wav']), target,
                        model.sample_rate)
      writers.write_wav(os.path.join(tmp, entry['reconstruction_wav']), recon,
                        model.sample_rate)
      writers.write_comparison_png(
          os.path.join(tmp, entry['png']), [target, recon],
          model.sample_rate,
          [f'{stem}: the recording (prepared)',
           f'inverted at MIDI {entry["pitch"]}: {entry["distance_db"]:.2f} dB '
           f'(best of {num_random} random: {entry["baseline_db"]:.2f} dB)'])
      meta['notes'].append(entry)
    with open(os.path.join(tmp, 'invert.json'), 'w') as f:
      json.dump(meta, f, indent=2)
  for entry in meta['notes']:
    log(f'{entry["wav"]}: pitch {entry["pitch"]}, {entry["distance_db"]:.2f} '
        f'dB from the recording (best of {num_random} random latents: '
        f'{entry["baseline_db"]:.2f} dB)')
  return meta


def main(argv, flag_values=FLAGS):
  """The CLI after flag parsing."""
  if len(argv) > 1:
    raise app.UsageError(f'unexpected arguments: {argv[1:]}')
  fv = flag_values
  try:
    meta = run(fv.ckpt_dir, fv.wav, fv.output_dir, pitch=fv.pitch,
               num_random=fv.num_random, num_starts=fv.num_starts,
               steps=fv.steps, seed=fv.seed, overwrite=fv.overwrite)
  except (ValueError, FileNotFoundError, FileExistsError,
          model_lib.CheckpointError) as e:
    sys.exit(f'gansynth_tf2.invert: error: {e}')
  print(f'wrote z.npy ({len(meta["notes"])} latent vector(s)), the '
        f'reconstructions and invert.json to {fv.output_dir} in '
        f'{meta["seconds"]:.0f} s')


def console_entry_point():
  define_flags()
  app.run(main)


if __name__ == '__main__':
  console_entry_point()
