"""Tests for evaluate.py and the evaluation/ package: one table of ours and
Magenta's checkpoint, the cache, seeds and clear errors.

Everything is tiny: 10 real notes from the numpy synthesizer, a random
classifier of width 1/32 (its kernels scaled so that its softmax and features
are not flat), a checkpoint of our training code at stage 0 and the Magenta
oracle checkpoint, 4 generated notes per model. These three folders are built
once per test run and shared by the xdist workers (tests/test_learning_curve.py
uses them too). The values of the metrics are checked with the shipped
classifier (models/pitch_classifier) on 32 synthesized notes.
"""
import fcntl
import json
import math
import os
import pathlib
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

import gansynth_tf2
from gansynth_tf2 import classifier
from gansynth_tf2 import evaluate
from gansynth_tf2 import metrics
from gansynth_tf2 import run_dir
from gansynth_tf2 import schedule
from gansynth_tf2 import train
from gansynth_tf2 import trainer as trainer_lib
from gansynth_tf2.data import nsynth
from gansynth_tf2.data import records
from gansynth_tf2.data import synth
from gansynth_tf2.evaluation import classify
from gansynth_tf2.evaluation import real_data
from gansynth_tf2.evaluation import report
from gansynth_tf2.evaluation import scoring

REPO = pathlib.Path(__file__).resolve().parent.parent
TINY_GIN = REPO / 'tests' / 'data' / 'train_tiny.gin'
PITCHES = (48, 55, 60, 67, 72)
TIMBRES = ('organ', 'pluck')
NUM_SAMPLES = 4
NDB_K = 3


def write_notes(folder, notes):
  records.write_dataset(str(folder), [
      ({'pitch': p, 'instrument_source': 2},
       records.make_example(synth.synthesize(t, p), p, 100, t,
                            instrument_source=2)) for t, p in notes], [])
  return str(folder)


def make_real_dir(tmp_path_factory):
  return write_notes(tmp_path_factory.mktemp('real'),
                     [(t, p) for t in TIMBRES for p in PITCHES])


def make_classifier_dir(tmp_path_factory):
  keras.utils.set_random_seed(0)
  model = classifier.PitchClassifier(width=1 / 32).build_variables()
  for layer in model.convs + [model.logits_layer]:
    layer.kernel.assign(layer.kernel * 3.0)
  return classifier.save_classifier(
      model, str(tmp_path_factory.mktemp('clf') / 'classifier'))


def make_ours_dir(tmp_path_factory, real_dir):
  """A checkpoint as train.py writes it: experiment.json + stage_00000/ (the
  tiny config's stage 0, saved before any step: a step costs 25 s here)."""
  train_dir = str(tmp_path_factory.mktemp('runs') / 'ours')
  hp = train.hparams_from_gin_files([str(TINY_GIN)])
  dataset = nsynth.PreparedDataset(real_dir)
  hp = hp.replace(train_root_dir=train_dir, **train.experiment_fields(dataset))
  run_dir.Run(train_dir).write_experiment(hp)
  trainer = trainer_lib.StageTrainer(
      0, hp, schedule.TrainingSchedule.from_hparams(hp), train_dir, dataset,
      tf.distribute.get_strategy())
  trainer.restore()
  trainer.save()
  return train_dir


def _built_once(tmp_path_factory, name, build):
  """`build()` (a folder's path) run once per test run, shared by the
  pytest-xdist workers and by the test files that use it.

  As conftest's private_data_cache: the workers' base temp folders share a
  parent (the run's). The first caller builds under an exclusive file lock
  and records the path; the others wait on the lock, then read it.
  """
  base = tmp_path_factory.getbasetemp()
  if os.environ.get('PYTEST_XDIST_WORKER'):
    base = base.parent
  record = base / f'built_once_{name}.json'
  with open(base / f'built_once_{name}.lock', 'w', encoding='utf-8') as lock:
    fcntl.flock(lock, fcntl.LOCK_EX)
    try:
      if record.exists():
        return json.loads(record.read_text())
      value = build()
      record.write_text(json.dumps(value))
      return value
    finally:
      fcntl.flock(lock, fcntl.LOCK_UN)


# Session fixtures, built once per run (tests/test_learning_curve.py imports
# them). Tests only read these folders.
@pytest.fixture(scope='session')
def real_dir(tmp_path_factory):
  return _built_once(tmp_path_factory, 'evaluate_real_dir',
                     lambda: make_real_dir(tmp_path_factory))


@pytest.fixture(scope='session')
def classifier_dir(tmp_path_factory):
  return _built_once(tmp_path_factory, 'evaluate_classifier_dir',
                     lambda: make_classifier_dir(tmp_path_factory))


@pytest.fixture(scope='session')
def ours_dir(tmp_path_factory, real_dir):
  return _built_once(tmp_path_factory, 'evaluate_ours_dir',
                     lambda: make_ours_dir(tmp_path_factory, real_dir))


@pytest.fixture(scope='module')
def models(ours_dir, oracle_ckpt_dir):
  """Both models, loaded once for the in-process runs (a trace each)."""
  return {'ours': gansynth_tf2.load_model(ours_dir, batch_size=4),
          'ckpt': gansynth_tf2.load_model(oracle_ckpt_dir, batch_size=4)}


def real_gin_args(real_dir):
  return ['--gin_file=gin/datasets/prepared.gin',
          f"--gin_param=PreparedDataset.data_dir='{real_dir}'"]


def run_cli(args, cwd):
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL='2')
  return subprocess.run([sys.executable, '-m', 'gansynth_tf2.evaluate'] + args,
                        cwd=cwd, env=env, capture_output=True, text=True,
                        timeout=300, check=False)


@pytest.fixture(scope='module')
def cli_table(tmp_path_factory, ours_dir, oracle_ckpt_dir, classifier_dir,
              real_dir):
  """The command line on ours + Magenta's checkpoint, from another folder."""
  tmp = tmp_path_factory.mktemp('cli')
  out = tmp / 'out' / 'table.json'
  result = run_cli(
      [f'--ckpt_dir={ours_dir}', f'--ckpt_dir={oracle_ckpt_dir}',
       f'--classifier_dir={classifier_dir}', f'--num_samples={NUM_SAMPLES}',
       f'--ndb_k={NDB_K}', '--seed=0', '--batch_size=4',
       f'--cache_dir={tmp / "cache"}', f'--output_json={out}']
      + real_gin_args(real_dir), cwd=tmp)
  assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
  with open(out) as f:
    return dict(result=result, table=json.load(f), cache_dir=tmp / 'cache')


def test_one_table_for_ours_and_magentas_checkpoint(cli_table, ours_dir,
                                                     oracle_ckpt_dir):
  table, stdout = cli_table['table'], cli_table['result'].stdout
  rows = table['rows']
  assert list(rows) == ['real data', 'ours', 'ckpt']
  for name, row in rows.items():
    for key in evaluate.METRIC_KEYS:
      assert isinstance(row[key], (int, float)), (name, key, row[key])
      assert math.isfinite(row[key]), (name, key, row[key])
    assert 1.0 <= row['IS'] <= 61 and row['FID'] >= 0
    assert 0 <= row['PA'] <= 1 and 0 <= row['PE'] <= math.log(61)
    assert 0 <= row['NDB'] <= NDB_K
    assert row['NDB_fraction'] == pytest.approx(row['NDB'] / NDB_K)
  assert rows['real data']['num_samples'] == 5  # the held-out half of 10
  assert rows['ours']['num_samples'] == rows['ckpt']['num_samples'] == 4
  assert rows['ours']['source'] == 'gansynth_tf2'
  assert rows['ckpt']['source'] == 'magenta'
  assert rows['ours']['ckpt_dir'] == ours_dir
  assert rows['ckpt']['ckpt_dir'] == str(oracle_ckpt_dir)
  assert (rows['ours']['stage'], rows['ckpt']['stage']) == (0, 12)
  assert table['real_data']['num_notes'] == 10
  assert table['real_data']['class'] == 'PreparedDataset'
  assert table['ndb_k'] == NDB_K and table['seed'] == 0
  # The classifier is random but not flat: the rows are not all alike.
  assert rows['ours']['FID'] != rows['ckpt']['FID']
  assert rows['real data']['IS'] > 1.01
  # The Markdown table on stdout.
  assert '| Model | IS | FID | PA | PE | NDB | NDB frac |' in stdout
  assert f"| ckpt | {rows['ckpt']['IS']:.2f} | {rows['ckpt']['FID']:.2f} |" in (
      stdout)
  assert 'real statistics of 10 notes cached' in stdout
  assert 'using cached' not in stdout
  assert 'Traceback' not in cli_table['result'].stderr


def test_help_lists_the_flags(tmp_path):
  # Defined in evaluation/cli.py, the flags are the command's key flags.
  result = run_cli(['--help'], cwd=tmp_path)
  text = result.stdout + result.stderr
  assert 'python -m gansynth_tf2.evaluate --ckpt_dir=' in text
  heading = os.path.join('gansynth_tf2', 'evaluate.py') + ':\n'
  assert heading in text, text[-3000:]
  flags_listed = text.split(heading, 1)[1]
  for flag in ('--ckpt_dir', '--classifier_dir', '--gin_file', '--[no]pyin',
               '--max_real_notes', '--[no]use_ema'):
    assert flag in flags_listed, flag
  assert 'Traceback' not in text


def test_second_run_uses_the_cache_and_gives_the_same_numbers(
    cli_table, ours_dir, oracle_ckpt_dir, classifier_dir, real_dir, models,
    capsys):
  again = evaluate.evaluate_models(
      [ours_dir, oracle_ckpt_dir], classifier_dir,
      nsynth.PreparedDataset(real_dir), num_samples=NUM_SAMPLES, seed=0,
      batch_size=4, ndb_k=NDB_K, cache_dir=cli_table['cache_dir'],
      models=[models['ours'], models['ckpt']])
  assert 'using cached real statistics' in capsys.readouterr().out
  first = cli_table['table']['rows']
  assert again['rows']['real data'] == first['real data']
  for name in ('ours', 'ckpt'):
    for key in evaluate.METRIC_KEYS:
      assert again['rows'][name][key] == pytest.approx(first[name][key],
                                                       rel=1e-6, abs=1e-9)


def test_seed_decides_the_numbers(cli_table, ours_dir, classifier_dir,
                                  real_dir, models, capsys):
  runs = [evaluate.evaluate_models(
      [ours_dir], classifier_dir, nsynth.PreparedDataset(real_dir),
      num_samples=NUM_SAMPLES, seed=1, batch_size=4, ndb_k=50,
      cache_dir=cli_table['cache_dir'], models=[models['ours']])['rows']
          for _ in range(2)]
  assert runs[0] == runs[1]
  seed0 = cli_table['table']['rows']
  # Another split of the real notes, other latents and pitches.
  assert runs[0]['real data']['FID'] != seed0['real data']['FID']
  assert runs[0]['ours']['FID'] != seed0['ours']['FID']
  # --ndb_k above the 5 reference notes is lowered, and says so.
  assert 'using 5 bins' in capsys.readouterr().out


SHIPPED_CLASSIFIER = REPO / 'models' / 'pitch_classifier'


class NoiseModel:
  """A stand-in generator of white noise (16 kHz, 4 s), whatever is asked."""
  sample_rate = 16000
  audio_length = 64000
  pitches = list(range(24, 85))
  min_pitch, max_pitch = 24, 84
  source = 'noise'
  checkpoint_path = None

  def generate_z(self, n, seed=None):
    return np.random.default_rng(seed).standard_normal((n, 2)).astype(
        np.float32)

  def generate_from_z(self, z, pitches):
    rng = np.random.default_rng(abs(int(z[0, 0] * 1e6)))
    return (0.3 * rng.standard_normal((len(pitches), self.audio_length))
            ).astype(np.float32)


class SynthModel(NoiseModel):
  """A stand-in generator that plays the real notes' synthesizer."""
  source = 'synth'

  def generate_from_z(self, z, pitches):
    return np.stack([synth.synthesize(TIMBRES[int(abs(v) * 1e3) % 2], p)
                     for v, p in zip(z[:, 0], pitches)])


def test_values_real_notes_score_as_real_and_noise_does_not(tmp_path,
                                                            ours_dir):
  """What the numbers say, with the shipped classifier (not only that they
  are in range): real notes' pitches are recognised (PA), held-out real
  notes are near the reference half (FID) and noise is far; a generator
  that plays the real instrument scores like the real data.

  Measured on the 2-core AMD EPYC, 2026-12-04: real PA 1.000, FID 16.5;
  synth model PA 1.000, FID 8.6; noise PA 0.250, FID 36.7. (FID's floor at
  16 held-out notes against 16 reference notes in 32 dimensions is high, so
  the real row is compared with noise, not with 0; the synth model's 16
  notes are compared with all 32, hence its lower FID.) Bounds leave >= 2x.
  """
  notes = [(t, p) for t in synth.TIMBRES for p in (36, 43, 48, 55, 60, 67,
                                                   72, 79)]
  real = write_notes(tmp_path / 'real', notes)
  models = [NoiseModel(), SynthModel()]
  table = evaluate.evaluate_models(
      [ours_dir] * len(models), str(SHIPPED_CLASSIFIER),
      nsynth.PreparedDataset(real), num_samples=16, seed=0, batch_size=16,
      ndb_k=4, cache_dir=str(tmp_path / 'cache'), models=models)
  rows = table['rows']
  assert list(rows)[0] == 'real data'
  real_row, noise, played = rows.values()  # in the order of `models`
  for name, row in (('real', real_row), ('noise', noise),
                    ('synth', played)):
    print(f'{name}: PA {row["PA"]:.3f}, FID {row["FID"]:.1f}, '
          f'IS {row["IS"]:.2f}, NDB {row["NDB"]}')
  assert real_row['num_samples'] == 16
  # PA counts within 1 semitone; guessing gets ~3/61 (noise: one predicted
  # pitch, within 1 semitone of one of the 8 asked, 5-7 apart).
  assert real_row['PA'] >= 0.85 and played['PA'] >= 0.85
  assert noise['PA'] <= 0.5
  # Held-out real notes are nearer the reference half than noise is; the
  # synthesizer's notes less than half as far.
  assert real_row['FID'] < noise['FID']
  assert played['FID'] < 0.5 * noise['FID']


def test_bad_flags_are_one_clear_line(tmp_path, ours_dir, classifier_dir,
                                      run_main):
  # evaluate's main in-process (conftest's run_main); the cli_table fixture
  # runs the real command line.
  for args, message in [
      ([f'--ckpt_dir={tmp_path / "missing"}',
        f'--classifier_dir={classifier_dir}'], '--ckpt_dir: no such directory'),
      ([f'--ckpt_dir={tmp_path}', f'--classifier_dir={classifier_dir}'],
       'is not a checkpoint directory'),
      ([f'--ckpt_dir={ours_dir}', f'--classifier_dir={tmp_path / "nope"}'],
       '--classifier_dir: no such directory'),
      ([f'--ckpt_dir={ours_dir}'], '--classifier_dir is required'),
      ([f'--ckpt_dir={ours_dir}', f'--classifier_dir={classifier_dir}',
        '--num_samples=1'], '--num_samples must be >= 2')]:
    result = run_main(evaluate, args)
    assert result.returncode == 1, (args, result.stderr[-2000:])
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith('ERROR: ') and message in last, result.stderr
    assert 'Traceback' not in result.stderr
    assert result.stdout == ''


def test_unwritable_output_json_or_cache_dir_is_refused_before_work(
    tmp_path, run_main):
  """--output_json and --cache_dir are written at the end, after hours of
  work: one that cannot be written (a file where a folder is expected,
  root or not) is one ERROR line at once, before a model or data loads
  (the checkpoint here is only an experiment.json)."""
  ckpt = tmp_path / 'ckpt'
  ckpt.mkdir()
  (ckpt / run_dir.EXPERIMENT_JSON).write_text('{}')
  (tmp_path / 'classifier').mkdir()
  (tmp_path / 'a_file').write_text('x')
  base = [f'--ckpt_dir={ckpt}', f'--classifier_dir={tmp_path / "classifier"}',
          f'--cache_dir={tmp_path / "cache"}']
  for flag, value, folder in [
      ('--output_json', tmp_path / 'a_file' / 'table.json',
       tmp_path / 'a_file'),
      ('--cache_dir', tmp_path / 'a_file' / 'stats',
       tmp_path / 'a_file' / 'stats')]:
    result = run_main(evaluate, base + [f'{flag}={value}'])
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f'ERROR: {flag}: cannot write to {folder}: '
        + ('it exists and is not a folder' if flag == '--output_json' else
           f'{tmp_path / "a_file"} is a file, not a folder')), result.stderr
    assert result.stdout == ''
  assert sorted(os.listdir(tmp_path)) == ['a_file', 'ckpt', 'classifier']


def test_no_real_data_is_a_clear_error(tmp_path, ours_dir, classifier_dir,
                                       real_dir):
  no_macro = tmp_path / 'no_dataset.gin'
  no_macro.write_text('hparams.fmap_max = 8\n')
  with pytest.raises(evaluate.EvaluationError,
                     match='no real data: .* binds no DATASET macro'):
    real_data.dataset_from_gin([str(no_macro)])
  with pytest.raises(evaluate.EvaluationError,
                     match="no real data: .*data_dir='/nope' is not a folder"):
    real_data.dataset_from_gin(['gin/datasets/prepared.gin'],
                               ["PreparedDataset.data_dir='/nope'"])
  assert type(real_data.dataset_from_gin(
      ['gin/datasets/prepared.gin'],
      [f"PreparedDataset.data_dir='{real_dir}'"])).__name__ == (
          'PreparedDataset')
  # Notes, but none the classifier knows (MIDI 24..84).
  high = write_notes(tmp_path / 'high', [('organ', 90), ('organ', 96)])
  with pytest.raises(evaluate.EvaluationError,
                     match='no real data: .* no notes in MIDI 24..84'):
    evaluate.evaluate_models(
        [ours_dir], classifier_dir,
        nsynth.PreparedDataset(high, min_pitch=24, max_pitch=100),
        num_samples=2, cache_dir=str(tmp_path / 'cache'))


def test_default_real_data_comes_from_experiment_json(tmp_path, real_dir,
                                                      oracle_ckpt_dir):
  with open(oracle_ckpt_dir / 'experiment.json') as f:
    config = json.load(f)
  # Magenta's: data of its training machine, not here.
  dataset, why = real_data.dataset_from_experiment(str(oracle_ckpt_dir))
  assert dataset is None and 'oracle_harmonic' in why
  assert 'not available here' in why
  # Ours: the folder it was trained on.
  ckpt = tmp_path / 'run'
  ckpt.mkdir()
  config.update(dataset_name='prepared', train_data_path=real_dir)
  (ckpt / 'experiment.json').write_text(json.dumps(config))
  dataset, why = real_data.dataset_from_experiment(str(ckpt))
  assert type(dataset).__name__ == 'PreparedDataset'
  assert real_data.dataset_fingerprint(dataset)['files'][0][0].startswith(
      real_dir)


class SineModel:
  """A stand-in generator at 8 kHz: a sine at each asked pitch."""
  sample_rate = 8000

  def generate_from_z(self, z, pitches):
    del z  # one timbre
    t = np.arange(2 * self.sample_rate) / self.sample_rate
    hz = 440.0 * 2.0**((np.asarray(pitches)[:, None] - 69) / 12.0)
    return (0.5 * np.sin(2 * np.pi * hz * t)).astype(np.float32)


def test_pyin_checks_notes_in_range_at_the_classifiers_rate(classifier_dir,
                                                           monkeypatch):
  calls = []

  def fake_pyin(waves, sample_rate):
    calls.append((waves.shape, sample_rate))
    return np.full(len(waves), 60.2)  # pYIN itself is tested in test_metrics

  monkeypatch.setattr(metrics, 'pyin_midi', fake_pyin)
  clf = classifier.load_classifier(classifier_dir)
  pitches = np.array([30, 60, 61, 84, 24])
  probs, features, est = classify.generate_and_classify(
      SineModel(), clf, pitches, np.zeros((5, 2), np.float32), batch_size=2,
      pyin=True)
  assert probs.shape == (5, 61) and features.shape == (5, clf.feature_dim)
  # Resampled to 16 kHz; notes below MIDI 36 are not measured.
  assert calls == [((1, 32000), 16000), ((2, 32000), 16000)]
  np.testing.assert_array_equal(np.isnan(est), [True, False, False, False,
                                                True])
  # 60.2 is within 0.5 of 60 only.
  assert scoring.pyin_pa(est, pitches) == pytest.approx(1 / 3)


def test_scores_map_labels_to_midi_pitches():
  rng = np.random.default_rng(0)
  pitches = np.array([24, 60, 84, 61])
  probs = np.full((4, 61), 1e-6)
  probs[np.arange(4), pitches - 24] = 1.0
  probs /= probs.sum(axis=1, keepdims=True)
  feats = rng.standard_normal((4, 3))
  row = scoring.score(probs, feats, pitches, feats, ndb_k=2, seed=0)
  assert row['PA'] == 1.0 and row['FID'] == pytest.approx(0, abs=1e-6)
  assert row['NDB'] == 0 and row['PE'] < 0.01
  # One semitone off still counts (tolerance 1), two do not.
  row = scoring.score(probs, feats, pitches + [1, -1, 2, 0], feats, ndb_k=2,
                      seed=0)
  assert row['PA'] == 0.75


def test_pitches_follow_the_real_distribution():
  real = np.array([60] * 30 + [72] * 10 + [90] * 10)
  pitches, left_out = scoring.sample_pitches(real, range(24, 85), 4000, 0)
  assert left_out == pytest.approx(0.2)
  assert set(pitches) == {60, 72}
  assert np.mean(pitches == 60) == pytest.approx(0.75, abs=0.03)
  again, _ = scoring.sample_pitches(real, range(24, 85), 4000, 0)
  np.testing.assert_array_equal(pitches, again)
  assert scoring.sample_pitches(real, [24], 4, 0) == (None, 1.0)


def test_row_names_are_unique():
  assert report.row_names(['a/run', 'b/run', 'c/other/']) == [
      'a/run', 'b/run', 'other']
  assert report.row_names(['x/run', 'x/run']) == ['x/run #1', 'x/run #2']
  assert report.row_names(['d/real data']) == ['d/real data']


def test_markdown_table_formats_missing_values():
  table = report.markdown_table({'pyin': True, 'rows': {
      'real data': dict(IS=1.5, FID=0.25, PA=1.0, PE=0.5, NDB=1,
                        NDB_fraction=0.5, pyin_PA=None)}})
  assert table.splitlines()[0] == ('| Model | IS | FID | PA | PE | NDB | '
                                   'NDB frac | pYIN PA |')
  assert table.splitlines()[2] == ('| real data | 1.50 | 0.25 | 1.000 | '
                                   '0.500 | 1 | 0.500 | - |')


def test_short_notes_are_looped_to_the_classifier_length():
  waves = np.arange(6, dtype=np.float32).reshape(2, 3)
  looped = classify.loop_to_length(waves, 7)
  np.testing.assert_array_equal(looped[0], [0, 1, 2, 0, 1, 2, 0])
  np.testing.assert_array_equal(looped[1], [3, 4, 5, 3, 4, 5, 3])
  long = np.zeros([1, 9], np.float32)
  assert classify.loop_to_length(long, 7) is not None
  assert classify.loop_to_length(long, 7).shape == (1, 9)

