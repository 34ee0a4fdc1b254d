"""Tests for gansynth_tf2/__init__.py: quiet command lines (issue 10).

On a machine without a GPU TensorFlow's start prints "E0000 ...
cuda_platform.cc:52] failed call to cuInit" (and cudart / oneDNN notices),
which reads as an error; with a GPU it logs its devices instead. The CLIs
hide these native lines unless asked.
"""
import os
import pathlib
import re
import subprocess
import sys

REPO = pathlib.Path(__file__).resolve().parent.parent
# glog/absl-style native log lines: "E0000 00:00:1795684073.09 ... file.cc:52]"
NATIVE_LINE = re.compile(r'^[IWEF]\d{4} [\d:.]+ +\d+ \S+\.cc:\d+\]', re.M)
# Which native lines TensorFlow prints depends on the machine (cuInit and
# cudart without a GPU driver, device creation with a GPU, oneDNN on x86), so
# the tests ask for one that every machine prints: the verbose log of the CPU
# device, which every TensorFlow process creates.
FORCED_VMODULE = 'local_device=1'
FORCED_LINE = re.compile(r'local_device\.cc:\d+\] LocalDevice using CPU')


def _generate(tmp_path, *extra, env_level=None):
  env = {k: v for k, v in os.environ.items() if k != 'TF_CPP_MIN_LOG_LEVEL'}
  env['TF_CPP_VMODULE'] = FORCED_VMODULE
  if env_level is not None:
    env['TF_CPP_MIN_LOG_LEVEL'] = env_level
  return subprocess.run(
      [sys.executable, '-m', 'gansynth_tf2.generate',
       f'--ckpt_dir={REPO / "models" / "cpu_small"}',
       f'--output_dir={tmp_path / "out"}', '--n=1', '--nopng', '--overwrite',
       *extra], cwd=tmp_path, env=env, capture_output=True, text=True,
      timeout=300, check=False)


def test_cli_hides_tensorflows_native_start_lines(tmp_path):
  quiet = _generate(tmp_path)
  assert quiet.returncode == 0, quiet.stderr[-2000:]
  assert 'wrote 1 clips' in quiet.stdout
  output = quiet.stdout + quiet.stderr
  assert not NATIVE_LINE.search(output), output
  assert 'cuInit' not in output and 'absl::InitializeLog' not in output
  assert not FORCED_LINE.search(output)
  # --verbosity shows them again: at least the line every machine prints
  # (with or without a GPU).
  loud = _generate(tmp_path, '--verbosity=0')
  assert loud.returncode == 0, loud.stderr[-2000:]
  assert FORCED_LINE.search(loud.stderr), loud.stderr[-2000:]
  assert NATIVE_LINE.search(loud.stderr), loud.stderr[-2000:]


def test_importing_the_package_changes_no_logging(tmp_path):
  """A library user's `import gansynth_tf2` leaves TensorFlow's settings
  alone: only the command lines quiet it."""
  env = {k: v for k, v in os.environ.items() if k != 'TF_CPP_MIN_LOG_LEVEL'}
  result = subprocess.run(
      [sys.executable, '-c', 'import os, sys, gansynth_tf2; '
       "print(os.environ.get('TF_CPP_MIN_LOG_LEVEL'), "
       "'tensorflow' in sys.modules)"],
      cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
      check=False)
  assert result.returncode == 0, result.stderr
  assert result.stdout.split() == ['None', 'False']
