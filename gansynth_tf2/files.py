"""Atomic writes: a crash or a concurrent reader never sees half a file or
half a folder, and a folder being replaced never goes missing. A write that
fails (a full disk, no permission, a file-size limit) raises `WriteError`:
one line naming the file and the cause, the old file left as it was. And
`check_writable_dir`: an output folder that cannot be written is refused
before any work."""

import contextlib
import ctypes
import ctypes.util
import os
import re
import shutil
import tempfile
import threading

import tensorflow as tf


class WriteError(OSError):
  """A file or folder could not be written; the message names it and the
  cause, and says what was kept. An OSError, so every CLI reports it in one
  line."""


def error_cause(error):
  """The cause of an OSError or a TensorFlow I/O error, in a few words
  ('File too large', 'No space left on device', 'Permission denied')."""
  if isinstance(error, OSError) and not isinstance(error, WriteError):
    return error.strerror or str(error)
  text = (getattr(error, 'message', None) or str(error)).strip()
  text = text.splitlines()[0] if text else type(error).__name__
  text = re.sub(r'^\{\{[^}]*\}\}\s*', '', text)  # TF's function prefix
  text = re.sub(r'\s*\[Op:\w+\]$', '', text)
  # TF's file errors read "<path>; <strerror>".
  return text.rsplit('; ', 1)[-1] if '; ' in text else text


@contextlib.contextmanager
def publish_file(path):
  """Yields a temporary path beside `path`; on success it is renamed to
  `path` (replacing it in one step), on an exception it is deleted and
  `path` is left as it was.

    with files.publish_file('shard-00000.tfrecord') as tmp:
      write_with_any_library(tmp)
  """
  path = os.fspath(path)
  tmp = f'{path}.tmp-{os.getpid()}-{threading.get_ident()}'
  try:
    yield tmp
    tf.io.gfile.rename(tmp, path, overwrite=True)
  finally:
    if tf.io.gfile.exists(tmp):
      tf.io.gfile.remove(tmp)


def write_atomic(path, data):
  """Writes `data` (str or bytes) to `path` through `publish_file`, so
  `path` holds either its old content or all of the new.

  Raises:
    WriteError: it could not be written (`path` kept as it was).
  """
  try:
    _write_atomic(path, data)
  except (OSError, tf.errors.OpError) as e:
    if isinstance(e, WriteError):
      raise
    raise WriteError(f'cannot write {os.fspath(path)}: {error_cause(e)} '
                     '(the file is left as it was)') from e


def _write_atomic(path, data):
  with publish_file(path) as tmp:
    with tf.io.gfile.GFile(tmp, 'wb' if isinstance(data, bytes) else 'w') as f:
      f.write(data)


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


# publish_dir's modes.
REPLACE = 'replace'
MERGE = 'merge'
FIRST = 'first'
MODES = (REPLACE, MERGE, FIRST)


@contextlib.contextmanager
def publish_dir(target, mode=REPLACE):
  """Builds a folder aside and puts it at `target` only if the build succeeds.

    with files.publish_dir('out/export') as tmp:
      write_everything_into(tmp)

  Yields a new empty folder beside `target` (same file system, so renames
  are atomic). If the block raises, `target` is untouched and the temporary
  folder removed. When it ends without an exception, by `mode`:

  * 'replace' (export, classifier, checkpoint copies): the folder takes
    `target`'s place: a plain rename if `target` does not exist, else an
    atomic swap with the old folder (Linux renameat2 RENAME_EXCHANGE), so a
    reader sees the old folder or the new one, never neither; where the swap
    is unsupported the old folder is renamed aside first (a moment without
    `target`) and put back if the second rename fails. The old folder is
    deleted afterwards.
  * 'merge' (generate's --overwrite into a folder that may hold other
    files): each entry of the built folder replaces the same-named entry of
    `target` as above (a file by one rename, a folder by a swap); entries
    of `target` the build did not write stay.
  * 'first' (caches several processes may build at once): if `target`
    exists, another process published it first; it is kept and this build
    discarded.
  """
  if mode not in MODES:
    raise ValueError(f'publish_dir mode must be one of {MODES}, got {mode!r}')
  target = os.path.abspath(target)
  parent, name = os.path.split(target)
  os.makedirs(parent, exist_ok=True)
  tmp = tempfile.mkdtemp(prefix=f'.{name}.tmp-', dir=parent)
  try:
    yield tmp
    os.chmod(tmp, 0o755)  # mkdtemp makes it private; outputs are not.
    if mode == MERGE and os.path.isdir(target):
      for entry in sorted(os.listdir(tmp)):
        src, dst = os.path.join(tmp, entry), os.path.join(target, entry)
        if os.path.isdir(src) and os.path.isdir(dst):
          _swap_in(src, dst)
        else:
          os.replace(src, dst)
    elif mode == FIRST:
      try:
        os.rename(tmp, target)
      except OSError:
        # Renaming onto a non-empty folder fails: theirs is complete.
        if not os.path.isdir(target):
          raise
    else:
      _swap_in(tmp, target)
  finally:
    shutil.rmtree(tmp, ignore_errors=True)


def _swap_in(built, target):
  """Puts the folder `built` at `target`; `built` is gone (or holds the old
  folder, for the caller to delete) afterwards."""
  if not os.path.exists(target):
    os.rename(built, target)
  elif _exchange(built, target):
    shutil.rmtree(built, ignore_errors=True)  # now the old folder
  else:
    parent, name = os.path.split(target)
    old = tempfile.mkdtemp(prefix=f'.{name}.old-', dir=parent)
    os.rename(target, os.path.join(old, name))
    try:
      os.rename(built, target)
    except OSError:
      os.rename(os.path.join(old, name), target)
      raise
    finally:
      shutil.rmtree(old, ignore_errors=True)


class UnwritableDirError(ValueError):
  """An output folder that cannot be created or written (one line, naming
  the flag, the folder and the operating system's reason)."""


def check_writable_dir(path, flag='--output_dir'):
  """Refuses an output folder that cannot be written, before any work.

  Does what `publish_dir` will do, on a probe: creates the folder's missing
  parents, makes and removes a temporary folder beside it holding a 4 KiB
  file (publish_dir builds there), and, if the folder exists, writes and
  removes a 4 KiB file in it (merge renames into it). Everything it made is
  removed again, so a refused or later failing run leaves nothing behind.
  Real writes, so it holds as root too (where permission bits do not stop
  writes): a file where a folder is expected, a read-only file system, a
  full disk or a file-size limit (RLIMIT_FSIZE) are caught here.

  Args:
    path: the output folder (need not exist).
    flag: the flag named in the message.

  Raises:
    UnwritableDirError (a ValueError): `{flag}: cannot write to {path}: ...`.
  """
  path = os.path.abspath(os.fspath(path))

  def refuse(reason):
    raise UnwritableDirError(f'{flag}: cannot write to {path}: {reason}')

  if os.path.exists(path) and not os.path.isdir(path):
    refuse('it exists and is not a folder')
  # The nearest existing ancestor must be a folder (not a file).
  missing, existing = [], os.path.dirname(path)
  while not os.path.exists(existing):
    missing.append(existing)
    existing = os.path.dirname(existing)
  if not os.path.isdir(existing):
    refuse(f'{existing} is a file, not a folder')
  created = []
  try:
    for folder in reversed(missing):
      os.mkdir(folder)
      created.append(folder)
    beside = tempfile.mkdtemp(prefix=f'.{os.path.basename(path)}.probe-',
                              dir=os.path.dirname(path))
    try:
      _write_probe(beside)
    finally:
      shutil.rmtree(beside, ignore_errors=True)
    if os.path.isdir(path):
      _write_probe(path)
  except OSError as e:
    where = f' ({e.filename})' if e.filename else ''
    refuse(f'{e.strerror or e}{where}')
  finally:
    for folder in reversed(created):
      shutil.rmtree(folder, ignore_errors=True)


def _write_probe(folder, size=4096):
  """Writes `size` bytes to a new file in `folder`, syncs and removes it
  (OSError if any step fails)."""
  fd, probe = tempfile.mkstemp(prefix='.write-probe-', dir=folder)
  try:
    data = memoryview(bytes(size))
    while data:  # a write cut short by a size limit fails on the next one
      data = data[os.write(fd, data):]
    os.fsync(fd)
  finally:
    os.close(fd)
    os.remove(probe)
