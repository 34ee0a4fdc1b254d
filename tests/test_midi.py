"""Tests for midi.py: real MIDI files written with pretty_midi, slerp, mixing."""
import mido
import numpy as np
import pretty_midi
import pytest

from gansynth_tf2 import midi

SR = 16000
AUDIO_LENGTH = 64000


def write_midi(path, tracks):
  """Writes a MIDI file; tracks: list of (program, is_drum, [(pitch, vel, start, end)])."""
  pm = pretty_midi.PrettyMIDI()
  for program, is_drum, notes in tracks:
    inst = pretty_midi.Instrument(program=program, is_drum=is_drum,
                                  name=f'prog{program}')
    for pitch, vel, start, end in notes:
      inst.notes.append(pretty_midi.Note(velocity=vel, pitch=pitch,
                                         start=start, end=end))
    pm.instruments.append(inst)
  pm.write(str(path))
  return path


def write_zero_length_midi(path, extra_note=True):
  """A MIDI file (written with mido: pretty_midi cannot write one) holding a
  zero-length note at pitch 64 and, optionally, a normal note at pitch 60."""
  track = mido.MidiTrack()
  track.append(mido.Message('note_on', note=64, velocity=90, time=0))
  track.append(mido.Message('note_off', note=64, velocity=0, time=0))
  if extra_note:
    track.append(mido.Message('note_on', note=60, velocity=90, time=10))
    track.append(mido.Message('note_off', note=60, velocity=0, time=480))
  f = mido.MidiFile()
  f.tracks.append(track)
  f.save(str(path))
  return path


def test_load_midi_keeps_pitched_in_range_notes_and_reports_the_rest(tmp_path):
  path = write_midi(tmp_path / 'song.mid', [
      (0, False, [(60, 100, 1.0, 2.0), (20, 90, 0.5, 1.0), (72, 80, 0.0, 0.5)]),
      (40, False, [(84, 50, 0.25, 3.0), (90, 60, 0.0, 1.0)]),
      (0, True, [(36, 127, 0.0, 0.1), (38, 127, 0.5, 0.6)]),
  ])
  notes, report = midi.load_midi(path, min_pitch=24, max_pitch=84)
  # Sorted by onset across tracks.
  np.testing.assert_array_equal(notes.pitches, [72, 84, 60])
  np.testing.assert_array_equal(notes.velocities, [80, 50, 100])
  np.testing.assert_array_equal(notes.tracks, [0, 1, 0])
  np.testing.assert_allclose(notes.start_times, [0.0, 0.25, 1.0], atol=1e-3)
  np.testing.assert_allclose(notes.end_times, [0.5, 3.0, 2.0], atol=1e-3)
  assert notes.total_time == pytest.approx(3.0, abs=1e-3)
  assert (report.kept, report.drum_notes, report.out_of_range_notes,
          report.zero_length_notes) == (3, 2, 2, 0)
  assert [t['notes'] for t in report.tracks] == [2, 1]
  summary = report.summary(24, 84)
  assert '2 drum-track notes' in summary and '24..84' in summary


def test_zero_length_notes_are_skipped_and_reported(tmp_path):
  notes, report = midi.load_midi(write_zero_length_midi(tmp_path / 'z.mid'),
                                 24, 84)
  np.testing.assert_array_equal(notes.pitches, [60])
  assert report.zero_length_notes == 1
  assert '1 zero-length or unreleased notes' in report.summary(24, 84)
  only = write_zero_length_midi(tmp_path / 'only.mid', extra_note=False)
  with pytest.raises(ValueError, match='no notes the model can play: .*'
                     '1 zero-length'):
    midi.load_midi(only, 24, 84)


@pytest.mark.parametrize('tracks, message', [
    ([], 'contains no notes'),
    ([(0, False, [])], 'contains no notes'),
    ([(0, True, [(36, 100, 0.0, 1.0)])], '1 drum-track notes'),
    ([(0, False, [(10, 100, 0.0, 1.0), (100, 100, 0.0, 1.0)])],
     "2 notes outside the model's pitch range 24..84"),
])
def test_load_midi_with_nothing_playable_is_a_clear_error(tmp_path, tracks,
                                                          message):
  path = write_midi(tmp_path / 'bad.mid', tracks)
  with pytest.raises(ValueError, match='--midi_file') as e:
    midi.load_midi(path, 24, 84)
  assert message in str(e.value)
  assert str(path) in str(e.value)


def test_load_midi_missing_garbled_and_empty_files(tmp_path):
  with pytest.raises(FileNotFoundError, match='no such file'):
    midi.load_midi(tmp_path / 'nope.mid', 24, 84)
  garbled = tmp_path / 'garbled.mid'
  garbled.write_bytes(np.random.default_rng(0).bytes(300))
  with pytest.raises(ValueError, match='not a readable MIDI file'):
    midi.load_midi(garbled, 24, 84)
  empty = tmp_path / 'empty.mid'
  empty.write_bytes(b'')
  with pytest.raises(ValueError, match='not a readable MIDI file'):
    midi.load_midi(empty, 24, 84)
  # A real MIDI header cut short mid-track.
  good = write_midi(tmp_path / 'good.mid', [(0, False, [(60, 100, 0.0, 1.0)])])
  truncated = tmp_path / 'truncated.mid'
  truncated.write_bytes(good.read_bytes()[:20])
  with pytest.raises(ValueError, match='not a readable MIDI file'):
    midi.load_midi(truncated, 24, 84)


def test_slerp_follows_the_great_circle():
  rng = np.random.default_rng(1)
  p0, p1 = rng.standard_normal((2, 256))
  p0 /= np.linalg.norm(p0)
  p1 /= np.linalg.norm(p1)
  np.testing.assert_allclose(midi.slerp(p0, p1, 0.0), p0, atol=1e-12)
  np.testing.assert_allclose(midi.slerp(p0, p1, 1.0), p1, atol=1e-12)
  ts = np.linspace(0, 1, 7)
  path = midi.slerp(p0, p1, ts)
  assert path.shape == (7, 256)
  # Unit norm all along, and the angle from p0 grows linearly in t.
  np.testing.assert_allclose(np.linalg.norm(path, axis=1), 1.0, atol=1e-12)
  omega = np.arccos(p0 @ p1)
  np.testing.assert_allclose(np.arccos(np.clip(path @ p0, -1, 1)), ts * omega,
                             atol=1e-6)


def test_slerp_of_parallel_vectors_does_not_divide_by_zero():
  p = np.arange(1.0, 5.0)
  out = midi.slerp(p, 2 * p, 0.5)
  assert np.all(np.isfinite(out))
  np.testing.assert_allclose(out, 1.5 * p)


def test_instrument_times_always_bracket_the_clip():
  t = midi.instrument_times(1.0, secs_per_instrument=6.0)
  np.testing.assert_allclose(t, [0.0, 1.0])
  t = midi.instrument_times(12.0, secs_per_instrument=3.0)
  np.testing.assert_allclose(t, [0, 3, 6, 9, 12])
  np.testing.assert_allclose(midi.instrument_times(10.0, 3.0, 3), [0, 5, 10])
  with pytest.raises(ValueError, match='secs_per_instrument'):
    midi.instrument_times(10.0, 0.0)


def test_z_for_notes_interpolates_between_neighbouring_instruments():
  rng = np.random.default_rng(2)
  z_inst = rng.standard_normal((3, 16))
  # Equal norms, so "halfway" on the great circle means equal angles.
  z_inst /= np.linalg.norm(z_inst, axis=1, keepdims=True)
  t_inst = np.array([0.0, 4.0, 8.0])
  z = midi.z_for_notes([0.0, 4.0, 8.0, 2.0, 6.0], z_inst, t_inst)
  assert z.shape == (5, 16) and z.dtype == np.float32
  np.testing.assert_allclose(z[:3], z_inst.astype(np.float32), atol=1e-6)
  # A note halfway between two instruments is equidistant (in angle) from them.
  for note, (a, b) in ((3, (0, 1)), (4, (1, 2))):
    cos_a = z[note] @ z_inst[a] / np.linalg.norm(z[note]) / np.linalg.norm(z_inst[a])
    cos_b = z[note] @ z_inst[b] / np.linalg.norm(z[note]) / np.linalg.norm(z_inst[b])
    assert cos_a == pytest.approx(cos_b, abs=1e-5)
  one = midi.z_for_notes([0.0, 3.0], z_inst[:1], None)
  np.testing.assert_allclose(one, np.repeat(z_inst[:1], 2, 0), atol=1e-6)


def test_envelope_shapes_attack_sustain_release():
  env = midi.envelope(1.0, AUDIO_LENGTH, SR, attack=0.01, release=0.3)
  assert len(env) == SR + int(0.3 * SR)
  assert env[0] == 0.0 and env[-1] == 0.0
  assert np.all(np.diff(env[:160]) > 0)  # linear attack over 10 ms
  np.testing.assert_allclose(env[160:SR], 1.0)  # sustain
  assert np.all(np.diff(env[SR:]) < 0)  # release
  assert env.max() <= 1.0 and env.min() >= 0.0


def test_long_note_is_truncated_to_the_model_length_with_its_release():
  env = midi.envelope(10.0, AUDIO_LENGTH, SR, release=0.3)
  assert len(env) == AUDIO_LENGTH
  release = env[-int(0.3 * SR):]
  assert release[0] > 0.99 and release[-1] == 0.0
  assert np.all(np.diff(release) < 0)


def test_note_shorter_than_its_attack_has_no_jump():
  env = midi.envelope(0.002, AUDIO_LENGTH, SR, attack=0.01, release=0.05)
  assert env.max() <= 32 / 160 + 1e-9
  assert np.abs(np.diff(env)).max() <= 1 / 160 + 1e-9


def make_notes(pitches, velocities, starts, ends):
  n = len(pitches)
  return midi.Notes(np.asarray(pitches, np.int32),
                    np.asarray(velocities, np.int32),
                    np.asarray(starts, np.float64),
                    np.asarray(ends, np.float64), np.zeros(n, np.int32))


def test_mix_notes_places_scales_and_peak_normalizes():
  t = np.arange(AUDIO_LENGTH) / SR
  audio = np.stack([np.sin(2 * np.pi * 220 * t) * 3.0,
                    -np.sin(2 * np.pi * 330 * t) * 0.01])
  notes = make_notes([57, 64], [127, 64], [0.0, 2.0], [1.0, 2.5])
  clip = midi.mix_notes(audio, notes, SR, release=0.3, peak=0.5)
  assert clip.dtype == np.float32
  assert len(clip) == int(2.5 * SR) + int(0.3 * SR)
  assert np.abs(clip).max() == pytest.approx(0.5, rel=1e-6)
  first = np.abs(clip[:int(1.3 * SR)]).max()
  second = np.abs(clip[2 * SR:]).max()
  # Velocity, not the generated loudness, sets each note's level.
  assert second / first == pytest.approx(64 / 127, rel=1e-3)
  assert np.all(clip[int(1.3 * SR) + 1:2 * SR] == 0)  # silence between them


def test_mix_notes_overlapping_same_pitch_notes_add_up():
  t = np.arange(AUDIO_LENGTH) / SR
  tone = np.sin(2 * np.pi * 220 * t)
  notes = make_notes([57, 57], [100, 100], [0.0, 0.0], [1.0, 1.0])
  clip = midi.mix_notes(np.stack([tone, tone]), notes, SR, peak=0.5)
  single = midi.mix_notes(tone[None], make_notes([57], [100], [0.0], [1.0]),
                          SR, peak=0.5)
  np.testing.assert_allclose(clip, single, atol=1e-6)
  with pytest.raises(ValueError, match='2 audio notes for 1 notes'):
    midi.mix_notes(np.stack([tone, tone]), notes.__class__(
        *(getattr(notes, f)[:1] for f in
          ('pitches', 'velocities', 'start_times', 'end_times', 'tracks'))), SR)


def test_note_mixer_streams_mix_notes_bit_for_bit():
  """Random overlapping notes (and long silences, handed on in blocks) mixed
  by NoteMixer give mix_notes' clip exactly, holding at most one note."""
  rng = np.random.RandomState(0)
  n = 12
  starts = np.sort(np.concatenate([rng.uniform(0, 3, n - 2), [3.0, 9.5]]))
  ends = starts + rng.uniform(0.01, 5.0, n)
  notes = make_notes(rng.randint(24, 85, n), rng.randint(1, 128, n), starts,
                     ends)
  audio = rng.standard_normal((n, AUDIO_LENGTH)).astype(np.float32)
  blocks, held = [], []
  mixer = midi.NoteMixer(sink=blocks.append, max_block=5000)
  for wave, t0, t1, vel in zip(audio, notes.start_times, notes.end_times,
                               notes.velocities):
    mixer.add(midi.onset_sample(t0, SR), midi.shape_note(wave, t1 - t0, vel,
                                                          SR))
    held.append(len(mixer._buf))  # pylint: disable=protected-access
  mixer.close()
  streamed = np.concatenate(blocks)
  assert len(streamed) == mixer.length
  assert max(len(b) for b in blocks) <= 5000
  assert max(held) <= AUDIO_LENGTH
  expected = midi.mix_notes(audio, notes, SR)
  np.testing.assert_array_equal(
      (streamed * (0.5 / mixer.peak)).astype(np.float32), expected)
  with pytest.raises(ValueError, match='onset order'):
    mixer.add(0, np.ones(3))


def test_check_length_refuses_long_files_naming_file_length_and_flag(
    tmp_path):
  path = write_midi(tmp_path / 'long.mid',
                    [(0, False, [(60, 100, 0.0, 1.0), (62, 100, 700.0, 701.0)])])
  with pytest.raises(ValueError, match=r'--midi_file: .*long.mid lasts 701.0 '
                     r's, longer than --max_midi_seconds=600; pass a larger '
                     '--max_midi_seconds'):
    midi.check_length(path, 600)
  assert midi.check_length(path, 800) == pytest.approx(701.0, abs=1e-3)
