"""What a training run reports: the progress line and TensorBoard summaries.

Magenta -> here: `train_util`'s logging hook -> `ProgressLine`;
`model.Model`'s summary ops (`add_model_summaries`, audio and image
summaries) -> `Summaries`, written into each stage's folder as Magenta does.
"""
import datetime
import time

import numpy as np
import tensorflow as tf

from gansynth_tf2 import distribute
from gansynth_tf2 import schedule


def ordered_one_hot(num, num_pitches):
  """[num, num_pitches]: pitches 0, 1, ... cycling (Magenta's summaries)."""
  return tf.one_hot(np.arange(num) % num_pitches, num_pitches)


class ProgressLine:
  """A status line every `every_secs`: stage, images, speed, losses, ETA."""

  def __init__(self, every_secs, total_images, num_replicas=1):
    self.every_secs = every_secs
    self.total_images = total_images
    self.replicas = (f' | {distribute.replicas_in_sync(num_replicas)}'
                     if num_replicas > 1 else '')
    self._last_time = None
    self._last_images = 0

  def restart_clock(self, trainer):
    """Speed counts from here: call after a stage's first (tracing) step."""
    self._last_time = time.time()
    self._last_images = int(trainer.image_id.numpy())

  def maybe_print(self, trainer, values, force=False):
    now = time.time()
    image_id = int(trainer.image_id.numpy())
    if self._last_time is None:
      self.restart_clock(trainer)
      if not force:
        return
    if not force and now - self._last_time < self.every_secs:
      return
    if force and image_id == self._last_images:
      return  # already printed for this image count
    elapsed = max(now - self._last_time, 1e-9)
    speed = (image_id - self._last_images) / elapsed
    self._last_time, self._last_images = now, image_id

    def eta(images_left):
      if speed <= 0:
        return '?'
      return str(datetime.timedelta(seconds=int(max(images_left, 0) / speed)))

    last_stage = trainer.schedule.num_stages - 1
    print(f'stage {trainer.stage_id}/{last_stage} '
          f'({trainer.num_blocks} blocks) | images {image_id}/'
          f'{trainer.num_images} | {speed:.1f} img/s | '
          f'D {values["discriminator_loss"]:.4g} '
          f'G {values["generator_loss"]:.4g} '
          f'GP {values["gradient_penalty_loss"]:.3g} | '
          f'progress {values["progress"]:.3f} | '
          f'ETA stage {eta(trainer.num_images - image_id)}, '
          f'all {eta(self.total_images - image_id)}{self.replicas}',
          flush=True)


class Summaries:
  """TensorBoard summaries of a stage, in its stage folder (as Magenta)."""

  def __init__(self, trainer, every_num_images, seed=0):
    self.trainer = trainer
    self.every = max(int(every_num_images), 1)
    self.writer = tf.summary.create_file_writer(trainer.checkpoint.directory)
    hp = trainer.hp
    self.fake_batch_size = int(hp.fake_batch_size)
    # A fixed set of latents, with labels cycling through all pitches.
    self.z = tf.random.stateless_normal(
        [self.fake_batch_size, hp.latent_vector_size], seed=[seed, 0])
    self.one_hot = ordered_one_hot(self.fake_batch_size, trainer.num_pitches)
    self._next = None

  def due(self, image_id):
    if self._next is None:
      self._next = (image_id // self.every + 1) * self.every
      return False
    if image_id >= self._next:
      self._next = (image_id // self.every + 1) * self.every
      return True
    return False

  def write_scalars(self, values, img_per_sec):
    t = self.trainer
    step = int(t.image_id.numpy())
    with self.writer.as_default(step=step):
      for name, value in values.items():
        tf.summary.scalar(f'losses/{name}', value)
      tf.summary.scalar('current_image_id', step)
      tf.summary.scalar('train_time', float(t.train_time.numpy()))
      tf.summary.scalar('images_per_second', img_per_sec)
    self.writer.flush()

  def write_media(self, real_data):
    """Audio and specgram images of the EMA generator and of real data."""
    t = self.trainer
    step = int(t.image_id.numpy())
    progress = t.progress()
    fake = t.ema_generator(self.z, self.one_hot, progress)
    real = schedule.blend_images(real_data, progress, t.resolution_schedule,
                                 t.num_blocks)
    rate = t.hp.sample_rate
    with self.writer.as_default(step=step):
      for name, data in (('fake', fake), ('real', real)):
        waves = t.data_helper.data_to_waves(data)
        tf.summary.audio(f'{name}_waves', waves, rate,
                         max_outputs=int(waves.shape[0]))
        if t.hp.data_type != 'wave':
          for c, suffix in ((0, 'm'), (1, 'p')):
            channel = data[..., c:c + 1]
            lo = tf.reduce_min(channel, axis=[1, 2, 3], keepdims=True)
            hi = tf.reduce_max(channel, axis=[1, 2, 3], keepdims=True)
            # Magenta's layout (time down, frequency to the right): a wide
            # 128x1024 image reads better in TensorBoard than a tall one.
            image = (channel - lo) / (hi - lo + 1e-8)
            tf.summary.image(f'{name}_data_{suffix}', image,
                             max_outputs=int(data.shape[0]))
    self.writer.flush()
