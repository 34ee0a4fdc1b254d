"""Atomic file writes: a crash or a concurrent reader never sees half a file."""

import os

import tensorflow as tf


def write_atomic(path, data):
  """Writes `data` (str or bytes) to `path` through a temporary file and a
  rename, so `path` holds either its old content or all of the new."""
  tmp = f'{path}.tmp-{os.getpid()}'
  with tf.io.gfile.GFile(tmp, 'wb' if isinstance(data, bytes) else 'w') as f:
    f.write(data)
  tf.io.gfile.rename(tmp, path, overwrite=True)
