"""Generation throughput (z -> audio) of the full-size GANSynth generator.

  python tools/bench_generate.py [--ckpt_dir=DIR] [--repeats=3]
      [--batch_size=8] [--saved_model_batches=1,8,64] [--skip_saved_model]

Without --ckpt_dir the paper's full-size IF-Mel model (mel_prog_hires:
fmap_base 4096, fmap_max 256, 7 blocks, 128x1024) is built with random
weights: speed does not depend on the weights. Prints two tables:

1. notes/s at --batch_size, fp32, for the generator + inverse transform run
   eagerly, as a tf.function (what load_model uses), with XLA
   (jit_compile=True), and through load_model's numpy API;
2. the exported SavedModel (export.py) loaded with tf.saved_model.load only,
   at batch 1, 8 and 64: notes/s and real-time factor (seconds of audio made
   per second);
3. the TF Lite model of `export --format=tflite` (builtin ops, XNNPACK).

and the FLOPs per note (TF profiler over the traced graph at batch 1; it
counts convolutions and matmuls, not the FFTs, which are ~0.1% here).
Every mode is run once before timing (tracing / compilation not measured).
"""

import os
import statistics
import tempfile
import time
import warnings

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

from absl import app  # noqa: E402
from absl import flags  # noqa: E402
from absl import logging  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import gansynth_tf2  # noqa: E402
from gansynth_tf2 import export  # noqa: E402
from gansynth_tf2 import model as model_lib  # noqa: E402
from gansynth_tf2 import networks  # noqa: E402
from gansynth_tf2 import normalizers  # noqa: E402

_CKPT = flags.DEFINE_string('ckpt_dir', None, 'Benchmark this checkpoint '
                            'instead of a randomly initialized full-size model.')
_BATCH = flags.DEFINE_integer('batch_size', 8, 'Notes per call (table 1).')
_REPEATS = flags.DEFINE_integer('repeats', 3, 'Timed calls per mode.')
_SM_BATCHES = flags.DEFINE_list('saved_model_batches', ['1', '8', '64'],
                                'Batch sizes for the SavedModel (table 2).')
_SKIP_SM = flags.DEFINE_boolean('skip_saved_model', False,
                                'Skip table 2 (export + SavedModel timing).')
_TFLITE = flags.DEFINE_list('tflite_batches', ['1', '8'],
                            'Batch sizes for the TF Lite model (table 3); '
                            'empty to skip.')

# The paper's full-size model; the rest comes from the tiny oracle's
# experiment.json, which is mel_prog_hires with fmap_base/fmap_max lowered.
FULL_SIZE = {'fmap_base': 4096, 'fmap_max': 256}
ORACLE_CKPT = os.path.join(os.path.dirname(__file__), '..', 'tests', 'data',
                           'oracle', 'ckpt')


def full_size_model(batch_size):
  """load_model's model object around a random full-size generator."""
  tiny = gansynth_tf2.load_model(ORACLE_CKPT)  # for its config + pitch counts
  hparams = tiny.hparams.replace(**FULL_SIZE)
  generator = networks.Generator.from_hparams(
      hparams, num_blocks=hparams.num_resolutions,
      num_tokens=len(tiny.pitch_counts),
      normalizer=normalizers.from_hparams(hparams, ORACLE_CKPT))
  return model_lib.GANSynthModel(generator, hparams, tiny.pitch_counts,
                                 progress=hparams.num_resolutions - 1,
                                 batch_size=batch_size, source='random')


def inputs(model, n, seed=0):
  rng = np.random.RandomState(seed)
  z = rng.standard_normal((n, model.latent_size)).astype(np.float32)
  labels = rng.randint(0, len(model.pitches), n).astype(np.int32)
  return z, labels


def seconds_per_call(fn, repeats):
  """Median wall time of fn() after one untimed warm-up call."""
  np.asarray(fn())
  times = []
  for _ in range(repeats):
    start = time.perf_counter()
    np.asarray(fn())  # forces the result, eager or not
    times.append(time.perf_counter() - start)
  return statistics.median(times)


def flops_per_note(fn, model):
  """Float ops of fn traced at batch 1 (TF profiler's registered op stats)."""
  spec = [tf.TensorSpec([1, model.latent_size], tf.float32),
          tf.TensorSpec([1], tf.int32)]
  graph = tf.function(fn).get_concrete_function(*spec).graph
  opts = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
  opts['output'] = 'none'
  return tf.compat.v1.profiler.profile(graph=graph, options=opts).total_float_ops


def main(argv):
  del argv
  logging.set_verbosity(logging.WARNING)  # keep the tables readable
  tf.get_logger().setLevel('ERROR')
  batch = _BATCH.value
  model = (gansynth_tf2.load_model(_CKPT.value, batch_size=batch)
           if _CKPT.value else full_size_model(batch))
  note_secs = model.audio_length / model.sample_rate
  params = sum(int(np.prod(v.shape)) for v in model.generator.variables)
  print(f'generator: {params:,} parameters, progress {model.progress}, '
        f'{model.config["data_type"]}, {model.generator.image_shape} images; '
        f'{os.cpu_count()} CPU cores, TF {tf.__version__}')

  z, labels = inputs(model, batch)
  pitches = np.asarray(model.pitches)[labels]
  waves = model._waves_from_z  # pylint: disable=protected-access
  spec = [tf.TensorSpec([batch, model.latent_size], tf.float32),
          tf.TensorSpec([batch], tf.int32)]
  modes = [
      ('eager', lambda: waves(tf.constant(z), tf.constant(labels))),
      ('tf.function', (lambda f: lambda: f(z, labels))(
          tf.function(waves, input_signature=spec))),
      ('tf.function(jit_compile=True) (XLA)', (lambda f: lambda: f(z, labels))(
          tf.function(waves, input_signature=spec, jit_compile=True))),
      ('load_model().generate_from_z', lambda: model.generate_from_z(
          z, pitches)),
  ]
  print(f'\n1. z -> audio, batch {batch}, fp32, median of '
        f'{_REPEATS.value} calls')
  print(f'{"mode":<40}{"s/batch":>10}{"notes/s":>10}{"RTF":>8}')
  for name, fn in modes:
    try:
      s = seconds_per_call(fn, _REPEATS.value)
      print(f'{name:<40}{s:10.3f}{batch / s:10.2f}{batch / s * note_secs:8.1f}')
    except Exception as e:  # pylint: disable=broad-except
      print(f'{name:<40}  failed: {type(e).__name__}: {str(e)[:200]}')

  g_flops = flops_per_note(model.images_from_z, model)
  all_flops = flops_per_note(waves, model)
  print(f'\nFLOPs per note: {all_flops / 1e9:.2f} GFLOP (generator '
        f'{g_flops / 1e9:.2f}, inverse mel/STFT matmuls '
        f'{(all_flops - g_flops) / 1e9:.2f}; FFTs not counted)')

  if _SKIP_SM.value:
    return
  with tempfile.TemporaryDirectory() as tmp:
    path = os.path.join(tmp, 'saved')
    start = time.perf_counter()
    export.export(_CKPT.value or 'random', path, model=model)
    print(f'\n2. SavedModel (export took {time.perf_counter() - start:.1f} s, '
          'tf.saved_model.load only), generate signature')
    loaded = tf.saved_model.load(path)
    generate = loaded.signatures['generate']
    print(f'{"batch":>6}{"s/batch":>10}{"notes/s":>10}{"RTF":>8}')
    for n in (int(b) for b in _SM_BATCHES.value):
      z_n, labels_n = inputs(model, n, seed=n)
      pitch = tf.constant(np.asarray(model.pitches)[labels_n], tf.int32)
      s = seconds_per_call(
          lambda: generate(z=tf.constant(z_n), pitch=pitch)['audio'],  # pylint: disable=cell-var-from-loop
          _REPEATS.value)
      print(f'{n:6d}{s:10.3f}{n / s:10.2f}{n / s * note_secs:8.1f}')

    if not _TFLITE.value:
      return
    path = os.path.join(tmp, 'generate.tflite')
    start = time.perf_counter()
    export.to_tflite(model, path)
    print(f'\n3. TF Lite, builtin ops (conversion took '
          f'{time.perf_counter() - start:.1f} s, '
          f'{os.path.getsize(path) / 2**20:.0f} MiB)')
    print(f'{"batch":>6}{"s/batch":>10}{"notes/s":>10}{"RTF":>8}')
    with warnings.catch_warnings():
      warnings.simplefilter('ignore')  # tf.lite.Interpreter's deprecation
      interpreter = tf.lite.Interpreter(model_path=path,
                                        num_threads=os.cpu_count())
    runner = interpreter.get_signature_runner()
    for n in (int(b) for b in _TFLITE.value):
      z_n, labels_n = inputs(model, n, seed=n)
      pitch = np.asarray(model.pitches, np.int32)[labels_n]
      s = seconds_per_call(
          lambda: runner(z=z_n, pitch=pitch)['audio'],  # pylint: disable=cell-var-from-loop
          _REPEATS.value)
      print(f'{n:6d}{s:10.3f}{n / s:10.2f}{n / s * note_secs:8.1f}')


if __name__ == '__main__':
  app.run(main)
