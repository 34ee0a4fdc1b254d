"""Tests for export.py: the SavedModel serves without gansynth_tf2 and matches load_model."""
import json
import os
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest
import tensorflow as tf

import gansynth_tf2
from gansynth_tf2 import export
from gansynth_tf2 import magenta_checkpoint
from gansynth_tf2 import specgrams

# Runs in a fresh interpreter where `import gansynth_tf2` raises, so the
# SavedModel must carry everything (weights, generator graph, inverse STFT).
SERVE_WITHOUT_PACKAGE = textwrap.dedent('''
    import importlib.abc, sys

    class BlockGansynth(importlib.abc.MetaPathFinder):
      def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] == 'gansynth_tf2':
          raise ImportError('gansynth_tf2 is blocked in this process')

    sys.meta_path.insert(0, BlockGansynth())
    try:
      import gansynth_tf2
    except ImportError:
      pass
    else:
      raise SystemExit('the import block did not work')

    import numpy as np
    import tensorflow as tf
    export_dir, inputs, outputs = sys.argv[1:]
    loaded = tf.saved_model.load(export_dir)
    with np.load(inputs) as f:
      z, pitch = f['z'], f['pitch']
    out = loaded.signatures['generate'](z=tf.constant(z),
                                        pitch=tf.constant(pitch))
    meta = {k: v.numpy() for k, v in loaded.signatures['metadata']().items()}
    rnd = loaded.generate_random(tf.constant(2), tf.constant(5))
    np.savez(outputs, audio=out['audio'].numpy(),
             specgram=out['specgram'].numpy(), random_audio=rnd['audio'].numpy(),
             random_pitch=rnd['pitch'].numpy(), min_pitch=meta['min_pitch'],
             max_pitch=meta['max_pitch'], config=meta['config'],
             blocked=[m for m in sys.modules if m.startswith('gansynth_tf2')])
''')


@pytest.fixture(scope='module')
def model(oracle_ckpt_dir):
  # Batch 3 = the batch the exported graph is run at below: the tiny oracle
  # model's oneDNN kernels change with the batch size (~5e-4, oracle README).
  return gansynth_tf2.load_model(oracle_ckpt_dir, batch_size=3)


@pytest.fixture(scope='module')
def export_dir(model, oracle_ckpt_dir, tmp_path_factory):
  path = tmp_path_factory.mktemp('export') / 'saved'
  export.export(oracle_ckpt_dir, str(path), model=model)
  return path


@pytest.fixture(scope='module')
def inputs():
  rng = np.random.RandomState(0)
  return (rng.standard_normal((3, 256)).astype(np.float32),
          np.array([24, 60, 84], np.int32))


def run_subprocess(args, cwd):
  env = dict(os.environ)
  env.pop('PYTHONPATH', None)
  env['TF_CPP_MIN_LOG_LEVEL'] = '2'
  return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True,
                        timeout=300)


def test_export_serves_without_the_package_and_matches_load_model(
    model, export_dir, inputs, tmp_path, oracle_ckpt_dir):
  z, pitch = inputs
  np.savez(tmp_path / 'inputs.npz', z=z, pitch=pitch)
  script = tmp_path / 'serve.py'
  script.write_text(SERVE_WITHOUT_PACKAGE)
  result = run_subprocess([sys.executable, str(script), str(export_dir),
                           str(tmp_path / 'inputs.npz'),
                           str(tmp_path / 'out.npz')], cwd=tmp_path)
  assert result.returncode == 0, result.stderr[-3000:]
  with np.load(tmp_path / 'out.npz') as f:
    served = {k: f[k] for k in f.files}
  assert served['blocked'].size == 0

  expected = model.generate_from_z(z, pitch)
  assert served['audio'].shape == expected.shape == (3, 64000)
  peak = np.abs(expected).max()
  err = np.abs(served['audio'] - expected).max() / peak
  print(f'exported vs load_model audio: max abs error {err:.2e} of peak '
        f'({peak:.3f})')
  assert err <= 1e-4, f'max abs error {err:.2e} of peak'
  # load_model(jit_compile='generator') (generate --xla) rounds otherwise,
  # which this deliberately narrow model amplifies (4-8-channel pixel norm).
  xla = gansynth_tf2.load_model(oracle_ckpt_dir, batch_size=3,
                                jit_compile='generator').generate_from_z(
                                    z, pitch)
  err_xla = np.abs(served['audio'] - xla).max() / peak
  print(f'exported vs load_model (XLA generator): {err_xla:.2e} of peak')
  assert err_xla <= 1e-3
  images = model.specgrams_from_z(z, pitch)
  err_img = np.abs(served['specgram'] - images).max() / np.abs(images).max()
  print(f'exported vs load_model specgram: max error {err_img:.2e} of peak')
  assert err_img <= 1e-4, f'specgram error {err_img:.2e} of peak'

  assert served['random_audio'].shape == (2, 64000)
  assert np.all((served['random_pitch'] >= 24) & (served['random_pitch'] <= 84))
  assert (int(served['min_pitch']), int(served['max_pitch'])) == (24, 84)
  assert json.loads(served['config'].item())['data_type'] == 'mel'


def test_export_from_our_checkpoint_format(export_dir, oracle_ckpt_dir,
                                           inputs, tmp_path):
  """The oracle converted to our layout exports to the same generator."""
  ours = tmp_path / 'ours'
  magenta_checkpoint.convert(oracle_ckpt_dir, ours)
  export.export(str(ours), str(tmp_path / 'saved'))  # through load_model
  z, pitch = inputs
  # Keep the loaded objects alive while their functions run.
  ours_loaded = tf.saved_model.load(str(tmp_path / 'saved'))
  magentas_loaded = tf.saved_model.load(str(export_dir))
  a = ours_loaded.generate(z, pitch)['audio']
  b = magentas_loaded.generate(z, pitch)['audio']
  err = np.abs(a.numpy() - b.numpy()).max() / np.abs(b.numpy()).max()
  print(f'export from our checkpoint vs from Magenta\'s: {err:.2e} of peak')
  assert err <= 1e-6, f'{err:.2e} of peak'


def test_metadata_asset(export_dir):
  with open(export_dir / 'assets' / export.METADATA_FILE) as f:
    meta = json.load(f)
  assert meta['min_pitch'] == 24 and meta['max_pitch'] == 84
  assert meta['sample_rate'] == 16000 and meta['audio_length'] == 64000
  assert meta['data_type'] == 'mel' and meta['latent_size'] == 256
  assert len(meta['pitch_counts']) == 61
  assert meta['config']['fmap_max'] == 8
  assert meta['precision'] == 'fp32' and meta['arithmetic'] == 'subpixel'


def test_graph_rejects_bad_pitch_and_z(export_dir):
  loaded = tf.saved_model.load(str(export_dir))
  z = tf.zeros([2, 256])
  for bad in ([23, 60], [60, 85]):
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match=r'pitch must be MIDI numbers in \[24, 84\]'):
      loaded.generate(z, tf.constant(bad, tf.int32))
  with pytest.raises(tf.errors.InvalidArgumentError, match='same batch size'):
    loaded.generate(z, tf.constant([60], tf.int32))
  with pytest.raises(tf.errors.InvalidArgumentError, match='NaN or Inf'):
    loaded.generate(tf.fill([1, 256], np.nan), tf.constant([60], tf.int32))
  for n in (0, -2):
    with pytest.raises(tf.errors.InvalidArgumentError, match='n must be >= 1'):
      loaded.generate_random(tf.constant(n), tf.constant(1))


def test_generate_random_is_seeded(export_dir):
  loaded = tf.saved_model.load(str(export_dir))
  a = loaded.generate_random(tf.constant(3), tf.constant(1))
  b = loaded.generate_random(tf.constant(3), tf.constant(1))
  c = loaded.generate_random(tf.constant(3), tf.constant(2))
  np.testing.assert_array_equal(a['audio'], b['audio'])
  assert not np.array_equal(a['z'], c['z'])
  # Its audio is the generate signature's for the z and pitch it drew.
  again = loaded.generate(a['z'], a['pitch'])['audio']
  np.testing.assert_allclose(again, a['audio'], atol=1e-5)


def test_saved_model_cli_run(export_dir, inputs, tmp_path):
  z, pitch = inputs
  np.save(tmp_path / 'z.npy', z[:1])
  np.save(tmp_path / 'pitch.npy', pitch[1:2])
  cli = os.path.join(os.path.dirname(sys.executable), 'saved_model_cli')
  result = run_subprocess(
      [cli, 'run', '--dir', str(export_dir), '--tag_set', 'serve',
       '--signature_def', 'generate',
       '--inputs', f'z={tmp_path / "z.npy"};pitch={tmp_path / "pitch.npy"}',
       '--outdir', str(tmp_path / 'cli')], cwd=tmp_path)
  assert result.returncode == 0, result.stderr[-3000:]
  audio = np.load(tmp_path / 'cli' / 'audio.npy')
  loaded = tf.saved_model.load(str(export_dir))
  expected = loaded.generate(z[:1], pitch[1:2])['audio'].numpy()
  np.testing.assert_allclose(audio, expected, atol=1e-5 * np.abs(expected).max())



def test_existing_export_dir_needs_overwrite(model, oracle_ckpt_dir, tmp_path,
                                             monkeypatch):
  target = tmp_path / 'saved'
  target.mkdir()
  (target / 'old.txt').write_text('previous export')
  with pytest.raises(FileExistsError, match='--overwrite'):
    export.export(oracle_ckpt_dir, str(target), model=model)
  assert os.listdir(target) == ['old.txt']

  # A failure half-way leaves the old export and no temporary folders.
  def broken(*args):
    raise RuntimeError('interrupted')
  monkeypatch.setattr(export, '_save', broken)
  with pytest.raises(RuntimeError, match='interrupted'):
    export.export(oracle_ckpt_dir, str(target), model=model, overwrite=True)
  assert os.listdir(tmp_path) == ['saved']
  assert os.listdir(target) == ['old.txt']
  monkeypatch.undo()

  export.export(oracle_ckpt_dir, str(target), model=model, overwrite=True)
  assert os.listdir(tmp_path) == ['saved']
  assert 'saved_model.pb' in os.listdir(target)
  assert 'old.txt' not in os.listdir(target)


def test_real_ops_inverse_transform_matches_data_to_waves(model, inputs):
  z, pitch = inputs
  images = model.specgrams_from_z(z, pitch)
  expected = model.generate_from_z(z, pitch)
  audio = specgrams.RealInverseTransform(model.data_helper)(images).numpy()
  err = np.abs(audio - expected).max() / np.abs(expected).max()
  print(f'real-ops inverse vs data_to_waves: {err:.2e} of peak')
  # data_to_waves reproduces Magenta's float32 phase roundings (a running
  # sum of turns); this inverse sums the phase with tf.cumsum: 1.0e-5 apart.
  assert err <= 3e-5, f'{err:.2e} of peak'


def test_cli_refuses_an_existing_export_dir_and_a_non_checkpoint(
    oracle_ckpt_dir, tmp_path, run_main):
  # In-process (conftest's run_main); test_cli_exports_saved_model_and_tflite
  # runs the real command line.
  existing = tmp_path / 'saved'
  existing.mkdir()
  result = run_main(export, [f'--ckpt_dir={oracle_ckpt_dir}',
                             f'--export_dir={existing}'])
  assert result.returncode == 1
  assert result.stderr.startswith('gansynth_tf2.export: error: --export_dir: '
                                  f'{existing} already exists'), result.stderr
  assert '--overwrite' in result.stderr
  assert len(result.stderr.strip().splitlines()) == 1
  result = run_main(export, [f'--ckpt_dir={tmp_path}',
                             f'--export_dir={tmp_path / "new"}'])
  assert result.returncode == 1
  assert result.stderr.startswith('gansynth_tf2.export: error: ')
  assert 'is not a GANSynth checkpoint directory' in result.stderr
  result = run_main(export, [f'--ckpt_dir={oracle_ckpt_dir}',
                             f'--export_dir={tmp_path / "new"}', '--exact',
                             '--precision=fp16'])
  assert result.stderr.strip() == (
      "gansynth_tf2.export: error: --exact (Magenta's arithmetic) needs "
      '--precision=fp32, got fp16')
  assert sorted(os.listdir(tmp_path)) == ['saved']


def test_cli_exact_exports_magentas_arithmetic(oracle_ckpt_dir, inputs, model,
                                               tmp_path, run_main):
  """--exact: the SavedModel runs load_model(exact=True)'s generator (the
  literal upscale + conv) and says so in its metadata."""
  out = tmp_path / 'saved'
  result = run_main(export, [f'--ckpt_dir={oracle_ckpt_dir}',
                             f'--export_dir={out}', '--exact'])
  assert result.returncode == 0, result.stderr[-3000:]
  assert result.stdout.strip().endswith(
      '(pitches 24..84, mel, exact arithmetic)')
  with open(out / 'assets' / export.METADATA_FILE) as f:
    assert json.load(f)['arithmetic'] == 'exact'
  loaded = tf.saved_model.load(str(out))
  z, pitch = inputs
  served = loaded.generate(z, pitch)['audio'].numpy()
  exact = gansynth_tf2.load_model(oracle_ckpt_dir, batch_size=len(z),
                                  exact=True)
  expected = exact.generate_from_z(z, pitch)
  err = np.abs(served - expected).max() / np.abs(expected).max()
  print(f'exported --exact vs load_model(exact=True): {err:.2e} of peak')
  assert err <= 1e-6, f'{err:.2e} of peak'
  # A model loaded otherwise is not exported as if it were exact.
  with pytest.raises(ValueError, match='load_model.*exact=True'):
    export.export(oracle_ckpt_dir, str(tmp_path / 'other'), model=model,
                  exact=True)
  assert not (tmp_path / 'other').exists()


def test_pitches_without_training_notes_are_rejected(tmp_path):
  """models/cpu_small was trained on every third pitch; its experiment.json
  lists the others with count 0. The docs say the SavedModel rejects them;
  it played them (their labels exist) until the counts were read."""
  small = gansynth_tf2.load_model(os.path.join(
      os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'models',
      'cpu_small'))
  metadata = export.model_metadata(small)
  assert metadata['pitch_counts'][36] > 0 and metadata['pitch_counts'][37] == 0
  path = tmp_path / export.METADATA_FILE
  path.write_text(json.dumps(metadata, default=str))
  module = export.ServingModule(small, metadata, str(path))
  z = tf.zeros([1, small.latent_size])
  audio = module.generate(z, tf.constant([36]))['audio']
  np.testing.assert_allclose(audio.numpy(), small.generate_from_z(
      z.numpy(), [36]), atol=1e-5)
  with pytest.raises(tf.errors.InvalidArgumentError,
                     match='pitch is not one of the pitches this model was '
                           'trained on'):
    module.generate(tf.zeros([2, small.latent_size]), tf.constant([36, 37]))
  drawn = module.generate_random(tf.constant(40), tf.constant(0))['pitch']
  assert set(drawn.numpy()) <= {p for p, c in metadata['pitch_counts'].items()
                                if c}


def test_cli_exports_saved_model_and_tflite(model, oracle_ckpt_dir, inputs,
                                            tmp_path):
  """`export --format=tflite` from the command line; the TF Lite model runs
  with builtin ops and matches load_model."""
  out = tmp_path / 'saved'
  result = run_subprocess(
      [sys.executable, '-m', 'gansynth_tf2.export',
       f'--ckpt_dir={oracle_ckpt_dir}', f'--export_dir={out}',
       '--format=tflite'], cwd=tmp_path)
  assert result.returncode == 0, result.stderr[-3000:]
  assert result.stdout.strip() == (f'exported {oracle_ckpt_dir} to {out} '
                                   '(pitches 24..84, mel, subpixel '
                                   'arithmetic)')
  assert {'saved_model.pb', export.TFLITE_FILE, 'assets'} <= set(
      os.listdir(out))
  assert sorted(os.listdir(tmp_path)) == ['saved']  # no temporary folder left
  with warnings.catch_warnings():
    warnings.simplefilter('ignore')
    interpreter = tf.lite.Interpreter(model_path=str(out / export.TFLITE_FILE))
  z, pitch = inputs
  out = interpreter.get_signature_runner()(z=z, pitch=pitch)
  expected = model.generate_from_z(z, pitch)
  err = np.abs(out['audio'] - expected).max() / np.abs(expected).max()
  print(f'TF Lite vs load_model audio: {err:.2e} of peak')
  # TF Lite's own conv kernels: the tiny oracle model's pixel norm turns
  # their rounding into ~5e-4 of peak (like Magenta's batch-size noise).
  assert err <= 1e-3, f'{err:.2e} of peak'


def test_cli_refuses_an_unwritable_export_dir_before_loading(tmp_path,
                                                             run_main):
  """A file where a folder is expected (nothing can write there, root
  included): one line naming the flag, before the checkpoint is read (an
  empty folder here, which loading would refuse otherwise)."""
  (tmp_path / 'a_file').write_text('x')
  for export_dir, reason in [
      (tmp_path / 'a_file' / 'saved', f'{tmp_path / "a_file"} is a file, not '
       'a folder'),
      (tmp_path / 'a_file', 'it exists and is not a folder')]:
    result = run_main(export, [f'--ckpt_dir={tmp_path}',
                               f'--export_dir={export_dir}', '--overwrite'])
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f'gansynth_tf2.export: error: --export_dir: cannot write to '
        f'{export_dir}: {reason}'), result.stderr
  assert sorted(os.listdir(tmp_path)) == ['a_file']
