"""Tests for run_dir: the run folder's names, read by training, import and
evaluation alike."""
import json
import os
import pathlib

import pytest
import tensorflow as tf

from gansynth_tf2 import run_dir
from gansynth_tf2 import train

TINY_GIN = pathlib.Path(__file__).parent / 'data' / 'train_tiny.gin'


def test_stage_dirs_round_trip_and_other_folders_are_ignored(tmp_path):
  assert run_dir.Run(tmp_path / 'missing').stage_ids() == []
  for stage_id in (12, 4, 0):
    path = run_dir.Run(tmp_path).stage_dir(stage_id)
    assert path == str(tmp_path / f'stage_{stage_id:05d}')
    tf.io.gfile.makedirs(path)
  (tmp_path / 'stage_notes').mkdir()
  (tmp_path / 'stage_0001').mkdir()  # four digits: not Magenta's name
  (tmp_path / 'stage_00007.txt').write_text('')
  assert run_dir.Run(tmp_path).stage_ids() == [0, 4, 12]


def test_read_experiment(tmp_path):
  (tmp_path / run_dir.EXPERIMENT_JSON).write_text(json.dumps({'fmap_max': 8}))
  assert run_dir.Run(tmp_path).read_experiment() == {'fmap_max': 8}


@pytest.mark.parametrize('text,expected', [
    ('{"fmap_max": 8', 'is not valid JSON'),
    ('[1, 2]', 'must hold a JSON object'),
])
def test_read_experiment_names_a_broken_file(tmp_path, text, expected):
  (tmp_path / run_dir.EXPERIMENT_JSON).write_text(text)
  with pytest.raises(ValueError) as info:
    run_dir.Run(tmp_path).read_experiment()
  assert str(tmp_path / 'experiment.json') in str(info.value)
  assert expected in str(info.value)


def test_variable_key_is_where_tf_stores_a_root_attribute(tmp_path):
  root = tf.train.Checkpoint(image_id=tf.Variable(7, dtype=tf.int64))
  prefix = root.save(str(tmp_path / 'ckpt'))
  reader = tf.train.load_checkpoint(prefix)
  assert reader.get_tensor(run_dir.variable_key('image_id')) == 7


def test_last_stage_without_a_usable_checkpoint_state_file(tmp_path):
  """Run.pick: with no `checkpoint` state file, or one
  naming the training machine's absolute paths, the stage's newest
  checkpoint (highest number, not the latest written, not the name's sort
  order) is taken from its *.index files."""
  run = run_dir.Run(tmp_path)
  stage = run.stage_dir(3)
  tf.io.gfile.makedirs(stage)
  tf.io.gfile.makedirs(run.stage_dir(1))
  root = tf.train.Checkpoint(image_id=tf.Variable(0, dtype=tf.int64))
  # Written newest-number first, so neither mtime nor 'ckpt-10' < 'ckpt-9'
  # (string order) picks the right one.
  for number in (10, 9, 2):
    root.image_id.assign(number)
    root.write(f'{stage}/ckpt-{number}')  # write(): no state file
  state = os.path.join(stage, 'checkpoint')
  assert not os.path.exists(state)
  assert tf.train.latest_checkpoint(stage) is None  # the case under test
  assert run.checkpoints(3) == [
      f'{stage}/ckpt-{n}' for n in (2, 9, 10)]
  want = (3, f'{stage}/ckpt-10')
  assert run.pick() == want
  assert run.pick(stage_id=3) == want
  # A state file of another machine: its paths do not exist here.
  with open(state, 'w') as f:
    f.write('model_checkpoint_path: "/train/machine/stage_00003/ckpt-9"\n'
            'all_model_checkpoint_paths: "/train/machine/stage_00003/ckpt-9"\n')
  assert tf.train.latest_checkpoint(stage) is None
  assert run.pick() == want
  # A usable state file wins over the numbers.
  with open(state, 'w') as f:
    f.write('model_checkpoint_path: "ckpt-9"\n')
  assert run.pick() == (
      3, f'{stage}/ckpt-9')
  # The prefix found restores.
  back = tf.train.Checkpoint(image_id=tf.Variable(0, dtype=tf.int64))
  back.read(want[1]).assert_consumed()
  assert int(back.image_id.numpy()) == 10
  # No checkpoint at all in the chosen stage: a clear error.
  with pytest.raises(run_dir.CheckpointError,
                     match=r'stage_00001 holds no checkpoint \(\*\.index\)'):
    run.pick(stage_id=1)


def test_experiment_json_written_then_accepted_again(tmp_path):
  hp = train.hparams_from_gin_files([str(TINY_GIN)])
  run_dir.Run(tmp_path).write_experiment(hp)
  with open(tmp_path / 'experiment.json') as f:
    assert json.load(f) == hp.as_dict()
  # Same config (tuples vs lists, ints vs floats do not matter), and keys
  # that do not change the model (where the data lives) may differ.
  again = hp.replace(fmap_decay=1, train_data_path='/elsewhere')
  run_dir.Run(tmp_path).write_experiment(again)
  # Fine-tuning on other data and training the last stage for longer are
  # allowed; the new values are recorded.
  longer = hp.replace(dataset_name='mine', pitch_counts={'60': 3},
                      total_num_images=hp.total_num_images + 8)
  run_dir.Run(tmp_path).write_experiment(longer)
  assert run_dir.Run(tmp_path).read_experiment()['dataset_name'] == 'mine'
  assert not [p for p in os.listdir(tmp_path) if '.tmp' in p]


def test_conflicting_config_is_refused_with_a_diff(tmp_path):
  hp = train.hparams_from_gin_files([str(TINY_GIN)])
  run_dir.Run(tmp_path).write_experiment(hp)
  other = hp.replace(fmap_max=16, generator_learning_rate=1e-4)
  with pytest.raises(run_dir.ConfigConflictError) as err:
    run_dir.Run(tmp_path).write_experiment(other)
  message = str(err.value)
  print(message)
  assert 'fmap_max: 8 in train_dir, 16 now' in message
  assert 'generator_learning_rate: 0.0008 in train_dir, 0.0001 now' in message
  assert 'fmap_base' not in message
  # The refused config did not overwrite the original.
  assert run_dir.Run(tmp_path).read_experiment()['fmap_max'] == 8


# ---------------------------------------------------------------------------
# One trainer per run folder (Run.lock).


def test_lock_refuses_a_second_holder_and_names_the_first(tmp_path):
  run = run_dir.Run(str(tmp_path / 'run'))
  with run.lock() as holder:
    assert holder['pid'] == os.getpid()
    with pytest.raises(run_dir.RunLockedError) as error:
      with run_dir.Run(run.path).lock():
        pass
    message = str(error.value)
    assert message.startswith(f'{run.path} is being trained by PID '
                              f'{os.getpid()} on host {holder["host"]} since ')
    assert 'one trainer per run folder' in message
  # Released at the end of the block.
  with run.lock():
    pass


def test_lock_of_a_failed_start_leaves_no_folder(tmp_path):
  run = run_dir.Run(str(tmp_path / 'new'))
  with pytest.raises(ValueError):
    with run.lock():
      raise ValueError('bad config')
  assert not os.path.exists(run.path)


_HOLDER = '''
import sys, time
from gansynth_tf2 import run_dir
with run_dir.Run(sys.argv[1]).lock():
  print('locked', flush=True)
  time.sleep(600)
'''


def test_second_trainer_stops_at_once_and_kill_9_leaves_no_stale_lock(
    tmp_path, run_main):
  import signal  # pylint: disable=import-outside-toplevel
  import subprocess  # pylint: disable=import-outside-toplevel
  import sys  # pylint: disable=import-outside-toplevel
  train_dir = tmp_path / 'run'
  holder = subprocess.Popen([sys.executable, '-c', _HOLDER, str(train_dir)],
                            stdout=subprocess.PIPE, text=True)
  try:
    assert holder.stdout.readline().strip() == 'locked'
    result = run_main(train, [f'--gin_file={TINY_GIN}',
                              f'--train_dir={train_dir}'])
    errors = [line for line in result.stdout.splitlines()
              if line.startswith('ERROR: ')]
    assert result.returncode == 1, result.stdout[-2000:]
    assert len(errors) == 1 and errors[0].startswith(
        f'ERROR: {train_dir} is being trained by PID {holder.pid} on host '), (
            errors)
    # Nothing written: the folder holds only the first trainer's lock.
    assert os.listdir(train_dir) == [run_dir.LOCK_FILE]
  finally:
    holder.send_signal(signal.SIGKILL)
    holder.wait()
  # The kernel released the dead holder's lock: the next trainer gets it.
  with run_dir.Run(str(train_dir)).lock() as mine:
    assert mine['pid'] == os.getpid()
