"""The training pipeline: batches in each representation.

The mel batches are checked against Magenta's own conversion of the same
notes (the oracle's real images); the other representations against our
helper applied by hand, which checks the batching (order, shapes, labels,
dropped remainder), not the transforms (tests/test_specgrams.py does).
"""
import numpy as np
import pytest
import tensorflow as tf

from gansynth_tf2 import specgrams
from gansynth_tf2.data import nsynth
from gansynth_tf2.data import pipeline
from gansynth_tf2.data import records
from gansynth_tf2.data import synth

PITCHES = (30, 45, 60, 72, 84)


@pytest.fixture(scope='module')
def dataset(tmp_path_factory):
  out = tmp_path_factory.mktemp('notes')
  notes = [({'pitch': p, 'instrument_source': 2},
            records.make_example(synth.synthesize('pluck', p), p, 100,
                                 'pluck', instrument_source=2))
           for p in PITCHES]
  records.write_dataset(str(out), notes, [])
  return nsynth.PreparedDataset(str(out))


@pytest.mark.parametrize('data_type', ['mel', 'phase', 'wave'])
def test_batches_equal_direct_conversion(dataset, data_type):
  batches = list(pipeline.provide_batches(
      dataset, 2, data_type=data_type, shuffle_buffer=0, repeat=False))
  assert len(batches) == 2  # the fifth note is dropped: static batch shape
  helper = specgrams.make_data_helper(data_type)
  waves = np.stack([w for w, _ in dataset.provide_dataset()])
  for i, (data, labels) in enumerate(batches):
    assert data.shape == (2,) + helper.data_shape
    assert labels.shape == (2, 61)
    np.testing.assert_array_equal(labels.numpy().argmax(1) + 24,
                                  PITCHES[2 * i:2 * i + 2])
    want = helper.waves_to_data(waves[2 * i:2 * i + 2])
    np.testing.assert_allclose(data.numpy(), want.numpy(), atol=1e-5)


def test_shuffle_repeat_and_cache(dataset):
  ds = pipeline.provide_batches(dataset, 5, data_type='wave', seed=3,
                                cache=True)
  seen = []
  for _, labels in ds.take(3):
    pitches = labels.numpy().argmax(1) + 24
    assert sorted(pitches) == sorted(PITCHES)  # each epoch is every note
    seen.append(tuple(pitches))
  assert len(set(seen)) > 1  # reshuffled between epochs


def _positioned(dataset, start, seed=5, batches=6):
  ds = pipeline.provide_batches(dataset, 2, data_type='wave', seed=seed,
                                shuffle_buffer=5, start_position=start)
  out = []
  for _, labels, position in ds.take(batches):
    out.append((tuple(labels.numpy().argmax(1) + 24), int(position[-1])))
  return out


def test_resumable_order_continues_from_any_position(dataset):
  # Epochs of 5 notes in batches of 2: batches straddle epochs.
  run = _positioned(dataset, 0, batches=8)
  notes = [p for pitches, _ in run for p in pitches]
  for epoch in range(3):
    assert sorted(notes[5 * epoch:5 * epoch + 5]) == sorted(PITCHES)
  assert len({tuple(notes[0:5]), tuple(notes[5:10]), tuple(notes[10:15])}) > 1
  epochs = [pipeline.split_position(pos) for _, pos in run]
  assert epochs[:3] == [(0, 2), (0, 4), (1, 1)]  # note 5 ends epoch 0
  # Restarting at the position after any batch gives the batches after it,
  # as a resumed run reads on from its checkpoint's data position.
  for k in (0, 1, 2, 4):
    assert _positioned(dataset, run[k][1], batches=3) == run[k + 1:k + 4]
  # The same seed repeats the order; another seed gives another.
  assert _positioned(dataset, 0, batches=8) == run
  assert [p for p, _ in _positioned(dataset, 0, seed=6, batches=8)] != [
      p for p, _ in run]


def test_resumable_order_refuses_bad_use(dataset):
  with pytest.raises(ValueError, match='needs repeat'):
    pipeline.provide_batches(dataset, 2, start_position=0, repeat=False)
  with pytest.raises(ValueError, match='start_position must be >= 0'):
    pipeline.provide_batches(dataset, 2, start_position=-1)


def test_shards_split_the_notes_between_workers(dataset):
  # Each worker of a cluster reads every num_shards-th note from its index.
  seen = []
  for index in range(2):
    ds = pipeline.provide_batches(dataset, 1, data_type='wave', seed=1,
                                  repeat=False, shard=(2, index))
    seen.append(sorted(int(l.numpy().argmax(1)[0]) + 24 for _, l in ds))
  assert seen == [sorted(PITCHES[0::2]), sorted(PITCHES[1::2])]
  with pytest.raises(ValueError, match='shard index 2 not in'):
    pipeline.provide_batches(dataset, 1, shard=(2, 2))


def test_bad_arguments(dataset):
  with pytest.raises(ValueError, match='batch_size'):
    pipeline.provide_batches(dataset, 0)
  with pytest.raises(ValueError, match='data_type'):
    pipeline.provide_batches(dataset, 2, data_type='ifmel')


def test_fake_labels_match_data_pitches(dataset):
  labels = dataset.provide_one_hot_labels(200, seed=0)
  assert labels.dtype == tf.float32
  assert set(labels.numpy().argmax(1) + 24) == set(PITCHES)


def test_mel_batches_equal_magentas_conversion(tmp_path, oracle):
  """The oracle's three real notes written in the NSynth schema and read back
  through provide_batches give Magenta's waves_to_melspecgrams images (log
  magnitude within 1e-3 in every bin within 60 dB of its frame's peak)."""
  pitches = oracle['real_one_hot'].argmax(1) + 24
  notes = [({'pitch': int(p), 'instrument_source': 0},
            records.make_example(wave[:, 0], int(p), 100, f'real_{i}',
                                 instrument_source=0))
           for i, (wave, p) in enumerate(zip(oracle['real_waves'], pitches))]
  records.write_dataset(str(tmp_path / 'real'), notes, [])
  batches = list(pipeline.provide_batches(
      nsynth.PreparedDataset(str(tmp_path / 'real')), 3, data_type='mel',
      shuffle_buffer=0, repeat=False))
  assert len(batches) == 1
  data, labels = batches[0]
  np.testing.assert_array_equal(labels.numpy(), oracle['real_one_hot'])
  want = oracle['real_images'][..., 0]
  loud = want >= want.max(axis=-1, keepdims=True) - 3.0 * np.log(10.0)
  error = np.abs(data.numpy()[..., 0] - want)[loud].max()
  print(f'pipeline mel log magnitude vs Magenta: {error:.3g}')
  assert error <= 1e-3, error
