r"""Export a generator as a SavedModel that serves without this package.

  python -m gansynth_tf2.export --ckpt_dir=DIR --export_dir=OUT [--overwrite]
      [--format=saved_model|tflite] [--use_ema] [--exact]

The SavedModel holds the (EMA) generator's weights and the whole path from
latent vector to audio, inverse spectrogram transform included, as TF ops.
Serving signatures (pitch in MIDI numbers):
  generate(z: float32[None, latent_size], pitch: int32[None])
      -> {audio: float32[None, audio_length],
          specgram: float32[None, time, freq, 2]}
  generate_random(n: int32 >= 1, seed: int32)
      -> {audio: float32[n, audio_length], pitch: int32[n],
          z: float32[n, latent_size]}
  metadata() -> {min_pitch, max_pitch, sample_rate, audio_length,
                 latent_size, data_type, config (JSON of experiment.json)}
A pitch outside the model's range or one it had no notes of in training
(count 0 in experiment.json's pitch_counts), a NaN z or mismatched batch
sizes fail inside the graph with an InvalidArgumentError that says what was
expected.
The same metadata is in assets/gansynth_metadata.json, with `precision` and
`arithmetic`: 'subpixel' (the default, sub-pixel upscale + conv) or 'exact'
(--exact: Magenta's literal upscale + conv, bit for bit Magenta's graph's
numbers from the same weights on the same CPU).

--format=tflite also writes generate.tflite: builtin TF Lite ops only (the
inverse STFT as real-valued matmuls, weights frozen in), one signature
`serving_default(z, pitch) -> {audio, specgram}`; TF Lite has no assertion
ops, so there the caller keeps pitches in range.

Serving:
  m = tf.saved_model.load(OUT)
  audio = m.signatures['generate'](z=z, pitch=pitch)['audio']
  # or: saved_model_cli run --dir OUT --tag_set serve \
  #        --signature_def generate_random --input_exprs 'n=4;seed=0'
"""

import json
import os
import sys
import tempfile

from absl import app
from absl import flags
import numpy as np
import tensorflow as tf
# Freezing weights into constants for TF Lite has no public TF2 API.
from tensorflow.python.framework import convert_to_constants  # pylint: disable=g-direct-tensorflow-import

from gansynth_tf2 import files
from gansynth_tf2 import precision as precision_lib
from gansynth_tf2 import specgrams


FLAGS = flags.FLAGS


METADATA_FILE = 'gansynth_metadata.json'
TFLITE_FILE = 'generate.tflite'


def model_metadata(model):
  """What a server needs to know about the model, JSON-serializable."""
  counts = {int(k): int(v) for k, v in sorted(model.pitch_counts.items())}
  return {
      'min_pitch': int(model.min_pitch),
      'max_pitch': int(model.max_pitch),
      'sample_rate': int(model.sample_rate),
      'audio_length': int(model.audio_length),
      'latent_size': int(model.latent_size),
      'data_type': str(model.config['data_type']),
      'precision': str(getattr(model, 'precision', 'fp32')),
      'arithmetic': str(getattr(model, 'arithmetic', 'subpixel')),
      'pitch_counts': counts,
      'config': model.config,
  }


class ServingModule(tf.Module):
  """The generator and the inverse transform, as tf.functions to serve.

  Args:
    model: a loaded model (gansynth_tf2.load_model): its generator's
      variables are tracked (so they are saved), its `images_from_z` and its
      data helper's `data_to_waves` are traced into the serving functions.
    metadata: model_metadata(model).
    metadata_path: a file holding the metadata JSON, saved as an asset.
  """

  def __init__(self, model, metadata, metadata_path):
    super().__init__(name='gansynth')
    # Track the generator's tf.Variables themselves, not the Keras model:
    # Keras 3 variables saved through the Keras object are not restored by
    # TF1-style loaders (saved_model_cli run, TF Serving, the C API), which
    # fail with "Could not find variable" (keras-team/keras#19274).
    self.generator_variables = [getattr(v, 'value', v)
                                for v in model.generator.variables]
    self._images_from_z = model.images_from_z
    self._data_to_waves = model.data_helper.data_to_waves
    # Python ints, not the dict: tf.Module would wrap a dict for tracking.
    lo, hi = metadata['min_pitch'], metadata['max_pitch']
    self._lo, self._hi = lo, hi
    self._audio_length = metadata['audio_length']
    self._latent_size = metadata['latent_size']
    # A pitch inside [lo, hi] that the model does not have, or that had no
    # notes in training (our checkpoints list every pitch of the range, the
    # absent ones with count 0), maps to -1 and is rejected.
    counts = metadata['pitch_counts']
    trained = sorted(p for p, c in counts.items() if c > 0)
    if not trained:
      raise ValueError('the checkpoint has no pitch with a positive count in '
                       f'experiment.json pitch_counts: {counts}')
    table = np.array(model.label_table())
    for p, c in counts.items():
      if c <= 0 and lo <= p <= hi:
        table[p - lo] = -1
    self._label_of_pitch = tf.constant(table)
    counts = np.array([counts[p] for p in trained], np.float64)
    self._log_pitch_probs = tf.constant(
        np.log(counts / counts.sum())[None].astype(np.float32))
    self._trained_pitches = tf.constant(np.array(trained, np.int32))
    # Plain variables so `tf.saved_model.load(...).min_pitch` etc. work.
    self.min_pitch = tf.Variable(lo, dtype=tf.int32, trainable=False)
    self.max_pitch = tf.Variable(hi, dtype=tf.int32, trainable=False)
    self.sample_rate = tf.Variable(metadata['sample_rate'], dtype=tf.int32,
                                   trainable=False)
    self.audio_length = tf.Variable(metadata['audio_length'], dtype=tf.int32,
                                    trainable=False)
    self.latent_size = tf.Variable(metadata['latent_size'], dtype=tf.int32,
                                   trainable=False)
    self.data_type = tf.Variable(metadata['data_type'], trainable=False)
    self.config = tf.Variable(json.dumps(metadata['config'], sort_keys=True),
                              trainable=False)
    self.metadata_file = tf.saved_model.Asset(metadata_path)

    size = metadata['latent_size']
    self.generate = tf.function(self._generate, input_signature=[
        tf.TensorSpec([None, size], tf.float32, name='z'),
        tf.TensorSpec([None], tf.int32, name='pitch')])
    self.generate_random = tf.function(self._generate_random, input_signature=[
        tf.TensorSpec([], tf.int32, name='n'),
        tf.TensorSpec([], tf.int32, name='seed')])
    self.metadata = tf.function(self._metadata, input_signature=[])

  def _check_inputs(self, z, pitch):
    lo, hi = self._lo, self._hi
    message = (f'pitch must be MIDI numbers in [{lo}, {hi}] (the range this '
               'model was trained on)')
    return [
        tf.debugging.assert_greater_equal(pitch, lo, message=message),
        tf.debugging.assert_less_equal(pitch, hi, message=message),
        tf.debugging.assert_equal(
            tf.shape(z)[0], tf.shape(pitch)[0],
            message='z [batch, latent_size] and pitch [batch] must have the '
                    'same batch size'),
        tf.debugging.assert_all_finite(z, 'z contains NaN or Inf'),
    ]

  def _generate(self, z, pitch):
    with tf.control_dependencies(self._check_inputs(z, pitch)):
      offset = tf.clip_by_value(pitch - self._lo, 0, self._hi - self._lo)
      labels = tf.gather(self._label_of_pitch, offset)
    with tf.control_dependencies([tf.debugging.assert_non_negative(
        labels, message='pitch is not one of the pitches this model was '
        'trained on')]):
      specgram = self._images_from_z(z, labels)
    audio = self._data_to_waves(specgram)[:, :self._audio_length, 0]
    return {'audio': audio, 'specgram': specgram}

  def _generate_random(self, n, seed):
    # Both samplers wait for the check: stateless ops have no automatic
    # ordering, so otherwise either may fail first with its own message.
    with tf.control_dependencies([tf.debugging.assert_positive(
        n, message='n must be >= 1')]):
      n = tf.identity(n)
    z = tf.random.stateless_normal([n, self._latent_size],
                                   seed=tf.stack([seed, 0]))
    labels = tf.random.stateless_categorical(
        self._log_pitch_probs, n, seed=tf.stack([seed, 1]), dtype=tf.int32)[0]
    pitch = tf.gather(self._trained_pitches, labels)
    out = self._generate(z, pitch)
    return {'audio': out['audio'], 'pitch': pitch, 'z': z}

  def _metadata(self):
    return {'min_pitch': self.min_pitch.read_value(),
            'max_pitch': self.max_pitch.read_value(),
            'sample_rate': self.sample_rate.read_value(),
            'audio_length': self.audio_length.read_value(),
            'latent_size': self.latent_size.read_value(),
            'data_type': self.data_type.read_value(),
            'config': self.config.read_value()}


def _save(model, out_dir):
  """Writes the SavedModel into out_dir (which exists and is empty)."""
  metadata = model_metadata(model)
  with tempfile.TemporaryDirectory() as scratch:
    # The Asset is copied into <out_dir>/assets/ under this file name.
    meta_path = os.path.join(scratch, METADATA_FILE)
    with open(meta_path, 'w') as f:
      json.dump(metadata, f, indent=2, sort_keys=True)
    module = ServingModule(model, metadata, meta_path)
    signatures = {
        'serving_default': module.generate.get_concrete_function(),
        'generate': module.generate.get_concrete_function(),
        'generate_random': module.generate_random.get_concrete_function(),
        'metadata': module.metadata.get_concrete_function(),
    }
    tf.saved_model.save(module, out_dir, signatures=signatures)
  return metadata


# The real-valued inverse transform lives beside the data helper's own
# inverse (`DataHelper.data_to_waves`); this name is kept for callers.
RealInverseTransform = specgrams.RealInverseTransform


def to_tflite(model, path):
  """Writes the `generate` function as a TF Lite model with builtin ops only.

  Its one signature ('serving_default') takes `z` `[n, latent_size]` float32
  and `pitch` `[n]` int32 (MIDI numbers, assumed in range: TF Lite drops
  the graph's assertions) and returns `audio` and `specgram`.
  """
  lo = int(model.min_pitch)
  inverse = specgrams.RealInverseTransform(model.data_helper)
  # TF Lite drops the range assertion, so a missing pitch plays label 0
  # rather than failing the gather.
  label_of = tf.constant(np.maximum(model.label_table(), 0))

  signature = [tf.TensorSpec([None, model.latent_size], tf.float32, name='z'),
               tf.TensorSpec([None], tf.int32, name='pitch')]

  def generate(z, pitch):
    specgram = model.images_from_z(z, tf.gather(label_of, pitch - lo))
    return {'audio': inverse(specgram), 'specgram': specgram}

  # layers.upscale keeps every tensor <= 5-D, as TF Lite's Tile needs.
  concrete = tf.function(generate, input_signature=signature)
  concrete = concrete.get_concrete_function()
  # Weights become constants (TF Lite resource variables would need an
  # initialization call from every user); freezing flattens the outputs,
  # which come back in sorted key order and are named again here.
  frozen = convert_to_constants.convert_variables_to_constants_v2(concrete)

  @tf.function(input_signature=signature)
  def serve(z, pitch):
    audio, specgram = frozen(z, pitch)
    return {'audio': audio, 'specgram': specgram}

  # With a trackable object the converter goes through a SavedModel and
  # keeps the signature (input and output names).
  holder = tf.Module()
  holder.serve = serve
  converter = tf.lite.TFLiteConverter.from_concrete_functions(
      [serve.get_concrete_function()], holder)
  converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
  with open(path, 'wb') as f:
    f.write(converter.convert())


def export(ckpt_dir, export_dir, *, overwrite=False, use_ema=True,  # pylint: disable=redefined-builtin
           format='saved_model', model=None, precision='fp32',
           exact=False):
  """Exports the generator of a checkpoint as a SavedModel (+ TF Lite).

  The export is built in a temporary folder beside `export_dir` and renamed
  into place, so an interrupted export leaves no partial `export_dir`.

  Args:
    ckpt_dir: checkpoint directory, ours or Magenta's.
    export_dir: the directory to create.
    overwrite: replace `export_dir` if it exists (otherwise FileExistsError).
    use_ema: export the EMA weights.
    format: 'saved_model' or 'tflite' (adds generate.tflite).
    model: an already loaded model for ckpt_dir (skips loading; its own
      precision is exported).
    precision: 'fp32', 'bf16' or 'fp16': the compute type of the exported
      generator (weights saved in float32, audio out in float32).
    exact: export Magenta's arithmetic (`load_model(exact=True)`: the literal
      upscale + conv) instead of the sub-pixel default; fp32 only.

  Returns:
    The metadata dict (also in assets/gansynth_metadata.json).
  """
  if format not in ('saved_model', 'tflite'):
    raise ValueError(f"--format must be 'saved_model' or 'tflite', got "
                     f'{format!r}')
  precision_lib.check(precision, '--precision')
  if format == 'tflite' and precision != 'fp32':
    raise ValueError(f'--format=tflite needs --precision=fp32 (TF Lite\'s '
                     f'builtin ops have no {precision} convolutions); export '
                     'the SavedModel alone for 16-bit serving')
  precision_lib.check_exact(exact, precision=precision, cli=True)
  export_dir = os.path.abspath(export_dir)
  if os.path.exists(export_dir) and not overwrite:
    raise FileExistsError(f'--export_dir: {export_dir} already exists; '
                          'choose another directory or pass --overwrite')
  files.check_writable_dir(export_dir, '--export_dir')
  if model is None:
    import gansynth_tf2  # pylint: disable=import-outside-toplevel
    model = gansynth_tf2.load_model(ckpt_dir, use_ema=use_ema,
                                    precision=precision, exact=exact)
  elif format == 'tflite' and getattr(model, 'precision', 'fp32') != 'fp32':
    raise ValueError('--format=tflite needs an fp32 model')
  elif exact and not getattr(model, 'exact', False):
    raise ValueError('exact=True needs a model loaded with '
                     'load_model(..., exact=True)')

  # Built aside and swapped in: export_dir is never half-written.
  with files.publish_dir(export_dir) as tmp:
    metadata = _save(model, tmp)
    if format == 'tflite':
      to_tflite(model, os.path.join(tmp, TFLITE_FILE))
  return metadata



def define_flags(flag_values=FLAGS):
  """The command-line flags; defined only by the CLI so that importing this
  module beside another absl program does not clash. `flag_values`: where
  (tests parse into their own `flags.FlagValues`)."""
  fv = flag_values
  flags.DEFINE_string(
      'ckpt_dir', None, "Checkpoint directory: ours or Magenta's "
      '(experiment.json + stage_000NN/).',
      flag_values=fv)
  flags.DEFINE_string(
      'export_dir', None, 'Directory to create for the SavedModel; refused '
      'if it exists, unless --overwrite.',
      flag_values=fv)
  flags.DEFINE_boolean('overwrite', False, 'Replace an existing --export_dir.',
                       flag_values=fv)
  flags.DEFINE_enum(
      'format', 'saved_model', ['saved_model', 'tflite'], 'saved_model; or '
      'tflite: the SavedModel plus generate.tflite (TF Lite, builtin ops '
      'only).',
      flag_values=fv)
  flags.DEFINE_boolean(
      'use_ema', True, 'Export the exponential moving average weights of the '
      'generator (what Magenta generates with).',
      flag_values=fv)
  flags.DEFINE_enum(
      'precision', 'fp32', list(precision_lib.PRECISIONS),
      "Compute type of the exported generator: fp32 (Magenta's numbers) or "
      '16-bit (faster on hardware with 16-bit units; weights are saved in '
      'float32).',
      flag_values=fv)
  flags.DEFINE_boolean(
      'exact', False, "Export Magenta's arithmetic: the literal upscale + "
      "conv (no sub-pixel folding), bit for bit what Magenta's graph "
      'computes from the same weights (the default rounds otherwise: ~3e-4 '
      "of the audio's peak on a full-size checkpoint); slower. fp32 only.",
      flag_values=fv)
  flags.mark_flags_as_required(['ckpt_dir', 'export_dir'], flag_values=fv)


def main(argv, flag_values=FLAGS):
  """The CLI after flag parsing (`flag_values`: parsed flags, for tests)."""
  if len(argv) > 1:
    raise app.UsageError(f'unexpected arguments: {argv[1:]}')
  fv = flag_values
  try:
    meta = export(fv.ckpt_dir, fv.export_dir, overwrite=fv.overwrite,
                  use_ema=fv.use_ema, format=fv.format,
                  precision=fv.precision, exact=fv.exact)
  except (ValueError, FileNotFoundError, FileExistsError) as e:
    sys.exit(f'gansynth_tf2.export: error: {e}')
  print(f'exported {fv.ckpt_dir} to {fv.export_dir} (pitches '
        f'{meta["min_pitch"]}..{meta["max_pitch"]}, {meta["data_type"]}, '
        f'{meta["arithmetic"]} arithmetic)')


def console_entry_point():
  define_flags()
  app.run(main)


if __name__ == '__main__':
  console_entry_point()
