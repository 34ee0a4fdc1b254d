"""Tests for files: atomic writes and folder publishing."""
import os
import threading

import pytest

from gansynth_tf2 import files


def test_write_atomic_replaces_whole_file_and_leaves_no_temporary(tmp_path):
  path = str(tmp_path / 'x.gin')
  files.write_atomic(path, 'a = 1\n')
  files.write_atomic(path, 'b = 2\n')
  with open(path) as f:
    assert f.read() == 'b = 2\n'
  files.write_atomic(str(tmp_path / 'x.npz'), b'\x00\x01')
  with open(tmp_path / 'x.npz', 'rb') as f:
    assert f.read() == b'\x00\x01'
  assert sorted(os.listdir(tmp_path)) == ['x.gin', 'x.npz']


def _tree(path):
  return {name: open(os.path.join(path, name)).read()
          for name in sorted(os.listdir(path))}


def test_publish_dir_creates_then_replaces_whole_folder(tmp_path):
  target = str(tmp_path / 'export')
  with files.publish_dir(target) as tmp:
    assert not os.path.exists(target)  # nothing visible while building
    with open(os.path.join(tmp, 'a.txt'), 'w') as f:
      f.write('old')
  assert _tree(target) == {'a.txt': 'old'}
  with files.publish_dir(target) as tmp:
    with open(os.path.join(tmp, 'b.txt'), 'w') as f:
      f.write('new')
    assert _tree(target) == {'a.txt': 'old'}  # still the old one
  assert _tree(target) == {'b.txt': 'new'}
  assert sorted(os.listdir(tmp_path)) == ['export']  # no temporaries left
  assert oct(os.stat(target).st_mode & 0o777) == oct(0o755)


def test_publish_dir_keeps_the_old_folder_when_the_build_fails(tmp_path):
  target = str(tmp_path / 'export')
  with files.publish_dir(target) as tmp:
    with open(os.path.join(tmp, 'a.txt'), 'w') as f:
      f.write('old')
  with pytest.raises(RuntimeError):
    with files.publish_dir(target) as tmp:
      with open(os.path.join(tmp, 'half.txt'), 'w') as f:
        f.write('half')
      raise RuntimeError('build failed')
  assert _tree(target) == {'a.txt': 'old'}
  assert sorted(os.listdir(tmp_path)) == ['export']


def test_publish_dir_never_leaves_the_target_missing(tmp_path):
  """A reader polling the folder during replacements always finds it (the
  swap is one renameat2 call on Linux)."""
  if not files._exchange(str(tmp_path), str(tmp_path)):  # pylint: disable=protected-access
    pytest.skip('no renameat2 RENAME_EXCHANGE here')
  target = str(tmp_path / 'export')
  with files.publish_dir(target) as tmp:
    open(os.path.join(tmp, 'x'), 'w').close()
  missing = []
  stop = threading.Event()

  def poll():
    while not stop.is_set():
      if not os.path.isfile(os.path.join(target, 'x')):
        missing.append(1)

  reader = threading.Thread(target=poll)
  reader.start()
  try:
    for _ in range(200):
      with files.publish_dir(target) as tmp:
        open(os.path.join(tmp, 'x'), 'w').close()
  finally:
    stop.set()
    reader.join()
  assert not missing
