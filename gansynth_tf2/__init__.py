"""gansynth-tf2: GANSynth in TensorFlow 2 / Keras 3.

Modules follow the data flow: audio -> spectral_ops / specgrams -> normalizers
-> layers / networks -> losses -> train; generation, export and Magenta import
consume the same pieces.
"""

import os
import sys

__version__ = "0.1.0"


def _is_command_line_run():
  # `python -m gansynth_tf2.x` imports this package while sys.argv[0] is
  # still '-m'; the console scripts are named gansynth-tf2-*.
  arg0 = sys.argv[0] if sys.argv else ''
  return arg0 == '-m' or os.path.basename(arg0).startswith('gansynth-tf2-')


def _quiet_tensorflow_start():
  """Hides TensorFlow's native start-up lines on the command line.

  On a machine without a GPU TF prints "E0000 ... failed call to cuInit",
  which reads as an error, plus cudart / oneDNN notices. They stay visible
  with --verbosity (-v) or when TF_CPP_MIN_LOG_LEVEL is set by the user.
  """
  if any(a.startswith(('--verbosity', '-v')) for a in sys.argv[1:]):
    return
  if 'TF_CPP_MIN_LOG_LEVEL' in os.environ:
    return
  os.environ['TF_CPP_MIN_LOG_LEVEL'] = '3'  # drops C++ ERROR lines too
  # Lines written before absl's logging is set up ignore that level, so
  # TensorFlow is imported with the process's stderr pointed at /dev/null;
  # an import that fails still raises, and its traceback prints after.
  saved = os.dup(2)
  try:
    with open(os.devnull, 'w', encoding='utf-8') as null:
      os.dup2(null.fileno(), 2)
    import tensorflow  # pylint: disable=import-outside-toplevel,unused-import
  finally:
    os.dup2(saved, 2)
    os.close(saved)


if _is_command_line_run():
  _quiet_tensorflow_start()


def load_model(*args, **kwargs):
  """Loads a generator from a checkpoint (ours or Magenta's); see model.py."""
  # Imported lazily so that `import gansynth_tf2` stays cheap and so that
  # tools that only need the spectral code do not build networks.
  from gansynth_tf2 import model  # pylint: disable=import-outside-toplevel
  return model.load_model(*args, **kwargs)
