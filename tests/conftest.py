"""Shared pytest setup: quiet TensorFlow, deterministic seeds, fixture paths."""
import os
import pathlib

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
