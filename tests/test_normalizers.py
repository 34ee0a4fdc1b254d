"""Tests for normalizers: the paper's constants, computed normalizers, assets."""
import io
import json
import os

import numpy as np
import pytest

from gansynth_tf2 import files
from gansynth_tf2 import hparams as hparams_lib
from gansynth_tf2 import normalizers


def test_prespecified_defaults_are_the_papers_constants():
  n = normalizers.PrespecifiedNormalizer()
  np.testing.assert_array_equal(n.a.ravel(), [0.0661371661726, 0.8])
  np.testing.assert_array_equal(n.b.ravel(), [0.113718730221, 0.0])


def test_prespecified_denormalize_matches_magenta(oracle, oracle_ckpt_dir):
  # Magenta's gen_images = denormalize(gen_images_pre_denorm), from the
  # checkpoint's experiment.json constants.
  with open(os.path.join(oracle_ckpt_dir, 'experiment.json')) as f:
    config = json.load(f)
  n = normalizers.from_hparams(hparams_lib.HParams.from_dict(config))
  ours = n.denormalize(oracle['gen_images_pre_denorm']).numpy()
  err = np.abs(ours - oracle['gen_images']).max()
  print(f'denormalize vs Magenta: max abs error {err:.3g}')
  assert err <= 1e-5, err


def test_normalize_clips_and_inverts():
  n = normalizers.PrespecifiedNormalizer()
  x = np.stack([np.linspace(-20.0, 16.0, 50), np.linspace(-1.5, 1.5, 50)],
               axis=-1).astype(np.float32)[None, None]
  y = n.normalize(x).numpy()
  assert y.min() >= -1.0 and y.max() <= 1.0
  assert np.sum(np.abs(y[..., 0]) == 1.0) > 0  # log magnitudes beyond range clip
  inside = np.abs(y) < 1.0
  np.testing.assert_allclose(n.denormalize(y).numpy()[inside], x[inside],
                             rtol=1e-5, atol=1e-5)
  np.testing.assert_allclose(n.normalize_op(x), y)  # Magenta's names


def test_none_normalizer_is_identity():
  x = np.random.RandomState(0).randn(1, 4, 4, 2).astype(np.float32) * 5
  n = normalizers.make_normalizer('none')
  np.testing.assert_array_equal(n.normalize(x).numpy(), x)
  np.testing.assert_array_equal(n.denormalize(x).numpy(), x)


def _data():
  rng = np.random.RandomState(3)
  mag = rng.uniform(-10.0, 2.0, size=(6, 4, 8))
  mag[:, :, 3] *= 0.1  # one bin with a much smaller range
  p = rng.uniform(-0.5, 0.9, size=(6, 4, 8))
  return np.stack([mag, p], axis=-1).astype(np.float32)


@pytest.mark.parametrize('name,file_name', [
    ('specgrams_simple_normalizer', 'specgrams_simple_normalizer.npz'),
    ('specgrams_freq_normalizer', 'specgrams_freq_normalizer.npz')])
def test_computed_normalizers_map_data_to_margin_and_persist(
    tmp_path, name, file_name):
  data = _data()
  n = normalizers.make_normalizer(name, assets_dir=str(tmp_path / 'assets'),
                                  normalizer_margin=0.8)
  assert not n.exists()
  n.fit(data)
  assert (tmp_path / 'assets' / file_name).exists()
  y = n.normalize(data).numpy()
  np.testing.assert_allclose(y.min(), -0.8, atol=1e-5)
  np.testing.assert_allclose(y.max(), 0.8, atol=1e-5)
  if name == 'specgrams_freq_normalizer':
    # Each bin and channel spans exactly [-margin, margin].
    np.testing.assert_allclose(y.min(axis=(0, 1)), -0.8, atol=1e-5)
    np.testing.assert_allclose(y.max(axis=(0, 1)), 0.8, atol=1e-5)
  np.testing.assert_allclose(n.denormalize(y).numpy(), data, rtol=1e-4,
                             atol=1e-4)
  # A fresh instance (a restarted job) reads the saved asset, and fitting
  # again keeps the first result.
  again = normalizers.make_normalizer(name, assets_dir=str(tmp_path / 'assets'))
  np.testing.assert_allclose(again.normalize(data).numpy(), y)
  again.fit(data * 3.0)
  np.testing.assert_allclose(again.normalize(data).numpy(), y)


def test_a_normalizer_that_cannot_be_saved_names_its_file(tmp_path):
  # A file where the assets folder should be (real, even as root); the freq
  # normalizer's asset, on a full disk, fails the same way (files.WriteError).
  (tmp_path / 'assets').write_text('not a folder')
  n = normalizers.make_normalizer('specgrams_freq_normalizer',
                                  assets_dir=str(tmp_path / 'assets'))
  with pytest.raises(files.WriteError,
                     match=f'cannot write {tmp_path}/assets/'
                     'specgrams_freq_normalizer.npz: File exists'):
    n.fit(_data())
  assert (tmp_path / 'assets').read_text() == 'not a folder'


def test_fit_accepts_batches_and_stops_at_num_examples(tmp_path):
  data = _data()
  n = normalizers.make_normalizer('specgrams_simple_normalizer',
                                  assets_dir=str(tmp_path / 'assets'),
                                  normalizer_num_examples=2)
  extreme = data.copy()
  extreme[..., 0] *= 100.0  # would widen the range if it were read
  n.fit(iter([data[:1], data[1:2], extreme]))
  # Magenta's range normalizer in closed form, from the first two examples
  # only: [lo, hi] -> [-0.8, 0.8], so a = 1.6 / (hi - lo) and
  # b = -0.8 (hi + lo) / (hi - lo).
  lo, hi = float(data[:2, ..., 0].min()), float(data[:2, ..., 0].max())
  np.testing.assert_allclose(n.a.ravel()[0], 1.6 / (hi - lo), rtol=1e-6)
  np.testing.assert_allclose(n.b.ravel()[0], -0.8 * (hi + lo) / (hi - lo),
                             rtol=1e-6, atol=1e-7)


def test_errors(tmp_path):
  with pytest.raises(ValueError, match='data_normalizer must be one of'):
    normalizers.make_normalizer('zscore')
  with pytest.raises(ValueError, match='pass assets_dir'):
    normalizers.make_normalizer('specgrams_freq_normalizer')
  n = normalizers.make_normalizer('specgrams_simple_normalizer',
                                  assets_dir=str(tmp_path / 'assets'))
  with pytest.raises(ValueError, match='does not exist'):
    n.normalize(_data())
  with pytest.raises(ValueError, match=r'\[n, time, freq, 2\]'):
    n.fit(np.zeros((2, 3, 4), np.float32))
  with pytest.raises(ValueError, match='constant'):
    n.fit(np.zeros((2, 3, 4, 2), np.float32))
  assert not (tmp_path / 'assets' / n.file_name).exists()
  with pytest.raises(ValueError, match='NaN'):
    normalizers.range_normalizer([0.0, np.nan], 0.8)


@pytest.mark.parametrize('content', [
    b'not an npz file at all',
    'truncated',
    'wrong key',
    'wrong shape',
])
def test_a_corrupt_asset_is_one_clear_error(tmp_path, content):
  """A damaged specgrams_simple_normalizer.npz (issue 10): one ValueError
  naming the file and what to do, not numpy's or zipfile's own error."""
  n = normalizers.make_normalizer('specgrams_simple_normalizer',
                                  assets_dir=str(tmp_path / 'assets'))
  n.fit(np.random.RandomState(0).uniform(-1, 1, (4, 8, 16, 2)))
  good = open(n.path, 'rb').read()
  if content == 'truncated':
    content = good[:len(good) // 2]
  elif content == 'wrong key':
    buf = io.BytesIO()
    np.savez(buf, other=np.zeros(4))
    content = buf.getvalue()
  elif content == 'wrong shape':
    buf = io.BytesIO()
    np.savez(buf, normalizer=np.zeros(3))
    content = buf.getvalue()
  with open(n.path, 'wb') as f:
    f.write(content)
  again = normalizers.make_normalizer('specgrams_simple_normalizer',
                                      assets_dir=str(tmp_path / 'assets'))
  with pytest.raises(ValueError) as info:
    again.load()
  message = str(info.value)
  assert message.startswith(f'normalizer asset {n.path} cannot be read')
  assert 'delete it' in message and '\n' not in message
  with pytest.raises(ValueError, match='cannot be read'):
    again.fit(np.zeros((4, 8, 16, 2)))  # an existing asset is not replaced
  assert open(n.path, 'rb').read() == content
