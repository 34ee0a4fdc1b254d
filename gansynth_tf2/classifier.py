"""The pitch classifier behind the paper's metrics (IS, FID, PA, PE).

The GANSynth paper scores generated notes with a pitch classifier trained on
NSynth (the NSynth baseline's classifier, in Magenta's since-deleted
`gansynth/lib/eval/` and `nsynth/baseline/`): Inception Score and pitch
accuracy / entropy come from its softmax, FID from the pre-activations of its
layer "7_1". This is that architecture in Keras, trained by
`python -m gansynth_tf2.train_classifier`; its width is a multiplier so that
a CPU can train a small one (width 1 is the paper's).

Input: `[batch, samples]` 16 kHz waves, zero-padded or cropped at the end to
`audio_length`. Log-magnitude STFT (n_fft 1024, hop 256, Hann, centred
frames), in dB relative to the note's loudest bin, floored at -120 dB and
scaled to [0, 1] (so the level of a note does not matter); the Nyquist bin is
dropped and time is zero-padded to a power of two: `[b, 512, 256, 1]`
(frequency, time) for 4 s notes. Then ten convolutions with batch norm and
leaky ReLU (0.1):

  layer  channels  kernel  stride   output (4 s notes, width 1)
  0      128       5x5     2x2      256x128
  1      128       4x4     2x2      128x64
  2      128       4x4     2x2      64x32
  3      256       4x4     2x2      32x16
  4      256       4x4     2x2      16x8
  5      256       4x4     2x2      8x4
  6      512       4x4     2x2      4x2
  7      512       4x4     2x2      2x1
  7_1    512       4x4     2x1      1x1   <- pre-activations = features
  8      1024      1x1     1x1      1x1
  logits 61        1x1     1x1      1x1

Differences from the NSynth baseline, on purpose: one head (61 pitches,
label = MIDI pitch - 24) instead of 128 pitches + qualities + instrument
heads; the logits layer has a bias instead of batch norm; spatial outputs
are averaged (the same as Magenta's reshape when they are 1x1, and defined
for other lengths); frames are zero-padded at the edges (librosa's current
default; Magenta's librosa reflected) and a silent input maps to 0, not 1.
"""
import datetime
import json
import os

import keras
import numpy as np
import tensorflow as tf

from gansynth_tf2 import files
from gansynth_tf2.data import base

MIN_PITCH = base.MIN_PITCH
MAX_PITCH = base.MAX_PITCH
NUM_PITCHES = MAX_PITCH - MIN_PITCH + 1

# (name, channels at width 1, kernel, strides) of the conv + BN + leaky ReLU
# layers, in order (the NSynth baseline's encoder).
LAYERS = (
    ('0', 128, (5, 5), (2, 2)),
    ('1', 128, (4, 4), (2, 2)),
    ('2', 128, (4, 4), (2, 2)),
    ('3', 256, (4, 4), (2, 2)),
    ('4', 256, (4, 4), (2, 2)),
    ('5', 256, (4, 4), (2, 2)),
    ('6', 512, (4, 4), (2, 2)),
    ('7', 512, (4, 4), (2, 2)),
    ('7_1', 512, (4, 4), (2, 1)),
    ('8', 1024, (1, 1), (1, 1)),
)
FEATURE_LAYER = '7_1'

FORMAT = 'gansynth_tf2.pitch_classifier'
FORMAT_VERSION = 1
CONFIG_FILE = 'classifier.json'
WEIGHTS_FILE = 'classifier.weights.h5'
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The classifier shipped with the repository (trained with gin/classifier.gin).
DEFAULT_DIR = os.path.join(REPO_ROOT, 'models', 'pitch_classifier')

# dB floors of the log magnitude: bins more than TOP_DB under the note's peak
# are clipped; a note whose peak is below SILENCE_DB (absolute, in the STFT's
# power units) is scaled as if its peak were there, and powers are floored at
# SILENCE_DB - TOP_DB, so silence maps to 0.
TOP_DB = 120.0
SILENCE_DB = -100.0


def pitch_to_label(pitch):
  """MIDI pitch(es) -> label index (pitch - MIN_PITCH), as a numpy int array."""
  return np.asarray(pitch, np.int64) - MIN_PITCH


def label_to_pitch(label):
  """Label index(es) -> MIDI pitch(es), as a numpy int array."""
  return np.asarray(label, np.int64) + MIN_PITCH


def layer_channels(width):
  """Output channels of the LAYERS at a width multiplier (at least 1 each)."""
  if not width > 0:
    raise ValueError(f'width must be > 0, got {width}.')
  return tuple(max(1, int(round(c * width))) for _, c, _, _ in LAYERS)


def fit_length(waves, audio_length):
  """Zero-pads or crops `[batch, samples]` at the end to `audio_length`."""
  waves = tf.convert_to_tensor(waves, tf.float32)
  pad = tf.maximum(0, audio_length - tf.shape(waves)[1])
  waves = tf.pad(waves[:, :audio_length], [[0, 0], [0, pad]])
  return tf.ensure_shape(waves, [None, audio_length])


def log_magnitude(waves, n_fft=1024, hop=256):
  """The classifier's input image.

  Args:
    waves: `[batch, samples]` float32.
    n_fft: FFT (and Hann window) length.
    hop: frame step.

  Returns:
    `[batch, n_fft // 2, frames, 1]` float32 in [0, 1]: dB relative to each
    note's loudest bin, floored at -TOP_DB, / TOP_DB + 1; `frames` is
    `1 + samples // hop` rounded up to a power of two (zero = silence).
  """
  half = n_fft // 2
  # Centred frames: frame t is centred on sample t * hop.
  padded = tf.pad(waves, [[0, 0], [half, half]])
  stft = tf.signal.stft(padded, n_fft, hop, fft_length=n_fft,
                        window_fn=tf.signal.hann_window, pad_end=False)
  power = tf.math.square(tf.abs(stft))
  floor = 10.0**((SILENCE_DB - TOP_DB) / 10.0)
  db = 10.0 * tf.math.log(tf.maximum(power, floor)) / np.log(10.0)
  peak = tf.maximum(tf.reduce_max(db, axis=[1, 2], keepdims=True), SILENCE_DB)
  spec = tf.maximum(db - peak, -TOP_DB) / TOP_DB + 1.0
  # [b, frames, bins] -> [b, bins, frames] without the Nyquist bin.
  spec = tf.transpose(spec[:, :, :half], [0, 2, 1])
  frames = spec.shape[2]
  padded_frames = 1 << max(0, (frames - 1).bit_length())
  spec = tf.pad(spec, [[0, 0], [0, 0], [0, padded_frames - frames]])
  return spec[..., tf.newaxis]


class PitchClassifier(keras.Model):
  """The NSynth baseline pitch classifier (see the module docstring).

  Args:
    width: channel multiplier; 1.0 is the paper's (about 14M parameters),
      gin/classifier.gin's CPU default is smaller.
    num_pitches: classes; label i is MIDI pitch MIN_PITCH + i.
    n_fft: STFT length.
    hop: STFT frame step.
    audio_length: samples the waves are padded or cropped to.
    sample_rate: Hz the waves are expected at (recorded, not resampled).
    leak: negative slope of the leaky ReLUs.
    bn_momentum: batch norm moving-average momentum.
  """

  def __init__(self, width=1.0, num_pitches=NUM_PITCHES, n_fft=1024, hop=256,
               audio_length=64000, sample_rate=16000, leak=0.1,
               bn_momentum=0.99, name='pitch_classifier', **kwargs):
    super().__init__(name=name, **kwargs)
    if num_pitches < 1:
      raise ValueError(f'num_pitches must be >= 1, got {num_pitches}.')
    if n_fft < 2 or hop < 1 or audio_length < 1:
      raise ValueError(f'Need n_fft >= 2, hop >= 1 and audio_length >= 1; got '
                       f'n_fft={n_fft}, hop={hop}, '
                       f'audio_length={audio_length}.')
    self.width = float(width)
    self.num_pitches = int(num_pitches)
    self.n_fft = int(n_fft)
    self.hop = int(hop)
    self.audio_length = int(audio_length)
    self.sample_rate = int(sample_rate)
    self.leak = float(leak)
    self.bn_momentum = float(bn_momentum)
    self.convs, self.norms = [], []
    for (layer, _, kernel, strides), channels in zip(
        LAYERS, layer_channels(width)):
      # Batch norm follows, so no bias (as slim drops it).
      self.convs.append(keras.layers.Conv2D(
          channels, kernel, strides, padding='same', use_bias=False,
          name=f'conv_{layer}'))
      self.norms.append(keras.layers.BatchNormalization(
          momentum=bn_momentum, epsilon=1e-3, name=f'bn_{layer}'))
    self.logits_layer = keras.layers.Conv2D(num_pitches, 1, name='logits')

  @property
  def feature_dim(self):
    """Length of the feature vectors (layer 7_1's channels)."""
    return layer_channels(self.width)[[n for n, *_ in LAYERS].index(
        FEATURE_LAYER)]

  def get_config(self):
    return dict(width=self.width, num_pitches=self.num_pitches,
                n_fft=self.n_fft, hop=self.hop,
                audio_length=self.audio_length, sample_rate=self.sample_rate,
                leak=self.leak, bn_momentum=self.bn_momentum)

  def spectrogram(self, waves):
    """`[b, samples]` (or `[b, samples, 1]`) -> `[b, F, T, 1]` input images."""
    waves = tf.convert_to_tensor(waves, tf.float32)
    if waves.shape.rank == 3 and waves.shape[-1] == 1:
      waves = waves[..., 0]
    if waves.shape.rank != 2:
      raise ValueError('PitchClassifier expects waves of shape [batch, '
                       f'samples], got shape {waves.shape}.')
    return log_magnitude(fit_length(waves, self.audio_length), self.n_fft,
                         self.hop)

  def endpoints(self, specs, training=False):
    """Every layer's pre- and post-activation, as Magenta's `end_points`.

    Args:
      specs: `[b, F, T, 1]` from `spectrogram`.
      training: batch norm in training mode.

    Returns:
      dict: 'preact_<layer>' and '<layer>' (`[b, h, w, c]`) for each of
      LAYERS, and 'logits' (`[b, h, w, num_pitches]`).
    """
    out = {}
    x = specs
    for (layer, *_), conv, norm in zip(LAYERS, self.convs, self.norms):
      preact = norm(conv(x), training=training)
      x = tf.maximum(preact, self.leak * preact)
      out[f'preact_{layer}'] = preact
      out[layer] = x
    out['logits'] = self.logits_layer(x)
    return out

  def classify(self, specs, training=False):
    """Spectrograms -> {'logits': [b, num_pitches], 'features': [b, d]}."""
    ends = self.endpoints(specs, training)
    # Averaging over space is the flatten of Magenta's 1x1 outputs, and also
    # defined for other lengths.
    return dict(
        logits=tf.reduce_mean(ends['logits'], axis=[1, 2]),
        features=tf.reduce_mean(ends[f'preact_{FEATURE_LAYER}'], axis=[1, 2]))

  def call(self, waves, training=False):
    """Waves -> dict.

    Args:
      waves: `[batch, samples]` float32 at `sample_rate`; other lengths than
        `audio_length` are zero-padded or cropped at the end.
      training: batch norm in training mode.

    Returns:
      dict with 'logits' `[batch, num_pitches]` and 'features' `[batch, d]`
      (layer 7_1's pre-activations; d = feature_dim).
    """
    return self.classify(self.spectrogram(waves), training=training)

  @tf.function(input_signature=[tf.TensorSpec([None, None], tf.float32)])
  def infer(self, waves):
    """Compiled inference: (probabilities [b, num_pitches], features [b, d])."""
    out = self(waves, training=False)
    return tf.nn.softmax(out['logits']), out['features']

  def build_variables(self):
    """Creates the weights (by classifying one silent note); returns self."""
    if not self.built:
      self(tf.zeros([1, self.audio_length]))
    return self


def predict(model, waves, batch_size=32):
  """Pitch probabilities and features of many notes, in batches.

  Args:
    model: a PitchClassifier.
    waves: `[n, samples]` array-like (numpy or tensor; `[n, samples, 1]` is
      accepted), float at the model's sample rate.
    batch_size: notes per forward pass.

  Returns:
    (probs `[n, num_pitches]` np.float32 (softmax; label i is MIDI pitch
    MIN_PITCH + i), features `[n, d]` np.float32).
  """
  if batch_size < 1:
    raise ValueError(f'batch_size must be >= 1, got {batch_size}.')
  waves = np.asarray(waves, np.float32)
  if waves.ndim == 3 and waves.shape[-1] == 1:
    waves = waves[..., 0]
  if waves.ndim != 2:
    raise ValueError('predict expects waves of shape [n, samples], got shape '
                     f'{waves.shape}.')
  if not np.all(np.isfinite(waves)):
    raise ValueError('predict: waves contain NaN or inf.')
  model.build_variables()
  probs, features = [], []
  for start in range(0, len(waves), batch_size):
    p, f = model.infer(tf.constant(waves[start:start + batch_size]))
    probs.append(p.numpy())
    features.append(f.numpy())
  if not probs:
    return (np.zeros([0, model.num_pitches], np.float32),
            np.zeros([0, model.feature_dim], np.float32))
  return (np.concatenate(probs).astype(np.float32),
          np.concatenate(features).astype(np.float32))


def is_classifier_dir(path):
  """True when `path` holds a saved classifier (classifier.json)."""
  return os.path.isfile(os.path.join(path, CONFIG_FILE))


def check_output_dir(output_dir):
  """Raises unless `output_dir` may be (re)placed by a classifier folder.

  Missing, empty or an earlier classifier folder are fine; a file or a
  non-empty folder of something else is not replaced.
  """
  if os.path.isfile(output_dir):
    raise FileExistsError(f'{output_dir} is a file, not a folder.')
  if (os.path.isdir(output_dir) and os.listdir(output_dir) and
      not is_classifier_dir(output_dir)):
    raise FileExistsError(
        f'{output_dir} is not empty and holds no {CONFIG_FILE}; refusing to '
        'replace it with a classifier (choose another --output_dir).')


def save_classifier(model, output_dir, metrics=None, trained_on=None):
  """Writes `classifier.json` and the weights into `output_dir`, atomically.

  The folder is written under a temporary name beside `output_dir` and then
  renamed into place (an earlier classifier there is replaced), so readers
  see the old classifier or the new one, never half of one.

  Args:
    model: a PitchClassifier.
    output_dir: destination folder.
    metrics: JSON-able dict, e.g. held-out accuracies.
    trained_on: JSON-able dict describing the training data and run.

  Returns:
    output_dir.
  """
  check_output_dir(output_dir)
  model.build_variables()
  info = dict(
      format=FORMAT, format_version=FORMAT_VERSION,
      config=model.get_config(), min_pitch=MIN_PITCH,
      max_pitch=MIN_PITCH + model.num_pitches - 1,
      feature_layer=f'preact_{FEATURE_LAYER}', feature_dim=model.feature_dim,
      num_parameters=int(model.count_params()), weights=WEIGHTS_FILE,
      metrics=metrics or {}, trained_on=trained_on or {},
      saved_at=datetime.datetime.now(datetime.timezone.utc).isoformat(
          timespec='seconds'))
  with files.publish_dir(output_dir) as tmp:
    model.save_weights(os.path.join(tmp, WEIGHTS_FILE))
    files.write_atomic(os.path.join(tmp, CONFIG_FILE),
                       json.dumps(info, indent=1) + '\n')
  return output_dir


def read_info(classifier_dir):
  """The classifier.json of a classifier folder, as a dict.

  Raises:
    FileNotFoundError: `classifier_dir` is not a classifier folder.
    ValueError: classifier.json is not one of ours.
  """
  path = os.path.join(classifier_dir, CONFIG_FILE)
  if not os.path.isfile(path):
    what = 'does not exist' if not os.path.exists(classifier_dir) else (
        f'is not a pitch classifier folder (no {CONFIG_FILE})')
    raise FileNotFoundError(
        f'{classifier_dir} {what}; train one with `python -m '
        'gansynth_tf2.train_classifier` or use the shipped '
        f'{os.path.relpath(DEFAULT_DIR, REPO_ROOT)}.')
  try:
    with open(path) as f:
      info = json.load(f)
  except json.JSONDecodeError as e:
    raise ValueError(f'{path} is not valid JSON: {e}') from None
  if not isinstance(info, dict) or info.get('format') != FORMAT:
    raise ValueError(f'{path} is not a {FORMAT} file.')
  if info.get('format_version', 0) > FORMAT_VERSION:
    raise ValueError(f'{path} has format_version {info["format_version"]}; '
                     f'this code reads up to {FORMAT_VERSION}.')
  return info


def load_classifier(classifier_dir=DEFAULT_DIR):
  """Loads a classifier saved by `save_classifier`.

  Args:
    classifier_dir: the folder (default: the shipped models/pitch_classifier).

  Returns:
    A built PitchClassifier with the saved weights.

  Raises:
    FileNotFoundError: not a classifier folder, or its weights are missing.
    ValueError: classifier.json is not ours.
  """
  info = read_info(classifier_dir)
  weights = os.path.join(classifier_dir, info.get('weights', WEIGHTS_FILE))
  if not os.path.isfile(weights):
    raise FileNotFoundError(f'{classifier_dir}: weights file {weights} is '
                            'missing.')
  model = PitchClassifier(**info['config']).build_variables()
  model.load_weights(weights)
  return model
