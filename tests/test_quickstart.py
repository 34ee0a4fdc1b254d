"""The quick start's pieces: gin/cpu_small.gin, the shipped models/cpu_small,
tools/check_pitch.py and tools/make_melody.py (issue 9: training learns).

Each tool's command line runs once as a process; the other runs call its
`main` in this process (a Python + TensorFlow start saved each)."""
import contextlib
import importlib.util
import io
import json
import pathlib
import subprocess
import sys

import gin
import numpy as np
import tensorflow as tf

from gansynth_tf2 import gin_config
from gansynth_tf2 import midi
from gansynth_tf2 import schedule
from gansynth_tf2 import train
from gansynth_tf2 import trainer as trainer_lib
from gansynth_tf2.data import default

REPO = pathlib.Path(__file__).resolve().parent.parent
CPU_SMALL = REPO / 'gin' / 'cpu_small.gin'
SHIPPED = REPO / 'models' / 'cpu_small'
# The trained pitches (every third from 24) within 36..84, as quickstart.sh.
PITCHES = list(range(36, 85, 3))


def test_cpu_small_config_binds_what_it_says():
  hp = train.hparams_from_gin_files([str(CPU_SMALL)])
  assert hp.simple_arch and hp.latent_vector_size == 64
  assert hp.audio_length == 8192 and hp.data_type == 'mel'
  rs = schedule.ResolutionSchedule.from_hparams(hp)
  assert rs.final_resolutions == (32, 512)  # nfft 1024, hop 256
  gin.clear_config()
  gin_config.parse_gin([str(CPU_SMALL)], [])
  try:
    # train()'s own bindings: a binding that took no effect would read 0.999.
    assert gin.query_parameter('train.ema_decay') == 0.99
    assert gin.query_parameter('DefaultDataset.audio_length') == 8192
  finally:
    gin.clear_config()


def test_cpu_small_last_stage_steps(tmp_path):
  hp = train.hparams_from_gin_files([str(CPU_SMALL)])
  sched = schedule.TrainingSchedule.from_hparams(hp)
  t = trainer_lib.StageTrainer(sched.num_stages - 1, hp, sched, str(tmp_path),
                               default.DefaultDataset(audio_length=8192),
                               tf.distribute.get_strategy(), ema_decay=0.99)
  real, labels = next(t.real_batches())
  assert real.shape == (8, 32, 512, 2)
  values, _, _ = t.run_step(real, labels)
  assert all(np.isfinite(v) for v in values.values())


def _run(*args, timeout=600):
  return subprocess.run([sys.executable, *map(str, args)], cwd=REPO,
                        capture_output=True, text=True, timeout=timeout,
                        check=False)


def _run_tool(script, *args):
  """tools/<script> (argparse, `main()` returns the exit status) in this
  process: `_run(script, *args)` without starting Python."""
  path = REPO / script
  spec = importlib.util.spec_from_file_location(path.stem, path)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  out, err = io.StringIO(), io.StringIO()
  argv = [str(path), *map(str, args)]
  saved, sys.argv = sys.argv, argv
  try:
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
      try:
        code = module.main()
      except SystemExit as e:  # argparse's errors
        code = e.code
  finally:
    sys.argv = saved
  return subprocess.CompletedProcess(argv, code or 0, out.getvalue(),
                                     err.getvalue())


def test_shipped_model_plays_the_asked_pitch(tmp_path, run_main):
  """The quick start's notes, through the same CLIs quickstart.sh runs (their
  `main`s in this process): issue 9 asks for >= 75% within 0.5 semitone
  (pYIN), 13 of these 17 (the shipped model measured 17 of 17 on the dev
  machine; README). Also that the check can fail."""
  from gansynth_tf2 import generate  # pylint: disable=import-outside-toplevel
  notes = tmp_path / 'notes'
  result = run_main(generate, [f'--ckpt_dir={SHIPPED}',
                               f'--output_dir={notes}',
                               '--pitches=' + ','.join(map(str, PITCHES)),
                               '--seed=0'])
  assert result.returncode == 0, result.stderr[-3000:]
  result = _run_tool('tools/check_pitch.py', f'--notes_dir={notes}',
                     '--min_fraction=0.75')
  print(result.stdout)
  assert result.returncode == 0, result.stdout + result.stderr[-2000:]
  ok, total = map(int, result.stdout.strip().splitlines()[-1].split()[0]
                  .split('/'))
  assert total == len(PITCHES) and ok >= 13
  # A wrong pitch in the JSON must be caught: shift every asked pitch by 4.
  meta = json.loads((notes / 'generated.json').read_text())
  for entry in meta['files']:
    entry['pitch'] += 4
  (notes / 'generated.json').write_text(json.dumps(meta))
  result = _run_tool('tools/check_pitch.py', f'--notes_dir={notes}',
                     '--min_fraction=0.75')
  assert result.returncode == 1, result.stdout


def test_check_pitch_bad_folder(tmp_path):
  result = _run('tools/check_pitch.py', f'--notes_dir={tmp_path}')
  assert result.returncode == 1
  assert 'generated.json' in result.stderr and 'Traceback' not in result.stderr


def test_make_melody_writes_a_playable_file(tmp_path):
  path = tmp_path / 'melody.mid'
  result = _run('tools/make_melody.py', f'--output={path}', '--pitches=48,60')
  assert result.returncode == 0, result.stderr
  notes, _ = midi.load_midi(str(path), 24, 84)
  assert list(notes.pitches) == [48, 60, 48]
  assert np.all(np.diff(notes.start_times) > 0)


def test_slim_checkpoint_generates_the_same_notes(tmp_path):
  """tools/slim_checkpoint.py (how models/cpu_small was made) keeps both
  generators bit for bit; applied here to the shipped model itself."""
  import gansynth_tf2  # pylint: disable=import-outside-toplevel
  out = tmp_path / 'slim'
  result = _run('tools/slim_checkpoint.py', f'--train_dir={SHIPPED}',
                f'--output_dir={out}')
  assert result.returncode == 0, result.stderr[-2000:]
  for use_ema in (True, False):
    a = gansynth_tf2.load_model(SHIPPED, use_ema=use_ema, batch_size=4)
    b = gansynth_tf2.load_model(out, use_ema=use_ema, batch_size=4)
    z = a.generate_z(4, seed=1)
    np.testing.assert_array_equal(a.generate_from_z(z, [48, 60, 72, 84]),
                                  b.generate_from_z(z, [48, 60, 72, 84]))
  assert a.progress == b.progress
  result = _run_tool('tools/slim_checkpoint.py',
                     f'--train_dir={tmp_path / "no"}',
                     f'--output_dir={tmp_path / "x"}')
  assert result.returncode == 1 and 'ERROR' in result.stderr
  assert not (tmp_path / 'x').exists()
