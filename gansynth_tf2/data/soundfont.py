"""Renders single notes from an SF2 soundfont with fluidsynth into NSynth-schema TFRecords.

NSynth itself was made by rendering notes from sample libraries; this is the
same recipe with any General MIDI soundfont: for each program, pitch and
velocity a note is held for 3 s, then released, and 4 s at 16 kHz are kept.

Notes of one (program, velocity) pair are rendered by ONE fluidsynth call on a
MIDI file that plays them one after another, each in its own time slot that
ends with "all sound off" (reverb and chorus disabled), so no tail leaks into
the next note and one process start serves a whole pitch range.

(Over 450 lines on purpose: rendering, slicing the one long render into
notes, the render cache and the shard writer are one pipeline around one
fluidsynth call; split, each piece would only make sense beside the others.)
"""
import collections
import concurrent.futures
import json
import numbers
import os
import shutil
import subprocess
import tempfile
import time

import numpy as np
import pretty_midi
import soundfile as sf
from tqdm.auto import tqdm

from gansynth_tf2 import files
from gansynth_tf2.data import schema

INSTALL_HINT = (
    'Install fluidsynth and a General MIDI soundfont, e.g. on Debian/Ubuntu:\n'
    '  sudo apt-get install fluidsynth timgm6mb-soundfont fluid-soundfont-gm\n'
    '(on macOS: brew install fluid-synth, and download any .sf2 soundfont),\n'
    'then pass the soundfont with --sf2=/path/to/file.sf2.')

# Searched in this order when no soundfont is given; the small one first, as
# it loads fastest.
SOUNDFONT_SEARCH_PATHS = (
    '/usr/share/sounds/sf2/TimGM6mb.sf2',
    '/usr/share/sounds/sf2/FluidR3_GM.sf2',
    '/usr/share/sounds/sf2/default-GM.sf2',
    '/usr/share/soundfonts/default.sf2',
    '/usr/share/soundfonts/FluidR3_GM.sf2',
    '/usr/local/share/soundfonts/default.sf2',
    '/opt/homebrew/share/soundfonts/default.sf2',
)

_F = {name: i for i, name in enumerate(schema.INSTRUMENT_FAMILIES)}
_ACOUSTIC, _ELECTRONIC, _SYNTHETIC = 0, 1, 2

# General MIDI program -> (name, NSynth instrument family, instrument source).
# GM has no "sound effects" family in NSynth terms; those are filed as
# synthetic synth_lead, like the synth pads and effects.
GM_PROGRAMS = (
    ('acoustic_grand_piano', _F['keyboard'], _ACOUSTIC),
    ('bright_acoustic_piano', _F['keyboard'], _ACOUSTIC),
    ('electric_grand_piano', _F['keyboard'], _ELECTRONIC),
    ('honky_tonk_piano', _F['keyboard'], _ACOUSTIC),
    ('electric_piano_1', _F['keyboard'], _ELECTRONIC),
    ('electric_piano_2', _F['keyboard'], _ELECTRONIC),
    ('harpsichord', _F['keyboard'], _ACOUSTIC),
    ('clavinet', _F['keyboard'], _ELECTRONIC),
    ('celesta', _F['mallet'], _ACOUSTIC),
    ('glockenspiel', _F['mallet'], _ACOUSTIC),
    ('music_box', _F['mallet'], _ACOUSTIC),
    ('vibraphone', _F['mallet'], _ACOUSTIC),
    ('marimba', _F['mallet'], _ACOUSTIC),
    ('xylophone', _F['mallet'], _ACOUSTIC),
    ('tubular_bells', _F['mallet'], _ACOUSTIC),
    ('dulcimer', _F['mallet'], _ACOUSTIC),
    ('drawbar_organ', _F['organ'], _ELECTRONIC),
    ('percussive_organ', _F['organ'], _ELECTRONIC),
    ('rock_organ', _F['organ'], _ELECTRONIC),
    ('church_organ', _F['organ'], _ACOUSTIC),
    ('reed_organ', _F['organ'], _ACOUSTIC),
    ('accordion', _F['reed'], _ACOUSTIC),
    ('harmonica', _F['reed'], _ACOUSTIC),
    ('tango_accordion', _F['reed'], _ACOUSTIC),
    ('acoustic_guitar_nylon', _F['guitar'], _ACOUSTIC),
    ('acoustic_guitar_steel', _F['guitar'], _ACOUSTIC),
    ('electric_guitar_jazz', _F['guitar'], _ELECTRONIC),
    ('electric_guitar_clean', _F['guitar'], _ELECTRONIC),
    ('electric_guitar_muted', _F['guitar'], _ELECTRONIC),
    ('overdriven_guitar', _F['guitar'], _ELECTRONIC),
    ('distortion_guitar', _F['guitar'], _ELECTRONIC),
    ('guitar_harmonics', _F['guitar'], _ELECTRONIC),
    ('acoustic_bass', _F['bass'], _ACOUSTIC),
    ('electric_bass_finger', _F['bass'], _ELECTRONIC),
    ('electric_bass_pick', _F['bass'], _ELECTRONIC),
    ('fretless_bass', _F['bass'], _ELECTRONIC),
    ('slap_bass_1', _F['bass'], _ELECTRONIC),
    ('slap_bass_2', _F['bass'], _ELECTRONIC),
    ('synth_bass_1', _F['bass'], _SYNTHETIC),
    ('synth_bass_2', _F['bass'], _SYNTHETIC),
    ('violin', _F['string'], _ACOUSTIC),
    ('viola', _F['string'], _ACOUSTIC),
    ('cello', _F['string'], _ACOUSTIC),
    ('contrabass', _F['string'], _ACOUSTIC),
    ('tremolo_strings', _F['string'], _ACOUSTIC),
    ('pizzicato_strings', _F['string'], _ACOUSTIC),
    ('orchestral_harp', _F['string'], _ACOUSTIC),
    ('timpani', _F['mallet'], _ACOUSTIC),
    ('string_ensemble_1', _F['string'], _ACOUSTIC),
    ('string_ensemble_2', _F['string'], _ACOUSTIC),
    ('synth_strings_1', _F['string'], _SYNTHETIC),
    ('synth_strings_2', _F['string'], _SYNTHETIC),
    ('choir_aahs', _F['vocal'], _ACOUSTIC),
    ('voice_oohs', _F['vocal'], _ACOUSTIC),
    ('synth_voice', _F['vocal'], _SYNTHETIC),
    ('orchestra_hit', _F['brass'], _SYNTHETIC),
    ('trumpet', _F['brass'], _ACOUSTIC),
    ('trombone', _F['brass'], _ACOUSTIC),
    ('tuba', _F['brass'], _ACOUSTIC),
    ('muted_trumpet', _F['brass'], _ACOUSTIC),
    ('french_horn', _F['brass'], _ACOUSTIC),
    ('brass_section', _F['brass'], _ACOUSTIC),
    ('synth_brass_1', _F['brass'], _SYNTHETIC),
    ('synth_brass_2', _F['brass'], _SYNTHETIC),
    ('soprano_sax', _F['reed'], _ACOUSTIC),
    ('alto_sax', _F['reed'], _ACOUSTIC),
    ('tenor_sax', _F['reed'], _ACOUSTIC),
    ('baritone_sax', _F['reed'], _ACOUSTIC),
    ('oboe', _F['reed'], _ACOUSTIC),
    ('english_horn', _F['reed'], _ACOUSTIC),
    ('bassoon', _F['reed'], _ACOUSTIC),
    ('clarinet', _F['reed'], _ACOUSTIC),
    ('piccolo', _F['flute'], _ACOUSTIC),
    ('flute', _F['flute'], _ACOUSTIC),
    ('recorder', _F['flute'], _ACOUSTIC),
    ('pan_flute', _F['flute'], _ACOUSTIC),
    ('blown_bottle', _F['flute'], _ACOUSTIC),
    ('shakuhachi', _F['flute'], _ACOUSTIC),
    ('whistle', _F['flute'], _ACOUSTIC),
    ('ocarina', _F['flute'], _ACOUSTIC),
    ('lead_1_square', _F['synth_lead'], _SYNTHETIC),
    ('lead_2_sawtooth', _F['synth_lead'], _SYNTHETIC),
    ('lead_3_calliope', _F['synth_lead'], _SYNTHETIC),
    ('lead_4_chiff', _F['synth_lead'], _SYNTHETIC),
    ('lead_5_charang', _F['synth_lead'], _SYNTHETIC),
    ('lead_6_voice', _F['synth_lead'], _SYNTHETIC),
    ('lead_7_fifths', _F['synth_lead'], _SYNTHETIC),
    ('lead_8_bass_lead', _F['synth_lead'], _SYNTHETIC),
    ('pad_1_new_age', _F['synth_lead'], _SYNTHETIC),
    ('pad_2_warm', _F['synth_lead'], _SYNTHETIC),
    ('pad_3_polysynth', _F['synth_lead'], _SYNTHETIC),
    ('pad_4_choir', _F['synth_lead'], _SYNTHETIC),
    ('pad_5_bowed', _F['synth_lead'], _SYNTHETIC),
    ('pad_6_metallic', _F['synth_lead'], _SYNTHETIC),
    ('pad_7_halo', _F['synth_lead'], _SYNTHETIC),
    ('pad_8_sweep', _F['synth_lead'], _SYNTHETIC),
    ('fx_1_rain', _F['synth_lead'], _SYNTHETIC),
    ('fx_2_soundtrack', _F['synth_lead'], _SYNTHETIC),
    ('fx_3_crystal', _F['synth_lead'], _SYNTHETIC),
    ('fx_4_atmosphere', _F['synth_lead'], _SYNTHETIC),
    ('fx_5_brightness', _F['synth_lead'], _SYNTHETIC),
    ('fx_6_goblins', _F['synth_lead'], _SYNTHETIC),
    ('fx_7_echoes', _F['synth_lead'], _SYNTHETIC),
    ('fx_8_sci_fi', _F['synth_lead'], _SYNTHETIC),
    ('sitar', _F['guitar'], _ACOUSTIC),
    ('banjo', _F['guitar'], _ACOUSTIC),
    ('shamisen', _F['guitar'], _ACOUSTIC),
    ('koto', _F['guitar'], _ACOUSTIC),
    ('kalimba', _F['mallet'], _ACOUSTIC),
    ('bagpipe', _F['reed'], _ACOUSTIC),
    ('fiddle', _F['string'], _ACOUSTIC),
    ('shanai', _F['reed'], _ACOUSTIC),
    ('tinkle_bell', _F['mallet'], _ACOUSTIC),
    ('agogo', _F['mallet'], _ACOUSTIC),
    ('steel_drums', _F['mallet'], _ACOUSTIC),
    ('woodblock', _F['mallet'], _ACOUSTIC),
    ('taiko_drum', _F['mallet'], _ACOUSTIC),
    ('melodic_tom', _F['mallet'], _ACOUSTIC),
    ('synth_drum', _F['mallet'], _SYNTHETIC),
    ('reverse_cymbal', _F['mallet'], _SYNTHETIC),
    ('guitar_fret_noise', _F['guitar'], _SYNTHETIC),
    ('breath_noise', _F['flute'], _SYNTHETIC),
    ('seashore', _F['synth_lead'], _SYNTHETIC),
    ('bird_tweet', _F['synth_lead'], _SYNTHETIC),
    ('telephone_ring', _F['synth_lead'], _SYNTHETIC),
    ('helicopter', _F['synth_lead'], _SYNTHETIC),
    ('applause', _F['synth_lead'], _SYNTHETIC),
    ('gunshot', _F['synth_lead'], _SYNTHETIC),
)

# Peak below which a rendered note counts as silent (the soundfont has no
# sample for that program/pitch).
SILENCE_PEAK = 1e-4


class MissingToolError(RuntimeError):
  """fluidsynth or a soundfont is not installed; the message says how to install."""


# Each MIDI quantity's range; its name is the render_soundfont.py flag's.
MIDI_RANGES = {'programs': (0, 127), 'pitches': (0, 127),
               'velocities': (1, 127)}


def midi_values(values, what):
  """`values` as a list of ints, each a whole number in `what`'s MIDI range.

  Args:
    values: numbers (60 and 60.0 pass; 60.5, True and '60' do not).
    what: 'programs', 'pitches' or 'velocities'.

  Raises:
    ValueError: one line naming `what`, the offending values and the range;
      also for no values at all.
  """
  lo, hi = MIDI_RANGES[what]
  values = list(values)
  bad = [v for v in values
         if isinstance(v, bool) or not isinstance(v, numbers.Real)
         or v != int(v) or not lo <= int(v) <= hi]
  if bad:
    raise ValueError(f'{what} must be whole numbers in {lo}..{hi}; got '
                     f'{", ".join(repr(v) for v in bad[:5])}'
                     + (f' and {len(bad) - 5} more' if len(bad) > 5 else ''))
  if not values:
    raise ValueError(f'{what}: no values given')
  return [int(v) for v in values]


def parse_midi_list(text, what):
  """'0,3-5,10-20:5' -> [0, 3, 4, 5, 10, 15, 20], checked by midi_values.

  A range 'LOW-HIGH' includes both ends; 'LOW-HIGH:STEP' takes every STEP-th
  value from LOW (24-84:3 is 24, 27, ..., 84).

  Raises:
    ValueError: one line naming the flag --`what` and what was expected.
  """
  flag = f'--{what}={text!r}'
  values = []
  for part in text.split(','):
    part = part.strip()
    if not part:
      continue
    span, colon, step = part.partition(':')
    low, dash, high = span.partition('-')
    try:
      if dash:
        low, high, step = int(low), int(high), int(step) if colon else 1
      elif colon:
        raise ValueError('a step needs a range')
      else:
        values.append(int(span))
        continue
    except ValueError:
      raise ValueError(f'{flag}: {part!r} is not an integer or a range like '
                       '24-84 or 24-84:3 (comma separated)') from None
    if low > high:
      raise ValueError(f'{flag}: the range {part!r} is empty (write the low '
                       'end first)')
    if step < 1:
      raise ValueError(f'{flag}: the step of {part!r} must be >= 1')
    values.extend(range(low, high + 1, step))
  try:
    return midi_values(values, what)
  except ValueError as e:
    raise ValueError(f'{flag}: {e}') from None


def find_fluidsynth():
  """Returns the fluidsynth executable path or raises MissingToolError."""
  path = shutil.which('fluidsynth')
  if path is None:
    raise MissingToolError('The `fluidsynth` program was not found on PATH.\n'
                           + INSTALL_HINT)
  return path


def find_soundfont(sf2=None):
  """Returns `sf2` if it exists, else the first installed GM soundfont.

  Args:
    sf2: a .sf2 path or None to search SOUNDFONT_SEARCH_PATHS.

  Raises:
    MissingToolError: with install instructions when none is found.
  """
  if sf2:
    if not os.path.isfile(sf2):
      raise MissingToolError(f'Soundfont --sf2={sf2} does not exist.\n'
                             + INSTALL_HINT)
    return sf2
  for path in SOUNDFONT_SEARCH_PATHS:
    if os.path.isfile(path):
      return path
  raise MissingToolError('No SF2 soundfont found (looked in '
                         + ', '.join(SOUNDFONT_SEARCH_PATHS) + ').\n'
                         + INSTALL_HINT)


def fluidsynth_available():
  """True when both fluidsynth and a soundfont are installed."""
  try:
    find_fluidsynth()
    find_soundfont()
  except MissingToolError:
    return False
  return True


def instrument_str(program):
  """NSynth-style instrument name of a GM program, e.g. 'string_acoustic_040'."""
  _, family, source = GM_PROGRAMS[program]
  return (f'{schema.INSTRUMENT_FAMILIES[family]}_'
          f'{schema.INSTRUMENT_SOURCES[source]}_{program:03d}')


def render_notes(sf2, program, pitches, velocity,
                 sample_rate=schema.SAMPLE_RATE,
                 audio_length=schema.AUDIO_LENGTH, note_seconds=3.0, gain=1.0,
                 fluidsynth=None):
  """Renders one program at one velocity for several pitches.

  Args:
    sf2: soundfont path.
    program: General MIDI program number, 0..127.
    pitches: list of MIDI pitches.
    velocity: MIDI velocity, 1..127.
    sample_rate: output rate in Hz.
    audio_length: samples kept per note (note-on at sample 0).
    note_seconds: time between note-on and note-off (the release follows).
    gain: fluidsynth master gain.
    fluidsynth: executable path, found on PATH when None.

  Returns:
    [len(pitches), audio_length] float32 mono waves.
  """
  program, = midi_values([program], 'programs')
  velocity, = midi_values([velocity], 'velocities')
  pitches = midi_values(pitches, 'pitches')
  fluidsynth = fluidsynth or find_fluidsynth()
  note_len = audio_length / sample_rate
  # Half a second of silence between slots; all slot boundaries fall on
  # exact MIDI ticks and samples (120 bpm, 960 ticks per beat = 1/1920 s).
  slot = np.ceil((note_len + 0.5) * 4) / 4
  midi = pretty_midi.PrettyMIDI(resolution=960, initial_tempo=120)
  inst = pretty_midi.Instrument(program=program)
  for i, pitch in enumerate(pitches):
    start = i * slot
    inst.notes.append(pretty_midi.Note(velocity=int(velocity), pitch=int(pitch),
                                       start=start, end=start + note_seconds))
    # Controller 120 = all sound off: cuts the release tail at the slot end.
    inst.control_changes.append(
        pretty_midi.ControlChange(120, 0, start + note_len))
  midi.instruments.append(inst)
  with tempfile.TemporaryDirectory(prefix='gansynth_render_') as tmp:
    mid_path = os.path.join(tmp, 'notes.mid')
    wav_path = os.path.join(tmp, 'notes.wav')
    midi.write(mid_path)
    cmd = [fluidsynth, '-ni', '-q', '-R', '0', '-C', '0',
           '-r', str(sample_rate), '-g', str(gain), '-F', wav_path, sf2,
           mid_path]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0 or not os.path.exists(wav_path):
      raise RuntimeError(f'fluidsynth failed (exit {proc.returncode}) on '
                         f'{sf2}: {proc.stderr.strip()[-2000:]}')
    audio, rate = sf.read(wav_path, dtype='float32', always_2d=True)
  if rate != sample_rate:
    raise RuntimeError(f'fluidsynth wrote {rate} Hz, asked for {sample_rate}.')
  mono = audio.mean(axis=1)
  hop = int(round(slot * sample_rate))
  mono = np.pad(mono, [0, max(0, hop * len(pitches) - len(mono))])
  notes = np.stack([mono[i * hop:i * hop + audio_length]
                    for i in range(len(pitches))])
  return np.clip(notes, -1.0, 1.0).astype(np.float32)


def note_problem(wave):
  """Why a wave is unusable as a training note, or None if it is fine."""
  if not np.all(np.isfinite(wave)):
    return 'non-finite samples (NaN or inf)'
  if np.max(np.abs(wave), initial=0.0) < SILENCE_PEAK:
    return 'silent (peak below %g)' % SILENCE_PEAK
  return None


RenderJob = collections.namedtuple('RenderJob', ['program', 'velocity'])


def _chunk_path(cache_dir, job):
  return os.path.join(cache_dir, f'p{job.program:03d}_v{job.velocity:03d}.npz')


def _finished_manifest(output_dir, config):
  """The manifest of an earlier complete run with the same config, else None."""
  path = os.path.join(output_dir, 'manifest.json')
  if not os.path.exists(path):
    return None
  with open(path) as f:
    manifest = json.load(f)
  complete = manifest.get('shards') and all(
      os.path.exists(os.path.join(output_dir, s)) for s in manifest['shards'])
  return manifest if complete and manifest.get('config') == config else None


def render_soundfont(output_dir, programs, pitches, velocities=(100,), sf2=None,
                     num_shards=1, num_workers=None, gain=1.0, prefix='train',
                     sample_rate=schema.SAMPLE_RATE,
                     audio_length=schema.AUDIO_LENGTH, progress=True):
  """Renders programs x pitches x velocities into NSynth-schema TFRecords.

  Resumable: each (program, velocity) chunk is kept in
  `<output_dir>/.render_cache/` as soon as it is rendered, and a rerun with
  the same arguments renders only what is missing (nothing, once complete).
  The shards and `manifest.json` are written (atomically) once everything is
  rendered.

  Args:
    output_dir: destination folder.
    programs: GM program numbers.
    pitches: MIDI pitches.
    velocities: MIDI velocities.
    sf2: soundfont path; None picks an installed one.
    num_shards: number of TFRecord shards.
    num_workers: parallel fluidsynth processes; default all CPU cores.
    gain: fluidsynth master gain.
    prefix: shard file prefix.
    sample_rate: Hz.
    audio_length: samples per note.
    progress: show a progress bar.

  Returns:
    The manifest dict (also written to `<output_dir>/manifest.json`).
  """
  # Bad arguments fail before anything is written.
  programs = midi_values(programs, 'programs')
  pitches = midi_values(pitches, 'pitches')
  velocities = midi_values(velocities, 'velocities')
  if isinstance(num_shards, bool) or not isinstance(
      num_shards, numbers.Integral) or num_shards < 1:
    raise ValueError(f'num_shards must be an integer >= 1, got {num_shards!r}')
  if num_workers is not None and (isinstance(num_workers, bool) or not
                                  isinstance(num_workers, numbers.Integral)
                                  or num_workers < 1):
    raise ValueError('num_workers must be an integer >= 1 (or None: all '
                     f'cores), got {num_workers!r}')
  # fluidsynth's own limits for its master gain (-g).
  if not 0.0 <= float(gain) <= 10.0:
    raise ValueError(f'gain must be in 0..10 (fluidsynth -g), got {gain!r}')
  fluidsynth = find_fluidsynth()
  sf2 = os.path.abspath(find_soundfont(sf2))
  # Imported here: it imports TensorFlow, which the checks above (and
  # tools/render_soundfont.py's refusals of bad flags) need not wait for.
  from gansynth_tf2.data import records  # pylint: disable=import-outside-toplevel
  config = dict(sf2=sf2, sf2_size=os.path.getsize(sf2), programs=programs,
                pitches=pitches, velocities=velocities, gain=float(gain),
                sample_rate=sample_rate, audio_length=audio_length,
                num_shards=num_shards, prefix=prefix)
  done = _finished_manifest(output_dir, config)
  if done:
    return dict(done, chunks_reused=len(programs) * len(velocities))
  cache_dir = os.path.join(output_dir, '.render_cache')
  os.makedirs(cache_dir, exist_ok=True)
  jobs = [RenderJob(p, v) for p in programs for v in velocities]
  start = time.time()

  # What a cached chunk must have been rendered with to be reused.
  chunk_key = json.dumps(dict(config, programs=None, velocities=None,
                              num_shards=None, prefix=None), sort_keys=True)

  def run(job):
    """Renders a chunk into the cache unless it is there; True if it was."""
    path = _chunk_path(cache_dir, job)
    if os.path.exists(path):
      with np.load(path) as f:
        if str(f['key']) == chunk_key:
          return True
    waves = render_notes(sf2, job.program, pitches, job.velocity,
                         sample_rate=sample_rate, audio_length=audio_length,
                         gain=gain, fluidsynth=fluidsynth)
    with files.publish_file(path) as tmp:
      with open(tmp, 'wb') as f:  # a file object: np.savez adds no suffix
        np.savez(f, waves=waves, key=chunk_key)
    return False

  workers = num_workers or os.cpu_count() or 1
  with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool, \
      tqdm(total=len(jobs) * len(pitches), unit='note', disable=not progress,
           desc='rendering') as bar:
    reused = 0
    for was_cached in pool.map(run, jobs):
      reused += int(was_cached)
      bar.update(len(pitches))

  rejected = []

  def accepted():
    # Chunks are read back one at a time: a large render never has to fit
    # in memory.
    for job in jobs:
      name, family, source = GM_PROGRAMS[job.program]
      inst = instrument_str(job.program)
      with np.load(_chunk_path(cache_dir, job)) as f:
        waves = f['waves']
      for pitch, wave in zip(pitches, waves):
        entry = dict(note_str=schema.note_str(inst, pitch, job.velocity),
                     program=job.program, program_name=name, pitch=pitch,
                     velocity=job.velocity, instrument_family=family,
                     instrument_source=source)
        problem = note_problem(wave)
        if problem:
          rejected.append(dict(entry, reason=problem))
          continue
        yield entry, records.make_example(
            wave, pitch, job.velocity, inst, instrument=job.program,
            instrument_family=family, instrument_source=source,
            sample_rate=sample_rate)

  manifest = records.write_dataset(
      output_dir, accepted(), rejected, prefix, num_shards, source='soundfont',
      config=config, seconds=round(time.time() - start, 2),
      chunks_reused=reused)
  if not manifest['num_examples']:
    records.discard_shards(output_dir, manifest)
    raise RuntimeError(f'Every rendered note was silent with soundfont {sf2}; '
                       'does it hold the requested programs and pitches? See '
                       f'{os.path.join(output_dir, "manifest.json")}.')
  shutil.rmtree(cache_dir, ignore_errors=True)
  return manifest
