"""The training pipeline: batches in each representation, equal to converting by hand."""
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


def test_bad_arguments(dataset):
  with pytest.raises(ValueError, match='batch_size'):
    pipeline.provide_batches(dataset, 0)
  with pytest.raises(ValueError, match='data_type'):
    pipeline.provide_batches(dataset, 2, data_type='ifmel')


def test_fake_labels_match_data_pitches(dataset):
  labels = dataset.provide_one_hot_labels(200, seed=0)
  assert labels.dtype == tf.float32
  assert set(labels.numpy().argmax(1) + 24) == set(PITCHES)
