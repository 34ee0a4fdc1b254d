"""Generation throughput (z -> audio) of the full-size GANSynth generator.

  python tools/bench_generate.py [--magenta_python=PATH] [--precision=fp32,bf16]
      [--ckpt_dir=DIR] [--repeats=3] [--batch_size=8] [--memory_batch=64]
      [--saved_model_batches=1,8,64] [--skip_saved_model] [--tflite_batches=]

Without --ckpt_dir the paper's full-size IF-Mel model (mel_prog_hires:
fmap_base 4096, fmap_max 256, 7 blocks, 128x1024) is built with random
weights: speed does not depend on the weights. Prints:

0. this machine's roofline: the best 3x3-conv GFLOP/s (oneDNN or XLA) on the
   generator's largest shapes, per precision (bench_common.measure_roofline);
1. notes/s at --batch_size through `load_model`'s API (`generate_from_z`),
   without XLA (the default), with the generator XLA-compiled or all of it,
   per --precision; with
   --magenta_python, Magenta's own graph (tools/magenta_bench_generate.py)
   in the same run and each row's ratio to it; GFLOP/s (FLOPs of our graph,
   TF profiler) and the fraction of the roofline; for 16-bit rows the audio
   error vs fp32 (precision.audio_error);
2. peak memory (RSS growth of a fresh process) of one generation call at
   --memory_batch;
3. the exported SavedModel (export.py) loaded with tf.saved_model.load only,
   at batch 1, 8 and 64: notes/s and real-time factor;
4. the TF Lite model of `export --format=tflite` (builtin ops, XNNPACK).

Every mode is run once before timing (tracing / compilation not measured).
"""

import json
import os
import subprocess
import sys
import tempfile
import time
import warnings

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

from absl import app  # noqa: E402
from absl import flags  # noqa: E402
from absl import logging  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_common  # noqa: E402  pylint: disable=g-import-not-at-top

import gansynth_tf2  # noqa: E402
from gansynth_tf2 import export  # noqa: E402
from gansynth_tf2 import model as model_lib  # noqa: E402
from gansynth_tf2 import networks  # noqa: E402
from gansynth_tf2 import precision as precision_lib  # noqa: E402
from gansynth_tf2 import run_dir  # noqa: E402

_CKPT = flags.DEFINE_string('ckpt_dir', None, 'Benchmark this checkpoint '
                            'instead of a randomly initialized full-size model.')
_BATCH = flags.DEFINE_integer('batch_size', 8, 'Notes per call (table 1).')
_REPEATS = flags.DEFINE_integer('repeats', 3, 'Timed calls per mode.')
_PRECISION = flags.DEFINE_list(
    'precision', ['fp32'], 'Precisions to time in table 1, from '
    f'{",".join(precision_lib.PRECISIONS)} (fp32 is always timed: the 16-bit rows are compared '
    'with it).')
_XLA = flags.DEFINE_list(
    'xla', ['off', 'generator'], "Table 1 modes (load_model's jit_compile): "
    "'off' (no XLA, the default), 'generator' (XLA generator, TF inverse; "
    "generate --xla), 'all' (generator and inverse under XLA).")
XLA_MODES = {'off': False, 'generator': 'generator', 'all': True}
_MAGENTA = flags.DEFINE_string(
    'magenta_python', None, 'A Python interpreter that imports Magenta '
    '(../shared/oracle/magenta_env.sh): times Magenta\'s own graph in the '
    'same run.')
_ROOFLINE = flags.DEFINE_boolean('roofline', True,
                                 'Measure the conv roofline (table 0).')
_MEMORY = flags.DEFINE_integer('memory_batch', 64, 'Batch of the peak-memory '
                               'probe (table 2); 0 skips it.')
_PROBE = flags.DEFINE_integer('memory_probe', 0, 'Internal: run one call at '
                              'this batch and print the peak RSS as JSON.')
_SM_BATCHES = flags.DEFINE_list('saved_model_batches', ['1', '8', '64'],
                                'Batch sizes for the SavedModel (table 3).')
_SKIP_SM = flags.DEFINE_boolean('skip_saved_model', False,
                                'Skip table 3 (export + SavedModel timing).')
_TFLITE = flags.DEFINE_list('tflite_batches', ['1', '8'],
                            'Batch sizes for the TF Lite model (table 4); '
                            'empty to skip.')

# The paper's full-size model; the rest comes from the tiny oracle's
# experiment.json, which is mel_prog_hires with fmap_base/fmap_max lowered.
FULL_SIZE = {'fmap_base': 4096, 'fmap_max': 256}
ORACLE_CKPT = os.path.join(os.path.dirname(__file__), '..', 'tests', 'data',
                           'oracle', 'ckpt')


def full_size_model(batch_size, precision='fp32', jit_compile=False):
  """load_model's model object around a random full-size generator."""
  tiny = gansynth_tf2.load_model(ORACLE_CKPT)  # for its config + pitch counts
  hparams = tiny.hparams.replace(**FULL_SIZE)
  last_stage = 2 * hparams.num_resolutions - 2
  generator = networks.build_networks(
      hparams, last_stage, run_dir.Run(ORACLE_CKPT).normalizer(hparams),
      len(tiny.pitch_counts), names=('generator',))['generator']
  return model_lib.GANSynthModel(generator, hparams, tiny.pitch_counts,
                                 progress=hparams.num_resolutions - 1,
                                 batch_size=batch_size, source='random',
                                 precision=precision, jit_compile=jit_compile)


def make_model(batch_size, precision='fp32', jit_compile=False):
  if _CKPT.value:
    return gansynth_tf2.load_model(_CKPT.value, batch_size=batch_size,
                                   precision=precision,
                                   jit_compile=jit_compile)
  # Same seed, same random weights for every precision.
  keras.utils.set_random_seed(0)
  return full_size_model(batch_size, precision, jit_compile)


def inputs(model, n, seed=0):
  rng = np.random.RandomState(seed)
  z = rng.standard_normal((n, model.latent_size)).astype(np.float32)
  labels = rng.randint(0, len(model.pitches), n).astype(np.int32)
  return z, labels


def flops_per_note(fn, model):
  """Float ops of fn traced at batch 1 (TF profiler's registered op stats)."""
  return bench_common.graph_flops(
      fn, tf.TensorSpec([1, model.latent_size], tf.float32),
      tf.TensorSpec([1], tf.int32))


def memory_probe(batch):
  """Peak RSS growth (MiB) of one generation call at `batch` in this process."""
  model = make_model(batch)
  z, labels = inputs(model, batch)
  before = bench_common.peak_rss_mib()
  model.generate_from_z(z, np.asarray(model.pitches)[labels])
  print(json.dumps({'batch': batch, 'peak_rss_mib': bench_common.peak_rss_mib(),
                    'growth_mib': bench_common.peak_rss_mib() - before}))


def run_memory_probe(batch):
  """Runs memory_probe in a fresh process (peak RSS only grows)."""
  cmd = [sys.executable, os.path.abspath(__file__),
         f'--memory_probe={batch}'] + (
             [f'--ckpt_dir={_CKPT.value}'] if _CKPT.value else [])
  out = subprocess.run(cmd, capture_output=True, text=True, check=False)
  lines = [l for l in out.stdout.splitlines() if l.startswith('{')]
  if not lines:
    raise RuntimeError(out.stderr.strip().splitlines()[-1])
  return json.loads(lines[-1])


def main(argv):
  del argv
  logging.set_verbosity(logging.WARNING)  # keep the tables readable
  tf.get_logger().setLevel('ERROR')
  if _PROBE.value:
    memory_probe(_PROBE.value)
    return
  precisions = ['fp32'] + [p for p in _PRECISION.value if p != 'fp32']
  for p in precisions:
    precision_lib.check(p, '--precision')
  if _MAGENTA.value:
    bench_common.check_magenta_python(_MAGENTA.value)
  batch = _BATCH.value
  model = make_model(batch)
  note_secs = model.audio_length / model.sample_rate
  params = sum(int(np.prod(v.shape)) for v in model.generator.variables)
  print(bench_common.machine_line())
  print(f'generator: {params:,} parameters, progress {model.progress}, '
        f'{model.config["data_type"]}, {model.generator.image_shape} images, '
        f'subpixel_upscale={model.generator.subpixel_upscale}')

  roofline = {}
  if _ROOFLINE.value:
    roofline = bench_common.measure_roofline(
        [precision_lib.compute_dtype(p) for p in precisions])
    print('\n0. roofline: best 3x3 conv GFLOP/s on the generator\'s largest '
          'shapes (batch 8)')
    for dtype, r in roofline.items():
      detail = ', '.join(f'{k} {v:.0f}' for k, v in r['detail'].items())
      print(f'  {dtype}: {r["gflops"]:.0f} GFLOP/s ({detail})')

  waves = model._waves_from_z  # pylint: disable=protected-access
  our_flops = flops_per_note(waves, model)
  literal = make_model(1)
  literal.generator = networks.build_networks(
      literal.hparams, 2 * literal.hparams.num_resolutions - 2,
      literal.generator.normalizer, len(literal.pitches),
      names=('generator',), subpixel_upscale=False)['generator']
  magenta_flops = flops_per_note(literal._waves_from_z, literal)  # pylint: disable=protected-access
  g_flops = flops_per_note(model.images_from_z, model)
  print(f'\nFLOPs per note: ours {our_flops / 1e9:.2f} GFLOP, Magenta\'s '
        f'graph (upscale then conv) {magenta_flops / 1e9:.2f} GFLOP (convs and '
        'matmuls; FFTs not counted)')

  magenta = None
  if _MAGENTA.value and not _CKPT.value:
    magenta = bench_common.run_magenta(
        _MAGENTA.value, 'magenta_bench_generate.py',
        ['--batch_size', batch, '--repeats', _REPEATS.value])

  z, labels = inputs(model, batch)
  pitches = np.asarray(model.pitches)[labels]
  print(f'\n1. z -> audio, batch {batch}, median of {_REPEATS.value} calls '
        '(load_model().generate_from_z)')
  print('| who | precision | mode | s/batch | notes/s | RTF | GFLOP/s | '
        'of roofline | G alone s/batch | G of roofline | vs Magenta | '
        'audio vs fp32 |')
  print('|---|---|---|---|---|---|---|---|---|---|---|---|')

  restate = []  # (label, dtype, GFLOP/s) for bench_common.roofline_again

  def row(who, prec, mode, seconds, flops, error='', g_seconds=None):
    rate = batch / seconds
    if who == 'ours' and roofline:
      dtype = precision_lib.compute_dtype(prec)
      restate.append((f'{prec} {mode}', dtype, flops * rate / 1e9))
      if g_seconds and g_flops:
        restate.append((f'{prec} {mode} G alone', dtype,
                        g_flops * batch / g_seconds / 1e9))
    gflops = flops * rate / 1e9
    bound = roofline.get(precision_lib.compute_dtype(prec), {}).get('gflops')
    frac = f'{gflops / bound:.0%}' if bound else ''
    g_frac = (f'{g_flops * batch / g_seconds / 1e9 / bound:.0%}'
              if bound and g_seconds and g_flops else '')
    ratio = (f'{magenta["median"] / seconds:.2f}x' if magenta else '')
    print(f'| {who} | {prec} | {mode} | {seconds:.3f} | {rate:.2f} | '
          f'{rate * note_secs:.1f} | {gflops:.0f} | {frac} | '
          f'{f"{g_seconds:.3f}" if g_seconds else ""} | {g_frac} | {ratio} | '
          f'{error} |', flush=True)

  if magenta:
    row('Magenta', 'fp32', 'TF1 graph', magenta['median'], magenta_flops)
  reference = None
  profiles = []
  zt, labels_t = tf.constant(z), tf.constant(labels)
  for prec in precisions:
    for xla in _XLA.value:
      if xla not in XLA_MODES:
        raise app.UsageError(f'--xla: {xla!r} is not one of {list(XLA_MODES)}')
      m = make_model(batch, prec, jit_compile=XLA_MODES[xla])
      try:
        out = m.generate_from_z(z, pitches)  # warm-up (trace / compile)
        seconds = bench_common.median_seconds(
            lambda: m.generate_from_z(z, pitches), _REPEATS.value, warmup=0)  # pylint: disable=cell-var-from-loop
        images = lambda: m._images_fn(zt, labels_t)  # pylint: disable=protected-access,cell-var-from-loop
        g_seconds = bench_common.median_seconds(images, _REPEATS.value)
        if xla == 'off':
          profiles.append((prec, bench_common.op_profile(images, warmup=0)))
      except Exception as e:  # pylint: disable=broad-except
        print(f'| ours | {prec} | XLA {xla} | failed: {type(e).__name__}: '
              f'{str(e)[:150]} |')
        continue
      error = ''
      if prec == 'fp32' and reference is None:
        reference = out
      elif reference is not None:
        e = precision_lib.audio_error(reference, out)
        error = (f'{e["db"].mean():.2f} dB, SNR {np.median(e["snr"]):.1f} '
                 'dB' if prec != 'fp32' else
                 f'max {np.abs(out - reference).max() / np.abs(reference).max():.1e} of peak')
      row('ours', prec, {'off': 'no XLA', 'generator': 'XLA generator',
                         'all': 'XLA all'}[xla], seconds, our_flops, error,
          g_seconds)
  if restate:
    print('\n' + bench_common.roofline_again(roofline, restate))
  print(f'\n(G alone: the generator without the inverse transform, '
        f'{(g_flops or 0) / 1e9:.2f} GFLOP per note.) Where the generator\'s time goes '
        '(TF profiler, one call, no XLA):')
  for prec, profile in profiles:
    print(f'  {prec}: {bench_common.describe_profile(profile)}')

  if _MEMORY.value:
    probe = run_memory_probe(_MEMORY.value)
    print(f'\n2. peak memory, one call at batch {_MEMORY.value} (fp32, '
          f'tf.function, fresh process): peak RSS {probe["peak_rss_mib"]:.0f} '
          f'MiB, +{probe["growth_mib"]:.0f} MiB for the call')

  if _SKIP_SM.value:
    return
  with tempfile.TemporaryDirectory() as tmp:
    path = os.path.join(tmp, 'saved')
    start = time.perf_counter()
    export.export(_CKPT.value or 'random', path, model=model)
    print(f'\n3. SavedModel (export took {time.perf_counter() - start:.1f} s, '
          'tf.saved_model.load only), generate signature')
    loaded = tf.saved_model.load(path)
    generate = loaded.signatures['generate']
    print(f'{"batch":>6}{"s/batch":>10}{"notes/s":>10}{"RTF":>8}')
    for n in (int(b) for b in _SM_BATCHES.value):
      z_n, labels_n = inputs(model, n, seed=n)
      pitch = tf.constant(np.asarray(model.pitches)[labels_n], tf.int32)
      s = bench_common.median_seconds(
          lambda: generate(z=tf.constant(z_n), pitch=pitch)['audio'],  # pylint: disable=cell-var-from-loop
          _REPEATS.value)
      print(f'{n:6d}{s:10.3f}{n / s:10.2f}{n / s * note_secs:8.1f}')

    if not _TFLITE.value:
      return
    path = os.path.join(tmp, 'generate.tflite')
    start = time.perf_counter()
    export.to_tflite(model, path)
    print(f'\n4. TF Lite, builtin ops (conversion took '
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
      s = bench_common.median_seconds(
          lambda: runner(z=z_n, pitch=pitch)['audio'],  # pylint: disable=cell-var-from-loop
          _REPEATS.value)
      print(f'{n:6d}{s:10.3f}{n / s:10.2f}{n / s * note_secs:8.1f}')


if __name__ == '__main__':
  app.run(main)
