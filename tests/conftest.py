"""Shared pytest setup: quiet TensorFlow, deterministic seeds, fixture paths."""
import os
import pathlib
import subprocess
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

DATA_DIR = pathlib.Path(__file__).parent / "data"


def pytest_addoption(parser):
  parser.addoption("--runslow", action="store_true", default=False,
                   help="also run full-size (slow) tests")


# tools/test.sh runs the suite on 2 workers (pytest-xdist, --dist loadgroup).
# Tests of one file stay on one worker, so its module fixtures are built once,
# except in these files, whose tests are long and independent: each goes
# where a worker is free, grouped only with the tests sharing its fixture.
SPLIT_FILES = {"test_train.py": {"killed_and_resumed", "trainer"}}


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
  for item in items:
    group = item.path.stem
    shared = SPLIT_FILES.get(item.path.name)
    if shared is not None:
      uses = sorted(shared & set(item.fixturenames))
      group = f"{item.path.stem}-{uses[0] if uses else item.name}"
    item.add_marker(pytest.mark.xdist_group(group))
  if config.getoption("--runslow"):
    return
  skip_slow = pytest.mark.skip(reason="slow: opt in with --runslow")
  for item in items:
    if "slow" in item.keywords:
      item.add_marker(skip_slow)


@pytest.fixture(scope="session", autouse=True)
def private_data_cache(tmp_path_factory):
  """Datasets the tests build (the embedded default, evaluation statistics)
  go to a cache of this test run, never the user's ~/.cache/gansynth_tf2.

  The pytest-xdist workers of one run share it (their base temp folders
  have one parent), so the default dataset is rendered once or twice per
  run, not per test; pytest removes old runs' folders. Set
  GANSYNTH_TF2_TEST_CACHE to reuse a cache across runs. Subprocesses
  (the command-line tests) inherit the variable.
  """
  base = tmp_path_factory.getbasetemp()
  if os.environ.get("PYTEST_XDIST_WORKER"):
    base = base.parent
  cache = os.environ.get("GANSYNTH_TF2_TEST_CACHE") or str(base / "cache")
  old = os.environ.get("GANSYNTH_TF2_CACHE")
  os.environ["GANSYNTH_TF2_CACHE"] = cache
  yield cache
  if old is None:
    del os.environ["GANSYNTH_TF2_CACHE"]
  else:
    os.environ["GANSYNTH_TF2_CACHE"] = old


@pytest.fixture(scope="session")
def oracle():
  """Magenta's reference outputs for the tiny checkpoint (tests/data/oracle)."""
  with np.load(DATA_DIR / "oracle" / "reference.npz") as f:
    return {k: f[k] for k in f.files}


@pytest.fixture(scope="session")
def oracle_ckpt_dir():
  return DATA_DIR / "oracle" / "ckpt"


@pytest.fixture(scope="session")
def run_main():
  """Runs an absl command line's `main` in this process, as `app.run` would
  from a shell, and returns a `subprocess.CompletedProcess` (returncode,
  stdout, stderr): `run_main(module, ['--flag=value', ...])`.

  The module's `define_flags` fills a fresh `flags.FlagValues` where it
  takes one (`define_flags(flag_values)`, `main(argv, flag_values)`), else
  absl's global FLAGS, from which its flags are removed again afterwards, so
  tools with flags of the same name do not clash. Exits come back as the
  shell would see them: `SystemExit(n)`, `sys.exit('message')` (the
  message on stderr, code 1), a flag or usage error (code 1). gin's config
  is cleared before and after. Session-scoped, so module fixtures can use
  it: what `main` prints to sys.stdout / sys.stderr is collected by
  redirecting them. This saves a Python + TensorFlow start per
  call; each tool keeps at least one test that runs its real command line.
  """
  import contextlib  # pylint: disable=import-outside-toplevel
  import inspect  # pylint: disable=import-outside-toplevel
  import io  # pylint: disable=import-outside-toplevel
  import gin  # pylint: disable=import-outside-toplevel
  from absl import app  # pylint: disable=import-outside-toplevel
  from absl import flags  # pylint: disable=import-outside-toplevel

  def takes_flag_values(function):
    return 'flag_values' in inspect.signature(function).parameters

  def run(module, argv):
    argv = [str(a) for a in argv]
    prog = module.__name__
    if takes_flag_values(module.define_flags):
      flag_values, added = flags.FlagValues(), ()
      module.define_flags(flag_values)
    else:
      flag_values = flags.FLAGS
      before = set(flag_values)
      module.define_flags()
      added = set(flag_values) - before
    code, message = 0, ''
    out, err = io.StringIO(), io.StringIO()
    gin.clear_config()
    try:
      with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
          rest = flag_values([prog] + argv)
        except flags.Error as e:
          raise app.UsageError(str(e)) from None
        if takes_flag_values(module.main):
          module.main(rest, flag_values)
        else:
          module.main(rest)
    except app.UsageError as e:
      code, message = 1, f'FATAL Flags parsing error: {e}'
    except SystemExit as e:
      if isinstance(e.code, str):
        code, message = 1, e.code
      else:
        code = 0 if e.code is None else e.code
    finally:
      gin.clear_config()
      for name in added:
        delattr(flag_values, name)
      if added:
        flag_values.unparse_flags()
    out, err = out.getvalue(), err.getvalue()
    if message:
      err += message + '\n'
    return subprocess.CompletedProcess([sys.executable, '-m', prog] + argv,
                                       code, out, err)

  return run
