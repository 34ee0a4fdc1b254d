"""The embedded default dataset: a few instruments over the pitch range, no download.

Made on first use into a cache folder and reused: notes of a few General MIDI
programs rendered with fluidsynth when it and a soundfont are installed,
otherwise the numpy synthesizer's timbres. The cache is built in a temporary
folder and renamed into place, so an interrupted first run leaves nothing
half-written behind, and a build that cannot write (a full disk, a file-size
limit) stops with one line naming the cache folder and the cause.
"""
import errno
import os
import shutil
import time

from absl import logging
import gin
import tensorflow as tf

from gansynth_tf2 import files
from gansynth_tf2.data import base
from gansynth_tf2.data import nsynth
from gansynth_tf2.data import records
from gansynth_tf2.data import schema
from gansynth_tf2.data import soundfont
from gansynth_tf2.data import synth

CACHE_ENV = 'GANSYNTH_TF2_CACHE'
# Bump when what is rendered changes, so old caches are not reused.
VERSION = 1
# Acoustic grand piano, nylon guitar, violin, flute: four clearly different
# families that every GM soundfont has.
PROGRAMS = (0, 24, 40, 73)
# Every third pitch of 24..84 keeps the set small (84 notes, ~21 MB) while
# covering the whole range.
PITCHES = tuple(range(base.MIN_PITCH, base.MAX_PITCH + 1, 3))
VELOCITY = 100


def cache_root(cache_dir=None):
  """`cache_dir`, else $GANSYNTH_TF2_CACHE, else ~/.cache/gansynth_tf2."""
  return os.path.expanduser(cache_dir or os.environ.get(CACHE_ENV) or
                            os.path.join('~', '.cache', 'gansynth_tf2'))


def _backend(backend):
  if backend == 'auto':
    return 'fluidsynth' if soundfont.fluidsynth_available() else 'numpy'
  if backend not in ('fluidsynth', 'numpy'):
    raise ValueError(f"backend must be 'auto', 'fluidsynth' or 'numpy', got "
                     f'{backend!r}.')
  return backend


def _synthesize_into(folder, pitches=PITCHES, velocities=(VELOCITY,)):
  """Writes the numpy synthesizer's timbres x pitches x velocities."""
  accepted = []
  for timbre, family in synth.TIMBRES.items():
    inst = f'{timbre}_synthetic_000'
    for velocity in velocities:
      for pitch in pitches:
        wave = synth.synthesize(timbre, pitch, velocity)
        entry = dict(note_str=schema.note_str(inst, pitch, velocity),
                     timbre=timbre, pitch=pitch, velocity=velocity,
                     instrument_family=family,
                     instrument_source=synth.SYNTHETIC)
        accepted.append((entry, records.make_example(
            wave, pitch, velocity, inst, instrument_family=family,
            instrument_source=synth.SYNTHETIC)))
  config = dict(timbres=list(synth.TIMBRES), pitches=list(pitches))
  if len(velocities) == 1:
    config['velocity'] = velocities[0]  # the key version 1 caches have
  else:
    config['velocities'] = list(velocities)
  records.write_dataset(folder, accepted, [], source='numpy_synth',
                        config=config)


def _remove_stale_builds(root, name, max_age_s=3600):
  """Deletes temp folders of builds that were killed (SIGKILL skips `finally`)."""
  for entry in os.listdir(root):
    path = os.path.join(root, entry)
    # files.publish_dir's temporary folders: `.<name>.tmp-*`.
    if (entry.startswith(f'.{name}.tmp-') and
        time.time() - os.path.getmtime(path) > max_age_s):
      shutil.rmtree(path, ignore_errors=True)


# OSErrors of a write that failed for want of room or rights (others, such as
# a missing soundfont, are not about the cache and pass unchanged).
_WRITE_ERRNOS = frozenset({errno.ENOSPC, errno.EFBIG, errno.EDQUOT,
                           errno.EACCES, errno.EPERM, errno.EROFS,
                           errno.ENOTDIR, errno.EEXIST})


def build_cached(name, build, cache_dir=None, what='dataset'):
  """Runs `build(folder)` once into `<cache root>/<name>`; returns that folder.

  The folder is built under a temporary name and renamed into place when
  `build` returns, so an interrupted build leaves nothing that looks
  complete; a folder counts as built once it has a manifest.json.

  Args:
    name: the cache entry's folder name (encode everything that changes
      what is built in it).
    build: callable(folder) that writes shards and manifest.json there.
    cache_dir: cache root (see cache_root).
    what: what is built, for the log line.

  Returns:
    The built folder.
  """
  root = cache_root(cache_dir)
  final = os.path.join(root, name)
  if os.path.exists(os.path.join(final, 'manifest.json')):
    return final
  logging.info('Building the %s into %s (once; set $%s to move it).', what,
               final, CACHE_ENV)
  try:
    os.makedirs(root, exist_ok=True)
    _remove_stale_builds(root, name)
    # FIRST: if another process finished the same build meanwhile, its
    # complete folder is kept and this one discarded.
    with files.publish_dir(final, mode=files.FIRST) as tmp:
      build(tmp)
  except (OSError, tf.errors.OpError) as e:
    if isinstance(e, OSError) and e.errno not in _WRITE_ERRNOS:
      raise
    raise files.WriteError(
        f'cannot build the {what} in {final}: {files.error_cause(e)}; '
        f'nothing of it was kept. Make room there, or set ${CACHE_ENV} to a '
        'folder with room.') from e
  if not os.path.exists(os.path.join(final, 'manifest.json')):
    raise OSError(f'{final} exists but holds no manifest.json (not a '
                  'complete build); delete it to rebuild')
  return final


def build_default_dataset(cache_dir=None, backend='auto', progress=False):
  """Makes the default dataset unless cached; returns its folder.

  Args:
    cache_dir: cache root (see cache_root).
    backend: 'fluidsynth', 'numpy' or 'auto' (fluidsynth when installed).
    progress: show a progress bar while rendering.

  Returns:
    Path of a folder in the layout of tools/render_soundfont.py (shards and
    manifest.json), readable with nsynth.PreparedDataset.
  """
  backend = _backend(backend)
  name = f'default_v{VERSION}_numpy'
  if backend == 'fluidsynth':
    sf2 = soundfont.find_soundfont()
    name = f'default_v{VERSION}_{os.path.splitext(os.path.basename(sf2))[0]}'

  def build(folder):
    if backend == 'fluidsynth':
      soundfont.render_soundfont(folder, PROGRAMS, PITCHES, [VELOCITY],
                                 sf2=sf2, progress=progress)
    else:
      _synthesize_into(folder)

  return build_cached(name, build, cache_dir, what=f'default dataset with '
                      f'{backend}')


@gin.configurable
class DefaultDataset(nsynth.PreparedDataset):
  """The embedded default dataset, built into the cache on first use.

  Args:
    cache_dir: cache root; default $GANSYNTH_TF2_CACHE or ~/.cache/gansynth_tf2.
    backend: 'auto', 'fluidsynth' or 'numpy'.
    min_pitch, max_pitch: the model's pitch range.
    audio_length: samples per note; the 4 s notes are cut to their first
      `audio_length` samples (gin/cpu_small.gin trains on 0.5 s notes).
  """

  def __init__(self, cache_dir=None, backend='auto', min_pitch=base.MIN_PITCH,
               max_pitch=base.MAX_PITCH, audio_length=schema.AUDIO_LENGTH):
    self.data_dir = build_default_dataset(cache_dir, backend)
    super().__init__(self.data_dir, min_pitch, max_pitch, audio_length)
