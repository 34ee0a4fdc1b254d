"""The built wheel works outside a checkout: it ships the gin configs and the
command-line entry points (pyproject.toml; gin_config.gin_dir)."""
import os
import pathlib
import shutil
import subprocess
import sys
import venv

import pytest

REPO = pathlib.Path(__file__).resolve().parent.parent
TOOLS = ('gansynth-tf2-train', 'gansynth-tf2-generate', 'gansynth-tf2-export',
         'gansynth-tf2-evaluate', 'gansynth-tf2-train-classifier',
         'gansynth-tf2-serve')


@pytest.fixture(scope='module')
def wheel_env(tmp_path_factory):
  """A fresh virtual environment holding the wheel built from this checkout.

  It sees the already installed dependencies (TensorFlow is too large to
  install again per test run) but not this checkout: the package is the
  wheel's copy.
  """
  root = tmp_path_factory.mktemp('wheel')
  # Built from a copy, so the build's own build/ and egg-info folders do not
  # land in the checkout.
  src = root / 'src'
  shutil.copytree(REPO, src, ignore=shutil.ignore_patterns(
      '.git', 'tests', 'out', 'runs', 'models', 'docs', '*.egg-info', 'build', '__pycache__'))
  build = subprocess.run(
      [sys.executable, '-m', 'pip', 'wheel', '-v', '--no-deps', '-w',
       str(root / 'dist'), str(src)], capture_output=True, text=True,
      timeout=600, check=False)
  assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
  # setuptools warned that a license table is deprecated (SPDX string now).
  warnings = [line for line in (build.stdout + build.stderr).lower().splitlines()
              if 'deprecat' in line and 'license' in line]
  assert not warnings, warnings
  (wheel,) = (root / 'dist').glob('gansynth_tf2-*.whl')
  env_dir = root / 'env'
  venv.EnvBuilder(system_site_packages=True, with_pip=False).create(env_dir)
  python = env_dir / 'bin' / 'python'
  install = subprocess.run(
      [str(python), '-m', 'pip', 'install', '--no-deps', '--no-index',
       str(wheel)], capture_output=True, text=True, timeout=600, check=False)
  assert install.returncode == 0, install.stdout[-3000:] + install.stderr[-3000:]
  return env_dir


def test_package_and_configs_come_from_the_wheel(wheel_env, tmp_path):
  result = subprocess.run(
      [str(wheel_env / 'bin' / 'python'), '-c',
       'import gansynth_tf2, os; from gansynth_tf2 import gin_config; '
       'print(os.path.dirname(gansynth_tf2.__file__)); '
       'print(gin_config.gin_dir())'],
      cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False)
  assert result.returncode == 0, result.stderr[-3000:]
  package_dir, gin_dir = result.stdout.split()[-2:]
  assert package_dir.startswith(str(wheel_env)), package_dir
  assert gin_dir == os.path.join(package_dir, 'gin')
  for tool in TOOLS:
    assert (wheel_env / 'bin' / tool).is_file(), tool
  # serve's page ships with the package.
  for name in ('index.html', 'app.js', 'style.css'):
    assert os.path.isfile(os.path.join(package_dir, 'web', name)), name


def test_installed_train_runs_a_shipped_config_from_another_folder(
    wheel_env, tmp_path):
  # A user's own config that includes a shipped one by its gin/ path, run
  # by the console script from a folder that is not the checkout.
  (tmp_path / 'mine.gin').write_text(
      (REPO / 'tests' / 'data' / 'train_small.gin').read_text())
  result = subprocess.run(
      [str(wheel_env / 'bin' / 'gansynth-tf2-train'), '--gin_file=mine.gin',
       '--train_dir=run', '--gin_param=train.stop_after_images=4'],
      cwd=tmp_path, capture_output=True, text=True, timeout=600, check=False)
  assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
  assert 'Done:' in result.stdout
  assert (tmp_path / 'run' / 'experiment.json').is_file()
  assert list((tmp_path / 'run').glob('stage_00000/ckpt-*.index'))
