"""The training input pipeline: notes -> shuffled batches in the model's representation.

A training run's order is resumable: with `start_position` the notes come
epoch by epoch, each epoch shuffled with a seed of its own (the run's seed
and the epoch number), and every batch says where the run is (`position`:
epoch * 2**32 + notes of that epoch drawn). A checkpoint keeps the position
of the last batch trained on; the resumed pipeline starts at that epoch and
skips the notes already drawn (reading them again, but not converting them:
at most one epoch's reading), so it yields exactly what the uninterrupted run
would have. No shuffle buffer is checkpointed.

Waves are batched first and converted batch-wise (one STFT call per batch),
in parallel with the training step, then prefetched; tools/bench_data.py
measures it against what a training step consumes. The output is in data
space (not normalized), as the discriminator normalizes its inputs itself,
like Magenta's.
"""
import tensorflow as tf

from gansynth_tf2 import specgrams

# A position is epoch * EPOCH_STRIDE + notes of that epoch drawn so far.
EPOCH_STRIDE = 2**32
# Epoch e of a seeded order is shuffled with seed + e * EPOCH_SEED_STEP.
EPOCH_SEED_STEP = 1000003


def split_position(position):
  """(epoch, notes of that epoch drawn) of a position."""
  return divmod(int(position), EPOCH_STRIDE)


def provide_batches(dataset, batch_size, data_type='mel',
                    spec_shape=(128, 1024), sample_rate=16000,
                    shuffle_buffer=1000, repeat=True, cache=False, seed=None,
                    data_helper=None, shard=None, start_position=None):
  """Batches of a dataset in one representation, ready for a training step.

  Args:
    dataset: a NotesDataset (anything with `provide_dataset()` yielding
      (wave [audio_length, 1], one_hot [num_pitches])).
    batch_size: notes per batch; incomplete last batches are dropped so every
      batch has a static shape.
    data_type: Magenta's representation name: 'mel' (IF-Mel), 'linear' (IF),
      'phase' or 'wave'.
    spec_shape: [height, width] of the spectrograms.
    sample_rate: Hz.
    shuffle_buffer: notes in the shuffle buffer; 0 disables shuffling.
    repeat: repeat forever (training) or one pass (evaluation).
    cache: False, True (cache the decoded waves in memory; ~256 KB a note) or
      a file path prefix (cache on disk). The representation is not cached:
      a spectrogram is 4x the size of its wave.
    seed: shuffle seed.
    data_helper: a specgrams.DataHelper to use instead of making one.
    shard: (num_shards, index): keep every num_shards-th note from `index`
      on, before shuffling (one shard per worker of a cluster).
    start_position: None, or the resumable order (see the module docstring)
      from this position on (0: a run's start); needs `repeat`. Each epoch
      is shuffled by `seed + epoch * EPOCH_SEED_STEP` (unseeded if `seed` is
      None), and the batches gain a third element.

  Returns:
    tf.data.Dataset of (data [batch_size, H, W, 2] float32,
    one_hot [batch_size, num_pitches] float32), with H, W = spec_shape for
    spectrograms and [65536, 1] for 'wave'; with `start_position`, also
    position [batch_size] int64: the run's position after each note.
  """
  if batch_size < 1:
    raise ValueError(f'batch_size must be >= 1, got {batch_size}.')
  helper = data_helper or specgrams.make_data_helper(
      data_type, audio_length=dataset.audio_length, sample_rate=sample_rate,
      spec_shape=tuple(spec_shape))
  ds = dataset.provide_dataset()
  if shard is not None:
    num_shards, index = shard
    if not 0 <= index < num_shards:
      raise ValueError(f'shard index {index} not in [0, {num_shards})')
    if num_shards > 1:
      ds = ds.shard(num_shards, index)
  if cache:
    ds = ds.cache(cache if isinstance(cache, str) else '')
  if start_position is not None:
    if not repeat:
      raise ValueError('start_position needs repeat=True (a training order)')
    ds = _epochs_from(ds, start_position, shuffle_buffer, seed)
  else:
    if shuffle_buffer:
      ds = ds.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
    if repeat:
      ds = ds.repeat()
  ds = ds.batch(batch_size, drop_remainder=True)
  # The transforms are plain tensor code; converting them with autograph
  # only costs trace time (seconds per stage at 128x1024).
  convert = tf.autograph.experimental.do_not_convert(
      lambda waves, labels, *position: (helper.waves_to_data(waves), labels,
                                        *position))
  ds = ds.map(convert, num_parallel_calls=tf.data.AUTOTUNE)
  return ds.prefetch(tf.data.AUTOTUNE)


def _epochs_from(notes, start_position, shuffle_buffer, seed):
  """Epochs of `notes` from `start_position` on, as (wave, label, position)."""
  if int(start_position) < 0:
    raise ValueError(f'start_position must be >= 0, got {start_position}')
  first_epoch, drawn = split_position(start_position)
  first_epoch = tf.constant(first_epoch, tf.int64)
  drawn = tf.constant(drawn, tf.int64)

  def epoch(e):
    # This function's graph seed: the shuffle seeds are then (1, epoch
    # seed), whatever the process's global seed (a global seed of 0 would
    # also break TF's seed check on a tensor op seed).
    tf.random.set_seed(1)
    order = notes
    if shuffle_buffer:
      epoch_seed = None if seed is None else int(seed) + e * EPOCH_SEED_STEP
      order = order.shuffle(shuffle_buffer, seed=epoch_seed,
                            reshuffle_each_iteration=False)
    order = order.enumerate()
    # The first epoch resumes after the notes a checkpoint already trained on.
    order = order.skip(tf.where(e == first_epoch, drawn,
                                tf.constant(0, tf.int64)))
    return order.map(lambda i, note: (note[0], note[1],
                                      e * EPOCH_STRIDE + i + 1))

  return tf.data.Dataset.range(first_epoch, EPOCH_STRIDE).flat_map(
      tf.autograph.experimental.do_not_convert(epoch))
