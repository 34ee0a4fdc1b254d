"""Throughput of the IF-Mel transforms: eager vs tf.function vs XLA.

  python tools/bench_spectral.py [--batch_size=8] [--repeats=5]

Measures waves -> mel-IF specgrams and mel-IF -> waves for the paper's high
frequency resolution configuration (128x1024, nfft 2048, hop 512) and prints
examples per second. Each mode is warmed up (traced/compiled) before timing.
"""

import os
import time

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

from absl import app  # noqa: E402
from absl import flags  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from gansynth_tf2 import specgrams  # noqa: E402

_BATCH = flags.DEFINE_integer('batch_size', 8, 'Examples per call.')
_REPEATS = flags.DEFINE_integer('repeats', 5, 'Timed calls per mode.')


def _time(fn, x, repeats):
  fn(x)  # warm-up: tracing / XLA compilation is not what we measure
  start = time.perf_counter()
  for _ in range(repeats):
    out = fn(x)
  _ = out.numpy()
  return (time.perf_counter() - start) / repeats


def main(argv):
  del argv
  helper = specgrams.SpecgramsHelper(64000, (128, 1024), 0.75, 16000, 1)
  rng = np.random.RandomState(0)
  waves = tf.constant(rng.uniform(-0.5, 0.5, (_BATCH.value, 64000, 1)),
                      tf.float32)
  mel = helper.waves_to_melspecgrams(waves)
  rows = []
  for direction, fn, x in [
      ('waves -> mel-IF', helper.waves_to_melspecgrams, waves),
      ('mel-IF -> waves', helper.melspecgrams_to_waves, mel)]:
    modes = [('eager', fn),
             ('tf.function', tf.function(fn)),
             ('tf.function(jit_compile=True)', tf.function(fn,
                                                           jit_compile=True))]
    for mode, f in modes:
      try:
        seconds = _time(f, x, _REPEATS.value)
        rows.append((direction, mode, seconds, _BATCH.value / seconds))
      except Exception as e:  # pylint: disable=broad-except
        rows.append((direction, mode, float('nan'), f'failed: {type(e).__name__}'))
  print(f'\nbatch {_BATCH.value}, {os.cpu_count()} CPU cores, TF {tf.__version__}')
  print(f'{"direction":<18}{"mode":<32}{"s/batch":>10}{"examples/s":>12}')
  for direction, mode, seconds, rate in rows:
    rate = f'{rate:12.1f}' if isinstance(rate, float) else f'  {rate}'
    print(f'{direction:<18}{mode:<32}{seconds:10.3f}{rate}')


if __name__ == '__main__':
  app.run(main)
