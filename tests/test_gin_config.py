"""Tests for gansynth_tf2.gin_config: finding gin files, one-line errors for
broken configs, and the command-line tools stopping on them before writing
(their `main` in this process: conftest's run_main; each tool's own tests
run its real command line)."""
import importlib
import os
import pathlib

import gin
import pytest

from gansynth_tf2 import gin_config
from gansynth_tf2 import hparams
from gansynth_tf2 import train  # pylint: disable=unused-import  # registers train.*

REPO = pathlib.Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def clean_gin():
  gin.clear_config()
  yield
  gin.clear_config()


@pytest.mark.parametrize('name', ['gin/quickstart.gin', 'quickstart.gin'])
def test_shipped_configs_are_found_from_any_folder(name, tmp_path,
                                                   monkeypatch):
  monkeypatch.chdir(tmp_path)
  path = gin_config.resolve_gin_file(name)
  assert os.path.samefile(path, REPO / 'gin' / 'quickstart.gin')
  # Its include 'gin/if_mel_hq.gin' resolves too.
  gin_config.parse_gin([name], ['hparams.fmap_max = 7'])
  hp = hparams.from_gin()
  assert hp.fmap_max == 7
  assert hp.data_type == 'mel'  # set by the included if_mel_hq.gin


def test_a_local_file_wins_over_a_shipped_one(tmp_path, monkeypatch):
  monkeypatch.chdir(tmp_path)
  (tmp_path / 'quickstart.gin').write_text('hparams.fmap_max = 3\n')
  assert gin_config.resolve_gin_file('quickstart.gin') == 'quickstart.gin'


BROKEN = {
    # file text -> what the one-line error must say
    'hparams.fmap_max = (16\n': 'not valid gin syntax',
    'hparams.fmap_max = = 16\n': 'not valid gin syntax, line 1',
    'no_such_thing.x = 3\n': "No configurable matching 'no_such_thing'",
    "include 'no_such_file.gin'\n": 'Unable to open file: no_such_file.gin',
    'train.no_such_arg = 3\n': 'no_such_arg',
}


@pytest.mark.parametrize('text', sorted(BROKEN))
def test_broken_file_gives_one_line_naming_it(text, tmp_path):
  path = tmp_path / 'broken.gin'
  path.write_text(text)
  with pytest.raises(gin_config.GinConfigError) as info:
    gin_config.parse_gin([str(path)])
  message = str(info.value)
  assert '\n' not in message
  assert f'--gin_file {path}' in message
  assert BROKEN[text] in message


def test_broken_binding_names_it():
  with pytest.raises(gin_config.GinConfigError) as info:
    gin_config.parse_gin([], ['hparams.fmap_max = (16'])
  assert str(info.value).startswith("--gin_param 'hparams.fmap_max = (16'")


def test_missing_file_names_where_it_looked(tmp_path):
  with pytest.raises(gin_config.GinConfigError) as info:
    gin_config.parse_gin([str(tmp_path / 'nope.gin')])
  assert 'no such file' in str(info.value)
  assert str(tmp_path / 'nope.gin') in str(info.value)


@pytest.fixture
def run_tool(run_main, tmp_path, monkeypatch):
  """`python -m tool args...` run from tmp_path, in this process."""
  monkeypatch.chdir(tmp_path)
  return lambda tool, args: run_main(importlib.import_module(tool), args)


@pytest.mark.parametrize('tool,out_flag', [
    ('gansynth_tf2.train', '--train_dir'),
    ('gansynth_tf2.train_classifier', '--output_dir'),
])
def test_tools_stop_on_a_broken_config_before_writing(tool, out_flag,
                                                      tmp_path, run_tool):
  broken = tmp_path / 'broken.gin'
  broken.write_text('hparams.fmap_max = (16\n')
  out = tmp_path / 'out'
  result = run_tool(tool, [f'--gin_file={broken}', f'{out_flag}={out}'])
  assert result.returncode == 1, result.stdout[-2000:] + result.stderr[-2000:]
  errors = [l for l in result.stdout.splitlines() if l.startswith('ERROR:')]
  assert errors == [f'ERROR: --gin_file {broken}: not valid gin syntax: '
                    'EOF in multi-line statement'], result.stdout[-2000:]
  assert 'Traceback' not in result.stdout + result.stderr
  assert not out.exists()


def test_evaluate_stops_on_a_missing_gin_file(tmp_path, run_tool):
  out = tmp_path / 'table.json'
  result = run_tool(
      'gansynth_tf2.evaluate',
      [f'--ckpt_dir={REPO / "models" / "cpu_small"}',
       f'--classifier_dir={REPO / "models" / "pitch_classifier"}',
       '--gin_file=no_such.gin', f'--output_json={out}'])
  assert result.returncode != 0
  assert "no such file 'no_such.gin'" in result.stderr
  assert 'Traceback' not in result.stdout + result.stderr
  assert not out.exists()
