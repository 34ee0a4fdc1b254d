"""The evaluation set: all pitches 24..84, several instruments and velocities.

Real notes for the metrics (the pitch classifier is trained on them, and they
are the reference set generated notes are compared with). Unlike the embedded
training default (4 programs, every third pitch, one velocity) it has all 61
pitches, 8 General MIDI programs in 8 NSynth families and 3 velocities:
1464 notes, ~375 MB. Velocity 100, the training default's, is left out, so
the training default's notes are never in it.

Built on first use into the same cache as the default dataset (atomically,
with a progress bar while rendering); the cache folder's name holds a digest
of the programs, pitches and velocities, so a smaller configuration (the
tests') gets its own entry.
"""
# The default dataset's backend choice and synthesizer are shared on purpose.
# pylint: disable=protected-access
import hashlib
import json
import os

import gin

from gansynth_tf2.data import base
from gansynth_tf2.data import default
from gansynth_tf2.data import nsynth
from gansynth_tf2.data import schema
from gansynth_tf2.data import soundfont

# Bump when what is rendered changes for the same arguments.
VERSION = 1
# The training default's four programs (piano, nylon guitar, violin, flute)
# plus vibraphone, electric bass, trumpet and alto sax: one program per NSynth
# family among keyboard, guitar, string, flute, mallet, bass, brass and reed.
PROGRAMS = (0, 24, 40, 73, 11, 33, 56, 65)
PITCHES = tuple(range(base.MIN_PITCH, base.MAX_PITCH + 1))
VELOCITIES = (50, 80, 110)


def _digest(config):
  text = json.dumps(config, sort_keys=True)
  return hashlib.sha1(text.encode()).hexdigest()[:8]


def build_eval_dataset(programs=PROGRAMS, pitches=PITCHES,
                       velocities=VELOCITIES, cache_dir=None, backend='auto',
                       progress=True):
  """Renders the evaluation set unless cached; returns its folder.

  Args:
    programs: General MIDI programs (fluidsynth backend only).
    pitches: MIDI pitches.
    velocities: MIDI velocities.
    cache_dir: cache root (see default.cache_root).
    backend: 'fluidsynth', 'numpy' (the numpy synthesizer's 4 timbres instead
      of `programs`) or 'auto' (fluidsynth when installed), as
      DefaultDataset.
    progress: show a progress bar while rendering.

  Returns:
    A folder of NSynth-schema shards and manifest.json (PreparedDataset's
    layout).
  """
  # Whole numbers in MIDI's ranges (60.5 is refused, not played as 60).
  try:
    programs = soundfont.midi_values(programs, 'programs')
    pitches = soundfont.midi_values(pitches, 'pitches')
    velocities = soundfont.midi_values(velocities, 'velocities')
  except ValueError as e:
    raise ValueError(f'EvalDataset: {e}') from None
  backend = default._backend(backend)
  if backend == 'fluidsynth':
    sf2 = soundfont.find_soundfont()
    stem = os.path.splitext(os.path.basename(sf2))[0]
    config = dict(programs=programs, pitches=pitches, velocities=velocities)
  else:
    stem = 'numpy'
    config = dict(pitches=pitches, velocities=velocities)
  name = f'eval_v{VERSION}_{stem}_{_digest(config)}'

  def build(folder):
    if backend == 'fluidsynth':
      soundfont.render_soundfont(folder, programs, pitches, velocities,
                                 sf2=sf2, progress=progress)
    else:
      default._synthesize_into(folder, pitches, velocities)

  return default.build_cached(name, build, cache_dir,
                              what=f'evaluation set with {backend}')


@gin.configurable
class SoundfontDataset(nsynth.PreparedDataset):
  """Notes rendered from the installed soundfont, cached on first use.

  Any programs x pitches x velocities; the evaluation set and
  gin/cpu_small.gin's training set (all 61 pitches, the eight programs,
  velocity 100, so none of its notes is in the evaluation set) are two
  choices of them.

  Args:
    programs: General MIDI programs (default PROGRAMS).
    pitches: MIDI pitches (default all of 24..84).
    velocities: MIDI velocities (default 100, the embedded default's).
    cache_dir: cache root; default $GANSYNTH_TF2_CACHE or
      ~/.cache/gansynth_tf2.
    backend: 'auto', 'fluidsynth' or 'numpy'.
    progress: progress bar while rendering.
    min_pitch, max_pitch: the model's pitch range.
    audio_length: samples per note; notes are cut to it (4 s are rendered).
  """

  def __init__(self, programs=PROGRAMS, pitches=PITCHES, velocities=(100,),
               cache_dir=None, backend='auto', progress=True,
               min_pitch=base.MIN_PITCH, max_pitch=base.MAX_PITCH,
               audio_length=schema.AUDIO_LENGTH):
    self.data_dir = build_eval_dataset(programs, pitches, velocities,
                                       cache_dir, backend, progress)
    super().__init__(self.data_dir, min_pitch, max_pitch, audio_length)


@gin.configurable
class EvalDataset(SoundfontDataset):
  """The evaluation set, rendered into the cache on first use.

  Args:
    programs: General MIDI programs (default PROGRAMS).
    pitches: MIDI pitches (default all of 24..84).
    velocities: MIDI velocities (default VELOCITIES).
    cache_dir: cache root; default $GANSYNTH_TF2_CACHE or
      ~/.cache/gansynth_tf2.
    backend: 'auto', 'fluidsynth' or 'numpy'.
    progress: progress bar while rendering.
    min_pitch, max_pitch: the model's pitch range.
  """

  def __init__(self, programs=PROGRAMS, pitches=PITCHES,
               velocities=VELOCITIES, cache_dir=None, backend='auto',
               progress=True, min_pitch=base.MIN_PITCH,
               max_pitch=base.MAX_PITCH):
    super().__init__(programs, pitches, velocities, cache_dir, backend,
                     progress, min_pitch, max_pitch)
