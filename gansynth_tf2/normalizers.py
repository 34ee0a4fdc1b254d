"""Data normalizers: map specgram channels into the generator's [-1, 1] range.

Counterpart of Magenta's `lib/data_normalizer.py`, with its registry names:

  'specgrams_prespecified_normalizer'  fixed constants (the paper's; default)
  'specgrams_simple_normalizer'        one (a, b) per channel, from data
  'specgrams_freq_normalizer'          one (a, b) per frequency bin and channel
  'none'                               identity

`normalize(x) = clip(a * x + b, -1, 1)` and `denormalize(y) = (y - b) / a`,
on specgrams `[batch, time, freq, 2]`. Normalizers computed from data are
saved as `<train_dir>/assets/<name>.npz` (Magenta's file names) so that a
checkpoint carries what it needs to be denormalized.
"""

import io
import os
import zipfile

import numpy as np
import tensorflow as tf

from gansynth_tf2 import files
from gansynth_tf2 import hparams as hparams_lib

# The paper's constants (Magenta's mel_prog_hires defaults).
MAG_NORMALIZER_A = 0.0661371661726
MAG_NORMALIZER_B = 0.113718730221
P_NORMALIZER_A = 0.8
P_NORMALIZER_B = 0.0


def range_normalizer(x, margin):
  """(a, b) mapping [min(x), max(x)] onto [-margin, margin]."""
  x = np.asarray(x, dtype=np.float64).ravel()
  if x.size == 0:
    raise ValueError('cannot compute a normalizer from empty data')
  if not np.all(np.isfinite(x)):
    raise ValueError('cannot compute a normalizer from NaN/Inf data')
  lo, hi = np.min(x), np.max(x)
  if hi <= lo:
    raise ValueError(f'cannot compute a normalizer from constant data ({lo})')
  a = margin * 2.0 / (hi - lo)
  b = margin * (-2.0 * lo / (hi - lo) - 1.0)
  return a, b


class Normalizer:
  """Affine per-channel (or per-bin) normalization with clipping.

  Subclasses set `a` and `b`, numpy arrays broadcastable to
  `[batch, time, freq, 2]`.
  """
  a = None
  b = None

  def normalize(self, x):
    """Data `[..., 2]` -> clipped `[-1, 1]` network range."""
    x = tf.convert_to_tensor(x)
    a = tf.constant(self.a, x.dtype)
    b = tf.constant(self.b, x.dtype)
    return tf.clip_by_value(a * x + b, -1.0, 1.0)

  def denormalize(self, x):
    """Network range `[..., 2]` -> data."""
    x = tf.convert_to_tensor(x)
    return (x - tf.constant(self.b, x.dtype)) / tf.constant(self.a, x.dtype)

  # Magenta's method names.
  def normalize_op(self, x):
    return self.normalize(x)

  def denormalize_op(self, x):
    return self.denormalize(x)


class NoneNormalizer(Normalizer):
  """Identity; for data already in range (e.g. raw waves)."""
  HPARAMS = ()

  def normalize(self, x):
    return tf.convert_to_tensor(x)

  def denormalize(self, x):
    return tf.convert_to_tensor(x)


class PrespecifiedNormalizer(Normalizer):
  """Fixed constants; the defaults are the paper's (computed on NSynth)."""
  HPARAMS = ('mag_normalizer_a', 'mag_normalizer_b', 'p_normalizer_a',
             'p_normalizer_b')

  def __init__(self, mag_normalizer_a=MAG_NORMALIZER_A,
               mag_normalizer_b=MAG_NORMALIZER_B,
               p_normalizer_a=P_NORMALIZER_A, p_normalizer_b=P_NORMALIZER_B):
    if mag_normalizer_a == 0 or p_normalizer_a == 0:
      raise ValueError('mag_normalizer_a and p_normalizer_a must be non-zero')
    self.a = np.asarray([mag_normalizer_a, p_normalizer_a])[None, None, None]
    self.b = np.asarray([mag_normalizer_b, p_normalizer_b])[None, None, None]


class _ComputedNormalizer(Normalizer):
  """A normalizer computed once from data and saved under `assets_dir`."""
  file_name = None
  HPARAMS = ('normalizer_margin', 'normalizer_num_examples')

  def __init__(self, assets_dir, normalizer_margin=0.8,
               normalizer_num_examples=1000):
    self.assets_dir = assets_dir
    self.margin = normalizer_margin
    self.num_examples = normalizer_num_examples
    self.path = os.path.join(assets_dir, self.file_name)
    self._params = None

  def exists(self):
    return os.path.exists(self.path)

  def compute(self, data):
    """numpy `[n, time, freq, 2]` -> the saved parameter array."""
    raise NotImplementedError

  def _decode(self, params):
    """Saved parameter array -> (a, b) broadcastable to `[b, t, f, 2]`."""
    raise NotImplementedError

  def fit(self, data):
    """Computes from data (numpy `[n, t, f, 2]` or an iterable of batches),
    using at most `normalizer_num_examples` examples, and saves atomically.
    An existing saved normalizer is kept and loaded instead."""
    if self.exists():
      return self.load()
    if isinstance(data, np.ndarray):
      data = data[:self.num_examples]
    else:
      batches, count = [], 0
      for batch in data:
        batch = np.asarray(batch)
        batches.append(batch)
        count += batch.shape[0]
        if count >= self.num_examples:
          break
      if not batches:
        raise ValueError('no data to compute the normalizer from')
      data = np.concatenate(batches)[:self.num_examples]
    if data.ndim != 4 or data.shape[-1] != 2:
      raise ValueError('normalizer data must have shape [n, time, freq, 2], '
                       f'got {data.shape}')
    params = self.compute(data)
    try:
      os.makedirs(self.assets_dir, exist_ok=True)
    except OSError as e:
      raise files.WriteError(f'cannot write {self.path}: '
                             f'{files.error_cause(e)}') from e
    buf = io.BytesIO()
    np.savez(buf, normalizer=params)
    files.write_atomic(self.path, buf.getvalue())
    return self.load()

  def load(self):
    if not self.exists():
      raise ValueError(f'normalizer asset {self.path} does not exist: compute '
                       'it first with fit(data)')
    try:
      with np.load(self.path) as f:
        params = np.asarray(f['normalizer'])
      self.a, self.b = self._decode(params)
    except (OSError, ValueError, KeyError, TypeError, IndexError,
            zipfile.BadZipFile) as e:
      detail = str(e).strip().splitlines()[0] if str(e).strip() else ''
      raise ValueError(
          f'normalizer asset {self.path} cannot be read '
          f'({type(e).__name__}{": " + detail if detail else ""}); delete it '
          'to have training compute it again from the data, or copy it '
          'again from the run it belongs to') from None
    self._params = params
    return params

  def _ensure_loaded(self):
    if self.a is None:
      self.load()

  def normalize(self, x):
    self._ensure_loaded()
    return super().normalize(x)

  def denormalize(self, x):
    self._ensure_loaded()
    return super().denormalize(x)


class SimpleNormalizer(_ComputedNormalizer):
  """One (a, b) per channel from the data's range, scaled by the margin."""
  file_name = 'specgrams_simple_normalizer.npz'

  def compute(self, data):
    m_a, m_b = range_normalizer(data[..., 0], self.margin)
    p_a, p_b = range_normalizer(data[..., 1], self.margin)
    return np.asarray([m_a, m_b, p_a, p_b])

  def _decode(self, params):
    m_a, m_b, p_a, p_b = params
    return (np.asarray([m_a, p_a])[None, None, None],
            np.asarray([m_b, p_b])[None, None, None])


class FreqNormalizer(_ComputedNormalizer):
  """One (a, b) per frequency bin and channel; params `[freq, 4]`."""
  file_name = 'specgrams_freq_normalizer.npz'

  def compute(self, data):
    return np.asarray([
        list(range_normalizer(data[:, :, f, 0], self.margin)) +
        list(range_normalizer(data[:, :, f, 1], self.margin))
        for f in range(data.shape[2])])

  def _decode(self, params):
    a = np.stack([params[:, 0], params[:, 2]], axis=-1)[None, None]
    b = np.stack([params[:, 1], params[:, 3]], axis=-1)[None, None]
    return a, b


REGISTRY = {
    'none': NoneNormalizer,
    'specgrams_prespecified_normalizer': PrespecifiedNormalizer,
    'specgrams_simple_normalizer': SimpleNormalizer,
    'specgrams_freq_normalizer': FreqNormalizer,
}


def make_normalizer(name, assets_dir=None, **kwargs):
  """A normalizer by Magenta's registry name.

  Args:
    name: a key of `REGISTRY` (Magenta's `data_normalizer` values).
    assets_dir: the folder computed normalizers keep their file in (the run
      folder's `run_dir.Run.assets_dir`; needed for the simple and freq
      normalizers).
    **kwargs: the normalizer's own arguments (Magenta's names, e.g.
      `mag_normalizer_a` or `normalizer_margin`).

  Returns:
    A `Normalizer`.
  """
  if name not in REGISTRY:
    raise ValueError(f'data_normalizer must be one of {sorted(REGISTRY)}, got '
                     f'{name!r}')
  cls = REGISTRY[name]
  if cls in (NoneNormalizer, PrespecifiedNormalizer):
    return cls(**kwargs)
  if assets_dir is None:
    raise ValueError(f'the {name} normalizer is computed from data and saved '
                     'beside the checkpoint: pass assets_dir')
  return cls(assets_dir, **kwargs)


def from_hparams(hp, assets_dir=None):
  """The normalizer `hp.data_normalizer` names, with `hp`'s constants.

  Args:
    hp: `hparams.HParams`.
    assets_dir: where computed normalizers keep their file.
  """
  cls = REGISTRY.get(hp.data_normalizer)
  return make_normalizer(hp.data_normalizer, assets_dir,
                         **hparams_lib.pick(hp, getattr(cls, 'HPARAMS', ())))
