r"""Scores generators as the GANSynth paper's Table 1: IS, FID, PA, PE, NDB.

  python -m gansynth_tf2.evaluate --ckpt_dir=runs/if_mel_hq \
      --ckpt_dir=acoustic_only --classifier_dir=runs/classifier \
      [--gin_file=gin/datasets/default.gin] [--num_samples=1000] [--seed=0] \
      [--output_json=table.json] [--pyin]

One row per checkpoint (ours or Magenta's) plus a "real data" row, scored
with a pitch classifier (`gansynth_tf2.classifier`):

  * model rows: `num_samples` notes generated with pitches drawn from the
    real data's pitch distribution (seeded); IS, PA (classifier argmax vs
    asked pitch, within 1 semitone) and PE from their softmax; FID and NDB
    of their classifier features against those of all real notes.
  * the real row: the real notes split (seeded) into a held-out half and a
    reference half; IS, PA, PE on the held-out half, FID and NDB of
    held-out vs reference: the best a model can hope for on this data.

Real data is any dataset train.py reads (`--gin_file`/`--gin_param` binding
the DATASET macro, e.g. gin/datasets/prepared.gin). Without them it is the
data the first checkpoint's experiment.json names (`dataset_name`,
`train_data_path`) when that is readable here, else the embedded default
dataset (gin/datasets/default.gin). The classifier's softmax and features of
the real notes are cached in `--cache_dir` and reused while the dataset's
files, the classifier's files and the audio length are unchanged.

Numbers are comparable between models measured with the same classifier
and real data, not with the paper's Table 1 (its classifier is unreleased).
"""

# This file is the command (this docstring is its --help); the evaluation is
# the package gansynth_tf2/evaluation/ (see its __init__ for which module
# holds what). The names below are re-exported: tools and tests use them as
# `evaluate.<name>`.
from absl import app
from absl import flags

from gansynth_tf2.evaluation import cli
from gansynth_tf2.evaluation import EvaluationError  # noqa: F401 pylint: disable=unused-import
from gansynth_tf2.evaluation.cli import define_flags
from gansynth_tf2.evaluation.cli import main
from gansynth_tf2.evaluation.real_data import resolve_real_data  # noqa: F401 pylint: disable=unused-import
from gansynth_tf2.evaluation.report import METRIC_KEYS  # noqa: F401 pylint: disable=unused-import
from gansynth_tf2.evaluation.report import REAL_ROW  # noqa: F401 pylint: disable=unused-import
from gansynth_tf2.evaluation.table import evaluate_models  # noqa: F401 pylint: disable=unused-import


def console_entry_point():
  define_flags()
  # Defined in evaluation/cli.py, the flags are adopted as this command's,
  # so --help lists them (absl lists the main module's key flags).
  flags.adopt_module_key_flags(cli)
  app.run(main)


if __name__ == '__main__':
  console_entry_point()
