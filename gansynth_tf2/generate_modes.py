"""The generation modes behind `python -m gansynth_tf2.generate`.

`run` does everything the command line does (generate.py parses the flags
and calls it; `generate.run` is this function): random notes, a MIDI file
played with instruments interpolated over time, a timbre sweep and an
interpolation between two latent vectors, each written with `writers` (WAV
+ PNG per clip) plus `z.npy` and `generated.json`, published into the
output folder by `files.publish_dir` (merge) only when all is written.
Bad input (a MIDI file over --max_midi_seconds, an output folder that cannot
be written among it) is refused before a model is loaded or a file written.
A MIDI file is rendered streamed (`render_midi_clip`): memory is bounded by
--batch_size, not by the number of notes.
"""

import contextlib
import datetime
import json
import os

import numpy as np

from gansynth_tf2 import files
from gansynth_tf2 import midi
from gansynth_tf2 import precision as precision_lib
from gansynth_tf2 import writers


MIDDLE_C = 60
# --max_midi_seconds: longer MIDI files are refused (memory stays bounded;
# time and the temporary mix file, 8 bytes a sample, grow with the length).
MAX_MIDI_SECONDS = 600.0
# Spacing of the notes in the summary clip of a sweep / interpolation.
SUMMARY_NOTE_SECS = (1.0, 0.75)  # (onset to onset, note length)


# ---------------------------------------------------------------- generation


def synthesize(model, z, pitches, batch_size, progress=None):
  """Audio of each (z, pitch): `[n, audio_length]` float32.

  Runs `model.generate_from_z` on chunks of `batch_size` notes so that long
  MIDI files show a progress bar (progress None: only on a terminal).
  """
  from tqdm import tqdm  # pylint: disable=import-outside-toplevel
  z = np.asarray(z, np.float32)
  pitches = np.asarray(pitches, np.int32)
  out = []
  disable = None if progress is None else not progress
  with tqdm(total=len(z), unit='note', disable=disable,
            desc='generating') as bar:
    for i in range(0, len(z), batch_size):
      out.append(np.asarray(model.generate_from_z(z[i:i + batch_size],
                                                  pitches[i:i + batch_size])))
      bar.update(len(out[-1]))
  return np.concatenate(out, axis=0)


# ------------------------------------------------------------ argument checks


def parse_pitches(values, min_pitch, max_pitch, flag='--pitches'):
  """MIDI numbers or note names -> int32 array, each checked against range."""
  import pretty_midi  # pylint: disable=import-outside-toplevel
  pitches = []
  for value in values:
    value = str(value).strip()
    try:
      pitch = int(value)
    except ValueError:
      try:
        pitch = pretty_midi.note_name_to_number(value)
      except Exception as e:  # pretty_midi raises bare ValueError/KeyError
        raise ValueError(f'{flag}: {value!r} is neither a MIDI number nor a '
                         'note name like C4 or F#3') from e
    if not min_pitch <= pitch <= max_pitch:
      raise ValueError(f'{flag}: pitch {value} ({pitch}) is outside the '
                       f"model's pitch range {min_pitch}..{max_pitch}")
    pitches.append(pitch)
  if not pitches:
    raise ValueError(f'{flag}: no pitches given')
  return np.array(pitches, np.int32)


def load_z_file(path, size, count=None):
  """Latent vectors from a .npy file: `[k, size]` float32.

  Args:
    path: .npy holding `[k, size]` (or `[size]` for one vector).
    size: the model's latent_vector_size.
    count: the number of vectors required, or None for any k >= 1.
  """
  if not os.path.isfile(path):
    raise FileNotFoundError(f'--z_file: no such file: {path}')
  try:
    z = np.load(path, allow_pickle=False)
  except Exception as e:
    raise ValueError(f'--z_file: {path} is not a .npy array file '
                     f'({type(e).__name__}: {e})') from e
  if z.ndim == 1:
    z = z[None]
  wanted = f'[{count if count else "k"}, {size}]'
  if z.ndim != 2 or z.shape[1] != size or len(z) == 0:
    raise ValueError(f'--z_file: {path} holds an array of shape {z.shape}, '
                     f'expected {wanted} (latent_vector_size {size})')
  if count is not None and len(z) != count:
    raise ValueError(f'--z_file: {path} holds {len(z)} vectors, this mode '
                     f'needs exactly {count} (shape {wanted})')
  if not np.issubdtype(z.dtype, np.number) or not np.all(np.isfinite(z)):
    raise ValueError(f'--z_file: {path} contains NaN, Inf or non-numbers')
  return z.astype(np.float32)


def resolve_seed(seed):
  """The seed to use: the given one, or a fresh random one (to be recorded)."""
  if seed is None:
    return int(np.random.SeedSequence().entropy % (2**31))
  return int(seed)


def check_output_dir(output_dir, overwrite):
  """Refuses a non-empty output directory unless overwrite, before any work."""
  if os.path.exists(output_dir):
    if not os.path.isdir(output_dir):
      raise FileExistsError(f'--output_dir: {output_dir} exists and is not a '
                            'directory')
    if os.listdir(output_dir) and not overwrite:
      raise FileExistsError(f'--output_dir: {output_dir} is not empty; choose '
                            'another directory or pass --overwrite')


def summary_notes(pitches):
  """Notes one after another, for the one-clip summary of a sweep."""
  n = len(pitches)
  step, length = SUMMARY_NOTE_SECS
  starts = np.arange(n) * step
  return midi.Notes(np.asarray(pitches, np.int32), np.full(n, 100, np.int32),
                    starts, starts + length, np.zeros(n, np.int32))


# --------------------------------------------------------------------- modes

# --xla -> load_model's jit_compile.
XLA_MODES = {False: False, True: 'generator', 'auto': 'auto'}


def run(ckpt_dir, output_dir, *, model=None, n=None, pitches=None, seed=None,
        batch_size=8, midi_file=None, secs_per_instrument=6.0, z_file=None,
        timbre_sweep=False, interpolate=0, use_ema=True, png=True,
        overwrite=False, progress=None, precision='fp32', xla=False,
        exact=False, max_midi_seconds=MAX_MIDI_SECONDS, edit=None):
  """Everything the CLI does; returns the metadata written to generated.json.

  Args:
    ckpt_dir: checkpoint directory (ours or Magenta's).
    output_dir: where the files go (see check_output_dir).
    model: an already loaded model for ckpt_dir (skips loading; for tests and
      notebooks).
    edit: --edit's text ('1:+2.0,2:-1.0') or a mapping {direction number:
      amount in standard deviations}: every latent is moved along the
      model's latent directions (latents.py) before it plays; z.npy keeps
      the latents unedited (replay them with the same --edit).
    Others: as the flags of the same names.
  """
  modes = [m for m, on in (('--midi_file', bool(midi_file)),
                           ('--timbre_sweep', timbre_sweep),
                           ('--interpolate', interpolate)) if on]
  if len(modes) > 1:
    raise ValueError(f'choose one of {", ".join(modes)}')
  if interpolate and interpolate < 2:
    raise ValueError(f'--interpolate needs at least 2 steps, got {interpolate}')
  if batch_size < 1:
    raise ValueError(f'--batch_size must be >= 1, got {batch_size}')
  precision_lib.check(precision, '--precision')
  if xla not in XLA_MODES:
    raise ValueError(f'--xla must be true, false or auto, got {xla!r}')
  precision_lib.check_exact(exact, xla, precision, cli=True)
  if n is not None and n < 1:
    raise ValueError(f'--n must be >= 1, got {n}')
  if midi_file and pitches is not None:
    raise ValueError('--pitches cannot be combined with --midi_file (the MIDI '
                     'file gives the pitches)')
  if midi_file and not os.path.isfile(midi_file):
    raise FileNotFoundError(f'--midi_file: no such file: {midi_file}')
  if z_file and not os.path.isfile(z_file):
    raise FileNotFoundError(f'--z_file: no such file: {z_file}')
  if midi_file and not secs_per_instrument > 0:
    raise ValueError('--secs_per_instrument must be > 0, got '
                     f'{secs_per_instrument}')
  if midi_file and not max_midi_seconds > 0:
    raise ValueError('--max_midi_seconds must be > 0, got '
                     f'{max_midi_seconds}')
  # Before TensorFlow starts: a mistyped path fails in a second.
  if model is None and not os.path.isdir(ckpt_dir):
    raise FileNotFoundError(f'--ckpt_dir: no such directory: {ckpt_dir} '
                            '(expected a training directory or a Magenta '
                            'checkpoint: experiment.json + stage_000NN/)')
  check_output_dir(output_dir, overwrite)
  files.check_writable_dir(output_dir, '--output_dir')
  if midi_file:
    midi.check_length(midi_file, max_midi_seconds)
  edits = _parse_edit(edit, ckpt_dir, model)

  if model is None:
    import gansynth_tf2  # pylint: disable=import-outside-toplevel
    model = gansynth_tf2.load_model(ckpt_dir, use_ema=use_ema,
                                    batch_size=batch_size,
                                    precision=precision,
                                    jit_compile=XLA_MODES[xla],
                                    exact=exact)
  if edits:
    model = _EditedModel(model, edits)
  size = model.latent_size
  seed = resolve_seed(seed)
  if pitches is not None:
    pitches = parse_pitches(pitches, model.min_pitch, model.max_pitch)

  meta = {
      'checkpoint': os.path.abspath(ckpt_dir),
      'use_ema': use_ema,
      'precision': getattr(model, 'precision', precision),
      'arithmetic': getattr(model, 'arithmetic', None),
      'created': datetime.datetime.now(datetime.timezone.utc).isoformat(),
      'sample_rate': model.sample_rate,
      'seed': seed,
      'z_file': os.path.abspath(z_file) if z_file else None,
      'z': 'z.npy',
      'edit': ({str(k): v for k, v in edits.items()} if edits else None),
  }

  if midi_file:
    _render_midi(model, output_dir, meta, midi_file, z_file,
                 secs_per_instrument, batch_size, progress, png)
  elif timbre_sweep:
    if pitches is None:
      pitches = np.array(model.pitches, np.int32)
    z_one = (load_z_file(z_file, size, count=1) if z_file
             else model.generate_z(1, seed=seed))
    z = np.repeat(z_one, len(pitches), axis=0)
    meta['mode'] = 'timbre_sweep'
    _render_series(model, output_dir, meta, 'timbre_sweep', z, pitches, z_one,
                   batch_size, progress, png)
  elif interpolate:
    if pitches is None:
      pitches = np.array([MIDDLE_C], np.int32)
    if len(pitches) != 1:
      raise ValueError('--interpolate plays one pitch; --pitches has '
                       f'{len(pitches)}')
    ends = (load_z_file(z_file, size, count=2) if z_file
            else model.generate_z(2, seed=seed))
    steps = np.linspace(0, 1, interpolate)
    meta.update(mode='interpolate', steps=steps.tolist())
    z = midi.slerp(ends[0], ends[1], steps).astype(np.float32)
    _render_series(model, output_dir, meta, 'interpolation', z,
                   np.repeat(pitches, interpolate), ends, batch_size,
                   progress, png)
  else:
    if z_file:
      z = load_z_file(z_file, size, count=n)
      n = len(z)
    else:
      n = n or (len(pitches) if pitches is not None else batch_size)
      z = model.generate_z(n, seed=seed)
    if pitches is None:
      # As model.generate_samples(n, seed=seed) draws them.
      pitches = model.sample_pitches(n, seed=seed)
    _render_notes(model, output_dir, meta, z, np.resize(pitches, n),
                  batch_size, progress, png)
  return meta


def _parse_edit(edit, ckpt_dir, model):
  """--edit -> {direction number: amount}, or None. Without a loaded model
  the directions file beside the checkpoint is read now, so that a model
  without directions, or a direction it does not have, fails in a second."""
  if edit is None:
    return None
  from gansynth_tf2 import latents  # pylint: disable=import-outside-toplevel
  edits = (latents.parse_edits(edit) if isinstance(edit, str) else
           dict(edit))
  if not edits:
    return None
  if model is None:
    path = latents.directions_path(ckpt_dir)
    if not os.path.isfile(path):
      raise ValueError(f'--edit: {ckpt_dir} has no latent directions '
                       f'({path}); fit them with: python -m '
                       f'gansynth_tf2.latents --ckpt_dir={ckpt_dir}')
    count = latents.load_directions(path).num_components
  else:
    try:
      count = model.directions.num_components
    except ValueError as e:
      raise ValueError(f'--edit: {e}') from e
  try:
    return latents.check_edits(edits, count)
  except ValueError as e:
    raise ValueError(f'--edit: {e}') from e


class _EditedModel:
  """A loaded model whose `generate_from_z` applies --edit to every latent
  (so each mode, MIDI's slerped latents too, plays the edited timbres)."""

  def __init__(self, model, edits):
    self._model = model
    self._edits = edits
    model.edit_z(np.zeros((1, model.latent_size), np.float32), edits)

  def __getattr__(self, name):
    return getattr(self._model, name)

  def generate_from_z(self, z, pitches, **kwargs):
    return self._model.generate_from_z(z, pitches, edits=self._edits,
                                       **kwargs)


def _render_midi(model, output_dir, meta, midi_file, z_file,
                 secs_per_instrument, batch_size, progress, png):
  """--midi_file: one clip of all playable notes, instruments over time."""
  notes, report = midi.load_midi(midi_file, model.min_pitch, model.max_pitch)
  print(report.summary(model.min_pitch, model.max_pitch))
  if z_file:
    z_inst = load_z_file(z_file, model.latent_size)
    t_inst = (np.zeros(1) if len(z_inst) == 1 else
              midi.instrument_times(notes.total_time, secs_per_instrument,
                                    num_instruments=len(z_inst)))
  else:
    t_inst = midi.instrument_times(notes.total_time, secs_per_instrument)
    z_inst = model.generate_z(len(t_inst), seed=meta['seed'])
  with _publish(output_dir, meta, z_inst) as tmp:
    entry = render_midi_clip(model, tmp, 'generated_clip', notes, z_inst,
                             t_inst, batch_size, progress, png,
                             os.path.basename(midi_file))
    meta.update(mode='midi', midi_file=os.path.abspath(midi_file),
                secs_per_instrument=secs_per_instrument,
                instrument_times=t_inst.tolist(), notes=len(notes),
                skipped={'drum_notes': report.drum_notes,
                         'out_of_range_notes': report.out_of_range_notes,
                         'zero_length_notes': report.zero_length_notes},
                tracks=report.tracks, files=[entry])


# Samples per block of the second pass over the mix (10 s at 16 kHz).
_BLOCK = 160000


def render_midi_clip(model, out_dir, name, notes, z_inst, t_inst, batch_size,
                     progress=None, png=True, title=''):
  """NAME.wav (+ NAME.png) of `notes`, in memory bounded by `batch_size`.

  The WAV holds `midi.mix_notes`' float32 clip of every note's audio, bit
  for bit (tested), computed in two streamed passes so that neither the
  notes' audio nor the clip is ever held whole:
    1. notes are generated `batch_size` at a time (their latent vectors
       slerped per batch, `midi.z_for_notes`), shaped and summed by a
       `midi.NoteMixer` in onset order; every finished sample goes, float64
       and unscaled, to a temporary file NAME.mix beside the WAV (8 bytes a
       sample: 77 MB for 10 minutes), while the clip's peak is tracked.
    2. the peak normalisation (`mix_notes`' peak 0.5) needs that peak, known
       only at the end: NAME.mix is read back in blocks of 10 s, scaled,
       written to NAME.wav (soundfile.SoundFile, float32) and fed to a
       `writers.StreamedSpectrogram` for the PNG (at most 2048 columns,
       each the maximum of the frames it covers); NAME.mix is deleted.
  Memory: one batch of notes' audio, one note of mix, one block, the
  PNG's columns: flat in the number of notes (tools/bench_midi.py).
  Progress: a tqdm line counting notes (progress None: only on a terminal).

  Args:
    model: a loaded model (`generate_from_z`, `sample_rate`).
    out_dir: an existing folder.
    name: the files' stem.
    notes: `midi.Notes`, sorted by onset (as `midi.load_midi` returns them).
    z_inst: [k, latent_size] instruments; t_inst: [k] their times.
    batch_size: notes per `generate_from_z` call.
    title: the PNG's title.

  Returns:
    The entry for generated.json, as `writers.write_clip`'s: wav, gain
    (1.0: the clip peaks at 0.5), png.
  """
  import soundfile  # pylint: disable=import-outside-toplevel
  from tqdm import tqdm  # pylint: disable=import-outside-toplevel
  sr = model.sample_rate
  mix_path = os.path.join(out_dir, f'{name}.mix')
  try:
    with open(mix_path, 'wb') as mix_file:
      mixer = midi.NoteMixer(sink=lambda block: block.tofile(mix_file))
      disable = None if progress is None else not progress
      with tqdm(total=len(notes), unit='note', disable=disable,
                desc='generating') as bar:
        for i in range(0, len(notes), batch_size):
          j = min(i + batch_size, len(notes))
          z = midi.z_for_notes(notes.start_times[i:j], z_inst, t_inst)
          audio = np.asarray(model.generate_from_z(z, notes.pitches[i:j]))
          for k, wave in enumerate(audio, start=i):
            mixer.add(midi.onset_sample(notes.start_times[k], sr),
                      midi.shape_note(wave,
                                      notes.end_times[k] - notes.start_times[k],
                                      notes.velocities[k], sr))
          bar.update(j - i)
      mixer.close()

    # As mix_notes: scaled to peak 0.5; then as write_clip (fit_to_full_scale)
    # a clip over full scale would be brought to -1 dBFS (not at peak 0.5).
    scale = 0.5 / mixer.peak if mixer.peak > 0 else 1.0
    out_peak = float(np.float32(mixer.peak * scale))
    gain = 1.0 if not out_peak > 1.0 else writers.FULL_SCALE_PEAK / out_peak
    entry = {'wav': f'{name}.wav', 'gain': gain}
    spec = writers.StreamedSpectrogram(mixer.length) if png else None
    with open(mix_path, 'rb') as mix_file, soundfile.SoundFile(
        os.path.join(out_dir, entry['wav']), 'w', samplerate=sr, channels=1,
        subtype='FLOAT') as wav:
      while True:
        block = np.fromfile(mix_file, np.float64, count=_BLOCK)
        if not block.size:
          break
        block *= scale
        block = block.astype(np.float32)
        if gain != 1.0:
          block = (block * np.float32(gain)).astype(np.float32)
        wav.write(block)
        if spec is not None:
          spec.add(block)
  finally:
    if os.path.exists(mix_path):
      os.remove(mix_path)
  if png:
    entry['png'] = f'{name}.png'
    writers.write_png(os.path.join(out_dir, entry['png']), None, sr, title,
                      notes, db=spec.db(), duration=mixer.length / sr)
  return entry


def _render_series(model, output_dir, meta, stem, z, pitches, z_saved,
                   batch_size, progress, png):
  """--timbre_sweep / --interpolate: a clip per note plus all in a row."""
  sr = model.sample_rate
  audio = synthesize(model, z, pitches, batch_size, progress)
  with _publish(output_dir, meta, z_saved) as tmp:
    entries = []
    for i, (wave, pitch) in enumerate(zip(audio, pitches)):
      entry = writers.write_clip(tmp, f'{stem}_{i}', wave, sr,
                                 f'{stem} {i}: pitch {pitch}', png=png)
      entries.append(dict(entry, pitch=int(pitch)))
    notes = summary_notes(pitches)
    clip = midi.mix_notes(audio, notes, sr)
    summary = writers.write_clip(tmp, stem, clip, sr, f'{stem}: all notes',
                                 notes, png)
    meta.update(pitches=[int(p) for p in pitches], summary=summary,
                files=entries)


def _render_notes(model, output_dir, meta, z, pitches, batch_size, progress,
                  png):
  """Random notes: a clip per (z, pitch)."""
  audio = synthesize(model, z, pitches, batch_size, progress)
  with _publish(output_dir, meta, z) as tmp:
    entries = []
    for i, (wave, pitch) in enumerate(zip(audio, pitches)):
      entry = writers.write_clip(tmp, f'generated_{i}', wave,
                                 model.sample_rate, f'note {i}: pitch {pitch}',
                                 png=png)
      entries.append(dict(entry, pitch=int(pitch), z_index=i))
    meta.update(mode='random', pitches=[int(p) for p in pitches],
                files=entries)


@contextlib.contextmanager
def _publish(output_dir, meta, z):
  """Yields a folder for the clips; at the end adds z.npy and generated.json
  (`meta` as the block left it) and moves every file into `output_dir`
  (files.publish_dir 'merge': other files there stay, as --overwrite
  promises). Nothing reaches `output_dir` if the block raises."""
  with files.publish_dir(output_dir, mode=files.MERGE) as tmp:
    yield tmp
    np.save(os.path.join(tmp, 'z.npy'), np.asarray(z, np.float32))
    with open(os.path.join(tmp, 'generated.json'), 'w') as f:
      json.dump(meta, f, indent=2, default=_to_json)


def _to_json(value):
  """numpy scalars and arrays in the metadata -> Python numbers and lists."""
  if isinstance(value, (np.generic, np.ndarray)):
    return value.tolist()
  raise TypeError(f'{type(value).__name__} is not JSON serializable')
