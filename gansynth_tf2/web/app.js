// The page of `python -m gansynth_tf2.serve`: keyboard, timbre pad, MIDI
// rendering, downloads. Plain JavaScript, no library, nothing fetched from
// elsewhere (it works offline). `window.gansynth` exposes what the page
// played (tests/test_serve.py reads it).
'use strict';

(function () {
  const NAMES = ['C', 'C#', 'D', 'D#', 'E', 'F', 'F#', 'G', 'G#', 'A', 'A#', 'B'];
  const BLACK = new Set([1, 3, 6, 8, 10]);
  // Computer keys (by position, KeyboardEvent.code) -> semitones above the octave's C.
  const CODES = {
    KeyA: 0, KeyW: 1, KeyS: 2, KeyE: 3, KeyD: 4, KeyF: 5, KeyT: 6, KeyG: 7,
    KeyY: 8, KeyH: 9, KeyU: 10, KeyJ: 11, KeyK: 12, KeyO: 13, KeyL: 14,
    KeyP: 15, Semicolon: 16, Quote: 17,
  };
  const CORNERS = ['A', 'B', 'C', 'D'];
  const POLL_MS = 400;

  const state = {
    info: null,
    corners: [],       // {seed} or {z, label}
    x: 0.5, y: 0.5,
    edits: {},         // direction number -> amount
    octave: 4,         // C4 = MIDI 60
    noteCache: new Map(),  // pitch -> {key, url, ...} of the current timbre
  };
  const gansynth = window.gansynth = {
    ready: false, lastNote: null, lastRender: null, notesPlayed: 0,
    renders: 0, messages: [], jobs: {},
  };

  function $(id) { return document.getElementById(id); }

  function noteName(pitch) {
    return NAMES[pitch % 12] + (Math.floor(pitch / 12) - 1);
  }

  function showMessage(text, kind) {
    const box = $('message');
    box.textContent = text || '';
    box.className = kind || 'error';
    box.hidden = !text;
    if (text) gansynth.messages.push({kind: kind || 'error', text: text});
  }

  function clearMessage() { showMessage(''); }

  async function errorOf(response) {
    try {
      const body = await response.json();
      if (body && body.error) return body.error;
    } catch (e) { /* not JSON */ }
    return response.status + ' ' + response.statusText;
  }

  async function postJSON(url, body) {
    const response = await fetch(url, {
      method: 'POST', headers: {'Content-Type': 'application/json'},
      body: JSON.stringify(body),
    });
    if (!response.ok) throw new Error(await errorOf(response));
    return response;
  }

  function timbre() {
    return {
      corners: state.corners.map(c => (c.z ? {z: c.z} : {seed: c.seed})),
      x: state.x, y: state.y, edits: state.edits,
    };
  }

  function timbreKey() { return JSON.stringify(timbre()); }
  gansynth.timbre = timbre;

  function timbreChanged() {
    state.noteCache.clear();
  }

  function checkUpload(file) {
    const limit = state.info.limits.max_upload_bytes;
    if (file.size > limit) {
      throw new Error(file.name + ' is ' + (file.size / 1048576).toFixed(1) +
                      ' MB, larger than the ' + (limit / 1048576).toFixed(1) +
                      ' MB this server takes');
    }
  }

  // ------------------------------------------------------------- keyboard

  function buildKeyboard() {
    const board = $('keyboard');
    board.textContent = '';
    const info = state.info;
    const trained = new Set(info.trained_pitches);
    const white = 26, black = 16;
    let whites = 0;
    for (let pitch = info.keyboard.low; pitch <= info.keyboard.high; pitch++) {
      const key = document.createElement('div');
      const isBlack = BLACK.has(pitch % 12);
      key.id = 'key-' + pitch;
      key.dataset.pitch = pitch;
      key.className = 'key ' + (isBlack ? 'black' : 'white');
      let title = noteName(pitch) + ' (MIDI ' + pitch + ')';
      if (!trained.has(pitch)) {
        key.classList.add('resampled');
        let nearest = info.trained_pitches[0];
        for (const p of info.trained_pitches) {
          if (Math.abs(p - pitch) < Math.abs(nearest - pitch)) nearest = p;
        }
        title += ': no training notes, plays ' + noteName(nearest) + ' resampled';
      }
      key.title = title;
      if (isBlack) {
        key.style.left = (whites * white - black / 2) + 'px';
      } else {
        key.style.left = (whites * white) + 'px';
        if (pitch % 12 === 0) {
          const label = document.createElement('span');
          label.className = 'label';
          label.textContent = noteName(pitch);
          key.appendChild(label);
        }
        whites++;
      }
      board.appendChild(key);
    }
    board.style.width = (whites * white) + 'px';
    board.addEventListener('pointerdown', event => {
      const key = event.target.closest('.key');
      if (!key) return;
      event.preventDefault();
      playNote(Number(key.dataset.pitch), 100);
    });
    board.addEventListener('pointerover', event => {
      const key = event.target.closest('.key');
      if (key && (event.buttons & 1)) playNote(Number(key.dataset.pitch), 100);
    });
  }

  function press(pitch, down) {
    const key = $('key-' + pitch);
    if (key) key.classList.toggle('down', down);
  }

  async function playNote(pitch, velocity) {
    const started = performance.now();
    press(pitch, true);
    const key = timbreKey();
    try {
      let entry = state.noteCache.get(pitch);
      const cached = Boolean(entry && entry.key === key);
      if (!cached) {
        const response = await postJSON('api/note', {pitch: pitch, timbre: timbre()});
        const blob = await response.blob();
        entry = {
          key: key, url: URL.createObjectURL(blob),
          source: Number(response.headers.get('X-Source-Pitch')),
          serverMs: Number(response.headers.get('X-Milliseconds')),
        };
        if (timbreKey() === key) state.noteCache.set(pitch, entry);
      }
      const audio = new Audio(entry.url);
      audio.volume = Math.max(0.05, Math.min(1, velocity / 127));
      await audio.play();
      const latency = performance.now() - started;
      const last = $('note-audio');
      last.src = entry.url;
      const link = $('download-note');
      link.href = entry.url;
      link.download = 'note_' + pitch + '.wav';
      link.classList.remove('disabled');
      gansynth.lastNote = {
        pitch: pitch, url: entry.url, latencyMs: latency, cached: cached,
        sourcePitch: entry.source, serverMs: entry.serverMs,
      };
      gansynth.notesPlayed++;
      $('note-status').textContent = noteName(pitch) +
        (entry.source !== pitch ? ' (' + noteName(entry.source) + ' resampled)' : '') +
        ': ' + Math.round(latency) + ' ms from the key to sound' +
        (cached ? ' (cached)' : '');
    } catch (error) {
      showMessage('note ' + noteName(pitch) + ': ' + error.message);
    } finally {
      setTimeout(() => press(pitch, false), 120);
    }
  }

  function octaveChanged() {
    const info = state.info;
    const lowest = Math.floor(info.keyboard.low / 12) - 1;
    const highest = Math.floor(info.keyboard.high / 12) - 2;
    state.octave = Math.max(lowest, Math.min(highest, state.octave));
    $('octave-label').textContent = 'C' + state.octave;
  }

  function onKeyDown(event) {
    const target = event.target;
    if (event.repeat || event.ctrlKey || event.metaKey || event.altKey) return;
    if (target && (target.tagName === 'INPUT' && target.type !== 'range' ||
                   target.tagName === 'TEXTAREA' || target.tagName === 'SELECT')) return;
    if (event.code === 'KeyZ' || event.code === 'KeyX') {
      state.octave += event.code === 'KeyZ' ? -1 : 1;
      octaveChanged();
      return;
    }
    if (!(event.code in CODES)) return;
    event.preventDefault();
    playNote(12 * (state.octave + 1) + CODES[event.code], 100);
  }

  function startWebMidi() {
    const status = $('webmidi-status');
    if (!navigator.requestMIDIAccess) {
      status.textContent = 'Web MIDI: not in this browser.';
      return;
    }
    navigator.requestMIDIAccess().then(access => {
      const bind = () => {
        let count = 0;
        for (const input of access.inputs.values()) {
          input.onmidimessage = event => {
            const [command, pitch, velocity] = event.data;
            if ((command & 0xf0) === 0x90 && velocity > 0) playNote(pitch, velocity);
          };
          count++;
        }
        status.textContent = 'Web MIDI: ' + count + ' input' + (count === 1 ? '' : 's') + '.';
      };
      bind();
      access.onstatechange = bind;
    }, () => {
      status.textContent = 'Web MIDI: not allowed.';
    });
  }

  // ----------------------------------------------------------------- timbre

  function buildCorners() {
    const box = $('corners');
    box.textContent = '';
    state.corners.forEach((corner, i) => {
      const row = document.createElement('div');
      row.className = 'corner';
      row.id = 'corner-' + i;
      row.innerHTML =
        '<b>' + CORNERS[i] + '</b> ' +
        '<label>seed <input type="number" id="seed-' + i + '" min="0" step="1"></label> ' +
        '<button type="button" id="random-' + i + '">random</button> ' +
        '<label class="upload">recording: <input type="file" id="invert-file-' + i +
        '" accept="audio/*,.wav,.flac,.ogg"></label> ' +
        '<progress id="invert-progress-' + i + '" max="1" value="0" hidden></progress> ' +
        '<span class="status" id="corner-status-' + i + '"></span>';
      box.appendChild(row);
      const seed = $('seed-' + i);
      seed.value = corner.seed;
      seed.addEventListener('change', () => {
        const value = Number(seed.value);
        if (!Number.isInteger(value) || value < 0 || value > 4294967295) {
          showMessage('corner ' + CORNERS[i] + ': a seed is a whole number 0..4294967295');
          return;
        }
        state.corners[i] = {seed: value};
        $('corner-status-' + i).textContent = '';
        timbreChanged();
      });
      $('random-' + i).addEventListener('click', () => {
        const value = Math.floor(Math.random() * 1000000);
        seed.value = value;
        state.corners[i] = {seed: value};
        $('corner-status-' + i).textContent = '';
        timbreChanged();
      });
      $('invert-file-' + i).addEventListener('change', event => {
        const file = event.target.files[0];
        event.target.value = '';
        if (file) invertRecording(i, file);
      });
    });
  }

  async function invertRecording(i, file) {
    const status = $('corner-status-' + i);
    const bar = $('invert-progress-' + i);
    try {
      checkUpload(file);
      const form = new FormData();
      form.append('file', file, file.name);
      form.append('pitch', 'auto');
      status.textContent = 'uploading ' + file.name + '…';
      const response = await fetch('api/invert', {method: 'POST', body: form});
      if (!response.ok) throw new Error(await errorOf(response));
      let job = await response.json();
      gansynth.jobs[job.job] = job;
      bar.hidden = false;
      while (job.status === 'queued' || job.status === 'running') {
        bar.value = job.progress;
        status.textContent = 'inverting ' + file.name + ' at ' + noteName(job.pitch) +
          ': ' + Math.round(100 * job.progress) + '% (' + job.what + ')';
        await new Promise(resolve => setTimeout(resolve, POLL_MS));
        const poll = await fetch('api/jobs/' + job.job);
        if (!poll.ok) throw new Error(await errorOf(poll));
        job = await poll.json();
        gansynth.jobs[job.job] = job;
      }
      bar.hidden = true;
      if (job.status !== 'done') throw new Error(job.error || 'the inversion failed');
      state.corners[i] = {z: job.result.z, label: file.name};
      $('seed-' + i).value = '';
      status.textContent = file.name + ' (' + noteName(job.pitch) + '): ' +
        job.result.distance_db.toFixed(2) + ' dB from the recording (best of ' +
        job.result.num_random + ' random: ' + job.result.baseline_db.toFixed(2) + ' dB)';
      timbreChanged();
    } catch (error) {
      bar.hidden = true;
      status.textContent = '';
      showMessage('corner ' + CORNERS[i] + ': ' + error.message);
    }
  }

  function setPoint(x, y) {
    state.x = Math.max(0, Math.min(1, x));
    state.y = Math.max(0, Math.min(1, y));
    const point = $('pad-point');
    point.style.left = (100 * state.x) + '%';
    point.style.top = (100 * state.y) + '%';
    $('pad-status').textContent = 'x ' + state.x.toFixed(2) + ', y ' + state.y.toFixed(2);
  }

  function buildPad() {
    const pad = $('pad');
    let dragging = false;
    const move = event => {
      const box = pad.getBoundingClientRect();
      setPoint((event.clientX - box.left) / box.width,
               (event.clientY - box.top) / box.height);
    };
    pad.addEventListener('pointerdown', event => {
      dragging = true;
      if (pad.setPointerCapture && event.pointerId !== undefined) {
        try { pad.setPointerCapture(event.pointerId); } catch (e) { /* synthetic */ }
      }
      move(event);
      event.preventDefault();
    });
    pad.addEventListener('pointermove', event => { if (dragging) move(event); });
    const stop = event => {
      if (!dragging) return;
      dragging = false;
      move(event);
      timbreChanged();
    };
    pad.addEventListener('pointerup', stop);
    pad.addEventListener('pointercancel', stop);
    setPoint(state.x, state.y);
  }

  function buildSliders() {
    const box = $('sliders');
    box.textContent = '';
    const info = state.info;
    if (!info.directions.length) {
      const note = $('directions-note');
      note.textContent = 'No latent directions: ' + (info.directions_note || '');
      note.hidden = false;
      return;
    }
    for (const direction of info.directions) {
      const row = document.createElement('label');
      row.className = 'slider';
      const input = document.createElement('input');
      input.type = 'range';
      input.id = 'dir-' + direction.number;
      input.min = -info.max_edit;
      input.max = info.max_edit;
      input.step = 0.1;
      input.value = 0;
      const output = document.createElement('output');
      output.id = 'dir-value-' + direction.number;
      output.textContent = '0.0';
      const text = document.createElement('span');
      text.className = 'slider-label';
      text.textContent = direction.label;
      row.append(text, input, output);
      box.appendChild(row);
      input.addEventListener('input', () => {
        const value = Number(input.value);
        output.textContent = (value > 0 ? '+' : '') + value.toFixed(1);
        if (value) state.edits[direction.number] = value;
        else delete state.edits[direction.number];
        timbreChanged();
      });
    }
    $('reset-sliders').addEventListener('click', () => {
      for (const input of box.querySelectorAll('input')) {
        input.value = 0;
        input.dispatchEvent(new Event('input'));
      }
    });
  }

  // ------------------------------------------------------------ MIDI file

  async function renderMidi(file) {
    const status = $('midi-status');
    const started = performance.now();
    try {
      checkUpload(file);
      const form = new FormData();
      form.append('file', file, file.name);
      form.append('timbre', JSON.stringify(timbre()));
      status.textContent = 'rendering ' + file.name + '…';
      const response = await fetch('api/midi', {method: 'POST', body: form});
      if (!response.ok) throw new Error(await errorOf(response));
      const blob = await response.blob();
      const url = URL.createObjectURL(blob);
      const audio = $('midi-audio');
      audio.src = url;
      const link = $('download-render');
      link.href = url;
      link.download = file.name.replace(/\.[^.]*$/, '') + '.wav';
      link.classList.remove('disabled');
      const seconds = Number(response.headers.get('X-Seconds'));
      const notes = Number(response.headers.get('X-Notes'));
      gansynth.lastRender = {url: url, seconds: seconds, notes: notes,
                             ms: performance.now() - started};
      gansynth.renders++;
      status.textContent = file.name + ': ' + notes + ' notes, ' + seconds.toFixed(2) +
        ' s, rendered in ' + Math.round(performance.now() - started) + ' ms';
      try { await audio.play(); } catch (e) { /* the controls still play it */ }
    } catch (error) {
      status.textContent = '';
      showMessage('MIDI file: ' + error.message);
    }
  }

  // -------------------------------------------------------------- downloads

  async function download(url, filename, what) {
    const status = $('download-status');
    status.textContent = what + '…';
    try {
      const response = await postJSON(url, {timbre: timbre()});
      const blob = await response.blob();
      const link = document.createElement('a');
      link.href = URL.createObjectURL(blob);
      link.download = filename;
      document.body.appendChild(link);
      link.click();
      link.remove();
      status.textContent = filename + ' (' + Math.round(blob.size / 1024) + ' kB)';
    } catch (error) {
      status.textContent = '';
      showMessage(filename + ': ' + error.message);
    }
  }

  // ------------------------------------------------------------------ start

  async function start() {
    try {
      const response = await fetch('api/info');
      if (!response.ok) throw new Error(await errorOf(response));
      state.info = await response.json();
    } catch (error) {
      showMessage('cannot load the model information: ' + error.message);
      return;
    }
    const info = state.info;
    state.corners = info.default_corners.map(c => ({seed: c.seed}));
    $('model-info').textContent = info.model + ': ' + info.note_seconds.toFixed(2) +
      ' s notes at ' + (info.sample_rate / 1000) + ' kHz, MIDI ' +
      info.min_pitch + '..' + info.max_pitch + ' (' + info.trained_pitches.length +
      ' trained pitches), ' + info.directions.length + ' latent directions';
    buildKeyboard();
    octaveChanged();
    buildCorners();
    buildPad();
    buildSliders();
    document.addEventListener('keydown', onKeyDown);
    $('midi-file').addEventListener('change', event => {
      const file = event.target.files[0];
      event.target.value = '';
      if (file) renderMidi(file);
    });
    $('download-z').addEventListener('click', () => download('api/z.npy', 'z.npy', 'z.npy'));
    $('download-sf2').addEventListener('click', () =>
      download('api/instrument.sf2', 'gansynth.sf2', 'rendering the SF2 instrument'));
    $('download-sfz').addEventListener('click', () =>
      download('api/instrument.zip', 'gansynth_sfz.zip', 'rendering the SFZ instrument'));
    $('message').addEventListener('click', clearMessage);
    startWebMidi();
    gansynth.ready = true;
  }

  start();
})();
