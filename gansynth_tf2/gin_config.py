"""Reading gin configs: where gin files are found, and one clear error.

Every command-line tool (train, train_classifier, evaluate) parses its
`--gin_file`/`--gin_param` here, so `--gin_file=gin/if_mel_hq.gin`,
`--gin_file=if_mel_hq.gin` and an `include 'gin/...'` inside a config work
from any working directory, in a checkout and in an installed wheel alike,
and a broken config stops the tool with one line that names the file (or
binding) and line instead of a parser traceback.
"""
import contextlib
import logging
import os
import tokenize

import gin

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))
# The repository root of a checkout (its gin/ folder is the source of truth).
REPO_ROOT = os.path.dirname(_PACKAGE_DIR)


def gin_dir():
  """The folder holding the shipped gin configs (`if_mel_hq.gin`, ...).

  `gin/` at the top of a checkout; in an installed wheel the same files are
  the package's `gansynth_tf2/gin/` (pyproject.toml maps one onto the other).
  """
  for folder in (os.path.join(REPO_ROOT, 'gin'),
                 os.path.join(_PACKAGE_DIR, 'gin')):
    if os.path.isfile(os.path.join(folder, 'if_mel_hq.gin')):
      return folder
  raise GinConfigError(
      f'the shipped gin configs are missing: neither {REPO_ROOT}/gin nor '
      f'{_PACKAGE_DIR}/gin holds if_mel_hq.gin; reinstall gansynth-tf2.')


# Folders already on gin's (process-wide) search path.
_SEARCH_PATHS_ADDED = set()


class GinConfigError(ValueError):
  """A gin file or binding that cannot be read; the message is one line."""


def search_paths():
  """Folders gin looks in: the gin folder's parent (for `gin/x.gin`) and it."""
  folder = gin_dir()
  return [os.path.dirname(folder), folder]


def resolve_gin_file(path):
  """The file `path` names: as given, else under search_paths().

  Raises:
    GinConfigError: no such file anywhere, naming the places looked in.
  """
  if os.path.isfile(path):
    return path
  tried = [os.path.abspath(path)]
  if not os.path.isabs(path):
    for folder in search_paths():
      candidate = os.path.join(folder, path)
      if os.path.isfile(candidate):
        return candidate
      tried.append(candidate)
  raise GinConfigError(f'--gin_file: no such file {path!r} (looked at '
                       f'{", ".join(tried)})')


def _one_line(text):
  """gin's multi-line messages ("...\\n  In file F, line N\\n    code") as one."""
  lines = [line.strip() for line in str(text).splitlines() if line.strip()]
  if len(lines) < 2:
    return ''.join(lines)
  where = ': '.join(lines[1:])
  return f'{lines[0].rstrip(".")} ({where[0].lower()}{where[1:]})'


def error_message(error):
  """An error's own message, without the "In call to configurable 'x'"
  lines gin appends to exceptions raised inside a configurable."""
  return str(error).split('\n  In call to configurable')[0].strip()


@contextlib.contextmanager
def _quiet_gin_lookups():
  """Hides gin's "Path not found" log lines (one per folder it tries)."""
  root = logging.getLogger()
  quiet = lambda record: not record.getMessage().startswith('Path not found')
  root.addFilter(quiet)
  try:
    yield
  finally:
    root.removeFilter(quiet)


def parse_gin(gin_files, gin_params=()):
  """Parses gin files in order, then bindings, without finalizing the config.

  Args:
    gin_files: paths, absolute or relative to the working directory, the
      repository root or the gin folder (`gin/quickstart.gin`,
      `quickstart.gin`).
    gin_params: binding strings, e.g. `"hparams.fmap_max = 16"`.

  Raises:
    GinConfigError: a missing file, a syntax error, an unknown configurable
      or parameter, or a failed include; the message names the file or the
      binding and gin's line.
  """
  for folder in search_paths():
    if folder not in _SEARCH_PATHS_ADDED:  # gin's list only grows
      gin.add_config_file_search_path(folder)
      _SEARCH_PATHS_ADDED.add(folder)
  sources = [(gin.parse_config_file, resolve_gin_file(f), f'--gin_file {f}')
             for f in gin_files]
  sources += [(gin.parse_config, p, f'--gin_param {p!r}') for p in gin_params]
  with _quiet_gin_lookups():
    for parse, source, what in sources:
      try:
        parse(source)
      except (SyntaxError, tokenize.TokenError) as e:
        where = (f', line {e.lineno}' if isinstance(e, SyntaxError) and
                 e.lineno else '')
        msg = e.msg if isinstance(e, SyntaxError) else e.args[0]
        raise GinConfigError(
            f'{what}: not valid gin syntax{where}: {msg}') from None
      except (ValueError, OSError, TypeError, AttributeError) as e:
        raise GinConfigError(f'{what}: {_one_line(e)}') from None
