#!/usr/bin/env python
"""Writes tests/data/magenta_schedule.json from MAGENTA'S OWN schedule code.

The fixture holds inputs and the outputs that Magenta 2.1.4's
`gansynth/lib/networks.py` and `gansynth/lib/train_util.py` (and, for the
time-limited stage end times, `gansynth/lib/model.py`) give for them.
`tests/test_schedule.py` compares `gansynth_tf2.schedule` against it. This
script only imports and calls Magenta; it contains none of Magenta's
arithmetic, and no test imports it.

Environment: Magenta 2.1.4 + tensorflow-gan 2.1.0 + tf-slim 1.1.0 on the
system TensorFlow 2.21 / tf-keras 2.21, made importable by the runtime stubs of
the oracle harness (`oracle_setup.py`, next to `magenta_env.sh`). Either

  pip install --no-deps --target /tmp/mgdeps \
      tensorflow-gan==2.1.0 tf-slim==1.1.0 magenta==2.1.4
  PYTHONPATH=/tmp/mgdeps python tools/make_schedule_fixture.py \
      --oracle_dir=../shared/oracle --out=tests/data/magenta_schedule.json

or run it with the venv python made by `magenta_env.sh`. `magenta/__init__.py`
(which pulls in unrelated note_seq pipelines) is bypassed at runtime here, so
the --target install needs no edits. CPU only; takes well under a minute.

What comes from where:
  * ResolutionSchedule.scale_factor / final_resolutions, min_total_num_images,
    compute_progress, compute_progress_from_time, _generator_alpha,
    _discriminator_alpha: networks.py, evaluated in a TF1 graph + Session (as
    Magenta runs them: the image id is an int64 tensor like the global step,
    train time / progress float32 tensors).
  * get_total_num_stages, get_stage_info, get_batch_size, get_stage_ids:
    train_util.py, called with Magenta's **kwargs hparams.
  * Stage end times of time-limited training: Magenta computes these inline in
    model.Model.__init__, so a Model is constructed (tiny config, fake
    dataset) and the `stage_times` array it passes to
    networks.compute_progress_from_time is recorded; construction is then
    aborted before any network is built.
  * Non-progressive num_images: the sum over get_stage_ids of get_stage_info,
    which is what Model.__init__ does with those two train_util functions.
"""

import argparse
import contextlib
import importlib.util
import io
import json
import os
import sys
import tempfile
import types

import numpy as np


HPARAM_SETS = {
    # configs/mel_prog_hires.py (the paper configuration).
    'mel_prog_hires': dict(scale_mode='ALL', start_height=2, start_width=16,
                           scale_base=2, num_resolutions=7,
                           stable_stage_num_images=800000,
                           transition_stage_num_images=800000,
                           total_num_images=11000000,
                           batch_size_schedule=[8]),
    # The tiny oracle: one 8-image step per stage.
    'tiny_8_8': dict(scale_mode='ALL', start_height=2, start_width=16,
                     scale_base=2, num_resolutions=7,
                     stable_stage_num_images=8, transition_stage_num_images=8,
                     total_num_images=256, batch_size_schedule=[8]),
    # Height-only growth, unequal stages, a padded multi-entry batch schedule,
    # and a total that cuts the stages short.
    'h_multi_batch': dict(scale_mode='H', start_height=4, start_width=8,
                          scale_base=2, num_resolutions=7,
                          stable_stage_num_images=10,
                          transition_stage_num_images=6,
                          total_num_images=70,
                          batch_size_schedule=[16, 8, 4]),
    # Few resolutions, base 3, full-length batch schedule, no transition
    # shorter than stable.
    'small_base3': dict(scale_mode='ALL', start_height=1, start_width=3,
                        scale_base=3, num_resolutions=3,
                        stable_stage_num_images=5,
                        transition_stage_num_images=12,
                        total_num_images=1000,
                        batch_size_schedule=[32, 16, 8]),
    'h_single': dict(scale_mode='H', start_height=2, start_width=16,
                     scale_base=2, num_resolutions=1,
                     stable_stage_num_images=7,
                     transition_stage_num_images=3,
                     total_num_images=40, batch_size_schedule=[4, 2]),
}

# (train_time_limit, train_time_stage_multiplier, num_resolutions)
TIME_SETS = [(130.0, 1.0, 7), (70.0, 2.0, 2), (1000.0, 1.5, 7),
             (345600.0, 1.2, 7), (50.0, 0.5, 4)]


def fixture_args(doc, out_name):
  """--oracle_dir and --out (default tests/data/OUT_NAME) of a fixture tool."""
  repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  parser = argparse.ArgumentParser(description=doc.splitlines()[0])
  parser.add_argument('--oracle_dir', default=os.path.join(
      repo, '..', 'shared', 'oracle'))
  parser.add_argument('--out', default=os.path.join(repo, 'tests', 'data',
                                                    out_name))
  return parser.parse_args()


def _import_magenta(oracle_dir):
  sys.path.insert(0, os.path.abspath(oracle_dir))
  spec = importlib.util.find_spec('magenta')
  if spec is None:
    raise SystemExit('magenta is not importable: put the --target dir on '
                     'PYTHONPATH or use the magenta_env.sh venv')
  # Bypass magenta/__init__.py (unrelated pipelines, heavy deps).
  pkg = types.ModuleType('magenta')
  pkg.__path__ = list(spec.submodule_search_locations)
  sys.modules['magenta'] = pkg
  import oracle_setup  # pylint: disable=g-import-not-at-top
  oracle_setup.setup()
  import tensorflow.compat.v1 as tf  # pylint: disable=g-import-not-at-top
  from magenta.models.gansynth.lib import model as mg_model  # pylint: disable=g-import-not-at-top
  from magenta.models.gansynth.lib import networks, train_util  # pylint: disable=g-import-not-at-top
  return tf, networks, train_util, mg_model, oracle_setup


def _image_ids(hp):
  s, t = hp['stable_stage_num_images'], hp['transition_stage_num_images']
  nr, total = hp['num_resolutions'], hp['total_num_images']
  ids = {0, 1, total, total + 1, 10 * total + 3}
  for k in range(nr + 1):
    base = k * (s + t)
    for d in (-1, 0, 1, s - 1, s, s + 1, s + t // 3, s + t // 2, s + t - 1):
      ids.add(base + d)
  return sorted(i for i in ids if i >= 0)


def main():
  ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  ap.add_argument('--oracle_dir', default='../shared/oracle')
  ap.add_argument('--out', default='tests/data/magenta_schedule.json')
  args = ap.parse_args()
  tf, networks, train_util, mg_model, oracle_setup = _import_magenta(
      args.oracle_dir)

  sess_config = tf.ConfigProto(intra_op_parallelism_threads=1,
                               inter_op_parallelism_threads=1,
                               device_count={'GPU': 0})
  fixture = {
      'about': ('Outputs of Magenta 2.1.4 gansynth networks.py / '
                'train_util.py / model.py for the inputs listed; made by '
                'tools/make_schedule_fixture.py. Floats are float32 values '
                'written as Python floats.'),
      'hparam_sets': HPARAM_SETS,
  }

  # --- ResolutionSchedule -------------------------------------------------
  res = []
  for name, hp in HPARAM_SETS.items():
    nr = hp['num_resolutions']
    start = (hp['start_height'], hp['start_width'])
    rs = networks.ResolutionSchedule(hp['scale_mode'], start,
                                     hp['scale_base'], nr)
    for block_id in range(0, nr + 2):
      try:
        sf = rs.scale_factor(block_id)
      except ValueError:
        sf = None  # Magenta raises ValueError
      # Block b's resolution = final resolution of a b-block schedule.
      reso = None
      if 1 <= block_id <= nr:
        reso = list(networks.ResolutionSchedule(
            hp['scale_mode'], start, hp['scale_base'],
            block_id).final_resolutions)
      res.append(dict(set=name, block_id=block_id, scale_factor=sf,
                      resolution=reso))
    res.append(dict(set=name, block_id='final',
                    resolution=list(rs.final_resolutions)))
  fixture['resolution_schedule'] = res

  # --- train_util stage arithmetic ----------------------------------------
  stages, totals = [], []
  for name, hp in HPARAM_SETS.items():
    n_stages = train_util.get_total_num_stages(**hp)
    totals.append(dict(num_resolutions=hp['num_resolutions'],
                       total_num_stages=n_stages))
    for stage_id in range(-1, 14):
      try:
        nb, ni = train_util.get_stage_info(stage_id, **hp)
        info = [nb, ni]
      except ValueError:
        info = None
      bs = None
      if 0 <= stage_id < n_stages:
        bs = train_util.get_batch_size(stage_id, **hp)
      stages.append(dict(set=name, stage_id=stage_id, stage_info=info,
                         batch_size=bs))
  fixture['total_num_stages'] = totals
  fixture['stages'] = stages

  # get_stage_ids on folders holding n stage_ dirs (+ unrelated entries), and
  # the non-progressive total image count Model.__init__ derives from them.
  stage_ids = []
  for name in ('mel_prog_hires', 'h_multi_batch', 'small_base3'):
    hp = HPARAM_SETS[name]
    for n_dirs in (0, 1, 2, 4, 5, 13):
      with tempfile.TemporaryDirectory() as root:
        with open(os.path.join(root, 'experiment.json'), 'w') as f:
          f.write('{}')
        os.mkdir(os.path.join(root, 'other'))
        for i in range(n_dirs):
          os.mkdir(os.path.join(root, 'stage_{:05d}'.format(i)))
        ids = train_util.get_stage_ids(train_root_dir=root, **hp)
        flat = 0
        for sid in ids:
          flat += train_util.get_stage_info(sid, **hp)[1]
      stage_ids.append(dict(set=name, num_stage_dirs=n_dirs, stage_ids=ids,
                            non_progressive_num_images=flat))
  fixture['stage_ids'] = stage_ids

  # --- compute_progress (TF1 graph, int64 image id like the global step) ---
  progress, min_totals = [], []
  with tf.Graph().as_default(), tf.Session(config=sess_config) as sess:
    image_id = tf.placeholder(tf.int64, [None])
    for name, hp in HPARAM_SETS.items():
      s, t = hp['stable_stage_num_images'], hp['transition_stage_num_images']
      ids = _image_ids(hp)
      for num_blocks in range(1, hp['num_resolutions'] + 1):
        min_totals.append(dict(stable=s, transition=t, num_blocks=num_blocks,
                               value=networks.min_total_num_images(
                                   s, t, num_blocks)))
        out = sess.run(networks.compute_progress(image_id, s, t, num_blocks),
                       {image_id: ids})
        progress.append(dict(stable=s, transition=t, num_blocks=num_blocks,
                             image_ids=ids,
                             progress=[float(v) for v in out]))
  fixture['min_total_num_images'] = min_totals
  fixture['compute_progress'] = progress

  # --- alphas (float32 progress tensor) -----------------------------------
  prog_values = sorted({round(x, 4) for x in np.arange(0.0, 7.25, 0.125)} |
                       {0.3, 1.7, 2.999, 3.001, 5.5, -0.5, 7.5})
  with tf.Graph().as_default(), tf.Session(config=sess_config) as sess:
    p = tf.placeholder(tf.float32, [None])
    g_out, d_out = [], []
    for block_id in range(1, 8):
      g, d = sess.run([networks._generator_alpha(block_id, p),  # pylint: disable=protected-access
                       networks._discriminator_alpha(block_id, p)],  # pylint: disable=protected-access
                      {p: prog_values})
      g_out.append([float(v) for v in g])
      d_out.append([float(v) for v in d])
  fixture['alphas'] = dict(block_ids=list(range(1, 8)), progress=prog_values,
                           generator_alpha=g_out, discriminator_alpha=d_out)

  # --- time-limited training -----------------------------------------------
  captured = {}

  class _Captured(Exception):
    pass

  real_cpft = networks.compute_progress_from_time

  def _capture(train_time, num_resolutions, num_blocks, stage_times):
    captured['stage_times'] = np.array(stage_times)
    raise _Captured()

  time_cases = []
  for limit, mult, nr in TIME_SETS:
    config = oracle_flags(mg_model, dict(
        dataset_name=oracle_setup.FAKE_DATASET_NAME, data_type='mel',
        num_resolutions=nr, train_time_limit=limit,
        train_time_stage_multiplier=mult, train_progressive=True,
        # final resolution 128 x 1024, as the mel specgrams need
        start_height=128 // 2**(nr - 1), start_width=1024 // 2**(nr - 1),
        stable_stage_num_images=8,
        transition_stage_num_images=8, total_num_images=256,
        batch_size_schedule=[8]))
    networks.compute_progress_from_time = _capture
    try:
      with tf.Graph().as_default(), contextlib.redirect_stdout(
          io.StringIO()):
        try:
          mg_model.Model(0, 8, config)  # prints the stage times
          raise RuntimeError('Model did not call compute_progress_from_time')
        except _Captured:
          pass
    finally:
      networks.compute_progress_from_time = real_cpft
    stage_times = captured.pop('stage_times')
    assert stage_times.dtype == np.float32, stage_times.dtype
    times = {0.0, 1e-3, 0.5 * limit, limit, 2.0 * limit}
    prev = 0.0
    for end in stage_times:
      end = float(end)
      for x in (end, end * 0.999, end * 1.001, (prev + end) / 2,
                prev + (end - prev) / 3):
        times.add(round(x, 6))
      prev = end
    times = sorted(times)
    rows = []
    with tf.Graph().as_default(), tf.Session(config=sess_config) as sess:
      tt = tf.placeholder(tf.float32, [None])  # Model: a float32 Variable
      for num_blocks in range(1, nr + 1):
        out = sess.run(networks.compute_progress_from_time(
            tt, nr, num_blocks, stage_times), {tt: times})
        rows.append(dict(num_blocks=num_blocks,
                         progress=[float(v) for v in out]))
    time_cases.append(dict(train_time_limit=limit,
                           train_time_stage_multiplier=mult,
                           num_resolutions=nr,
                           stage_times=[float(v) for v in stage_times],
                           train_times=times, by_num_blocks=rows))
  fixture['progress_from_time'] = time_cases

  os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
  with open(args.out, 'w') as f:
    json.dump(fixture, f, separators=(',', ':'))
    f.write('\n')
  print('wrote', args.out, os.path.getsize(args.out), 'bytes')


def oracle_flags(mg_model, overrides):
  """Magenta's default flags (model.set_flags) with `overrides` applied."""
  from magenta.models.gansynth.lib import flags as lib_flags  # pylint: disable=g-import-not-at-top
  flags = lib_flags.Flags()
  flags.load(overrides)
  mg_model.set_flags(flags)
  return flags


if __name__ == '__main__':
  main()
