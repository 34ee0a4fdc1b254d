"""gansynth-tf2: GANSynth in TensorFlow 2 / Keras 3.

Modules follow the data flow: audio -> spectral_ops / specgrams -> normalizers
-> layers / networks -> losses -> train; generation, export and Magenta import
consume the same pieces.
"""

__version__ = "0.1.0"


def load_model(*args, **kwargs):
  """Loads a generator from a checkpoint (ours or Magenta's); see model.py."""
  # Imported lazily so that `import gansynth_tf2` stays cheap and so that
  # tools that only need the spectral code do not build networks.
  from gansynth_tf2 import model  # pylint: disable=import-outside-toplevel
  return model.load_model(*args, **kwargs)
