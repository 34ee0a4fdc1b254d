"""Sampler instruments from rendered notes: SFZ (WAVs + .sfz) and SF2.

A set of notes of one timbre, one per sampled MIDI key (`Sample`), becomes
an instrument that standard players load:
  `write_sfz`: FOLDER/samples/<sample>.wav (24-bit PCM) and FOLDER/NAME.sfz.
  `write_sf2`: one SoundFont 2.01 file with one preset (bank 0, program 0).
Each sample plays the MIDI keys nearest to its own (`key_ranges`),
transposed; its root key is the key it was asked at and a fine tuning of
`tune_cents` corrects the pitch measured in it. `find_loop` finds a sustain
loop so that a held key sounds as long as it is held.

No maintained Python package writes SF2, so the RIFF is built here after the
SoundFont 2.01 specification: LIST INFO (ifil, isng, INAM, ISFT, ICMT),
LIST sdta (smpl: 16-bit mono PCM, each sample followed by 46 zero samples)
and LIST pdta (the nine "hydra" chunks, each ending in a terminal record).
Only numpy is imported at the top; soundfile comes in through
`writers.write_wav` when an SFZ is written.
"""

import dataclasses
import math
import os
import re
import struct
import tempfile

import numpy as np

from gansynth_tf2 import writers

MIN_KEY, MAX_KEY = 0, 127

# Splice quality find_loop demands: waveform correlation around the splice
# and the level difference of the loop's two ends.
LOOP_MIN_CORRELATION = 0.98
LOOP_MAX_LEVEL_DB = 1.0
# A loop is not put where the note is this far below its loudest part (a
# quiet tail), nor across a dip this deep within the loop.
_LOOP_FLOOR_DB = -30.0
_LOOP_DIP_DB = 3.0
# Where loop starts are tried, as fractions of the note, best first: past
# the attack and before a release that GANSynth's notes have after 3 of 4 s.
_LOOP_TARGETS = (0.5, 0.45, 0.55, 0.4, 0.6, 0.35, 0.65, 0.3, 0.7)
# Rising zero crossings tried after each target, and loop lengths (whole
# periods from the shortest allowed on); several lengths let one land close
# to a whole number of samples, which matters for short periods.
_LOOP_STARTS_PER_TARGET = 3
_LOOP_LENGTHS = 16

# SF2: zero samples after each sample (the specification's minimum), the
# pitch correction's range, and the releaseVolEnv range in timecents.
SF2_SAMPLE_PAD = 46
_MAX_TUNE = 99
_RELEASE_TIMECENTS = (-7200, 8000)
_SF2_NAME_CHARS = 20

# SF2 generator operators used here (SoundFont 2.01, section 8.1.2).
_GEN_RELEASE_VOL_ENV = 38
_GEN_INSTRUMENT = 41
_GEN_KEY_RANGE = 43
_GEN_SAMPLE_ID = 53
_GEN_SAMPLE_MODES = 54
_SAMPLE_MODE_NO_LOOP = 0
_SAMPLE_MODE_LOOP = 1
_MONO_SAMPLE = 1

# File names a sample or an instrument may have: no folders, no hidden files,
# nothing a player or a shell could misread.
_FILE_SAFE = re.compile(r'[A-Za-z0-9][A-Za-z0-9_.-]*\Z')


@dataclasses.dataclass
class Sample:
  """One rendered note of the instrument.

  Attributes:
    name: file-safe name, e.g. 'note_060' (the SFZ's WAV is <name>.wav).
    audio: [samples] float32 mono, within [-1, 1] (clipped when written).
    sample_rate: Hz.
    key: the MIDI key the note was asked at: its root key.
    cents: the measured pitch of `audio` minus `key`, in cents (+12.0: the
      sample is 12 cents sharp); NaN if unmeasured, treated as 0.
    loop: (start, end) sample indices of a sustain loop, `end` exclusive, or
      None for a sample played once.
  """
  name: str
  audio: np.ndarray
  sample_rate: int
  key: int
  cents: float = 0.0
  loop: tuple | None = None


def key_ranges(keys):
  """The MIDI keys each sampled key plays: those nearest to it.

  Every key 0..127 belongs to exactly one range; a key halfway between two
  sampled keys goes to the lower one (its sample is transposed up).

  Args:
    keys: sorted distinct MIDI keys (ints in 0..127) that have samples.

  Returns:
    [(lo, hi)] inclusive key ranges, one per key of `keys`, in its order.

  Raises:
    ValueError: on no keys, a key that is not an integer in 0..127, or keys
      that are not strictly increasing.
  """
  keys = list(keys)
  if not keys:
    raise ValueError('key_ranges needs at least one sampled MIDI key, got '
                     'none.')
  for key in keys:
    if not _is_midi_key(key):
      raise ValueError(f'Sampled keys must be integer MIDI keys in '
                       f'{MIN_KEY}..{MAX_KEY}, got {key!r}.')
  keys = [int(k) for k in keys]
  for lower, upper in zip(keys, keys[1:]):
    if upper <= lower:
      raise ValueError(f'Sampled keys must be sorted and distinct (one '
                       f'sample per key), got {lower} before {upper}.')
  # A range ends halfway to the next sampled key, the midpoint included.
  highs = [(lower + upper) // 2 for lower, upper in zip(keys, keys[1:])]
  highs.append(MAX_KEY)
  lows = [MIN_KEY] + [high + 1 for high in highs[:-1]]
  return list(zip(lows, highs))


def find_loop(audio, sample_rate, f0_hz, min_loop_s=0.05):
  """A sustain loop of a steady note, or None where none is clean.

  Starts near the middle of the note are tried (rising zero crossings at
  30-70% of its length); a loop ends at a rising zero crossing about a whole
  number of periods of `f0_hz` later (>= `min_loop_s`), chosen where the
  waveform around the end best matches that around the start. It is kept
  only if that correlation exceeds LOOP_MIN_CORRELATION, the RMS of the
  loop's first and last few periods differ by at most LOOP_MAX_LEVEL_DB, and
  the level neither sits 30 dB below the note's loudest part nor dips 3 dB
  within the loop. Of the loops kept the best-correlated is returned; the
  search has no randomness.

  Args:
    audio: [samples] float mono note.
    sample_rate: Hz, > 0.
    f0_hz: the note's fundamental frequency in Hz, e.g. measured by pYIN;
      NaN or <= 0 (unpitched, unmeasured) gives None.
    min_loop_s: shortest loop in seconds, > 0.

  Returns:
    (start, end) sample indices, `end` exclusive: after audio[end - 1] the
    player goes on at audio[start]. None for a decaying, noisy or too short
    note, or an `f0_hz` that is not a frequency below Nyquist.

  Raises:
    ValueError: on audio that is not 1-D finite samples, or a bad
      `sample_rate` or `min_loop_s`.
  """
  audio = np.asarray(audio, np.float64)
  if audio.ndim != 1 or not np.all(np.isfinite(audio)):
    raise ValueError(f'find_loop needs 1-D finite audio samples, got shape '
                     f'{audio.shape}' + ('' if audio.ndim != 1 else
                                         ' with non-finite values') + '.')
  if not sample_rate > 0:
    raise ValueError(f'sample_rate must be > 0 Hz, got {sample_rate!r}.')
  if not (math.isfinite(min_loop_s) and min_loop_s > 0):
    raise ValueError(f'min_loop_s must be > 0 seconds, got {min_loop_s!r}.')
  f0_hz = float(f0_hz)
  if not (math.isfinite(f0_hz) and 0 < f0_hz < sample_rate / 2):
    return None
  period = sample_rate / f0_hz
  # Splice windows: two periods either side of the splice (>= 5 ms) for the
  # correlation; for the levels a whole number of periods (>= 10 ms), as the
  # start's window begins and the end's window ends at the same phase.
  half = max(int(math.ceil(2 * period)), int(0.005 * sample_rate))
  level_len = int(round(
      max(2, math.ceil(0.01 * sample_rate / period)) * period))
  min_len = int(math.ceil(min_loop_s * sample_rate))
  min_periods = max(1, int(math.ceil(min_len / period)))
  n = audio.size
  if n < 2 * half + min_len + level_len:
    return None

  power = np.concatenate([[0.0], np.cumsum(audio ** 2)])

  def rms_db(start, length):
    mean = (power[start + length] - power[start]) / length
    return 10.0 * math.log10(mean + 1e-20)

  frames = np.arange(0, n - level_len + 1, level_len // 2)
  loudest_db = 10.0 * math.log10(
      np.max(power[frames + level_len] - power[frames]) / level_len + 1e-20)
  rising = np.flatnonzero((audio[:-1] < 0) & (audio[1:] >= 0)) + 1

  best, best_corr = None, LOOP_MIN_CORRELATION
  for fraction in _LOOP_TARGETS:
    first = np.searchsorted(rising, int(fraction * n))
    for start in rising[first:first + _LOOP_STARTS_PER_TARGET]:
      start = int(start)
      if start < half:
        continue
      start_db = rms_db(start, level_len) if start + level_len <= n else None
      if start_db is None or start_db < loudest_db + _LOOP_FLOOR_DB:
        continue
      before = audio[start - half:start + half]
      for periods in range(min_periods, min_periods + _LOOP_LENGTHS):
        target = start + periods * period
        lo = np.searchsorted(rising, target - period / 2)
        hi = np.searchsorted(rising, target + period / 2)
        for end in rising[lo:hi]:
          end = int(end)
          if end + half > n or end - start < max(min_len, level_len):
            continue
          corr = _correlation(before, audio[end - half:end + half])
          if corr <= best_corr:
            continue
          if abs(rms_db(end - level_len, level_len) - start_db) > (
              LOOP_MAX_LEVEL_DB):
            continue
          if _dips(rms_db, start, end, level_len, start_db):
            continue
          best, best_corr = (start, end), corr
  return best


def tune_cents(sample):
  """The fine tuning in cents that makes `sample` play in tune.

  SFZ's `tune` and SF2's chPitchCorrection both shift the played pitch up by
  their value, so a sample 12 cents sharp needs -12.

  Args:
    sample: a `Sample` (or its `cents`, a float).

  Returns:
    -round(cents) clamped to [-99, 99]; 0 for NaN cents.
  """
  cents = float(getattr(sample, 'cents', sample))
  if math.isnan(cents):
    return 0
  if math.isinf(cents):
    return _MAX_TUNE if cents < 0 else -_MAX_TUNE
  return int(min(_MAX_TUNE, max(-_MAX_TUNE, -round(cents))))


def write_sfz(folder, name, samples, release_s=0.25, amp_veltrack=100):
  """Writes an SFZ instrument: FOLDER/NAME.sfz and FOLDER/samples/*.wav.

  One <region> per sample, in key order: its WAV (24-bit PCM, clipped to
  [-1, 1]), the keys of `key_ranges`, pitch_keycenter = key and tune =
  `tune_cents`; a looped sample loops continuously (SFZ's loop_end is the
  loop's last sample, inclusive), the others play once.

  Args:
    folder: output folder, created if missing; existing files of the same
      names are replaced.
    name: the instrument's file name without '.sfz' (letters, digits, '_',
      '.', '-').
    samples: `Sample`s of distinct keys and names, in any order.
    release_s: amplitude envelope release after note-off, seconds, >= 0.
    amp_veltrack: velocity tracking of the amplitude, percent in
      [-100, 100] (100: velocity 1 is about -42 dB).

  Returns:
    The path of the .sfz file.

  Raises:
    ValueError: on bad samples (see `Sample`), a bad name, release or
      velocity tracking; nothing is written then.
  """
  _check_file_name(name, 'The SFZ instrument name')
  release_s = _check_release(release_s)
  if not (math.isfinite(amp_veltrack) and -100 <= amp_veltrack <= 100):
    raise ValueError(f'amp_veltrack must be a percentage in [-100, 100], got '
                     f'{amp_veltrack!r}.')
  samples = _checked_samples(samples)
  ranges = key_ranges([s.key for s in samples])

  sample_dir = os.path.join(folder, 'samples')
  os.makedirs(sample_dir, exist_ok=True)
  lines = [
      f'// {name}: sampler instrument of {len(samples)} notes rendered by '
      f'GANSynth,',
      '// written by gansynth_tf2.sampler. Each region plays the keys '
      'nearest to its',
      '// sample; pitch_keycenter is the key the note was asked at and tune '
      'corrects',
      '// the pitch measured in it.',
      '',
      '<global>',
      f'amp_veltrack={_number(amp_veltrack)}',
      f'ampeg_release={_number(release_s)}',
      '',
  ]
  for sample, (lo, hi) in zip(samples, ranges):
    writers.write_wav(os.path.join(sample_dir, f'{sample.name}.wav'),
                      np.clip(sample.audio, -1.0, 1.0), sample.sample_rate,
                      subtype='PCM_24')
    lines += [
        '<region>',
        f'sample=samples/{sample.name}.wav',
        f'lokey={lo} hikey={hi} pitch_keycenter={sample.key}',
        f'tune={tune_cents(sample)}',
    ]
    if sample.loop is None:
      # Not one_shot: a one-shot region ignores note-off, so the release
      # envelope would never start and a held note could not be cut short.
      lines.append('loop_mode=no_loop')
    else:
      start, end = sample.loop
      lines.append(f'loop_mode=loop_continuous loop_start={start} '
                   f'loop_end={end - 1}')
    lines.append('')
  path = os.path.join(folder, f'{name}.sfz')
  _write_atomic(path, '\n'.join(lines).encode('ascii'))
  return path


def write_sf2(path, name, samples, release_s=0.25):
  """Writes a SoundFont 2.01 file with one preset of `samples`.

  Preset `name` (bank 0, program 0) holds one instrument `name` with one
  zone per sample, in key order: keyRange from `key_ranges`, releaseVolEnv,
  sampleModes (1: continuous loop over `sample.loop`, 0: played once) and
  the sample. A sample header's original pitch is the sample's key and its
  pitch correction `tune_cents`. Audio is stored as 16-bit PCM, clipped to
  [-1, 1].

  The file is written beside `path` under a temporary name and renamed into
  place, so `path` holds the old file or the whole new one, never part.

  Args:
    path: the .sf2 file to write.
    name: preset, instrument and bank name: 1 to 20 printable ASCII
      characters.
    samples: `Sample`s of distinct keys and names and one sample rate, in
      any order.
    release_s: volume envelope release after note-off, seconds, >= 0 (stored
      as timecents, 1 ms to 100 s).

  Returns:
    `path`.

  Raises:
    ValueError: on bad samples (see `Sample`), sample rates that differ, a
      bad name or release; nothing is written then.
  """
  if (not isinstance(name, str) or not 1 <= len(name) <= _SF2_NAME_CHARS
      or not all(' ' <= c <= '~' for c in name)):
    raise ValueError(f'The SF2 preset name must be 1 to {_SF2_NAME_CHARS} '
                     f'printable ASCII characters, got {name!r}.')
  release_s = _check_release(release_s)
  samples = _checked_samples(samples)
  rates = sorted({s.sample_rate for s in samples})
  if len(rates) > 1:
    raise ValueError(f'All samples of an SF2 instrument must share one '
                     f'sample rate, got {rates} Hz.')
  ranges = key_ranges([s.key for s in samples])
  release_tc = (round(1200.0 * math.log2(release_s)) if release_s > 0
                else _RELEASE_TIMECENTS[0])
  release_tc = int(min(max(release_tc, _RELEASE_TIMECENTS[0]),
                       _RELEASE_TIMECENTS[1]))

  # sdta: each sample then SF2_SAMPLE_PAD zeros; shdr indexes into it.
  pcm, headers, offset = [], [], 0
  pad = np.zeros(SF2_SAMPLE_PAD, '<i2')
  for sample in samples:
    data = np.round(np.clip(sample.audio, -1.0, 1.0) * 32767.0).astype('<i2')
    pcm += [data, pad]
    start, end = offset, offset + data.size
    # An unlooped sample's loop points are unused; its whole extent is a
    # valid loop for players that check them anyway.
    loop_start, loop_end = sample.loop or (0, data.size)
    headers.append(struct.pack(
        '<20sIIIIIBbHH', sample.name.encode('ascii')[:_SF2_NAME_CHARS], start,
        end, start + loop_start, start + loop_end, sample.sample_rate,
        sample.key, tune_cents(sample), 0, _MONO_SAMPLE))
    offset = end + SF2_SAMPLE_PAD
  headers.append(struct.pack('<20sIIIIIBbHH', b'EOS', 0, 0, 0, 0, 0, 0, 0, 0,
                             0))

  # Instrument zones: keyRange first and sampleID last, as the spec orders.
  igen, ibag = [], []
  for index, (sample, (lo, hi)) in enumerate(zip(samples, ranges)):
    ibag.append(struct.pack('<HH', len(igen), 0))
    mode = _SAMPLE_MODE_NO_LOOP if sample.loop is None else _SAMPLE_MODE_LOOP
    igen += [struct.pack('<HBB', _GEN_KEY_RANGE, lo, hi),
             struct.pack('<Hh', _GEN_RELEASE_VOL_ENV, release_tc),
             struct.pack('<HH', _GEN_SAMPLE_MODES, mode),
             struct.pack('<HH', _GEN_SAMPLE_ID, index)]
  ibag.append(struct.pack('<HH', len(igen), 0))
  igen.append(struct.pack('<HH', 0, 0))
  # One preset zone, all keys, pointing at instrument 0 (its last generator).
  pgen = [struct.pack('<HH', _GEN_INSTRUMENT, 0), struct.pack('<HH', 0, 0)]
  pbag = [struct.pack('<HH', 0, 0), struct.pack('<HH', 1, 0)]
  no_modulators = [struct.pack('<HHhHH', 0, 0, 0, 0, 0)]
  name_bytes = name.encode('ascii')
  phdr = [struct.pack('<20sHHHIII', name_bytes, 0, 0, 0, 0, 0, 0),
          struct.pack('<20sHHHIII', b'EOP', 0, 0, 1, 0, 0, 0)]
  inst = [struct.pack('<20sH', name_bytes, 0),
          struct.pack('<20sH', b'EOI', len(samples))]

  info = _riff_list(b'INFO', [
      _riff_chunk(b'ifil', struct.pack('<HH', 2, 1)),
      _riff_chunk(b'isng', _zstr('EMU8000')),
      _riff_chunk(b'INAM', _zstr(name)),
      _riff_chunk(b'ISFT', _zstr('gansynth_tf2.sampler')),
      _riff_chunk(b'ICMT', _zstr(
          f'{len(samples)} notes rendered by GANSynth, one per sampled key.')),
  ])
  sdta = _riff_list(b'sdta', [_riff_chunk(b'smpl',
                                          np.concatenate(pcm).tobytes())])
  pdta = _riff_list(b'pdta', [
      _riff_chunk(tag, b''.join(records)) for tag, records in (
          (b'phdr', phdr), (b'pbag', pbag), (b'pmod', no_modulators),
          (b'pgen', pgen), (b'inst', inst), (b'ibag', ibag),
          (b'imod', no_modulators), (b'igen', igen), (b'shdr', headers))])
  _write_atomic(path, _riff_chunk(b'RIFF', b'sfbk' + info + sdta + pdta))
  return path


def _is_midi_key(key):
  try:
    return (not isinstance(key, bool) and int(key) == key
            and MIN_KEY <= key <= MAX_KEY)
  except (TypeError, ValueError, OverflowError):
    return False


def _correlation(a, b):
  """Normalized dot product of two equal-length windows (1.0: identical)."""
  norm = math.sqrt(float(np.dot(a, a)) * float(np.dot(b, b)))
  return float(np.dot(a, b)) / norm if norm > 0 else 0.0


def _dips(rms_db, start, end, level_len, start_db):
  """Whether the level inside [start, end) falls _LOOP_DIP_DB below start's."""
  for i in range(start, end - level_len + 1, level_len):
    if rms_db(i, level_len) < start_db - _LOOP_DIP_DB:
      return True
  return False


def _check_file_name(name, what):
  if not isinstance(name, str) or not _FILE_SAFE.match(name):
    raise ValueError(f'{what} must be a non-empty file name of letters, '
                     f'digits, "_", "." and "-" (not starting with "." or '
                     f'"-"), got {name!r}.')


def _check_release(release_s):
  if not (isinstance(release_s, (int, float, np.floating, np.integer))
          and math.isfinite(release_s) and release_s >= 0):
    raise ValueError(f'release_s must be a finite number of seconds >= 0, '
                     f'got {release_s!r}.')
  return float(release_s)


def _checked_samples(samples):
  """`samples` checked and sorted by key, each with float32 audio."""
  samples = list(samples)
  if not samples:
    raise ValueError('A sampler instrument needs at least one Sample, got '
                     'none.')
  checked, names = [], set()
  for sample in samples:
    if not isinstance(sample, Sample):
      raise ValueError(f'Samples must be sampler.Sample objects, got '
                       f'{type(sample).__name__}.')
    _check_file_name(sample.name, 'A sample name')
    if sample.name.lower() in names:
      # Their WAVs would overwrite each other (on any file system).
      raise ValueError(f'Sample names must be distinct, got {sample.name!r} '
                       f'twice.')
    names.add(sample.name.lower())
    audio = np.asarray(sample.audio)
    if audio.ndim != 1 or audio.size == 0:
      raise ValueError(f'Sample {sample.name!r}: audio must be 1-D mono with '
                       f'at least one sample, got shape {audio.shape}.')
    if not np.issubdtype(audio.dtype, np.number) or not np.all(
        np.isfinite(audio)):
      raise ValueError(f'Sample {sample.name!r}: audio must be finite '
                       f'numbers, got non-finite values or dtype '
                       f'{audio.dtype}.')
    if (isinstance(sample.sample_rate, bool)
        or not isinstance(sample.sample_rate, (int, np.integer))
        or not 0 < sample.sample_rate < 2 ** 32):
      raise ValueError(f'Sample {sample.name!r}: sample_rate must be a '
                       f'positive integer of Hz, got {sample.sample_rate!r}.')
    if not _is_midi_key(sample.key):
      raise ValueError(f'Sample {sample.name!r}: key must be an integer MIDI '
                       f'key in {MIN_KEY}..{MAX_KEY}, got {sample.key!r}.')
    try:
      cents = float(sample.cents)
    except (TypeError, ValueError):
      cents = None
    if cents is None or math.isinf(cents):
      raise ValueError(f'Sample {sample.name!r}: cents must be a finite '
                       f'number or NaN (unmeasured), got {sample.cents!r}.')
    loop = sample.loop
    if loop is not None:
      try:
        start, end = (int(v) for v in loop)
        whole = all(int(v) == v for v in loop)
      except (TypeError, ValueError):
        start = end = whole = None
      if not whole or not 0 <= start < end <= audio.size:
        raise ValueError(f'Sample {sample.name!r}: loop must be None or '
                         f'integer (start, end) with 0 <= start < end <= '
                         f'{audio.size} (its length), got {loop!r}.')
      loop = (start, end)
    checked.append(dataclasses.replace(
        sample, audio=audio.astype(np.float32), key=int(sample.key),
        sample_rate=int(sample.sample_rate), cents=cents, loop=loop))
  checked.sort(key=lambda s: s.key)
  for lower, upper in zip(checked, checked[1:]):
    if lower.key == upper.key:
      raise ValueError(f'Each MIDI key may have one sample, got key '
                       f'{lower.key} for {lower.name!r} and {upper.name!r}.')
  return checked


def _number(value):
  """`value` for an SFZ opcode: an integer without '.0', else a float."""
  value = float(value)
  return str(int(value)) if value.is_integer() else repr(value)


def _zstr(text):
  """A RIFF string: ASCII, zero-terminated, padded to an even length."""
  data = text.encode('ascii') + b'\0'
  return data + b'\0' * (len(data) % 2)


def _riff_chunk(tag, data):
  """A RIFF chunk: tag, little-endian size, data, pad byte to even size."""
  return tag + struct.pack('<I', len(data)) + data + b'\0' * (len(data) % 2)


def _riff_list(list_type, chunks):
  return _riff_chunk(b'LIST', list_type + b''.join(chunks))


def _write_atomic(path, data):
  """Writes `data` to a temporary file beside `path`, then renames it over.

  Not files.write_atomic: that one goes through tf.io.gfile, and this module
  does not need TensorFlow.
  """
  folder = os.path.dirname(os.path.abspath(path))
  fd, tmp = tempfile.mkstemp(prefix=f'.{os.path.basename(path)}.',
                             suffix='.tmp', dir=folder)
  try:
    with os.fdopen(fd, 'wb') as f:
      f.write(data)
    os.chmod(tmp, 0o644)  # mkstemp makes it private; instruments are not.
    os.replace(tmp, path)
  except BaseException:
    if os.path.exists(tmp):
      os.remove(tmp)
    raise
