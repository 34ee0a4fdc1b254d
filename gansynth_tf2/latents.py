"""Latent directions: the principal directions of the generator's variation.

GANSpace (Harkonen et al., 2020) for a generator without a mapping network,
as GANSpaceSynth applied it to GANSynth: sample N latents with random
trained pitches, take the activations y of an early generator layer, remove
each pitch's mean (the pitch is an input of its own: what is left is the
latents' doing, timbre), PCA on them (top k components V), then regress
the latents on the PCA coordinates x = V^T(y - mu), z ~ x B, so that row k
of B is the z direction that moves coordinate k. Directions are B's rows
scaled to unit length; an edit is z' = z + sum_k a_k * std_k * u_k with
std_k the standard deviation of z . u_k over random latents (~1: z is
standard normal), so `a` is in standard deviations, sensible within +-3.
Edits stay in z space: every generate path (MIDI slerps, exported models
fed the edited z) can use them.

Each direction is labelled by measurement (`label_directions`): notes of
16 latents are generated at 7 steps in -3..+3 along it, and the audio
descriptor whose change follows the steps best (Pearson r of the steps and
the descriptor, each note's own mean removed) names it:
"PC1: spectral centroid +, r = 0.93".

The layer: block 2 (`DEFAULT_LAYER`), chosen by measurement on the shipped
models/cpu_small (4,096 latents, 8 directions; labels from 16 latents x 7
steps; PC1's monotonicity and pitch on 32 other latents, pYIN 0.5 semitone;
stability: best |cos| of each direction with a fit from another seed;
2-core EPYC, 2026-12-06):

  block  PC1 var  labels   mean  stable PCs  PC1       in tune %
                 r>=0.8   |r|   (|cos|>=.9) monotone  0 / -3 / +3
  1        9.6%    2      0.66  1-2         28/32     87.5 / 84.4 / 81.2
  2       54.8%    4      0.73  1, 2, 4     29/32     87.5 / 84.4 / 78.1
  3       34.8%    2      0.69  1-3         29/32     87.5 / 78.1 / 81.2
  4       33.0%    4      0.75  1-3         30/32     87.5 / 75.0 / 84.4

PC1 is the same z direction at every layer (|cos| 1.00 between blocks 1
and 2), so the layer decides the others. Block 1 (cpu_small's dense layer,
nearly linear in z) has a flat spectrum after PC2 (1.4-1.6% each: PCs 3-8
change with the seed, labels r 0.41-0.75); deeper blocks give more
strongly labelled PCs but repeat z directions (block 2's PC3 is -PC2 at
|cos| 0.94, hence MAX_COSINE; block 3 keeps PCs 1, 2, 5, 6, 11, 12, 14, 15)
and lose pitch at -3. Block 2: the strongest distinct labels with block
1's pitch. PC1 at +2..+3 std (faster decay) does cost pitch: over 128
latents in tune 76.6% unedited, 78.1-78.9% at -3..-1, 75.8% at +1, 71.1% at
+2, 64.8% at +3 (the same with z . u1 set to +3 outright, so the timbre,
not the prior's tail); see tests/test_latents.py.

Re-projection: cpu_small's generator (simple_arch) does not pixel-normalize
z, Magenta's does (z and the one-hot together, so |z| only weighs the pitch
a little). Scaling each edited latent back to its own norm
(`apply_edits(reproject=True)`) changed neither PC1's monotonicity nor the
in-tune fractions at block 2 (32 latents: 87.5 / 87.5 / 81.2% either way),
so edits are plain sums: an edit of 0 is the latent itself, bit for bit.
"""

import dataclasses
import io
import os
import re
import sys

from absl import app
from absl import flags
import numpy as np

DIRECTIONS_FILE = 'directions.npz'
DEFAULT_NUM_SAMPLES = 4096
DEFAULT_NUM_COMPONENTS = 8
DEFAULT_LAYER = 'progressive_gan_block_2'
# A principal component whose z direction has |cos| >= this with a kept
# one's is skipped (it would be the same knob).
MAX_COSINE = 0.5
# Steps of the labelling sweeps, in standard deviations.
STEPS = (-3.0, -2.0, -1.0, 0.0, 1.0, 2.0, 3.0)
LABEL_LATENTS = 16
# The layer name of the generator's output (denormalized images).
IMAGES = 'images'


@dataclasses.dataclass(frozen=True)
class Directions:
  """Fitted directions of one model.

  directions: `[k, latent_size]` unit z directions, PC1 first.
  stds: `[k]` standard deviation of z . u_k over random latents.
  explained_variance_ratio: `[k]` of the layer's pitch-centred variance.
  mean: `[D]` the layer's mean activation (D its flattened size).
  components: `[k, D]` the PCA components V^T at the layer.
  r2: `[k]` how much of each PCA coordinate a linear map of z explains
    (held-out latents).
  component_index: `[k]` which principal component of the layer each is
    (1-based; a PC whose z direction repeats a kept one's is skipped).
  layer, num_samples, seed: how they were fitted; checkpoint: the
    checkpoint (relative to the model's folder) they were fitted on.
  labels: k strings ("PC1: spectral centroid +, r = 0.93") or empty.
  correlations: `[k, len(descriptor_names)]` the measured r's, or empty.
  descriptor_names: the descriptors of `correlations`' columns.
  """
  directions: np.ndarray
  stds: np.ndarray
  explained_variance_ratio: np.ndarray
  mean: np.ndarray
  components: np.ndarray
  r2: np.ndarray
  component_index: np.ndarray
  layer: str
  num_samples: int
  seed: int
  checkpoint: str = ''
  labels: tuple = ()
  correlations: np.ndarray = dataclasses.field(
      default_factory=lambda: np.zeros((0, 0), np.float32))
  descriptor_names: tuple = ()

  @property
  def num_components(self):
    return len(self.directions)

  def descriptor(self, number):
    """(name, r) of the descriptor that labels direction `number` (1-based)."""
    row = np.asarray(self.correlations)[number - 1]
    best = int(np.argmax(np.abs(row)))
    return self.descriptor_names[best], float(row[best])


# ---------------------------------------------------------------- the layer


def layer_names(model):
  """The layers directions can be fitted at: the generator's blocks, then
  IMAGES (its output)."""
  return [block.name for block in model.generator.blocks] + [IMAGES]


def _activations_fn(model, layer):
  """tf.function (z `[b, latent]`, labels `[b]`) -> `[b, D]` float32."""
  import tensorflow as tf  # pylint: disable=import-outside-toplevel
  names = layer_names(model)
  if layer not in names:
    raise ValueError(f'layer {layer!r} is not one of this generator\'s: '
                     f'{", ".join(names)}')
  generator = model.generator
  if layer == IMAGES:
    def images(z, labels):
      x = model.images_from_z(z, labels)
      return tf.reshape(x, [tf.shape(x)[0], -1])
    return tf.function(images)
  num_blocks = names.index(layer) + 1

  def features(z, labels):
    one_hot = tf.one_hot(labels, len(model.pitches))
    x = generator.features(z, one_hot, num_blocks=num_blocks)[-1]
    return tf.reshape(tf.cast(x, tf.float32), [tf.shape(x)[0], -1])
  return tf.function(features)


def activations(model, z, pitches, layer, batch_size=256):
  """`[n, D]` float32 activations of `layer` for latents `[n, latent]` and
  MIDI pitches `[n]`."""
  fn = _activations_fn(model, layer)
  labels = model.labels_of(pitches)
  z = np.asarray(z, np.float32)
  return np.concatenate([
      fn(z[i:i + batch_size], labels[i:i + batch_size]).numpy()
      for i in range(0, len(z), batch_size)])


# -------------------------------------------------------------------- edits


def apply_edits(z, directions, edits, reproject=False):
  """Latents moved along directions: `[n, latent]`.

  Args:
    z: `[n, latent]` (or `[latent]`).
    directions: a `Directions`.
    edits: {direction number (1 = PC1): amount in standard deviations}.
    reproject: scale each edited latent back to its own norm.
  """
  z = np.asarray(z, np.float32)
  delta = np.zeros(z.shape[-1], np.float64)
  for number, amount in check_edits(edits, directions.num_components).items():
    delta += (amount * directions.stds[number - 1] *
              directions.directions[number - 1])
  edited = z + delta.astype(np.float32)
  if reproject:
    norm = np.linalg.norm(z, axis=-1, keepdims=True)
    edited = edited * (norm / np.maximum(
        np.linalg.norm(edited, axis=-1, keepdims=True), 1e-12))
  return edited.astype(np.float32)


def check_edits(edits, num_components):
  """{int direction number: float amount}, or ValueError naming the bad one."""
  if not hasattr(edits, 'items'):
    raise ValueError('edits must be a mapping {direction number (1-based): '
                     f'amount in standard deviations}}, got {edits!r}')
  checked = {}
  for number, amount in edits.items():
    if (isinstance(number, bool) or
        not isinstance(number, (int, np.integer)) or
        not 1 <= number <= num_components):
      raise ValueError(f'edit direction {number!r} is out of range: this '
                       f'model has directions 1..{num_components}')
    amount = float(amount)
    if not np.isfinite(amount):
      raise ValueError(f'edit amount of direction {number} must be finite, '
                       f'got {amount}')
    checked[int(number)] = amount
  return checked


# ---------------------------------------------------------------- fitting


def fit_directions(model, num_samples=DEFAULT_NUM_SAMPLES,
                   num_components=DEFAULT_NUM_COMPONENTS, layer=DEFAULT_LAYER,
                   seed=0, batch_size=256):
  """PCA at `layer` over random latents and trained pitches -> `Directions`.

  Up to 3 x num_components principal components are computed and, in PC
  order, those whose z direction is within MAX_COSINE of one kept already
  are skipped (a later PC of a nonlinear layer is often a function of an
  earlier one's z direction: PC3 of models/cpu_small's block 2 is -PC2 at
  cos 0.94); the kept ones are renumbered 1..k (`component_index` says
  which layer PC each is).

  Args:
    model: a loaded `GANSynthModel`.
    num_samples: latents sampled (more than num_components).
    num_components: directions kept (fewer if fewer distinct ones exist).
    layer: one of `layer_names(model)`.
    seed: seeds the latents, the pitches and the randomized SVD.
  """
  from sklearn.utils import extmath  # pylint: disable=import-outside-toplevel
  num_samples, num_components = _checked_sizes(num_samples, num_components)
  rng = np.random.RandomState(seed)
  z = rng.standard_normal([num_samples, model.latent_size]).astype(np.float32)
  pitches = model.sample_pitches(num_samples, seed=seed)
  # float32: [n, D] is 256 MB for 4,096 latents at a 16,384-value layer.
  y = activations(model, z, pitches, layer, batch_size)
  mean = y.mean(axis=0, dtype=np.float64)
  # Each pitch's own mean removed: the pitch is an input of its own, and
  # its effect would otherwise be the largest component (not a timbre).
  pitch_means = {}
  for pitch in np.unique(pitches):
    rows = pitches == pitch
    pitch_means[pitch] = y[rows].mean(axis=0)
    y[rows] -= pitch_means[pitch]
  total = np.sum(np.square(y, dtype=np.float64))
  count = min(3 * num_components, num_samples - 1, y.shape[1])
  u, s, vt = extmath.randomized_svd(y, count, random_state=seed)
  del y
  coords = (u * s).astype(np.float64)  # [n, count] PCA coordinates
  # z ~ coords @ b: b[j] the z direction that moves coordinate j
  # (GANSpace's regression for latent spaces without a mapping network).
  b, *_ = np.linalg.lstsq(coords, z.astype(np.float64), rcond=None)
  candidates = b / np.linalg.norm(b, axis=1, keepdims=True)
  kept = []
  for j in range(count):
    if all(abs(candidates[j] @ candidates[i]) < MAX_COSINE for i in kept):
      kept.append(j)
    if len(kept) == num_components:
      break
  kept = np.array(kept)
  directions = candidates[kept]
  # Held-out latents (the fitted ones overfit the regression a little):
  # the stds of z . u_k, and how much of each kept coordinate z explains.
  held = max(256, num_samples // 4)
  z_held = rng.standard_normal([held, model.latent_size]).astype(np.float32)
  pitches_held = model.sample_pitches(held, seed=seed + 1)
  y_held = activations(model, z_held, pitches_held, layer, batch_size)
  for pitch in np.unique(pitches_held):
    rows = pitches_held == pitch
    y_held[rows] -= pitch_means.get(pitch, y_held[rows].mean(axis=0))
  x_held = y_held.astype(np.float64) @ vt[kept].T.astype(np.float64)
  a, *_ = np.linalg.lstsq(z.astype(np.float64), coords[:, kept], rcond=None)
  residual = x_held - z_held.astype(np.float64) @ a
  r2 = 1.0 - np.sum(residual ** 2, axis=0) / np.sum(
      (x_held - x_held.mean(axis=0)) ** 2, axis=0)
  stds = np.std(z_held.astype(np.float64) @ directions.T, axis=0)
  model_dir = getattr(model, 'model_dir', None)
  checkpoint = (os.path.relpath(model.checkpoint_path, model_dir)
                if model_dir and model.checkpoint_path else '')
  return Directions(
      directions=directions.astype(np.float32), stds=stds.astype(np.float32),
      explained_variance_ratio=(s[kept] ** 2 / total).astype(np.float32),
      mean=mean.astype(np.float32),
      # float16: kept for analysis (projecting activations), not for edits.
      components=vt[kept].astype(np.float16),
      r2=r2.astype(np.float32), component_index=(kept + 1).astype(np.int32),
      layer=layer, num_samples=num_samples, seed=int(seed),
      checkpoint=checkpoint)


def _checked_sizes(num_samples, num_components, prefix=''):
  """(num_samples, num_components) as ints, or ValueError naming them
  (`prefix` '--': as the CLI's flags)."""
  num_samples, num_components = int(num_samples), int(num_components)
  if num_components < 1:
    raise ValueError(f'{prefix}num_components must be >= 1, got '
                     f'{num_components}')
  if num_samples <= num_components:
    raise ValueError(f'{prefix}num_samples ({num_samples}) must be more than '
                     f'{prefix}num_components ({num_components})')
  return num_samples, num_components


# ------------------------------------------------------------- descriptors


def descriptors(waves, sample_rate):
  """{name: `[n]` float64} audio descriptors of notes `[n, samples]`.

  spectral centroid, bandwidth: log2 Hz, energy-weighted over frames;
  flatness: spectral flatness in dB (noise-like: near 0); loudness: RMS in
  dB; attack: seconds to the loudest frame; sustain: dB of the second
  half's level over the first's (lower: a faster decay).
  """
  import librosa  # pylint: disable=import-outside-toplevel
  waves = np.asarray(waves, np.float32)
  n_fft, hop = 1024, 256
  power = np.abs(librosa.stft(waves, n_fft=n_fft, hop_length=hop,
                              center=False)) ** 2  # [n, f, t]
  freqs = librosa.fft_frequencies(sr=sample_rate, n_fft=n_fft)
  frame_energy = power.sum(axis=1) + 1e-20  # [n, t]
  weights = frame_energy / frame_energy.sum(axis=1, keepdims=True)
  centroid_t = np.einsum('f,nft->nt', freqs, power) / frame_energy
  spread_t = np.sqrt(np.einsum(
      'nft,nft->nt', (freqs[None, :, None] - centroid_t[:, None, :]) ** 2,
      power) / frame_energy)
  log_power = np.log(power + 1e-20)
  flatness_t = np.exp(log_power.mean(axis=1)) / (power.mean(axis=1) + 1e-20)
  env = np.sqrt(frame_energy / n_fft)  # [n, t] frame RMS
  peak_frame = np.argmax(env, axis=1)
  half = env.shape[1] // 2
  return {
      'spectral centroid': np.log2(np.sum(weights * centroid_t, axis=1) +
                                   1e-3),
      'bandwidth': np.log2(np.sum(weights * spread_t, axis=1) + 1e-3),
      'flatness': 10 * np.log10(np.sum(weights * flatness_t, axis=1) +
                                1e-20),
      'loudness': 10 * np.log10(np.mean(waves.astype(np.float64) ** 2,
                                        axis=1) + 1e-20),
      'attack': peak_frame * hop / sample_rate,
      'sustain': 20 * np.log10((env[:, half:].mean(axis=1) + 1e-10) /
                             (env[:, :half].mean(axis=1) + 1e-10)),
  }


DESCRIPTORS = ('spectral centroid', 'bandwidth', 'flatness', 'loudness',
               'attack', 'sustain')


# -------------------------------------------------------------- labelling


def sweep(model, directions, number, z, pitches, steps=STEPS,
          reproject=False):
  """Notes along direction `number`: `[len(z), len(steps), audio_length]`."""
  z = np.asarray(z, np.float32)
  edited = np.stack([apply_edits(z, directions, {number: s}, reproject)
                     for s in steps], axis=1)  # [m, s, latent]
  waves = model.generate_from_z(edited.reshape(-1, z.shape[-1]),
                                np.repeat(pitches, len(steps)))
  return waves.reshape(len(z), len(steps), -1)


def spearman_rows(values, steps=STEPS):
  """`[m]` Spearman rho of each row of `values` `[m, s]` with `steps`."""
  from scipy import stats  # pylint: disable=import-outside-toplevel
  return np.array([stats.spearmanr(steps, row).statistic
                   if np.ptp(row) > 0 else 0.0 for row in values])


def step_correlation(values, steps=STEPS):
  """Pearson r of steps and `values` `[m, s]`, each row's mean removed."""
  x = np.broadcast_to(np.asarray(steps, np.float64), values.shape)
  x = x - x.mean(axis=1, keepdims=True)
  y = values - values.mean(axis=1, keepdims=True)
  denominator = np.sqrt(np.sum(x ** 2) * np.sum(y ** 2))
  return float(np.sum(x * y) / denominator) if denominator > 0 else 0.0


def label_directions(model, directions, num_latents=LABEL_LATENTS,
                     steps=STEPS, seed=1, progress=None):
  """Measures what each direction changes.

  Returns (labels, correlations): k strings such as
  "PC1: spectral centroid +, r = 0.93" and `[k, len(DESCRIPTORS)]` r's.
  """
  z = model.generate_z(num_latents, seed=seed)
  pitches = model.sample_pitches(num_latents, seed=seed)
  labels, table = [], []
  for k in range(directions.num_components):
    waves = sweep(model, directions, k + 1, z, pitches, steps)
    values = descriptors(waves.reshape(-1, waves.shape[-1]),
                         model.sample_rate)
    rs = [step_correlation(values[name].reshape(len(z), len(steps)), steps)
          for name in DESCRIPTORS]
    best = int(np.argmax(np.abs(rs)))
    labels.append(f'PC{k + 1}: {DESCRIPTORS[best]} '
                  f'{"+" if rs[best] >= 0 else "-"}, r = {abs(rs[best]):.2f}')
    table.append(rs)
    if progress:
      progress(k + 1, directions.num_components, labels[-1])
  return labels, np.array(table, np.float32)


# ------------------------------------------------------------------- files


_ARRAYS = ('directions', 'stds', 'explained_variance_ratio', 'mean',
           'components', 'r2', 'component_index', 'correlations')
FORMAT_VERSION = 1


def save_directions(path, directions):
  """Writes `directions` to `path` (directions.npz), atomically."""
  from gansynth_tf2 import files  # pylint: disable=import-outside-toplevel
  arrays = {name: np.asarray(getattr(directions, name)) for name in _ARRAYS}
  arrays.update(
      layer=np.array(directions.layer),
      num_samples=np.array(directions.num_samples, np.int64),
      seed=np.array(directions.seed, np.int64),
      checkpoint=np.array(directions.checkpoint),
      labels=np.array(list(directions.labels), dtype=np.str_),
      descriptor_names=np.array(list(directions.descriptor_names),
                                dtype=np.str_),
      format_version=np.array(FORMAT_VERSION, np.int64))

  buffer = io.BytesIO()
  np.savez(buffer, **arrays)
  # A temporary file beside `path`, renamed over it: a reader (or a crash)
  # sees the old file or the whole new one.
  files.write_atomic(path, buffer.getvalue())
  return path


def load_directions(path):
  """A `Directions` from a directions.npz; ValueError naming the file if it
  is not one."""
  try:
    with np.load(path, allow_pickle=False) as f:
      data = {name: f[name] for name in f.files}
  except FileNotFoundError:
    raise
  except Exception as e:  # np.load raises several types for a bad file
    raise ValueError(f'{path} is not a directions file ({type(e).__name__}: '
                     f'{e})') from e
  missing = [name for name in _ARRAYS + ('layer', 'num_samples', 'seed')
             if name not in data]
  if missing:
    raise ValueError(f'{path} is not a directions file: it lacks '
                     f'{", ".join(missing)}')
  directions = data['directions'].astype(np.float32)
  k = len(directions)
  if (directions.ndim != 2 or data['stds'].shape != (k,) or
      not np.all(np.isfinite(directions)) or not np.all(data['stds'] > 0)):
    raise ValueError(f'{path}: directions {directions.shape} and stds '
                     f'{data["stds"].shape} do not fit together, or hold '
                     'non-finite values')
  return Directions(
      directions=directions, stds=data['stds'].astype(np.float32),
      explained_variance_ratio=data['explained_variance_ratio'],
      mean=data['mean'], components=data['components'], r2=data['r2'],
      component_index=data['component_index'],
      layer=str(data['layer']), num_samples=int(data['num_samples']),
      seed=int(data['seed']),
      checkpoint=str(data['checkpoint']) if 'checkpoint' in data else '',
      labels=tuple(str(label) for label in data.get('labels', ())),
      descriptor_names=tuple(str(name) for name in
                             data.get('descriptor_names', ())),
      correlations=data['correlations'])


def directions_path(model_dir):
  """`model_dir`/directions.npz."""
  return os.path.join(os.fspath(model_dir), DIRECTIONS_FILE)


def model_directions(model):
  """The `Directions` saved beside a loaded model (its folder's
  directions.npz), checked against it; ValueError if there are none."""
  model_dir = getattr(model, 'model_dir', None)
  path = directions_path(model_dir) if model_dir else None
  fit = ('fit them with: python -m gansynth_tf2.latents '
         f'--ckpt_dir={model_dir or "<model folder>"}')
  if path is None or not os.path.isfile(path):
    raise ValueError(f'this model has no latent directions '
                     f'({path or "no model folder known"}); {fit}')
  directions = load_directions(path)
  if directions.directions.shape[1] != model.latent_size:
    raise ValueError(f'{path} holds directions of '
                     f'{directions.directions.shape[1]} latent dimensions, '
                     f'this model has {model.latent_size}; {fit}')
  here = (os.path.relpath(model.checkpoint_path, model_dir)
          if model.checkpoint_path else '')
  if directions.checkpoint and here and directions.checkpoint != here:
    raise ValueError(f'{path} was fitted on checkpoint '
                     f'{directions.checkpoint}, this model is {here}; {fit}')
  return directions


_EDIT = re.compile(r'\s*(\d+)\s*:\s*([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)'
                   r'\s*')
EDIT_FORM = ('--edit=1:+2.0,2:-1.0 (direction number, 1 = PC1, : amount in '
             'standard deviations, comma-separated)')


def parse_edits(spec, flag='--edit'):
  """'1:+2.0,2:-1.0' -> {1: 2.0, 2: -1.0}; ValueError naming `flag` and the
  expected form on anything else (numbers are checked against a model's
  directions by `check_edits`)."""
  edits = {}
  items = str(spec).split(',')
  for item in items:
    match = _EDIT.fullmatch(item)
    if not match:
      raise ValueError(f'{flag}: {item.strip()!r} in {spec!r} is not '
                       f'NUMBER:AMOUNT; expected the form {EDIT_FORM}')
    number, amount = int(match.group(1)), float(match.group(2))
    if number < 1:
      raise ValueError(f'{flag}: direction numbers start at 1 (PC1), got '
                       f'{number} in {spec!r}')
    if number in edits:
      raise ValueError(f'{flag}: direction {number} is given twice in '
                       f'{spec!r}')
    if not np.isfinite(amount):
      raise ValueError(f'{flag}: amount {match.group(2)} of direction '
                       f'{number} is not a finite number')
    edits[number] = amount
  return edits


# ------------------------------------------------------------ command line


def run(ckpt_dir, *, model=None, num_samples=DEFAULT_NUM_SAMPLES,
        num_components=DEFAULT_NUM_COMPONENTS, layer=DEFAULT_LAYER, seed=0,
        label_latents=LABEL_LATENTS, log=print):
  """Everything the CLI does: fit, label, write `ckpt_dir`/directions.npz.

  Returns the labelled `Directions`.
  """
  from gansynth_tf2 import files  # pylint: disable=import-outside-toplevel
  # Before TensorFlow starts: a mistyped path fails in a second.
  if model is None and not os.path.isdir(ckpt_dir):
    raise FileNotFoundError(f'--ckpt_dir: no such directory: {ckpt_dir} '
                            '(expected a training directory or a Magenta '
                            'checkpoint: experiment.json + stage_000NN/)')
  _checked_sizes(num_samples, num_components, prefix='--')
  if int(label_latents) < 2:
    raise ValueError(f'--label_latents must be >= 2, got {label_latents}')
  files.check_writable_dir(ckpt_dir, '--ckpt_dir')
  if model is None:
    import gansynth_tf2  # pylint: disable=import-outside-toplevel
    model = gansynth_tf2.load_model(ckpt_dir)
  if layer not in layer_names(model):
    raise ValueError(f'--layer: {layer!r} is not one of this generator\'s '
                     f'layers: {", ".join(layer_names(model))}')
  log(f'fitting {num_components} directions: PCA at {layer} over '
      f'{num_samples} random latents (seed {seed}) ...')
  directions = fit_directions(model, num_samples, num_components, layer, seed)
  log(f'labelling: {label_latents} latents x {len(STEPS)} steps in '
      f'{STEPS[0]:+g}..{STEPS[-1]:+g} standard deviations per direction')

  def on_label(done, total, label):
    k = done - 1
    log(f'  [{done}/{total}] {label}  (the layer\'s PC'
        f'{directions.component_index[k]}: '
        f'{100 * directions.explained_variance_ratio[k]:.1f}% of its '
        'variance)')
  labels, table = label_directions(model, directions, label_latents,
                                   progress=on_label)
  directions = dataclasses.replace(directions, labels=tuple(labels),
                                   correlations=table,
                                   descriptor_names=DESCRIPTORS)
  path = directions_path(ckpt_dir)
  save_directions(path, directions)
  log(f'wrote {path} ({directions.num_components} directions, '
      f'{100 * directions.explained_variance_ratio.sum():.1f}% of the '
      f'layer\'s variance); use them with generate --edit=1:+2.0')
  return directions


FLAGS = flags.FLAGS


def define_flags(flag_values=FLAGS):
  """The command-line flags; defined only by the CLI (`flag_values`: where,
  tests parse into their own `flags.FlagValues`)."""
  flags.DEFINE_string(
      'ckpt_dir', None, 'Checkpoint directory (ours or Magenta\'s); the '
      'directions are written there as directions.npz.',
      flag_values=flag_values)
  flags.DEFINE_integer('num_samples', DEFAULT_NUM_SAMPLES,
                       'Random latents the PCA is fitted on.',
                       flag_values=flag_values)
  flags.DEFINE_integer('num_components', DEFAULT_NUM_COMPONENTS,
                       'Directions kept (PC1 first).',
                       flag_values=flag_values)
  flags.DEFINE_string('layer', DEFAULT_LAYER,
                      'Generator layer the PCA reads: a block name '
                      '(progressive_gan_block_N) or "images".',
                      flag_values=flag_values)
  flags.DEFINE_integer('seed', 0, 'Seed of the latents and pitches.',
                       flag_values=flag_values)
  flags.DEFINE_integer('label_latents', LABEL_LATENTS,
                       'Latents per direction whose notes label it.',
                       flag_values=flag_values)
  flags.mark_flags_as_required(['ckpt_dir'], flag_values=flag_values)


def main(argv, flag_values=FLAGS):
  """The CLI after flag parsing (`flag_values`: parsed flags, for tests)."""
  if len(argv) > 1:
    raise app.UsageError(f'unexpected arguments: {argv[1:]}')
  fv = flag_values
  try:
    run(fv.ckpt_dir, num_samples=fv.num_samples,
        num_components=fv.num_components, layer=fv.layer, seed=fv.seed,
        label_latents=fv.label_latents,
        log=lambda line: print(line, flush=True))
  except (ValueError, FileNotFoundError) as e:
    # Bad input: one clear line, no traceback.
    sys.exit(f'gansynth_tf2.latents: error: {e}')


def console_entry_point():
  define_flags()
  app.run(main)


if __name__ == '__main__':
  console_entry_point()
