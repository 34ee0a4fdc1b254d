"""Atomic writes: a crash or a concurrent reader never sees half a file or
half a folder, and a folder being replaced never goes missing."""

import contextlib
import ctypes
import ctypes.util
import os
import shutil
import tempfile

import tensorflow as tf


def write_atomic(path, data):
  """Writes `data` (str or bytes) to `path` through a temporary file and a
  rename, so `path` holds either its old content or all of the new."""
  tmp = f'{path}.tmp-{os.getpid()}'
  with tf.io.gfile.GFile(tmp, 'wb' if isinstance(data, bytes) else 'w') as f:
    f.write(data)
  tf.io.gfile.rename(tmp, path, overwrite=True)


_RENAME_EXCHANGE = 2  # linux/fs.h
_AT_FDCWD = -100


def _exchange(a, b):
  """Swaps two existing paths in one step (Linux renameat2); False where the
  system or file system cannot."""
  try:
    libc = ctypes.CDLL(ctypes.util.find_library('c'), use_errno=True)
    renameat2 = libc.renameat2
  except (OSError, AttributeError, TypeError):
    return False
  renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int,
                        ctypes.c_char_p, ctypes.c_uint]
  return renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b),
                   _RENAME_EXCHANGE) == 0


@contextlib.contextmanager
def publish_dir(target):
  """Builds a folder aside and puts it at `target` only if the build succeeds.

    with files.publish_dir('out/export') as tmp:
      write_everything_into(tmp)

  Yields a new empty folder beside `target` (same file system, so renames
  are atomic). When the block ends without an exception the folder takes
  `target`'s place: a plain rename if `target` does not exist, else an
  atomic swap with the old folder (Linux renameat2 RENAME_EXCHANGE), so a
  reader sees the old folder or the new one, never neither; where the swap
  is unsupported the old folder is renamed aside first (a moment without
  `target`) and put back if the second rename fails. The old folder is
  deleted afterwards. If the block raises, `target` is untouched and the
  temporary folder removed.
  """
  target = os.path.abspath(target)
  parent, name = os.path.split(target)
  os.makedirs(parent, exist_ok=True)
  tmp = tempfile.mkdtemp(prefix=f'.{name}.tmp-', dir=parent)
  try:
    yield tmp
    os.chmod(tmp, 0o755)  # mkdtemp makes it private; outputs are not.
    if not os.path.exists(target):
      os.rename(tmp, target)
    elif _exchange(tmp, target):
      pass  # tmp now holds the old folder, removed below
    else:
      old = tempfile.mkdtemp(prefix=f'.{name}.old-', dir=parent)
      os.rename(target, os.path.join(old, name))
      try:
        os.rename(tmp, target)
      except OSError:
        os.rename(os.path.join(old, name), target)
        raise
      finally:
        shutil.rmtree(old, ignore_errors=True)
  finally:
    shutil.rmtree(tmp, ignore_errors=True)
