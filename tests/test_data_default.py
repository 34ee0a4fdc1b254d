"""The embedded default dataset: built once into the cache, atomically, and reused."""
import json
import os

import librosa
import numpy as np
import pytest

from gansynth_tf2 import files
from gansynth_tf2.data import default
from gansynth_tf2.data import synth


def test_numpy_backend_builds_once_and_reuses(tmp_path):
  ds = default.DefaultDataset(cache_dir=str(tmp_path), backend='numpy')
  assert ds.data_dir == str(tmp_path / 'default_v1_numpy')
  shard = os.path.join(ds.data_dir, 'train.tfrecord')
  mtime = os.path.getmtime(shard)
  again = default.DefaultDataset(cache_dir=str(tmp_path), backend='numpy')
  assert again.data_dir == ds.data_dir
  assert os.path.getmtime(shard) == mtime  # reused, not rebuilt
  assert sorted(os.listdir(tmp_path)) == ['default_v1_numpy']
  counts = ds.get_pitch_counts()
  assert len(counts) == 61
  assert {p for p, c in counts.items() if c} == set(default.PITCHES)
  assert set(counts.values()) == {0, len(synth.TIMBRES)}
  n = sum(1 for _ in ds.provide_dataset())
  assert n == len(default.PITCHES) * len(synth.TIMBRES)


def test_cache_dir_from_environment(tmp_path, monkeypatch):
  monkeypatch.setenv(default.CACHE_ENV, str(tmp_path / 'env'))
  assert default.cache_root() == str(tmp_path / 'env')
  assert default.cache_root(str(tmp_path / 'arg')) == str(tmp_path / 'arg')
  monkeypatch.delenv(default.CACHE_ENV)
  assert default.cache_root() == os.path.expanduser('~/.cache/gansynth_tf2')


def test_interrupted_build_leaves_no_cache(tmp_path, monkeypatch):
  def killed(folder):
    (tmp_path / 'partial').write_text(folder)
    with open(os.path.join(folder, 'train.tfrecord'), 'w') as f:
      f.write('half written')
    raise KeyboardInterrupt
  monkeypatch.setattr(default, '_synthesize_into', killed)
  with pytest.raises(KeyboardInterrupt):
    default.build_default_dataset(str(tmp_path), backend='numpy')
  partial = (tmp_path / 'partial').read_text()
  assert not os.path.exists(partial)
  assert os.listdir(tmp_path) == ['partial']  # no final folder, no temp
  monkeypatch.undo()
  # A build killed outright (no cleanup ran) leaves its temp folder; an old
  # one is removed by the next build.
  stale = tmp_path / '.default_v1_numpy.tmp-killed'  # files.publish_dir's name
  stale.mkdir()
  os.utime(stale, (0, 0))
  folder = default.build_default_dataset(str(tmp_path), backend='numpy')
  assert not stale.exists()
  manifest = json.loads(open(os.path.join(folder, 'manifest.json')).read())
  assert manifest['num_examples'] == len(default.PITCHES) * len(synth.TIMBRES)


def test_fluidsynth_backend_renders_gm_programs(tmp_path):
  ds = default.DefaultDataset(cache_dir=str(tmp_path), backend='fluidsynth')
  assert os.path.basename(ds.data_dir).startswith('default_v1_')
  manifest = json.loads(open(os.path.join(ds.data_dir,
                                          'manifest.json')).read())
  assert manifest['source'] == 'soundfont'
  assert manifest['config']['programs'] == list(default.PROGRAMS)
  assert manifest['num_examples'] == len(default.PROGRAMS) * len(
      default.PITCHES)


@pytest.mark.parametrize('timbre', sorted(synth.TIMBRES))
def test_synth_timbres_are_pitched(timbre):
  for pitch in (24, 60, 84):
    wave = synth.synthesize(timbre, pitch)
    assert wave.shape == (64000,) and wave.dtype == np.float32
    assert np.isclose(np.abs(wave).max(), 0.5 * 100 / 127)
    assert np.abs(wave[-800:]).max() < 1e-3  # released before the end
    f0, voiced, _ = librosa.pyin(wave[:16000], fmin=librosa.midi_to_hz(21),
                                 fmax=librosa.midi_to_hz(96), sr=16000,
                                 frame_length=2048, resolution=0.25)
    measured = librosa.hz_to_midi(np.median(f0[voiced]))
    assert abs(measured - pitch) < 0.5, (timbre, pitch, measured)


def test_the_suite_never_builds_into_the_users_cache(private_data_cache):
  """conftest's session fixture points the default cache (and the CLIs'
  subprocesses, through the environment) at this test run's folder."""
  assert default.cache_root() == private_data_cache
  assert os.environ[default.CACHE_ENV] == private_data_cache
  assert not private_data_cache.startswith(
      os.path.expanduser(os.path.join('~', '.cache')))


def test_a_cache_that_cannot_be_built_says_where_and_why(tmp_path):
  # A file where the cache root should be (real, even as root).
  blocker = tmp_path / 'cache'
  blocker.write_text('not a folder')
  built = []
  with pytest.raises(files.WriteError, match=(
      f'cannot build the dataset in {blocker}/notes: File exists; nothing '
      'of it was kept.*GANSYNTH_TF2_CACHE')):
    default.build_cached('notes', built.append, cache_dir=str(blocker))
  assert not built and blocker.read_text() == 'not a folder'
