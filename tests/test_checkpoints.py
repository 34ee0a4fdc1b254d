"""Tests for gansynth_tf2.checkpoints: experiment.json conflicts, atomic
writes, and the stage-to-stage restore of the real training networks."""
import os
import pathlib
import re

import numpy as np
import pytest
import tensorflow as tf

from gansynth_tf2 import run_dir
from gansynth_tf2 import schedule
from gansynth_tf2 import train
from gansynth_tf2 import trainer as trainer_lib
from gansynth_tf2.data import default

TINY_GIN = pathlib.Path(__file__).parent / 'data' / 'train_tiny.gin'




@pytest.fixture(scope='module')
def two_stages(tmp_path_factory):
  """Trains stage 0 for one step, saves, then builds and restores stage 1."""
  train_dir = str(tmp_path_factory.mktemp('train'))
  hp = train.hparams_from_gin_files([str(TINY_GIN)]).replace(
      train_root_dir=train_dir)
  run_dir.Run(train_dir).write_experiment(hp)
  sched = schedule.TrainingSchedule.from_hparams(hp)
  dataset = default.DefaultDataset()
  strategy = tf.distribute.get_strategy()
  stage0 = trainer_lib.StageTrainer(0, hp, sched, train_dir, dataset, strategy)
  assert stage0.restore() == 'fresh start'
  batches = stage0.real_batches()
  for _ in range(2):
    stage0.run_step(*next(batches))
  path0 = stage0.checkpoint.save()
  stage1 = trainer_lib.StageTrainer(1, hp, sched, train_dir, dataset, strategy)
  origin = stage1.restore()
  return stage0, stage1, path0, origin


def _by_name(model):
  return {v.path.split('/', 1)[1]: v.numpy() for v in model.variables}


def test_new_stage_restores_old_blocks_and_keeps_new_block_fresh(two_stages):
  stage0, stage1, path0, origin = two_stages
  assert origin == f'started from {path0}'
  assert int(stage1.image_id.numpy()) == int(stage0.image_id.numpy()) == 4
  assert float(stage1.train_time.numpy()) == float(
      stage0.train_time.numpy()) > 0
  for name in ('generator', 'ema_generator', 'discriminator'):
    old = _by_name(getattr(stage0, name))
    new = _by_name(getattr(stage1, name))
    restored = [k for k in old if k in new]
    assert len(restored) == len(old), f'{name}: {set(old) - set(new)}'
    for k in restored:
      np.testing.assert_array_equal(new[k], old[k], err_msg=f'{name}/{k}')
    fresh = [k for k in new if k not in old]
    assert any('progressive_gan_block_2' in k for k in fresh), fresh
    assert all('progressive_gan_block_2' in k for k in fresh), fresh


def test_new_stage_ema_of_new_block_starts_at_raw_weights(two_stages):
  _, stage1, _, _ = two_stages
  raw = _by_name(stage1.generator)
  ema = _by_name(stage1.ema_generator)
  new_block = [k for k in raw if 'progressive_gan_block_2' in k]
  assert new_block
  for k in new_block:
    np.testing.assert_array_equal(ema[k], raw[k])


def test_new_stage_resets_optimizers(two_stages):
  stage0, stage1, _, _ = two_stages
  for name in ('generator_optimizer', 'discriminator_optimizer'):
    assert int(getattr(stage0, name).iterations.numpy()) == 2
    opt = getattr(stage1, name)
    assert int(opt.iterations.numpy()) == 0
    for v in opt.variables:
      if 'momentum' in v.path or 'velocity' in v.path:
        assert not np.any(v.numpy()), v.path


def test_resume_restores_everything_of_the_stage(two_stages, tmp_path):
  stage0, stage1, _, _ = two_stages
  path1 = stage1.checkpoint.save()
  hp = stage1.hp
  sched = schedule.TrainingSchedule.from_hparams(hp)
  again = trainer_lib.StageTrainer(1, hp, sched, stage1.train_dir, stage1.dataset,
                             tf.distribute.get_strategy())
  assert again.restore() == f'resumed {path1}'
  for name in ('generator', 'ema_generator', 'discriminator'):
    a, b = _by_name(getattr(stage1, name)), _by_name(getattr(again, name))
    assert a.keys() == b.keys()
    for k in a:
      np.testing.assert_array_equal(a[k], b[k])
  assert run_dir.Run(stage1.train_dir).stages_with_checkpoints() == [0, 1]
  assert run_dir.read_scalar(path1, 'image_id') == 4
  del stage0, tmp_path


def test_checkpoint_layout_matches_contract(two_stages):
  """Each root attribute of the layout (checkpoints.py) restores on its own, as
  load_model does.

  Variable keys are not checked: TF names each variable by its shortest path
  in the object graph, which for trained weights runs through the optimizer
  (`generator_optimizer/_trainable_variables/N`); restoring follows the
  graph's edges, so `generator` still finds them.
  """
  stage0, _, path0, _ = two_stages
  keys = {name.split('/')[0] for name, _ in tf.train.list_variables(path0)}
  assert {'image_id', 'train_time', '_CHECKPOINTABLE_OBJECT_GRAPH'} <= keys
  reader = tf.train.load_checkpoint(path0)
  dtypes = reader.get_variable_to_dtype_map()
  assert dtypes['image_id/.ATTRIBUTES/VARIABLE_VALUE'] == tf.int64
  assert dtypes['train_time/.ATTRIBUTES/VARIABLE_VALUE'] == tf.float64
  assert os.path.basename(os.path.dirname(path0)) == 'stage_00000'
  hp = stage0.hp
  sched = schedule.TrainingSchedule.from_hparams(hp)
  fresh = trainer_lib.StageTrainer(0, hp, sched, stage0.train_dir + '_other',
                             stage0.dataset, tf.distribute.get_strategy())
  for name in ('generator', 'ema_generator', 'discriminator'):
    root = tf.train.Checkpoint(**{name: getattr(fresh, name)})
    root.restore(path0).expect_partial().assert_existing_objects_matched()
    a, b = _by_name(getattr(stage0, name)), _by_name(getattr(fresh, name))
    for k in a:
      np.testing.assert_array_equal(a[k], b[k], err_msg=f'{name}/{k}')


def test_an_unreadable_latest_checkpoint_falls_back_to_the_one_before(
    tmp_path, run_main):
  """Issue 24: a latest checkpoint whose data file is damaged (truncated, as
  a failing disk leaves it) is passed over for the one before it, saying
  so; training resumes from there and the next save replaces it."""
  small = pathlib.Path(__file__).parent / 'data' / 'train_small.gin'
  train_dir = tmp_path / 'run'
  args = [f'--gin_file={small}', f'--train_dir={train_dir}']
  first = run_main(train, args + ['--gin_param=train.stop_after_images=2'])
  assert first.returncode == 0, first.stdout[-3000:]
  run = run_dir.Run(str(train_dir))
  before, latest = run.checkpoints(0)[-2:]
  assert run.latest_checkpoint(0) == latest
  data = latest + '.data-00000-of-00001'
  with open(data, 'r+b') as f:
    f.truncate(os.path.getsize(data) // 2)
  again = run_main(train, args + ['--gin_param=train.stop_after_images=4'])
  out = again.stdout
  assert again.returncode == 0, out[-3000:]
  assert f'WARNING: checkpoint {latest} cannot be read (' in out
  assert (f'Resuming from {before}, the last readable checkpoint of stage 0 '
          f'(the latest, {latest}, cannot be read)') in out
  assert re.search(rf'^Stage 0: .* image_id (\d+) -> \d+; resumed {before}$',
                   out, re.M), out[-3000:]
  # The run went on to its stop and its latest checkpoint reads.
  assert int(run_dir.read_scalar(run.latest_checkpoint(0), 'image_id')) == 4
