"""Throughput of the IF-Mel transforms: eager vs tf.function vs XLA, vs Magenta.

  python tools/bench_spectral.py [--batch_size=8] [--repeats=5] \
      [--magenta_python=/path/to/magenta-venv/bin/python]

Measures waves -> mel-IF specgrams and mel-IF -> waves for the paper's high
frequency resolution configuration (128x1024, nfft 2048, hop 512) and prints
seconds per batch and examples per second (median of --repeats calls, each
mode warmed up, i.e. traced / compiled, first), the matmul GFLOP/s and the
fraction of the memory-bandwidth bound (input read and output written once at
the bandwidth measured in the same run: these transforms are memory-bound).

With --magenta_python, the same two transforms in Magenta's own
`SpecgramsHelper` graph are timed in that interpreter in this invocation
(tools/magenta_bench_spectral.py, Session.run on the same inputs: uniform
noise, seed 0) and a second table gives, per direction, our fastest mode,
Magenta's time and the ratio (Magenta's seconds / ours: > 1 means ours is
faster). The data pipeline runs the forward transform in a graph
(tf.data map), the model's generation the inverse in a tf.function (XLA with
jit_compile), so the tf.function rows are the ones those paths get.
"""

import os
import sys

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from absl import app  # noqa: E402
from absl import flags  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import bench_common  # noqa: E402
from gansynth_tf2 import specgrams  # noqa: E402

_BATCH = flags.DEFINE_integer('batch_size', 8, 'Examples per call.')
_REPEATS = flags.DEFINE_integer('repeats', 5, 'Timed calls per mode.')
_MAGENTA_PYTHON = flags.DEFINE_string(
    'magenta_python', None,
    'Interpreter with Magenta 2.1.4 installed; when given, Magenta\'s '
    'SpecgramsHelper is timed too (tools/magenta_bench_spectral.py).')

DIRECTIONS = (('waves -> mel-IF', 'waves_to_mel_s'),
              ('mel-IF -> waves', 'mel_to_waves_s'))


def main(argv):
  del argv
  print(bench_common.machine_line())
  helper = specgrams.SpecgramsHelper(64000, (128, 1024), 0.75, 16000, 1)
  rng = np.random.RandomState(0)
  waves = tf.constant(rng.uniform(-0.5, 0.5, (_BATCH.value, 64000, 1)),
                      tf.float32)
  mel = helper.waves_to_melspecgrams(waves)
  rows = []
  for (direction, _), fn, x in zip(
      DIRECTIONS, [helper.waves_to_melspecgrams, helper.melspecgrams_to_waves],
      [waves, mel]):
    modes = [('eager', fn),
             ('tf.function', tf.function(fn)),
             ('tf.function(jit_compile=True)', tf.function(fn,
                                                           jit_compile=True))]
    for mode, f in modes:
      try:
        seconds = bench_common.median_seconds(lambda f=f, x=x: f(x),
                                              _REPEATS.value)
        rows.append((direction, mode, seconds, _BATCH.value / seconds))
      except Exception as e:  # pylint: disable=broad-except
        rows.append((direction, mode, float('nan'),
                     f'failed: {type(e).__name__}'))
  # The bound of a memory-bound transform: reading its input and writing
  # its output once at this machine's bandwidth (the FFTs and maps need
  # several passes, so a few % of it is expected).
  bandwidth = bench_common.measure_bandwidth()
  io_bytes = 4 * (int(np.prod(waves.shape)) + int(np.prod(mel.shape)))
  flops = {d: bench_common.graph_flops(f, tf.TensorSpec(x.shape, tf.float32))
           for (d, _), f, x in zip(
               DIRECTIONS, [helper.waves_to_melspecgrams,
                            helper.melspecgrams_to_waves], [waves, mel])}
  print(f'\nbatch {_BATCH.value}, median of {_REPEATS.value} calls; memory '
        f'bandwidth {bandwidth:.1f} GB/s (x * 2 on 256 MiB, read + write); '
        f'input + output {io_bytes / 1e6:.0f} MB per batch')
  print(f'{"direction":<18}{"mode":<32}{"s/batch":>10}{"examples/s":>12}'
        f'{"GFLOP/s":>9}{"of bandwidth bound":>20}')
  for direction, mode, seconds, rate in rows:
    if not isinstance(rate, float):
      print(f'{direction:<18}{mode:<32}{seconds:10.3f}  {rate}')
      continue
    gflops = (flops[direction] or float('nan')) / seconds / 1e9
    bound = io_bytes / (bandwidth * 1e9) / seconds
    print(f'{direction:<18}{mode:<32}{seconds:10.3f}{rate:12.1f}'
          f'{gflops:9.2f}{bound:20.1%}')
  print('(GFLOP/s: the profiler\'s count of matmul FLOPs; FFTs not counted)')

  if _MAGENTA_PYTHON.value is None:
    return
  magenta = bench_common.run_magenta(
      _MAGENTA_PYTHON.value, 'magenta_bench_spectral.py',
      ['--batch_size', _BATCH.value, '--repeats', _REPEATS.value])
  print(f'\nvs Magenta\'s SpecgramsHelper graph (Session.run, TF '
        f'{magenta["tf_version"]}), batch {_BATCH.value}')
  print(f'{"direction":<18}{"ours (best mode)":<32}{"s/batch":>10}'
        f'{"examples/s":>12}{"Magenta s":>11}{"examples/s":>12}{"ratio":>8}')
  for direction, key in DIRECTIONS:
    timed = [r for r in rows if r[0] == direction and np.isfinite(r[2])]
    _, mode, ours, _ = min(timed, key=lambda r: r[2])
    theirs = magenta[key]
    print(f'{direction:<18}{mode:<32}{ours:10.3f}{_BATCH.value / ours:12.1f}'
          f'{theirs:11.3f}{_BATCH.value / theirs:12.1f}{theirs / ours:7.2f}x')


if __name__ == '__main__':
  app.run(main)
