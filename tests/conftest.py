"""Shared pytest setup: quiet TensorFlow, deterministic seeds, fixture paths."""
import collections
import fnmatch
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


# tools/test.sh runs the suite on 2 workers (pytest-xdist, --dist loadgroup
# --no-loadscope-reorder). Tests of one file stay on one worker, so its module
# fixtures are built once, except in SPLIT_FILES, whose tests are long and
# independent: there each test goes where a worker is free, grouped only
# with the tests sharing a module-scoped fixture with it.
SPLIT_FILES = {"test_train.py", "test_distribute.py", "test_quickstart.py"}

# Longest first: xdist hands out groups in the order of the collected items
# (with --no-loadscope-reorder; by default it orders them by test count, so
# the longest chains started last), so the items are sorted by these
# estimates of a group's seconds on the 2-core machine (measured with
# `bash tools/test.sh`, whose last lines list the slowest tests; patterns as
# fnmatch, first match; others: 0.1 s per test). Only the order depends on them: keep the
# big ones roughly current when a test's cost changes. Last measured on the AMX Xeon,
# 2026-12-06 (`pytest -n 2 --durations=0`, setup + call + teardown per group: 1,113 s in
# all, 9 min 36 s wall).
GROUP_SECONDS = [
    ("test_train-killed_and_resumed", 131),
    ("test_inversion", 104),
    ("test_precision", 93),
    ("test_export", 81),
    ("test_distribute-one_device", 71),
    ("test_latents", 36),
    ("test_trainer", 33),
    ("test_generate", 32),
    ("test_evaluate", 31),
    ("test_instrument", 30),
    ("test_serve", 29),
    ("test_distribute-test_cli_mirrored_resumes_the_same_stage_and_image_count", 26),
    ("test_classifier", 26),
    ("test_magenta_checkpoint", 24),
    ("test_train-test_sigterm_saves_after_the_step_and_the_same_command_resumes", 24),
    ("test_data_soundfont", 23),
    ("test_model", 19),
    ("test_specgrams", 18),
    ("test_data_folders", 17),
    ("test_train-test_checkpoint_on_a_full_disk_keeps_the_last_one_and_resumes", 16),
    ("test_learning_curve", 15),
    ("test_wheel", 14),
    ("test_package", 14),
    ("test_quickstart-test_shipped_model_plays_the_asked_pitch", 13),
    ("test_download", 11),
    ("test_train-trainer", 11),
    ("test_checkpoints", 10),
    ("test_networks", 10),
    ("test_train-test_paper_configs_*", 10),
    ("test_quickstart-test_slim_checkpoint_generates_the_same_notes", 8),
    ("test_data_pipeline", 8),
    ("test_data_default", 7),
    ("test_roundtrip", 6),
    ("test_train-test_experiment_json_that_cannot_be_written_stops_with_one_line", 6),
    ("test_data_nsynth", 6),
    ("test_layers", 5),
    ("test_run_dir", 5),
    ("test_quickstart-test_cpu_small_last_stage_steps", 4),
    ("test_train-*", 1),
]


def _group_names(items):
  """{nodeid: xdist group}: the file, or in SPLIT_FILES the tests joined by
  the module-scoped fixtures they use (union-find), named after the first
  such fixture or else the test."""
  parent = {}

  def find(key):
    while parent.setdefault(key, key) != key:
      parent[key] = parent[parent[key]]
      key = parent[key]
    return key

  shared = {}
  for item in items:
    if item.path.name not in SPLIT_FILES:
      continue
    info = getattr(item, "_fixtureinfo", None)
    names = sorted(
        name for name, defs in (info.name2fixturedefs if info else {}).items()
        if name in item.fixturenames and defs[-1].scope in ("module", "class"))
    shared[item.nodeid] = names
    for name in names:
      parent[find(item.nodeid)] = find((str(item.path), name))
  label = {}
  for item in items:
    names = shared.get(item.nodeid)
    if names:
      label.setdefault(find(item.nodeid), f"{item.path.stem}-{names[0]}")
  groups = {}
  for item in items:
    if item.path.name not in SPLIT_FILES:
      groups[item.nodeid] = item.path.stem
    else:
      groups[item.nodeid] = label.get(find(item.nodeid),
                                      f"{item.path.stem}-{item.name}")
  return groups


def _group_seconds(group, count):
  for pattern, seconds in GROUP_SECONDS:
    if fnmatch.fnmatchcase(group, pattern):
      return seconds
  return 0.1 * count


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
  groups = _group_names(items)
  for item in items:
    item.add_marker(pytest.mark.xdist_group(groups[item.nodeid]))
  count = collections.Counter(groups.values())
  first = {}
  for i, item in enumerate(items):
    first.setdefault(groups[item.nodeid], i)
  # Stable: a group's tests keep their order, and each group stays together.
  items.sort(key=lambda item: (
      -_group_seconds(groups[item.nodeid], count[groups[item.nodeid]]),
      first[groups[item.nodeid]]))
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

  The module's flags go into a fresh `flags.FlagValues`
  (`define_flags(flag_values)`, `main(argv, flag_values)`, as every CLI of
  the package takes them), so tools with flags of the same name never
  clash and absl's global FLAGS is not touched. Exits come back as the
  shell would see them: `SystemExit(n)`, `sys.exit('message')` (the
  message on stderr, code 1), a flag or usage error (code 1). gin's config
  is cleared before and after. Session-scoped, so module fixtures can use
  it: what `main` prints to sys.stdout / sys.stderr is collected by
  redirecting them. This saves a Python + TensorFlow start per
  call; each tool keeps at least one test that runs its real command line.
  """
  import contextlib  # pylint: disable=import-outside-toplevel
  import io  # pylint: disable=import-outside-toplevel
  import gin  # pylint: disable=import-outside-toplevel
  from absl import app  # pylint: disable=import-outside-toplevel
  from absl import flags  # pylint: disable=import-outside-toplevel

  def run(module, argv):
    argv = [str(a) for a in argv]
    prog = module.__name__
    flag_values = flags.FlagValues()
    module.define_flags(flag_values)
    code, message = 0, ''
    out, err = io.StringIO(), io.StringIO()
    gin.clear_config()
    try:
      with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
          rest = flag_values([prog] + argv)
        except flags.Error as e:
          raise app.UsageError(str(e)) from None
        module.main(rest, flag_values)
    except app.UsageError as e:
      code, message = 1, f'FATAL Flags parsing error: {e}'
    except SystemExit as e:
      if isinstance(e.code, str):
        code, message = 1, e.code
      else:
        code = 0 if e.code is None else e.code
    finally:
      gin.clear_config()
    out, err = out.getvalue(), err.getvalue()
    if message:
      err += message + '\n'
    return subprocess.CompletedProcess([sys.executable, '-m', prog] + argv,
                                       code, out, err)

  return run
