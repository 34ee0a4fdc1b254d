"""Tests for run_dir: the run folder's names, read by training, import and
evaluation alike."""
import json
import os

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


def test_last_stage_without_a_usable_checkpoint_state_file(tmp_path):
  """magenta_checkpoint.last_stage: with no `checkpoint` state file, or one
  naming the training machine's absolute paths, the stage's newest
  checkpoint (highest number, not the latest written, not the name's sort
  order) is taken from its *.index files."""
  # pylint: disable=import-outside-toplevel
  from gansynth_tf2 import magenta_checkpoint
  stage = run_dir.stage_dir(str(tmp_path), 3)
  tf.io.gfile.makedirs(stage)
  tf.io.gfile.makedirs(run_dir.stage_dir(str(tmp_path), 1))
  root = tf.train.Checkpoint(image_id=tf.Variable(0, dtype=tf.int64))
  # Written newest-number first, so neither mtime nor 'ckpt-10' < 'ckpt-9'
  # (string order) picks the right one.
  for number in (10, 9, 2):
    root.image_id.assign(number)
    root.write(f'{stage}/ckpt-{number}')  # write(): no state file
  state = os.path.join(stage, 'checkpoint')
  assert not os.path.exists(state)
  assert tf.train.latest_checkpoint(stage) is None  # the case under test
  assert magenta_checkpoint.stage_checkpoints(str(tmp_path), 3) == [
      f'{stage}/ckpt-{n}' for n in (2, 9, 10)]
  want = (3, f'{stage}/ckpt-10')
  assert magenta_checkpoint.last_stage(str(tmp_path)) == want
  assert magenta_checkpoint.last_stage(str(tmp_path), stage_id=3) == want
  # A state file of another machine: its paths do not exist here.
  with open(state, 'w') as f:
    f.write('model_checkpoint_path: "/train/machine/stage_00003/ckpt-9"\n'
            'all_model_checkpoint_paths: "/train/machine/stage_00003/ckpt-9"\n')
  assert tf.train.latest_checkpoint(stage) is None
  assert magenta_checkpoint.last_stage(str(tmp_path)) == want
  # A usable state file wins over the numbers.
  with open(state, 'w') as f:
    f.write('model_checkpoint_path: "ckpt-9"\n')
  assert magenta_checkpoint.last_stage(str(tmp_path)) == (
      3, f'{stage}/ckpt-9')
  # The prefix found restores.
  back = tf.train.Checkpoint(image_id=tf.Variable(0, dtype=tf.int64))
  back.read(want[1]).assert_consumed()
  assert int(back.image_id.numpy()) == 10
  # No checkpoint at all in the chosen stage: a clear error.
  with pytest.raises(magenta_checkpoint.CheckpointError,
                     match=r'stage_00001 holds no checkpoint \(\*\.index\)'):
    magenta_checkpoint.last_stage(str(tmp_path), stage_id=1)
