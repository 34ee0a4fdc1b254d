"""Tests for files: atomic writes."""
import os

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
