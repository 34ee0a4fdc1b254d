"""The evaluation of `python -m gansynth_tf2.evaluate` (the paper's Table 1).

  real_data.py        which real notes: a gin config's DATASET, the data a
                      checkpoint's experiment.json names, or the default;
                      the fingerprint that identifies them
  real_statistics.py  the classifier's softmax and features of the real
                      notes, cached on disk
  classify.py         notes (real or generated) through the classifier:
                      resampled and looped alike; generation, pYIN
  scoring.py          one row's numbers (IS, FID, PA, PE, NDB, pYIN PA), the
                      real notes' split, the pitches asked of a model
  table.py            `evaluate_models`: the table, a real row and a row per
                      checkpoint, and the checks of its arguments
  report.py           the table's row names, Markdown and JSON
  cli.py              the command line's flags and main

TensorFlow, the classifier and the metrics are imported where needed:
importing the package (and `--help`) does not load them.
"""


class EvaluationError(ValueError):
  """Bad input to the evaluation; the message says what to change."""


def first_line(error):
  """The first line of an error's message (its type's name if empty)."""
  text = str(error).strip()
  return text.splitlines()[0] if text else type(error).__name__
