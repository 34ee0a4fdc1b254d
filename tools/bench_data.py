r"""Is the input pipeline fast enough? Examples/s delivered vs consumed by training.

Measures, for one representation and batch size (default IF-Mel, batch 8):
  1. the pipeline alone (data.pipeline.provide_batches: batch-wise conversion),
     and the per-note conversion variant for comparison;
  2. one training-like step alone (D step with gradient penalty + G step, at
     the final resolution, on a constant batch);
  3. steps fed by the pipeline: the time each step waits for its batch.
The pipeline is not the bottleneck when (1) >> (2) and the wait in (3) ~ 0.

  python tools/bench_data.py                       # full-size networks
  python tools/bench_data.py --fmap_max=16 --steps=5   # quick look
"""
import os
import sys
import time

from absl import app
from absl import flags

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# pylint: disable=wrong-import-position
import tensorflow as tf  # noqa: E402

from gansynth_tf2 import hparams as hparams_lib  # noqa: E402
from gansynth_tf2 import networks  # noqa: E402
from gansynth_tf2 import normalizers  # noqa: E402
from gansynth_tf2 import specgrams  # noqa: E402
from gansynth_tf2.data import default  # noqa: E402
from gansynth_tf2.data import nsynth  # noqa: E402
from gansynth_tf2.data import pipeline  # noqa: E402
# pylint: enable=wrong-import-position

FLAGS = flags.FLAGS
flags.DEFINE_string('data_dir', None, 'A prepared dataset folder; default: '
                    'the embedded default dataset.')
flags.DEFINE_enum('data_type', 'mel', ['mel', 'linear', 'phase', 'wave'],
                  'Representation.')
flags.DEFINE_integer('batch_size', 8, 'Batch size.')
flags.DEFINE_integer('num_batches', 30, 'Batches timed for the pipeline.')
flags.DEFINE_integer('steps', 3, 'Training steps timed.')
flags.DEFINE_integer('fmap_max', 256, 'Network width cap (256: the paper).')


def _time_pipeline(ds, num_batches):
  it = iter(ds)
  next(it)  # Warm-up: tracing and the first shuffle-buffer fill.
  start = time.perf_counter()
  for _ in range(num_batches):
    next(it)
  return time.perf_counter() - start


def _per_note_batches(dataset, helper, batch_size):
  """The same pipeline converting one note per map call (the common layout)."""
  ds = dataset.provide_dataset().shuffle(1000).repeat()
  ds = ds.map(lambda w, l: (helper.waves_to_data(w[tf.newaxis])[0], l),
              num_parallel_calls=tf.data.AUTOTUNE)
  return ds.batch(batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE)


def _make_step(generator, discriminator, batch_size):
  g_opt = tf.keras.optimizers.Adam(8e-4, 0.0, 0.99)
  d_opt = tf.keras.optimizers.Adam(8e-4, 0.0, 0.99)
  progress = tf.constant(float(generator.num_blocks - 1))

  @tf.function
  def step(real, labels):
    z = tf.random.normal([batch_size, generator.latent_vector_size])
    with tf.GradientTape() as tape:
      fake = generator(z, labels, progress)
      eps = tf.random.uniform([batch_size, 1, 1, 1])
      mix = eps * real + (1 - eps) * fake
      with tf.GradientTape() as gp_tape:
        gp_tape.watch(mix)
        d_mix, _ = discriminator(mix, progress)
      slopes = tf.norm(tf.reshape(gp_tape.gradient(d_mix, mix),
                                  [batch_size, -1]), axis=1)
      d_real, d_real_cls = discriminator(real, progress)
      d_fake, _ = discriminator(fake, progress)
      d_loss = (tf.reduce_mean(d_fake) - tf.reduce_mean(d_real)
                + 10 * tf.reduce_mean((slopes - 1) ** 2)
                + tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(
                    labels, d_real_cls)))
    d_vars = discriminator.trainable_variables
    d_opt.apply_gradients(zip(tape.gradient(d_loss, d_vars), d_vars))
    with tf.GradientTape() as tape:
      d_fake, d_fake_cls = discriminator(generator(z, labels, progress),
                                         progress)
      g_loss = -tf.reduce_mean(d_fake) + tf.reduce_mean(
          tf.nn.softmax_cross_entropy_with_logits(labels, d_fake_cls))
    g_vars = generator.trainable_variables
    g_opt.apply_gradients(zip(tape.gradient(g_loss, g_vars), g_vars))
    return d_loss + g_loss

  return step


def main(argv):
  del argv
  b = FLAGS.batch_size
  dataset = (nsynth.PreparedDataset(FLAGS.data_dir) if FLAGS.data_dir
             else default.DefaultDataset())
  helper = specgrams.make_data_helper(FLAGS.data_type)
  rows = []

  batched = pipeline.provide_batches(dataset, b, data_type=FLAGS.data_type,
                                     data_helper=helper)
  secs = _time_pipeline(batched, FLAGS.num_batches)
  rows.append(('pipeline, batch-wise conversion',
               FLAGS.num_batches * b / secs))
  secs = _time_pipeline(_per_note_batches(dataset, helper, b),
                        FLAGS.num_batches)
  rows.append(('pipeline, per-note conversion', FLAGS.num_batches * b / secs))

  # The paper's shapes (2x16 -> 128x1024; waves 64x1 grown in time only).
  shape = (dict(start_height=64, start_width=1, scale_mode='H')
           if FLAGS.data_type == 'wave' else dict(start_height=2,
                                                    start_width=16))
  hp = hparams_lib.HParams(fmap_base=4096, fmap_max=FLAGS.fmap_max,
                           data_type=FLAGS.data_type, **shape)
  nets = networks.build_networks(
      hp, 2 * hp.num_resolutions - 2, normalizers.PrespecifiedNormalizer(),
      61, names=('generator', 'discriminator'))
  generator, discriminator = nets['generator'], nets['discriminator']
  step = _make_step(generator, discriminator, b)
  real, labels = next(iter(batched))
  step(real, labels)  # Trace and warm up.
  start = time.perf_counter()
  for _ in range(FLAGS.steps):
    float(step(real, labels))
  step_secs = (time.perf_counter() - start) / FLAGS.steps
  rows.append(('training step alone (consumes)', b / step_secs))

  it = iter(batched)
  next(it)
  waited = 0.0
  start = time.perf_counter()
  for _ in range(FLAGS.steps):
    t = time.perf_counter()
    real, labels = next(it)
    waited += time.perf_counter() - t
    float(step(real, labels))
  fed_secs = (time.perf_counter() - start) / FLAGS.steps
  rows.append(('training step fed by the pipeline', b / fed_secs))

  device = 'GPU' if tf.config.list_physical_devices('GPU') else 'CPU'
  print(f'\n{FLAGS.data_type}, batch {b}, fmap_max {FLAGS.fmap_max}, '
        f'{os.cpu_count()} CPU cores, {device}, {len(list(dataset.files))} '
        'shard(s)')
  print(f'{"":38s} {"examples/s":>11s}')
  for name, rate in rows:
    print(f'{name:38s} {rate:11.1f}')
  print(f'step time {step_secs * 1000:.0f} ms alone, {fed_secs * 1000:.0f} ms '
        f'fed; waiting for input {waited / FLAGS.steps * 1000:.1f} ms a step '
        f'({100 * waited / FLAGS.steps / fed_secs:.1f}%).')
  margin = rows[0][1] / rows[2][1]
  print(f'The pipeline delivers {margin:.1f}x what a step consumes: '
        + ('not the bottleneck.' if margin > 1.5 and
           waited / FLAGS.steps < 0.1 * fed_secs else
           'it may limit training here.'))


if __name__ == '__main__':
  app.run(main)
