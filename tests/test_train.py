"""Tests for gansynth_tf2.train: the compiled step, and the command line under
kill -9, NaN losses and conflicting configs (tests/data/train_small.gin: the
paper's IF-Mel networks at 5 resolutions up to 32x512, 9 stages of 4 images).

The killed and resumed run starts the real command line (a process per run);
the other command-line tests call `train.main` in this process (the
`run_main` fixture, conftest.py), which saves a TensorFlow start each. The
paper configs' steps and the converted Magenta checkpoint train the full
7-resolution 128x1024 structure."""
import json
import os
import pathlib
import random
import re
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import soundfile
import tensorflow as tf

from gansynth_tf2 import hparams
from gansynth_tf2 import run_dir
from gansynth_tf2 import schedule
from gansynth_tf2 import train
from gansynth_tf2 import trainer as trainer_lib
from gansynth_tf2.data import default

REPO = pathlib.Path(__file__).resolve().parent.parent
DATA = pathlib.Path(__file__).parent / 'data'
SMALL_GIN = DATA / 'train_small.gin'
NUM_STAGES = 9  # 5 resolutions: 5 stable stages and 4 transitions
LAST_IMAGE = 36  # 4 images per stage
NOTE = 8192  # samples per note
# Stages 0..3 (the first transition, a new block, a stable stage) in the CLI
# tests: 4 images per stage at batch 2.
STOP_AFTER = 16


def cli_args(train_dir, *gin_params):
  return [f'--gin_file={SMALL_GIN}', f'--train_dir={train_dir}',
          f'--gin_param=train.stop_after_images={STOP_AFTER}'] + [
              f'--gin_param={p}' for p in gin_params]


def cli(train_dir, *gin_params):
  return [sys.executable, '-m', 'gansynth_tf2.train'] + cli_args(
      train_dir, *gin_params)


# In-process: the step function.


@pytest.fixture(scope='module')
def trainer(tmp_path_factory):
  hp = train.hparams_from_gin_files([str(SMALL_GIN)])
  train_dir = str(tmp_path_factory.mktemp('inproc'))
  sched = schedule.TrainingSchedule.from_hparams(hp)
  t = trainer_lib.StageTrainer(1, hp, sched, train_dir,
                               default.DefaultDataset(audio_length=NOTE),
                               tf.distribute.get_strategy())
  return t


def test_fresh_stage_needs_previous_stage(trainer):
  with pytest.raises(FileNotFoundError, match='no checkpoint of stage 0'):
    trainer.restore()


def test_one_trace_per_stage_and_ema_and_counter(trainer):
  trainer_lib.copy_weights(trainer.generator, trainer.ema_generator)
  trainer.image_id.assign(4)  # where stage 1 (the first transition) starts
  batches = trainer.real_batches()
  progresses = []
  for _ in range(3):
    ema_before = [v.numpy() for v in trainer.ema_generator.trainable_variables]
    image_id = int(trainer.image_id.numpy())
    values, _, _ = trainer.run_step(*next(batches))
    assert int(trainer.image_id.numpy()) == image_id + trainer.batch_size
    progresses.append(values['progress'])
    for before, raw, ema in zip(
        ema_before, trainer.generator.trainable_variables,
        trainer.ema_generator.trainable_variables):
      np.testing.assert_allclose(ema.numpy(),
                                 0.999 * before + 0.001 * raw.numpy(),
                                 rtol=1e-5, atol=1e-7)
  # Progress moved (a tensor, not a traced constant) within one trace.
  assert progresses == [0.0, 0.5, 1.0]
  assert trainer.step.experimental_get_tracing_count() == 1
  assert float(trainer.train_time.numpy()) > 0
  for key in ('discriminator_loss', 'generator_loss', 'gradient_penalty_loss',
              'real_score_penalty', 'fake_ac_loss', 'real_ac_loss',
              'd_real_score', 'd_fake_score'):
    assert np.isfinite(values[key]), key


def test_ema_decay_is_configurable(trainer):
  # cpu_small.gin's short runs average with 0.99; a binding that had no effect
  # would leave Magenta's 0.999 (checked above), so check the update itself.
  trainer.ema_decay = 0.5
  try:
    trainer_lib.copy_weights(trainer.generator, trainer.ema_generator)
    before = [v.numpy() for v in trainer.generator.trainable_variables]
    trainer.step = tf.function(trainer._sampled_step)  # retrace: new decay
    trainer.run_step(*next(trainer.real_batches()))
    moved = 0
    for b, raw, ema in zip(before, trainer.generator.trainable_variables,
                           trainer.ema_generator.trainable_variables):
      np.testing.assert_allclose(ema.numpy(), 0.5 * b + 0.5 * raw.numpy(),
                                 rtol=1e-5, atol=1e-6)
      moved += int(np.any(raw.numpy() != b))
    assert moved > 0  # the generator's weights did change on the step
  finally:
    trainer.ema_decay = trainer_lib.EMA_DECAY
    trainer.step = tf.function(trainer._sampled_step)
  with pytest.raises(ValueError, match='ema_decay'):
    trainer_lib.StageTrainer(1, trainer.hp, trainer.schedule,
                             trainer.train_dir, trainer.dataset,
                             tf.distribute.get_strategy(), ema_decay=1.0)


def test_optimizers_are_magentas_adam(trainer):
  for opt in (trainer.generator_optimizer, trainer.discriminator_optimizer):
    assert isinstance(opt, tf.keras.optimizers.Adam) or (
        type(opt).__name__ == 'Adam')
    assert opt.beta_1 == 0.0 and opt.beta_2 == 0.99
    assert opt.epsilon == 1e-8  # tf.train.AdamOptimizer's default
    np.testing.assert_allclose(float(opt.learning_rate.numpy()), 8e-4)


def test_unknown_hyperparameter_names_the_key():
  with pytest.raises(ValueError, match=r"\['fmap_bse'\]"):
    hparams.from_gin(fmap_bse=3)


# The command line.


def _stage_state(train_dir):
  """(stage, image_id) of the newest checkpoint on disk; checks all readable."""
  stages = run_dir.Run(train_dir).stages_with_checkpoints()
  for stage in stages:
    path = run_dir.Run(train_dir).latest_checkpoint(stage)
    reader = tf.train.load_checkpoint(path)
    for name, dtype in reader.get_variable_to_dtype_map().items():
      # (The NaN test's infinite learning rate is a setting, not a weight.)
      if dtype.is_floating and 'learning_rate' not in name:
        assert np.all(np.isfinite(reader.get_tensor(name))), (path, name)
  if not stages:
    return None
  path = run_dir.Run(train_dir).latest_checkpoint(stages[-1])
  return stages[-1], int(run_dir.read_scalar(path, 'image_id'))


def _saved_image_ids(text):
  return [int(m) for m in re.findall(r'^Saved \S+ at image_id (\d+)$', text,
                                     re.M)]


def _first_stage_line(text):
  m = re.search(r'^Stage (\d+): .* image_id (\d+) -> \d+; (\w+)', text, re.M)
  return int(m.group(1)), int(m.group(2)), m.group(3)


# The killed run and its uninterrupted twin are seeded alike, and
# deterministic: oneDNN's multi-threaded conv gradients and Grappler's graph
# rewrites otherwise vary in the last bit now and then (docs/training.md,
# "Reliability"); the twin is a second process, so this also checks that a
# seeded deterministic run repeats.
SEED_PARAM = 'train.seed=7'
DETERMINISTIC = 'train.deterministic=True'


def _kills_and_images(config):
  """(SIGKILLs, images) of the killed run: 2 kills in stages 0..3 in the
  suite, 5 over all 9 stages with --runslow."""
  return (5, LAST_IMAGE) if config.getoption('--runslow') else (2, STOP_AFTER)


@pytest.fixture(scope='module')
def killed_and_resumed(tmp_path_factory, run_main, request):
  """Starts a seeded training, kills it with SIGKILL at random moments
  (2 times; 5 with --runslow), restarts the same command each time, then
  lets it finish. Returns (train_dir,
  kills, final run, the uninterrupted twin's train_dir)."""
  num_kills, images = _kills_and_images(request.config)
  stop = f'train.stop_after_images={images}'
  train_dir = tmp_path_factory.mktemp('cli') / 'run'
  rng = random.Random(1234)
  kills = []
  for _ in range(3 * num_kills):
    if len(kills) >= num_kills:
      break
    log = train_dir.parent / f'log{len(kills)}.txt'
    before = _stage_state(str(train_dir)) if train_dir.exists() else None
    with open(log, 'w') as out:
      proc = subprocess.Popen(cli(train_dir, SEED_PARAM, DETERMINISTIC, stop),
                              cwd=REPO,
                              stdout=out, stderr=subprocess.STDOUT, text=True)
      # Wait for this run's first save, then kill at a random moment soon
      # after (inside a trace, a step, a save or a stage switch), so that
      # each run makes little progress and the kills land before the end.
      deadline = time.time() + 240
      while time.time() < deadline and proc.poll() is None:
        if 'Saved ' in log.read_text():
          break
        time.sleep(0.1)
      time.sleep(rng.uniform(0.0, 2.0))
      alive = proc.poll() is None
      if alive:
        os.kill(proc.pid, signal.SIGKILL)
      proc.wait(timeout=60)
    text = log.read_text()
    if alive:
      kills.append(dict(before=before, after=_stage_state(str(train_dir)),
                        saved=_saved_image_ids(text), log=text))
    else:
      break  # finished before the kill; the final run below checks it
  # (Processes of their own: one intra-op thread is set before TF starts.)
  final = subprocess.run(cli(train_dir, SEED_PARAM, DETERMINISTIC, stop),
                         cwd=REPO, capture_output=True, text=True)
  twin = train_dir.parent / 'uninterrupted'
  result = subprocess.run(cli(twin, SEED_PARAM, DETERMINISTIC, stop),
                          cwd=REPO, capture_output=True, text=True)
  assert result.returncode == 0, result.stdout[-3000:]
  return train_dir, kills, final, twin


def test_kill_minus_9_then_resume(killed_and_resumed, request):
  train_dir, kills, final, _ = killed_and_resumed
  num_kills, images = _kills_and_images(request.config)
  sched = schedule.TrainingSchedule.from_hparams(
      train.hparams_from_gin_files([str(SMALL_GIN)]))
  assert len(kills) >= num_kills, [k['log'][-2000:] for k in kills]
  runs = [k['log'] for k in kills[1:]] + [final.stdout]
  for kill, next_log in zip(kills, runs):
    stage, image_id = kill['after']
    # Nothing newer than one checkpoint interval (here: one step) was lost.
    if kill['saved']:
      assert image_id >= kill['saved'][-1], kill['log'][-3000:]
    if kill['before'] is not None:
      assert (stage, image_id) >= kill['before']
    # The next run starts exactly where the checkpoint on disk says: in that
    # stage, or when the kill came after the stage's final save but before
    # the next stage's first one, at the start of the next stage.
    next_stage, next_image_id, how = _first_stage_line(next_log)
    print(f'killed at stage {stage} image_id {image_id} -> next run: stage '
          f'{next_stage} image_id {next_image_id} ({how})')
    if image_id < sched.num_images(stage):
      assert (next_stage, next_image_id, how) == (stage, image_id, 'resumed')
    else:
      assert (next_stage, next_image_id) in ((stage, image_id),
                                             (stage + 1, image_id))
  assert final.returncode == 0, final.stdout[-3000:] + final.stderr[-3000:]
  assert 'Done: ' in final.stdout
  assert _stage_state(str(train_dir)) == (sched.num_stages - 1 if
                                          images == LAST_IMAGE else 3, images)


def _final_tensors(train_dir):
  run = run_dir.Run(train_dir)
  path = run.latest_checkpoint(run.stages_with_checkpoints()[-1])
  reader = tf.train.load_checkpoint(path)
  return path, {k: reader.get_tensor(k)
                for k in reader.get_variable_to_shape_map()
                if k != run_dir.OBJECT_GRAPH_KEY}


def test_resume_after_kills_is_bit_exact(killed_and_resumed):
  """The run killed with SIGKILL and resumed ends with the same weights, EMA,
  Adam slots, image count, data position and random-generator state as the
  same seeded run left alone, bit for bit (only the wall-clock train_time
  differs)."""
  train_dir, kills, _, twin = killed_and_resumed
  path, resumed = _final_tensors(train_dir)
  twin_path, alone = _final_tensors(twin)
  assert os.path.relpath(path, train_dir) == os.path.relpath(twin_path, twin)
  assert set(resumed) == set(alone)
  # (The generator's weights are stored once, under the path the object
  # graph reaches them by first, not necessarily 'generator/'.)
  kinds = {'ema_generator', 'discriminator', 'rng', 'image_id',
           'data_position', 'data_seed', 'generator_optimizer',
           'discriminator_optimizer'}
  assert kinds <= {k.split('/')[0] for k in resumed}, sorted(resumed)
  slots = [k for k in resumed if 'optimizer' in k and
           resumed[k].size > 1 and np.any(resumed[k])]
  assert slots  # the Adam moments are compared too
  differing = {}
  for key, value in resumed.items():
    if key.startswith('train_time/'):
      continue
    if not np.array_equal(value, alone[key]):
      scale = np.max(np.abs(alone[key])) or 1.0
      differing[key] = float(np.max(np.abs(value.astype(np.float64) -
                                            alone[key])) / scale)
  print(f'{len(kills)} SIGKILLs, then resumed: {len(resumed) - 1} tensors '
        f'compared with the uninterrupted run, {len(differing)} differ')
  assert not differing, differing


def test_resumed_run_has_magenta_layout_and_loads(killed_and_resumed):
  train_dir = killed_and_resumed[0]
  with open(DATA / 'oracle' / 'ckpt' / 'experiment.json') as f:
    magenta_keys = set(json.load(f))
  ours = run_dir.Run(train_dir).read_experiment()
  assert set(ours) == magenta_keys | {'pitch_counts'}
  assert ours['dataset_name'] == 'default'
  counts = default.DefaultDataset(audio_length=NOTE).get_pitch_counts()
  assert ours['pitch_counts'] == {str(p): c for p, c in counts.items()}
  assert (train_dir / 'operative_config.gin').exists()
  assert 'hparams.fmap_max = 8' in (
      train_dir / 'operative_config.gin').read_text()
  import gansynth_tf2  # pylint: disable=import-outside-toplevel
  model = gansynth_tf2.load_model(str(train_dir))
  waves = model.generate_from_z(model.generate_z(1, seed=0), [60])
  assert waves.shape == (1, NOTE) and np.all(np.isfinite(waves))
  assert model.pitch_counts == counts


def test_summaries_hold_losses_and_audio(killed_and_resumed):
  train_dir = killed_and_resumed[0]
  tags = set()
  for path in (train_dir / 'stage_00003').glob('events.out.tfevents.*'):
    for event in tf.compat.v1.train.summary_iterator(str(path)):
      tags.update(v.tag for v in event.summary.value)
  for tag in ('losses/discriminator_loss', 'losses/generator_loss',
              'losses/gradient_penalty_loss', 'losses/progress',
              'losses/d_real_score', 'losses/d_fake_score', 'fake_waves',
              'real_waves', 'fake_data_m', 'real_data_p'):
    assert tag in tags, sorted(tags)


def test_finished_run_does_nothing_more(killed_and_resumed, run_main):
  train_dir = killed_and_resumed[0]
  before = _stage_state(str(train_dir))
  result = run_main(train, cli_args(train_dir))
  assert result.returncode == 0, result.stderr[-3000:]
  assert 'Saved' not in result.stdout
  assert _stage_state(str(train_dir)) == before


def test_conflicting_config_is_refused(killed_and_resumed, run_main):
  train_dir = killed_and_resumed[0]
  before = sorted(p.name for p in train_dir.rglob('*'))
  result = run_main(train, cli_args(train_dir, 'hparams.fmap_max=16'))
  print(result.stdout[-2000:])
  assert result.returncode == 1
  assert 'fmap_max: 8 in train_dir, 16 now' in result.stdout
  assert sorted(p.name for p in train_dir.rglob('*')) == before


def test_nan_loss_stops_without_saving_poison(tmp_path, run_main):
  # An infinite learning rate blows the generator up on its first update
  # (the step's first half), so the discriminator loss of the first step,
  # on that generator's notes, is not finite.
  train_dir = tmp_path / 'nan'
  result = run_main(train, cli_args(train_dir,
                                    'hparams.generator_learning_rate=1e400'))
  print(result.stdout[-2000:])
  assert result.returncode == 1, result.stderr[-3000:]
  assert re.search(r'Non-finite loss at stage 0, step 0 .*discriminator_loss',
                   result.stdout), result.stdout[-3000:]
  # Only the checkpoint written at the stage start exists, and it is finite.
  assert _saved_image_ids(result.stdout) == [0]
  assert _stage_state(str(train_dir)) == (0, 0)


def _stage_trainer(tmp_path, stage_id, **overrides):
  hp = train.hparams_from_gin_files([str(SMALL_GIN)]).replace(**overrides)
  sched = schedule.TrainingSchedule.from_hparams(hp)
  return trainer_lib.StageTrainer(stage_id, hp, sched, str(tmp_path),
                                  default.DefaultDataset(audio_length=NOTE),
                                  tf.distribute.get_strategy())


def test_time_limited_schedule_drives_progress_and_stage_end(tmp_path):
  """Magenta's train_time_limit: stage k gets a share of the time growing by
  train_time_stage_multiplier; progress follows the train time."""
  t = _stage_trainer(tmp_path, 1, train_time_limit=10.0 * NUM_STAGES,
                     train_time_stage_multiplier=1.0)
  # 9 equal stages of 10 s: stage 1 (the first transition) is 10..20 s.
  assert t.time_limit == pytest.approx(20.0)
  for seconds, progress, done in ((9.0, 0.0, False), (15.0, 0.5, False),
                                  (20.5, 1.0, True)):
    t.train_time.assign(seconds)
    assert float(t.progress()) == pytest.approx(progress)
    assert t.done() == done
  t.image_id.assign(10**9)  # images do not end a time-limited stage
  t.train_time.assign(12.0)
  assert not t.done()


def test_non_progressive_training_trains_all_blocks_once(tmp_path):
  hp = train.hparams_from_gin_files([str(SMALL_GIN)]).replace(
      train_progressive=False)
  sched = schedule.TrainingSchedule.from_hparams(hp)
  last = NUM_STAGES - 1
  assert sched.stages_to_train([]) == [last]
  t = _stage_trainer(tmp_path, last, train_progressive=False)
  assert t.num_blocks == 5
  assert float(t.progress()) == 4.0
  # Magenta's quirk: the sum of all stage ends.
  assert t.num_images == sum(sched.stage_info(s)[1]
                             for s in range(NUM_STAGES))
  assert t.restore() == 'fresh start'


@pytest.mark.parametrize('config', ['if_mel_hq', 'if_mel', 'if_hq', 'if',
                                    'phase_hq', 'phase', 'wave'])
def test_paper_configs_train_a_step_in_their_last_stage(config, tmp_path):
  """Each paper row's representation and growth schedule fits its networks
  (tiny widths; the G&L term switched on to run that path too)."""
  hp = train.hparams_from_gin_files(
      [str(REPO / 'gin' / f'{config}.gin')],
      ['hparams.fmap_base=512', 'hparams.fmap_max=8',
       'hparams.batch_size_schedule=[2]',
       'hparams.gen_gl_consistency_loss_weight=1.0'])
  sched = schedule.TrainingSchedule.from_hparams(hp)
  t = trainer_lib.StageTrainer(12, hp, sched, str(tmp_path),
                               default.DefaultDataset(),
                               tf.distribute.get_strategy())
  t.image_id.assign(sched.num_images(11))
  values, _, _ = t.run_step(*next(t.real_batches()))
  print(config, t.data_helper.data_shape, values['generator_loss'])
  assert values['progress'] == 6.0
  assert all(np.isfinite(v) for v in values.values())
  assert ('fake_gl_loss' in values) == (hp.data_type != 'wave')


@pytest.mark.slow
def test_quickstart_trains_all_stages_end_to_end(tmp_path):
  """The README's quick start: all 13 stages (~7 min on 2 CPU cores)."""
  result = subprocess.run(
      [sys.executable, '-m', 'gansynth_tf2.train',
       f'--gin_file={REPO / "gin" / "quickstart.gin"}',
       f'--train_dir={tmp_path}'], cwd=REPO, capture_output=True, text=True,
      timeout=3600, check=False)
  assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
  assert _stage_state(str(tmp_path)) == (12, 2560)


def test_data_computed_normalizer_is_fitted_once_into_assets(tmp_path):
  """Magenta's init_data_normalizer: fitted from the data before stage 0,
  saved under <train_dir>/assets, then reused (and by the networks)."""
  hp = train.hparams_from_gin_files([str(SMALL_GIN)]).replace(
      data_normalizer='specgrams_simple_normalizer',
      normalizer_num_examples=20)
  dataset = default.DefaultDataset(audio_length=NOTE)
  normalizer = train.init_normalizer(hp, run_dir.Run(tmp_path), dataset)
  assert os.path.dirname(normalizer.path) == str(tmp_path / 'assets')
  stamp = os.stat(normalizer.path).st_mtime_ns
  again = train.init_normalizer(hp, run_dir.Run(tmp_path), dataset)
  assert os.stat(again.path).st_mtime_ns == stamp
  t = _stage_trainer(tmp_path, 0, data_normalizer=hp.data_normalizer,
                     normalizer_num_examples=20)
  np.testing.assert_array_equal(
      np.asarray(t.discriminator.normalizer.a), np.asarray(normalizer.a))


def _trained_pitches(train_dir):
  with open(os.path.join(train_dir, 'experiment.json')) as f:
    counts = json.load(f)['pitch_counts']
  return sorted(int(p) for p, c in counts.items() if c > 0)


def test_all_stages_then_generate_through_the_clis(tmp_path, run_main,
                                                  killed_and_resumed):
  """The quick start's path in CI size: every stage of the 5-resolution IF-Mel
  structure (4 images per stage), then the generate CLI's timbre sweep and
  interpolation modes on the result. Stages 0..3 are the killed and resumed
  run's (a copy of it, trained on to the end), so they are not paid twice."""
  from gansynth_tf2 import generate  # pylint: disable=import-outside-toplevel
  train_dir = tmp_path / 'run'
  shutil.copytree(killed_and_resumed[0], train_dir)
  # (--runslow: the killed run already went through every stage.)
  assert _stage_state(str(train_dir)) in ((3, STOP_AFTER),
                                          (NUM_STAGES - 1, LAST_IMAGE))
  result = run_main(train, [f'--gin_file={SMALL_GIN}',
                            f'--train_dir={train_dir}'])
  assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
  assert _stage_state(str(train_dir)) == (NUM_STAGES - 1, LAST_IMAGE)
  pitches = _trained_pitches(str(train_dir))[:3]
  for mode, files in [
      (['--timbre_sweep', f'--pitches={",".join(map(str, pitches))}'],
       [f'timbre_sweep_{i}.wav' for i in range(3)] + ['timbre_sweep.png']),
      (['--interpolate=3', f'--pitches={pitches[0]}'],
       [f'interpolation_{i}.wav' for i in range(3)] + ['interpolation.wav'])]:
    out = tmp_path / mode[0].strip('-').split('=')[0]
    gen = run_main(generate, [f'--ckpt_dir={train_dir}', f'--output_dir={out}',
                              '--seed=3'] + mode)
    assert gen.returncode == 0, gen.stdout[-2000:] + gen.stderr[-2000:]
    clips = []
    for name in files:
      if name.endswith('.png'):
        assert (out / name).stat().st_size > 0, name
        continue
      audio, rate = soundfile.read(str(out / name))
      assert rate == 16000 and np.all(np.isfinite(audio)), name
      assert np.abs(audio).max() > 0, name  # not silence
      if name[-6:-4].strip('_').isdigit():  # one clip per note
        assert audio.shape == (NOTE,), (name, audio.shape)
        clips.append(audio)
    # Other pitches (sweep) or other latents (interpolation): other clips.
    assert all(np.abs(a - b).max() > 0 for a, b in zip(clips, clips[1:]))
    with open(out / 'generated.json') as f:
      meta = json.load(f)
    assert meta['seed'] == 3
    if mode[0] == '--timbre_sweep':
      assert meta['pitches'] == pitches


def test_converted_magenta_checkpoint_trains_on(tmp_path, oracle_ckpt_dir,
                                                run_main):
  """Magenta's checkpoint, converted, resumes training like one of ours (on
  our default data, its last stage extended by one step)."""
  from gansynth_tf2 import magenta_checkpoint  # pylint: disable=import-outside-toplevel
  converted = tmp_path / 'converted'
  magenta_checkpoint.convert(str(oracle_ckpt_dir), str(converted))
  before = run_dir.Run(converted).read_experiment()
  result = run_main(train, [
      '--gin_file=gin/if_mel_hq.gin', '--gin_file=gin/datasets/default.gin',
      f'--gin_file={converted / "hparams.gin"}',
      f'--gin_param=hparams.total_num_images={before["total_num_images"] + 8}',
      '--gin_param=train.media_summaries=False', f'--train_dir={converted}'])
  assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
  assert 'resumed' in result.stdout, result.stdout[-2000:]
  assert _stage_state(str(converted)) == (12, before['total_num_images'] + 8)
  # Another dataset than the one the run was trained on: said, not refused.
  assert (f'Note: {converted} holds a run trained on other data '
          f"(dataset_name {before['dataset_name']!r}") in result.stdout
  assert "this run goes on with dataset_name 'default'" in result.stdout


def test_missing_data_fails_before_anything_is_written(tmp_path, run_main):
  train_dir = tmp_path / 'run'
  result = run_main(train, [
      '--gin_file=gin/if_mel_hq.gin',
      f"--gin_param=NSynthTfdsDataset.tfds_data_dir='{tmp_path / 'tfds'}'",
      f'--train_dir={train_dir}'])
  assert result.returncode == 1, result.stdout[-2000:] + result.stderr[-2000:]
  assert 'ERROR: TFDS nsynth/gansynth_subset' in result.stdout
  assert 'Traceback' not in result.stdout + result.stderr
  assert not train_dir.exists()


def test_data_that_fails_during_training_stops_with_one_line(tmp_path,
                                                            run_main):
  """Only the first note is read before training starts; a bad record met
  later (here a note at 22.05 kHz) stops the run with one ERROR line, and the
  checkpoint written at the stage start stays the latest."""
  from gansynth_tf2.data import records  # pylint: disable=import-outside-toplevel
  data_dir = tmp_path / 'data'
  notes = [records.make_example(np.zeros(16000, np.float32) + 0.1 * i, p,
                                100, f'organ_{i}', instrument_source=0,
                                sample_rate=rate)
           for i, (p, rate) in enumerate([(60, 16000), (62, 22050)])]
  records.write_dataset(
      str(data_dir), [({'pitch': 60, 'instrument_source': 0}, notes[0]),
                      ({'pitch': 62, 'instrument_source': 0}, notes[1])], [])
  train_dir = tmp_path / 'run'
  result = run_main(train, [
      f'--gin_file={SMALL_GIN}', '--gin_file=gin/datasets/prepared.gin',
      f"--gin_param=PreparedDataset.data_dir='{data_dir}'",
      f'--gin_param=PreparedDataset.audio_length={NOTE}',
      f'--train_dir={train_dir}'])
  out = result.stdout + result.stderr
  assert result.returncode == 1, out[-3000:]
  assert 'ERROR: training data cannot be read at image_id 0: ' in out
  assert 'has sample_rate' in out and 'Traceback' not in out
  assert 'In call to configurable' not in out  # gin's context lines cut
  assert _stage_state(str(train_dir)) == (0, 0)


# Clean stops (issue 24, item 2).


def test_sigterm_saves_after_the_step_and_the_same_command_resumes(
    tmp_path, run_main):
  """SIGTERM mid-stage: the step ends, a checkpoint is written at that
  image, the run says how to resume and exits 128 + 15; the same command
  then resumes at that image."""
  train_dir = tmp_path / 'run'
  # A long first stage and no timed saves: only the signal makes the
  # checkpoint after the stage-start one.
  args = [f'--gin_file={SMALL_GIN}', f'--train_dir={train_dir}',
          '--gin_param=train.save_checkpoint_secs=100000',
          '--gin_param=hparams.stable_stage_num_images=2000',
          '--gin_param=hparams.transition_stage_num_images=2000',
          '--gin_param=hparams.total_num_images=18000']
  log = tmp_path / 'log.txt'
  with open(log, 'w') as out:
    proc = subprocess.Popen([sys.executable, '-m', 'gansynth_tf2.train'] +
                            args, cwd=REPO, stdout=out,
                            stderr=subprocess.STDOUT, text=True)
    deadline = time.time() + 240
    while time.time() < deadline and proc.poll() is None:
      if 'Saved ' in log.read_text():
        break
      time.sleep(0.1)
    time.sleep(3.0)  # into the step loop
    assert proc.poll() is None, log.read_text()[-3000:]
    os.kill(proc.pid, signal.SIGTERM)
    code = proc.wait(timeout=120)
  text = log.read_text()
  assert code == 128 + signal.SIGTERM, text[-3000:]
  assert 'SIGTERM: finishing the current step, then saving' in text
  stopped = re.search(r'^Stopped by SIGTERM at stage 0, image (\d+): '
                      r'checkpoint (\S+)\. To resume, run the same command '
                      r'again\.$', text, re.M)
  assert stopped, text[-3000:]
  image_id = int(stopped.group(1))
  assert 0 < image_id < 2000
  assert _stage_state(str(train_dir)) == (0, image_id)
  assert _saved_image_ids(text)[-1] == image_id
  # The lock went with the process: the same command resumes there.
  resumed = run_main(train, args + [
      f'--gin_param=train.stop_after_images={image_id + 2}'])
  assert resumed.returncode == 0, resumed.stdout[-3000:]
  assert _first_stage_line(resumed.stdout)[:2] == (0, image_id)
  assert _stage_state(str(train_dir)) == (0, image_id + 2)


def test_a_second_stop_signal_aborts_at_once(capsys):
  # (What was installed before: Python's default, or SIG_IGN where the suite
  # runs in the background.)
  before = signal.getsignal(signal.SIGINT)
  with train.StopSignals() as signals:
    signals._handle(signal.SIGINT, None)  # pylint: disable=protected-access
    assert signals.received == 'SIGINT'
    assert 'SIGINT: finishing the current step' in capsys.readouterr().out
    with pytest.raises(KeyboardInterrupt, match='aborted without saving'):
      signals._handle(signal.SIGINT, None)  # pylint: disable=protected-access
  # The previous handlers are back.
  assert signal.getsignal(signal.SIGINT) is before


# Writes that fail (issue 24, item 3). Developers and CI run as root, where
# permission bits stop nothing: the tests limit the file size the trainer
# may write (RLIMIT_FSIZE in its own process: every writer, TensorFlow's C++
# included, then gets EFBIG; Python ignores SIGXFSZ) or put a file where a
# folder is expected.


def _with_file_size_limit(limit):
  def limit_writes():
    import resource  # pylint: disable=import-outside-toplevel
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
  return limit_writes


def _run_limited(args, limit):
  return subprocess.run(
      [sys.executable, '-m', 'gansynth_tf2.train'] + args, cwd=REPO,
      capture_output=True, text=True, timeout=300,
      preexec_fn=_with_file_size_limit(limit))


def test_checkpoint_on_a_full_disk_keeps_the_last_one_and_resumes(tmp_path,
                                                                  run_main):
  """A checkpoint that cannot be written (here: larger than the process may
  write, as on a full disk) stops the run with one line naming it and the
  cause; nothing of it is left, the previous checkpoint stays the latest and
  readable, and the same command resumes from it once there is room."""
  train_dir = tmp_path / 'run'
  first = run_main(train, cli_args(train_dir, 'train.stop_after_images=4'))
  assert first.returncode == 0, first.stdout[-3000:]
  assert _stage_state(str(train_dir)) == (0, 4)
  kept = run_dir.Run(train_dir).latest_checkpoint(0)
  # Stage 1's checkpoints (~750 KB) do not fit; the small files do.
  result = _run_limited(cli_args(train_dir, 'train.stop_after_images=8'),
                        200_000)
  out = result.stdout + result.stderr
  assert result.returncode == 1, out[-3000:]
  errors = [l for l in result.stdout.splitlines() if l.startswith('ERROR')]
  assert errors == [
      f'ERROR: cannot write checkpoint {train_dir}/stage_00001/ckpt-1: File '
      f'too large. Nothing of it was kept; the latest checkpoint stays {kept}'
      '. Make room (or fix the folder) and run the same command again to '
      'resume from it.'], out[-3000:]
  assert 'Traceback' not in out
  assert _stage_state(str(train_dir)) == (0, 4)  # all readable, as before
  assert not [p for p in (train_dir / 'stage_00001').iterdir()
              if p.name.startswith('ckpt')]
  again = run_main(train, cli_args(train_dir, 'train.stop_after_images=8'))
  assert again.returncode == 0, again.stdout[-3000:]
  assert f'started from {kept}' in again.stdout
  assert _stage_state(str(train_dir)) == (1, 8)


def test_experiment_json_that_cannot_be_written_stops_with_one_line(
    tmp_path):
  train_dir = tmp_path / 'run'
  result = _run_limited(cli_args(train_dir), 1000)  # experiment.json ~2 KB
  out = result.stdout + result.stderr
  assert result.returncode == 1, out[-3000:]
  assert (f'ERROR: cannot write {train_dir}/experiment.json: File too large '
          '(the file is left as it was)') in result.stdout, out[-3000:]
  assert 'Traceback' not in out
  assert not train_dir.exists()  # a run that wrote nothing leaves no folder


def test_a_file_where_the_train_dir_should_be_is_refused(tmp_path, run_main):
  blocker = tmp_path / 'runs'
  blocker.write_text('not a folder')
  result = run_main(train, cli_args(blocker / 'x'))
  assert result.returncode == 1, result.stdout[-3000:]
  assert re.search(rf'^ERROR: .*Not a directory.*{re.escape(str(blocker))}',
                   result.stdout, re.M), result.stdout[-3000:]
  assert blocker.read_text() == 'not a folder'
