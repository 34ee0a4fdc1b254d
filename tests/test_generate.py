"""Tests for generate.py: every mode writes WAV + PNG + JSON; bad input leaves nothing."""
import json
import os
import subprocess
import sys

import numpy as np
import pretty_midi
import pytest
import soundfile

import gansynth_tf2 as gansynth
from gansynth_tf2 import generate
from gansynth_tf2 import midi
from gansynth_tf2 import writers

SR = 16000


class StandInModel:
  """Deterministic stand-in with load_model's API: a sine per note whose
  amplitude and phase come from z. Lets the file handling be tested fast."""
  min_pitch, max_pitch, latent_size, sample_rate = 24, 84, 256, SR
  pitch_counts = {p: (p % 5) + 1 for p in range(24, 85)}
  pitches = list(range(24, 85))

  def __init__(self):
    self.calls = []

  def generate_z(self, n, seed=None):
    return np.random.RandomState(seed).standard_normal(
        (n, self.latent_size)).astype(np.float32)

  def sample_pitches(self, n, seed=None):
    return np.random.RandomState(seed).choice(sorted(self.pitch_counts), n)

  def generate_from_z(self, z, pitches):
    z, pitches = np.asarray(z), np.asarray(pitches)
    self.calls.append(len(z))
    t = np.arange(64000) / SR
    hz = 440.0 * 2.0**((pitches[:, None] - 69) / 12.0)
    amp = 0.1 + np.abs(z[:, :1])
    return (amp * np.sin(2 * np.pi * hz * t + z[:, 1:2])).astype(np.float32)


@pytest.fixture
def model():
  return StandInModel()


def write_midi(path, notes, drums=()):
  pm = pretty_midi.PrettyMIDI()
  piano = pretty_midi.Instrument(program=0)
  piano.notes = [pretty_midi.Note(velocity=v, pitch=p, start=s, end=e)
                 for p, v, s, e in notes]
  pm.instruments.append(piano)
  if drums:
    kit = pretty_midi.Instrument(program=0, is_drum=True)
    kit.notes = [pretty_midi.Note(velocity=v, pitch=p, start=s, end=e)
                 for p, v, s, e in drums]
    pm.instruments.append(kit)
  pm.write(str(path))
  return str(path)


def read_meta(out):
  with open(os.path.join(out, 'generated.json')) as f:
    return json.load(f)


def test_random_notes_write_wavs_pngs_z_and_json(tmp_path, model):
  out = tmp_path / 'out'
  meta = generate.run('ckpt', str(out), model=model, pitches=['60', 'C5', 'A#3'],
                      seed=7, batch_size=2)
  names = sorted(os.listdir(out))
  assert names == sorted(
      [f'generated_{i}.{e}' for i in range(3) for e in ('wav', 'png')]
      + ['generated.json', 'z.npy'])
  assert read_meta(out) == meta
  assert meta['pitches'] == [60, 72, 58] and meta['seed'] == 7
  assert model.calls == [2, 1]  # batched by --batch_size
  z = np.load(out / 'z.npy')
  np.testing.assert_array_equal(z, model.generate_z(3, seed=7))
  expected = model.generate_from_z(z, meta['pitches'])
  for i, entry in enumerate(meta['files']):
    audio, sr = soundfile.read(out / entry['wav'], dtype='float32')
    assert sr == SR and soundfile.info(out / entry['wav']).subtype == 'FLOAT'
    # As generated, scaled only when over full scale (gain in the JSON).
    np.testing.assert_allclose(audio, expected[i] * np.float32(entry['gain']),
                               rtol=1e-6, atol=1e-7)
    assert (out / entry['png']).read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'


def test_random_pitches_follow_the_training_distribution_and_seed(tmp_path,
                                                                   model):
  a = generate.run('ckpt', str(tmp_path / 'a'), model=model, n=40, seed=3,
                   png=False)
  b = generate.run('ckpt', str(tmp_path / 'b'), model=model, n=40, seed=3,
                   png=False)
  assert a['pitches'] == b['pitches']
  assert set(a['pitches']) <= set(model.pitch_counts)
  c = generate.run('ckpt', str(tmp_path / 'c'), model=model, n=40, png=False)
  assert isinstance(c['seed'], int) and c['seed'] != 3


def test_midi_file_renders_one_clip_with_piano_roll(tmp_path, model):
  path = write_midi(tmp_path / 'song.mid',
                    [(60, 100, 0.0, 0.5), (64, 50, 0.5, 1.0),
                     (67, 127, 1.0, 9.0), (100, 90, 0.0, 1.0)],
                    drums=[(36, 100, 0.0, 0.1)])
  out = tmp_path / 'out'
  meta = generate.run('ckpt', str(out), model=model, midi_file=path, seed=1,
                      secs_per_instrument=0.5)
  assert sorted(os.listdir(out)) == ['generated.json', 'generated_clip.png',
                                     'generated_clip.wav', 'z.npy']
  assert meta['notes'] == 3
  assert meta['skipped'] == {'drum_notes': 1, 'out_of_range_notes': 1,
                             'zero_length_notes': 0}
  # 9 s of MIDI -> instruments every 0.5 s; all saved for reuse.
  assert len(meta['instrument_times']) == 19
  assert np.load(out / 'z.npy').shape == (19, 256)
  clip, sr = soundfile.read(out / 'generated_clip.wav', dtype='float32')
  # The 8 s note is truncated to the model's 4 s, release included.
  assert len(clip) == SR + 64000
  assert np.abs(clip).max() == pytest.approx(0.5, rel=1e-5)


def test_z_file_fixes_the_instruments(tmp_path, model):
  first = generate.run('ckpt', str(tmp_path / 'a'), model=model, n=2, seed=5,
                       png=False)
  assert first['z'] == 'z.npy'
  path = write_midi(tmp_path / 'song.mid',
                    [(60, 100, 0.0, 1.0), (62, 100, 4.0, 5.0)])
  out = tmp_path / 'b'
  meta = generate.run('ckpt', str(out), model=model, midi_file=path,
                      z_file=str(tmp_path / 'a' / 'z.npy'), png=False)
  np.testing.assert_array_equal(np.load(out / 'z.npy'),
                                np.load(tmp_path / 'a' / 'z.npy'))
  assert meta['instrument_times'] == [0.0, 5.0]


def test_timbre_sweep_holds_one_z_across_pitches(tmp_path, model):
  out = tmp_path / 'out'
  meta = generate.run('ckpt', str(out), model=model, timbre_sweep=True,
                      pitches=['36', '48', '60'], seed=2, png=False)
  assert meta['mode'] == 'timbre_sweep' and meta['pitches'] == [36, 48, 60]
  assert np.load(out / 'z.npy').shape == (1, 256)
  assert [f['wav'] for f in meta['files']] == [
      'timbre_sweep_0.wav', 'timbre_sweep_1.wav', 'timbre_sweep_2.wav']
  assert meta['summary']['wav'] == 'timbre_sweep.wav'
  assert 0.0 < meta['summary']['gain'] <= 1.0
  # Same z: same amplitude, only the pitch changes.
  peaks = [np.abs(soundfile.read(out / f['wav'])[0]).max()
           for f in meta['files']]
  np.testing.assert_allclose(peaks, peaks[0], rtol=1e-3)
  full = generate.run('ckpt', str(tmp_path / 'full'), model=model,
                      timbre_sweep=True, png=False)
  assert full['pitches'] == list(range(24, 85))


def test_interpolate_slerps_between_two_z(tmp_path, model):
  ends = model.generate_z(2, seed=11)
  np.save(tmp_path / 'ends.npy', ends)
  out = tmp_path / 'out'
  meta = generate.run('ckpt', str(out), model=model, interpolate=5,
                      z_file=str(tmp_path / 'ends.npy'), pitches=['G4'])
  assert meta['pitches'] == [67] * 5 and meta['steps'] == [0, .25, .5, .75, 1]
  gains = [f['gain'] for f in meta['files']]
  first = soundfile.read(out / 'interpolation_0.wav', dtype='float32')[0]
  first = first / gains[0]
  last = soundfile.read(out / 'interpolation_4.wav', dtype='float32')[0]
  last = last / gains[4]
  np.testing.assert_allclose(first, model.generate_from_z(ends[:1], [67])[0],
                             atol=1e-6)
  np.testing.assert_allclose(last, model.generate_from_z(ends[1:], [67])[0],
                             atol=1e-6)
  assert (out / 'interpolation.png').exists()


@pytest.mark.parametrize('kwargs, error, message', [
    (dict(pitches=['200']), ValueError, "outside the model's pitch range 24..84"),
    (dict(pitches=['H9']), ValueError, 'neither a MIDI number nor a note name'),
    (dict(timbre_sweep=True, interpolate=3), ValueError, 'choose one of'),
    (dict(interpolate=1), ValueError, 'at least 2 steps'),
    (dict(interpolate=3, pitches=['60', '62']), ValueError, 'one pitch'),
    (dict(midi_file='missing.mid'), FileNotFoundError, 'no such file'),
    (dict(batch_size=0), ValueError, '--batch_size'),
])
def test_bad_arguments_fail_before_writing(tmp_path, model, kwargs, error,
                                           message):
  out = tmp_path / 'out'
  with pytest.raises(error, match=message):
    generate.run('ckpt', str(out), model=model, **kwargs)
  assert os.listdir(tmp_path) == []


@pytest.mark.parametrize('z, mode, message', [
    (np.zeros((2, 100)), {}, r'shape \(2, 100\), expected \[k, 256\]'),
    (np.zeros((3, 256)), {'interpolate': 4}, 'holds 3 vectors, this mode needs '
     'exactly 2'),
    (np.zeros((2, 256)), {'timbre_sweep': True}, 'exactly 1'),
    (np.full((1, 256), np.nan), {}, 'NaN'),
    (np.zeros((0, 256)), {}, r'shape \(0, 256\)'),
])
def test_bad_z_file(tmp_path, model, z, mode, message):
  np.save(tmp_path / 'z.npy', z)
  with pytest.raises(ValueError, match='--z_file: .*' + message):
    generate.run('ckpt', str(tmp_path / 'out'), model=model,
                 z_file=str(tmp_path / 'z.npy'), **mode)
  garbage = tmp_path / 'garbage.npy'
  garbage.write_bytes(b'not numpy')
  with pytest.raises(ValueError, match='not a .npy array file'):
    generate.run('ckpt', str(tmp_path / 'out'), model=model,
                 z_file=str(garbage))
  assert sorted(os.listdir(tmp_path)) == ['garbage.npy', 'z.npy']


def test_bad_midi_leaves_no_output(tmp_path, model):
  drums_only = write_midi(tmp_path / 'drums.mid', [], drums=[(36, 9, 0, 1)])
  with pytest.raises(ValueError, match='1 drum-track notes'):
    generate.run('ckpt', str(tmp_path / 'out'), model=model,
                 midi_file=drums_only)
  assert not (tmp_path / 'out').exists()
  assert sorted(os.listdir(tmp_path)) == ['drums.mid']


def test_midi_is_rendered_streamed_as_the_in_memory_mix(tmp_path, model):
  """--midi_file generates and mixes in batches and streams the WAV: the
  clip is what mixing every note's audio at once (midi.mix_notes) gives,
  through overlaps, a silence longer than the mixer's blocks and a note
  longer than the model's."""
  path = write_midi(tmp_path / 'song.mid',
                    [(60, 100, 0.0, 0.5), (64, 50, 0.25, 1.0),
                     (67, 127, 0.25, 9.0), (48, 90, 0.3, 0.31),
                     (72, 20, 14.0, 15.0)])
  out = tmp_path / 'out'
  meta = generate.run('ckpt', str(out), model=model, midi_file=path, seed=2,
                      secs_per_instrument=4.0, batch_size=2)
  assert model.calls == [2, 2, 1]  # batched by --batch_size
  notes, _ = midi.load_midi(path, model.min_pitch, model.max_pitch)
  z = midi.z_for_notes(notes.start_times, np.load(out / 'z.npy'),
                                meta['instrument_times'])
  expected = midi.mix_notes(model.generate_from_z(z, notes.pitches),
                                     notes, SR)
  clip, _ = soundfile.read(out / 'generated_clip.wav', dtype='float32')
  np.testing.assert_array_equal(clip, expected)
  assert meta['files'] == [{'wav': 'generated_clip.wav', 'gain': 1.0,
                            'png': 'generated_clip.png'}]
  assert (out / 'generated_clip.png').read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
  assert sorted(os.listdir(out)) == ['generated.json', 'generated_clip.png',
                                     'generated_clip.wav', 'z.npy']


def test_midi_longer_than_max_midi_seconds_is_refused_before_work(
    tmp_path, model, run_main):
  path = write_midi(tmp_path / 'song.mid', [(60, 100, 0.0, 1.0),
                                             (62, 100, 11.0, 12.5)])
  with pytest.raises(ValueError, match=r'song.mid lasts 12.5 s, longer than '
                     r'--max_midi_seconds=10'):
    generate.run('ckpt', str(tmp_path / 'out'), model=model, midi_file=path,
                 max_midi_seconds=10)
  assert model.calls == []
  # The command line: one line, before the model loads, nothing written.
  result = run_main(generate, [f'--ckpt_dir={tmp_path}',
                               f'--output_dir={tmp_path / "out"}',
                               f'--midi_file={path}', '--max_midi_seconds=12'])
  assert result.returncode == 1
  assert len(result.stderr.strip().splitlines()) == 1, result.stderr
  assert result.stderr.startswith(
      f'gansynth_tf2.generate: error: --midi_file: {path} lasts 12.5 s, '
      'longer than --max_midi_seconds=12; pass a larger --max_midi_seconds')
  assert sorted(os.listdir(tmp_path)) == ['song.mid']
  meta = generate.run('ckpt', str(tmp_path / 'out'), model=model,
                      midi_file=path, max_midi_seconds=12.5, png=False)
  assert meta['notes'] == 2


def test_cli_unwritable_output_dir_is_refused_before_the_model_loads(
    tmp_path, run_main):
  """A file where a folder is expected (root or not, nothing can write
  there): one line naming the flag and the path, before TensorFlow loads a
  model (the checkpoint here is an empty folder)."""
  (tmp_path / 'a_file').write_text('x')
  out = tmp_path / 'a_file' / 'sub'
  result = run_main(generate, [f'--ckpt_dir={tmp_path}',
                               f'--output_dir={out}', '--n=1'])
  assert result.returncode == 1
  assert result.stderr.strip() == (
      f'gansynth_tf2.generate: error: --output_dir: cannot write to {out}: '
      f'{tmp_path / "a_file"} is a file, not a folder')
  assert sorted(os.listdir(tmp_path)) == ['a_file']


def test_cli_output_dir_on_a_full_disk_is_refused_before_work(tmp_path):
  """The real command line with a file-size limit of 1 KiB (a write past it
  fails with EFBIG, as on a full disk, root included; Python's start-up
  still writes its few bytes): refused before the model loads (the
  checkpoint is an empty folder), nothing left behind."""
  import resource  # pylint: disable=import-outside-toplevel

  def no_writes():
    resource.setrlimit(resource.RLIMIT_FSIZE, (1024, 1024))

  out = tmp_path / 'out'
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL='2')
  result = subprocess.run(
      [sys.executable, '-m', 'gansynth_tf2.generate', f'--ckpt_dir={tmp_path}',
       f'--output_dir={out}', '--n=1'], env=env, capture_output=True,
      text=True, timeout=120, preexec_fn=no_writes, check=False)
  assert result.returncode == 1, result.stderr
  last = result.stderr.strip().splitlines()[-1]
  assert last.startswith(f'gansynth_tf2.generate: error: --output_dir: '
                         f'cannot write to {out}: File too large'), last
  assert os.listdir(tmp_path) == []


def test_output_dir_not_empty_needs_overwrite(tmp_path, model):
  out = tmp_path / 'out'
  out.mkdir()
  (out / 'keep.txt').write_text('mine')
  with pytest.raises(FileExistsError, match='--overwrite'):
    generate.run('ckpt', str(out), model=model, n=1)
  generate.run('ckpt', str(out), model=model, n=1, overwrite=True, png=False)
  assert sorted(os.listdir(out)) == ['generated.json', 'generated_0.wav',
                                     'keep.txt', 'z.npy']
  assert sorted(os.listdir(tmp_path)) == ['out']  # no staging dirs left


def test_failure_while_writing_removes_the_staging_dir(tmp_path, model,
                                                       monkeypatch):
  def broken(*args, **kwargs):
    raise OSError('disk full')
  monkeypatch.setattr(writers, 'write_png', broken)
  with pytest.raises(OSError, match='disk full'):
    generate.run('ckpt', str(tmp_path / 'out'), model=model, n=2)
  assert os.listdir(tmp_path) == []


# The real thing: the tiny Magenta oracle checkpoint through load_model and
# the command line.


@pytest.fixture(scope='module')
def oracle_model(oracle_ckpt_dir):
  return gansynth.load_model(oracle_ckpt_dir, batch_size=2)


def run_cli(args, cwd):
  """The command line in a fresh interpreter (one test: the real thing)."""
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL='2')
  return subprocess.run([sys.executable, '-m', 'gansynth_tf2.generate'] + args,
                        cwd=cwd, env=env, capture_output=True, text=True,
                        timeout=300)


def test_cli_plays_magentas_latents_as_magenta_does(oracle_ckpt_dir, oracle,
                                                    tmp_path):
  """The issue's promise: one command, Magenta's audio for the same z."""
  np.save(tmp_path / 'z.npy', oracle['z'])
  pitches = ','.join(str(p) for p in oracle['pitches'])
  out = tmp_path / 'out'
  result = run_cli([f'--ckpt_dir={oracle_ckpt_dir}', f'--output_dir={out}',
                    f'--z_file={tmp_path / "z.npy"}', f'--pitches={pitches}',
                    f'--batch_size={int(oracle["ref_batch"])}'], cwd=tmp_path)
  assert result.returncode == 0, result.stderr[-3000:]
  assert f'wrote {len(oracle["z"])} clips' in result.stdout
  meta = read_meta(out)
  assert meta['checkpoint'] == str(oracle_ckpt_dir)
  assert meta['pitches'] == oracle['pitches'].tolist()
  peak = np.abs(oracle['gen_waves']).max()
  errors = []
  for i, expected in enumerate(oracle['gen_waves']):
    audio, sr = soundfile.read(out / f'generated_{i}.wav', dtype='float32')
    assert sr == SR and audio.shape == (64000,)
    # Undo the full-scale fit that generated.json records.
    audio = audio / meta['files'][i]['gain']
    errors.append(np.abs(audio - expected).max() / peak)
    assert (out / f'generated_{i}.png').stat().st_size > 1000
  print(f'CLI WAVs vs Magenta gen_waves: max error {max(errors):.2e} of peak')
  assert max(errors) <= 1e-3, f'max error {max(errors):.2e} of peak'


def test_seeded_random_notes_are_load_models_generate_samples(
    oracle_ckpt_dir, oracle_model, tmp_path):
  meta = generate.run(str(oracle_ckpt_dir), str(tmp_path / 'out'),
                      model=oracle_model, n=3, seed=3, batch_size=2, png=False)
  expected = oracle_model.generate_samples(3, seed=3)
  assert meta['pitches'] == oracle_model.sample_pitches(3, 3).tolist()
  for i in range(3):
    audio, _ = soundfile.read(tmp_path / 'out' / f'generated_{i}.wav',
                              dtype='float32')
    gain = np.float32(meta['files'][i]['gain'])
    np.testing.assert_allclose(audio, expected[i] * gain, rtol=1e-6,
                               atol=1e-7)


def test_cli_bad_input_is_one_clear_line(oracle_ckpt_dir, tmp_path, run_main):
  garbled = tmp_path / 'song.mid'
  garbled.write_bytes(b'MThd garbage')
  out = tmp_path / 'out'
  result = run_main(generate, [f'--ckpt_dir={oracle_ckpt_dir}',
                               f'--output_dir={out}', f'--midi_file={garbled}'])
  assert result.returncode == 1
  assert result.stderr.startswith('gansynth_tf2.generate: error: --midi_file:')
  assert 'not a readable MIDI file' in result.stderr
  assert len(result.stderr.strip().splitlines()) == 1
  assert sorted(os.listdir(tmp_path)) == ['song.mid']


def test_midi_with_the_oracle_checkpoint(oracle_ckpt_dir, oracle_model,
                                         tmp_path):
  path = write_midi(tmp_path / 'song.mid', [(48, 100, 0.0, 0.4),
                                             (60, 80, 0.2, 0.6),
                                             (72, 60, 0.5, 5.0)])
  out = tmp_path / 'out'
  meta = generate.run(str(oracle_ckpt_dir), str(out), model=oracle_model,
                      midi_file=path, seed=0, batch_size=2)
  assert meta['notes'] == 3
  clip, _ = soundfile.read(out / 'generated_clip.wav', dtype='float32')
  assert len(clip) == int(0.5 * SR) + 64000
  assert np.all(np.isfinite(clip))
  assert np.abs(clip).max() == pytest.approx(0.5, rel=1e-5)
  # Sound where the notes are, the 5 s note cut at the model's 4 s.
  assert np.abs(clip[:int(0.4 * SR)]).max() > 0.01
  assert np.abs(clip[-100:]).max() < 0.01


def test_one_instrument_z_file_plays_the_whole_midi(tmp_path, model):
  np.save(tmp_path / 'one.npy', model.generate_z(1, seed=4)[0])  # [256]
  path = write_midi(tmp_path / 'song.mid',
                    [(60, 100, 0.0, 1.0), (64, 100, 3.0, 4.0)])
  meta = generate.run('ckpt', str(tmp_path / 'out'), model=model,
                      midi_file=path, z_file=str(tmp_path / 'one.npy'),
                      png=False)
  assert meta['instrument_times'] == [0.0]
  assert np.load(tmp_path / 'out' / 'z.npy').shape == (1, 256)


def test_progress_bar_counts_notes(model, capsys):
  z = model.generate_z(5, seed=0)
  audio = generate.synthesize(model, z, [60] * 5, batch_size=2, progress=True)
  assert audio.shape == (5, 64000)
  assert '5/5' in capsys.readouterr().err
  generate.synthesize(model, z, [60] * 5, batch_size=2, progress=False)
  assert capsys.readouterr().err == ''


# Flags only the command line passes (issue 10): each run and checked.


def test_cli_missing_checkpoint_is_one_line_and_quick(tmp_path, run_main):
  out = tmp_path / 'out'
  result = run_main(generate, [f'--ckpt_dir={tmp_path / "absent"}',
                               f'--output_dir={out}', '--n=1'])
  assert result.returncode == 1
  assert result.stderr.startswith(
      f'gansynth_tf2.generate: error: --ckpt_dir: no such directory: '
      f'{tmp_path / "absent"} (expected a training directory or a Magenta '
      'checkpoint'), result.stderr
  assert len(result.stderr.strip().splitlines()) == 1
  assert os.listdir(tmp_path) == []


def test_cli_n_pitches_no_png_no_use_ema(oracle_ckpt_dir, oracle_model,
                                         tmp_path, run_main):
  """--n=3 --pitches=48,60 --nopng --nouse_ema: three notes (pitches
  cycled) from the raw generator weights, no PNGs."""
  out = tmp_path / 'out'
  result = run_main(
      generate, [f'--ckpt_dir={oracle_ckpt_dir}', f'--output_dir={out}',
                 '--n=3', '--pitches=48,60', '--seed=7', '--batch_size=2',
                 '--nopng', '--nouse_ema'])
  assert result.returncode == 0, result.stderr[-3000:]
  assert 'wrote 3 clips' in result.stdout
  assert sorted(os.listdir(out)) == ['generated.json', 'generated_0.wav',
                                     'generated_1.wav', 'generated_2.wav',
                                     'z.npy']
  meta = read_meta(out)
  assert meta['use_ema'] is False and meta['pitches'] == [48, 60, 48]
  z = np.load(out / 'z.npy')
  audio = np.stack([soundfile.read(out / f['wav'], dtype='float32')[0]
                    / f['gain'] for f in meta['files']])
  assert audio.shape == (3, 64000) and np.all(np.isfinite(audio))
  # Not the EMA weights' notes for the same z (those the CLI matches to
  # 1.6e-4 of peak by default: test_cli_plays_magentas_latents_...).
  ema = oracle_model.generate_from_z(z, [48, 60, 48])
  assert np.abs(audio - ema).max() > 0.05 * np.abs(ema).max()


def test_cli_secs_per_instrument_and_overwrite(oracle_ckpt_dir, tmp_path,
                                               run_main):
  """--midi_file --secs_per_instrument=0.5 into a non-empty --output_dir
  with --overwrite: a latent vector every 0.5 s of the 2 s song (the
  default 6 s gives 2), the PNG (--png is the default), other files kept."""
  song = write_midi(tmp_path / 'song.mid', [(48, 100, 0.0, 1.0),
                                             (60, 100, 1.0, 2.0)])
  out = tmp_path / 'out'
  out.mkdir()
  (out / 'notes.txt').write_text('an earlier file')
  args = [f'--ckpt_dir={oracle_ckpt_dir}', f'--output_dir={out}',
          f'--midi_file={song}', '--secs_per_instrument=0.5', '--seed=0',
          '--batch_size=2', '--overwrite']
  result = run_main(generate, args)
  assert result.returncode == 0, result.stderr[-3000:]
  meta = read_meta(out)
  assert meta['secs_per_instrument'] == 0.5
  assert meta['instrument_times'] == [0.0, 0.5, 1.0, 1.5, 2.0]
  assert np.load(out / 'z.npy').shape == (5, 256)
  assert sorted(os.listdir(out)) == ['generated.json', 'generated_clip.png',
                                     'generated_clip.wav', 'notes.txt',
                                     'z.npy']


def test_non_integer_pitches_are_refused(tmp_path, model, oracle_model):
  with pytest.raises(ValueError, match="--pitches: '60.5' is neither a MIDI "
                     'number nor a note name'):
    generate.run('ckpt', str(tmp_path / 'out'), model=model,
                 pitches=['60.5'])
  assert os.listdir(tmp_path) == []
  # load_model's API: not rounded or truncated to a pitch it has.
  with pytest.raises(ValueError, match='pitches must be integer MIDI numbers'):
    oracle_model.generate_from_z(np.zeros([1, 256], np.float32), [60.5])


def test_cli_exact_is_load_model_exact(oracle_ckpt_dir, oracle, tmp_path,
                                       run_main):
  """--exact: Magenta's arithmetic (load_model(exact=True)), recorded in
  generated.json; refused with --xla or a 16-bit --precision, before
  anything is loaded or written."""
  n = 3
  np.save(tmp_path / 'z.npy', oracle['z'][:n])
  pitches = oracle['pitches'][:n]
  out = tmp_path / 'out'
  result = run_main(
      generate, [f'--ckpt_dir={oracle_ckpt_dir}', f'--output_dir={out}',
                 f'--z_file={tmp_path / "z.npy"}',
                 '--pitches=' + ','.join(str(p) for p in pitches),
                 f'--batch_size={n}', '--nopng', '--exact'])
  assert result.returncode == 0, result.stderr[-3000:]
  assert f'wrote {n} clips' in result.stdout
  meta = read_meta(out)
  assert meta['arithmetic'] == 'exact'
  exact = gansynth.load_model(oracle_ckpt_dir, batch_size=n, exact=True)
  expected = exact.generate_from_z(oracle['z'][:n], pitches)
  for i, entry in enumerate(meta['files']):
    audio, _ = soundfile.read(out / entry['wav'], dtype='float32')
    # The WAV holds the float32 audio times the recorded gain (1 when the
    # clip is within full scale).
    np.testing.assert_allclose(audio, expected[i] * np.float32(entry['gain']),
                               rtol=1e-6, atol=1e-7)
  for extra, error in ((['--xla'], 'cannot be combined with --xla'),
                       (['--precision=bf16'], 'needs --precision=fp32')):
    bad = tmp_path / 'bad'
    result = run_main(generate, [f'--ckpt_dir={oracle_ckpt_dir}',
                                 f'--output_dir={bad}', '--n=1',
                                 '--exact'] + extra)
    assert result.returncode == 1
    assert result.stderr.startswith(
        'gansynth_tf2.generate: error: --exact '), result.stderr
    assert error in result.stderr
    assert not bad.exists()
