"""WAV-folder preparation: mixed formats and rates, stereo, and every kind of bad file."""
import json
import os
import subprocess
import sys

import librosa
import numpy as np
import pytest
import soundfile as sf

from gansynth_tf2.data import audio_files
from gansynth_tf2.data import folders
from gansynth_tf2.data import nsynth
from gansynth_tf2.data import synth

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _note(timbre, pitch, rate=16000, seconds=4.0):
  wave = synth.synthesize(timbre, pitch, audio_length=64000)
  wave = librosa.resample(wave, orig_sr=16000, target_sr=rate)
  n = int(seconds * rate)
  return np.pad(wave[:n], [0, max(0, n - len(wave))])


# file -> expected rejection reason (a substring); None = accepted.
EXPECTED = {
    'organ-048-100.wav': None,
    'stereo/reed-060-090.wav': None,
    'reed-072-100.flac': None,
    'pluck-055-100.ogg': None,
    'broken-060-100.wav': 'unreadable audio',
    'empty-060-100.wav': 'unreadable audio',
    'noframes-060-100.wav': 'empty audio',
    'nan-060-100.wav': 'non-finite samples (NaN or inf): 1 NaN, 0 Inf, the '
                       'first at sample 100 (0.006 s)',
    'inf-060-100.wav': 'non-finite samples (NaN or inf): 0 NaN, 2 Inf, the '
                       'first at sample 16000 (1.000 s)',
    'silence-060-100.wav': 'silent',
    'short-060-100.wav': 'too short',
    'high-100-100.wav': 'pitch 100 outside the model range 24..84',
    'random_name.wav': 'does not match the pitch pattern',
}


@pytest.fixture(scope='module')
def sample_dir(tmp_path_factory):
  d = tmp_path_factory.mktemp('samples')
  (d / 'stereo').mkdir()
  sf.write(d / 'organ-048-100.wav', _note('organ', 48), 16000, 'FLOAT')
  left = _note('reed', 60, rate=44100)
  sf.write(d / 'stereo/reed-060-090.wav', np.stack([left, 0.5 * left], 1),
           44100, 'PCM_16')
  sf.write(d / 'reed-072-100.flac', _note('reed', 72, 22050, seconds=2.0),
           22050)
  sf.write(d / 'pluck-055-100.ogg', _note('pluck', 55, 48000, seconds=6.0),
           48000)
  (d / 'broken-060-100.wav').write_bytes(b'RIFF\x10\x00\x00\x00WAVEjunk' * 7)
  (d / 'empty-060-100.wav').write_bytes(b'')
  sf.write(d / 'noframes-060-100.wav', np.zeros(0), 16000)
  nan = _note('organ', 60)
  nan[100] = np.nan
  sf.write(d / 'nan-060-100.wav', nan, 16000, 'FLOAT')
  inf = _note('organ', 60)
  inf[16000], inf[20000] = np.inf, -np.inf
  sf.write(d / 'inf-060-100.wav', inf, 16000, 'FLOAT')
  sf.write(d / 'silence-060-100.wav', np.zeros(64000), 16000)
  sf.write(d / 'short-060-100.wav', _note('organ', 60, seconds=0.1), 16000)
  sf.write(d / 'high-100-100.wav', _note('organ', 60), 16000)
  sf.write(d / 'random_name.wav', _note('organ', 60), 16000)
  (d / 'readme.txt').write_text('not audio, ignored')
  return d


@pytest.fixture(scope='module')
def prepared(sample_dir, tmp_path_factory):
  out = tmp_path_factory.mktemp('prepared')
  manifest = folders.prepare_folder(str(sample_dir), str(out), progress=False)
  return out, manifest


def test_every_file_accepted_or_rejected_with_reason(prepared):
  _, manifest = prepared
  on_disk = json.loads((prepared[0] / 'manifest.json').read_text())
  assert on_disk['num_examples'] == manifest['num_examples'] == 4
  accepted = {e['file']: e for e in on_disk['accepted']}
  rejected = {e['file']: e['reason'] for e in on_disk['rejected']}
  assert set(accepted) | set(rejected) == set(EXPECTED)
  for name, reason in EXPECTED.items():
    if reason is None:
      assert name in accepted, rejected.get(name)
    else:
      assert reason in rejected[name], (name, rejected[name])
  assert accepted['stereo/reed-060-090.wav']['notes'] == [
      'mixed 2 channels to mono', 'resampled from 44100 Hz']
  assert accepted['stereo/reed-060-090.wav']['velocity'] == 90
  assert 'padded from 2.00 s' in accepted['reed-072-100.flac']['notes']
  assert 'cropped from 6.00 s' in accepted['pluck-055-100.ogg']['notes']
  assert 'notes' not in accepted['organ-048-100.wav']
  assert on_disk['pitch_counts'] == {'48': 1, '55': 1, '60': 1, '72': 1}


def test_prepared_records_read_back(prepared):
  out, _ = prepared
  ds = nsynth.PreparedDataset(str(out))
  got = {}
  for wave, label in ds.provide_dataset().as_numpy_iterator():
    got[int(label.argmax()) + 24] = wave[:, 0]
  assert sorted(got) == [48, 55, 60, 72]
  for pitch, wave in got.items():
    assert wave.shape == (64000,) and np.all(np.abs(wave) <= 1)
    # The resampled, mixed and padded notes keep their pitch.
    assert audio_files.estimate_pitch(wave) == pitch
  # The 2 s FLAC was padded with silence.
  assert np.all(got[72][33000:] == 0) and np.abs(got[72][:30000]).max() > 0.1
  assert ds.get_pitch_counts()[55] == 1


def test_estimate_pitch_and_note_name_pattern(tmp_path):
  src = tmp_path / 'in'
  src.mkdir()
  sf.write(src / 'take_1.wav', _note('organ', 50), 16000)
  sf.write(src / 'mislabeled-040-100.wav', _note('pluck', 67), 16000)
  noise = np.random.default_rng(0).uniform(-0.5, 0.5, 64000)
  sf.write(src / 'noise.wav', noise, 16000)
  manifest = folders.prepare_folder(str(src), str(tmp_path / 'out'),
                                    estimate_pitches=True, progress=False)
  accepted = {e['file']: e for e in manifest['accepted']}
  assert accepted['take_1.wav']['pitch'] == 50
  assert accepted['mislabeled-040-100.wav']['pitch'] == 67
  assert accepted['mislabeled-040-100.wav']['notes'] == [
      'file name says pitch 40, pYIN 67']
  assert 'no clear pitch' in manifest['rejected'][0]['reason']

  # The same through the tool's --estimate_pitch flag.
  proc = subprocess.run(
      [sys.executable, os.path.join(ROOT, 'tools', 'prepare_dataset.py'),
       f'--input_dir={src}', f'--output_dir={tmp_path / "out_cli"}',
       '--estimate_pitch', '--num_workers=1'],
      capture_output=True, text=True, check=False, timeout=300)
  assert proc.returncode == 0, proc.stderr[-3000:]
  on_disk = json.loads((tmp_path / 'out_cli' / 'manifest.json').read_text())
  assert on_disk['accepted'] == manifest['accepted']
  assert on_disk['rejected'] == manifest['rejected']

  named = tmp_path / 'named'
  named.mkdir()
  sf.write(named / 'piano_C#4.wav', _note('organ', 61), 16000)
  manifest = folders.prepare_folder(
      str(named), str(tmp_path / 'out2'),
      pitch_regex=r'^(?P<name>.+)_(?P<note>[A-G][#b]?-?\d)$', progress=False)
  assert manifest['accepted'][0]['pitch'] == 61
  assert manifest['accepted'][0]['note_str'] == 'piano-061-100'


def test_whole_dataset_errors(tmp_path):
  (tmp_path / 'empty').mkdir()
  with pytest.raises(FileNotFoundError, match='No audio files'):
    folders.prepare_folder(str(tmp_path / 'empty'), str(tmp_path / 'o'))
  bad = tmp_path / 'bad'
  bad.mkdir()
  sf.write(bad / 'x-060-100.wav', np.zeros(64000), 16000)
  with pytest.raises(RuntimeError, match='(?s)All 1 audio files.*manifest'):
    folders.prepare_folder(str(bad), str(tmp_path / 'o2'), progress=False)
  manifest = json.loads((tmp_path / 'o2' / 'manifest.json').read_text())
  assert manifest['rejected'][0]['reason'].startswith('silent')
  assert not list((tmp_path / 'o2').glob('*.tfrecord*'))
  with pytest.raises(ValueError, match='pitch_regex'):
    folders.prepare_folder(str(bad), str(tmp_path / 'o3'),
                           pitch_regex=r'^(?P<name>.+)$', progress=False)


def test_tool_in_parallel_matches_in_process(sample_dir, prepared, tmp_path):
  """The tool on 2 workers = prepare_folder in-process, except that
  --min_pitch=49 also rejects organ-048 (and moves the range in the reasons)."""
  proc = _prepare_tool(f'--input_dir={sample_dir}', f'--output_dir={tmp_path}',
                       '--num_workers=2', '--num_shards=2', '--min_pitch=49',
                       '--max_pitch=84')
  assert proc.returncode == 0, proc.stderr[-3000:]
  assert 'Accepted 3 notes, rejected 10' in proc.stdout
  assert ('rejected inf-060-100.wav: non-finite samples (NaN or inf): 0 NaN, 2 '
          'Inf, the first at sample 16000 (1.000 s)') in proc.stdout
  assert 'rejected random_name.wav: file name' in proc.stdout
  manifest = json.loads((tmp_path / 'manifest.json').read_text())
  assert manifest['shards'] == ['train.tfrecord-00000-of-00002',
                                'train.tfrecord-00001-of-00002']
  in_process = prepared[1]
  organ = [e for e in in_process['accepted']
           if e['file'] == 'organ-048-100.wav']
  assert manifest['accepted'] == [e for e in in_process['accepted']
                                  if e not in organ]
  expected = {e['file']: dict(e, reason=e['reason'].replace('24..84',
                                                            '49..84'))
              for e in in_process['rejected']}
  expected['organ-048-100.wav'] = dict(
      organ[0], reason='pitch 48 outside the model range 49..84')
  assert {e['file']: e for e in manifest['rejected']} == expected
  assert manifest['config']['min_pitch'] == 49



def _prepare_tool(*args):
  return subprocess.run(
      [sys.executable, os.path.join(ROOT, 'tools', 'prepare_dataset.py')]
      + list(args), capture_output=True, text=True, check=False, timeout=300)


def test_min_pitch_above_max_pitch_is_refused_before_writing(tmp_path):
  src = tmp_path / 'src'
  src.mkdir()
  sf.write(src / 'organ-060-100.wav', _note('organ', 60), 16000)
  out = tmp_path / 'out'
  proc = _prepare_tool(f'--input_dir={src}', f'--output_dir={out}',
                       '--min_pitch=90', '--max_pitch=30')
  assert proc.returncode == 1
  assert proc.stderr.strip().splitlines() == [
      'error: --min_pitch=90 and --max_pitch=30: expected 0 <= --min_pitch '
      '<= --max_pitch <= 127 (MIDI pitches kept)'], proc.stderr[-3000:]
  assert not out.exists()  # was: every file rejected, a manifest written
  with pytest.raises(ValueError, match='min_pitch=90, max_pitch=30'):
    folders.prepare_folder(str(src), str(out), min_pitch=90, max_pitch=30,
                           progress=False)
  assert not out.exists()
