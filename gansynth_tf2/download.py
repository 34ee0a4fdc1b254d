r"""Download Magenta's released GANSynth checkpoints.

  python -m gansynth_tf2.download acoustic_only|all_instruments \
      [--dir=models] [--url=URL]

acoustic_only is the paper's model (acoustic NSynth instruments, pitches
24-84, Mel-IF, progressive, high frequency resolution; 4 s notes);
all_instruments the same recipe on every instrument. The zip is fetched from
Magenta's public bucket (MODELS; --url: a mirror or a `file://` path to a
zip downloaded by hand) into DIR/.NAME.zip.part, with a progress bar; beside
it DIR/.NAME.zip.part.json keeps its URL, size and ETag. A cut download is
resumed by running the same command again (an HTTP Range request, with
If-Range so a file changed meanwhile comes whole; a server that ignores
Range, or another --url, starts the file again).
The file is checked against the Content-Length the server announced and by
the zip's CRCs (a corrupt zip is removed, so the next run starts afresh),
unzipped into a temporary folder inside DIR, loaded with `load_model`, and
only then renamed to DIR/NAME in one step: DIR/NAME is either absent or a
whole checkpoint that loads. A DIR/NAME that already loads is kept and
nothing is downloaded.

Then: `python -m gansynth_tf2.generate --ckpt_dir=DIR/NAME ...`, or
`gansynth_tf2.load_model('DIR/NAME')`.
"""

import contextlib
import http.client
import json
import os
import re
import shutil
import sys
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
import zlib

from absl import app
from absl import flags

from gansynth_tf2 import __version__
from gansynth_tf2 import files
from gansynth_tf2 import model as model_lib
from gansynth_tf2 import run_dir

try:
  import fcntl
except ImportError:  # Windows: no lock, the rest works
  fcntl = None

FLAGS = flags.FLAGS

# Magenta's released checkpoints, as linked from
# magenta/models/gansynth/README.md ("We have several available for
# download").
MODELS = {
    'acoustic_only': 'https://storage.googleapis.com/magentadata/models/'
                     'gansynth/acoustic_only.zip',
    'all_instruments': 'https://storage.googleapis.com/magentadata/models/'
                       'gansynth/all_instruments.zip',
}
CHUNK = 1 << 20
TIMEOUT = 60  # seconds without a byte before a read counts as a cut


class DownloadError(Exception):
  """A download that failed; the message is the one line the CLI prints."""


def define_flags(flag_values=FLAGS):
  """The command-line flags (`flag_values`: where, for tests)."""
  flags.DEFINE_string(
      'dir', 'models', 'Folder the checkpoint is published in (as DIR/NAME); '
      'the partial download DIR/.NAME.zip.part and the unzipping happen '
      'there too.', flag_values=flag_values)
  flags.DEFINE_string(
      'url', None, "Where to fetch the zip instead of Magenta's bucket: a "
      'mirror (http, https) or file:///path/NAME.zip for a zip downloaded '
      'by hand. It must hold the same checkpoint (a folder with '
      'experiment.json and stage_000NN/, or those at its root).',
      flag_values=flag_values)
  flags.DEFINE_boolean('progress', True, 'Draw a progress bar on stderr.',
                       flag_values=flag_values)


def _mb(n):
  return f'{n / 1e6:.1f} MB'


def _read_meta(path):
  try:
    with open(path, encoding='utf-8') as f:
      return json.load(f)
  except (OSError, ValueError):
    return {}


def _write_meta(path, meta):
  files.write_atomic(path, json.dumps(meta))


def _remove(*paths):
  for path in paths:
    with contextlib.suppress(FileNotFoundError):
      os.remove(path)


@contextlib.contextmanager
def _locked(part):
  """Opens the part file for appending, locked: two runs appending to one
  file would interleave their bytes."""
  with open(part, 'ab') as f:
    if fcntl is not None:
      try:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
      except OSError as e:
        raise DownloadError(f'{part} is locked: another run is downloading '
                            'this model; wait for it to finish') from e
    yield f


def _network_error(url, reason):
  return DownloadError(
      f'cannot reach {url} ({reason}). No network? Run the same command '
      'again when online, point --url at a mirror, or download the zip by '
      'hand and pass --url=file:///path/to/it.zip')


def _open(url, have, meta):
  """The response to a GET of `url`, from byte `have` on if have > 0."""
  headers = {'User-Agent': f'gansynth_tf2/{__version__}'}
  if have:
    headers['Range'] = f'bytes={have}-'
    # If the file changed since the part was fetched, the server answers
    # 200 with the whole new file instead of the rest of the old one.
    validator = meta.get('etag') or meta.get('last_modified')
    if validator and not validator.startswith('W/'):
      headers['If-Range'] = validator
  try:
    return urllib.request.urlopen(urllib.request.Request(url, headers=headers),
                                  timeout=TIMEOUT)
  except urllib.error.HTTPError as e:
    if e.code == 416:  # Range Not Satisfiable: the part is whole or too long
      return e
    raise DownloadError(f'{url}: the server answered HTTP {e.code} '
                        f'{e.reason}; check --url') from e
  except urllib.error.URLError as e:
    raise _network_error(url, getattr(e.reason, 'strerror', None) or
                         e.reason) from e
  except ValueError as e:  # urllib's "unknown url type"
    raise DownloadError(f'--url: {url} is not a URL urllib can fetch ({e})') \
        from e
  except OSError as e:  # timeouts, resets
    raise _network_error(url, e.strerror or e) from e


def _total_of(response, have):
  """(bytes already valid, total size or None) from the response headers."""
  status = getattr(response, 'status', None) or response.getcode() or 200
  length = response.headers.get('Content-Length')
  length = int(length) if length and length.isdigit() else None
  if status == 206:
    match = re.match(r'bytes (\d+)-(\d+)/(\d+|\*)',
                     response.headers.get('Content-Range', ''))
    if match and int(match.group(1)) == have:
      total = match.group(3)
      return have, (int(total) if total != '*' else
                    have + length if length is not None else None)
    return None, None  # a range we did not ask for
  return 0, length


def download(url, part, *, progress=True, log=print):
  """Fetches `url` into the file `part`, resuming what `part` holds.

  Returns the total size. Raises DownloadError (a cut: how many bytes
  arrived, and that the same command resumes).
  """
  meta_path = f'{part}.json'
  meta = _read_meta(meta_path)
  if meta.get('url') != url and os.path.exists(part):
    if os.path.getsize(part):
      log(f'{part} was fetched from {meta.get("url", "another URL")}; '
          f'starting again from {url}')
    meta = {}
  with _locked(part) as f:
    if not meta:
      f.truncate(0)
    have = f.seek(0, os.SEEK_END)
    if meta.get('total') is not None and have == meta['total']:
      log(f'{part}: already whole ({_mb(have)}), checking it')
      return have
    response = None
    try:
      response = _open(url, have, meta)
      return _receive(response, f, url, part, have, meta, meta_path,
                      progress, log)
    finally:
      if response is not None:
        response.close()
      if not os.path.getsize(part):  # nothing arrived: leave nothing behind
        _remove(part, meta_path)


def _receive(response, f, url, part, have, meta, meta_path, progress, log):
  """Appends the body of `response` to the open part file `f`."""
  if getattr(response, 'code', None) == 416:
    match = re.match(r'bytes \*/(\d+)',
                     response.headers.get('Content-Range', ''))
    if match and int(match.group(1)) == have:
      return have
    f.truncate(0)
    raise DownloadError(f'{url} refused to resume {part} (HTTP 416); it is '
                        'emptied, so running the same command again starts '
                        'afresh')
  start, total = _total_of(response, have)
  if start is None:
    f.truncate(0)
    raise DownloadError(f'{url} sent another range than the rest of {part}; '
                        'it is emptied, so running the same command again '
                        'starts afresh')
  if start != have:  # 200: the server sends the whole file again
    log(f'{url} does not resume downloads: starting {part} again')
    f.truncate(0)
    have, meta = 0, {}
  meta.update(url=url, total=total, etag=response.headers.get('ETag'),
              last_modified=response.headers.get('Last-Modified'))
  _write_meta(meta_path, meta)
  if total is not None:
    free = shutil.disk_usage(os.path.dirname(part) or '.').free
    if free < total - have:
      raise DownloadError(
          f'{os.path.dirname(part) or "."} has {_mb(free)} free, the '
          f'download needs {_mb(total - have)} more; make room or choose '
          'another --dir')
  if have:
    log(f'resuming {part} at {_mb(have)} of '
        f'{_mb(total) if total else "?"}')
  bar = _bar(total, have, part, progress)
  got = have
  try:
    while True:
      try:
        chunk = response.read(CHUNK)
      except (OSError, http.client.HTTPException) as e:
        # A reset, a timeout, IncompleteRead: the size check below says it.
        log(f'the connection broke: {type(e).__name__}: {e}')
        break
      if not chunk:
        break
      try:
        f.write(chunk)
      except OSError as e:
        raise DownloadError(f'cannot write {part}: {files.error_cause(e)} '
                            f'({_mb(got)} kept)') from e
      got += len(chunk)
      if bar is not None:
        bar.update(len(chunk))
  except KeyboardInterrupt:
    f.flush()
    raise DownloadError(f'stopped: {got} of {total or "?"} bytes are in '
                        f'{part}; run the same command again to resume') \
        from None
  finally:
    if bar is not None:
      bar.close()
  f.flush()
  if total is not None and got != total:
    raise DownloadError(
        f'the download was cut: {got} of {total} bytes of {url} arrived '
        f'(kept in {part}); run the same command again to resume')
  meta['total'] = got
  _write_meta(meta_path, meta)
  return got


def _bar(total, have, part, enabled):
  """A tqdm bar in bytes (MB and rate) on stderr, or None."""
  if not enabled:
    return None
  from tqdm import tqdm  # pylint: disable=import-outside-toplevel
  name = os.path.basename(part)[1:].replace('.part', '')
  return tqdm(total=total, initial=have, unit='B', unit_scale=True,
              unit_divisor=1000, desc=name, file=sys.stderr,
              mininterval=0.5 if sys.stderr.isatty() else 10.0)


def check_zip(part, url):
  """Raises DownloadError if `part` is not a whole zip (CRCs included)."""
  try:
    with zipfile.ZipFile(part) as z:
      bad = z.testzip()
      if bad is not None:
        raise DownloadError(f'{part} (from {url}) is corrupt: {bad} fails '
                            "its CRC check")
  except (zipfile.BadZipFile, zlib.error, EOFError, ValueError) as e:
    raise DownloadError(f'{part} (from {url}) is not a valid zip: {e}') \
        from e


def find_run(folder, name):
  """The folder inside `folder` holding experiment.json (the shallowest; one
  named `name` first), or None."""
  found = []
  for root, dirs, names in os.walk(folder):
    dirs[:] = sorted(d for d in dirs if d != '__MACOSX')
    if run_dir.EXPERIMENT_JSON in names:
      rel = os.path.relpath(root, folder)
      depth = 0 if rel == '.' else rel.count(os.sep) + 1
      found.append((depth, os.path.basename(root) != name, root))
  return min(found)[2] if found else None


def _describe(model):
  return (f'{model.audio_length / model.sample_rate:g} s notes at '
          f'{model.sample_rate} Hz, MIDI pitches {model.min_pitch}-'
          f'{model.max_pitch}')


def run(name, directory='models', url=None, *, progress=True, log=print):
  """Everything the CLI does; returns the published folder."""
  if name not in MODELS:
    raise DownloadError(f'unknown model {name!r}: expected one of '
                        f'{", ".join(MODELS)}')
  url = url or MODELS[name]
  target = os.path.join(directory, name)
  if os.path.lexists(target):
    try:
      model = model_lib.load_model(target)
    except model_lib.CheckpointError as e:
      raise DownloadError(f'{target} exists but does not load ({e}); move it '
                          'away and run again') from e
    log(f'{target} is already there and loads ({_describe(model)}); nothing '
        'downloaded')
    return target
  files.check_writable_dir(directory, '--dir')
  created = not os.path.isdir(directory)
  os.makedirs(directory, exist_ok=True)
  part = os.path.join(directory, f'.{name}.zip.part')
  start = time.time()
  try:
    size = download(url, part, progress=progress, log=log)
  except DownloadError:
    if created and not os.listdir(directory):
      os.rmdir(directory)  # a failed first try leaves no empty --dir
    raise
  try:
    check_zip(part, url)
  except DownloadError:
    _remove(part, f'{part}.json')  # so the next run starts afresh
    raise
  log(f'{url}: {_mb(size)} in {time.time() - start:.0f} s, zip CRCs good')
  with zipfile.ZipFile(part) as z:
    unzipped = sum(i.file_size for i in z.infolist())
    free = shutil.disk_usage(directory).free
    if free < unzipped:
      raise DownloadError(f'{directory} has {_mb(free)} free, unzipping '
                          f'{part} needs {_mb(unzipped)}; make room or choose '
                          'another --dir')
    tmp = tempfile.mkdtemp(prefix=f'.{name}.unzip-', dir=directory)
    try:
      z.extractall(tmp)
      return _publish(tmp, name, target, part, url, log)
    finally:
      shutil.rmtree(tmp, ignore_errors=True)


def _publish(tmp, name, target, part, url, log):
  """Checks the unzipped folder loads, then renames it to `target`."""
  folder = find_run(tmp, name)
  if folder is None:
    raise DownloadError(f'{url} holds no checkpoint: no '
                        f'{run_dir.EXPERIMENT_JSON} in the zip (kept as '
                        f'{part}); check --url')
  try:
    model = model_lib.load_model(folder)
  except model_lib.CheckpointError as e:
    raise DownloadError(f'the checkpoint in {url} does not load: {e} (the zip '
                        f'is kept as {part})') from e
  os.chmod(folder, 0o755)  # mkdtemp's folder is private; a model is not
  try:
    os.replace(folder, target)
  except OSError as e:
    if not os.path.isdir(target):
      raise DownloadError(f'cannot publish {target}: '
                          f'{files.error_cause(e)}') from e
    log(f'{target} was published by another run meanwhile; kept it')
  _remove(part, f'{part}.json')
  log(f'published {target} ({_describe(model)})')
  return target


def main(argv, flag_values=FLAGS):
  """The CLI after flag parsing: argv[1] is the model name."""
  names = argv[1:]
  if len(names) != 1:
    sys.exit('gansynth_tf2.download: error: give one model name: '
             f'{" or ".join(MODELS)} (got {names or "none"})')
  fv = flag_values
  try:
    target = run(names[0], fv.dir, fv.url, progress=fv.progress)
  except (DownloadError, ValueError, OSError) as e:
    sys.exit(f'gansynth_tf2.download: error: {e}')
  print('use it with:\n'
        f'  python -m gansynth_tf2.generate --ckpt_dir={target} '
        '--output_dir=out/notes --pitches=C3,E3,G3\n'
        f"  python -c \"import gansynth_tf2; gansynth_tf2.load_model("
        f"'{target}')\"")


def console_entry_point():
  define_flags()
  app.run(main)


if __name__ == '__main__':
  console_entry_point()
