"""The command line of `python -m gansynth_tf2.evaluate`: flags and main.

gansynth_tf2/evaluate.py is the command (its docstring is the usage text);
it defines these flags and runs `main`.
"""
import os
import sys

from absl import app
from absl import flags

from gansynth_tf2.evaluation import first_line
from gansynth_tf2.evaluation import real_data
from gansynth_tf2.evaluation import real_statistics
from gansynth_tf2.evaluation import report
from gansynth_tf2.evaluation import scoring
from gansynth_tf2.evaluation import table

FLAGS = flags.FLAGS


def define_flags(flag_values=FLAGS):
  """The command-line flags; defined only by the CLI so that importing this
  module beside another absl program does not clash. `flag_values`: where
  (tests parse into their own `flags.FlagValues`)."""
  flags.DEFINE_multi_string(
      'gin_file', [], 'Real data: gin files binding the DATASET macro, as '
      'train.py reads them (e.g. gin/datasets/prepared.gin). Default: the '
      "first checkpoint's training data when readable, else "
      f'{real_data.DEFAULT_DATASET_GIN}',
      flag_values=flag_values)
  flags.DEFINE_multi_string(
      'gin_param', [], 'gin bindings applied after the files, e.g. '
      "--gin_param=\"PreparedDataset.data_dir='data/mine'\"",
      flag_values=flag_values)
  flags.DEFINE_multi_string(
      'ckpt_dir', [], 'Checkpoint directory, ours (a training dir) or '
      "Magenta's (experiment.json + stage_000NN/); one row each",
      flag_values=flag_values)
  flags.DEFINE_string(
      'classifier_dir', None, 'Required: the pitch classifier folder (made by '
      'python -m gansynth_tf2.train_classifier --output_dir=...).',
      flag_values=flag_values)
  flags.DEFINE_integer('num_samples', table.DEFAULT_NUM_SAMPLES,
                       'Notes generated per model.',
                       flag_values=flag_values)
  flags.DEFINE_integer(
      'seed', 0, 'Seeds latents, pitches, the real-data split and NDB; the '
      'same seed gives the same numbers.',
      flag_values=flag_values)
  flags.DEFINE_string('output_json', None,
                      'Also write the table as JSON here (atomically).',
                      flag_values=flag_values)
  flags.DEFINE_string(
      'cache_dir', None, "Cache of the real notes' classifier outputs "
      '(default: eval_stats/ in $GANSYNTH_TF2_CACHE, else in '
      '~/.cache/gansynth_tf2).',
      flag_values=flag_values)
  flags.DEFINE_integer('batch_size', 8,
                       'Notes per generator and classifier call.',
                       flag_values=flag_values)
  lo, hi = scoring.PYIN_PITCH_RANGE
  flags.DEFINE_boolean(
      'pyin', False, "Also check the generated notes' pitch with pYIN "
      f'(notes asked in MIDI {lo}..{hi}, within {scoring.PYIN_TOLERANCE} '
      'semitone); classifier-independent but slow, about 2 s per note on a '
      'CPU.',
      flag_values=flag_values)
  flags.DEFINE_integer(
      'ndb_k', table.DEFAULT_NDB_K, 'NDB bins (k-means on real features); '
      'lowered to the size of the real reference half when that is smaller.',
      flag_values=flag_values)
  flags.DEFINE_integer(
      'max_real_notes', None, 'Use only the first this many real notes, in '
      "the dataset's order (default: all).",
      flag_values=flag_values)
  flags.DEFINE_boolean('use_ema', True,
                       "Generate with the generator's EMA weights.",
                       flag_values=flag_values)


def check_outputs(output_json, cache_dir):
  """Refuses an --output_json folder or --cache_dir (default: the one
  `real_statistics` would use) that cannot be written, before any work
  (`files.check_writable_dir`; both are written only at the end).

  Raises:
    files.UnwritableDirError (a ValueError), naming the flag.
  """
  # pylint: disable-next=import-outside-toplevel
  from gansynth_tf2 import files
  if output_json:
    files.check_writable_dir(os.path.dirname(os.path.abspath(output_json)),
                             '--output_json')
  files.check_writable_dir(
      os.path.expanduser(cache_dir or real_statistics.default_cache_dir()),
      '--cache_dir')


def main(argv, flag_values=FLAGS):
  """The CLI after flag parsing (`flag_values`: parsed flags, for tests)."""
  fv = flag_values
  if len(argv) > 1:
    raise app.UsageError(f'unexpected arguments: {argv[1:]}')
  try:
    # The argument checks first, so a typo fails before data or models load.
    table.check_arguments(fv.ckpt_dir, fv.classifier_dir, fv.num_samples,
                          fv.batch_size, fv.ndb_k, fv.max_real_notes)
    check_outputs(fv.output_json, fv.cache_dir)
    import tensorflow as tf  # pylint: disable=import-outside-toplevel
    tf.get_logger().setLevel('ERROR')
    dataset, chosen_by = real_data.resolve_real_data(
        fv.ckpt_dir, fv.gin_file, fv.gin_param)
    results = table.evaluate_models(
        fv.ckpt_dir, fv.classifier_dir, dataset,
        num_samples=fv.num_samples, seed=fv.seed,
        batch_size=fv.batch_size, cache_dir=fv.cache_dir,
        ndb_k=fv.ndb_k, pyin=fv.pyin,
        max_real_notes=fv.max_real_notes, use_ema=fv.use_ema)
    results['real_data']['chosen_by'] = chosen_by
    if fv.output_json:
      report.write_json(fv.output_json, results)
  except (ValueError, OSError) as e:
    # Bad input (EvaluationError, CheckpointError and the classifier's errors
    # among them): one clear line, no traceback.
    print(f'ERROR: {first_line(e)}', file=sys.stderr, flush=True)
    raise SystemExit(1) from None
  print(report.markdown_table(results), flush=True)
  if fv.output_json:
    print(f'wrote {fv.output_json}')
