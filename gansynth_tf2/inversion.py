"""Inversion: the latent vector whose generated note best matches a recording.

GANSynth has no encoder (the paper's supplement says so); users drew random
latents and kept the closest (magenta/magenta#1963). `invert` does that as
its first step, then optimises z by gradient descent through the generator
AND the inverse transform, so the loss is measured on the audio the model
actually plays:

  1. baseline: `num_random` standard-normal latents at the note's pitch, the
     closest by `metrics.log_mel_distance` kept (what users do today);
  2. the `num_starts` closest are the starts of Adam on a multi-resolution
     log-power STFT loss (FFT sizes 256..2048, floored 80 dB below the
     target's peak, so silence does not count), optionally plus (for the
     IF representations, `if_weight`) the instantaneous-frequency
     difference of the model's image weighted by the target's magnitude
     (off by default: on 8 generated cpu_small notes it reached a median
     0.48x of the baseline at weight 0.5, 0.42x without); z is kept on the prior's
     shell (|z| = sqrt(latent_size)) by projection after each step, and
     Gaussian noise on z early in each phase (annealed to 0, as StyleGAN's
     projector does) shakes starts out of shallow minima;
  3. after `steps[0]` steps the `keep` best starts go on for `steps[1]`
     steps, and the best of those is the answer (never worse than the
     baseline: the baseline's latent is kept if nothing beat it).

The recording is prepared to the model's note first (`prepare_wave`: mixed to
mono, resampled, cut or padded, brought into the level range of the model's
notes when far outside it) and its pitch found by pYIN when not given
(`detect_pitch`: the nearest pitch the model was trained on).
Consumers: `GANSynthModel.invert`, the `invert` and `instrument` command
lines. Shapes: waves `[n, audio_length]`, z `[n, latent_size]`.
"""

import dataclasses
import math
import time

import numpy as np
import tensorflow as tf

from gansynth_tf2 import metrics

NUM_RANDOM = 1000
NUM_STARTS = 32
KEEP = 8
STEPS = (150, 450)
# Both phases explore, then settle (the rate decays to 5%, the latent noise
# to 0 by 3/4 of the phase). Measured on 8 generated cpu_small notes (the
# kind tools/bench_invert.py measures; ratio to the best-of-1,000
# baseline): rates (0.1, 0.05) with noise (0.3, 0): median 0.42x, 7 of 8
# at <= 0.5x; (0.2, 0.05) with (0.6, 0): 0.18x, 7 of 8; (0.3, 0.05) with
# (1.0, 0): 0.18x, 6 of 8; these: 0.18x, 8 of 8, mean 0.17x.
LEARNING_RATES = (0.2, 0.1)
NOISE = (0.6, 0.2)
FFT_SIZES = (256, 512, 1024, 2048)
FLOOR_DB = 80.0
IF_WEIGHT = 0.0
# Notes optimised together per generator call (starts x targets): larger
# batches amortise the per-step overhead; this bounds the memory of the
# backward pass (~60 MB per cpu_small note).
MAX_BATCH = 64
# A recording quieter than this peak is silence.
SILENCE_PEAK = 1e-4
# pYIN needs a few frames: shorter recordings are refused.
MIN_SECONDS = 0.1
# detect_pitch: the fraction of pYIN frames that must hold the pitch.
MIN_STEADY = 0.5


@dataclasses.dataclass
class Inversion:
  """What `invert` found, per note (arrays indexed like the inputs).

  Attributes:
    z: `[n, latent_size]` the latents found.
    pitches: `[n]` MIDI pitches inverted at.
    targets: `[n, audio_length]` the prepared recordings.
    reconstructions: `[n, audio_length]` the notes generated from `z`.
    distance_db: `[n]` log-mel L1 (dB) of reconstruction to target.
    baseline_db: `[n]` the same for the best of `num_random` random latents.
    baseline_z: `[n, latent_size]` those random latents.
    num_random: the baseline's number of random latents.
    seconds: wall time of the whole inversion.
  """
  z: np.ndarray
  pitches: np.ndarray
  targets: np.ndarray
  reconstructions: np.ndarray
  distance_db: np.ndarray
  baseline_db: np.ndarray
  baseline_z: np.ndarray
  num_random: int
  seconds: float


# ---------------------------------------------------------------------------
# The recording, prepared to the model's note.


def prepare_wave(audio, sample_rate, model_rate, audio_length, name='audio'):
  """A recording as the model's note: `[audio_length]` float32, and what changed.

  Args:
    audio: `[samples]` or `[samples, channels]` float (soundfile's layout).
    sample_rate: the recording's rate, Hz.
    model_rate, audio_length: the model's.
    name: the file (or 'waves[i]') named in errors and notes.

  Returns:
    (wave, notes): notes are sentences saying what was done ('mixed 2
    channels to mono', 'resampled 44100 -> 16000 Hz', 'cut 4.00 s to the
    model's 0.51 s note', ...).

  Raises:
    ValueError: not finite, silent, empty or shorter than MIN_SECONDS.
  """
  audio = np.asarray(audio, np.float64)
  notes = []
  if audio.ndim == 2:
    if audio.shape[1] > 1:
      notes.append(f'mixed {audio.shape[1]} channels to mono')
    audio = audio.mean(axis=1)
  elif audio.ndim != 1:
    raise ValueError(f'{name}: expected [samples] or [samples, channels] '
                     f'audio, got shape {audio.shape}')
  if not np.all(np.isfinite(audio)):
    raise ValueError(f'{name}: the audio contains NaN or Inf samples')
  seconds = len(audio) / sample_rate
  if seconds < MIN_SECONDS:
    raise ValueError(f'{name}: {seconds:.3f} s of audio is too short '
                     f'(at least {MIN_SECONDS} s is needed to hear a pitch)')
  if np.max(np.abs(audio)) < SILENCE_PEAK:
    raise ValueError(f'{name}: the audio is silent (peak below '
                     f'{SILENCE_PEAK:g})')
  if sample_rate != model_rate:
    import librosa  # pylint: disable=import-outside-toplevel
    audio = librosa.resample(audio, orig_sr=sample_rate, target_sr=model_rate)
    notes.append(f'resampled {sample_rate} -> {model_rate} Hz')
  length_s = audio_length / model_rate
  if len(audio) > audio_length:
    notes.append(f'cut {len(audio) / model_rate:.2f} s to the model\'s '
                 f'{length_s:.2f} s note')
  elif len(audio) < audio_length:
    notes.append(f'padded {len(audio) / model_rate:.2f} s with silence to '
                 f'the model\'s {length_s:.2f} s note')
  wave = np.zeros(audio_length, np.float32)
  wave[:min(len(audio), audio_length)] = audio[:audio_length]
  return wave, notes


def detect_pitch(wave, sample_rate, trained_pitches, name='audio'):
  """pYIN's pitch of a note and the nearest pitch the model was trained on.

  Returns:
    (heard, pitch): heard is a float MIDI number, pitch an int of
    `trained_pitches`.

  Raises:
    ValueError: no pitch heard, or one more than a semitone outside the
      trained range (pass the pitch explicitly then).
  """
  import librosa  # pylint: disable=import-outside-toplevel
  length_s = len(wave) / sample_rate
  # Past the attack; at most 2 s (pYIN's cost grows with it).
  start = int(min(0.05, length_s / 4) * sample_rate)
  segment = np.asarray(wave, np.float32)[start:int(min(2.0, length_s) *
                                                   sample_rate)]
  f0, voiced, _ = librosa.pyin(segment, fmin=librosa.note_to_hz('C1'),
                               fmax=librosa.note_to_hz('C8'), sr=sample_rate)
  voiced &= np.isfinite(f0)
  midi = librosa.hz_to_midi(f0[voiced]) if np.any(voiced) else np.zeros(0)
  heard = float(np.median(midi)) if midi.size else float('nan')
  # pYIN calls most frames of noise voiced, with pitches all over the
  # place (and its voicing probability is low for a low note too, so that
  # does not tell them apart); a note holds its pitch.
  steady = np.sum(np.abs(midi - heard) <= 0.5) / max(len(f0), 1)
  if steady < MIN_STEADY:
    raise ValueError(f'{name}: pYIN hears no steady pitch in the note (within '
                     f'half a semitone of its median in {100 * steady:.0f}% '
                     'of its frames); give the pitch explicitly '
                     '(--pitch=MIDI)')
  trained = np.asarray(sorted(trained_pitches))
  if heard < trained[0] - 1 or heard > trained[-1] + 1:
    raise ValueError(
        f'{name}: pYIN hears MIDI {heard:.1f}, outside the pitches this '
        f'model was trained on (MIDI {trained[0]}..{trained[-1]}); give a '
        'pitch in that range explicitly (--pitch=MIDI)')
  return float(heard), nearest_trained(heard, trained)


def nearest_trained(pitch, trained):
  """The trained pitch nearest `pitch` (the lower one on a tie, for sorted
  `trained`)."""
  trained = np.asarray(trained)
  return int(trained[np.argmin(np.abs(trained - pitch))])


def trained_pitches(model):
  """The pitches with training notes (all the model's when counts are unknown)."""
  trained = [p for p in model.pitches if model.pitch_counts.get(p, 0) > 0]
  return trained or list(model.pitches)


def match_level(wave, reference_peaks):
  """A wave scaled into the range of the model's peaks, and the gain in dB.

  The loss and the distance compare levels, so a recording far quieter or
  louder than anything the model plays at that pitch would be matched by
  its loudness alone; within the range (e.g. the model's own notes) the
  wave is left as it is (gain 0 dB).
  """
  peak = float(np.max(np.abs(wave)))
  low, high = np.percentile(reference_peaks, [5, 95])
  target = min(max(peak, low), high)
  if target == peak:
    return wave, 0.0
  return (wave * np.float32(target / peak)).astype(np.float32), (
      20.0 * math.log10(target / peak))


# ---------------------------------------------------------------------------
# The loss and the optimisation.


def _log_power_db(waves, nfft):
  stft = tf.signal.stft(waves, nfft, nfft // 4, pad_end=True)
  power = tf.math.real(stft) ** 2 + tf.math.imag(stft) ** 2
  return (10.0 / math.log(10.0)) * tf.math.log(power + 1e-10)


class _Objective:
  """The loss of latents `[b, latent]` against targets, traced once per shape."""

  def __init__(self, model, fft_sizes=FFT_SIZES, floor_db=FLOOR_DB,
               if_weight=IF_WEIGHT):
    self.model = model
    self.fft_sizes = tuple(int(n) for n in fft_sizes
                           if n <= model.audio_length)
    self.floor_db = float(floor_db)
    has_if = model.data_helper.data_type in ('mel', 'linear')
    self.if_weight = float(if_weight) if has_if else 0.0
    self._step = tf.function(self._adam_step, reduce_retracing=True)
    self._loss = tf.function(self._loss_fn, reduce_retracing=True)

  def target_features(self, targets):
    """Per target: its log power at each FFT size, and its image for IF."""
    targets = tf.constant(targets, tf.float32)
    specs = []
    for nfft in self.fft_sizes:
      db = _log_power_db(targets, nfft)
      floor = tf.reduce_max(db, axis=[1, 2], keepdims=True) - self.floor_db
      specs.append((tf.maximum(db, floor), floor))
    image = None
    if self.if_weight:
      image = self.model.data_helper.waves_to_data(targets[:, :, None])
    return specs, image

  def _loss_fn(self, z, one_hot, specs, image):
    model = self.model
    images = model.generator(z, one_hot, progress=model.progress)
    waves = model.data_helper.data_to_waves(images)[:, :model.audio_length, 0]
    loss = 0.0
    for nfft, (target_db, floor) in zip(self.fft_sizes, specs):
      db = tf.maximum(_log_power_db(waves, nfft), floor)
      loss += tf.reduce_mean(tf.abs(db - target_db), axis=[1, 2])
    loss /= len(self.fft_sizes)
    if image is not None:
      log_power = image[..., 0]
      weight = tf.exp(0.5 * (log_power - tf.reduce_max(
          log_power, axis=[1, 2], keepdims=True)))  # magnitude re peak
      # 1 - cos: the IF difference on the circle (IF / pi wraps at +-1).
      d = 1.0 - tf.cos(np.pi * (images[..., 1] - image[..., 1]))
      loss += self.if_weight * (tf.reduce_sum(weight * d, axis=[1, 2]) /
                                tf.reduce_sum(weight, axis=[1, 2]))
    return loss

  def _adam_step(self, z, m, v, t, one_hot, specs, image, lr, noise, seed):
    noisy = z + noise * tf.random.stateless_normal(tf.shape(z), seed)
    with tf.GradientTape() as tape:
      tape.watch(noisy)
      loss = self._loss_fn(noisy, one_hot, specs, image)
      total = tf.reduce_sum(loss)
    g = tape.gradient(total, noisy)
    m = 0.9 * m + 0.1 * g
    v = 0.999 * v + 0.001 * g * g
    step = (m / (1.0 - 0.9 ** t)) / (tf.sqrt(v / (1.0 - 0.999 ** t)) + 1e-8)
    z = z - lr * step
    # Back onto the prior's shell, where the generator was trained.
    radius = math.sqrt(z.shape[-1])
    z = z * (radius / tf.norm(z, axis=1, keepdims=True))
    return z, m, v, loss

  def loss(self, z, one_hot, specs, image):
    return self._loss(tf.constant(z), one_hot, specs, image).numpy()

  def optimise(self, z, one_hot, specs, image, steps, lr, noise, seed,
               report=None):
    """`steps` Adam steps from `z` `[b, latent]`; returns (z, loss `[b]`)."""
    z = tf.constant(z, tf.float32)
    m = tf.zeros_like(z)
    v = tf.zeros_like(z)
    for i in range(steps):
      frac = i / max(steps, 1)
      # Cosine decay to 5% of the rate; noise annealed by 1 - frac / 0.75.
      lr_i = lr * (0.05 + 0.475 * (1.0 + math.cos(math.pi * frac)))
      noise_i = noise * max(0.0, 1.0 - frac / 0.75) ** 2
      z, m, v, _ = self._step(
          z, m, v, tf.constant(i + 1.0), one_hot, specs, image,
          tf.constant(lr_i, tf.float32), tf.constant(noise_i, tf.float32),
          tf.constant([seed, i], tf.int32))
      if report is not None:
        report(1)
    z = z.numpy()
    return z, self.loss(z, one_hot, specs, image)


def _repeat(features, counts):
  """Target features repeated per start: `counts[i]` copies of target i."""
  specs, image = features
  index = np.repeat(np.arange(len(counts)), counts)
  specs = [(tf.gather(db, index), tf.gather(floor, index))
           for db, floor in specs]
  return specs, (None if image is None else tf.gather(image, index))


# ---------------------------------------------------------------------------
# The entry point.


def random_baseline(model, targets, pitches, num_random=NUM_RANDOM, seed=0,
                    report=None):
  """Best of `num_random` random latents per target (users' way today).

  Returns:
    (distance `[n]`, ranked z `[n, num_random, latent]` closest first,
    peaks `[n, num_random]` of the random notes).
  """
  rng = np.random.RandomState(seed)
  candidates = rng.standard_normal(
      [num_random, model.latent_size]).astype(np.float32)
  best, ranked, peaks = [], [], []
  for target, pitch in zip(targets, pitches):
    waves = model.generate_from_z(candidates, [pitch] * num_random)
    d = metrics.log_mel_distance(waves, target, model.sample_rate)
    order = np.argsort(d, kind='stable')
    best.append(d[order[0]])
    ranked.append(candidates[order])
    peaks.append(np.max(np.abs(waves), axis=1))
    if report is not None:
      report(1)
  return np.array(best), np.stack(ranked), np.stack(peaks)


def invert(model, waves, pitches, *, num_random=NUM_RANDOM,
           num_starts=NUM_STARTS, keep=KEEP, steps=STEPS,
           learning_rates=LEARNING_RATES, noise=NOISE, seed=0,
           if_weight=IF_WEIGHT, match_levels=True, progress=None):
  """The latents whose notes best match `waves` at `pitches`.

  Args:
    model: a `GANSynthModel` (any checkpoint `load_model` reads).
    waves: `[n, audio_length]` notes at the model's rate (see
      `prepare_wave` for recordings).
    pitches: `[n]` MIDI pitches of the model (see `detect_pitch`).
    num_random: latents of the random baseline (and the pool of starts).
    num_starts: starts per note of the first phase (<= num_random).
    keep: starts per note that go on to the second phase.
    steps: Adam steps of the two phases.
    learning_rates, noise: per phase (noise: std of the latent noise at the
      start of the phase, annealed to 0 by 3/4 of it).
    seed: seeds the random latents and the noise.
    if_weight: weight of the magnitude-weighted IF term (IF
      representations only; 0 leaves the audio's spectra alone).
    match_levels: bring a recording whose peak lies outside the model's
      peaks at that pitch into their range first (`match_level`).
    progress: optional callable(done, total, what) for a progress line.

  Returns:
    An `Inversion`.
  """
  start_time = time.time()
  waves = np.asarray(waves, np.float32)
  if waves.ndim == 1:
    waves = waves[None]
  if waves.ndim != 2 or waves.shape[1] != model.audio_length:
    raise ValueError(f'waves must be [n, {model.audio_length}] (the model\'s '
                     f'audio_length), got {list(waves.shape)}; prepare '
                     'recordings with inversion.prepare_wave')
  if not np.all(np.isfinite(waves)):
    raise ValueError('waves contain NaN or Inf samples')
  pitches = np.asarray(pitches).reshape(-1)
  labels = model.labels_of(pitches)  # checks the pitches
  if len(labels) != len(waves):
    raise ValueError(f'{len(waves)} waves but {len(labels)} pitches')
  if not 1 <= keep <= num_starts <= num_random:
    raise ValueError(f'need 1 <= keep ({keep}) <= num_starts ({num_starts}) '
                     f'<= num_random ({num_random})')
  n = len(waves)
  total = n + n * (steps[0] + steps[1])
  done = [0]

  def report(k, what='optimising'):
    done[0] += k
    if progress is not None:
      progress(done[0], total, what)

  baseline, ranked, peaks = random_baseline(
      model, waves, pitches, num_random, seed,
      report=lambda k: report(k, 'random baseline'))
  if match_levels:
    leveled = [match_level(w, p) for w, p in zip(waves, peaks)]
    if any(gain for _, gain in leveled):
      waves = np.stack([w for w, _ in leveled])
      # The baseline against the targets as now scaled.
      baseline, ranked, _ = random_baseline(model, waves, pitches,
                                            num_random, seed)
  objective = _Objective(model, if_weight=if_weight)
  one_hots = tf.one_hot(labels, len(model.pitches))
  found = np.zeros([n, model.latent_size], np.float32)
  # Targets per group: as many as fit MAX_BATCH starts.
  group = max(1, MAX_BATCH // num_starts)
  for g0 in range(0, n, group):
    idx = np.arange(g0, min(n, g0 + group))
    features = objective.target_features(waves[idx])
    z = ranked[idx, :num_starts].reshape(-1, model.latent_size)
    counts = [num_starts] * len(idx)
    for phase, (phase_steps, lr, sigma) in enumerate(
        zip(steps, learning_rates, noise)):
      one_hot = tf.gather(one_hots, np.repeat(idx, counts))
      specs, image = _repeat(features, counts)
      z, loss = objective.optimise(
          z, one_hot, specs, image, phase_steps, lr, sigma,
          seed=seed * 1000 + g0 * 10 + phase,
          report=lambda k, m=len(idx): report(k * m))  # notes x steps
      # Keep the best `keep` starts of each target (then the best one).
      k = keep if phase == 0 else 1
      z = z.reshape(len(idx), -1, model.latent_size)
      loss = loss.reshape(len(idx), -1)
      best = np.argsort(loss, axis=1, kind='stable')[:, :k]
      z = np.take_along_axis(z, best[..., None], axis=1).reshape(
          -1, model.latent_size)
      counts = [k] * len(idx)
    found[idx] = z
  reconstructions = model.generate_from_z(found, pitches)
  distance = np.array([metrics.log_mel_distance(r, w, model.sample_rate)
                       for r, w in zip(reconstructions, waves)])
  # Never worse than the baseline: keep its latent where nothing beat it.
  worse = distance > baseline
  if np.any(worse):
    found[worse] = ranked[worse, 0]
    reconstructions[worse] = model.generate_from_z(found[worse],
                                                   pitches[worse])
    distance[worse] = baseline[worse]
  return Inversion(z=found, pitches=pitches, targets=waves,
                   reconstructions=reconstructions, distance_db=distance,
                   baseline_db=baseline, baseline_z=ranked[:, 0],
                   num_random=num_random, seconds=time.time() - start_time)
