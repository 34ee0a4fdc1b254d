"""download: Magenta's released checkpoints in one command, against a local
HTTP server serving a zip of the tiny oracle checkpoint (no network here):
a whole download, a cut one resumed, a server that ignores Range, a corrupt
zip, no network, a model already there."""
import http.server
import io
import os
import pathlib
import re
import socket
import subprocess
import sys
import threading
import zipfile

import pytest

import gansynth_tf2
from gansynth_tf2 import download

NAME = 'acoustic_only'


def _zip(folder, root):
  """A zip of `folder`, its files under `root/` ('' : at the zip's root)."""
  buf = io.BytesIO()
  with zipfile.ZipFile(buf, 'w', zipfile.ZIP_DEFLATED) as z:
    for path in sorted(pathlib.Path(folder).rglob('*')):
      if path.is_file():
        z.write(path, os.path.join(root, str(path.relative_to(folder))))
  return buf.getvalue()


class Server:
  """A local HTTP server of one file at /NAME.zip, with Range support.

  body: the bytes served; ranges: honour Range (else answer 200, whole);
  cuts: byte counts after which successive responses close the connection
  (as a dropped network does); requests: the Range header of each GET.
  """

  def __init__(self, body):
    self.body, self.ranges, self.cuts, self.requests = body, True, [], []
    server = self

    class Handler(http.server.BaseHTTPRequestHandler):
      protocol_version = 'HTTP/1.1'

      def do_GET(self):  # noqa: N802 (http.server's name)
        asked = self.headers.get('Range')
        server.requests.append(asked)
        if self.path != f'/{NAME}.zip':
          self.send_error(404)
          return
        body, start = server.body, 0
        match = re.match(r'bytes=(\d+)-$', asked or '')
        if match and server.ranges:
          start = int(match.group(1))
          if start >= len(body):
            self.send_response(416)
            self.send_header('Content-Range', f'bytes */{len(body)}')
            self.send_header('Content-Length', '0')
            self.end_headers()
            return
          self.send_response(206)
          self.send_header('Content-Range',
                           f'bytes {start}-{len(body) - 1}/{len(body)}')
        else:
          self.send_response(200)
        self.send_header('Content-Length', str(len(body) - start))
        self.send_header('ETag', '"tiny-1"')
        self.end_headers()
        end = len(body)
        if server.cuts:  # the connection drops after this many bytes
          end = start + server.cuts.pop(0)
          self.close_connection = True
        self.wfile.write(body[start:end])
        self.wfile.flush()

      def log_message(self, *args):
        pass

    self.httpd = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Handler)
    self.url = f'http://127.0.0.1:{self.httpd.server_port}/{NAME}.zip'
    self.thread = threading.Thread(target=self.httpd.serve_forever,
                                   daemon=True)
    self.thread.start()

  def close(self):
    self.httpd.shutdown()
    self.httpd.server_close()


@pytest.fixture(scope='module')
def zip_bytes(oracle_ckpt_dir):
  """Magenta's layout: the run folder NAME/ inside the zip."""
  return _zip(oracle_ckpt_dir, NAME)


@pytest.fixture
def server(zip_bytes):
  s = Server(zip_bytes)
  yield s
  s.close()


def _get(run_main, models, url, *extra):
  return run_main(download, [NAME, f'--dir={models}', f'--url={url}',
                             '--noprogress', *extra])


def _error_line(result):
  lines = result.stderr.strip().splitlines()
  assert lines, result
  assert lines[-1].startswith('gansynth_tf2.download: error: '), lines
  return lines[-1]


def _only_published(models):
  """The folder holds the published model and nothing else (no part file,
  no unzip folder)."""
  assert os.listdir(models) == [NAME]
  gansynth_tf2.load_model(os.path.join(models, NAME), batch_size=1)


def test_cli_downloads_checks_and_publishes(server, tmp_path):
  """The real command line: fetched, checked, unzipped, loaded, published;
  says how to use it."""
  models = tmp_path / 'models'
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL='2')
  result = subprocess.run(
      [sys.executable, '-m', 'gansynth_tf2.download', NAME, f'--dir={models}',
       f'--url={server.url}'], env=env, capture_output=True, text=True,
      timeout=120, check=False)
  assert result.returncode == 0, result.stderr
  assert server.requests == [None]
  assert f'published {models / NAME} (4 s notes at 16000 Hz' in result.stdout
  assert (f'python -m gansynth_tf2.generate --ckpt_dir={models / NAME}'
          in result.stdout)
  assert f'{NAME}.zip: 100%' in result.stderr  # the progress bar
  _only_published(models)


def test_zip_with_the_run_folder_at_its_root(oracle_ckpt_dir, tmp_path,
                                             run_main):
  server = Server(_zip(oracle_ckpt_dir, ''))
  try:
    result = _get(run_main, tmp_path, server.url)
  finally:
    server.close()
  assert result.returncode == 0, result.stderr
  _only_published(tmp_path)


def test_cut_download_says_so_and_the_same_command_resumes(
    server, zip_bytes, tmp_path, run_main):
  cut = len(zip_bytes) // 3
  server.cuts = [cut]
  result = _get(run_main, tmp_path, server.url)
  assert result.returncode == 1
  line = _error_line(result)
  assert (f'the download was cut: {cut} of {len(zip_bytes)} bytes of '
          f'{server.url} arrived' in line), line
  assert 'run the same command again to resume' in line
  part = tmp_path / f'.{NAME}.zip.part'
  assert part.stat().st_size == cut
  assert not (tmp_path / NAME).exists()

  result = _get(run_main, tmp_path, server.url)
  assert result.returncode == 0, result.stderr
  assert server.requests == [None, f'bytes={cut}-']
  assert f'resuming {part} at' in result.stdout
  _only_published(tmp_path)


def test_a_server_ignoring_range_restarts_cleanly(server, zip_bytes, tmp_path,
                                                  run_main):
  server.ranges = False
  server.cuts = [1000]
  assert _get(run_main, tmp_path, server.url).returncode == 1
  result = _get(run_main, tmp_path, server.url)
  assert result.returncode == 0, result.stderr
  assert server.requests == [None, 'bytes=1000-']  # asked, got 200 whole
  assert 'does not resume downloads: starting' in result.stdout
  _only_published(tmp_path)


@pytest.mark.parametrize('damage', ['crc', 'not_a_zip'])
def test_corrupt_zip_is_one_line_removed_and_nothing_published(
    server, zip_bytes, tmp_path, run_main, damage):
  if damage == 'crc':
    # A flipped byte inside the stored data of the largest member.
    with zipfile.ZipFile(io.BytesIO(zip_bytes)) as z:
      info = max(z.infolist(), key=lambda i: i.compress_size)
    body = bytearray(zip_bytes)
    at = info.header_offset + 30 + len(info.filename) + info.compress_size // 2
    body[at] ^= 0xFF
    server.body = bytes(body)
  else:
    server.body = b'<html>an error page served with 200</html>' * 100
  result = _get(run_main, tmp_path, server.url)
  assert result.returncode == 1
  line = _error_line(result)
  part = tmp_path / f'.{NAME}.zip.part'
  assert line.startswith(f'gansynth_tf2.download: error: {part} (from '
                         f'{server.url}) is '), line
  assert ('corrupt' in line or 'not a valid zip' in line), line
  assert os.listdir(tmp_path) == []  # the part removed, nothing published

  server.body = zip_bytes  # the next run starts afresh and succeeds
  assert _get(run_main, tmp_path, server.url).returncode == 0
  assert server.requests == [None, None]
  _only_published(tmp_path)


def test_no_network_is_one_clear_line(tmp_path, run_main):
  with socket.socket() as s:  # a port nobody listens on
    s.bind(('127.0.0.1', 0))
    port = s.getsockname()[1]
  url = f'http://127.0.0.1:{port}/{NAME}.zip'
  models = tmp_path / 'models'
  result = _get(run_main, models, url)
  assert result.returncode == 1
  line = _error_line(result)
  assert line.startswith(f'gansynth_tf2.download: error: cannot reach {url} '
                         '(Connection refused)'), line
  assert '--url' in line and 'by hand' in line
  assert not models.exists()  # nothing left behind


def test_http_error_and_bad_arguments_are_one_line(server, tmp_path,
                                                   run_main):
  result = _get(run_main, tmp_path, server.url.replace(NAME, 'nothing'))
  assert 'the server answered HTTP 404' in _error_line(result)
  result = run_main(download, ['piano', f'--dir={tmp_path}'])
  assert "unknown model 'piano': expected one of acoustic_only, " \
      'all_instruments' in _error_line(result)
  result = run_main(download, [f'--dir={tmp_path}'])
  assert 'give one model name' in _error_line(result)
  assert result.returncode == 1
  assert os.listdir(tmp_path) == []


def test_a_zip_without_a_checkpoint_is_refused(server, tmp_path, run_main):
  buf = io.BytesIO()
  with zipfile.ZipFile(buf, 'w') as z:
    z.writestr(f'{NAME}/README.txt', 'no checkpoint here')
  server.body = buf.getvalue()
  line = _error_line(_get(run_main, tmp_path, server.url))
  assert f'{server.url} holds no checkpoint: no experiment.json' in line
  assert not (tmp_path / NAME).exists()
  assert not [p for p in os.listdir(tmp_path) if 'unzip' in p]


def test_a_model_already_there_is_not_downloaded_again(server, tmp_path,
                                                       run_main):
  assert _get(run_main, tmp_path, server.url).returncode == 0
  result = _get(run_main, tmp_path, server.url)
  assert result.returncode == 0, result.stderr
  assert 'is already there and loads' in result.stdout
  assert server.requests == [None]  # the second run asked nothing


def test_the_public_urls_are_magentas():
  """As linked from magenta/models/gansynth/README.md."""
  base = 'https://storage.googleapis.com/magentadata/models/gansynth/'
  assert download.MODELS == {'acoustic_only': base + 'acoustic_only.zip',
                             'all_instruments': base + 'all_instruments.zip'}


def test_a_checkpoint_that_does_not_load_keeps_the_zip_for_a_rerun(
    server, tmp_path, run_main, monkeypatch):
  """Nothing is published; the whole zip stays, and the next run checks it
  again without asking the server."""
  model_lib = download.model_lib
  real = model_lib.load_model

  def broken(path, **kwargs):
    raise model_lib.CheckpointError(f'{path}: weights do not fit')

  monkeypatch.setattr(model_lib, 'load_model', broken)
  line = _error_line(_get(run_main, tmp_path, server.url))
  assert f'the checkpoint in {server.url} does not load: ' in line, line
  assert 'weights do not fit (the zip is kept as' in line
  assert sorted(os.listdir(tmp_path)) == [f'.{NAME}.zip.part',
                                          f'.{NAME}.zip.part.json']
  monkeypatch.setattr(model_lib, 'load_model', real)
  result = _get(run_main, tmp_path, server.url)
  assert result.returncode == 0, result.stderr
  assert 'already whole' in result.stdout
  assert server.requests == [None]
  _only_published(tmp_path)
