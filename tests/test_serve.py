"""serve.py: the web page's JSON API (Flask's test client) and the page itself
in headless Chromium driven by selenium (Debian's chromium and
chromium-driver, installed by tools/setup.sh).

The browser tests share one server (a thread, a free port) and one browser.
They print the latency from a key press to playable audio (a benchmark
figure, not a timed check; tools/bench_serve.py measures more keys).
GANSYNTH_UPDATE_SCREENSHOT=1 writes the page's screenshot to docs/serve.png.
"""
import base64
import concurrent.futures
import io
import json
import os
import pathlib
import shutil
import subprocess
import sys
import threading
import time
import zipfile

import numpy as np
import pytest
import soundfile

from gansynth_tf2 import metrics
from gansynth_tf2 import midi
from gansynth_tf2 import model as model_lib
from gansynth_tf2 import serve

REPO = pathlib.Path(__file__).resolve().parent.parent
CKPT = REPO / 'models' / 'cpu_small'
SR = 16000
NOTE = 8192
# Few starts and steps: the job machinery, not the inversion's quality.
QUICK_INVERSION = dict(num_random=16, num_starts=4, keep=2, steps=(3, 3))
MAX_UPLOAD_MB = 1
MAX_MIDI_SECONDS = 20
MAX_AUDIO_SECONDS = 5


@pytest.fixture(scope='module')
def model():
  return model_lib.load_model(CKPT)


@pytest.fixture(scope='module')
def flask_app(model):
  return serve.create_app(model, max_upload_mb=MAX_UPLOAD_MB,
                          max_midi_seconds=MAX_MIDI_SECONDS,
                          max_audio_seconds=MAX_AUDIO_SECONDS,
                          inversion_options=QUICK_INVERSION)


@pytest.fixture
def client(flask_app):
  return flask_app.test_client()


def _wav(data):
  audio, rate = soundfile.read(io.BytesIO(data), dtype='float32')
  assert rate == SR
  return audio


def _seed_z(model, seed):
  return model.generate_z(1, seed=seed)[0]


def _corner_timbre(x, y, edits=None):
  return {'corners': [{'seed': s} for s in serve.DEFAULT_SEEDS], 'x': x,
          'y': y, 'edits': edits or {}}


def _pyin(wave):
  return float(metrics.pyin_midi([wave], SR, start_s=0.05,
                                 end_s=len(wave) / SR)[0])


def _midi_file(path, notes, drum=False):
  """notes: (pitch, start, end) in seconds."""
  import pretty_midi  # pylint: disable=import-outside-toplevel
  pm = pretty_midi.PrettyMIDI()
  inst = pretty_midi.Instrument(program=0, is_drum=drum)
  for pitch, start, end in notes:
    inst.notes.append(pretty_midi.Note(velocity=100, pitch=pitch, start=start,
                                       end=end))
  pm.instruments.append(inst)
  pm.write(str(path))
  return path


MELODY = [(60, 0.0, 0.25), (64, 0.5, 0.75), (61, 1.0, 1.25), (72, 1.5, 1.75)]


def _melody_samples():
  """The rendering's length, from the notes: the last onset plus its note
  (the envelope's sustain + 0.3 s release, at most the note's own length:
  8192 samples at a trained pitch)."""
  return max(int(round(start * SR)) +
             min(int(round((end - start) * SR)) + int(round(0.3 * SR)), NOTE)
             for _, start, end in MELODY)


# ------------------------------------------------------------------ the API


def test_info_describes_keyboard_directions_and_limits(client, model):
  info = client.get('/api/info').get_json()
  assert info['model'] == 'cpu_small'
  assert info['sample_rate'] == SR and info['audio_length'] == NOTE
  assert info['trained_pitches'] == list(range(24, 85, 3))
  assert info['keyboard'] == {'low': 24, 'high': 84}
  labels = [d['label'] for d in info['directions']]
  assert len(labels) == 8 and labels[0].startswith('PC1: ')
  assert info['directions'][0]['number'] == 1
  assert info['limits']['max_upload_bytes'] == MAX_UPLOAD_MB * 2 ** 20
  assert info['default_corners'] == [{'seed': s} for s in serve.DEFAULT_SEEDS]
  page = client.get('/')
  assert page.status_code == 200 and b'static/app.js' in page.data
  for name in ('app.js', 'style.css'):
    assert client.get(f'/static/{name}').status_code == 200
  # Nothing from elsewhere: the page works offline.
  for name in ('index.html', 'app.js', 'style.css'):
    text = (pathlib.Path(serve.WEB_DIR) / name).read_text()
    assert 'http://' not in text and 'https://' not in text, name


def test_note_is_the_models_note_and_is_cached(client, model):
  z = _seed_z(model, serve.DEFAULT_SEEDS[0])
  body = {'pitch': 60, 'timbre': _corner_timbre(0, 0)}
  first = client.post('/api/note', json=body)
  assert first.status_code == 200, first.get_json()
  assert first.mimetype == 'audio/wav'
  assert first.headers['X-Source-Pitch'] == '60'
  expected = model.generate_from_z(z[None], [60])[0]
  np.testing.assert_allclose(_wav(first.data), expected, atol=1.5 / 32768)
  again = client.post('/api/note', json=body)
  assert again.headers['X-Cache'] == 'hit' and again.data == first.data
  # Sliders: the model's own edits, on the pad's latent.
  edited = client.post('/api/note', json={
      'pitch': 60, 'timbre': _corner_timbre(0, 0, {'1': 2.0, '3': -1.5})})
  expected = model.generate_from_z(z[None], [60], edits={1: 2.0, 3: -1.5})[0]
  np.testing.assert_allclose(_wav(edited.data), expected, atol=1.5 / 32768)
  # A latent given as numbers (an inverted corner) plays as that latent.
  other = _seed_z(model, 99)
  given = client.post('/api/note', json={'pitch': 72, 'timbre': {
      'corners': [{'z': other.tolist()}] + [{'seed': 1}] * 3, 'x': 0, 'y': 0}})
  np.testing.assert_allclose(_wav(given.data),
                             model.generate_from_z(other[None], [72])[0],
                             atol=1.5 / 32768)


def test_untrained_key_plays_the_nearest_trained_note_resampled(client):
  timbre = _corner_timbre(0.5, 0.5)
  notes = {}
  for pitch in (60, 61, 62):
    response = client.post('/api/note', json={'pitch': pitch,
                                              'timbre': timbre})
    assert response.status_code == 200
    notes[pitch] = (_wav(response.data), response.headers)
  assert notes[61][1]['X-Source-Pitch'] == '60'
  assert notes[61][1]['X-Resampled'] == '1'
  assert notes[62][1]['X-Source-Pitch'] == '63'
  assert notes[62][1]['X-Resampled'] == '-1'
  # A sampler's resampling: faster and higher by a semitone (or slower).
  assert len(notes[61][0]) == pytest.approx(NOTE * 2 ** (-1 / 12), abs=1)
  assert len(notes[62][0]) == pytest.approx(NOTE * 2 ** (1 / 12), abs=1)
  heard = {p: _pyin(w) for p, (w, _) in notes.items()}
  assert abs(heard[60] - 60) < 0.3, heard
  assert abs(heard[61] - 61) < 0.3, heard
  assert abs(heard[62] - 62) < 0.3, heard


def test_the_pad_mixes_the_corners_on_the_priors_shell():
  rng = np.random.RandomState(0)
  corners = rng.standard_normal([4, 64]).astype(np.float32)
  for i, (x, y) in enumerate([(0, 0), (1, 0), (0, 1), (1, 1)]):
    np.testing.assert_array_equal(serve.mix_corners(corners, x, y), corners[i])
  middle = serve.mix_corners(corners, 0.5, 0.5)
  assert np.linalg.norm(middle) == pytest.approx(
      np.linalg.norm(corners, axis=1).mean(), rel=1e-5)
  edge = serve.mix_corners(corners, 0.5, 0)  # between A and B only
  direction = (corners[0] + corners[1]) / np.linalg.norm(
      corners[0] + corners[1])
  np.testing.assert_allclose(edge / np.linalg.norm(edge), direction,
                             atol=1e-6)


@pytest.mark.parametrize('method,path,body,status,words', [
    ('post', '/api/note', {'pitch': 128}, 400, 'pitch must be within 0..127'),
    ('post', '/api/note', {'pitch': 'C4'}, 400, 'pitch must be a number'),
    ('post', '/api/note', {'pitch': 60.5}, 400, 'must be an integer'),
    ('post', '/api/note', {}, 400, 'pitch must be a number'),
    ('post', '/api/note', 'not json', 400, 'expected a JSON object'),
    ('post', '/api/note', {'pitch': 60, 'timbre': {'corners': [{}] * 3}}, 400,
     'list of 4 corners'),
    ('post', '/api/note', {'pitch': 60, 'timbre': {
        'corners': [{'z': [0.0] * 63}] * 4}}, 400, 'list of 64 numbers'),
    ('post', '/api/note', {'pitch': 60, 'timbre': {
        'corners': [{'seed': -1}] * 4}}, 400, 'seed must be within'),
    ('post', '/api/note', {'pitch': 60, 'timbre': {'x': 2}}, 400,
     'timbre.x must be within 0..1'),
    ('post', '/api/note', {'pitch': 60, 'timbre': {'edits': {'9': 1}}}, 400,
     'direction 9 is out of range (1..8)'),
    ('post', '/api/note', {'pitch': 60, 'timbre': {'edits': {'1': 5}}}, 400,
     'within -3..3'),
    ('get', '/api/note', None, 405, 'Method Not Allowed'),
    ('get', '/api/jobs/nope', None, 404, "no inversion job 'nope'"),
    ('post', '/api/midi', {}, 400, 'no file in the upload'),
])
def test_bad_requests_get_a_json_reason(client, method, path, body, status,
                                        words):
  if isinstance(body, str):
    response = client.post(path, data=body)
  elif method == 'post':
    response = client.post(path, json=body)
  else:
    response = client.get(path)
  assert response.status_code == status
  assert words in response.get_json()['error']


def _upload(client, path, data, name, **fields):
  return client.post(path, data=dict(file=(io.BytesIO(data), name), **fields),
                     content_type='multipart/form-data')


def _wav_bytes(audio):
  buffer = io.BytesIO()
  soundfile.write(buffer, audio, SR, format='WAV')
  return buffer.getvalue()


def test_bad_uploads_are_refused_with_a_reason(client, model, tmp_path):
  long_midi = _midi_file(tmp_path / 'long.mid', [(60, 0, 1), (62, 25, 26)])
  drums = _midi_file(tmp_path / 'drums.mid', [(38, 0, 1)], drum=True)
  note = model.generate_from_z(_seed_z(model, 2)[None], [60])[0]
  cases = [
      ('/api/midi', b'just some text', 'notes.txt', 400,
       'notes.txt is not a MIDI file'),
      ('/api/midi', _wav_bytes(note), 'note.wav', 400, 'is not a MIDI file'),
      ('/api/midi', long_midi.read_bytes(), 'long.mid', 400,
       'long.mid lasts 26.0 s, longer than the 20 s'),
      ('/api/midi', drums.read_bytes(), 'drums.mid', 400,
       'no notes the model can play'),
      ('/api/midi', b'MThd' + b'\0' * 20, 'broken.mid', 400,
       'broken.mid is not a readable MIDI file'),
      ('/api/midi', b'MThd' + b'\0' * (MAX_UPLOAD_MB * 2 ** 20), 'big.mid',
       413, 'larger than the 1 MB'),
      ('/api/invert', long_midi.read_bytes(), 'long.mid', 400,
       'it is a MIDI file'),
      ('/api/invert', b'RIFF\0\0\0\0WAVE', 'bad.wav', 400,
       'bad.wav is not an audio file'),
      ('/api/invert', _wav_bytes(np.zeros(6 * SR, np.float32) + 0.1),
       'long.wav', 400, 'long.wav lasts 6.0 s, longer than the 5 s'),
      ('/api/invert', _wav_bytes(np.zeros(SR, np.float32)), 'silent.wav', 400,
       'silent.wav: the audio is silent'),
      ('/api/invert', _wav_bytes(np.full(SR // 20, 0.5, np.float32)),
       'short.wav', 400, 'too short'),
      ('/api/invert', _wav_bytes(note), 'note.wav', 400,
       'pitch must be "auto" or a MIDI number'),
  ]
  for path, data, name, status, words in cases:
    fields = {'pitch': 'sixty'} if name == 'note.wav' else {}
    response = _upload(client, path, data, name, **fields)
    assert response.status_code == status, (name, response.data[:300])
    reason = response.get_json()['error']
    assert words in reason, (name, reason)
    assert 'Traceback' not in reason and '/tmp' not in reason, reason


def test_midi_upload_renders_in_the_timbre_with_the_notes_length(
    client, model, tmp_path):
  path = _midi_file(tmp_path / 'melody.mid', MELODY)
  timbre = _corner_timbre(0.3, 0.8)
  response = _upload(client, '/api/midi', path.read_bytes(), 'melody.mid',
                     timbre=json.dumps(timbre))
  assert response.status_code == 200, response.get_json()
  clip = _wav(response.data)
  assert len(clip) == _melody_samples()
  assert response.headers['X-Notes'] == '4'
  assert float(response.headers['X-Seconds']) == pytest.approx(len(clip) / SR)
  assert np.abs(clip).max() == pytest.approx(0.5, abs=1e-3)
  # The first note, alone until the second's onset, is the keyboard's note
  # in that timbre shaped by its envelope.
  key = _wav(client.post('/api/note', json={'pitch': 60,
                                            'timbre': timbre}).data)
  shaped = midi.shape_note(key, 0.25, 100, SR)[:SR // 2]
  first = clip[:SR // 2]
  scale = np.dot(first, shaped) / np.dot(shaped, shaped)
  np.testing.assert_allclose(first, scale * shaped, atol=2e-4)


def test_concurrent_note_requests_are_each_generated_once(flask_app, model):
  notes = flask_app.extensions['gansynth']['notes']
  timbres = [_corner_timbre(x, 0.25) for x in (0.1, 0.6, 0.9)]
  jobs = [(p, t) for p in (48, 57, 66, 75) for t in range(3)] * 2
  before = notes.generated

  def play(job):
    pitch, t = job
    response = flask_app.test_client().post(
        '/api/note', json={'pitch': pitch, 'timbre': timbres[t]})
    assert response.status_code == 200
    return job, response.data

  with concurrent.futures.ThreadPoolExecutor(8) as pool:
    results = list(pool.map(play, jobs))
  assert notes.generated - before == 12  # each distinct note once
  by_job = {}
  for job, data in results:
    by_job.setdefault(job, set()).add(data)
  assert all(len(v) == 1 for v in by_job.values())
  for (pitch, t), data in list(by_job.items())[:3]:
    z = serve.mix_corners(np.stack([_seed_z(model, s)
                                    for s in serve.DEFAULT_SEEDS]),
                          timbres[t]['x'], timbres[t]['y'])
    np.testing.assert_allclose(_wav(data.pop()),
                               model.generate_from_z(z[None], [pitch])[0],
                               atol=1.5 / 32768)


def test_inversion_runs_as_a_job_with_progress_while_keys_play(
    client, flask_app, model):
  target = model.generate_from_z(_seed_z(model, 7)[None], [60])[0]
  response = _upload(client, '/api/invert', _wav_bytes(target), 'mine.wav',
                     pitch='auto')
  assert response.status_code == 202, response.get_json()
  job = response.get_json()
  assert job['pitch'] == 60 and job['status'] in ('queued', 'running')
  assert any('pYIN hears MIDI' in line for line in job['prepared'])
  progress, played = [], []
  expected = client.post('/api/note', json={
      'pitch': 51, 'timbre': _corner_timbre(0.7, 0.7)}).data
  deadline = time.time() + 120
  while job['status'] in ('queued', 'running'):
    assert time.time() < deadline, job
    progress.append(job['progress'])
    # Keys keep playing while the job runs: new notes, generated meanwhile.
    y = 0.05 + 0.01 * (len(played) % 60)
    response = client.post('/api/note', json={
        'pitch': 51, 'timbre': _corner_timbre(0.3, y)})
    assert response.status_code == 200
    if response.headers['X-Cache'] == 'miss':
      played.append((y, response.data))
    time.sleep(0.05)
    job = client.get(f'/api/jobs/{job["job"]}').get_json()
  assert job['status'] == 'done', job
  assert job['progress'] == 1.0 and progress == sorted(progress)
  assert played
  corners = np.stack([_seed_z(model, s) for s in serve.DEFAULT_SEEDS])
  for y, data in played[:2] + played[-1:]:
    z = serve.mix_corners(corners, 0.3, y)
    np.testing.assert_allclose(_wav(data),
                               model.generate_from_z(z[None], [51])[0],
                               atol=1.5 / 32768)
  result = job['result']
  assert len(result['z']) == model.latent_size
  assert result['distance_db'] <= result['baseline_db']
  assert client.post('/api/note', json={
      'pitch': 51, 'timbre': _corner_timbre(0.7, 0.7)}).data == expected
  # The found latent plays as a corner.
  corner = client.post('/api/note', json={'pitch': 60, 'timbre': {
      'corners': [{'z': result['z']}] * 4}})
  assert corner.status_code == 200


def test_downloads_latent_sf2_and_sfz(client, model):
  timbre = _corner_timbre(0.25, 0.75, {'2': 1.0})
  z = np.load(io.BytesIO(client.post('/api/z.npy',
                                     json={'timbre': timbre}).data))
  expected = model.edit_z(serve.mix_corners(
      np.stack([_seed_z(model, s) for s in serve.DEFAULT_SEEDS]), 0.25,
      0.75)[None], {2: 1.0})
  np.testing.assert_allclose(z, expected, rtol=1e-6)
  sf2 = client.post('/api/instrument.sf2', json={'timbre': timbre})
  assert sf2.status_code == 200, sf2.get_json()
  assert sf2.data[:4] == b'RIFF' and sf2.data[8:12] == b'sfbk'
  sfz = client.post('/api/instrument.zip', json={'timbre': timbre})
  assert sfz.status_code == 200, sfz.get_json()
  names = zipfile.ZipFile(io.BytesIO(sfz.data)).namelist()
  assert 'gansynth/gansynth.sfz' in names and 'gansynth/z.npy' in names
  assert sum(n.endswith('.wav') for n in names) == 17


def test_cross_site_posts_are_refused(client):
  response = client.post('/api/note', json={'pitch': 60},
                         headers={'Origin': 'http://evil.example'})
  assert response.status_code == 403
  assert 'not served' in response.get_json()['error']


def test_command_line_errors(run_main, tmp_path):
  result = run_main(serve, [f'--ckpt_dir={tmp_path / "none"}', '--port=0'])
  assert result.returncode == 1
  assert 'gansynth_tf2.serve: error:' in result.stderr
  result = run_main(serve, ['--port=70000'])
  assert result.returncode == 1 and '--port=70000' in result.stderr


def test_command_line_serves_the_shipped_model_by_default():
  """`python -m gansynth_tf2.serve --port=0` from the checkout: the shipped
  models/cpu_small, loopback, the URL printed."""
  process = subprocess.Popen(
      [sys.executable, '-m', 'gansynth_tf2.serve', '--port=0'], cwd=REPO,
      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
  try:
    line = ''
    deadline = time.time() + 120
    while 'http://' not in line:
      assert time.time() < deadline and process.poll() is None, (
          process.stderr.read() if process.poll() is not None else line)
      line = process.stdout.readline()
    assert 'cpu_small' in line
    url = line.split()[line.split().index('on') + 1]
    assert url.startswith('http://127.0.0.1:')
    import urllib.request  # pylint: disable=import-outside-toplevel
    with urllib.request.urlopen(url + 'api/info', timeout=30) as reply:
      assert json.load(reply)['model'] == 'cpu_small'
  finally:
    process.terminate()
    process.wait(timeout=30)


# -------------------------------------------------------------- the browser


def _browser_tools():
  chromium = shutil.which('chromium') or shutil.which('chromium-browser')
  driver = shutil.which('chromedriver')
  try:
    import selenium  # pylint: disable=import-outside-toplevel,unused-import
  except ImportError:
    return None, None, 'selenium is not installed (pip install .[test])'
  if not chromium or not driver:
    return None, None, ('chromium and chromium-driver are not installed '
                        '(tools/setup.sh installs them)')
  return chromium, driver, None


@pytest.fixture(scope='module')
def server(flask_app):
  httpd = serve.make_server(flask_app, '127.0.0.1', 0)
  thread = threading.Thread(target=httpd.serve_forever, daemon=True)
  thread.start()
  yield f'http://127.0.0.1:{httpd.server_port}/'
  httpd.shutdown()
  httpd.server_close()


@pytest.fixture(scope='module')
def browser(server):
  chromium, driver_path, why = _browser_tools()
  if why:
    pytest.skip(why)
  from selenium import webdriver  # pylint: disable=import-outside-toplevel
  from selenium.webdriver.chrome import service  # pylint: disable=import-outside-toplevel
  options = webdriver.ChromeOptions()
  options.binary_location = chromium
  for argument in ('--headless=new', '--no-sandbox',
                   '--autoplay-policy=no-user-gesture-required',
                   '--disable-dev-shm-usage', '--window-size=1320,1180',
                   '--disable-gpu', '--hide-scrollbars'):
    options.add_argument(argument)
  options.set_capability('goog:loggingPrefs', {'browser': 'ALL'})
  driver = webdriver.Chrome(service=service.Service(driver_path),
                            options=options)
  driver.set_script_timeout(60)
  driver.get(server)
  _wait(driver, 'return window.gansynth && window.gansynth.ready')
  yield driver
  driver.quit()


def _wait(driver, script, timeout=60):
  from selenium.webdriver.support.ui import WebDriverWait  # pylint: disable=import-outside-toplevel
  return WebDriverWait(driver, timeout, poll_frequency=0.05).until(
      lambda d: d.execute_script(script))


def _fetch_audio(driver, url):
  """The bytes behind a URL of the page (a blob: URL of a note)."""
  data = driver.execute_async_script("""
      const [url, done] = arguments;
      fetch(url).then(r => r.arrayBuffer()).then(buffer => {
        const bytes = new Uint8Array(buffer);
        let text = '';
        for (let i = 0; i < bytes.length; i += 0x8000) {
          text += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
        }
        done(btoa(text));
      }).catch(error => done('ERROR ' + error));""", url)
  assert not data.startswith('ERROR'), data
  return base64.b64decode(data)


def _severe_logs(driver):
  return [entry for entry in driver.get_log('browser')
          if entry['level'] == 'SEVERE']


def _play(driver, action):
  """Runs `action` (a key press) and returns the note the page played."""
  count = driver.execute_script('return window.gansynth.notesPlayed')
  action()
  _wait(driver, f'return window.gansynth.notesPlayed > {count}')
  last = driver.execute_script('return window.gansynth.lastNote')
  assert driver.execute_script(
      "return document.getElementById('note-audio').src") == last['url']
  return last, _wav(_fetch_audio(driver, last['url']))


def _click_key(driver, pitch):
  from selenium.webdriver.common.action_chains import ActionChains  # pylint: disable=import-outside-toplevel
  key = driver.find_element('id', f'key-{pitch}')
  return lambda: ActionChains(driver).move_to_element_with_offset(
      key, 0, 20 if 'white' in key.get_attribute('class') else 0).click(
          ).perform()


def test_page_loads_without_console_errors(browser):
  assert not _severe_logs(browser)
  assert browser.find_element('id', 'model-info').text.startswith(
      'cpu_small: 0.51 s notes')
  keys = browser.find_elements('css selector', '#keyboard .key')
  assert len(keys) == 61
  resampled = {int(k.get_attribute('data-pitch')) for k in keys
               if 'resampled' in k.get_attribute('class')}
  assert resampled == set(range(24, 85)) - set(range(24, 85, 3))
  assert len(browser.find_elements('css selector', '#sliders input')) == 8
  assert not browser.find_element('id', 'message').is_displayed()


def test_key_press_plays_the_asked_pitch(browser, capsys):
  # A click on the screen's key, then the computer keyboard: K is C5,
  # J is B4 (no training notes: C5 resampled down a semitone).
  cold, wave = _play(browser, _click_key(browser, 67))
  assert cold['pitch'] == 67 and not cold['cached']
  assert abs(_pyin(wave) - 67) < 0.5
  body = browser.find_element('tag name', 'body')
  warm, again = _play(browser, _click_key(browser, 67))
  assert warm['cached']
  np.testing.assert_array_equal(again, wave)
  typed, wave = _play(browser, lambda: body.send_keys('k'))
  assert typed['pitch'] == 72 and abs(_pyin(wave) - 72) < 0.5
  resampled, wave = _play(browser, lambda: body.send_keys('j'))
  assert resampled['pitch'] == 71 and resampled['sourcePitch'] == 72
  assert abs(_pyin(wave) - 71) < 0.5
  assert len(wave) == pytest.approx(NOTE * 2 ** (1 / 12), abs=1)
  with capsys.disabled():
    print(f'\nserve latency, key press to playable audio (cpu_small): '
          f'{cold["latencyMs"]:.0f} ms generated (server '
          f'{cold["serverMs"]:.0f} ms), {warm["latencyMs"]:.0f} ms cached')
  assert not _severe_logs(browser)


def _drag_pad(driver, x, y):
  from selenium.webdriver.common.action_chains import ActionChains  # pylint: disable=import-outside-toplevel
  pad = driver.find_element('id', 'pad')
  size = pad.size
  ActionChains(driver).move_to_element(pad).click_and_hold().move_by_offset(
      int((x - 0.5) * (size['width'] - 2)),
      int((y - 0.5) * (size['height'] - 2))).release().perform()
  return driver.execute_script('return window.gansynth.timbre()')


def test_moving_the_pad_changes_the_notes_spectrum(browser, model):
  spectra = []
  for x, y in ((0.1, 0.1), (0.9, 0.9)):
    timbre = _drag_pad(browser, x, y)
    assert abs(timbre['x'] - x) < 0.02 and abs(timbre['y'] - y) < 0.02
    _, wave = _play(browser, _click_key(browser, 60))
    z = serve.mix_corners(np.stack([_seed_z(model, s)
                                    for s in serve.DEFAULT_SEEDS]),
                          timbre['x'], timbre['y'])
    np.testing.assert_allclose(wave, model.generate_from_z(z[None], [60])[0],
                               atol=1.5 / 32768)
    spectra.append(metrics.log_mel_db(wave[None], SR)[0])
  # The two corners' notes differ by several dB per mel bin and frame.
  assert np.mean(np.abs(spectra[0] - spectra[1])) > 3.0
  assert not _severe_logs(browser)


def test_midi_upload_plays_back_with_the_right_length(browser, tmp_path):
  path = _midi_file(tmp_path / 'melody.mid', MELODY)
  browser.find_element('id', 'midi-file').send_keys(str(path))
  _wait(browser, 'return window.gansynth.renders > 0')
  render = browser.execute_script('return window.gansynth.lastRender')
  clip = _wav(_fetch_audio(browser, render['url']))
  assert len(clip) == _melody_samples() and render['notes'] == 4
  duration = _wait(browser, """
      const audio = document.getElementById('midi-audio');
      return audio.readyState >= 1 && audio.src === arguments[0] &&
             audio.duration;""".replace('arguments[0]',
                                        json.dumps(render['url'])))
  assert duration == pytest.approx(_melody_samples() / SR, abs=1e-3)
  # It plays (the page starts it; autoplay is allowed in this browser).
  _wait(browser, "return document.getElementById('midi-audio').currentTime "
                 '> 0')
  assert 'melody.mid: 4 notes' in browser.find_element(
      'id', 'midi-status').text
  assert not _severe_logs(browser)


def test_screenshot(browser):
  """The page after the tests above: docs/serve.png when
  GANSYNTH_UPDATE_SCREENSHOT=1 (the suite leaves tracked files alone)."""
  browser.execute_script("document.getElementById('dir-1').value = 1.5;"
                         "document.getElementById('dir-1').dispatchEvent("
                         "new Event('input'));")
  height = browser.execute_script(
      'return document.documentElement.scrollHeight')
  browser.execute_cdp_cmd('Emulation.setDeviceMetricsOverride', {
      'width': 1320, 'height': min(height, 2000), 'deviceScaleFactor': 1,
      'mobile': False})
  try:
    png = browser.get_screenshot_as_png()
  finally:
    browser.execute_cdp_cmd('Emulation.clearDeviceMetricsOverride', {})
  assert png[:8] == b'\x89PNG\r\n\x1a\n' and len(png) > 20000
  if os.environ.get('GANSYNTH_UPDATE_SCREENSHOT') == '1':
    (REPO / 'docs' / 'serve.png').write_bytes(png)


def test_bad_upload_shows_its_message(browser, tmp_path):
  text = tmp_path / 'notes.txt'
  text.write_text('not a MIDI file at all')
  browser.find_element('id', 'midi-file').send_keys(str(text))
  _wait(browser, "return !document.getElementById('message').hidden")
  message = browser.find_element('id', 'message').text
  assert 'notes.txt is not a MIDI file' in message, message
  # A MIDI file given as a recording to invert.
  path = _midi_file(tmp_path / 'tune.mid', MELODY)
  browser.find_element('id', 'invert-file-0').send_keys(str(path))
  _wait(browser, "return document.getElementById('message').textContent"
                 ".includes('tune.mid')")
  message = browser.find_element('id', 'message').text
  assert 'corner A: tune.mid is not an audio file' in message, message
  # Too large: the page says so without sending it (the server would 413).
  big = tmp_path / 'big.mid'
  big.write_bytes(b'MThd' + b'\0' * (MAX_UPLOAD_MB * 2 ** 20))
  browser.find_element('id', 'midi-file').send_keys(str(big))
  _wait(browser, "return document.getElementById('message').textContent"
                 ".includes('big.mid')")
  message = browser.find_element('id', 'message').text
  assert 'larger than the 1.0 MB this server takes' in message, message
  # The failed uploads are 400s (Chromium logs a failed fetch as an error);
  # nothing else went wrong.
  others = [e for e in _severe_logs(browser)
            if '400 (BAD REQUEST)' not in e['message']]
  assert not others, others
