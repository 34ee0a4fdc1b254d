"""Tests for run_dir: the run folder's names, read by training, import and
evaluation alike."""
import json

import pytest
import tensorflow as tf

from gansynth_tf2 import run_dir


def test_stage_dirs_round_trip_and_other_folders_are_ignored(tmp_path):
  assert run_dir.stage_dir_ids(str(tmp_path / 'missing')) == []
  for stage_id in (12, 4, 0):
    path = run_dir.stage_dir(str(tmp_path), stage_id)
    assert path == str(tmp_path / f'stage_{stage_id:05d}')
    tf.io.gfile.makedirs(path)
  (tmp_path / 'stage_notes').mkdir()
  (tmp_path / 'stage_0001').mkdir()  # four digits: not Magenta's name
  (tmp_path / 'stage_00007.txt').write_text('')
  assert run_dir.stage_dir_ids(str(tmp_path)) == [0, 4, 12]


def test_read_experiment(tmp_path):
  (tmp_path / run_dir.EXPERIMENT_JSON).write_text(json.dumps({'fmap_max': 8}))
  assert run_dir.read_experiment(str(tmp_path)) == {'fmap_max': 8}


@pytest.mark.parametrize('text,expected', [
    ('{"fmap_max": 8', 'is not valid JSON'),
    ('[1, 2]', 'must hold a JSON object'),
])
def test_read_experiment_names_a_broken_file(tmp_path, text, expected):
  (tmp_path / run_dir.EXPERIMENT_JSON).write_text(text)
  with pytest.raises(ValueError) as info:
    run_dir.read_experiment(str(tmp_path))
  assert str(tmp_path / 'experiment.json') in str(info.value)
  assert expected in str(info.value)


def test_variable_key_is_where_tf_stores_a_root_attribute(tmp_path):
  root = tf.train.Checkpoint(image_id=tf.Variable(7, dtype=tf.int64))
  prefix = root.save(str(tmp_path / 'ckpt'))
  reader = tf.train.load_checkpoint(prefix)
  assert reader.get_tensor(run_dir.variable_key('image_id')) == 7
