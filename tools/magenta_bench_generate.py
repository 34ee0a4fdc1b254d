"""Magenta's baseline for tools/bench_generate.py (run with Magenta's Python).

  /path/to/magenta-python tools/magenta_bench_generate.py \
      --batch_size 8 --repeats 3

Builds Magenta's own full-size IF-Mel-HQ generator (`network_functions`'
'specgram' generator, mel_prog_hires: fmap_base 4096, fmap_max 256, 7 blocks,
128x1024, progress 6) and its `SpecgramsHelper` inverse in one TF1 graph,
random weights (speed does not depend on them), and times `Session.run` of
z + labels -> waves after one warm-up run. Prints one JSON line.

Imports only Magenta and TensorFlow, never gansynth_tf2: tools/bench_common's
run_magenta starts it in Magenta's interpreter.
"""

import argparse
import json
import os
import time

os.environ['TF_USE_LEGACY_KERAS'] = '1'
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')

import numpy as np  # noqa: E402
import tensorflow.compat.v1 as tf  # noqa: E402

tf.disable_v2_behavior()

# pylint: disable=g-import-not-at-top
from magenta.models.gansynth.lib import network_functions  # noqa: E402
from magenta.models.gansynth.lib import networks  # noqa: E402
from magenta.models.gansynth.lib import specgrams_helper  # noqa: E402


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--batch_size', type=int, default=8)
  parser.add_argument('--repeats', type=int, default=3)
  args = parser.parse_args()
  batch = args.batch_size
  # mel_prog_hires, the paper's best model, at its last stage.
  kwargs = dict(
      fmap_base=4096, fmap_decay=1.0, fmap_max=256, kernel_size=3,
      start_height=2, start_width=16, scale_mode='ALL', scale_base=2,
      num_resolutions=7, simple_arch=False, to_rgb_activation='tanh',
      data_normalizer='specgrams_prespecified_normalizer',
      mag_normalizer_a=0.0661371661726, mag_normalizer_b=0.113718730221,
      p_normalizer_a=0.8, p_normalizer_b=0.0, num_tokens=61,
      latent_vector_size=256, num_blocks=7, progress=tf.constant(6.0))
  kwargs['resolution_schedule'] = networks.ResolutionSchedule(
      'ALL', (2, 16), 2, 7)
  z = tf.placeholder(tf.float32, [batch, 256])
  labels = tf.placeholder(tf.int32, [batch])
  with tf.variable_scope('Generator'):
    images, _ = network_functions.g_fn_registry['specgram'](
        (z, tf.one_hot(labels, 61)), **kwargs)
  helper = specgrams_helper.SpecgramsHelper(
      audio_length=64000, spec_shape=(128, 1024), overlap=0.75,
      sample_rate=16000, mel_downscale=1, ifreq=True)
  waves = helper.melspecgrams_to_waves(images)
  rng = np.random.RandomState(0)
  feed = {z: rng.standard_normal((batch, 256)),
          labels: rng.randint(0, 61, batch)}
  with tf.Session() as sess:
    sess.run(tf.global_variables_initializer())
    sess.run(waves, feed)  # warm-up
    times = []
    for _ in range(args.repeats):
      start = time.perf_counter()
      out = sess.run(waves, feed)
      times.append(time.perf_counter() - start)
  print(json.dumps({'batch_size': batch, 'seconds': times,
                    'median': float(np.median(times)),
                    'wave_shape': list(out.shape),
                    'tensorflow': tf.__version__}))


if __name__ == '__main__':
  main()
