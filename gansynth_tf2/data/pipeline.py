"""The training input pipeline: notes -> shuffled batches in the model's representation.

Waves are batched first and converted batch-wise (one STFT call per batch),
in parallel with the training step, then prefetched; tools/bench_data.py
measures it against what a training step consumes. The output is in data
space (not normalized), as the discriminator normalizes its inputs itself,
like Magenta's.
"""
import tensorflow as tf

from gansynth_tf2 import specgrams


def provide_batches(dataset, batch_size, data_type='mel',
                    spec_shape=(128, 1024), sample_rate=16000,
                    shuffle_buffer=1000, repeat=True, cache=False, seed=None,
                    data_helper=None, shard=None):
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

  Returns:
    tf.data.Dataset of (data [batch_size, H, W, 2] float32,
    one_hot [batch_size, num_pitches] float32), with H, W = spec_shape for
    spectrograms and [65536, 1] for 'wave'.
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
  if shuffle_buffer:
    ds = ds.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
  if repeat:
    ds = ds.repeat()
  ds = ds.batch(batch_size, drop_remainder=True)
  # The transforms are plain tensor code; converting them with autograph
  # only costs trace time (seconds per stage at 128x1024).
  convert = tf.autograph.experimental.do_not_convert(
      lambda waves, labels: (helper.waves_to_data(waves), labels))
  ds = ds.map(convert, num_parallel_calls=tf.data.AUTOTUNE)
  return ds.prefetch(tf.data.AUTOTUNE)
