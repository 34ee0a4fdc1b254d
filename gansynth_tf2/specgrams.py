"""Audio <-> spectrogram "images" per representation, and Keras layers.

Counterpart of Magenta's `lib/data_helpers.py` (the conversions) on top of
`specgrams_helper.SpecgramsHelper` (Magenta's `lib/specgrams_helper.py`,
re-exported here as `specgrams.SpecgramsHelper`):
  `DataHelper` / `make_data_helper`: one `data_type`'s `waves_to_data` and
    `data_to_waves`, the inverse transform every generator output goes
    through;
  `RealInverseTransform`: the same `data_to_waves` in real-valued ops only,
    for TF Lite (export.py's --format=tflite);
  Keras layers `WavesToSpecgrams`, `SpecgramsToWaves`, `MelIF`,
    `InverseMelIF`.

Representations (`data_type`, Magenta's names):
  'phase'  : linear-frequency log magnitude + wrapped phase.
  'linear' : linear-frequency log magnitude + instantaneous frequency (IF).
  'mel'    : mel-frequency log power + mel IF ("IF-Mel"), the paper's best.
  'wave'   : the raw wave laid out as a `[batch, 65536, 1, 2]` image.
"""

import keras
import numpy as np
import tensorflow as tf

from gansynth_tf2 import schedule
from gansynth_tf2 import specgrams_helper
# Re-exported: users know it as specgrams.SpecgramsHelper.
from gansynth_tf2.specgrams_helper import SpecgramsHelper  # pylint: disable=unused-import

DATA_TYPES = ('phase', 'linear', 'mel', 'wave')


class DataHelper:
  """One representation's `waves_to_data` / `data_to_waves` (Magenta names).

  waves `[batch, audio_length, 1]` <-> data `[batch, height, width, 2]`.
  """

  def __init__(self, data_type, audio_length=64000, sample_rate=16000,
               spec_shape=(128, 1024)):
    if data_type not in DATA_TYPES:
      raise ValueError(f'data_type must be one of {DATA_TYPES}, got '
                       f'{data_type!r}')
    self.data_type = data_type
    self.audio_length = int(audio_length)
    self.sample_rate = sample_rate
    if data_type == 'wave':
      # Magenta's wave model: the clip padded by 768 zeros on each side to
      # 65536 samples, one column wide, duplicated into two channels.
      self.wave_pad = 768
      self.data_shape = (self.audio_length + 2 * self.wave_pad, 1, 2)
      self.specgrams_helper = None
      return
    self.specgrams_helper = SpecgramsHelper(
        audio_length=audio_length, spec_shape=spec_shape, overlap=0.75,
        sample_rate=sample_rate, mel_downscale=1,
        ifreq=data_type != 'phase')
    self.data_shape = tuple(spec_shape) + (2,)

  HPARAMS = ('data_type', 'audio_length', 'sample_rate') + (
      schedule.ResolutionSchedule.HPARAMS)

  @classmethod
  def from_hparams(cls, hp):
    """The representation of an `hparams.HParams` at its final resolution."""
    spec_shape = schedule.ResolutionSchedule.from_hparams(hp).final_resolutions
    return cls(hp.data_type, hp.audio_length, hp.sample_rate, spec_shape)

  def waves_to_data(self, waves):
    """`[batch, audio_length, 1]` -> `[batch, *data_shape]`."""
    helper = self.specgrams_helper
    if self.data_type == 'mel':
      return helper.waves_to_melspecgrams(waves)
    if self.data_type in ('linear', 'phase'):
      return helper.waves_to_specgrams(waves)
    waves = tf.convert_to_tensor(waves, tf.float32)
    specgrams_helper.check_rank(waves, 3, 'waves',
                                f'[batch, {self.audio_length}, 1]')
    specgrams_helper.check_finite(waves, 'waves')
    waves = tf.pad(waves[:, :, tf.newaxis, :],
                   [[0, 0], [self.wave_pad, self.wave_pad], [0, 0], [0, 0]])
    return tf.concat([waves, waves], axis=-1)

  def data_to_waves(self, data):
    """`[batch, *data_shape]` -> `[batch, audio_length, 1]`."""
    helper = self.specgrams_helper
    if self.data_type == 'mel':
      return helper.melspecgrams_to_waves(data)
    if self.data_type in ('linear', 'phase'):
      return helper.specgrams_to_waves(data)
    data = tf.convert_to_tensor(data, tf.float32)
    specgrams_helper.check_rank(data, 4, 'data',
                                f'[batch, {self.data_shape[0]}, 1, 2]')
    return data[:, self.wave_pad:-self.wave_pad, 0, :1]


def make_data_helper(data_type, audio_length=64000, sample_rate=16000,
                     spec_shape=(128, 1024)):
  """The `DataHelper` for a representation (Magenta's data_helpers registry)."""
  return DataHelper(data_type, audio_length, sample_rate, spec_shape)


class RealInverseTransform:
  """Data images -> audio with real-valued ops only (for TF Lite).

  TF Lite has no builtin complex tensors or inverse real FFT, so this redoes
  the data helper's `data_to_waves` (specgrams -> polar -> complex ->
  `tf.signal.inverse_stft`) as: real and imaginary parts from magnitude and
  phase, the inverse real DFT of each frame as two matmuls with a cosine and
  a sine basis (2 x 1024 x 2048 multiply-adds per frame, ~4% of the
  generator's FLOPs), the inverse-STFT window, and overlap-add by padding and
  summing the frame quarters. Matches `data_to_waves` to float32 rounding.

  Args:
    data_helper: the model's `specgrams.DataHelper` ('mel', 'linear' or
      'phase'; the specgrams helper's default DC handling).
  """

  def __init__(self, data_helper):
    if data_helper.data_type not in ('mel', 'linear', 'phase'):
      raise ValueError('--format=tflite supports the spectrogram data types '
                       f'mel, linear and phase, not {data_helper.data_type!r}')
    self._data_helper = data_helper
    helper = data_helper.specgrams_helper
    self._ifreq = data_helper.data_type != 'phase'
    self._nfft, self._hop = helper.nfft, helper.nhop
    frames, bins = helper.spec_shape
    if self._nfft % self._hop:
      raise ValueError(f'--format=tflite needs nfft ({self._nfft}) to be a '
                       f'multiple of the hop ({self._hop})')
    self._audio_length = data_helper.audio_length
    # The forward STFT pads only in front, up to what the frames cover.
    self._pad_l = self._hop * (frames - 1) + self._nfft - self._audio_length
    # irfft of the half spectrum with a zero DC bin: bins k = 1..nfft/2.
    # x[n] = 1/N (sum_k c_k (Re X_k cos(2 pi k n / N) - Im X_k sin(...)))
    # with c_k = 2, except 1 at Nyquist (whose sine row is zero).
    k = np.arange(1, bins + 1)[:, None]
    n = np.arange(self._nfft)[None, :]
    angle = 2.0 * np.pi * k * n / self._nfft
    scale = np.where(k == self._nfft // 2, 1.0, 2.0) / self._nfft
    window = tf.signal.inverse_stft_window_fn(self._hop)(self._nfft,
                                                          tf.float64).numpy()
    # The synthesis window folds into the bases (a per-column scale).
    self._cos = tf.constant(scale * np.cos(angle) * window, tf.float32)
    self._sin = tf.constant(scale * np.sin(angle) * window, tf.float32)

  def __call__(self, data):
    """`[b, time, freq, 2]` data -> `[b, audio_length]` audio."""
    # No complex ops: TF Lite's builtin ops have none.
    helper = self._data_helper.specgrams_helper.without_complex_ops()
    if self._data_helper.data_type == 'mel':
      data = helper.melspecgrams_to_specgrams(data)
    mag = tf.exp(data[..., 0])
    phase = data[..., 1] * np.pi
    if self._ifreq:
      phase = tf.cumsum(phase, axis=-2)
    frames = (tf.tensordot(mag * tf.cos(phase), self._cos, 1)
              - tf.tensordot(mag * tf.sin(phase), self._sin, 1))
    # Overlap-add: frame t's q-th hop-long quarter lands on output hop t + q.
    waves = specgrams_helper.overlap_add(frames, self._hop, frames.shape[1])
    return waves[:, self._pad_l:self._pad_l + self._audio_length]


class WavesToSpecgrams(keras.layers.Layer):
  """Keras layer: waves `[batch, samples(, 1)]` -> data `[batch, H, W, 2]`."""

  def __init__(self, data_type='mel', audio_length=64000, sample_rate=16000,
               spec_shape=(128, 1024), **kwargs):
    kwargs['trainable'] = False  # no weights; a fixed transform
    super().__init__(**kwargs)
    self.data_type = data_type
    self.audio_length = audio_length
    self.sample_rate = sample_rate
    self.spec_shape = tuple(spec_shape)
    self.helper = make_data_helper(data_type, audio_length, sample_rate,
                                   spec_shape)

  def call(self, waves):
    waves = tf.convert_to_tensor(waves, tf.float32)
    if waves.shape.rank == 2:
      waves = waves[..., tf.newaxis]
    return self.helper.waves_to_data(waves)

  def get_config(self):
    config = super().get_config()
    config.update(data_type=self.data_type, audio_length=self.audio_length,
                  sample_rate=self.sample_rate, spec_shape=self.spec_shape)
    return config


class SpecgramsToWaves(WavesToSpecgrams):
  """Keras layer: data `[batch, H, W, 2]` -> waves `[batch, samples, 1]`."""

  def call(self, data):  # pylint: disable=arguments-renamed
    return self.helper.data_to_waves(data)


class _MelOnly:
  """Pins a representation layer to IF-Mel (`data_type` kept for configs)."""

  def __init__(self, audio_length=64000, sample_rate=16000,
               spec_shape=(128, 1024), data_type='mel', **kwargs):
    if data_type != 'mel':
      raise ValueError(f'{type(self).__name__} is IF-Mel only; got '
                       f'data_type={data_type!r}')
    super().__init__(data_type='mel', audio_length=audio_length,
                     sample_rate=sample_rate, spec_shape=spec_shape, **kwargs)


class MelIF(_MelOnly, WavesToSpecgrams):
  """waves -> IF-Mel specgrams (the paper's best representation)."""


class InverseMelIF(_MelOnly, SpecgramsToWaves):
  """IF-Mel specgrams -> waves."""
