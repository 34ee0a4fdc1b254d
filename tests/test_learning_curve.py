"""Tests for tools/learning_curve.py: issue 9's learning curve (PA, FID, NDB
vs images) of a training run, end to end on a tiny run.

Its own file (so the 2-worker suite can run it beside test_evaluate.py); it
uses that file's tiny ingredients, built once per test run for both files:
10 synthesized real notes, a random width-1/32 classifier, a checkpoint of
the tiny config's stage 0.
"""
import json
import math
import os
import pathlib
import shutil
import subprocess
import sys

import pytest

import test_evaluate as te  # tests/ is on sys.path (no __init__.py)
# The session fixtures (built once per run, shared with test_evaluate.py).
from test_evaluate import classifier_dir  # noqa: F401 pylint: disable=unused-import
from test_evaluate import ours_dir  # noqa: F401 pylint: disable=unused-import
from test_evaluate import real_dir  # noqa: F401 pylint: disable=unused-import

REPO = pathlib.Path(__file__).resolve().parent.parent
NUM_SAMPLES = te.NUM_SAMPLES
NDB_K = te.NDB_K


def test_learning_curve_tool_follows_every_checkpoint(tmp_path, ours_dir,
                                                      classifier_dir):
  """tools/learning_curve.py (issue 9's learning-curve PNG): initialisation,
  each stage's latest checkpoint and, with --every_checkpoint, the earlier
  checkpoints of the last stage; real data from experiment.json."""
  run = tmp_path / 'run'
  shutil.copytree(ours_dir, run)
  stage = run / 'stage_00000'
  for f in list(stage.glob('ckpt-1.*')):
    shutil.copy(f, stage / f.name.replace('ckpt-1', 'ckpt-0'))
  out = tmp_path / 'curve'
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL='2',
             GANSYNTH_TF2_CACHE=str(tmp_path / 'cache'))
  result = subprocess.run(
      [sys.executable, str(REPO / 'tools' / 'learning_curve.py'),
       f'--train_dir={run}', f'--classifier_dir={classifier_dir}',
       f'--num_samples={NUM_SAMPLES}', f'--ndb_k={NDB_K}', '--every_checkpoint',
       f'--output_json={out}.json', f'--output_png={out}.png'],
      cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
      check=False)
  assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
  curve = json.loads(pathlib.Path(f'{out}.json').read_text())
  names = [p['point'] for p in curve['points']]
  assert names == ['init', 'stage 0 ckpt-0', 'stage 0']
  assert curve['points'][1]['ckpt_dir'] == curve['points'][2]['ckpt_dir']
  # The same weights under two names score the same; the fresh network not.
  assert curve['points'][1]['FID'] == pytest.approx(curve['points'][2]['FID'])
  assert curve['points'][0]['FID'] != pytest.approx(curve['points'][2]['FID'])
  assert all(math.isfinite(p['FID']) for p in curve['points'])
  assert pathlib.Path(f'{out}.png').stat().st_size > 1000
  result = subprocess.run(
      [sys.executable, str(REPO / 'tools' / 'learning_curve.py'),
       f'--train_dir={tmp_path / "nope"}'], cwd=tmp_path, env=env,
      capture_output=True, text=True, timeout=120, check=False)
  assert result.returncode != 0 and 'is not a folder' in result.stderr
