"""tools/python_env.sh: which Python tools/setup.sh, test.sh and quickstart.sh
use (issue 10: `bash tools/quickstart.sh` failed at pip install on a system
Python that is externally managed, PEP 668, as on Debian 12 / Ubuntu 24.04)."""
import os
import pathlib
import subprocess
import sys
import venv

import pytest

REPO = pathlib.Path(__file__).resolve().parent.parent
HELPER = REPO / 'tools' / 'python_env.sh'

# The interpreter the shims run: this one, or the one its venv was made
# from (a venv's own python reports itself inside a venv).
BASE = getattr(sys, '_base_executable', None) or sys.executable

# Makes the interpreter report `stdlib` as the given folder, which holds an
# EXTERNALLY-MANAGED marker (as Debian's /usr/lib/python3.11 does) or not.
FAKE_SITE = '''
import sysconfig
_get_path = sysconfig.get_path
def get_path(name, *args, **kwargs):
  if name == 'stdlib':
    return {stdlib!r}
  return _get_path(name, *args, **kwargs)
sysconfig.get_path = get_path
'''


def _python3_shim(folder, python, managed):
  """A `python3` on PATH that runs `python`, externally managed or not."""
  folder.mkdir(parents=True)
  stdlib = folder / 'stdlib'
  stdlib.mkdir()
  if managed:
    (stdlib / 'EXTERNALLY-MANAGED').write_text('[externally-managed]\n')
  site = folder / 'site'
  site.mkdir()
  (site / 'sitecustomize.py').write_text(FAKE_SITE.format(stdlib=str(stdlib)))
  shim = folder / 'python3'
  shim.write_text(f'#!/bin/sh\nPYTHONPATH={site} exec {python} "$@"\n')
  shim.chmod(0o755)
  return folder


def _pick(root, path, **env):
  env = dict(PATH=f'{path}{os.pathsep}/usr/bin{os.pathsep}/bin', **env)
  result = subprocess.run(
      ['bash', '-c', f'. {HELPER} && python_env_pick {root} && '
                     'echo "$PYTHON|$PYTHON_ENV_VENV"'],
      env=env, capture_output=True, text=True, check=False, timeout=60)
  assert result.returncode == 0, result.stderr
  return result.stdout.strip().split('|')


@pytest.fixture
def managed(tmp_path):
  """python3 as on Debian 12: a marker beside the standard library."""
  return _python3_shim(tmp_path / 'managed', BASE, managed=True)


def test_externally_managed_python_gets_the_project_venv(tmp_path, managed):
  root = tmp_path / 'repo'
  assert _pick(root, managed) == [f'{root}/.venv/bin/python', f'{root}/.venv']
  # PYTHON stays the override.
  assert _pick(root, managed, PYTHON='/opt/py/bin/python3') == [
      '/opt/py/bin/python3', '']


def test_other_pythons_are_used_as_they_are(tmp_path):
  root = tmp_path / 'repo'
  plain = _python3_shim(tmp_path / 'plain', BASE, managed=False)
  assert _pick(root, plain) == ['python3', '']  # pyenv, conda, CI images
  # A .venv made earlier (or by hand) is the one used from then on.
  (root / '.venv' / 'bin').mkdir(parents=True)
  (root / '.venv' / 'bin' / 'python').symlink_to(BASE)
  assert _pick(root, plain) == [f'{root}/.venv/bin/python', f'{root}/.venv']


def test_an_active_virtual_environment_wins(tmp_path):
  env_dir = tmp_path / 'active'
  venv.EnvBuilder(with_pip=False, symlinks=True).create(env_dir)
  # Inside a venv the marker does not apply (as pip sees it), nor .venv.
  shim = _python3_shim(tmp_path / 'shim', env_dir / 'bin' / 'python',
                       managed=True)
  root = tmp_path / 'repo'
  (root / '.venv' / 'bin').mkdir(parents=True)
  (root / '.venv' / 'bin' / 'python').symlink_to(BASE)
  assert _pick(root, shim) == ['python3', '']


def test_gitignored():
  assert '/.venv/' in (REPO / '.gitignore').read_text().splitlines()


def test_a_real_externally_managed_system_python(tmp_path):
  """Debian 12's /usr/bin/python3 (where there is one), no fake marker."""
  system = pathlib.Path('/usr/bin/python3')
  if not system.exists():
    pytest.skip('no /usr/bin/python3')
  stdlib = subprocess.run(
      [str(system), '-c', 'import sysconfig; print(sysconfig.get_path("stdlib"))'],
      capture_output=True, text=True, check=True, timeout=60).stdout.strip()
  if not os.path.exists(os.path.join(stdlib, 'EXTERNALLY-MANAGED')):
    pytest.skip(f'{system} is not externally managed')
  root = tmp_path / 'repo'
  assert _pick(root, '/usr/bin') == [f'{root}/.venv/bin/python',
                                     f'{root}/.venv']
