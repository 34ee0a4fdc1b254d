"""Magenta's baseline for tools/bench_spectral.py (run with Magenta's Python).

  /path/to/magenta-python tools/magenta_bench_spectral.py \
      --batch_size 8 --repeats 5

Builds Magenta's own `SpecgramsHelper` graph (TF1 style, placeholders) for
the paper's high frequency resolution configuration (128x1024, nfft 2048,
hop 512, IF-Mel) and times `Session.run` of both directions after one warm-up
run each. The input is uniform noise in [-0.5, 0.5] (seed 0), its mel-IF
specgrams for the inverse, as tools/bench_spectral.py feeds ours. Prints one
JSON line: seconds per batch (median) per direction.

Imports only Magenta and TensorFlow, never gansynth_tf2: tools/bench_common's
run_magenta starts it in Magenta's interpreter.
"""

import argparse
import json
import os
import sys
import time

os.environ['TF_USE_LEGACY_KERAS'] = '1'
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')

import numpy as np  # noqa: E402
import tensorflow.compat.v1 as tf  # noqa: E402

tf.disable_v2_behavior()

from magenta.models.gansynth.lib import specgrams_helper  # noqa: E402

AUDIO_LENGTH = 64000
SPEC_SHAPE = (128, 1024)


def _median_run(sess, fetch, feed, repeats):
  sess.run(fetch, feed)  # warm-up: first-run allocation and constant folding
  times = []
  for _ in range(repeats):
    start = time.perf_counter()
    sess.run(fetch, feed)
    times.append(time.perf_counter() - start)
  return float(np.median(times))


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--batch_size', type=int, default=8)
  parser.add_argument('--repeats', type=int, default=5)
  args = parser.parse_args()
  b = args.batch_size

  helper = specgrams_helper.SpecgramsHelper(
      audio_length=AUDIO_LENGTH, spec_shape=SPEC_SHAPE, overlap=0.75,
      sample_rate=16000, mel_downscale=1, ifreq=True)
  waves_in = tf.placeholder(tf.float32, [b, AUDIO_LENGTH, 1])
  mel_in = tf.placeholder(tf.float32, [b, *SPEC_SHAPE, 2])
  to_mel = helper.waves_to_melspecgrams(waves_in)
  to_waves = helper.melspecgrams_to_waves(mel_in)

  rng = np.random.RandomState(0)
  waves = rng.uniform(-0.5, 0.5, (b, AUDIO_LENGTH, 1)).astype(np.float32)
  with tf.Session() as sess:
    mel = sess.run(to_mel, {waves_in: waves})
    forward = _median_run(sess, to_mel, {waves_in: waves}, args.repeats)
    inverse = _median_run(sess, to_waves, {mel_in: mel}, args.repeats)
  print(json.dumps({
      'batch_size': b,
      'repeats': args.repeats,
      'waves_to_mel_s': forward,
      'mel_to_waves_s': inverse,
      'tf_version': tf.__version__,
      'python': sys.version.split()[0],
  }))


if __name__ == '__main__':
  main()
