"""Tests for gansynth_tf2.distribute and multi-replica training (issue 13).

A step on 2 replicas (2 logical CPU devices in one process, and 2 local
worker processes in a loopback cluster) is compared with the same global
batch on one device. Each replica computes the minibatch stddev over its own
batch (as Magenta's towers did), so the one-device reference uses the
discriminator's `stddev_group_size` = the per-replica batch; without it the
two differ, which is checked too. The multi-replica steps run in processes
of their own because a process's devices and cluster are fixed once
TensorFlow runs (tests/multi_replica_step.py, tests/data/distribute_tiny.gin);
the one-device step runs in the test process. Two clusters in all: the
2-worker step's processes go on to train until a worker is killed, then the
command line restarts them.
"""
import json
import os
import pathlib
import re
import signal
import socket
import subprocess
import sys
import time
import types

import numpy as np
import pytest
import tensorflow as tf

from gansynth_tf2 import distribute
from gansynth_tf2 import layers
from gansynth_tf2 import schedule
from gansynth_tf2 import trainer as trainer_lib
from gansynth_tf2.data import default

REPO = pathlib.Path(__file__).resolve().parent.parent
STEP_SCRIPT = REPO / 'tests' / 'multi_replica_step.py'
TINY_GIN = REPO / 'tests' / 'data' / 'distribute_tiny.gin'
# Relative agreement of a 2-replica step with one device: float32 sums in
# another order (measured: weights 2e-6, losses 1.2e-6, Adam moments 4e-6).
RTOL = 1e-5


def _env():
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL='2')
  env.pop('TF_CONFIG', None)
  return env


def _free_ports(n):
  socks = [socket.socket() for _ in range(n)]
  for s in socks:
    s.bind(('localhost', 0))
  ports = [s.getsockname()[1] for s in socks]
  for s in socks:
    s.close()
  return ports


def _tf_config(ports, index):
  return json.dumps({'cluster': {'worker': [f'localhost:{p}' for p in ports]},
                     'task': {'type': 'worker', 'index': index}})


def _run_step(mode, train_dir, out, *extra, timeout=300):
  proc = subprocess.run(
      [sys.executable, str(STEP_SCRIPT), mode, f'--train_dir={train_dir}',
       f'--out={out}', *extra], cwd=REPO, env=_env(), capture_output=True,
      text=True, timeout=timeout, check=False)
  assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
  return np.load(out)


def _differences(reference, other):
  """{group: largest difference} where each variable's difference is
  relative to its own largest value, except Adam's moments: relative to the
  largest moment of their network (a bias whose gradient cancels to ~1e-4
  of its terms keeps float32's absolute rounding, ~1e-3 of itself)."""
  scale = {}
  for key in reference.files:
    group = key.split('/')[0]
    if group in ('gopt', 'dopt') and key.endswith(('momentum', 'velocity')):
      kind = (group, key.rsplit('_', 1)[-1])
      scale[kind] = max(scale.get(kind, 0.0),
                        float(np.max(np.abs(reference[key]))))
  worst = {}
  for key in reference.files:
    if key == 'replicas':
      continue
    a = np.asarray(reference[key], np.float64)
    b = np.asarray(other[key], np.float64)
    group = key.split('/')[0]
    kind = (group, key.rsplit('_', 1)[-1])
    denominator = scale.get(kind) or max(float(np.max(np.abs(a))), 1e-30)
    worst[group] = max(worst.get(group, 0.0),
                       float(np.max(np.abs(a - b))) / denominator)
  return worst


@pytest.fixture(scope='module')
def one_device(tmp_path_factory):
  """The one-device step (groups of 4 and the whole batch) and its run dir.
  One device needs no process of its own: multi_replica_step's `single`
  mode runs here (the default strategy)."""
  import multi_replica_step  # pylint: disable=import-outside-toplevel
  root = tmp_path_factory.mktemp('distribute')
  run = root / 'run'
  multi_replica_step.run('single', run, root / 'single_g4.npz', group=4,
                         whole_out=root / 'single_whole.npz')
  return {'root': root, 'run': run,
          'grouped': np.load(root / 'single_g4.npz'),
          'whole': np.load(root / 'single_whole.npz')}


def _check_equal_to_one_device(one_device, result):
  assert int(result['replicas']) == 2
  assert int(result['image_id']) == int(one_device['grouped']['image_id'])
  worst = _differences(one_device['grouped'], result)
  print('2 replicas vs one device (groups of 4), largest relative '
        f'differences: {worst}')
  assert max(worst.values()) <= RTOL, worst
  # The grouping is what makes them equal: with one stddev over the whole
  # batch of 8 the step differs (Adam's first step moves weights by +-lr,
  # so a flipped gradient sign shows as a relative difference of 2).
  without = _differences(one_device['whole'], result)
  print(f'vs one device, whole-batch stddev: {without}')
  # (measured: losses 3e-2, G 2, D 7e-4)
  assert without['loss'] > 1e3 * RTOL and without['g'] > 1e3 * RTOL
  assert without['d'] > 10 * RTOL


def test_two_logical_devices_equal_one_device(one_device):
  result = _run_step('mirrored', one_device['run'],
                     one_device['root'] / 'mirrored.npz', '--cpu_replicas=2')
  _check_equal_to_one_device(one_device, result)


def test_two_workers_equal_one_device(one_device, killed_cluster):
  results = [np.load(one_device['root'] / f'worker{i}.npz') for i in (0, 1)]
  _check_equal_to_one_device(one_device, results[0])
  # Both workers hold the same weights after the step.
  assert max(_differences(results[0], results[1]).values()) == 0.0


# The step's pieces.


def test_grouped_stddev_is_the_per_replica_statistic():
  x = tf.random.stateless_normal([8, 2, 3, 4], seed=[1, 2])
  grouped = layers.minibatch_mean_stddev(x, group_size=4)
  halves = [layers.minibatch_mean_stddev(x[:4]),
            layers.minibatch_mean_stddev(x[4:])]
  np.testing.assert_allclose(grouped.numpy(),
                             np.repeat(np.stack(halves), 4), rtol=1e-6)
  assert float(halves[0]) != pytest.approx(float(halves[1]))
  np.testing.assert_allclose(
      layers.minibatch_mean_stddev(x, group_size=8).numpy(),
      np.full([8], float(layers.minibatch_mean_stddev(x))), rtol=1e-6)
  # A batch smaller than a group is one group (the network's build call).
  assert layers.minibatch_mean_stddev(x[:1], group_size=4).shape == [1]
  concat = layers.scalar_concat(tf.zeros([8, 2, 3, 1]), grouped)
  np.testing.assert_allclose(concat[:, 1, 2, 1].numpy(), grouped.numpy())


def test_strategy_names_and_bad_settings(monkeypatch):
  assert distribute.make_strategy('default') is tf.distribute.get_strategy()
  with pytest.raises(ValueError, match='one of default, mirrored'):
    distribute.make_strategy('parameter_server')
  with pytest.raises(ValueError, match='mirrored only'):
    distribute.make_strategy('default', cpu_replicas=2)
  with pytest.raises(ValueError, match='must be >= 1'):
    distribute.set_cpu_replicas(0)
  # This process has long set up its devices.
  with pytest.raises(ValueError, match='before anything runs'):
    distribute.make_strategy('mirrored', cpu_replicas=3)
  monkeypatch.setenv('TF_CONFIG', '{"cluster": {"worker": ["a:1"]}, '
                     '"task": {"type": "worker", "index": 5}}')
  with pytest.raises(ValueError, match='TF_CONFIG must be JSON like'):
    distribute.make_strategy('multi_worker')
  monkeypatch.setenv('TF_CONFIG', 'not json')
  with pytest.raises(ValueError, match='TF_CONFIG'):
    distribute.make_strategy('multi_worker')


def test_roles_without_a_cluster():
  strategy = tf.distribute.get_strategy()
  assert distribute.is_chief(strategy)
  assert distribute.num_workers(strategy) == 1
  assert distribute.worker_name(strategy) == ''
  assert distribute.replicas_in_sync(1) == '1 replica in sync'
  assert distribute.replicas_in_sync(2) == '2 replicas in sync'
  distribute.barrier(strategy)  # one process: returns at once


# The command line.


def _cli(train_dir, *args):
  return [sys.executable, '-m', 'gansynth_tf2.train',
          f'--gin_file={TINY_GIN}', f'--train_dir={train_dir}', *args]


def _saved(output):
  """[(checkpoint path, image_id)] in the order the run printed them."""
  return [(m.group(1), int(m.group(2))) for m in
          re.finditer(r'Saved (\S+) at image_id (\d+)', output)]


def _run_cli(train_dir, *args):
  proc = subprocess.run(_cli(train_dir, *args), cwd=REPO, env=_env(),
                        capture_output=True, text=True, timeout=400,
                        check=False)
  assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
  return proc.stdout


def test_cli_mirrored_resumes_the_same_stage_and_image_count(tmp_path,
                                                            run_main):
  run = tmp_path / 'run'
  # 24 images (3 global steps) per stage; the first run stops inside stage 0.
  mirrored = ['--strategy=mirrored', '--cpu_replicas=2',
              '--gin_param=hparams.stable_stage_num_images=24',
              '--gin_param=hparams.transition_stage_num_images=24']
  first = _run_cli(run, *mirrored, '--gin_param=train.stop_after_images=16')
  assert 'Stage 0: 1 blocks, batch 8 (2 replicas in sync)' in first
  assert re.search(r'^stage 0/8 .* \| 2 replicas in sync$', first, re.M), first
  last_path, last_image = _saved(first)[-1]
  assert last_image == 16 and 'stage_00000' in last_path
  second = _run_cli(run, *mirrored, '--gin_param=train.stop_after_images=24')
  assert (f'Stage 0: 1 blocks, batch 8 (2 replicas in sync), image_id 16 -> '
          f'24; resumed {last_path}') in second
  assert _saved(second)[-1][1] == 24
  # A flag and a gin binding of the same setting must agree (refused before
  # any device is set up, so train's main runs in this process).
  from gansynth_tf2 import train  # pylint: disable=import-outside-toplevel
  clash = run_main(train, _cli(tmp_path / 'clash', '--strategy=mirrored',
                               "--gin_param=train.strategy='default'")[3:])
  assert clash.returncode == 1
  assert ('ERROR: --strategy=mirrored contradicts the gin binding '
          "train.strategy = 'default'") in clash.stdout
  assert not (tmp_path / 'clash').exists()


def test_global_batch_must_split_over_the_replicas(tmp_path):
  from gansynth_tf2 import train  # pylint: disable=import-outside-toplevel
  hp = train.hparams_from_gin_files([str(TINY_GIN)])
  three = types.SimpleNamespace(num_replicas_in_sync=3)  # fails before use
  with pytest.raises(ValueError, match=r'batch size 8 \(the global batch\) '
                     'does not split over 3 replicas'):
    trainer_lib.StageTrainer(0, hp, schedule.TrainingSchedule.from_hparams(hp),
                             str(tmp_path), default.DefaultDataset(), three)


def _start_cluster(run, ports, logs, *args):
  procs = []
  for index in range(2):
    env = dict(_env(), TF_CONFIG=_tf_config(ports, index))
    procs.append(subprocess.Popen(
        _cli(run, '--strategy=multi_worker', *args), cwd=REPO, env=env,
        stdout=open(logs[index], 'w'), stderr=subprocess.STDOUT))
  return procs


# Long enough not to finish before the kill; a checkpoint after each step.
LONG_RUN = ['hparams.stable_stage_num_images=400',
            'hparams.transition_stage_num_images=400',
            'hparams.total_num_images=4000']


@pytest.fixture(scope='module')
def killed_cluster(one_device):
  """One 2-worker cluster serves both cluster tests: each worker first takes
  the fed step from one_device's checkpoint (into worker<i>.npz), then the
  same processes run train's command line (its main, on their cluster) into
  a fresh run, until worker 1 is killed with SIGKILL. The real command line
  then restarts both workers (new ports, as after a crash)."""
  root = one_device['root']
  run = root / 'killed_run'
  logs = [root / 'chief.log', root / 'worker1.log']
  ports = _free_ports(2)
  procs = []
  for index in range(2):
    env = dict(_env(), TF_CONFIG=_tf_config(ports, index))
    procs.append(subprocess.Popen(
        [sys.executable, str(STEP_SCRIPT), 'multi_worker',
         f'--train_dir={one_device["run"]}',
         f'--out={root / f"worker{index}.npz"}', f'--then_train_dir={run}'] +
        [f'--then_gin_param={p}' for p in LONG_RUN],
        cwd=REPO, env=env, stdout=open(logs[index], 'w'),
        stderr=subprocess.STDOUT))
  try:
    deadline = time.time() + 300
    while time.time() < deadline:
      saved = _saved(logs[0].read_text())
      if saved and saved[-1][1] >= 16:
        break
      assert procs[0].poll() is None, logs[0].read_text()[-3000:]
      time.sleep(0.5)
    else:
      pytest.fail('the cluster made no progress: ' + logs[0].read_text())
    procs[1].send_signal(signal.SIGKILL)
    procs[0].wait(timeout=180)
  finally:
    for p in procs:
      if p.poll() is None:
        p.kill()
        p.wait(timeout=30)
  killed = {'returncode': procs[0].returncode, 'chief': logs[0].read_text()}
  _, last_image = _saved(killed['chief'])[-1]
  restart_logs = [root / 'chief_restart.log', root / 'worker1_restart.log']
  procs = _start_cluster(run, _free_ports(2), restart_logs,
                         *[f'--gin_param={p}' for p in LONG_RUN],
                         f'--gin_param=train.stop_after_images={last_image + 8}')
  try:
    for p in procs:
      p.wait(timeout=300)
  finally:
    for p in procs:
      if p.poll() is None:
        p.kill()
        p.wait(timeout=30)
  restarted = {'returncodes': [p.returncode for p in procs],
               'chief': restart_logs[0].read_text(),
               'worker': restart_logs[1].read_text()}
  return killed, restarted


def test_killed_worker_stops_the_run_and_restart_resumes(killed_cluster):
  killed, restarted = killed_cluster
  chief = killed['chief']
  assert killed['returncode'] == 1, chief[-3000:]
  assert 'ERROR: a worker of the 2-worker cluster stopped responding' in chief
  assert 'Restart every worker with the same command' in chief
  print(next(l for l in chief.splitlines() if l.startswith('ERROR')))
  last_path, last_image = _saved(chief)[-1]
  assert f"chief's last checkpoint ({last_path})" in chief
  # Restarted by the command line: every worker resumes from the chief's last
  # checkpoint, no image of it lost.
  chief, worker = restarted['chief'], restarted['worker']
  assert restarted['returncodes'][0] == 0, chief[-3000:]
  assert restarted['returncodes'][1] == 0, worker[-3000:]
  assert f'image_id {last_image} -> 400; resumed {last_path}' in chief
  assert f'worker 1: Stage 0: 1 blocks, batch 8 (2 replicas in sync, 2 ' \
         f'workers), image_id {last_image}' in worker
  assert _saved(chief)[-1][1] == last_image + 8
  assert not _saved(worker)  # only the chief writes
