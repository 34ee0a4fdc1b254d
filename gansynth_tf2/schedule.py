"""Progressive-growing arithmetic: resolutions, stages, progress and blending.

Counterpart of the schedule parts of Magenta's `gansynth/lib/networks.py`
(`ResolutionSchedule`, `compute_progress`, alphas, `blend_images`) and of
`gansynth/lib/train_util.py` (stage ids, stage info, batch size per stage),
plus the wall-clock stage times that Magenta's `Model` computes inline.
Arithmetic only: what a run folder holds is `run_dir.Run`'s to read (where
Magenta's functions take `train_root_dir`, these take the ids of the stage
folders that exist, `Run.stage_ids()`).

Training runs `2 * num_resolutions - 1` stages: even stage ids are stable
stages, odd ones are transitions that fade a new block in. `progress` is a
float in `[0, num_blocks - 1]`: an integer p means "stable at block p + 1",
p + f means "fading from block p + 1 to p + 2, fraction f done".
"""

import numpy as np
import tensorflow as tf

from gansynth_tf2 import hparams as hparams_lib
from gansynth_tf2 import layers

SCALE_MODES = ('ALL', 'H')


class ResolutionSchedule:
  """Image sizes per block: block 1 is `start_resolutions`, each next block x`scale_base`.

  `scale_mode` 'ALL' grows H and W, 'H' grows only H (time).
  """

  def __init__(self, scale_mode='ALL', start_resolutions=(4, 4), scale_base=2,
               num_resolutions=4):
    if scale_mode not in SCALE_MODES:
      raise ValueError(
          f'scale_mode must be one of {SCALE_MODES}, got {scale_mode!r}')
    if num_resolutions < 1:
      raise ValueError(f'num_resolutions must be >= 1, got {num_resolutions}')
    self.scale_mode = scale_mode
    self.start_resolutions = tuple(int(r) for r in start_resolutions)
    self.scale_base = int(scale_base)
    self.num_resolutions = int(num_resolutions)

  HPARAMS = ('scale_mode', 'start_height', 'start_width', 'scale_base',
             'num_resolutions')

  @classmethod
  def from_hparams(cls, hp):
    """From an `hparams.HParams` (Magenta's flat names)."""
    return cls(hp.scale_mode, (hp.start_height, hp.start_width),
               hp.scale_base, hp.num_resolutions)

  def scale_factor(self, block_id):
    """How much block `block_id`'s images are upscaled to reach the final size."""
    if not 1 <= block_id <= self.num_resolutions:
      raise ValueError(
          f'block_id must be in [1, {self.num_resolutions}], got {block_id}')
    return self.scale_base**(self.num_resolutions - block_id)

  def resolution(self, block_id):
    """(height, width) of the images made / read by block `block_id`."""
    factor = self.scale_base**(block_id - 1)
    h, w = self.start_resolutions
    if self.scale_mode == 'ALL':
      return (h * factor, w * factor)
    return (h * factor, w)

  @property
  def final_resolutions(self):
    return self.resolution(self.num_resolutions)

  @property
  def height_only(self):
    return self.scale_mode == 'H'

  def upscale(self, images, scale):
    fn = layers.upscale_height if self.height_only else layers.upscale
    return fn(images, scale)

  def downscale(self, images, scale):
    fn = layers.downscale_height if self.height_only else layers.downscale
    return fn(images, scale)

  @property
  def strides(self):
    """Strides of a conv that changes resolution by one block (simple_arch)."""
    if self.height_only:
      return (self.scale_base, 1)
    return (self.scale_base, self.scale_base)


def min_total_num_images(stable_stage_num_images, transition_stage_num_images,
                         num_blocks):
  """Images needed to reach the last of `num_blocks` blocks (stable stage start)."""
  return (num_blocks * stable_stage_num_images +
          (num_blocks - 1) * transition_stage_num_images)


def compute_progress(current_image_id, stable_stage_num_images,
                     transition_stage_num_images, num_blocks):
  """Training progress from the number of images seen so far.

  Args:
    current_image_id: int scalar (tensor or Python), images trained on so far.
    stable_stage_num_images: images per stable stage.
    transition_stage_num_images: images per transition stage.
    num_blocks: blocks of the current stage's networks; caps the progress at
      `num_blocks - 1`.

  Returns:
    float32 scalar tensor.
  """
  image_id = tf.cast(current_image_id, tf.int64)
  capped = tf.minimum(
      image_id,
      min_total_num_images(stable_stage_num_images,
                           transition_stage_num_images, num_blocks) - 1)
  stage_num_images = stable_stage_num_images + transition_stage_num_images
  progress_integer = tf.math.floordiv(capped, stage_num_images)
  into_transition = tf.math.floormod(capped, stage_num_images) - (
      stable_stage_num_images)
  # With transition_stage_num_images == 0 this is -inf (never positive), as
  # in Magenta, and the maximum below turns it into 0.
  progress_fraction = tf.maximum(
      0.0, tf.cast(into_transition, tf.float32) /
      tf.cast(transition_stage_num_images, tf.float32))
  return tf.cast(progress_integer, tf.float32) + progress_fraction


def stage_times(train_time_limit, train_time_stage_multiplier,
                num_resolutions):
  """Cumulative end time (seconds) of every stage for time-limited training.

  Stage k lasts `multiplier**k` units, scaled so that all stages together last
  `train_time_limit`.

  Returns:
    float32 numpy array `[num_stages]`.
  """
  num_stages = get_total_num_stages(num_resolutions)
  durations = np.zeros(num_stages, dtype=np.float32)
  durations[0] = 1.
  for i in range(1, num_stages):
    durations[i] = durations[i - 1] * train_time_stage_multiplier
  durations *= train_time_limit / np.sum(durations)
  return np.cumsum(durations)


def compute_progress_from_time(train_time, num_resolutions, num_blocks,
                               stage_end_times):
  """Progress for time-limited training (Magenta's `compute_progress_from_time`).

  Each transition stage (odd id i) ramps the progress by 1 linearly between
  `stage_end_times[i - 1]` and `stage_end_times[i]`.

  Args:
    train_time: float scalar, seconds trained so far.
    num_resolutions: number of resolutions.
    num_blocks: blocks of the current stage; caps the progress.
    stage_end_times: output of `stage_times`.

  Returns:
    float32 scalar tensor.
  """
  train_time = tf.cast(train_time, tf.float32)
  progress = tf.constant(0.0)
  for i in range(1, get_total_num_stages(num_resolutions), 2):
    ramp = ((train_time - stage_end_times[i - 1]) /
            (stage_end_times[i] - stage_end_times[i - 1]))
    progress += tf.clip_by_value(ramp, 0., 1.)
  return tf.minimum(progress, float(num_blocks - 1))


def generator_alpha(block_id, progress):
  """Weight of generator block `block_id`'s output: a triangle peaking at progress block_id - 1.

  The weights of all blocks sum to 1 for any progress. A Python number in
  gives a Python float out (so networks can skip zero-weight blocks when
  tracing), a tensor a tensor.
  """
  if isinstance(progress, (int, float)):
    return max(0.0, min(progress - (block_id - 2), block_id - progress))
  return tf.maximum(0.0,
                    tf.minimum(progress - (block_id - 2), block_id - progress))


def discriminator_alpha(block_id, progress):
  """Weight of the from_rgb input of discriminator block `block_id`.

  1 up to progress block_id - 1, then linearly down to 0 at progress block_id.
  Python number in, Python float out; tensor in, tensor out.
  """
  if isinstance(progress, (int, float)):
    return min(1.0, max(0.0, block_id - progress))
  return tf.clip_by_value(block_id - progress, 0.0, 1.0)


def blend_images(x, progress, resolution_schedule, num_blocks):
  """Real images as the current stage's generator would see them.

  Args:
    x: `[b, H, W, c]` at the final resolution.
    progress: float scalar.
    resolution_schedule: a `ResolutionSchedule`.
    num_blocks: blocks of the current stage.

  Returns:
    `[b, H, W, c]`: sum over blocks of generator_alpha * (x box-downscaled to
    the block's resolution and upscaled back).
  """
  blended = []
  for block_id in range(1, num_blocks + 1):
    if isinstance(progress, (int, float)) and not generator_alpha(
        block_id, progress):
      continue  # a Python progress: adding exact zeros is skipped
    scale = resolution_schedule.scale_factor(block_id)
    rescaled = resolution_schedule.upscale(
        resolution_schedule.downscale(x, scale), scale)
    blended.append(generator_alpha(block_id, progress) * rescaled)
  return tf.add_n(blended)


# Stage arithmetic of Magenta's train_util.


def get_total_num_stages(num_resolutions):
  """`2 * num_resolutions - 1`: a stable stage per resolution, transitions between."""
  return 2 * num_resolutions - 1


def get_stage_ids(started_stage_ids, num_resolutions):
  """Stage ids still to train: from the last started stage (or 0) on.

  Args:
    started_stage_ids: ids of the run's `stage_NNNNN` folders
      (`run_dir.Run.stage_ids()`; Magenta passes `train_root_dir` and lists
      it itself).
    num_resolutions: as in hparams.

  The last existing stage is trained again because it may be unfinished; its
  checkpoint makes that a resume. Magenta counts the `stage_*` folders
  instead of reading the highest id: the same for folders made one after
  another, but a converted Magenta checkpoint holds only its last stage's
  folder, which Magenta's count would take for stage 0 (so every earlier
  stage would be trained again from scratch before resuming it).
  """
  started = sorted(started_stage_ids)
  start_stage_id = started[-1] if started else 0
  return list(range(start_stage_id, get_total_num_stages(num_resolutions)))


def get_batch_size(stage_id, batch_size_schedule, num_resolutions):
  """Batch size of stage `stage_id`.

  `batch_size_schedule` has one entry per resolution; a shorter list is padded
  at the front with its first entry (so the last entries are the highest
  resolutions). A transition stage uses the batch size of the resolution it
  grows into.
  """
  schedule = list(batch_size_schedule)
  if not schedule:
    raise ValueError('batch_size_schedule must not be empty')
  if len(schedule) < num_resolutions:
    schedule = [schedule[0]] * (num_resolutions - len(schedule)) + schedule
  return int(schedule[(stage_id + 1) // 2])


def get_stage_info(stage_id, num_resolutions, stable_stage_num_images,
                   transition_stage_num_images, total_num_images):
  """(num_blocks, num_images) of stage `stage_id`.

  num_images is the cumulative image count at which the stage ends; the last
  stage always ends at `total_num_images`, and no stage ends later.

  Raises:
    ValueError: stage_id is not in [0, total number of stages).
  """
  total_num_stages = get_total_num_stages(num_resolutions)
  if not 0 <= stage_id < total_num_stages:
    raise ValueError(f'stage_id must be in [0, {total_num_stages}), got '
                     f'{stage_id}')
  num_blocks = (stage_id + 1) // 2 + 1
  num_images = ((stage_id // 2 + 1) * stable_stage_num_images +
                ((stage_id + 1) // 2) * transition_stage_num_images)
  if stage_id == total_num_stages - 1:
    num_images = total_num_images
  return num_blocks, min(num_images, total_num_images)


class TrainingSchedule:
  """Magenta's per-stage training plan from its hyperparameters, in one object.

  Hyperparameter names are Magenta's; `from_hparams(hp)` takes an
  `hparams.HParams`.
  """

  def __init__(self, num_resolutions=7, stable_stage_num_images=800000,
               transition_stage_num_images=800000, total_num_images=11000000,
               batch_size_schedule=(8,), train_progressive=True,
               train_time_limit=None, train_time_stage_multiplier=1.0):
    self.num_resolutions = num_resolutions
    self.stable_stage_num_images = stable_stage_num_images
    self.transition_stage_num_images = transition_stage_num_images
    self.total_num_images = total_num_images
    self.batch_size_schedule = list(batch_size_schedule)
    self.train_progressive = train_progressive
    self.train_time_limit = train_time_limit
    self.train_time_stage_multiplier = train_time_stage_multiplier

  HPARAMS = ('num_resolutions', 'stable_stage_num_images',
              'transition_stage_num_images', 'total_num_images',
              'batch_size_schedule', 'train_progressive', 'train_time_limit',
              'train_time_stage_multiplier')

  @classmethod
  def from_hparams(cls, hp):
    """From an `hparams.HParams` (Magenta's flat names)."""
    return cls(**hparams_lib.pick(hp, cls.HPARAMS))

  @property
  def num_stages(self):
    return get_total_num_stages(self.num_resolutions)

  def stage_ids(self, started_stage_ids):
    """Magenta's `get_stage_ids`: the last started stage and all after it."""
    return get_stage_ids(started_stage_ids, self.num_resolutions)

  def stages_to_train(self, started_stage_ids):
    """The stages a training run goes through (Magenta's `run`), given the
    ids of the stage folders that exist.

    Without progressive training only the last stage (all blocks) is trained.
    """
    stage_ids = self.stage_ids(started_stage_ids)
    return stage_ids if self.train_progressive else stage_ids[-1:]

  def batch_size(self, stage_id):
    return get_batch_size(stage_id, self.batch_size_schedule,
                          self.num_resolutions)

  def stage_info(self, stage_id):
    """(num_blocks, num_images) as `get_stage_info`."""
    return get_stage_info(stage_id, self.num_resolutions,
                          self.stable_stage_num_images,
                          self.transition_stage_num_images,
                          self.total_num_images)

  def num_blocks(self, stage_id):
    return self.stage_info(stage_id)[0]

  def num_images(self, stage_id, started_stage_ids=None):
    """Cumulative image count at which stage `stage_id` stops.

    With `train_progressive=False` Magenta trains the full network once and
    stops after the SUM of the stage ends of all stage ids still to train
    (`get_stage_ids` of the started stages); that quirk is kept.
    """
    if self.train_progressive:
      return self.stage_info(stage_id)[1]
    if started_stage_ids is None:
      raise ValueError('train_progressive=False needs the started stage ids '
                       'to count the stages still to train')
    return sum(self.stage_info(s)[1]
               for s in self.stage_ids(started_stage_ids))

  def stage_times(self):
    """Cumulative stage end times (seconds), or None without a time limit."""
    if self.train_time_limit is None:
      return None
    return stage_times(self.train_time_limit,
                       self.train_time_stage_multiplier, self.num_resolutions)

  def stage_train_time_limit(self, stage_id):
    """Train time (s) at which stage `stage_id` stops, or None (image-limited)."""
    times = self.stage_times()
    return None if times is None else float(times[stage_id])

  def progress(self, stage_id, current_image_id, train_time=0.0):
    """Progress (float32 scalar tensor) of stage `stage_id`.

    From the image count, from the train time when `train_time_limit` is set,
    and fixed at the maximum `num_blocks - 1` without progressive training.
    """
    num_blocks = self.num_blocks(stage_id)
    if not self.train_progressive:
      return tf.constant(num_blocks - 1.0)
    if self.train_time_limit is not None:
      return compute_progress_from_time(train_time, self.num_resolutions,
                                        num_blocks, self.stage_times())
    return compute_progress(current_image_id, self.stable_stage_num_images,
                            self.transition_stage_num_images, num_blocks)
