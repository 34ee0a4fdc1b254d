"""Audio and picture files: the one place WAVs and spectrogram PNGs are written.

Used by every tool that writes them (generate's modes, the round-trip demo):
  `write_wav`: 32-bit float WAV (soundfile), as generated; PCM subtypes for
    samplers (sampler.py).
  `fit_to_full_scale`: a clip over full scale scaled to peak at -1 dBFS.
  `wav_bytes`: a WAV file in memory (16-bit PCM), for the web page.
  `write_png`: a clip's log-magnitude spectrogram, with a piano roll above it
    for a clip of several notes (`midi.Notes`).
  `StreamedSpectrogram`: the spectrogram of a clip too long to hold, fed in
    blocks, reduced to at most 2048 columns (generate's --midi_file).
  `write_specgrams_png`: a representation's `[time, freq, 2]` image (log
    magnitude and IF / phase) side by side.
  `write_clip`: NAME.wav (+ NAME.png) and the entry generated.json lists.
  `write_comparison_png`: two clips' spectrograms one above the other on one
    scale (a recording and its inversion).

The spectrogram of `write_png` is the package's own STFT
(`specgrams_helper.SpecgramsHelper.waves_to_stfts`: periodic Hann window,
padding in front, DC bin dropped) at a plotting resolution of nfft 1024 and
hop 256. soundfile, matplotlib and TensorFlow are imported on first use, so
importing this module (and the command lines that do) stays light.
"""

import io
import os

import numpy as np

from gansynth_tf2 import midi

# Peak of a clip that came out over full scale, after scaling: -1 dBFS.
FULL_SCALE_PEAK = 10.0 ** (-1.0 / 20.0)

# The pictures' STFT: 512 bins (31 Hz at 16 kHz), 16 ms hops.
PLOT_NFFT = 1024
PLOT_OVERLAP = 0.75


def fit_to_full_scale(audio):
  """`[samples]` audio and the gain applied so that players do not clip.

  A clip peaking above 1.0 (the generator's notes can: the quick start's
  peak up to ~2) is scaled to peak at -1 dBFS; anything within full scale is
  left bit for bit as generated (gain 1.0), so quiet notes keep their level
  and match `load_model`'s output exactly.
  """
  audio = np.asarray(audio, np.float32)
  peak = float(np.max(np.abs(audio))) if audio.size else 0.0
  if not peak > 1.0:
    return audio, 1.0
  gain = FULL_SCALE_PEAK / peak
  return (audio * np.float32(gain)).astype(np.float32), gain


def write_wav(path, audio, sr, subtype='FLOAT'):
  """`audio` as a WAV at `sr` Hz (soundfile): 32-bit float by default.

  `subtype` is soundfile's, e.g. 'PCM_24' for samplers that want integer
  PCM; an integer subtype needs `audio` within [-1, 1].
  """
  import soundfile  # pylint: disable=import-outside-toplevel
  soundfile.write(path, np.asarray(audio, np.float32), sr, subtype=subtype)


def wav_bytes(audio, sr, subtype='PCM_16'):
  """`audio` as the bytes of a WAV file at `sr` Hz, fit to full scale first
  (`fit_to_full_scale`): 16-bit PCM by default, which every browser plays
  (the web page of serve.py)."""
  import soundfile  # pylint: disable=import-outside-toplevel
  buffer = io.BytesIO()
  soundfile.write(buffer, fit_to_full_scale(audio)[0], sr, subtype=subtype,
                  format='WAV')
  return buffer.getvalue()


def log_magnitude(audio, sr, floor_db=-80.0, reference=None):
  """Log-magnitude STFT for plots: `[frames, PLOT_NFFT // 2]`, dB re peak.

  The package's STFT (`SpecgramsHelper`) over the whole clip, frames of
  PLOT_NFFT samples every PLOT_NFFT / 4; non-finite samples are drawn as
  silence.
  """
  # pylint: disable-next=import-outside-toplevel
  from gansynth_tf2 import specgrams_helper
  audio = np.nan_to_num(np.asarray(audio, np.float32), nan=0.0, posinf=0.0,
                        neginf=0.0)
  if not audio.size:
    audio = np.zeros(1, np.float32)
  hop = int((1.0 - PLOT_OVERLAP) * PLOT_NFFT)
  frames = 1 + max(0, -(-(len(audio) - PLOT_NFFT) // hop))
  helper = specgrams_helper.SpecgramsHelper(
      audio_length=len(audio), spec_shape=(frames, PLOT_NFFT // 2),
      overlap=PLOT_OVERLAP, sample_rate=sr, mel_downscale=None)
  spec = np.abs(helper.waves_to_stfts(audio[None, :, None]).numpy()[0, ..., 0])
  reference = spec.max() if reference is None else reference
  db = 20.0 * np.log10(spec / max(reference, 1e-12) + 1e-12)
  return np.maximum(db, floor_db)


def _pyplot():
  import matplotlib  # pylint: disable=import-outside-toplevel
  matplotlib.use('Agg')
  import matplotlib.pyplot as plt  # pylint: disable=import-outside-toplevel
  return plt


class StreamedSpectrogram:
  """A long clip's log-magnitude spectrogram for its PNG, fed block by block,
  in memory bounded by the picture rather than the clip.

  Frames of PLOT_NFFT samples every PLOT_NFFT / 4 (periodic Hann window, DC
  bin dropped, as `log_magnitude`, but framed from sample 0 and zero-padded
  at the end); every `stride` consecutive frames are merged into one column
  by their maximum (a short note stays visible), `stride` chosen so that
  there are at most `max_columns` columns (2048: more than the widest PNG's
  pixels). Holds `[columns, PLOT_NFFT // 2]` float32 plus one frame of
  samples.

    spec = writers.StreamedSpectrogram(total_samples)
    for block in blocks:
      spec.add(block)
    db = spec.db()  # [columns, PLOT_NFFT // 2], for `write_png(..., db=db)`
  """

  def __init__(self, total_samples, max_columns=2048):
    self._hop = int((1.0 - PLOT_OVERLAP) * PLOT_NFFT)
    self._frames = 1 + max(0, -(-(total_samples - PLOT_NFFT) // self._hop))
    self._stride = -(-self._frames // max_columns)
    columns = -(-self._frames // self._stride)
    self._mag = np.zeros((columns, PLOT_NFFT // 2), np.float32)
    n = np.arange(PLOT_NFFT)
    self._window = 0.5 - 0.5 * np.cos(2.0 * np.pi * n / PLOT_NFFT)
    self._held = np.zeros(0, np.float64)  # samples from frame self._next on
    self._next = 0  # the next frame to compute

  def add(self, block):
    """Feeds the next `[k]` samples of the clip."""
    block = np.nan_to_num(np.asarray(block, np.float64), nan=0.0, posinf=0.0,
                          neginf=0.0)
    self._held = np.concatenate([self._held, block])
    ready = max(0, (len(self._held) - PLOT_NFFT) // self._hop + 1)
    self._frame(min(ready, self._frames - self._next))

  def db(self):
    """`[columns, PLOT_NFFT // 2]` dB re the loudest bin, floored at -80."""
    left = self._frames - self._next
    if left > 0:
      need = (left - 1) * self._hop + PLOT_NFFT
      self._held = np.concatenate(
          [self._held, np.zeros(max(0, need - len(self._held)))])
      self._frame(left)
    reference = max(float(self._mag.max()), 1e-12)
    return np.maximum(20.0 * np.log10(self._mag / reference + 1e-12), -80.0)

  def _frame(self, count):
    """Computes the next `count` frames from the held samples."""
    if count <= 0:
      return
    starts = np.arange(count) * self._hop
    frames = self._held[starts[:, None] + np.arange(PLOT_NFFT)]
    mag = np.abs(np.fft.rfft(frames * self._window, axis=1))[:, 1:]
    columns = (self._next + np.arange(count)) // self._stride
    np.maximum.at(self._mag, columns, mag.astype(np.float32))
    self._next += count
    self._held = self._held[count * self._hop:]


def write_png(path, audio, sr, title, notes=None, db=None, duration=None):
  """Spectrogram PNG; with `notes` (midi.Notes), a piano roll above it.

  `db`: the spectrogram to draw (`[columns, bins]`, e.g.
  `StreamedSpectrogram.db()`) instead of `log_magnitude(audio)`; then
  `audio` may be None and `duration` (seconds) gives the time axis.
  """
  plt = _pyplot()
  duration = len(audio) / sr if duration is None else duration
  if notes is None:
    fig, ax_spec = plt.subplots(figsize=(8, 4))
  else:
    fig, (ax_roll, ax_spec) = plt.subplots(
        2, 1, figsize=(max(8, min(24, duration)), 6), sharex=True,
        gridspec_kw={'height_ratios': [1, 2]})
    colors = plt.get_cmap('viridis')(notes.velocities / midi.MAX_VELOCITY)
    # One collection of rectangles (not a bar each): light for many notes.
    from matplotlib import collections  # pylint: disable=import-outside-toplevel
    x0, x1 = notes.start_times, notes.end_times
    y0, y1 = notes.pitches - 0.4, notes.pitches + 0.4
    boxes = np.stack([np.stack([x0, y0], -1), np.stack([x0, y1], -1),
                      np.stack([x1, y1], -1), np.stack([x1, y0], -1)], 1)
    ax_roll.add_collection(collections.PolyCollection(
        boxes, facecolors=colors, edgecolors='none'))
    ax_roll.set_ylim(notes.pitches.min() - 2, notes.pitches.max() + 2)
    ax_roll.set_ylabel('MIDI pitch')
    ax_roll.set_title(title)
  if db is None:
    db = log_magnitude(audio, sr)
  ax_spec.imshow(db.T, origin='lower', aspect='auto', cmap='magma',
                 extent=(0, duration, 0, sr / 2000))
  ax_spec.set_xlim(0, duration)
  ax_spec.set_xlabel('time (s)')
  ax_spec.set_ylabel('frequency (kHz)')
  if notes is None:
    ax_spec.set_title(title)
  fig.tight_layout()
  fig.savefig(path, dpi=80)
  plt.close(fig)


def write_specgrams_png(path, data, title=''):
  """PNG of a `[time, freq, 2]` representation: log magnitude and IF."""
  plt = _pyplot()
  fig, axes = plt.subplots(1, 2, figsize=(12, 4))
  for ax, channel, name, cmap in [(axes[0], 0, 'log magnitude', 'magma'),
                                  (axes[1], 1, 'instantaneous frequency / pi',
                                   'twilight')]:
    im = ax.imshow(data[:, :, channel].T, origin='lower', aspect='auto',
                   cmap=cmap, interpolation='nearest')
    ax.set_xlabel('frame')
    ax.set_ylabel('frequency bin')
    ax.set_title(f'{title} {name}'.strip())
    fig.colorbar(im, ax=ax)
  fig.tight_layout()
  fig.savefig(path, dpi=80)
  plt.close(fig)


def write_comparison_png(path, audios, sr, titles, title=''):
  """PNG of several clips' log-magnitude spectrograms, stacked, one dB scale.

  Levels are in dB re the loudest clip's peak bin, so a quieter clip looks
  quieter (the comparison of a recording with its inversion needs that).
  """
  plt = _pyplot()
  specs = [log_magnitude(a, sr, floor_db=-240.0, reference=1.0)
           for a in audios]
  top = max(float(np.max(s)) for s in specs)
  fig, axes = plt.subplots(len(audios), 1, figsize=(8, 2.6 * len(audios)),
                           sharex=True, squeeze=False)
  for ax, audio, spec, name in zip(axes[:, 0], audios, specs, titles):
    duration = len(audio) / sr
    im = ax.imshow(np.maximum(spec - top, -80.0).T, origin='lower',
                   aspect='auto', cmap='magma', vmin=-80.0, vmax=0.0,
                   extent=(0, duration, 0, sr / 2000))
    ax.set_ylabel('kHz')
    ax.set_title(name)
  axes[-1, 0].set_xlabel('time (s)')
  fig.colorbar(im, ax=axes[:, 0].tolist(), label='dB')
  if title:
    fig.suptitle(title)
  fig.savefig(path, dpi=80)
  plt.close(fig)


def write_clip(out_dir, name, audio, sr, title, notes=None, png=True):
  """Writes NAME.wav (and NAME.png); returns their file names for the JSON.

  The WAV is float32 within full scale (`fit_to_full_scale`); the entry's
  `gain` says by how much it was scaled (1.0: not at all).
  """
  audio, gain = fit_to_full_scale(audio)
  entry = {'wav': f'{name}.wav', 'gain': gain}
  write_wav(os.path.join(out_dir, entry['wav']), audio, sr)
  if png:
    entry['png'] = f'{name}.png'
    write_png(os.path.join(out_dir, entry['png']), audio, sr, title, notes)
  return entry
