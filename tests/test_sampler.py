"""Tests for sampler.py: SFZ and SF2 instruments checked by real parsers
(sfzen, sf2utils) and played by a real player (fluidsynth).

The notes are synthetic: a few harmonics at a known frequency, some held
(looped) and some decaying, most deliberately a little out of tune, so that
root key, tune and loops are all exercised without a model.
"""
import os
import shutil
import struct
import subprocess

import librosa
import numpy as np
import pretty_midi
import pytest
import sfzen
import soundfile
from sf2utils.sf2parse import Sf2File

from gansynth_tf2 import metrics
from gansynth_tf2 import sampler

SR = 16000
NOTE_S = 1.0
# Sampled every 3 semitones; the cents say how far off each note is made.
KEYS = (48, 51, 54, 57, 60, 63, 66, 69, 72)
CENTS = (0.0, 25.0, -20.0, 40.0, 10.0, -35.0, float('nan'), 15.0, -10.0)
PARTIALS = (1.0, 0.5, 0.3, 0.2)
# Every other note decays too fast to loop (time constant, seconds).
DECAY_S = 0.3
# The melody played through the SF2: mostly keys between sampled keys; 60
# is sampled (its rendering is compared with its sample).
MELODY = (49, 50, 53, 55, 58, 60, 62, 65, 68, 71)
MELODY_NOTE_S, MELODY_GAP_S = 0.45, 0.2
# Then held for twice a sample's length: a looped key and a one-shot key.
HELD_KEYS, HELD_S = (60, 63), 2.0
# pYIN's search range for every pitch check here.
PYIN_RANGE = dict(fmin='C2', fmax='C7')


def _tone(f0_hz, decay_s=None, partials=PARTIALS, seconds=NOTE_S):
  """[samples] float32 harmonic tone peaking near 0.5: 10 ms attack, then
  steady (50 ms fade at the end) or an exponential decay."""
  t = np.arange(int(seconds * SR)) / SR
  wave = sum(a * np.sin(2 * np.pi * f0_hz * (k + 1) * t + k)
             for k, a in enumerate(partials))
  env = np.minimum(1.0, t / 0.01)
  if decay_s is None:
    env *= np.minimum(1.0, (seconds - t) / 0.05)
  else:
    env *= np.exp(-t / decay_s)
  return (0.5 * wave * env / sum(partials)).astype(np.float32)


def _hz(key, cents=0.0):
  return float(librosa.midi_to_hz(key + np.nan_to_num(cents) / 100.0))


def _samples():
  """The instrument's notes: even ones held and looped, odd ones decaying."""
  samples = []
  for i, (key, cents) in enumerate(zip(KEYS, CENTS)):
    held = i % 2 == 0
    audio = _tone(_hz(key, cents), decay_s=None if held else DECAY_S)
    loop = sampler.find_loop(audio, SR, _hz(key, cents))
    assert (loop is not None) == held, (key, loop)
    samples.append(sampler.Sample(f'note_{key:03d}', audio, SR, key, cents,
                                  loop))
  return samples


def _fluidsynth():
  path = shutil.which('fluidsynth')
  if path is None:
    pytest.fail('fluidsynth is not installed; the SF2 is checked by playing '
                'it: sudo apt-get install fluidsynth')
  return path


def _render(tmp, sf2_path, notes):
  """fluidsynth's rendering of [(key, start_s, end_s)] at velocity 100."""
  pm = pretty_midi.PrettyMIDI()
  instrument = pretty_midi.Instrument(program=0)
  instrument.notes = [pretty_midi.Note(100, key, start, end)
                      for key, start, end in notes]
  pm.instruments.append(instrument)
  mid, wav = os.path.join(tmp, 'melody.mid'), os.path.join(tmp, 'out.wav')
  pm.write(mid)
  proc = subprocess.run(
      [_fluidsynth(), '-ni', '-q', '-R', '0', '-C', '0', '-r', str(SR), '-g',
       '1.0', '-F', wav, sf2_path, mid],
      capture_output=True, text=True, timeout=60, check=False)
  # fluidsynth exits 0 even when it cannot load the SF2; it only says so.
  # The one line allowed: no drum kit for channel 10 in a one-preset SF2.
  complaints = [line for line in proc.stderr.splitlines()
                if line.strip() and 'No preset found on channel 9' not in line]
  assert proc.returncode == 0 and not complaints, proc.stderr
  audio, sr = soundfile.read(wav, dtype='float32')
  assert sr == SR
  return audio.mean(axis=1) if audio.ndim == 2 else audio


def _peak_hz(audio):
  """A sine's frequency to a fraction of a cent: the Hann-windowed,
  16x zero-padded spectrum's peak, refined by a parabola."""
  size = 16 * audio.size
  mag = np.abs(np.fft.rfft(audio * np.hanning(audio.size), size))
  i = int(np.argmax(mag))
  a, b, c = np.log(mag[i - 1:i + 2])
  return (i + 0.5 * (a - c) / (a - 2 * b + c)) * SR / size


def _partials_db(audio, f0_hz, count=len(PARTIALS)):
  """Levels of the first `count` partials, dB relative to the first: peaks
  of the Hann-windowed spectrum, zero-padded 8x so that a partial between
  bins loses under 0.1 dB, searched within 20 Hz of k * f0_hz."""
  size = 8 * audio.size
  mag = np.abs(np.fft.rfft(audio * np.hanning(audio.size), size))
  bin_hz = SR / size
  span = int(20 / bin_hz)
  levels = [mag[int(k * f0_hz / bin_hz) - span:
                int(k * f0_hz / bin_hz) + span].max()
            for k in range(1, count + 1)]
  return 20 * np.log10(np.array(levels) / levels[0])


def _splice_correlation(audio, start, end, width):
  """How alike the waveform is around the loop's end and its start, on both
  sides of the splice (1.0: the player cannot tell the jump)."""
  def corr(a, b):
    return float(np.dot(a, b) / np.sqrt(np.dot(a, a) * np.dot(b, b)))
  return min(corr(audio[end - width:end], audio[start - width:start]),
             corr(audio[end:end + width], audio[start:start + width]))


def _rms_db(audio):
  return 10 * np.log10(np.mean(np.square(audio, dtype=np.float64)) + 1e-20)


@pytest.fixture(scope='module')
def samples():
  return _samples()


@pytest.fixture(scope='module')
def sf2_render(tmp_path_factory, samples):
  """The SF2 of `samples`, and fluidsynth's rendering of MELODY then the
  HELD_KEYS through it: (path, melody notes, held notes, audio), notes as
  (key, start_s, end_s)."""
  tmp = str(tmp_path_factory.mktemp('sf2'))
  path = sampler.write_sf2(os.path.join(tmp, 'inst.sf2'), 'GANSynth test',
                           samples)
  step = MELODY_NOTE_S + MELODY_GAP_S
  melody = [(key, 0.1 + i * step, 0.1 + i * step + MELODY_NOTE_S)
            for i, key in enumerate(MELODY)]
  start = melody[-1][2] + 0.5
  held = [(key, start + i * (HELD_S + 0.5), start + i * (HELD_S + 0.5)
           + HELD_S) for i, key in enumerate(HELD_KEYS)]
  return path, melody, held, _render(tmp, path, melody + held)


# key_ranges.


@pytest.mark.parametrize('keys', [[60], [0], [127], [0, 127], [60, 61],
                                  [48, 51, 54, 60, 72], [21, 40, 41, 108]])
def test_key_ranges_give_every_key_to_its_nearest_sample(keys):
  ranges = sampler.key_ranges(keys)
  assert len(ranges) == len(keys)
  owner = {}
  for key, (lo, hi) in zip(keys, ranges):
    assert lo <= key <= hi
    for k in range(lo, hi + 1):
      assert k not in owner, f'key {k} in two ranges'
      owner[k] = key
  assert sorted(owner) == list(range(128))
  for k in range(128):
    # Nearest sampled key; on a tie the lower one (transposed up).
    assert owner[k] == min(keys, key=lambda s, k=k: (abs(s - k), s))


@pytest.mark.parametrize('keys, message', [
    ([], 'at least one'), ([60, 60], 'sorted and distinct'),
    ([62, 60], 'sorted and distinct'), ([128], r'0\.\.127'),
    ([-1], r'0\.\.127'), ([60.5], 'integer'), (['60'], 'integer')])
def test_key_ranges_reject_bad_keys(keys, message):
  with pytest.raises(ValueError, match=message):
    sampler.key_ranges(keys)


# find_loop.


@pytest.mark.parametrize('f0_hz', [65.41, 261.63, 447.69, 1046.5])
def test_find_loop_in_a_steady_tone_is_clean(f0_hz):
  """Starts and ends on rising zero crossings, past the attack, lasts whole
  periods (>= min_loop_s), and the splice matches in shape and level."""
  audio = _tone(f0_hz)
  loop = sampler.find_loop(audio, SR, f0_hz, min_loop_s=0.05)
  assert loop is not None
  start, end = loop
  assert sampler.find_loop(audio, SR, f0_hz, min_loop_s=0.05) == loop
  assert 0.25 * audio.size <= start < end <= 0.8 * audio.size
  for i in (start, end):
    assert audio[i - 1] < 0 <= audio[i]
  periods = (end - start) * f0_hz / SR
  assert end - start >= 0.05 * SR
  assert abs(periods - round(periods)) < 0.05, periods
  width = int(np.ceil(2 * SR / f0_hz))
  assert _splice_correlation(audio, start, end, width) > 0.98
  level = max(width, SR // 100)
  assert abs(_rms_db(audio[start:start + level])
             - _rms_db(audio[end - level:end])) < 1.0


def test_find_loop_refuses_decay_noise_and_no_pitch():
  f0_hz = 261.63
  assert sampler.find_loop(_tone(f0_hz, decay_s=0.1), SR, f0_hz) is None
  noise = np.random.RandomState(0).uniform(-0.5, 0.5, SR).astype(np.float32)
  assert sampler.find_loop(noise, SR, f0_hz) is None
  steady = _tone(f0_hz)
  for f0 in (float('nan'), 0.0, -100.0, SR / 2):
    assert sampler.find_loop(steady, SR, f0) is None
  # Too short for a 50 ms loop with its splice windows, and silence.
  assert sampler.find_loop(steady[:1000], SR, f0_hz) is None
  assert sampler.find_loop(np.zeros(SR, np.float32), SR, f0_hz) is None
  # A loop longer than the steady part is refused, not stretched.
  assert sampler.find_loop(steady, SR, f0_hz, min_loop_s=0.9) is None


def test_find_loop_rejects_bad_arguments():
  with pytest.raises(ValueError, match='1-D finite'):
    sampler.find_loop(np.zeros((2, 100)), SR, 440.0)
  with pytest.raises(ValueError, match='1-D finite'):
    sampler.find_loop(np.array([0.0, np.nan]), SR, 440.0)
  with pytest.raises(ValueError, match='sample_rate'):
    sampler.find_loop(np.zeros(100), 0, 440.0)
  with pytest.raises(ValueError, match='min_loop_s'):
    sampler.find_loop(np.zeros(100), SR, 440.0, min_loop_s=0.0)


# tune_cents.


@pytest.mark.parametrize('cents, tune', [
    (0.0, 0), (12.0, -12), (-12.4, 12), (30.0, -30), (99.0, -99),
    (150.0, -99), (-300.0, 99), (float('nan'), 0)])
def test_tune_cents_undoes_the_measured_detune(cents, tune):
  sample = sampler.Sample('n', np.zeros(10, np.float32), SR, 60, cents)
  assert sampler.tune_cents(sample) == tune


# write_sfz.


def test_sfz_regions_cover_the_keyboard_and_describe_their_samples(
    tmp_path, samples):
  """sfzen parses it without errors; each key plays exactly one region; the
  WAVs are 24-bit at SR; root key and tune give the sample's pYIN pitch;
  loop opcodes only on looped samples."""
  path = sampler.write_sfz(str(tmp_path), 'gansynth', samples,
                           release_s=0.3, amp_veltrack=80)
  assert path == str(tmp_path / 'gansynth.sfz')
  text = (tmp_path / 'gansynth.sfz').read_text()
  assert text.startswith('// gansynth: sampler instrument')
  sfz = sfzen.SFZ(path)
  assert not sfz.errors, sfz.errors
  regions = list(sfz.regions())
  assert len(regions) == len(samples)
  by_key = {s.key: s for s in samples}
  covered = []
  waves, pitches = [], []
  for region in regions:
    sample = by_key[region.pitch_keycenter]
    covered += range(region.lokey, region.hikey + 1)
    assert region.ampeg_release == pytest.approx(0.3)
    assert region.amp_veltrack == pytest.approx(80)
    wav = region.opcode('sample')
    assert wav.exists(), wav.abspath
    assert wav.abspath == (tmp_path / 'samples' / f'{sample.name}.wav')
    info = soundfile.info(str(wav.abspath))
    assert (info.samplerate, info.subtype, info.frames) == (
        SR, 'PCM_24', sample.audio.size)
    audio, _ = soundfile.read(str(wav.abspath), dtype='float32')
    np.testing.assert_allclose(audio, sample.audio, atol=2.0 ** -22)
    waves.append(audio)
    pitches.append(region.pitch_keycenter - region.tune / 100.0)
    if sample.loop is None:
      assert region.loop_mode == 'no_loop'
      assert region.opcode('loop_start') is None
      assert region.opcode('loop_end') is None
    else:
      assert region.loop_mode == 'loop_continuous'
      # SFZ's loop_end is the loop's last sample.
      assert (region.loop_start, region.loop_end) == (
          sample.loop[0], sample.loop[1] - 1)
  assert sorted(covered) == list(range(128))
  measured = metrics.pyin_midi(waves, SR, start_s=0.05, end_s=0.6,
                               **PYIN_RANGE)
  # The brief's bound is 0.5 semitone; pYIN's 10-cent bins allow a tighter
  # one, which a tune of the wrong sign (up to 80 cents off here) fails.
  np.testing.assert_allclose(pitches, measured, atol=0.1)


# write_sf2.


def _igens(sf2, bag_index):
  pdta = sf2.raw.pdta
  lo, hi = pdta['Ibag'][bag_index].gen, pdta['Ibag'][bag_index + 1].gen
  return pdta['Igen'][lo:hi]


def test_sf2_structure_as_written(sf2_render, samples):
  """sf2utils reads one preset and one instrument whose zones cover every
  key once, generators in the order the spec demands, and sample headers
  and 16-bit data as written."""
  path = sf2_render[0]
  with open(path, 'rb') as f:
    raw = f.read()
    f.seek(0)
    sf2 = Sf2File(f)
    assert raw[:4] == b'RIFF' and raw[8:12] == b'sfbk'
    assert struct.unpack('<I', raw[4:8])[0] == len(raw) - 8
    ifil = raw.index(b'ifil')
    assert struct.unpack('<IHH', raw[ifil + 4:ifil + 12]) == (4, 2, 1)
    assert sf2.info.bank_name == 'GANSynth test'
    presets = [p for p in sf2.presets if p.name != 'EOP']
    instruments = [i for i in sf2.instruments if not i.is_sentinel()]
    assert len(presets) == 1 and len(instruments) == 1
    preset, instrument = presets[0], instruments[0]
    assert (preset.name, preset.bank, preset.preset) == ('GANSynth test', 0,
                                                         0)
    assert [b.instrument.name for b in preset.bags] == ['GANSynth test']
    pgens = sf2.raw.pdta['Pgen']
    assert pgens[preset.bags[0].gen_idx + preset.bags[0].gen_size - 1].oper \
        == 41  # instrument, last in its zone
    assert len(instrument.bags) == len(samples)
    covered = []
    for bag, sample in zip(instrument.bags, samples):
      lo, hi = bag.key_range
      covered += range(lo, hi + 1)
      opers = [g.oper for g in _igens(sf2, bag.idx)]
      assert opers[0] == 43 and opers[-1] == 53  # keyRange, ..., sampleID
      assert bag.sample_loop == (sample.loop is not None)
      assert not bag.sample_loop_on_noteoff  # sampleModes 1, not 3
      assert bag.volume_envelope_release == pytest.approx(0.25, rel=1e-3)
      header = bag.sample
      assert header.name == sample.name
      assert (header.sample_rate, header.original_pitch,
              header.pitch_correction) == (SR, sample.key,
                                           sampler.tune_cents(sample))
      assert header.duration == sample.audio.size
      if sample.loop is not None:
        assert (header.start_loop, header.end_loop) == sample.loop
      pcm = np.frombuffer(header.raw_sample_data, '<i2')
      np.testing.assert_array_equal(
          pcm, np.round(sample.audio * 32767).astype(np.int16))
      after = sf2.raw.smpl_offset + 2 * header.end
      pad = raw[after:after + 2 * sampler.SF2_SAMPLE_PAD]
      assert pad == bytes(2 * sampler.SF2_SAMPLE_PAD)
    assert sorted(covered) == list(range(128))


def test_sf2_plays_the_melody_in_tune(sf2_render):
  """pYIN of each note fluidsynth played: >= 90% within 0.5 semitone (the
  brief's bound), and the median error under 0.1 semitone (the tune
  corrections work, transposed or not)."""
  _, notes, _, audio = sf2_render
  segments = [audio[int((start + 0.08) * SR):int((end - 0.03) * SR)]
              for _, start, end in notes]
  measured = metrics.pyin_midi(segments, SR, start_s=0.0, end_s=1.0,
                               **PYIN_RANGE)
  errors = np.abs(measured - np.array([key for key, _, _ in notes]))
  assert np.mean(errors < 0.5) >= 0.9, (measured, errors)
  assert np.nanmedian(errors) < 0.1, errors


def test_sf2_note_at_a_sampled_key_sounds_like_its_sample(sf2_render,
                                                          samples):
  """At its own key (60) the sample plays untransposed (tune 10 cents
  aside): its partials' levels relative to the fundamental stay within 1 dB
  of the sample's."""
  _, notes, _, audio = sf2_render
  sample = next(s for s in samples if s.key == 60)
  _, start, end = next(n for n in notes if n[0] == 60)
  played = audio[int((start + 0.1) * SR):int((end - 0.05) * SR)]
  original = sample.audio[int(0.1 * SR):int(0.1 * SR) + played.size]
  f0_hz = _hz(60)  # played in tune; the sample is 10 cents sharp
  np.testing.assert_allclose(_partials_db(played, f0_hz),
                             _partials_db(original, _hz(60, sample.cents)),
                             atol=1.0)


def test_sf2_held_notes_loop_or_end_with_their_sample(sf2_render, samples):
  """Held for 2 s, twice its sample's length: the looped key (60) keeps its
  level within 1 dB and its partials within 1 dB, the one-shot key (63)
  falls silent when its sample ends."""
  _, _, held, audio = sf2_render
  (_, start_60, _), (_, start_63, _) = held
  sample = next(s for s in samples if s.key == 60)

  def window(start, offset_s):
    return audio[int((start + offset_s) * SR):int((start + offset_s + 0.3)
                                                  * SR)]
  early, late = window(start_60, 0.2), window(start_60, 1.5)
  assert abs(_rms_db(late) - _rms_db(early)) < 1.0
  np.testing.assert_allclose(_partials_db(late, _hz(60)),
                             _partials_db(sample.audio, _hz(60, 10.0)),
                             atol=1.0)
  assert _rms_db(window(start_63, 1.5)) < _rms_db(window(start_63, 0.1)) - 60


def test_sf2_pitch_correction_sign_with_fluidsynth(tmp_path):
  """Two sines 30 cents sharp: the one declared so (cents=+30, stored
  chPitchCorrection -30) plays within 5 cents of its key; the one declared
  in tune plays 30 cents sharp, so the measure can see the difference."""
  sharp = [
      sampler.Sample('corrected', _tone(_hz(69, 30), partials=(1,)), SR, 69,
                     30.0),
      sampler.Sample('uncorrected', _tone(_hz(81, 30), partials=(1,)), SR,
                     81, 0.0),
  ]
  for s in sharp:
    s.loop = sampler.find_loop(s.audio, SR, _hz(s.key, 30))
    assert s.loop is not None
  path = sampler.write_sf2(str(tmp_path / 'sign.sf2'), 'sign', sharp)
  audio = _render(str(tmp_path), path, [(69, 0.1, 1.6), (81, 2.0, 3.5)])
  for key, start, expected in ((69, 0.1, 0.0), (81, 2.0, 30.0)):
    played = audio[int((start + 0.3) * SR):int((start + 1.3) * SR)]
    cents = 1200 * np.log2(_peak_hz(played) / _hz(key))
    assert abs(cents - expected) < 5.0, (key, cents)


# Bad input.


def _good(key=60, **changes):
  sample = sampler.Sample(f'note_{key:03d}', _tone(_hz(key), seconds=0.2),
                          SR, key, 0.0, (800, 1600))
  for name, value in changes.items():
    setattr(sample, name, value)
  return sample


BAD_INPUTS = [
    ('no samples', lambda: [], 'at least one Sample'),
    ('non-finite audio', lambda: [_good(audio=np.array([0.1, np.nan]))],
     'finite'),
    ('infinite audio', lambda: [_good(audio=np.array([np.inf] * 10))],
     'finite'),
    ('empty audio', lambda: [_good(audio=np.zeros(0, np.float32))],
     'at least one sample'),
    ('stereo audio', lambda: [_good(audio=np.zeros((10, 2)))], '1-D mono'),
    ('key 128', lambda: [_good(key=128)], r'0\.\.127'),
    ('key -1', lambda: [_good(key=-1)], r'0\.\.127'),
    ('duplicate keys', lambda: [_good(), _good(name='other')],
     'one sample'),
    ('duplicate names', lambda: [_good(60), _good(62, name='note_060')],
     'distinct'),
    ('loop past the end', lambda: [_good(loop=(800, 3201))],
     'start < end <= 3200'),
    ('loop backwards', lambda: [_good(loop=(1600, 800))], 'start < end'),
    ('loop negative', lambda: [_good(loop=(-1, 800))], '0 <= start'),
    ('loop fractional', lambda: [_good(loop=(800.5, 1600))], 'integer'),
    ('name with a folder', lambda: [_good(name='a/b')], 'file name'),
    ('empty sample name', lambda: [_good(name='')], 'file name'),
    ('bad sample rate', lambda: [_good(sample_rate=0)], 'sample_rate'),
    ('infinite cents', lambda: [_good(cents=float('inf'))], 'cents'),
]


@pytest.mark.parametrize('what, make, message', BAD_INPUTS,
                         ids=[b[0] for b in BAD_INPUTS])
def test_bad_samples_raise_and_write_nothing(tmp_path, what, make, message):
  del what
  with pytest.raises(ValueError, match=message):
    sampler.write_sfz(str(tmp_path / 'sfz'), 'inst', make())
  with pytest.raises(ValueError, match=message):
    sampler.write_sf2(str(tmp_path / 'inst.sf2'), 'inst', make())
  assert os.listdir(tmp_path) == []


@pytest.mark.parametrize('name', ['', 'x' * 21, 'caf\u00e9', 'tab\there'])
def test_bad_sf2_names_raise(tmp_path, name):
  with pytest.raises(ValueError, match='SF2 preset name'):
    sampler.write_sf2(str(tmp_path / 'a.sf2'), name, [_good()])
  assert os.listdir(tmp_path) == []


@pytest.mark.parametrize('name', ['', '../up', 'a b', '.hidden'])
def test_bad_sfz_names_raise(tmp_path, name):
  with pytest.raises(ValueError, match='SFZ instrument name'):
    sampler.write_sfz(str(tmp_path), name, [_good()])
  assert os.listdir(tmp_path) == []


def test_other_bad_arguments_raise(tmp_path):
  with pytest.raises(ValueError, match='one sample rate'):
    sampler.write_sf2(str(tmp_path / 'a.sf2'), 'a',
                      [_good(60), _good(64, sample_rate=22050)])
  with pytest.raises(ValueError, match='release_s'):
    sampler.write_sf2(str(tmp_path / 'a.sf2'), 'a', [_good()], release_s=-1)
  with pytest.raises(ValueError, match='release_s'):
    sampler.write_sfz(str(tmp_path), 'a', [_good()], release_s=float('nan'))
  with pytest.raises(ValueError, match='amp_veltrack'):
    sampler.write_sfz(str(tmp_path), 'a', [_good()], amp_veltrack=150)
  assert os.listdir(tmp_path) == []


def test_failed_sf2_write_keeps_the_old_file_and_leaves_no_temp(
    tmp_path, monkeypatch):
  path = tmp_path / 'inst.sf2'
  path.write_bytes(b'old')

  def fail(*_):
    raise OSError('disk full')
  monkeypatch.setattr(sampler.os, 'replace', fail)
  with pytest.raises(OSError, match='disk full'):
    sampler.write_sf2(str(path), 'inst', [_good()])
  monkeypatch.undo()
  with pytest.raises(ValueError):
    sampler.write_sf2(str(path), 'inst', [])
  assert os.listdir(tmp_path) == ['inst.sf2']
  assert path.read_bytes() == b'old'
  # And a good write replaces it whole.
  sampler.write_sf2(str(path), 'inst', [_good()])
  assert path.read_bytes()[:4] == b'RIFF'
  assert os.listdir(tmp_path) == ['inst.sf2']
