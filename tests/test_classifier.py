"""Tests for the pitch classifier (classifier.py), its training command
(train_classifier.py, on tests/data/classifier_tiny.gin: 16 notes rendered
with fluidsynth, a 1/32-width network, 80 steps) and the evaluation set."""
import json
import os
import pathlib
import re
import subprocess
import sys
import zlib

import gin
import numpy as np
import pytest
import tensorflow as tf

from gansynth_tf2 import classifier
from gansynth_tf2 import gin_config
from gansynth_tf2 import metrics
from gansynth_tf2 import train_classifier
from gansynth_tf2.data import base
from gansynth_tf2.data import default
from gansynth_tf2.data import eval_set

REPO = pathlib.Path(__file__).resolve().parent.parent
TINY_GIN = pathlib.Path(__file__).parent / 'data' / 'classifier_tiny.gin'
WIDTH = 1 / 32


def _env(cache):
  return dict(os.environ, GANSYNTH_TF2_CACHE=str(cache),
              TF_CPP_MIN_LOG_LEVEL='2')


def _cli(output_dir, cache, *extra):
  return subprocess.run(
      [sys.executable, '-m', 'gansynth_tf2.train_classifier',
       f'--output_dir={output_dir}'] + list(extra),
      cwd=REPO, env=_env(cache), capture_output=True, text=True, timeout=300,
      check=False)


@pytest.fixture(scope='module')
def cache(tmp_path_factory):
  return tmp_path_factory.mktemp('cache')


@pytest.fixture(scope='module')
def trained(tmp_path_factory, cache):
  """The tiny config trained by the command line: (folder, stdout)."""
  out = tmp_path_factory.mktemp('clf') / 'tiny'
  proc = _cli(out, cache, f'--gin_file={TINY_GIN}')
  assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
  return out, proc.stdout


@pytest.fixture(scope='module')
def tiny_notes(trained, cache):
  """(waves [16, 64000], labels [16]) of the tiny config, from its cache."""
  del trained  # rendered the notes into `cache`
  gin_config.parse_gin([str(TINY_GIN)], [f"EvalDataset.cache_dir='{cache}'"])
  try:
    dataset = eval_set.EvalDataset()
  finally:
    gin.clear_config()
  waves, labels = [], []
  for wave, one_hot in dataset.provide_dataset().as_numpy_iterator():
    waves.append(wave[:, 0])
    labels.append(int(np.argmax(one_hot)))
  return np.stack(waves), np.array(labels)


@pytest.fixture(scope='module')
def model():
  tf.random.set_seed(0)
  return classifier.PitchClassifier(width=WIDTH).build_variables()


def _waves(n, length=64000, seed=0):
  rng = np.random.default_rng(seed)
  t = np.arange(length) / 16000
  freqs = rng.uniform(60, 2000, size=[n, 1])
  return (0.3 * np.sin(2 * np.pi * freqs * t) +
          0.01 * rng.standard_normal([n, length])).astype(np.float32)


# The network.


def test_layers_follow_the_nsynth_baseline(model):
  assert classifier.layer_channels(1.0) == (128, 128, 128, 256, 256, 256, 512,
                                            512, 512, 1024)
  assert classifier.layer_channels(WIDTH) == (4, 4, 4, 8, 8, 8, 16, 16, 16,
                                              32)
  strides = {conv.name: conv.strides for conv in model.convs}
  assert strides['conv_0'] == (2, 2) and model.convs[0].kernel_size == (5, 5)
  assert strides['conv_7_1'] == (2, 1)
  assert model.get_layer('conv_8').kernel_size == (1, 1)
  ends = model.endpoints(model.spectrogram(_waves(2)))
  spatial = {k: tuple(v.shape[1:3]) for k, v in ends.items()
             if not k.startswith('preact')}
  assert spatial == {'0': (256, 128), '1': (128, 64), '2': (64, 32),
                     '3': (32, 16), '4': (16, 8), '5': (8, 4), '6': (4, 2),
                     '7': (2, 1), '7_1': (1, 1), '8': (1, 1),
                     'logits': (1, 1)}
  assert ends['logits'].shape[-1] == 61


def test_features_are_the_7_1_pre_activations(model):
  waves = _waves(3)
  out = model(waves)
  assert out['logits'].shape == (3, 61)
  assert out['features'].shape == (3, model.feature_dim)
  assert model.feature_dim == 16
  ends = model.endpoints(model.spectrogram(waves))
  # Layer 7_1 applied by hand to layer 7's activations: conv, then batch
  # norm in inference mode, no activation.
  preact = model.get_layer('bn_7_1')(model.get_layer('conv_7_1')(ends['7']),
                                     training=False)
  np.testing.assert_allclose(out['features'], preact[:, 0, 0], atol=1e-5)
  # Not the activations: those shrink the negative values.
  features = out['features'].numpy()
  assert np.any(features < 0)
  np.testing.assert_allclose(ends['7_1'][:, 0, 0],
                             np.maximum(features, 0.1 * features), atol=1e-5)


def test_waves_are_padded_or_cropped_at_the_end(model):
  waves = _waves(2, 70000)
  full = model(waves[:, :64000])['logits']
  np.testing.assert_array_equal(model(waves)['logits'], full)
  short = waves[:, :40000]
  padded = np.pad(short, [[0, 0], [0, 24000]])
  np.testing.assert_array_equal(model(short)['logits'],
                                model(padded)['logits'])
  np.testing.assert_array_equal(model(waves[:, :64000, None])['logits'],
                                full)
  with pytest.raises(ValueError, match=r'\[batch, samples\]'):
    model(waves[0])


def test_log_magnitude_input_image():
  t = np.arange(64000) / 16000
  tone = np.sin(2 * np.pi * 440.0 * t).astype(np.float32)[None]
  spec = classifier.log_magnitude(tone).numpy()
  assert spec.shape == (1, 512, 256, 1)
  assert spec.min() >= 0.0 and spec.max() == 1.0
  # 440 Hz falls in bin 440 / (16000 / 1024) = 28.2.
  assert np.argmax(spec[0, :, 100, 0]) == 28
  assert np.all(spec[0, :, 251:] == 0)  # padded frames are silence
  # Relative to the note's peak: the level does not matter (but for float32
  # rounding in the quietest bins).
  np.testing.assert_allclose(classifier.log_magnitude(0.01 * tone), spec,
                             atol=2e-3)
  assert np.all(classifier.log_magnitude(np.zeros([1, 64000],
                                                  np.float32)) == 0)


def test_predict_in_batches(model):
  waves = _waves(5)
  probs, features = classifier.predict(model, waves, batch_size=2)
  assert probs.shape == (5, 61) and probs.dtype == np.float32
  assert features.shape == (5, model.feature_dim)
  assert features.dtype == np.float32
  np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)
  out = model(waves)
  np.testing.assert_allclose(probs, tf.nn.softmax(out['logits']), atol=1e-5)
  np.testing.assert_allclose(features, out['features'], atol=1e-5)
  empty_probs, empty_features = classifier.predict(model, waves[:0])
  assert empty_probs.shape == (0, 61)
  assert empty_features.shape == (0, model.feature_dim)
  with pytest.raises(ValueError, match=r'\[n, samples\]'):
    classifier.predict(model, waves[0])
  bad = waves.copy()
  bad[1, 5] = np.nan
  with pytest.raises(ValueError, match='NaN'):
    classifier.predict(model, bad)


def test_label_helpers_use_the_data_pitch_range():
  assert classifier.MIN_PITCH == base.MIN_PITCH == 24
  assert classifier.MAX_PITCH == base.MAX_PITCH == 84
  assert classifier.pitch_to_label([24, 60, 84]).tolist() == [0, 36, 60]
  assert classifier.label_to_pitch(36) == 60


# Saving and loading.


def test_save_load_round_trip(tmp_path, model):
  # Batch norm statistics away from their initial values.
  model(_waves(4, seed=1), training=True)
  out = tmp_path / 'clf'
  classifier.save_classifier(model, str(out), metrics={'accuracy': 0.5},
                             trained_on={'dataset': 'test'})
  assert sorted(os.listdir(tmp_path)) == ['clf']  # no temp folders left
  assert sorted(os.listdir(out)) == [classifier.CONFIG_FILE,
                                     classifier.WEIGHTS_FILE]
  info = json.loads((out / classifier.CONFIG_FILE).read_text())
  assert info['config']['width'] == WIDTH
  assert info['metrics'] == {'accuracy': 0.5}
  assert info['feature_layer'] == 'preact_7_1' and info['feature_dim'] == 16
  waves = _waves(3, seed=2)
  # The classifier is no gin configurable (train_classifier.width sets its
  # width), so no binding can quietly lose to the saved config.
  with pytest.raises(ValueError, match='No configurable matching'):
    gin.parse_config('PitchClassifier.width = 0.5')
  gin.clear_config()
  loaded = classifier.load_classifier(str(out))
  assert loaded.width == WIDTH
  for a, b in zip(classifier.predict(model, waves),
                  classifier.predict(loaded, waves)):
    np.testing.assert_array_equal(a, b)
  # Saving again replaces the earlier classifier, atomically.
  classifier.save_classifier(model, str(out), metrics={'accuracy': 0.7})
  assert sorted(os.listdir(tmp_path)) == ['clf']
  assert classifier.read_info(str(out))['metrics'] == {'accuracy': 0.7}


def test_save_refuses_to_replace_other_folders(tmp_path, model):
  (tmp_path / 'notes.txt').write_text('mine')
  with pytest.raises(FileExistsError, match='refusing to replace'):
    classifier.save_classifier(model, str(tmp_path))
  assert os.listdir(tmp_path) == ['notes.txt']


def test_load_errors_name_the_folder(tmp_path):
  missing = tmp_path / 'nowhere'
  with pytest.raises(FileNotFoundError,
                     match=re.escape(f'{missing} does not exist')):
    classifier.load_classifier(str(missing))
  with pytest.raises(FileNotFoundError,
                     match=re.escape(
                         f'{tmp_path} is not a pitch classifier folder')):
    classifier.load_classifier(str(tmp_path))
  (tmp_path / classifier.CONFIG_FILE).write_text('{"format": "other"}')
  with pytest.raises(ValueError, match='not a gansynth_tf2.pitch_classifier'):
    classifier.load_classifier(str(tmp_path))
  (tmp_path / classifier.CONFIG_FILE).write_text(json.dumps(
      {'format': classifier.FORMAT, 'format_version': 1,
       'config': {'width': WIDTH}, 'weights': classifier.WEIGHTS_FILE}))
  with pytest.raises(FileNotFoundError, match='weights file'):
    classifier.load_classifier(str(tmp_path))


# Training.


def test_holdout_is_deterministic_and_order_free():
  crcs = np.arange(1000, 1100, dtype=np.uint32) * 7919
  mask = train_classifier.holdout_mask(crcs, 0.15, seed=0)
  assert mask.sum() == 15
  perm = np.random.default_rng(0).permutation(100)
  np.testing.assert_array_equal(
      train_classifier.holdout_mask(crcs[perm], 0.15, seed=0), mask[perm])
  assert np.any(train_classifier.holdout_mask(crcs, 0.15, seed=1) != mask)
  # Tiny sets still hold out one note and train on one.
  assert train_classifier.holdout_mask(crcs[:2], 0.01).tolist().count(True) == 1
  assert train_classifier.holdout_mask(crcs[:2], 0.99).tolist().count(True) == 1


def test_augment_delays_and_raises_the_floor():
  specs = tf.ones([2, 4, 8]) * tf.range(1, 9, dtype=tf.float32)[None, None]
  specs /= 8.0
  tf.random.set_seed(3)
  shifted = train_classifier.augment(specs, 3, 0.0, (-90.0, -40.0)).numpy()
  for row in shifted:
    k = int(np.sum(row[0] == 0))
    assert 0 <= k <= 3
    np.testing.assert_array_equal(row[:, k:], specs[0, :, :8 - k])
  floored = train_classifier.augment(tf.zeros([2, 4, 8]), 0, 1.0,
                                     (-60.0, -60.0)).numpy()
  np.testing.assert_allclose(floored, 0.5)
  cut = train_classifier.augment(tf.ones([16, 4, 8]), 0, 0.0, (0.0, 0.0),
                                 truncate_prob=1.0,
                                 truncate_min_frames=3).numpy()
  kept = cut[:, 0].sum(axis=1)
  assert kept.min() >= 3 and kept.max() <= 8 and len(set(kept)) > 1
  for row, k in zip(cut, kept.astype(int)):
    assert np.all(row[:, :k] == 1) and np.all(row[:, k:] == 0)


def test_cli_trains_a_tiny_classifier_well_above_chance(trained, tiny_notes):
  out, stdout = trained
  assert 'Read 16 notes of 4 pitches from EvalDataset' in stdout
  assert 'step 80/80 |' in stdout and 'train acc' in stdout
  assert 'Held-out pitch accuracy (4 notes)' in stdout
  info = classifier.read_info(str(out))
  assert info['metrics']['held_out_notes'] == 4
  assert info['metrics']['steps'] == 80
  assert info['trained_on']['render_config']['programs'] == [0, 73]
  assert sorted(os.listdir(out.parent)) == ['tiny']
  waves, labels = tiny_notes
  # The held-out notes, chosen as train_classifier.load_notes does (CRC-32 of
  # each 4 s note's float32 audio): accuracy is asserted on these only, never
  # on the 12 notes the classifier trained on.
  crcs = np.array([zlib.crc32(w.tobytes()) for w in waves], np.uint32)
  held = train_classifier.holdout_mask(crcs, 0.25, seed=0)
  assert held.sum() == 4
  probs, features = classifier.predict(classifier.load_classifier(str(out)),
                                       waves[held])
  assert features.shape == (4, 16)
  predicted = np.argmax(probs, axis=1)
  accuracy = float(np.mean(predicted == labels[held]))
  print(f'tiny classifier on its 4 held-out notes: {predicted.tolist()} for '
        f'{labels[held].tolist()}, accuracy {accuracy:.2f} (the 4 trained '
        'pitches guessed: 0.25)')
  # What the CLI reports is the accuracy on these notes.
  assert info['metrics']['accuracy'] == pytest.approx(accuracy)
  # Chance among the 4 trained pitches is 1/4 per note: 3 or more of 4 by
  # guessing has probability 0.05.
  assert accuracy >= 0.75


def test_bad_flags_fail_in_one_line(tmp_path, run_main):
  # In-process (conftest's run_main: the CLI's main on its own flags); the
  # real command line runs in the `trained` fixture.
  out = tmp_path / 'clf'
  result = run_main(train_classifier, [
      f'--gin_file={TINY_GIN}', f'--output_dir={out}',
      '--gin_param=train_classifier.no_such_arg = 1'])
  assert result.returncode == 1, result.stdout + result.stderr[-2000:]
  assert result.stdout.startswith('ERROR: ')
  assert not out.exists()
  result = run_main(train_classifier, [f'--gin_file={TINY_GIN}', 'stray'])
  assert result.returncode == 2
  assert result.stdout.startswith("ERROR: unexpected arguments ['stray']")


class _NoNotes(base.NotesDataset):

  def provide_dataset(self):
    return tf.data.Dataset.from_tensor_slices(
        (tf.zeros([0, 64000, 1]), tf.zeros([0, 61])))


def test_empty_data_fails_before_writing(tmp_path):
  out = tmp_path / 'clf'
  with pytest.raises(ValueError, match=r'_NoNotes yields 0 note\(s\)'):
    train_classifier.train_classifier(str(out), dataset=_NoNotes(),
                                      width=0.03125)
  assert not out.exists()
  with pytest.raises(ValueError, match='holdout_fraction'):
    train_classifier.train_classifier(str(out), dataset=_NoNotes(),
                                      holdout_fraction=1.0)
  with pytest.raises(ValueError, match='lr_schedule'):
    train_classifier.train_classifier(str(out), dataset=_NoNotes(),
                                      lr_schedule='step')
  assert not out.exists()


# The evaluation set.


def test_eval_set_defaults_cover_every_pitch():
  assert eval_set.PITCHES == tuple(range(24, 85))
  assert {0, 24, 40, 73} <= set(eval_set.PROGRAMS)
  assert 6 <= len(eval_set.PROGRAMS) <= 8
  assert 2 <= len(eval_set.VELOCITIES) <= 3
  # Disjoint from the training default (which plays velocity 100).
  assert default.VELOCITY not in eval_set.VELOCITIES
  size = (len(eval_set.PROGRAMS) * len(eval_set.PITCHES) *
          len(eval_set.VELOCITIES))
  assert size > 4 * len(default.PROGRAMS) * len(default.PITCHES)


def test_small_eval_set_renders_once_into_the_cache(tmp_path):
  ds = eval_set.EvalDataset(programs=(40,), pitches=(30, 84),
                            velocities=(50, 110), cache_dir=str(tmp_path),
                            progress=False)
  assert os.path.basename(ds.data_dir).startswith('eval_v1_TimGM6mb_')
  manifest = json.loads(open(os.path.join(ds.data_dir,
                                          'manifest.json')).read())
  assert manifest['config']['programs'] == [40]
  assert manifest['config']['velocities'] == [50, 110]
  assert manifest['num_examples'] == 4
  counts = ds.get_pitch_counts()
  assert counts[30] == counts[84] == 2 and sum(counts.values()) == 4
  shard = os.path.join(ds.data_dir, manifest['shards'][0])
  mtime = os.path.getmtime(shard)
  again = eval_set.EvalDataset(programs=(40,), pitches=(30, 84),
                               velocities=(50, 110), cache_dir=str(tmp_path))
  assert again.data_dir == ds.data_dir and os.path.getmtime(shard) == mtime
  other = eval_set.EvalDataset(programs=(40,), pitches=(30,),
                               velocities=(50,), cache_dir=str(tmp_path),
                               progress=False)
  assert other.data_dir != ds.data_dir
  assert len(os.listdir(tmp_path)) == 2  # no temporary folders left


def test_eval_set_numpy_backend(tmp_path):
  ds = eval_set.EvalDataset(pitches=(60,), velocities=(50, 110),
                            cache_dir=str(tmp_path), backend='numpy')
  assert '_numpy_' in os.path.basename(ds.data_dir)
  assert sum(ds.get_pitch_counts().values()) == 8  # 4 timbres x 2
  with pytest.raises(ValueError, match='velocities: no values given'):
    eval_set.EvalDataset(velocities=(), cache_dir=str(tmp_path))


def test_soundfont_dataset_cuts_notes_and_keeps_out_of_the_eval_set(tmp_path):
  """gin/cpu_small.gin's training data: velocity 100 by default (never in the
  evaluation set), notes cut to audio_length, the pitch rendered where asked."""
  ds = eval_set.SoundfontDataset(programs=(0,), pitches=(45, 69),
                                 audio_length=8192, cache_dir=str(tmp_path),
                                 progress=False)
  manifest = json.loads(open(os.path.join(ds.data_dir,
                                          'manifest.json')).read())
  assert manifest['config']['velocities'] == [default.VELOCITY]
  assert default.VELOCITY not in eval_set.VELOCITIES
  notes = list(ds.provide_dataset().as_numpy_iterator())
  assert len(notes) == 2
  for wave, one_hot in notes:
    assert wave.shape == (8192, 1)
    pitch = ds.min_pitch + int(np.argmax(one_hot))
    # pYIN over the 0.5 s note: the soundfont plays the labelled pitch.
    est = metrics.pyin_midi(wave[None, :, 0], sample_rate=16000)
    assert abs(float(est[0]) - pitch) < 0.5, (pitch, est)
  with pytest.raises(ValueError, match='programs: no values given'):
    eval_set.SoundfontDataset(programs=(), cache_dir=str(tmp_path))
