"""Evaluation metrics of the GANSynth paper: numpy arrays in, numbers out.

  * FID (Frechet Inception Distance): the Frechet distance between Gaussians
    fitted to classifier features of real and generated notes
    (`frechet_distance`, `fid_from_features`). Lower is better.
  * IS (Inception Score): exp(E_x KL(p(y|x) || p(y))) over the classifier's
    pitch softmax (`inception_score`). Higher is better, at most the number
    of classes.
  * PA / PE (pitch accuracy / pitch entropy): how often the classifier's
    pitch matches the asked pitch, and how sure the classifier is
    (`pitch_accuracy`, `pitch_entropy`).
  * NDB (number of statistically different bins, Richardson & Weiss 2018,
    "On GANs and GMMs"): k-means bins of the real set, and a two-proportion
    z-test per bin between the real and the generated proportions (`ndb`).
    Lower is better.
  * pYIN pitch: librosa's pYIN estimate of each note's pitch, a check of the
    generated pitch that does not depend on any classifier (`pyin_midi`,
    `pyin_accuracy`).
  * Log-mel distance: mean absolute difference of two notes' log-mel
    spectrograms in dB (`log_mel_distance`), how close an inverted note is
    to its recording (inversion.py) and a rendered sample to its source.

FID, IS, PA, PE and NDB are only as meaningful as the features and softmax
they are given. The paper's pitch classifier was never released, so numbers
computed with OUR classifier are comparable between models measured with this
package, not with the paper's Table 1.

Nothing here touches TensorFlow: the caller runs the classifier and passes the
resulting arrays.
"""

import warnings

import librosa
import numpy as np
from scipy import linalg
from scipy import stats
from sklearn import cluster

# Added to both covariances when sqrtm of their product is not finite, which
# happens for (near-)singular covariances, e.g. fewer samples than features.
_SQRTM_EPS = 1e-6
# Probabilities are clipped at this before a log, so that p * log(p) is 0 for
# p = 0 instead of NaN.
_LOG_EPS = 1e-12
# How far a row of probabilities may sum from 1 (float32 softmax rounding).
_PROB_SUM_ATOL = 1e-3
# k-means restarts in `ndb`: the bins should not hinge on one initialization.
_KMEANS_N_INIT = 10


# ----------------------------------------------------------------------------
# Input validation.


def _as_array(name, x, ndim, what):
  """Returns x as a float64 array of rank `ndim`, non-empty, else ValueError."""
  try:
    arr = np.asarray(x, dtype=np.float64)
  except (TypeError, ValueError) as e:
    raise ValueError(f'{name} must be a numeric array ({what}), got '
                     f'{type(x).__name__}: {e}') from e
  if arr.ndim != ndim:
    raise ValueError(f'{name} must be {what} (rank {ndim}), got shape '
                     f'{arr.shape}.')
  if arr.size == 0:
    raise ValueError(f'{name} must not be empty ({what}), got shape '
                     f'{arr.shape}.')
  return arr


def _check_finite(name, arr):
  if not np.all(np.isfinite(arr)):
    raise ValueError(f'{name} contains NaN or infinite values.')


def _as_probs(name, probs):
  """Returns probs as a float64 [n, classes] array of probability rows."""
  arr = _as_array(name, probs, 2, '[n, classes] probabilities')
  _check_finite(name, arr)
  if np.any(arr < 0):
    raise ValueError(f'{name} must be non-negative probabilities, min is '
                     f'{arr.min():g}.')
  sums = arr.sum(axis=1)
  bad = np.flatnonzero(np.abs(sums - 1.0) > _PROB_SUM_ATOL)
  if bad.size:
    raise ValueError(
        f'{name} rows must sum to 1 (softmax outputs, not logits); row '
        f'{bad[0]} sums to {sums[bad[0]]:g} ({bad.size} bad rows of '
        f'{len(arr)}).')
  return arr


def _check_same_length(name_a, a, name_b, b):
  if len(a) != len(b):
    raise ValueError(f'{name_a} and {name_b} must have the same length, got '
                     f'{len(a)} and {len(b)}.')


def _check_tolerance(tolerance):
  try:
    ok = np.isfinite(float(tolerance)) and tolerance >= 0
  except (TypeError, ValueError):
    ok = False
  if not ok:
    raise ValueError(f'tolerance must be a finite number >= 0 (semitones), '
                     f'got {tolerance!r}.')


# ----------------------------------------------------------------------------
# FID.


def _sqrtm_product(sigma1, sigma2):
  """Returns sqrtm(sigma1 @ sigma2) as a real [d, d] array, or None."""
  with warnings.catch_warnings():
    # Singular covariances are routine here (fewer samples than features);
    # the result is checked for finiteness below instead.
    warnings.simplefilter('ignore', linalg.LinAlgWarning)
    covmean = linalg.sqrtm(sigma1 @ sigma2)
  if not np.all(np.isfinite(covmean)):
    return None
  # The product of two PSD matrices has real non-negative eigenvalues, so any
  # imaginary part is round-off.
  return np.real(covmean)


def frechet_distance(mu1, sigma1, mu2, sigma2):
  """Frechet distance between the Gaussians N(mu1, sigma1) and N(mu2, sigma2).

  d^2 = ||mu1 - mu2||^2 + tr(sigma1 + sigma2 - 2 sqrtm(sigma1 sigma2)).

  Args:
    mu1: [d] mean of the first Gaussian.
    sigma1: [d, d] covariance of the first Gaussian (symmetric PSD).
    mu2: [d] mean of the second Gaussian.
    sigma2: [d, d] covariance of the second Gaussian (symmetric PSD).

  Returns:
    The squared Frechet distance as a float >= 0 (round-off below 0 is
    clipped).

  Raises:
    ValueError: on wrong ranks or shapes, non-finite values, or covariances
      whose product has no finite square root even after adding eps * I.
  """
  mu1 = _as_array('mu1', mu1, 1, 'a [d] mean')
  mu2 = _as_array('mu2', mu2, 1, 'a [d] mean')
  sigma1 = _as_array('sigma1', sigma1, 2, 'a [d, d] covariance')
  sigma2 = _as_array('sigma2', sigma2, 2, 'a [d, d] covariance')
  d = mu1.shape[0]
  if mu2.shape != (d,):
    raise ValueError(f'mu1 and mu2 must have the same shape, got {mu1.shape} '
                     f'and {mu2.shape}.')
  for name, sigma in (('sigma1', sigma1), ('sigma2', sigma2)):
    if sigma.shape != (d, d):
      raise ValueError(f'{name} must be [d, d] = {(d, d)} to match the means, '
                       f'got {sigma.shape}.')
  for name, arr in (('mu1', mu1), ('mu2', mu2), ('sigma1', sigma1),
                    ('sigma2', sigma2)):
    _check_finite(name, arr)

  covmean = _sqrtm_product(sigma1, sigma2)
  if covmean is None:
    # Customary fix for a near-singular product: nudge both covariances.
    offset = _SQRTM_EPS * np.eye(d)
    covmean = _sqrtm_product(sigma1 + offset, sigma2 + offset)
    if covmean is None:
      raise ValueError(
          'sqrtm(sigma1 @ sigma2) is not finite even after adding '
          f'{_SQRTM_EPS:g} * I to both covariances; are they symmetric PSD?')

  diff = mu1 - mu2
  dist = (diff @ diff + np.trace(sigma1) + np.trace(sigma2) -
          2.0 * np.trace(covmean))
  # The distance is >= 0 in exact arithmetic; identical sets can give -1e-12.
  return float(max(dist, 0.0))


def fid_from_features(feats_a, feats_b):
  """FID between two sets of features: Gaussian fits, then Frechet distance.

  Args:
    feats_a: [n_a, d] features of one set (e.g. real notes), n_a >= 2.
    feats_b: [n_b, d] features of the other set (e.g. generated), n_b >= 2.

  Returns:
    The FID as a float >= 0.

  Raises:
    ValueError: on wrong ranks, a feature-size mismatch, fewer than 2 rows, or
      non-finite values.
  """
  feats_a = _as_array('feats_a', feats_a, 2, '[n, d] features')
  feats_b = _as_array('feats_b', feats_b, 2, '[n, d] features')
  if feats_a.shape[1] != feats_b.shape[1]:
    raise ValueError(f'feats_a and feats_b must have the same feature size d, '
                     f'got shapes {feats_a.shape} and {feats_b.shape}.')
  fits = []
  for name, feats in (('feats_a', feats_a), ('feats_b', feats_b)):
    _check_finite(name, feats)
    if feats.shape[0] < 2:
      raise ValueError(f'{name} needs at least 2 rows for a covariance, got '
                       f'shape {feats.shape}.')
    # atleast_2d: np.cov of a single feature is 0-d.
    fits.append((feats.mean(axis=0),
                   np.atleast_2d(np.cov(feats, rowvar=False))))
  (mu1, sigma1), (mu2, sigma2) = fits
  return frechet_distance(mu1, sigma1, mu2, sigma2)


# ----------------------------------------------------------------------------
# Classifier-output metrics.


def inception_score(probs):
  """Inception score exp(mean_x KL(p(y|x) || p(y))), with p(y) = mean_x p(y|x).

  Args:
    probs: [n, classes] softmax outputs, each row summing to 1.

  Returns:
    The score as a float in [1, classes]: 1 for uniform or collapsed
    predictions, `classes` for confident predictions spread evenly.

  Raises:
    ValueError: on a wrong rank, an empty array, negative values or rows that
      do not sum to 1.
  """
  probs = _as_probs('probs', probs)
  p_y = probs.mean(axis=0, keepdims=True)
  log_p = np.log(np.clip(probs, _LOG_EPS, None))
  log_p_y = np.log(np.clip(p_y, _LOG_EPS, None))
  kl = np.sum(probs * (log_p - log_p_y), axis=1)
  return float(np.exp(np.mean(kl)))


def pitch_accuracy(pred_pitches, true_pitches, tolerance=1):
  """Fraction of notes whose predicted pitch is within `tolerance` semitones.

  As in Magenta's evaluation: a note counts as right when
  |pred - true| <= tolerance. NaN predictions count as wrong.

  Args:
    pred_pitches: [n] predicted MIDI pitches (e.g. argmax of the classifier).
    true_pitches: [n] MIDI pitches the generator was asked for.
    tolerance: semitones, >= 0.

  Returns:
    The accuracy as a float in [0, 1].

  Raises:
    ValueError: on wrong ranks, empty or mismatched arrays, or a negative
      tolerance.
  """
  pred = _as_array('pred_pitches', pred_pitches, 1, '[n] MIDI pitches')
  true = _as_array('true_pitches', true_pitches, 1, '[n] MIDI pitches')
  _check_same_length('pred_pitches', pred, 'true_pitches', true)
  _check_tolerance(tolerance)
  _check_finite('true_pitches', true)
  # NaN compares False, so an undetected pitch counts as wrong.
  return float(np.mean(np.abs(pred - true) <= tolerance))


def pitch_entropy(probs):
  """Mean entropy (nats) of the classifier's pitch distribution per note.

  Args:
    probs: [n, classes] softmax outputs, each row summing to 1.

  Returns:
    The mean entropy as a float in [0, ln(classes)]: 0 for one-hot rows,
    ln(classes) for uniform rows.

  Raises:
    ValueError: on a wrong rank, an empty array, negative values or rows that
      do not sum to 1.
  """
  probs = _as_probs('probs', probs)
  entropy = -np.sum(probs * np.log(np.clip(probs, _LOG_EPS, None)), axis=1)
  return float(np.mean(entropy))


# ----------------------------------------------------------------------------
# NDB.


def ndb(real_feats, fake_feats, k=50, alpha=0.05, seed=0):
  """Number of statistically different bins (Richardson & Weiss 2018).

  k-means with k centres is fitted on the real set; both sets are assigned to
  their nearest centre; per bin, a two-sided two-proportion z-test (pooled
  proportion) compares the real and the generated share of samples. A bin is
  different when its p-value is below alpha.

  Args:
    real_feats: [n_real, d] real samples (features or flattened data).
    fake_feats: [n_fake, d] generated samples.
    k: number of bins, 1 <= k <= n_real.
    alpha: significance level of each test, in (0, 1).
    seed: random_state of the k-means, so the bins are reproducible.

  Returns:
    (number_of_different_bins: int, fraction_of_k: float).

  Raises:
    ValueError: on wrong ranks, empty sets, a feature-size mismatch,
      non-finite values, k outside [1, n_real] or alpha outside (0, 1).
  """
  real = _as_array('real_feats', real_feats, 2, '[n, d] samples')
  fake = _as_array('fake_feats', fake_feats, 2, '[n, d] samples')
  if real.shape[1] != fake.shape[1]:
    raise ValueError(f'real_feats and fake_feats must have the same feature '
                     f'size d, got shapes {real.shape} and {fake.shape}.')
  _check_finite('real_feats', real)
  _check_finite('fake_feats', fake)
  if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
    raise ValueError(f'k must be a positive int (number of bins), got {k!r}.')
  n_real, n_fake = real.shape[0], fake.shape[0]
  if k > n_real:
    raise ValueError(f'k={k} bins need at least k real samples to fit k-means, '
                     f'got {n_real} real samples.')
  if not 0 < alpha < 1:
    raise ValueError(f'alpha must be in (0, 1), got {alpha!r}.')

  kmeans = cluster.KMeans(n_clusters=int(k), random_state=seed,
                          n_init=_KMEANS_N_INIT)
  kmeans.fit(real)
  real_counts = np.bincount(kmeans.predict(real), minlength=k)
  fake_counts = np.bincount(kmeans.predict(fake), minlength=k)
  p_real = real_counts / n_real
  p_fake = fake_counts / n_fake
  pooled = (real_counts + fake_counts) / (n_real + n_fake)
  stderr = np.sqrt(pooled * (1.0 - pooled) * (1.0 / n_real + 1.0 / n_fake))
  # stderr is 0 only when a bin is empty in both sets (or k == 1): the
  # proportions are then equal, z = 0, and the bin is not different.
  z = np.divide(p_real - p_fake, stderr, out=np.zeros(k), where=stderr > 0)
  p_values = 2.0 * stats.norm.sf(np.abs(z))
  num_different = int(np.sum(p_values < alpha))
  return num_different, num_different / k


# ----------------------------------------------------------------------------
# pYIN pitch.


def pyin_midi(waves, sample_rate=16000, start_s=0.1, end_s=2.1, fmin='C1',
              fmax='C8'):
  """Estimates each note's pitch with librosa's pYIN, as a float MIDI number.

  The median of f0 over the voiced frames between start_s and end_s (past the
  attack, before the release of a 4 s GANSynth note), converted to MIDI.

  Args:
    waves: [n, samples] array, or a list of n 1-D arrays (lengths may differ).
    sample_rate: Hz.
    start_s: start of the analysed window, seconds, >= 0.
    end_s: end of the analysed window, seconds, > start_s; a shorter wave is
      analysed up to its end.
    fmin: lowest pitch pYIN searches, a note name (e.g. 'C1').
    fmax: highest pitch pYIN searches, a note name (e.g. 'C8').

  Returns:
    [n] float64 MIDI pitches, NaN for a note with no voiced frame.

  Raises:
    ValueError: on a wave that is not 1-D, no waves, a bad window, or a wave
      that ends before start_s.
  """
  if isinstance(waves, np.ndarray):
    if waves.ndim != 2:
      raise ValueError(f'waves must be [n, samples] or a list of 1-D arrays, '
                       f'got an array of shape {waves.shape}.')
  waves = list(waves)
  if not waves:
    raise ValueError('waves must hold at least one wave, got none.')
  if sample_rate <= 0:
    raise ValueError(f'sample_rate must be > 0, got {sample_rate!r}.')
  if not 0 <= start_s < end_s:
    raise ValueError(f'Need 0 <= start_s < end_s, got start_s={start_s!r}, '
                     f'end_s={end_s!r}.')
  start = int(round(start_s * sample_rate))
  end = int(round(end_s * sample_rate))
  fmin_hz = librosa.note_to_hz(fmin)
  fmax_hz = librosa.note_to_hz(fmax)

  # All waves are checked before the first (slow) pyin call.
  segments = []
  for i, wave in enumerate(waves):
    wave = np.asarray(wave, dtype=np.float32)
    if wave.ndim != 1:
      raise ValueError(f'waves[{i}] must be 1-D samples, got shape '
                       f'{wave.shape}.')
    if wave.size <= start:
      raise ValueError(f'waves[{i}] has {wave.size} samples, it ends before '
                       f'start_s={start_s} s at {sample_rate} Hz.')
    segments.append(wave[start:end])

  midi = np.full(len(segments), np.nan)
  for i, segment in enumerate(segments):
    f0, voiced, _ = librosa.pyin(segment, fmin=fmin_hz, fmax=fmax_hz,
                                 sr=sample_rate)
    f0 = f0[voiced & np.isfinite(f0)]
    if f0.size:
      midi[i] = librosa.hz_to_midi(np.median(f0))
  return midi


def pyin_accuracy(estimated_midi, asked_pitches, tolerance=0.5):
  """Fraction of notes whose pYIN estimate is within `tolerance` semitones.

  Args:
    estimated_midi: [n] float MIDI pitches from `pyin_midi` (NaN = unvoiced,
      counted as wrong).
    asked_pitches: [n] MIDI pitches the generator was asked for.
    tolerance: semitones, >= 0.

  Returns:
    The accuracy as a float in [0, 1].

  Raises:
    ValueError: on wrong ranks, empty or mismatched arrays, or a negative
      tolerance.
  """
  # The same rule as the classifier's pitch accuracy, at pYIN's tolerance.
  return pitch_accuracy(estimated_midi, asked_pitches, tolerance)


# ----------------------------------------------------------------------------
# Log-mel distance.

# The distance's spectrogram: 64 ms frames every 16 ms at 16 kHz, 80 mel
# bands, and a floor 80 dB below the reference's loudest bin, so that what
# lies below hearing in both notes does not count.
LOG_MEL_NFFT = 1024
LOG_MEL_HOP = 256
LOG_MEL_BANDS = 80
LOG_MEL_FLOOR_DB = 80.0


def log_mel_db(waves, sample_rate=16000):
  """`[..., samples]` -> `[..., LOG_MEL_BANDS, frames]` mel power in dB (re 1.0)."""
  waves = np.asarray(waves, np.float32)
  power = np.abs(librosa.stft(waves, n_fft=LOG_MEL_NFFT,
                              hop_length=LOG_MEL_HOP)) ** 2
  mel = librosa.filters.mel(sr=sample_rate, n_fft=LOG_MEL_NFFT,
                            n_mels=LOG_MEL_BANDS)
  return 10.0 * np.log10(np.maximum(
      np.einsum('mf,...ft->...mt', mel, power), 1e-10))


def log_mel_distance(waves, reference, sample_rate=16000):
  """Log-mel L1 distance in dB of each wave to one reference note.

  The mean over bands and frames of |dB(wave) - dB(reference)|, both floored
  at LOG_MEL_FLOOR_DB below the reference's loudest bin. 0 for identical
  notes; levels count (a note 6 dB quieter is ~6 dB away).

  Args:
    waves: `[n, samples]` (or `[samples]`) float.
    reference: `[samples]`, the same length.
    sample_rate: Hz.

  Returns:
    `[n]` float64 distances in dB (a float for one wave).
  """
  waves = np.asarray(waves, np.float32)
  reference = np.asarray(reference, np.float32)
  if reference.ndim != 1 or waves.shape[-1] != reference.shape[-1]:
    raise ValueError(f'log_mel_distance needs waves [n, samples] and a '
                     f'reference [samples] of the same length, got '
                     f'{waves.shape} and {reference.shape}.')
  _check_finite('waves', waves)
  _check_finite('reference', reference)
  ref_db = log_mel_db(reference, sample_rate)
  floor = ref_db.max() - LOG_MEL_FLOOR_DB
  wave_db = np.maximum(log_mel_db(waves, sample_rate), floor)
  return np.mean(np.abs(wave_db - np.maximum(ref_db, floor)), axis=(-2, -1))
