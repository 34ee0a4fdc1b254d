r"""A local web page that plays a model: `python -m gansynth_tf2.serve`.

  python -m gansynth_tf2.serve [--ckpt_dir=models/cpu_small] \
      [--host=127.0.0.1] [--port=8000]

then open http://127.0.0.1:8000/. The page (gansynth_tf2/web/: HTML, JS and
CSS shipped with the package, nothing fetched from elsewhere, so it works
offline) has
  * a keyboard: on screen, the computer keyboard (A W S E D ... as a piano
    row, Z / X octaves) and Web MIDI inputs where the browser has them.
    Every key plays a generated note; a key the model has no training notes
    for plays the nearest trained pitch resampled, as a sampler does
    (`resample_note`), and is marked on the keyboard;
  * a timbre pad: a point dragged between four corner latents (random, by
    seed, or found from an uploaded recording by inversion, which runs as a
    job with progress), mixed bilinearly (`mix_corners`); the model's latent
    directions (latents.py, its folder's directions.npz) as sliders;
  * a MIDI upload rendered in the current timbre and played in the page;
  * downloads: the note and the rendering as WAV, the timbre as an SF2 or a
    zipped SFZ instrument (instrument.py, sampler.py) and as `z.npy`.

The server is Flask on werkzeug's threaded server, loopback by default (no
authentication: another host is served only when --host names it). The
model is loaded once; notes are cached (an LRU of `--cache_notes` keyed by
pitch and latent), one lock serialises the generator's calls (each note is
generated once even when several requests want it). Inversion runs on its
own worker thread, one job at a time, outside that lock (TensorFlow runs
the already traced generator from several threads; tests/test_serve.py
checks the notes made meanwhile), so the keyboard keeps playing. Uploads
are size-limited (--max_upload_mb) and checked (a MIDI file: its header,
its length against --max_midi_seconds, playable notes; a recording: one
soundfile reads, at most --max_audio_seconds, not silent); every error is
a JSON `{"error": "..."}` with a 4xx status that the page shows, never a
traceback (an unexpected failure is a 500 with one line, its traceback on
the server's stderr).

The JSON API (POST bodies are JSON unless said; a timbre is
`{"corners": [C, C, C, C], "x": 0..1, "y": 0..1, "edits": {"1": amount}}`
with C `{"seed": int}` or `{"z": [latent_size floats]}`, corners in the
order top-left, top-right, bottom-left, bottom-right):
  GET  /api/info               model, pitches, keyboard, directions, limits
  POST /api/note               {"pitch", "timbre"} -> audio/wav
  POST /api/midi               multipart: file, timbre (JSON) -> audio/wav
  POST /api/invert             multipart: file, pitch ('auto' or MIDI) ->
                               202 {"job": id}
  GET  /api/jobs/<id>          {"status", "progress", "what", "result"}
  POST /api/z.npy              {"timbre"} -> the edited latent [1, latent]
  POST /api/instrument.sf2     {"timbre"} -> SF2
  POST /api/instrument.zip     {"timbre"} -> SFZ + samples, zipped

One module (~870 lines): the routes share `create_app`'s closure (the model,
its lock, the caches, the limits) and the helpers above it are theirs only.
"""

import collections
import dataclasses
import fractions
import io
import ipaddress
import itertools
import logging
import os
import queue
import re
import sys
import tempfile
import threading
import time
import traceback
import urllib.parse
import zipfile

from absl import app
from absl import flags
import numpy as np

from gansynth_tf2 import instrument
from gansynth_tf2 import inversion
from gansynth_tf2 import latents
from gansynth_tf2 import midi
from gansynth_tf2 import model as model_lib
from gansynth_tf2 import sampler
from gansynth_tf2 import writers

FLAGS = flags.FLAGS
WEB_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'web')
# The shipped model, found beside the package in a checkout or in the
# folder the server is started from.
DEFAULT_MODEL = os.path.join('models', 'cpu_small')
MAX_UPLOAD_MB = 8.0
MAX_MIDI_SECONDS = 300.0
MAX_MIDI_NOTES = 20000
MAX_AUDIO_SECONDS = 30.0
CACHE_NOTES = 1024
# Slider range of the latent directions, in standard deviations.
MAX_EDIT = 3.0
# Corner seeds whose notes pYIN hears in tune from MIDI 36 to 84.
DEFAULT_SEEDS = (2, 5, 8, 11)
# Inversion jobs kept (their results, for polling) and waiting at most.
KEEP_JOBS = 64
MAX_QUEUED_JOBS = 4
INSTRUMENT_NAME = 'gansynth'


class RequestError(ValueError):
  """Bad input from the page: a 4xx with a one-line JSON reason."""

  def __init__(self, message, status=400):
    super().__init__(message)
    self.status = status


# ------------------------------------------------------------------ timbre


def mix_corners(corners, x, y):
  """The latent at (x, y) of the pad: `[latent]` float32.

  Bilinear weights of the four corners (top-left, top-right, bottom-left,
  bottom-right; x to the right, y down, both 0..1); the sum is scaled to the
  weighted mean of the corners' norms, so that it stays on the prior's shell
  as a slerp does (a plain average of random latents is shorter than any of
  them). At a corner it is that corner's latent, bit for bit.
  """
  corners = np.asarray(corners, np.float64)
  weights = np.array([(1 - x) * (1 - y), x * (1 - y), (1 - x) * y, x * y])
  if np.max(weights) == 1.0:
    return corners[int(np.argmax(weights))].astype(np.float32)
  z = weights @ corners
  norm = np.linalg.norm(z)
  target = weights @ np.linalg.norm(corners, axis=1)
  if norm > 0:
    z = z * (target / norm)
  return z.astype(np.float32)


def _number(value, name, low=None, high=None, integer=False):
  if isinstance(value, bool) or not isinstance(value, (int, float)):
    raise RequestError(f'{name} must be a number, got {value!r}')
  if integer and value != int(value):
    raise RequestError(f'{name} must be an integer, got {value!r}')
  if not np.isfinite(value):
    raise RequestError(f'{name} must be finite, got {value!r}')
  if (low is not None and value < low) or (high is not None and value > high):
    raise RequestError(f'{name} must be within {low:g}..{high:g}, got '
                       f'{value:g}')
  return int(value) if integer else float(value)


# ------------------------------------------------------------------- notes


def resample_note(wave, semitones):
  """A note played `semitones` higher as a sampler plays it: faster (and
  shorter) by 2^(semitones / 12), band-limited (scipy's polyphase filter;
  the ratio as a fraction of denominator <= 1000: within 0.34 cent for
  shifts up to 5 octaves, 4 ms a note)."""
  if semitones == 0:
    return np.asarray(wave, np.float32)
  from scipy import signal  # pylint: disable=import-outside-toplevel
  ratio = fractions.Fraction(2.0 ** (-semitones / 12.0)).limit_denominator(
      1000)
  out = signal.resample_poly(np.asarray(wave, np.float64), ratio.numerator,
                             ratio.denominator)
  return out.astype(np.float32)


class Notes:
  """Generated notes of one model, cached, one generator call at a time."""

  def __init__(self, model, cache_size=CACHE_NOTES):
    self.model = model
    self.trained = inversion.trained_pitches(model)
    self.lock = threading.Lock()  # the generator's calls
    self._cache = collections.OrderedDict()
    self._cache_lock = threading.Lock()
    self._cache_size = int(cache_size)
    self.generated = 0  # notes the generator made (tests, /api/info)

  def _get(self, key):
    with self._cache_lock:
      wave = self._cache.get(key)
      if wave is not None:
        self._cache.move_to_end(key)
      return wave

  def _put(self, key, wave):
    with self._cache_lock:
      self._cache[key] = wave
      self._cache.move_to_end(key)
      while len(self._cache) > self._cache_size:
        self._cache.popitem(last=False)

  def generate(self, z, pitches):
    """Locked `model.generate_from_z` (`z` one row per pitch)."""
    with self.lock:
      waves = self.model.generate_from_z(z, pitches)
      self.generated += len(pitches)
    return waves

  def notes(self, z, pitches):
    """{pitch: `[samples]` float32} for MIDI pitches 0..127 in the timbre
    `z` `[latent]`; each from the cache or generated once (all missing
    ones in one call), resampled where the key has no training notes.

    Returns (notes, cached): cached is the number that came from the cache.
    """
    z = np.asarray(z, np.float32)
    zkey = z.tobytes()
    wanted = sorted({int(p) for p in pitches})
    out = {p: self._get((p, zkey)) for p in wanted}
    cached = sum(1 for w in out.values() if w is not None)
    missing = [p for p in wanted if out[p] is None]
    if missing:
      with self.lock:  # another request may have made them meanwhile
        for p in missing:
          out[p] = self._get((p, zkey))
        missing = [p for p in missing if out[p] is None]
        sources = sorted({inversion.nearest_trained(p, self.trained)
                          for p in missing})
        made = {}
        for s in sources:
          made[s] = self._get((s, zkey))
        todo = [s for s in sources if made[s] is None]
        if todo:
          waves = self.model.generate_from_z(np.repeat(z[None], len(todo), 0),
                                             todo)
          self.generated += len(todo)
          for s, wave in zip(todo, waves):
            made[s] = wave
            self._put((s, zkey), wave)
        for p in missing:
          s = inversion.nearest_trained(p, self.trained)
          out[p] = resample_note(made[s], p - s)
          self._put((p, zkey), out[p])
    return out, cached


class LockedModel:
  """A model whose `generate_from_z` takes the notes' lock (for library
  functions such as `instrument.render_samples`)."""

  def __init__(self, model, lock):
    self._model = model
    self._lock = lock

  def __getattr__(self, name):
    return getattr(self._model, name)

  def generate_from_z(self, z, pitches, **kwargs):
    with self._lock:
      return self._model.generate_from_z(z, pitches, **kwargs)


# ---------------------------------------------------------------- uploads


def _display_name(name):
  name = os.path.basename(str(name or 'upload')).strip() or 'upload'
  return name if len(name) <= 80 else name[:77] + '...'


def read_audio_upload(data, name, max_seconds):
  """(audio `[samples, channels]`, rate) of an uploaded recording."""
  import soundfile  # pylint: disable=import-outside-toplevel
  if not data:
    raise RequestError(f'{name} is empty')
  try:
    audio, rate = soundfile.read(io.BytesIO(data), dtype='float64',
                                 always_2d=True)
  except Exception as e:  # soundfile raises its own LibsndfileError
    kind = ' (it is a MIDI file: use the MIDI upload)' if data.startswith(
        b'MThd') else ''
    cause = re.sub(r'^Error opening <[^>]*>: ', '',
                   str(e).splitlines()[0] if str(e) else type(e).__name__)
    raise RequestError(
        f'{name} is not an audio file this server can read{kind}: give a '
        f'WAV, FLAC or OGG recording ({cause})') from e
  seconds = len(audio) / rate
  if seconds > max_seconds:
    raise RequestError(f'{name} lasts {seconds:.1f} s, longer than the '
                       f'{max_seconds:g} s taken (--max_audio_seconds); the '
                       'model hears one note: cut the recording to it')
  return audio, rate


def read_midi_upload(data, name, max_seconds, max_notes=MAX_MIDI_NOTES):
  """(`midi.Notes` of every pitch 0..127, MidiReport) of an uploaded file."""
  if not data.startswith(b'MThd'):
    raise RequestError(f'{name} is not a MIDI file (a standard MIDI file '
                       'starts with "MThd"); give a .mid file')
  fd, path = tempfile.mkstemp(suffix='.mid', prefix='gansynth_serve_')
  try:
    with os.fdopen(fd, 'wb') as f:
      f.write(data)
    try:
      seconds = midi.check_length(path, float('inf'))
      if seconds > max_seconds:
        raise RequestError(f'{name} lasts {seconds:.1f} s, longer than the '
                           f'{max_seconds:g} s this server renders '
                           '(--max_midi_seconds)')
      notes, report = midi.load_midi(path, 0, 127)
    except (ValueError, FileNotFoundError) as e:
      if isinstance(e, RequestError):
        raise
      message = str(e).replace(path, name).replace('--midi_file: ', '')
      raise RequestError(message) from e
  finally:
    os.remove(path)
  if len(notes) > max_notes:
    raise RequestError(f'{name} has {len(notes)} notes; this server renders '
                       f'at most {max_notes}')
  return notes, report


def render_notes(notes, waves, sample_rate):
  """The clip of `notes` (`midi.Notes`) played by `waves` {pitch: note}
  (`midi.mix_notes`: each note shaped and mixed at its onset, peak 0.5)."""
  return midi.mix_notes([waves[int(p)] for p in notes.pitches], notes,
                        sample_rate)


# -------------------------------------------------------------- inversion


@dataclasses.dataclass
class Job:
  """One inversion: what the page polls."""
  id: str
  name: str
  pitch: int
  wave: np.ndarray
  prepared: list
  status: str = 'queued'  # queued, running, done, error
  done: int = 0
  total: int = 1
  what: str = 'queued'
  result: dict = None
  error: str = None
  started: float = None
  seconds: float = None

  def as_json(self):
    return {'job': self.id, 'name': self.name, 'pitch': self.pitch,
            'status': self.status, 'what': self.what,
            'progress': round(self.done / max(self.total, 1), 4),
            'prepared': self.prepared, 'result': self.result,
            'error': self.error, 'seconds': self.seconds}


class Inverter:
  """Inversion jobs, run one at a time on a daemon thread."""

  def __init__(self, model, options=None):
    self.model = model
    self.options = dict(options or {})
    self.jobs = collections.OrderedDict()
    self._lock = threading.Lock()
    self._queue = queue.Queue()
    self._ids = itertools.count(1)
    self._thread = threading.Thread(target=self._work, daemon=True,
                                    name='gansynth-invert')
    self._thread.start()

  def submit(self, name, wave, pitch, prepared):
    with self._lock:
      waiting = sum(1 for j in self.jobs.values()
                    if j.status in ('queued', 'running'))
      if waiting >= MAX_QUEUED_JOBS:
        raise RequestError(f'{waiting} inversions are waiting already; try '
                           'again when one is done', status=429)
      job = Job(id=f'{next(self._ids)}-{os.urandom(4).hex()}', name=name,
                pitch=pitch, wave=wave, prepared=prepared)
      self.jobs[job.id] = job
      while len(self.jobs) > KEEP_JOBS:
        self.jobs.popitem(last=False)
    self._queue.put(job)
    return job

  def get(self, job_id):
    with self._lock:
      return self.jobs.get(job_id)

  def _work(self):
    while True:
      job = self._queue.get()
      job.status, job.what, job.started = 'running', 'starting', time.time()

      def on_progress(done, total, what, job=job):
        job.done, job.total, job.what = done, total, what

      try:
        found = inversion.invert(self.model, job.wave[None], [job.pitch],
                                 progress=on_progress, **self.options)
        job.result = {
            'z': [float(v) for v in found.z[0]],
            'pitch': job.pitch,
            'distance_db': round(float(found.distance_db[0]), 3),
            'baseline_db': round(float(found.baseline_db[0]), 3),
            'num_random': int(found.num_random)}
        job.done, job.what, job.status = job.total, 'done', 'done'
      except Exception as e:  # pylint: disable=broad-except
        traceback.print_exc()
        job.error = f'the inversion failed: {type(e).__name__}: {e}'
        job.status, job.what = 'error', 'failed'
      finally:
        job.seconds = round(time.time() - job.started, 2)
        job.wave = None


# --------------------------------------------------------------- the app


def keyboard_range(trained):
  """(lowest, highest) key drawn: whole octaves C..C around the trained
  pitches."""
  low = 12 * (min(trained) // 12)
  high = min(127, 12 * -(-max(trained) // 12))
  return int(low), int(high)


def create_app(model, *, max_upload_mb=MAX_UPLOAD_MB,
               max_midi_seconds=MAX_MIDI_SECONDS,
               max_audio_seconds=MAX_AUDIO_SECONDS, cache_notes=CACHE_NOTES,
               inversion_options=None, warm=True, name=None):
  """The Flask app that serves `model` (a loaded `GANSynthModel`).

  Args:
    max_upload_mb: larger requests are refused (413).
    max_midi_seconds, max_audio_seconds: longer uploads are refused (400).
    cache_notes: notes kept in the LRU cache.
    inversion_options: `inversion.invert`'s options (tests: fewer steps).
    warm: generate one note now, so that the first key is not the one that
      waits for TensorFlow to trace the generator.
    name: the model's name on the page (default: its folder's name).
  """
  import flask  # pylint: disable=import-outside-toplevel
  from werkzeug import exceptions  # pylint: disable=import-outside-toplevel

  notes = Notes(model, cache_notes)
  inverter = Inverter(model, inversion_options)
  locked = LockedModel(model, notes.lock)
  try:
    directions = latents.model_directions(model)
    direction_labels = [
        directions.labels[k] if k < len(directions.labels) else f'PC{k + 1}'
        for k in range(directions.num_components)]
    directions_note = None
  except ValueError as e:
    directions, direction_labels, directions_note = None, [], str(e)
  trained = notes.trained
  low, high = keyboard_range(trained)
  name = name or os.path.basename(os.path.normpath(
      model.model_dir or 'model'))
  info = {
      'model': name,
      'source': model.source,
      'sample_rate': model.sample_rate,
      'audio_length': model.audio_length,
      'note_seconds': round(model.audio_length / model.sample_rate, 4),
      'latent_size': model.latent_size,
      'min_pitch': model.min_pitch, 'max_pitch': model.max_pitch,
      'trained_pitches': [int(p) for p in trained],
      'keyboard': {'low': low, 'high': high},
      'directions': [{'number': k + 1, 'label': label}
                     for k, label in enumerate(direction_labels)],
      'directions_note': directions_note,
      'max_edit': MAX_EDIT,
      'default_corners': [{'seed': s} for s in DEFAULT_SEEDS],
      'limits': {'max_upload_bytes': int(max_upload_mb * 2 ** 20),
                 'max_midi_seconds': max_midi_seconds,
                 'max_audio_seconds': max_audio_seconds,
                 'max_midi_notes': MAX_MIDI_NOTES},
  }

  flask_app = flask.Flask(__name__, static_folder=WEB_DIR,
                          static_url_path='/static')
  flask_app.config['MAX_CONTENT_LENGTH'] = info['limits']['max_upload_bytes']
  flask_app.json.sort_keys = False
  flask_app.extensions['gansynth'] = {'notes': notes, 'inverter': inverter,
                                      'info': info, 'model': model}

  def error(message, status=400):
    return flask.jsonify(error=message), status

  @flask_app.errorhandler(RequestError)
  def on_request_error(e):
    return error(str(e), e.status)

  @flask_app.errorhandler(exceptions.RequestEntityTooLarge)
  def on_too_large(e):
    del e
    return error(f'the upload is larger than the {max_upload_mb:g} MB this '
                 'server takes (--max_upload_mb)', 413)

  @flask_app.errorhandler(exceptions.HTTPException)
  def on_http_error(e):
    return error(f'{e.name}: {e.description}', e.code)

  @flask_app.errorhandler(Exception)
  def on_unexpected(e):
    traceback.print_exc()
    return error(f'internal error ({type(e).__name__}): '
                 f'{str(e).splitlines()[0] if str(e) else ""}', 500)

  @flask_app.before_request
  def same_origin_only():
    # A page of another site may not make this server work (or read it):
    # browsers send Origin with cross-site POSTs.
    origin = flask.request.headers.get('Origin')
    if (flask.request.method != 'GET' and origin and
        urllib.parse.urlparse(origin).netloc != flask.request.host):
      return error(f'requests from {origin} are not served', 403)
    return None

  def json_body():
    body = flask.request.get_json(silent=True)
    if not isinstance(body, dict):
      raise RequestError('expected a JSON object as the request body')
    return body

  def timbre_z(spec):
    """The latent `[latent]` a timbre spec plays (corners, pad, edits)."""
    if spec is None:
      spec = {}
    if not isinstance(spec, dict):
      raise RequestError('timbre must be an object {corners, x, y, edits}')
    corners = spec.get('corners', info['default_corners'])
    if not isinstance(corners, list) or len(corners) != 4:
      raise RequestError('timbre.corners must be a list of 4 corners')
    zs = []
    for i, corner in enumerate(corners):
      where = f'timbre.corners[{i}]'
      if not isinstance(corner, dict) or ('seed' in corner) == (
          'z' in corner):
        raise RequestError(f'{where} must be {{"seed": int}} or {{"z": '
                           f'[{model.latent_size} numbers]}}')
      if 'seed' in corner:
        seed = _number(corner['seed'], f'{where}.seed', 0, 2 ** 32 - 1,
                       integer=True)
        zs.append(model.generate_z(1, seed=seed)[0])
      else:
        z = corner['z']
        if (not isinstance(z, list) or len(z) != model.latent_size or
            not all(isinstance(v, (int, float)) and not isinstance(v, bool)
                    for v in z)):
          raise RequestError(f'{where}.z must be a list of '
                             f'{model.latent_size} numbers')
        z = np.asarray(z, np.float32)
        if not np.all(np.isfinite(z)):
          raise RequestError(f'{where}.z holds NaN or Inf')
        zs.append(z)
    x = _number(spec.get('x', 0.5), 'timbre.x', 0, 1)
    y = _number(spec.get('y', 0.5), 'timbre.y', 0, 1)
    z = mix_corners(np.stack(zs), x, y)
    edits = spec.get('edits') or {}
    if not isinstance(edits, dict):
      raise RequestError('timbre.edits must be an object {"1": amount}')
    checked = {}
    for key, amount in edits.items():
      try:
        number = int(key)
      except (TypeError, ValueError):
        raise RequestError(f'timbre.edits: {key!r} is not a direction '
                           'number') from None
      if not 1 <= number <= len(direction_labels):
        raise RequestError(
            f'timbre.edits: direction {number} is out of range'
            + (f' (1..{len(direction_labels)})' if direction_labels else
               f': {directions_note}'))
      amount = _number(amount, f'timbre.edits[{number}]', -MAX_EDIT,
                       MAX_EDIT)
      if amount:
        checked[number] = amount
    if checked:
      z = latents.apply_edits(z[None], directions, checked)[0]
    return z

  def pitch_of(value):
    return _number(value, 'pitch', 0, 127, integer=True)

  def wav_response(audio, filename, headers=None):
    response = flask.Response(writers.wav_bytes(audio, model.sample_rate),
                              mimetype='audio/wav')
    response.headers['Content-Disposition'] = (
        f'inline; filename="{filename}"')
    for key, value in (headers or {}).items():
      response.headers[key] = str(value)
    return response

  def upload(field='file'):
    if field not in flask.request.files:
      raise RequestError(f'no file in the upload (multipart field '
                         f'"{field}")')
    item = flask.request.files[field]
    return _display_name(item.filename), item.read()

  @flask_app.get('/')
  def index():
    response = flask.send_from_directory(WEB_DIR, 'index.html')
    response.headers['Cache-Control'] = 'no-cache'
    return response

  @flask_app.get('/api/info')
  def api_info():
    return flask.jsonify(dict(info, notes_generated=notes.generated))

  @flask_app.post('/api/note')
  def api_note():
    body = json_body()
    pitch = pitch_of(body.get('pitch'))
    z = timbre_z(body.get('timbre'))
    start = time.perf_counter()
    waves, cached = notes.notes(z, [pitch])
    source = inversion.nearest_trained(pitch, trained)
    return wav_response(waves[pitch], f'note_{pitch}.wav', {
        'X-Pitch': pitch, 'X-Source-Pitch': source,
        'X-Resampled': pitch - source, 'X-Cache': 'hit' if cached else 'miss',
        'X-Milliseconds': round(1000 * (time.perf_counter() - start), 1)})

  @flask_app.post('/api/midi')
  def api_midi():
    name, data = upload()
    timbre = flask.request.form.get('timbre')
    spec = None
    if timbre:
      try:
        spec = flask.json.loads(timbre)
      except ValueError:
        raise RequestError('the timbre field is not JSON') from None
    z = timbre_z(spec)
    parsed, report = read_midi_upload(data, name, max_midi_seconds)
    start = time.perf_counter()
    waves, _ = notes.notes(z, parsed.pitches)
    clip = render_notes(parsed, waves, model.sample_rate)
    resampled = sorted({int(p) for p in parsed.pitches if int(p) not in
                        set(trained)})
    stem = os.path.splitext(name)[0] or 'midi'
    return wav_response(clip, f'{stem}.wav', {
        'X-Notes': len(parsed), 'X-Seconds': round(len(clip) /
                                                   model.sample_rate, 4),
        'X-Skipped-Drum-Notes': report.drum_notes,
        'X-Resampled-Pitches': len(resampled),
        'X-Milliseconds': round(1000 * (time.perf_counter() - start), 1)})

  @flask_app.post('/api/invert')
  def api_invert():
    name, data = upload()
    audio, rate = read_audio_upload(data, name, max_audio_seconds)
    try:
      wave, prepared = inversion.prepare_wave(
          audio, rate, model.sample_rate, model.audio_length, name=name)
      pitch = (flask.request.form.get('pitch') or 'auto').strip().lower()
      if pitch == 'auto':
        heard, pitch = inversion.detect_pitch(wave, model.sample_rate,
                                              trained, name=name)
        prepared = prepared + [f'pYIN hears MIDI {heard:.2f}; inverted at '
                               f'the nearest trained pitch, {pitch}']
      else:
        try:
          pitch = int(pitch)
        except ValueError:
          raise RequestError(f'pitch must be "auto" or a MIDI number, got '
                             f'{pitch!r}') from None
        model.labels_of([pitch])
    except ValueError as e:
      if isinstance(e, RequestError):
        raise
      raise RequestError(str(e).replace('(--pitch=MIDI)', '')) from e
    job = inverter.submit(name, wave, pitch, prepared)
    return flask.jsonify(job.as_json()), 202

  @flask_app.get('/api/jobs/<job_id>')
  def api_job(job_id):
    job = inverter.get(job_id)
    if job is None:
      raise RequestError(f'no inversion job {job_id!r}', 404)
    return flask.jsonify(job.as_json())

  @flask_app.post('/api/z.npy')
  def api_z():
    z = timbre_z(json_body().get('timbre'))
    buffer = io.BytesIO()
    np.save(buffer, z[None].astype(np.float32))
    response = flask.Response(buffer.getvalue(),
                              mimetype='application/octet-stream')
    response.headers['Content-Disposition'] = 'attachment; filename="z.npy"'
    return response

  # The last timbres' instrument samples (SF2 then SFZ of one timbre
  # renders and measures its notes once).
  rendered = collections.OrderedDict()
  rendered_lock = threading.Lock()

  def render_instrument(z, folder):
    key = z.tobytes()
    with rendered_lock:
      samples = rendered.get(key)
    if samples is None:
      try:
        keys = instrument.parse_pitch_spec(instrument.DEFAULT_PITCHES,
                                           model.min_pitch, model.max_pitch)
      except ValueError:
        keys = list(trained)
      samples, _ = instrument.render_samples(locked, z, keys,
                                             INSTRUMENT_NAME)
      with rendered_lock:
        rendered[key] = samples
        while len(rendered) > 2:
          rendered.popitem(last=False)
    np.save(os.path.join(folder, 'z.npy'), z[None].astype(np.float32))
    return samples

  @flask_app.post('/api/instrument.sf2')
  def api_sf2():
    z = timbre_z(json_body().get('timbre'))
    with tempfile.TemporaryDirectory(prefix='gansynth_serve_') as tmp:
      samples = render_instrument(z, tmp)
      path = os.path.join(tmp, f'{INSTRUMENT_NAME}.sf2')
      sampler.write_sf2(path, INSTRUMENT_NAME, samples)
      with open(path, 'rb') as f:
        data = f.read()
    response = flask.Response(data, mimetype='audio/x-soundfont')
    response.headers['Content-Disposition'] = (
        f'attachment; filename="{INSTRUMENT_NAME}.sf2"')
    return response

  @flask_app.post('/api/instrument.zip')
  def api_sfz():
    z = timbre_z(json_body().get('timbre'))
    buffer = io.BytesIO()
    with tempfile.TemporaryDirectory(prefix='gansynth_serve_') as tmp:
      samples = render_instrument(z, tmp)
      sampler.write_sfz(tmp, INSTRUMENT_NAME, samples)
      with zipfile.ZipFile(buffer, 'w', zipfile.ZIP_DEFLATED) as archive:
        for root, _, names in os.walk(tmp):
          for file_name in sorted(names):
            path = os.path.join(root, file_name)
            archive.write(path, os.path.join(
                INSTRUMENT_NAME, os.path.relpath(path, tmp)))
    response = flask.Response(buffer.getvalue(), mimetype='application/zip')
    response.headers['Content-Disposition'] = (
        f'attachment; filename="{INSTRUMENT_NAME}_sfz.zip"')
    return response

  if warm:
    notes.generate(model.generate_z(1, seed=0), [trained[len(trained) // 2]])
  return flask_app


# ------------------------------------------------------------- the server


def make_server(flask_app, host='127.0.0.1', port=8000):
  """werkzeug's threaded server for `flask_app` (port 0: a free one, read
  it from `server.server_port`); `serve_forever()` runs it."""
  from werkzeug import serving  # pylint: disable=import-outside-toplevel
  return serving.make_server(host, port, flask_app, threaded=True)


def default_ckpt_dir():
  """The shipped models/cpu_small: in the folder the server starts from, or
  beside the package in a checkout; None if neither has it."""
  for base in (os.getcwd(),
               os.path.dirname(os.path.dirname(os.path.abspath(__file__)))):
    path = os.path.join(base, DEFAULT_MODEL)
    if os.path.isdir(path):
      return path
  return None


def is_loopback(host):
  if host == 'localhost':
    return True
  try:
    return ipaddress.ip_address(host).is_loopback
  except ValueError:
    return False


def define_flags(flag_values=FLAGS):
  """The command-line flags (`flag_values`: where, for tests)."""
  flags.DEFINE_string('ckpt_dir', None, 'Checkpoint directory (ours or '
                      "Magenta's); default: the shipped models/cpu_small.",
                      flag_values=flag_values)
  flags.DEFINE_string('host', '127.0.0.1', 'Address to serve on. The page '
                      'has no authentication: the default serves this '
                      'computer only.', flag_values=flag_values)
  flags.DEFINE_integer('port', 8000, 'Port (0: a free one).',
                       flag_values=flag_values)
  flags.DEFINE_float('max_upload_mb', MAX_UPLOAD_MB, 'Largest upload, MB.',
                     flag_values=flag_values)
  flags.DEFINE_float('max_midi_seconds', MAX_MIDI_SECONDS, 'Longest MIDI '
                     'file rendered, seconds.', flag_values=flag_values)
  flags.DEFINE_float('max_audio_seconds', MAX_AUDIO_SECONDS, 'Longest '
                     'recording taken for inversion, seconds.',
                     flag_values=flag_values)
  flags.DEFINE_integer('cache_notes', CACHE_NOTES, 'Generated notes kept.',
                       flag_values=flag_values)


def main(argv, flag_values=FLAGS):
  """The CLI after flag parsing: serves until interrupted."""
  if len(argv) > 1:
    raise app.UsageError(f'unexpected arguments: {argv[1:]}')
  fv = flag_values
  ckpt_dir = fv.ckpt_dir or default_ckpt_dir()
  if ckpt_dir is None:
    sys.exit('gansynth_tf2.serve: error: no --ckpt_dir given and the shipped '
             f'{DEFAULT_MODEL} is not here; run from the checkout or pass '
             '--ckpt_dir')
  if not 0 <= fv.port <= 65535:
    sys.exit(f'gansynth_tf2.serve: error: --port={fv.port} is not a port')
  for flag in ('max_upload_mb', 'max_midi_seconds', 'max_audio_seconds',
               'cache_notes'):
    if not getattr(fv, flag) > 0:
      sys.exit(f'gansynth_tf2.serve: error: --{flag} must be > 0')
  try:
    model = model_lib.load_model(ckpt_dir)
    flask_app = create_app(
        model, max_upload_mb=fv.max_upload_mb,
        max_midi_seconds=fv.max_midi_seconds,
        max_audio_seconds=fv.max_audio_seconds, cache_notes=fv.cache_notes)
  except (ValueError, FileNotFoundError, model_lib.CheckpointError) as e:
    sys.exit(f'gansynth_tf2.serve: error: {e}')
  try:
    server = make_server(flask_app, fv.host, fv.port)
  except (OSError, SystemExit) as e:
    # werkzeug exits itself (after a line on stderr) when the port is taken.
    why = 'the port is in use' if isinstance(e, SystemExit) else str(e)
    sys.exit(f'gansynth_tf2.serve: error: cannot serve on {fv.host}:'
             f'{fv.port} ({why}); pick another --port')
  # One line per request is werkzeug's default: errors and warnings only.
  logging.getLogger('werkzeug').setLevel(logging.WARNING)
  host = fv.host if ':' not in fv.host else f'[{fv.host}]'
  if not is_loopback(fv.host):
    print(f'warning: serving on {fv.host}, not this computer only: anyone '
          'who reaches it can use the model (there is no authentication)',
          file=sys.stderr)
  print(f'gansynth_tf2.serve: {ckpt_dir} on http://{host}:'
        f'{server.server_port}/ (Ctrl-C stops)', flush=True)
  try:
    server.serve_forever()
  except KeyboardInterrupt:
    pass
  finally:
    server.server_close()


def console_entry_point():
  define_flags()
  app.run(main)


if __name__ == '__main__':
  console_entry_point()
