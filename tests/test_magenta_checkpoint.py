"""Magenta checkpoint import: parity with Magenta's own outputs, and bad input.

The oracle (tests/data/oracle) is a checkpoint written by Magenta's training
loop plus what Magenta computed from it at batch size 3 (`ref_batch`). Its
README gives Magenta's own noise floor on this tiny model: ~5e-4 of the
pre-denormalization images when only the batch size or the conv kernels
change, x15 after denormalizing the log-magnitude channel. Its generator is
checked at that sensitivity (TINY_BOUND, 2.1x the worst measured on any CPU
tried: 9.5e-4 on the AVX2-only EPYC); the tight generator check is on the
calm oracle (tests/data/calm_oracle: Magenta's own training ops, 16 channels
per pixel norm). Bounds and measurements: tests/test_model.py's docstring.
"""
import pathlib
import json
import os
import shutil

import numpy as np
import pytest
import tensorflow as tf

from gansynth_tf2 import hparams as hparams_lib
from gansynth_tf2 import magenta_checkpoint as mc
from gansynth_tf2 import networks

REF_BATCH = 3
TINY_BOUND = 2e-3
CALM_IMAGES_BOUND = 2e-4  # measured <= 8.6e-5 across kernel variants
D_BOUND = 2e-5  # float32 noise ~6e-6; measured <= 1.3e-6
CALM_DIR = pathlib.Path(__file__).parent / 'data' / 'calm_oracle'


def _snapshot(path):
  """{relative file: (size, mtime)} to prove a folder was not written to."""
  out = {}
  for root, _, files in os.walk(path):
    for name in files:
      full = os.path.join(root, name)
      st = os.stat(full)
      out[os.path.relpath(full, path)] = (st.st_size, st.st_mtime_ns)
  return out


@pytest.fixture(scope='module')
def source_unchanged(oracle_ckpt_dir):
  before = _snapshot(oracle_ckpt_dir)
  yield
  assert _snapshot(oracle_ckpt_dir) == before


@pytest.fixture(scope='module')
def ckpt(oracle_ckpt_dir, source_unchanged):
  del source_unchanged
  return mc.MagentaCheckpoint(oracle_ckpt_dir)


@pytest.fixture(scope='module')
def ema_generator(ckpt):
  return ckpt.build_generator(use_ema=True)


def _relative_error(got, want):
  return float(np.abs(np.asarray(got) - want).max() / np.abs(want).max())


def test_reads_experiment_and_last_stage(ckpt):
  assert ckpt.stage_id == 12
  assert ckpt.num_blocks == 7
  assert ckpt.global_step == 264
  assert ckpt.progress == 6.0
  assert ckpt.prefix.endswith('model.ckpt-264')
  assert ckpt.hparams.data_type == 'mel'
  assert len(ckpt.pitch_counts()) == 61


def _generate(generator, oracle, denormalize):
  fn = tf.function(lambda z, labels: generator(
      z, tf.one_hot(labels, 61), progress=float(oracle.get('progress', 6.0)),
      denormalize=denormalize))
  z, labels = oracle['z'], oracle['labels']
  return np.concatenate([fn(z[i:i + REF_BATCH], labels[i:i + REF_BATCH])
                         for i in range(0, len(z), REF_BATCH)])


def test_generator_parity(ema_generator, oracle):
  pre = _generate(ema_generator, oracle, denormalize=False)
  images = _generate(ema_generator, oracle, denormalize=True)
  err_pre = _relative_error(pre, oracle['gen_images_pre_denorm'])
  err_images = _relative_error(images, oracle['gen_images'])
  print(f'generator: max |error| / peak: pre-denorm {err_pre:.2e}, '
        f'images {err_images:.2e}')
  assert err_pre <= TINY_BOUND, f'pre-denorm images off by {err_pre:.2e} of peak'
  assert err_images <= TINY_BOUND, f'images off by {err_images:.2e} of peak'


@pytest.mark.parametrize('subpixel_upscale', [True, False])
def test_generator_parity_on_the_calm_oracle(subpixel_upscale):
  """The EMA generator, sub-pixel and literal, against Magenta's images of
  the calm checkpoint (0.0 for the literal one on the kernels it was made
  with; other kernels' rounding, unamplified, elsewhere)."""
  with np.load(CALM_DIR / 'reference.npz') as f:
    ref = {k: f[k] for k in f.files}
  generator = mc.MagentaCheckpoint(CALM_DIR / 'ckpt').build_generator(
      subpixel_upscale=subpixel_upscale)
  n = len(ref['gen_images'])  # the reference keeps the first notes' images
  pre = _generate(generator, ref, denormalize=False)[:n]
  images = _generate(generator, ref, denormalize=True)[:n]
  err_pre = _relative_error(pre, ref['gen_images_pre_denorm'])
  err_images = _relative_error(images, ref['gen_images'])
  print(f'calm oracle generator (subpixel_upscale={subpixel_upscale}): max '
        f'|error| / peak: pre-denorm {err_pre:.2e}, images {err_images:.2e}')
  assert err_pre <= CALM_IMAGES_BOUND, err_pre
  assert err_images <= CALM_IMAGES_BOUND, err_images


def test_discriminator_parity(ckpt, oracle):
  d = ckpt.build_discriminator()
  n = int(oracle['d_gen_input_count'])
  for name, images in (('real', oracle['real_images']),
                       ('gen', oracle['gen_images'][:n])):
    logits, cls_logits = d(images, progress=6.0)
    err = _relative_error(logits, oracle[f'd_{name}_logits'])
    err_cls = _relative_error(cls_logits, oracle[f'd_{name}_cls_logits'])
    print(f'discriminator on {name}: max |error| / largest: logits '
          f'{err:.2e}, classification logits {err_cls:.2e}')
    assert err <= D_BOUND, f'{name} logits off by {err:.2e}'
    assert err_cls <= D_BOUND, f'{name} classification logits off by {err_cls:.2e}'


def test_raw_weights_are_not_the_ema_ones(ckpt, oracle):
  raw = ckpt.build_generator(use_ema=False)
  images = _generate(raw, oracle, denormalize=True)
  # Magenta generates with the EMA shadows; the raw weights differ by ~30.
  assert np.abs(images - oracle['gen_images']).max() > 1.0


def _write_name_checkpoint(prefix, tensors):
  """A TF1-style name-based checkpoint (what Magenta's Saver writes)."""
  names = sorted(tensors)
  tf.raw_ops.SaveV2(prefix=prefix, tensor_names=names,
                    shape_and_slices=[''] * len(names),
                    tensors=[tf.constant(tensors[k]) for k in names])


def _copy_experiment(oracle_ckpt_dir, dest, **changes):
  dest.mkdir(parents=True, exist_ok=True)
  hparams = json.loads((oracle_ckpt_dir / 'experiment.json').read_text())
  hparams.update(changes)
  for key, value in list(hparams.items()):
    if value is KeyError:
      del hparams[key]
  (dest / 'experiment.json').write_text(json.dumps(hparams))


def test_mismatched_variables_listed_in_one_error(ckpt, oracle_ckpt_dir,
                                                  tmp_path):
  tensors = {name: ckpt.reader.get_tensor(name)
             for name in ckpt.reader.get_variable_to_shape_map()}
  block7 = 'Generator/progressive_gan_generator/progressive_gan_block_7/'
  missing = block7 + 'conv0/bias' + mc.EMA_SUFFIX
  reshaped = block7 + 'conv1/conv2d/kernel' + mc.EMA_SUFFIX
  extra = ('Generator/progressive_gan_generator/progressive_gan_block_8/'
           'conv0/bias' + mc.EMA_SUFFIX)
  del tensors[missing]
  tensors[reshaped] = np.zeros([3, 3, 4, 5], np.float32)
  tensors[extra] = np.zeros([4], np.float32)
  _copy_experiment(oracle_ckpt_dir, tmp_path / 'bad')
  (tmp_path / 'bad' / 'stage_00012').mkdir()
  _write_name_checkpoint(str(tmp_path / 'bad' / 'stage_00012' / 'model.ckpt-1'),
                         tensors)
  bad = mc.MagentaCheckpoint(tmp_path / 'bad')
  with pytest.raises(mc.CheckpointError) as info:
    bad.build_generator()
  message = str(info.value)
  assert f'missing: {missing}' in message
  assert f'wrong shape: {reshaped} is [3, 3, 4, 5]' in message
  assert f'unexpected: {extra}' in message
  assert '3 problem(s)' in message


def test_bad_directories(oracle_ckpt_dir, tmp_path):
  with pytest.raises(mc.CheckpointError, match='no experiment.json'):
    mc.MagentaCheckpoint(tmp_path)
  with pytest.raises(mc.CheckpointError, match='is not a directory|no '
                     'experiment.json'):
    mc.MagentaCheckpoint(tmp_path / 'nowhere')
  _copy_experiment(oracle_ckpt_dir, tmp_path / 'nostage')
  with pytest.raises(mc.CheckpointError, match='no stage_000NN'):
    mc.MagentaCheckpoint(tmp_path / 'nostage')
  _copy_experiment(oracle_ckpt_dir, tmp_path / 'keys', fmap_base=KeyError,
                   start_width=KeyError)
  with pytest.raises(mc.CheckpointError,
                     match='lacks required keys: fmap_base, start_width'):
    mc.MagentaCheckpoint(tmp_path / 'keys')
  _copy_experiment(oracle_ckpt_dir, tmp_path / 'dtype', data_type='stft')
  with pytest.raises(mc.CheckpointError, match="data_type 'stft'"):
    mc.MagentaCheckpoint(tmp_path / 'dtype')


def _copy_ckpt(oracle_ckpt_dir, dest, **changes):
  shutil.copytree(oracle_ckpt_dir, dest)
  if changes:
    _copy_experiment(oracle_ckpt_dir, dest, **changes)
  return dest


def test_truncated_checkpoint(oracle_ckpt_dir, tmp_path):
  for suffix in ('.data-00000-of-00001', '.index'):
    dest = _copy_ckpt(oracle_ckpt_dir, tmp_path / suffix.strip('.'))
    path = dest / 'stage_00012' / f'model.ckpt-264{suffix}'
    path.write_bytes(path.read_bytes()[:path.stat().st_size // 2])
    with pytest.raises(mc.CheckpointError,
                       match='truncated or corrupt') as info:
      mc.MagentaCheckpoint(dest).build_generator()
    assert 'model.ckpt-264' in str(info.value)


def test_checkpoint_of_another_resolution(oracle_ckpt_dir, tmp_path):
  # experiment.json says 2 x 8 start: the first convs no longer fit.
  dest = _copy_ckpt(oracle_ckpt_dir, tmp_path / 'res', start_width=8)
  with pytest.raises(mc.CheckpointError, match='wrong shape: .*block_1/'
                     'conv0/conv2d/kernel'):
    mc.MagentaCheckpoint(dest).build_generator()


def test_variable_maps_cover_the_tiny_checkpoint(ckpt):
  g = networks.Generator.from_hparams(ckpt.hparams, num_blocks=7)
  d = networks.Discriminator.from_hparams(ckpt.hparams, num_blocks=7)
  names = set(mc.generator_variable_map(g)) | set(
      mc.discriminator_variable_map(d))
  in_ckpt = {n for n in ckpt.reader.get_variable_to_shape_map()
             if n.startswith(('Generator/', 'Discriminator/'))
             and not n.endswith(mc.EMA_SUFFIX)}
  assert names == in_ckpt


def test_convert(ckpt, oracle_ckpt_dir, tmp_path):
  out = tmp_path / 'converted'
  prefix = mc.convert(oracle_ckpt_dir, out)
  assert prefix == str(out / 'stage_00012' / 'ckpt-1')
  assert tf.train.latest_checkpoint(str(out / 'stage_00012')) == prefix
  hparams = json.loads((out / 'experiment.json').read_text())
  assert hparams['train_root_dir'] == str(out.resolve())
  assert hparams['fmap_max'] == 8
  gin_lines = (out / 'hparams.gin').read_text().splitlines()
  assert 'hparams.batch_size_schedule = [8]' in gin_lines
  assert "hparams.data_type = 'mel'" in gin_lines
  # What gin may not bind (training records it) is left as a comment.
  assert not [line for line in gin_lines
              if line.startswith('hparams.train_root_dir')]
  assert any(line.startswith('# (hparams.train_root_dir is the --train_dir')
             for line in gin_lines)
  assert not any(p.name.startswith('.convert-') for p in tmp_path.iterdir())

  reader = tf.train.load_checkpoint(prefix)
  value = lambda key: reader.get_tensor(f'{key}/.ATTRIBUTES/VARIABLE_VALUE')  # pylint: disable=unnecessary-lambda-assignment
  assert value('image_id') == 264
  assert value('train_time') == pytest.approx(ckpt.train_time)
  # Magenta trained stage 12 for 20 steps: beta2_power = 0.99**21.
  assert value('generator_optimizer/_iterations') == 20
  ema = 'ema_generator/progressive_gan_block_7/to_rgb/kernel'
  np.testing.assert_array_equal(
      value(ema), ckpt.reader.get_tensor(
          'Generator/progressive_gan_generator/progressive_gan_block_7/'
          'to_rgb/conv2d/kernel' + mc.EMA_SUFFIX))

  with pytest.raises(ValueError, match='not empty'):
    mc.convert(oracle_ckpt_dir, out)
  mc.convert(oracle_ckpt_dir, out, overwrite=True)
  with pytest.raises(ValueError, match='inside the source'):
    mc.convert(oracle_ckpt_dir, oracle_ckpt_dir / 'converted')
  with pytest.raises(mc.CheckpointError, match='no experiment.json'):
    mc.convert(tmp_path, tmp_path.parent / 'never_written')
  assert not (tmp_path.parent / 'never_written').exists()


def test_simple_arch_variable_names():
  """Names Magenta's simple_arch tf.layers calls create (read off networks.py)."""
  hp = dict(fmap_base=64, fmap_max=8, start_height=2, start_width=8,
            num_resolutions=3, simple_arch=True)
  g = networks.Generator(**hp)
  d = networks.Discriminator(**hp)
  gen = {k: v.shape.as_list() for k, v in mc.generator_variable_map(g).items()}
  dis = {k: v.shape.as_list()
         for k, v in mc.discriminator_variable_map(d).items()}
  g1 = 'Generator/progressive_gan_generator/progressive_gan_block_1/'
  g2 = 'Generator/progressive_gan_generator/progressive_gan_block_2/'
  assert gen[g1 + 'dense/kernel'] == [317, 2 * 8 * 8]
  assert gen[g1 + 'to_rgb/bias'] == [2]
  # conv2d_transpose kernels are [kh, kw, out, in].
  assert gen[g2 + 'conv2d_transpose/kernel'] == [3, 3, 8, 8]
  assert len(gen) == 3 * 4
  d1 = 'Discriminator/progressive_gan_discriminator/progressive_gan_block_1/'
  d3 = 'Discriminator/progressive_gan_discriminator/progressive_gan_block_3/'
  assert dis[d1 + 'last_conv/kernel'] == [2 * 8 * 9, 8]
  assert dis[d1 + 'logits/kernel'] == [8, 1]
  assert dis[d3 + 'conv/kernel'] == [3, 3, 8, 8]
  assert dis[d3 + 'from_rgb/kernel'] == [1, 1, 2, 8]
  assert dis[mc.CLASSIFIER_SCOPE + 'dense/kernel'] == [8, 61]
  # Block 1: from_rgb, last_conv, logits; blocks 2, 3: from_rgb, conv.
  assert len(dis) == 2 * (3 + 2 + 2) + 2


def test_normalizer_computed_from_data(ckpt, oracle_ckpt_dir, tmp_path):
  """A simple normalizer's asset is read from the train dir and converted along."""
  dest = _copy_ckpt(oracle_ckpt_dir, tmp_path / 'simple',
                    data_normalizer='specgrams_simple_normalizer')
  with pytest.raises(mc.CheckpointError,
                     match='specgrams_simple_normalizer.npz, which is missing'):
    mc.MagentaCheckpoint(dest).build_generator()
  # Magenta's asset format: [mag_a, mag_b, p_a, p_b]; here the prespecified
  # constants, so the images must equal those of the original checkpoint.
  hp = ckpt.hparams
  (dest / 'assets').mkdir()
  np.savez(dest / 'assets' / 'specgrams_simple_normalizer.npz',
           normalizer=np.array([hp.mag_normalizer_a, hp.mag_normalizer_b,
                                hp.p_normalizer_a, hp.p_normalizer_b]))
  z, one_hot = tf.zeros([1, 256]), tf.one_hot([3], 61)
  np.testing.assert_allclose(
      mc.MagentaCheckpoint(dest).build_generator()(z, one_hot),
      ckpt.build_generator()(z, one_hot), rtol=1e-6, atol=1e-5)
  out = tmp_path / 'converted'
  mc.convert(dest, out)
  assert (out / 'assets' / 'specgrams_simple_normalizer.npz').exists()


def test_convert_tool(oracle_ckpt_dir, tmp_path):
  import subprocess  # pylint: disable=import-outside-toplevel
  import sys  # pylint: disable=import-outside-toplevel
  tool = os.path.join(os.path.dirname(__file__), '..', 'tools',
                      'convert_magenta_checkpoint.py')
  run = lambda *args: subprocess.run(  # pylint: disable=unnecessary-lambda-assignment
      [sys.executable, tool, *args], capture_output=True, text=True,
      check=False, timeout=300)
  out = tmp_path / 'out'
  done = run(f'--magenta_dir={oracle_ckpt_dir}', f'--output_dir={out}')
  assert done.returncode == 0, done.stderr
  assert 'wrote ' in done.stdout
  assert (out / 'stage_00012' / 'checkpoint').exists()
  failed = run(f'--magenta_dir={tmp_path / "nothing"}',
               f'--output_dir={tmp_path / "out2"}')
  assert failed.returncode == 1
  assert 'nothing' in failed.stderr and 'experiment.json' in failed.stderr
  assert not (tmp_path / 'out2').exists()


def test_hparams_gin_comments_out_keys_training_does_not_know():
  text = mc.hparams_gin(hparams_lib.HParams.from_dict(
      {'fmap_max': 8, 'eval_batch_size': 3, 'scale_mode': 'ALL'}))
  lines = text.splitlines()
  assert 'hparams.fmap_max = 8' in lines
  assert "hparams.scale_mode = 'ALL'" in lines
  assert ('# (not a training hyperparameter here) hparams.eval_batch_size = 3'
          in lines)
