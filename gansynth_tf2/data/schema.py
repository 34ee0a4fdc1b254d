"""The NSynth note schema's constants and naming, free of TensorFlow.

Kept apart from records.py so that the parallel workers that decode audio
files (audio_files.py) start without importing TensorFlow.
"""

SAMPLE_RATE = 16000
AUDIO_LENGTH = 64000  # 4 s at 16 kHz.
NUM_QUALITIES = 10
# The model's pitch range (the paper's NSynth subset).
MIN_PITCH = 24
MAX_PITCH = 84

INSTRUMENT_FAMILIES = ('bass', 'brass', 'flute', 'guitar', 'keyboard', 'mallet',
                       'organ', 'reed', 'string', 'synth_lead', 'vocal')
INSTRUMENT_SOURCES = ('acoustic', 'electronic', 'synthetic')


def note_str(instrument_str, pitch, velocity):
  """NSynth's note name, e.g. 'guitar_acoustic_001-060-100'."""
  return f'{instrument_str}-{int(pitch):03d}-{int(velocity):03d}'
