"""Tests for schedule.py.

Expected values are worked out by hand from the formulas in Magenta's
networks.py / train_util.py / model.py (noted beside each table), not computed
with the code under test.
"""
import json
import pathlib

import numpy as np
import pytest
import tensorflow as tf

from gansynth_tf2 import hparams as hparams_lib
from gansynth_tf2 import run_dir
from gansynth_tf2 import schedule


# compute_progress: (image_id, stable, transition, num_blocks, expected).
# cap = num_blocks*stable + (num_blocks-1)*transition - 1; with s = stable +
# transition: progress = cap_id // s + max(0, (cap_id % s - stable) / transition).
PROGRESS_TABLE = [
    (0, 8, 8, 7, 0.0),
    (7, 8, 8, 7, 0.0),
    (8, 8, 8, 7, 0.0),       # transition starts, fraction 0
    (12, 8, 8, 7, 0.5),
    (15, 8, 8, 7, 0.875),
    (16, 8, 8, 7, 1.0),
    (28, 8, 8, 7, 1.5),
    (96, 8, 8, 7, 6.0),      # 96 // 16 = 6
    (103, 8, 8, 7, 6.0),     # cap = 103
    (1000, 8, 8, 7, 6.0),
    (12, 8, 8, 2, 0.5),
    (20, 8, 8, 2, 1.0),      # cap 23: 20 // 16 = 1, (4 - 8) < 0
    (100, 8, 8, 2, 1.0),
    (100, 8, 8, 1, 0.0),     # cap 7
    (13, 10, 6, 4, 0.5),     # (13 - 10) / 6
    (15, 10, 6, 4, 5 / 6),
    (29, 10, 6, 4, 1.5),     # 1 + (13 - 10) / 6
    (47, 10, 6, 4, 2 + 5 / 6),
    (57, 10, 6, 4, 3.0),     # cap 57: 3 + max(0, 9 - 10)
    (10**9, 10, 6, 4, 3.0),
    (1_200_000, 800_000, 800_000, 7, 0.5),
    (5_000_000, 800_000, 800_000, 7, 3.0),  # 3 * 1.6M + 200k: stable
    (6_000_000, 800_000, 800_000, 7, 3.5),  # 3 * 1.6M + 1.2M: 400k / 800k
]


@pytest.mark.parametrize('image_id,stable,transition,num_blocks,expected',
                         PROGRESS_TABLE)
def test_compute_progress(image_id, stable, transition, num_blocks, expected):
  got = float(schedule.compute_progress(image_id, stable, transition,
                                        num_blocks))
  assert got == pytest.approx(expected, abs=1e-6)


def test_min_total_num_images():
  assert schedule.min_total_num_images(8, 8, 7) == 104
  assert schedule.min_total_num_images(10, 6, 4) == 58


# get_stage_info with num_resolutions 7, stable 8, transition 8:
# num_blocks = (id + 1) // 2 + 1,
# num_images = (id // 2 + 1) * 8 + ((id + 1) // 2) * 8, last stage = total.
STAGE_INFO_TABLE = [
    (0, 256, (1, 8)),
    (1, 256, (2, 16)),
    (2, 256, (2, 24)),
    (3, 256, (3, 32)),
    (4, 256, (3, 40)),
    (11, 256, (7, 96)),
    (12, 256, (7, 256)),
    (2, 20, (2, 20)),   # capped at total_num_images
    (12, 20, (7, 20)),
    (12, 50, (7, 50)),  # last stage always ends at total
]


@pytest.mark.parametrize('stage_id,total,expected', STAGE_INFO_TABLE)
def test_get_stage_info(stage_id, total, expected):
  assert schedule.get_stage_info(stage_id, 7, 8, 8, total) == expected


def test_get_stage_info_paper_config():
  # mel_prog_hires: 800k/800k, 11M total. Stage 5: (2+1)*800k + 3*800k.
  assert schedule.get_stage_info(5, 7, 800_000, 800_000, 11_000_000) == (
      4, 4_800_000)
  assert schedule.get_stage_info(12, 7, 800_000, 800_000, 11_000_000) == (
      7, 11_000_000)


@pytest.mark.parametrize('stage_id', [-1, 13, 100])
def test_get_stage_info_rejects_bad_stage(stage_id):
  with pytest.raises(ValueError, match='stage_id'):
    schedule.get_stage_info(stage_id, 7, 8, 8, 256)


def test_total_num_stages():
  assert schedule.get_total_num_stages(7) == 13
  assert schedule.get_total_num_stages(1) == 1


# Batch sizes: Magenta pads the schedule in front with its first entry up to
# num_resolutions and indexes it with (stage_id + 1) // 2.
BATCH_TABLE = [
    ([16, 8], 7, 0, 16),    # padded: 16 16 16 16 16 16 8
    ([16, 8], 7, 10, 16),   # index 5
    ([16, 8], 7, 11, 8),    # index 6
    ([16, 8], 7, 12, 8),
    ([8], 7, 0, 8),
    ([8], 7, 12, 8),
    ([4, 4, 4, 4, 2, 2, 1], 7, 6, 4),   # index 3
    ([4, 4, 4, 4, 2, 2, 1], 7, 7, 2),   # index 4
    ([4, 4, 4, 4, 2, 2, 1], 7, 12, 1),  # index 6
    ([32, 16, 8], 3, 1, 16),
]


@pytest.mark.parametrize('sched,num_res,stage_id,expected', BATCH_TABLE)
def test_get_batch_size(sched, num_res, stage_id, expected):
  assert schedule.get_batch_size(stage_id, sched, num_res) == expected


def test_get_stage_ids(tmp_path):
  root = tmp_path / 'train'
  assert schedule.get_stage_ids(
      run_dir.Run(root).stage_ids(), 7) == list(range(13))
  root.mkdir()
  (root / 'experiment.json').write_text('{}')
  assert schedule.get_stage_ids(
      run_dir.Run(root).stage_ids(), 7) == list(range(13))
  for i in range(4):
    (root / f'stage_{i:05d}').mkdir()
  # Resumes the last started stage (3), which may be unfinished.
  assert schedule.get_stage_ids(
      run_dir.Run(root).stage_ids(), 7) == list(range(3, 13))


def test_stage_ids_start_at_the_highest_stage_folder(tmp_path):
  """A converted Magenta checkpoint holds only its last stage's folder: the
  run resumes that stage (Magenta's folder count would restart at stage 0)."""
  root = tmp_path / 'converted'
  root.mkdir()
  (root / 'stage_00012').mkdir()
  (root / 'stage_notes').mkdir()  # not a stage folder
  assert schedule.get_stage_ids(
      run_dir.Run(root).stage_ids(), 7) == [12]
  (root / 'stage_00004').mkdir()
  assert schedule.get_stage_ids(
      run_dir.Run(root).stage_ids(), 7) == [12]


def test_stage_times():
  # 13 equal stages of 130 s -> 10, 20, ..., 130.
  np.testing.assert_allclose(schedule.stage_times(130., 1.0, 7),
                             np.arange(1, 14) * 10., rtol=1e-6)
  # Durations 1, 2, 4 scaled to 70 s -> 10, 20, 40 -> cumulative 10, 30, 70.
  np.testing.assert_allclose(schedule.stage_times(70., 2.0, 2),
                             [10., 30., 70.], rtol=1e-6)


# Progress from time with stage ends 10, 20, ..., 130: transition i (odd)
# ramps from end[i - 1] to end[i].
TIME_TABLE = [
    (5., 7, 0.0),
    (15., 7, 0.5),
    (20., 7, 1.0),
    (35., 7, 1.5),
    (125., 7, 6.0),
    (125., 3, 2.0),   # capped at num_blocks - 1
]


@pytest.mark.parametrize('train_time,num_blocks,expected', TIME_TABLE)
def test_compute_progress_from_time(train_time, num_blocks, expected):
  times = np.arange(1, 14, dtype=np.float32) * 10.
  got = float(schedule.compute_progress_from_time(train_time, 7, num_blocks,
                                                  times))
  assert got == pytest.approx(expected, abs=1e-6)


ALPHA_TABLE = [
    # (block_id, progress, generator_alpha, discriminator_alpha)
    (1, 0.0, 1.0, 1.0),
    (2, 0.0, 0.0, 1.0),
    (1, 0.25, 0.75, 0.75),
    (2, 0.25, 0.25, 1.0),
    (2, 1.5, 0.5, 0.5),
    (3, 1.5, 0.5, 1.0),
    (1, 1.5, 0.0, 0.0),
    (7, 6.0, 1.0, 1.0),
    (6, 6.0, 0.0, 0.0),
]


@pytest.mark.parametrize('block_id,progress,g_alpha,d_alpha', ALPHA_TABLE)
def test_alphas(block_id, progress, g_alpha, d_alpha):
  assert float(schedule.generator_alpha(block_id, progress)) == g_alpha
  assert float(schedule.discriminator_alpha(block_id, progress)) == d_alpha


@pytest.mark.parametrize('progress', [0.0, 0.3, 1.0, 2.7, 4.5, 6.0])
def test_generator_alphas_sum_to_one(progress):
  total = sum(float(schedule.generator_alpha(b, progress)) for b in range(1, 8))
  assert total == pytest.approx(1.0)


def test_resolution_schedule():
  rs = schedule.ResolutionSchedule('ALL', (2, 16), 2, 7)
  assert rs.final_resolutions == (128, 1024)
  assert rs.scale_factor(1) == 64
  assert rs.scale_factor(7) == 1
  assert rs.resolution(3) == (8, 64)
  assert rs.strides == (2, 2)
  rs_h = schedule.ResolutionSchedule('H', (2, 16), 2, 3)
  assert rs_h.final_resolutions == (8, 16)
  assert rs_h.strides == (2, 1)
  with pytest.raises(ValueError, match='block_id'):
    rs.scale_factor(0)
  with pytest.raises(ValueError, match='block_id'):
    rs.scale_factor(8)
  with pytest.raises(ValueError, match='scale_mode'):
    schedule.ResolutionSchedule('W', (2, 16), 2, 7)


def _box_down_up(x, fh, fw):
  """numpy box average over fh x fw tiles, then nearest-neighbour back."""
  b, h, w, c = x.shape
  means = x.reshape(b, h // fh, fh, w // fw, fw, c).mean(axis=(2, 4))
  return np.repeat(np.repeat(means, fh, axis=1), fw, axis=2)


@pytest.mark.parametrize('mode', ['ALL', 'H'])
def test_blend_images(mode):
  rs = schedule.ResolutionSchedule(mode, (1, 2), 2, 3)
  final_h, final_w = rs.final_resolutions
  x = np.random.RandomState(0).randn(2, final_h, final_w, 2).astype(np.float32)
  # Progress 2 at 3 blocks: only the full resolution counts.
  np.testing.assert_allclose(schedule.blend_images(x, 2.0, rs, 3), x,
                             atol=1e-6)
  # Progress 1.5: half block 2 (x at half resolution), half block 3.
  half = _box_down_up(x, 2, 2 if mode == 'ALL' else 1)
  np.testing.assert_allclose(schedule.blend_images(x, 1.5, rs, 3),
                             0.5 * half + 0.5 * x, atol=1e-6)
  # Progress 0 at 1 block: x at the start resolution.
  quarter = _box_down_up(x, 4, 4 if mode == 'ALL' else 1)
  np.testing.assert_allclose(schedule.blend_images(x, 0.0, rs, 1), quarter,
                             atol=1e-6)


def test_training_schedule_from_experiment_json(oracle_ckpt_dir):
  hparams = json.loads((oracle_ckpt_dir / 'experiment.json').read_text())
  ts = schedule.TrainingSchedule.from_hparams(
      hparams_lib.HParams.from_dict(hparams))
  assert ts.num_stages == 13
  assert ts.stage_info(12) == (7, 256)
  assert ts.batch_size(12) == 8
  assert ts.stage_train_time_limit(12) is None
  # The oracle's final step ran at global step 264 -> progress capped at 6.
  assert float(ts.progress(12, 264)) == 6.0
  assert float(ts.progress(3, 28)) == 1.5


def test_training_schedule_time_limited_and_non_progressive():
  ts = schedule.TrainingSchedule(num_resolutions=7, stable_stage_num_images=8,
                                 transition_stage_num_images=8,
                                 total_num_images=256, train_time_limit=130.,
                                 train_time_stage_multiplier=1.0)
  assert ts.stage_train_time_limit(0) == pytest.approx(10.)
  assert ts.stage_train_time_limit(12) == pytest.approx(130.)
  # Time, not images, drives progress: 35 s -> 1.5 whatever the image id.
  assert float(ts.progress(4, 0, train_time=35.)) == pytest.approx(1.5)

  flat = schedule.TrainingSchedule(num_resolutions=7, stable_stage_num_images=8,
                                   transition_stage_num_images=8,
                                   total_num_images=256,
                                   train_progressive=False)
  assert flat.stages_to_train([]) == [12]
  assert float(flat.progress(12, 0)) == 6.0
  # Magenta sums the stage ends of stages 0..12:
  # 8+16+24+32+40+48+56+64+72+80+88+96 = 624, plus 256 for the last.
  assert flat.num_images(12, []) == 880
  with pytest.raises(ValueError, match='started stage ids'):
    flat.num_images(12)


# ---------------------------------------------------------------------------
# Against Magenta's own code: tests/data/magenta_schedule.json holds inputs and
# the outputs of Magenta 2.1.4's networks.py / train_util.py / model.py for
# them, made by tools/make_schedule_fixture.py (which imports Magenta; these
# tests do not). Ints must match exactly, floats (float32) to 1e-6.


MAGENTA_FIXTURE = (pathlib.Path(__file__).parent / 'data' /
                   'magenta_schedule.json')


@pytest.fixture(scope='module')
def magenta():
  return json.loads(MAGENTA_FIXTURE.read_text())


def _report(name, n):
  print(f'{name}: {n} cases checked against Magenta')
  assert n > 0


def test_magenta_resolution_schedule(magenta):
  n = 0
  for row in magenta['resolution_schedule']:
    hp = magenta['hparam_sets'][row['set']]
    rs = schedule.ResolutionSchedule.from_hparams(
        hparams_lib.HParams.from_dict(hp))
    if row['block_id'] == 'final':
      assert list(rs.final_resolutions) == row['resolution'], row
      n += 1
      continue
    if row['scale_factor'] is None:
      with pytest.raises(ValueError):
        rs.scale_factor(row['block_id'])
    else:
      assert rs.scale_factor(row['block_id']) == row['scale_factor'], row
    n += 1
    if row['resolution'] is not None:
      assert list(rs.resolution(row['block_id'])) == row['resolution'], row
      n += 1
  _report('resolution_schedule', n)


def test_magenta_stage_arithmetic(magenta):
  n = 0
  for row in magenta['total_num_stages']:
    assert schedule.get_total_num_stages(
        row['num_resolutions']) == row['total_num_stages']
    n += 1
  for row in magenta['min_total_num_images']:
    assert schedule.min_total_num_images(
        row['stable'], row['transition'], row['num_blocks']) == row['value']
    n += 1
  for row in magenta['stages']:
    hp = magenta['hparam_sets'][row['set']]
    ts = schedule.TrainingSchedule.from_hparams(
        hparams_lib.HParams.from_dict(hp))
    args = (row['stage_id'], hp['num_resolutions'],
            hp['stable_stage_num_images'], hp['transition_stage_num_images'],
            hp['total_num_images'])
    if row['stage_info'] is None:
      with pytest.raises(ValueError):
        schedule.get_stage_info(*args)
    else:
      got = schedule.get_stage_info(*args)
      assert list(got) == row['stage_info'], row
      assert list(ts.stage_info(row['stage_id'])) == row['stage_info'], row
    n += 1
    if row['batch_size'] is not None:
      got = schedule.get_batch_size(row['stage_id'],
                                    hp['batch_size_schedule'],
                                    hp['num_resolutions'])
      assert got == row['batch_size'], row
      assert ts.batch_size(row['stage_id']) == row['batch_size'], row
      n += 1
  _report('stage arithmetic', n)


def test_magenta_stage_ids(magenta, tmp_path):
  n = 0
  for i, row in enumerate(magenta['stage_ids']):
    hp = magenta['hparam_sets'][row['set']]
    root = tmp_path / f'run{i}'
    root.mkdir()
    (root / 'experiment.json').write_text('{}')
    (root / 'other').mkdir()
    for s in range(row['num_stage_dirs']):
      (root / f'stage_{s:05d}').mkdir()
    started = run_dir.Run(root).stage_ids()
    assert schedule.get_stage_ids(started,
                                  hp['num_resolutions']) == row['stage_ids']
    flat = schedule.TrainingSchedule.from_hparams(
        hparams_lib.HParams.from_dict(dict(hp, train_progressive=False)))
    # Magenta sums the ends of the stages still to train (0 if none are).
    assert flat.num_images(flat.num_stages - 1, started) == (
        row['non_progressive_num_images']), row
    n += 2
  _report('stage_ids', n)


def test_magenta_compute_progress(magenta):
  n = 0
  for row in magenta['compute_progress']:
    ids = np.asarray(row['image_ids'], np.int64)
    want = np.asarray(row['progress'])
    got = schedule.compute_progress(ids, row['stable'], row['transition'],
                                    row['num_blocks']).numpy()
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-6, err_msg=str(
        {k: row[k] for k in ('stable', 'transition', 'num_blocks')}))
    n += len(ids)
    # Scalar Python ints, as TrainingSchedule.progress gets them.
    for i in (0, len(ids) // 3, len(ids) // 2, len(ids) - 1):
      got = float(schedule.compute_progress(int(ids[i]), row['stable'],
                                            row['transition'],
                                            row['num_blocks']))
      assert got == pytest.approx(want[i], abs=1e-6)
      n += 1
  _report('compute_progress', n)


def test_magenta_alphas(magenta):
  al = magenta['alphas']
  progress = al['progress']
  n = 0
  for block_id, g_want, d_want in zip(al['block_ids'], al['generator_alpha'],
                                      al['discriminator_alpha']):
    p32 = tf.constant(progress, tf.float32)
    np.testing.assert_allclose(schedule.generator_alpha(block_id, p32),
                               g_want, rtol=0, atol=1e-6)
    np.testing.assert_allclose(schedule.discriminator_alpha(block_id, p32),
                               d_want, rtol=0, atol=1e-6)
    for p, g, d in zip(progress, g_want, d_want):
      # Python floats in, Python floats out (float64 arithmetic).
      assert schedule.generator_alpha(block_id, p) == pytest.approx(
          g, abs=1e-6), (block_id, p)
      assert schedule.discriminator_alpha(block_id, p) == pytest.approx(
          d, abs=1e-6), (block_id, p)
    n += 4 * len(progress)
  _report('alphas', n)


def test_magenta_progress_from_time(magenta):
  n = 0
  for case in magenta['progress_from_time']:
    limit = case['train_time_limit']
    mult = case['train_time_stage_multiplier']
    nr = case['num_resolutions']
    want_times = np.asarray(case['stage_times'], np.float32)
    ours = schedule.stage_times(limit, mult, nr)
    assert ours.dtype == np.float32
    np.testing.assert_allclose(ours, want_times, rtol=1e-6, atol=0)
    ts = schedule.TrainingSchedule(num_resolutions=nr, train_time_limit=limit,
                                   train_time_stage_multiplier=mult)
    for s, t in enumerate(want_times):
      assert ts.stage_train_time_limit(s) == pytest.approx(float(t), rel=1e-6)
    n += 2 * len(want_times)
    times = np.asarray(case['train_times'], np.float32)
    for row in case['by_num_blocks']:
      got = schedule.compute_progress_from_time(
          times, nr, row['num_blocks'], want_times).numpy()
      np.testing.assert_allclose(got, row['progress'], rtol=0, atol=1e-6,
                                 err_msg=f'{case["stage_times"]} {row}')
      n += len(times)
  _report('progress_from_time', n)
