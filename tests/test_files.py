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


def _tree(path):  # files only
  path = str(path)
  return {name: open(os.path.join(path, name)).read()
          if os.path.isfile(os.path.join(path, name)) else '<dir>'
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


def test_publish_file_replaces_in_one_step_or_not_at_all(tmp_path):
  path = str(tmp_path / 'shard.tfrecord')
  with files.publish_file(path) as tmp:
    with open(tmp, 'w') as f:
      f.write('old')
  with pytest.raises(RuntimeError):
    with files.publish_file(path) as tmp:
      with open(tmp, 'w') as f:
        f.write('half')
      raise RuntimeError('writer failed')
  assert _tree(tmp_path) == {'shard.tfrecord': 'old'}


def test_publish_dir_merge_replaces_only_what_it_wrote(tmp_path):
  target = str(tmp_path / 'out')
  os.makedirs(os.path.join(target, 'specgrams'))
  for name, text in (('mine.txt', 'keep'), ('a.wav', 'old'),
                     ('specgrams/old.png', 'old')):
    with open(os.path.join(target, name), 'w') as f:
      f.write(text)
  with files.publish_dir(target, mode=files.MERGE) as tmp:
    os.makedirs(os.path.join(tmp, 'specgrams'))
    for name in ('a.wav', 'specgrams/new.png'):
      with open(os.path.join(tmp, name), 'w') as f:
        f.write('new')
    assert _tree(target)['a.wav'] == 'old'
  tree = {n: v for n, v in _tree(target).items() if n != 'specgrams'}
  assert tree == {'a.wav': 'new', 'mine.txt': 'keep'}
  assert os.listdir(os.path.join(target, 'specgrams')) == ['new.png']
  assert sorted(os.listdir(tmp_path)) == ['out']


def test_publish_dir_first_keeps_what_another_process_published(tmp_path):
  target = str(tmp_path / 'cache')
  with files.publish_dir(target, mode=files.FIRST) as tmp:
    with open(os.path.join(tmp, 'manifest.json'), 'w') as f:
      f.write('theirs')
    with files.publish_dir(target, mode=files.FIRST) as other:
      with open(os.path.join(other, 'manifest.json'), 'w') as f:
        f.write('first')
  assert _tree(target) == {'manifest.json': 'first'}
  assert sorted(os.listdir(tmp_path)) == ['cache']
  with pytest.raises(ValueError, match='mode'):
    with files.publish_dir(target, mode='swap'):
      pass


def test_check_writable_dir_probes_and_leaves_nothing(tmp_path):
  """A writable folder (missing, with missing parents, or existing) passes
  and nothing is left behind; a file where a folder is expected (refused
  as root too) is one line naming the flag, the folder and why."""
  files.check_writable_dir(tmp_path / 'new' / 'deeper' / 'out')
  (tmp_path / 'existing').mkdir()
  (tmp_path / 'existing' / 'keep.txt').write_text('mine')
  files.check_writable_dir(tmp_path / 'existing', '--export_dir')
  assert sorted(os.listdir(tmp_path)) == ['existing']
  assert os.listdir(tmp_path / 'existing') == ['keep.txt']
  (tmp_path / 'a_file').write_text('x')
  for path, reason in [
      (tmp_path / 'a_file', 'it exists and is not a folder'),
      (tmp_path / 'a_file' / 'sub' / 'out',
       f'{tmp_path / "a_file"} is a file, not a folder')]:
    with pytest.raises(files.UnwritableDirError) as info:
      files.check_writable_dir(path, '--flag')
    assert str(info.value) == f'--flag: cannot write to {path}: {reason}'
    assert isinstance(info.value, ValueError)
  assert sorted(os.listdir(tmp_path)) == ['a_file', 'existing']
