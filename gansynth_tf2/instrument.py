r"""One timbre as a sampler instrument: SFZ and SF2 that standard players load.

  python -m gansynth_tf2.instrument --ckpt_dir=models/cpu_small \
      (--z_file=z.npy | --seed=S | --wav=note.wav) --output_dir=OUT \
      [--formats=sfz,sf2] [--pitches=36-84:3] [--name=NAME]

Renders one note per listed pitch from one latent vector (a recording given
with --wav is inverted first, as `python -m gansynth_tf2.invert` does),
measures each note's pitch with pYIN and looks for a sustain loop, then
writes (sampler.py):
  NAME.sfz + samples/*.wav  every key 0..127 mapped to its nearest rendered
                            note, pitch_keycenter = the asked pitch, `tune`
                            correcting the measured deviation, velocity
                            scaling, a release envelope, loops where clean
  NAME.sf2                  one preset (bank 0, program 0): the same
                            samples and key map
  z.npy                     the latent vector `[1, latent_size]`
  instrument.json           pitches, measured tuning, loops, gain, source
All notes share one gain (their levels across the keyboard kept), chosen so
the loudest peaks at -1 dBFS when any would clip. OUT is published whole at
the end: a failed run leaves nothing.
"""

import json
import os
import re
import sys

from absl import app
from absl import flags
import numpy as np

from gansynth_tf2 import files
from gansynth_tf2 import generate_modes
from gansynth_tf2 import inversion
from gansynth_tf2 import invert as invert_cli
from gansynth_tf2 import metrics
from gansynth_tf2 import model as model_lib
from gansynth_tf2 import sampler
from gansynth_tf2 import writers

FLAGS = flags.FLAGS
FORMATS = ('sfz', 'sf2')
DEFAULT_PITCHES = '36-84:3'
# SF2 preset names hold 20 characters.
MAX_NAME = 20


def define_flags(flag_values=FLAGS):
  """The command-line flags (`flag_values`: where, for tests)."""
  flags.DEFINE_string('ckpt_dir', None, 'Checkpoint directory (ours or '
                      "Magenta's).", flag_values=flag_values)
  flags.DEFINE_string('z_file', None, 'A .npy of latent vectors (e.g. the '
                      'z.npy of generate or invert); --z_index picks the row.',
                      flag_values=flag_values)
  flags.DEFINE_integer('z_index', 0, 'Row of --z_file to use.',
                       flag_values=flag_values)
  flags.DEFINE_integer('seed', None, 'A random latent vector of this seed.',
                       flag_values=flag_values)
  flags.DEFINE_string('wav', None, 'A recorded note: inverted first '
                      '(its latent is the timbre).', flag_values=flag_values)
  flags.DEFINE_string('pitch', 'auto', "With --wav: its pitch, 'auto' (pYIN) "
                      'or MIDI.', flag_values=flag_values)
  flags.DEFINE_string('output_dir', None, 'Where the instrument goes; must not '
                      'exist or be empty unless --overwrite.',
                      flag_values=flag_values)
  flags.DEFINE_list('formats', list(FORMATS), 'Instrument formats: sfz, sf2.',
                    flag_values=flag_values)
  flags.DEFINE_string('pitches', DEFAULT_PITCHES, 'Pitches rendered: '
                      'LOW-HIGH:STEP ranges and single pitches (numbers or '
                      'names like C4), comma-separated.',
                      flag_values=flag_values)
  flags.DEFINE_string('name', None, 'Instrument name (file and preset name, '
                      f'<= {MAX_NAME} letters, digits, _ . -); default from '
                      'the source.', flag_values=flag_values)
  flags.DEFINE_float('release', 0.25, 'Release time after note-off, seconds.',
                     flag_values=flag_values)
  flags.DEFINE_boolean('overwrite', False, 'Allow a non-empty --output_dir.',
                       flag_values=flag_values)
  flags.mark_flags_as_required(['ckpt_dir', 'output_dir'],
                               flag_values=flag_values)


def parse_pitch_spec(spec, min_pitch, max_pitch):
  """'36-84:3,90' -> sorted distinct pitches; checked against the range."""
  values = []
  for part in str(spec).split(','):
    part = part.strip()
    match = re.fullmatch(r'(\w+#?)-(\w+#?)(?::(\d+))?', part)
    if match:
      low, high = generate_modes.parse_pitches(
          match.group(1, 2), min_pitch, max_pitch)
      step = int(match.group(3) or 1)
      if high < low or step < 1:
        raise ValueError(f'--pitches: {part!r} needs LOW <= HIGH and STEP >= '
                         '1')
      values.extend(range(int(low), int(high) + 1, step))
    elif part:
      values.extend(generate_modes.parse_pitches([part], min_pitch, max_pitch))
  if not values:
    raise ValueError(f'--pitches: no pitches in {spec!r}')
  return sorted({int(v) for v in values})


def check_name(name):
  if not (0 < len(name) <= MAX_NAME and
          re.fullmatch(r'[A-Za-z0-9][A-Za-z0-9_.-]*', name)):
    raise ValueError(f'--name: {name!r} must be 1 to {MAX_NAME} letters, '
                     'digits, _ . - (a file name and an SF2 preset name)')
  return name


def _default_name(z_file, seed, wav):
  if wav:
    stem = os.path.splitext(os.path.basename(wav))[0]
  elif z_file:
    stem = 'gansynth_' + os.path.splitext(os.path.basename(z_file))[0]
  else:
    stem = f'gansynth_seed{seed}'
  stem = re.sub(r'[^A-Za-z0-9_.-]', '_', stem).lstrip('_.-') or 'gansynth'
  return stem[:MAX_NAME]


def render_samples(model, z, pitches, name):
  """One `sampler.Sample` per pitch from latent `z` `[latent]`, and the gain.

  Each note's pitch is measured with pYIN (cents re its key) and a sustain
  loop looked for; all notes share one gain (`writers.fit_to_full_scale` of
  the loudest).
  """
  waves = model.generate_from_z(np.repeat(z[None], len(pitches), 0), pitches)
  _, gain = writers.fit_to_full_scale(waves.reshape(-1))
  waves = (waves * np.float32(gain)).astype(np.float32)
  length_s = model.audio_length / model.sample_rate
  heard = metrics.pyin_midi(waves, model.sample_rate,
                            start_s=min(0.05, length_s / 4),
                            end_s=min(2.0, length_s))
  samples = []
  for wave, pitch, midi in zip(waves, pitches, heard):
    cents = (midi - pitch) * 100.0
    f0 = 440.0 * 2 ** ((midi - 69) / 12) if np.isfinite(midi) else np.nan
    samples.append(sampler.Sample(
        name=f'{name}_{pitch:03d}', audio=wave, sample_rate=model.sample_rate,
        key=int(pitch), cents=float(cents),
        loop=sampler.find_loop(wave, model.sample_rate, f0)))
  return samples, gain


def run(ckpt_dir, output_dir, *, z_file=None, z_index=0, seed=None, wav=None,
        pitch='auto', formats=FORMATS, pitches=DEFAULT_PITCHES, name=None,
        release=0.25, overwrite=False, model=None, log=print,
        inversion_options=None, progress=True):
  """Everything the CLI does; returns the instrument.json dict."""
  sources = [f for f, v in (('--z_file', z_file), ('--seed', seed),
                            ('--wav', wav)) if v is not None]
  if len(sources) != 1:
    raise ValueError('give exactly one of --z_file, --seed, --wav (the '
                     f'timbre), got {", ".join(sources) or "none"}')
  formats = [f.strip().lower() for f in formats if f.strip()]
  bad = [f for f in formats if f not in FORMATS]
  if bad or not formats:
    raise ValueError(f'--formats: choose from {", ".join(FORMATS)}, got '
                     f'{",".join(formats) or "nothing"}')
  if not release >= 0:
    raise ValueError(f'--release must be >= 0 seconds, got {release}')
  name = check_name(name if name is not None
                    else _default_name(z_file, seed, wav))
  generate_modes.check_output_dir(output_dir, overwrite)
  files.check_writable_dir(output_dir, '--output_dir')
  for flag, path in (('--z_file', z_file), ('--wav', wav)):
    if path is not None and not os.path.isfile(path):
      raise FileNotFoundError(f'{flag}: no such file: {path}')
  model = model or model_lib.load_model(ckpt_dir)
  keys = parse_pitch_spec(pitches, model.min_pitch, model.max_pitch)
  meta = {'ckpt_dir': ckpt_dir, 'checkpoint': model.checkpoint_path,
          'name': name, 'formats': formats}
  if z_file is not None:
    z_all = generate_modes.load_z_file(z_file, model.latent_size)
    if not 0 <= z_index < len(z_all):
      raise ValueError(f'--z_index: {z_file} holds {len(z_all)} vectors, '
                       f'index {z_index} is out of range')
    z = z_all[z_index]
    meta['source'] = {'z_file': z_file, 'z_index': z_index}
  elif seed is not None:
    z = model.generate_z(1, seed=seed)[0]
    meta['source'] = {'seed': seed}
  else:
    waves, note_pitches, entries = invert_cli.prepare(model, [wav], [pitch],
                                                      log=log)
    log(f'{wav}: inverting (best of random latents, then Adam)...')
    with invert_cli.progress_line(1, progress) as on_progress:
      found = inversion.invert(model, waves, note_pitches,
                               progress=on_progress,
                               **(inversion_options or {}))
    z = found.z[0]
    entries[0].update(distance_db=round(float(found.distance_db[0]), 3),
                      baseline_db=round(float(found.baseline_db[0]), 3))
    log(f'{wav}: {entries[0]["distance_db"]:.2f} dB from the recording (best '
        f'of {found.num_random} random latents: '
        f'{entries[0]["baseline_db"]:.2f} dB)')
    meta['source'] = {'wav': entries[0]}
  untrained = [k for k in keys if model.pitch_counts.get(k, 0) == 0]
  if untrained:
    log(f'note: pitches {untrained} have no training notes in this model; '
        'their samples may sound off (their tuning is measured and '
        'corrected)')
  log(f'rendering {len(keys)} notes (MIDI {keys[0]}..{keys[-1]})')
  samples, gain = render_samples(model, z, keys, name)
  meta['gain'] = gain
  meta['samples'] = [
      {'key': s.key, 'cents': None if not np.isfinite(s.cents)
       else round(s.cents, 1), 'tune': sampler.tune_cents(s),
       'loop': list(s.loop) if s.loop else None} for s in samples]
  out_of_tune = [s.key for s in samples
                 if not np.isfinite(s.cents) or abs(s.cents) > 50]
  if out_of_tune:
    log(f'warning: the notes at {out_of_tune} are more than 50 cents off '
        'their key or have no pitch pYIN hears')
  with files.publish_dir(output_dir, mode=files.MERGE) as tmp:
    np.save(os.path.join(tmp, 'z.npy'), z[None].astype(np.float32))
    if 'sfz' in formats:
      sampler.write_sfz(tmp, name, samples, release_s=release)
      meta['sfz'] = f'{name}.sfz'
    if 'sf2' in formats:
      sampler.write_sf2(os.path.join(tmp, f'{name}.sf2'), name, samples,
                        release_s=release)
      meta['sf2'] = f'{name}.sf2'
    with open(os.path.join(tmp, 'instrument.json'), 'w') as f:
      json.dump(meta, f, indent=2)
  looped = sum(1 for s in samples if s.loop)
  log(f'{len(samples)} samples ({looped} looped), every key 0..127 mapped; '
      f'wrote {", ".join(meta[f] for f in formats)} to {output_dir}')
  return meta


def main(argv, flag_values=FLAGS):
  """The CLI after flag parsing."""
  if len(argv) > 1:
    raise app.UsageError(f'unexpected arguments: {argv[1:]}')
  fv = flag_values
  try:
    run(fv.ckpt_dir, fv.output_dir, z_file=fv.z_file, z_index=fv.z_index,
        seed=fv.seed, wav=fv.wav, pitch=fv.pitch, formats=fv.formats,
        pitches=fv.pitches, name=fv.name, release=fv.release,
        overwrite=fv.overwrite)
  except (ValueError, FileNotFoundError, FileExistsError,
          model_lib.CheckpointError) as e:
    sys.exit(f'gansynth_tf2.instrument: error: {e}')


def console_entry_point():
  define_flags()
  app.run(main)


if __name__ == '__main__':
  console_entry_point()
