"""`evaluate_models`: the table, a real row and one row per checkpoint.

  * model rows: `num_samples` notes generated with pitches drawn from the
    real data's pitch distribution (seeded); IS, PA (classifier argmax vs
    asked pitch, within 1 semitone) and PE from their softmax; FID and NDB
    of their classifier features against those of all real notes.
  * the real row: the real notes split (seeded) into a held-out half and a
    reference half; IS, PA, PE on the held-out half, FID and NDB of
    held-out vs reference: the best a model can hope for on this data.
"""
import datetime
import gc
import os

from gansynth_tf2.evaluation import classify
from gansynth_tf2.evaluation import EvaluationError
from gansynth_tf2.evaluation import real_data
from gansynth_tf2.evaluation import real_statistics
from gansynth_tf2.evaluation import report
from gansynth_tf2.evaluation import scoring

DEFAULT_NUM_SAMPLES = 1000
DEFAULT_NDB_K = 50


def check_arguments(ckpt_dirs, classifier_dir, num_samples, batch_size,
                    ndb_k, max_real_notes):
  """Refuses what `evaluate_models` cannot use; the messages name the flags.

  Raises:
    EvaluationError: the first argument found wrong.
  """
  if not ckpt_dirs:
    raise EvaluationError('--ckpt_dir: give at least one checkpoint '
                          'directory (repeat the flag for several models)')
  for d in ckpt_dirs:
    if not os.path.isdir(d):
      raise EvaluationError(f'--ckpt_dir: no such directory: {d}')
    from gansynth_tf2 import run_dir  # pylint: disable=import-outside-toplevel
    if not run_dir.Run(d).has_experiment():
      raise EvaluationError(
          f'--ckpt_dir: {d} is not a checkpoint directory (no '
          f'{run_dir.EXPERIMENT_JSON}; expected a training dir or an '
          'unzipped Magenta checkpoint)')
  if not classifier_dir:
    raise EvaluationError('--classifier_dir is required (train one with '
                          'python -m gansynth_tf2.train_classifier)')
  if not os.path.isdir(classifier_dir):
    raise EvaluationError(f'--classifier_dir: no such directory: '
                          f'{classifier_dir}')
  if num_samples < 2:
    raise EvaluationError(f'--num_samples must be >= 2 (FID needs a '
                          f'covariance), got {num_samples}')
  if batch_size < 1:
    raise EvaluationError(f'--batch_size must be >= 1, got {batch_size}')
  if ndb_k < 1:
    raise EvaluationError(f'--ndb_k must be >= 1, got {ndb_k}')
  if max_real_notes is not None and max_real_notes < 4:
    raise EvaluationError(f'--max_real_notes must be >= 4 (two halves of at '
                          f'least 2), got {max_real_notes}')


def evaluate_models(ckpt_dirs, classifier_dir, dataset=None, *,
                    num_samples=DEFAULT_NUM_SAMPLES, seed=0, batch_size=8,
                    cache_dir=None, ndb_k=DEFAULT_NDB_K, pyin=False,
                    max_real_notes=None, use_ema=True, progress=None,
                    models=None, log=print):
  """The table of `python -m gansynth_tf2.evaluate`, as a dict.

  Args:
    ckpt_dirs: checkpoint folders, ours or Magenta's (a row each).
    classifier_dir: a folder of `classifier.save_classifier`.
    dataset: the real data (a `data.base.NotesDataset`); None: the first
      checkpoint's training data when readable, else the embedded default
      (`real_data.resolve_real_data`; this does not touch the gin config).
    num_samples: notes generated per model.
    seed: seeds latents, pitches, the real split and NDB's k-means.
    batch_size: notes per generator and classifier call.
    cache_dir: real-statistics cache (default
      `real_statistics.default_cache_dir()`).
    ndb_k: NDB bins; lowered to the reference half's size if larger.
    pyin: also measure the generated notes' pitch with pYIN (slow: seconds
      per note on a CPU).
    max_real_notes: use only the first this many real notes.
    use_ema: generate with the EMA weights (as Magenta).
    progress: progress bars (None: only on a terminal).
    models: already loaded models (`load_model`), one per ckpt_dir, or None
      to load them (then one at a time, each freed after its row).
    log: where notes go (print).

  Returns:
    {'rows': {name: {IS, FID, PA, PE, NDB, NDB_fraction, num_samples, ...}},
     'real_data': {...}, 'classifier_dir', 'seed', 'num_samples', 'ndb_k',
     'pa_tolerance', 'pyin', 'created'}; the real row is named 'real data'
     and comes first. Non-finite numbers are None.

  Raises:
    EvaluationError (a ValueError): bad arguments, no real data.
    CheckpointError (a ValueError): a checkpoint that cannot be loaded.
  """
  ckpt_dirs = [os.fspath(d) for d in ckpt_dirs]
  if models is not None and len(models) != len(ckpt_dirs):
    raise EvaluationError(f'{len(models)} models for {len(ckpt_dirs)} '
                          'checkpoint directories')
  check_arguments(ckpt_dirs, classifier_dir, num_samples, batch_size, ndb_k,
                  max_real_notes)
  import gansynth_tf2  # pylint: disable=import-outside-toplevel
  from gansynth_tf2 import classifier  # pylint: disable=import-outside-toplevel
  from gansynth_tf2 import run_dir  # pylint: disable=import-outside-toplevel
  chosen_by = 'given'
  if dataset is None:
    dataset, chosen_by = real_data.resolve_real_data(ckpt_dirs, log=log)
  clf = classifier.load_classifier(classifier_dir)

  real = real_statistics.real_statistics(
      dataset, clf, classifier_dir, cache_dir, batch_size=batch_size,
      max_real_notes=max_real_notes, progress=progress, log=log)
  n_real = len(real.pitches)
  if n_real < 4:
    raise EvaluationError(
        f'real data: {n_real} notes; need at least 4 (a held-out and a '
        'reference half of 2 or more)')
  held, ref = scoring.split_real(n_real, seed)
  k = min(int(ndb_k), len(ref))
  if k < ndb_k:
    log(f'--ndb_k={ndb_k} is more than the {len(ref)} real reference notes; '
        f'using {k} bins')
  names = report.row_names(ckpt_dirs)
  rows = {report.REAL_ROW: dict(
      scoring.score(real.probs[held], real.features[held],
                    real.pitches[held], real.features[ref], k, seed),
      pyin_PA=None)}
  lo, hi = classify.classifier_pitch_range(clf)
  for i, (name, ckpt_dir) in enumerate(zip(names, ckpt_dirs)):
    if models is None:
      model = gansynth_tf2.load_model(ckpt_dir, use_ema=use_ema,
                                      batch_size=batch_size)
    else:
      model = models[i]
    allowed = set(model.pitches) & set(range(lo, hi + 1))
    pitches, left_out = scoring.sample_pitches(real.pitches, allowed,
                                               num_samples, seed)
    if pitches is None:
      raise EvaluationError(
          f'{ckpt_dir}: the model\'s pitches {model.min_pitch}..'
          f'{model.max_pitch} share none with the real notes\' pitches '
          f'within the classifier\'s {lo}..{hi}')
    if left_out:
      log(f'{name}: {left_out:.1%} of the real notes have pitches the model '
          f'or the classifier lacks (model {model.min_pitch}..'
          f'{model.max_pitch}, classifier {lo}..{hi}); pitches are drawn from '
          'the rest')
    if model.sample_rate != clf.sample_rate:
      log(f'{name}: resampling {model.sample_rate} Hz notes to the '
          f"classifier's {clf.sample_rate} Hz")
    z = model.generate_z(num_samples, seed=seed)
    probs, features, estimates = classify.generate_and_classify(
        model, clf, pitches, z, batch_size, pyin=pyin, progress=progress,
        desc=f'{name}: generating + classifying')
    row = scoring.score(probs, features, pitches, real.features, k, seed)
    # None, None for a model built in memory (e.g. a network at
    # initialisation): it has no checkpoint_path.
    stage, image_id = run_dir.checkpoint_position(model.checkpoint_path)
    row.update(pyin_PA=scoring.pyin_pa(estimates, pitches) if pyin else None,
               ckpt_dir=os.path.abspath(ckpt_dir), source=model.source,
               stage=stage, image_id=image_id,
               sample_rate=model.sample_rate,
               audio_length=model.audio_length,
               pitches_left_out=left_out)
    rows[name] = row
    del model
    gc.collect()

  return report.json_ready({
      'rows': rows,
      'real_data': dict(real_data.fingerprint_summary(
                            real_data.dataset_fingerprint(dataset)),
                        chosen_by=chosen_by, num_notes=n_real,
                        held_out=len(held), reference=len(ref),
                        cache=real.cache_path),
      'classifier_dir': os.path.abspath(classifier_dir),
      'seed': seed, 'num_samples': num_samples, 'ndb_k': k,
      'pa_tolerance': scoring.PA_TOLERANCE, 'pyin': bool(pyin),
      'created': datetime.datetime.now(datetime.timezone.utc).isoformat(),
  })
