"""Tests for networks.py: shapes, progress blending, and the full-size structure.

Numerical parity with Magenta's networks is in test_magenta_checkpoint.py.
"""
import json
import pathlib

import numpy as np
import pytest
import tensorflow as tf

from gansynth_tf2 import hparams as hparams_lib
from gansynth_tf2 import magenta_checkpoint
from gansynth_tf2 import networks

TINY = dict(fmap_base=512, fmap_max=8, start_height=2, start_width=16,
            num_resolutions=7)
# A smaller grid for tests that build many networks: final 16 x 64.
SMALL = dict(fmap_base=64, fmap_max=8, start_height=2, start_width=8,
             num_resolutions=4)


def _inputs(batch, seed=0):
  rng = np.random.RandomState(seed)
  z = rng.standard_normal([batch, 256]).astype(np.float32)
  one_hot = np.eye(61, dtype=np.float32)[rng.randint(0, 61, batch)]
  return z, one_hot


def test_num_filters():
  # int(min(fmap_base / 2**(block * decay), fmap_max)), Magenta's formula.
  assert [networks.num_filters(b, 4096, 1.0, 256) for b in range(8)] == [
      256, 256, 256, 256, 256, 128, 64, 32]
  assert [networks.num_filters(b, 512, 1.0, 8) for b in range(8)] == [
      8, 8, 8, 8, 8, 8, 8, 4]


@pytest.mark.parametrize('simple_arch', [False, True])
@pytest.mark.parametrize('num_blocks', [1, 2, 4])
def test_shapes_for_every_stage_size(num_blocks, simple_arch):
  g = networks.Generator(num_blocks=num_blocks, simple_arch=simple_arch,
                         **SMALL)
  d = networks.Discriminator(num_blocks=num_blocks, simple_arch=simple_arch,
                             **SMALL)
  z, one_hot = _inputs(3)
  images = g(z, one_hot, tf.constant(num_blocks - 1.0))
  assert images.shape == (3, 16, 64, 2)
  logits, cls_logits = d(images, tf.constant(num_blocks - 1.0))
  assert logits.shape == (3, 1)
  assert cls_logits.shape == (3, 61)
  # Per block: conv0, conv1 (or one dense / transposed conv) and to_rgb.
  per_block = 2 if simple_arch else 3
  assert len(g.trainable_variables) == 2 * per_block * num_blocks


def test_tanh_output_range_and_denormalization():
  g = networks.Generator(num_blocks=2, **SMALL)
  z, one_hot = _inputs(2)
  pre = g(z, one_hot, progress=1.0, denormalize=False).numpy()
  assert np.abs(pre).max() <= 1.0
  post = g(z, one_hot, progress=1.0).numpy()
  np.testing.assert_allclose(post, g.normalizer.denormalize(pre), rtol=1e-6)


def test_block_one_images_are_upscaled_tiles():
  g = networks.Generator(num_blocks=1, **SMALL)
  images = g(*_inputs(2), progress=0.0).numpy()
  # Start resolution 2 x 8, final 16 x 64: constant 8 x 8 tiles.
  tiles = images.reshape(2, 2, 8, 8, 8, 2)
  np.testing.assert_array_equal(tiles, np.broadcast_to(
      tiles[:, :, :1, :, :1], tiles.shape))


@pytest.mark.parametrize('progress', [0.0, 1.0, 1.25, 2.0])
def test_static_and_tensor_progress_agree(progress):
  g = networks.Generator(num_blocks=4, **SMALL)
  d = networks.Discriminator(num_blocks=4, **SMALL)
  z, one_hot = _inputs(3)
  static = g(z, one_hot, progress=progress)
  dynamic = g(z, one_hot, tf.constant(progress))
  np.testing.assert_allclose(static, dynamic, rtol=1e-6, atol=1e-6)
  np.testing.assert_allclose(d(static, progress=progress)[0],
                             d(static, tf.constant(progress))[0], rtol=1e-6,
                             atol=1e-6)


def _copy_blocks(source, target):
  for src, dst in zip(source.blocks, target.blocks):
    for s, t in zip(src.weights, dst.weights):
      t.assign(s)


def test_progress_selects_blocks():
  """At integer progress p only blocks 1..p+1 matter (the alphas)."""
  z, one_hot = _inputs(3)
  big_g = networks.Generator(num_blocks=4, **SMALL)
  small_g = networks.Generator(num_blocks=2, **SMALL)
  _copy_blocks(big_g, small_g)
  np.testing.assert_allclose(big_g(z, one_hot, tf.constant(1.0)),
                             small_g(z, one_hot, tf.constant(1.0)),
                             rtol=1e-5, atol=1e-5)
  # Mid-transition the new block counts: the outputs differ.
  assert np.abs(big_g(z, one_hot, tf.constant(1.5)) -
                small_g(z, one_hot, tf.constant(1.0))).max() > 1e-3

  images = big_g(z, one_hot, tf.constant(3.0))
  big_d = networks.Discriminator(num_blocks=4, **SMALL)
  small_d = networks.Discriminator(num_blocks=2, **SMALL)
  _copy_blocks(big_d, small_d)
  small_d.classification_logits.set_weights(
      big_d.classification_logits.get_weights())
  for got, want in zip(big_d(images, tf.constant(1.0)),
                       small_d(images, tf.constant(1.0))):
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_scale_mode_h():
  g = networks.Generator(num_blocks=3, scale_mode='H', fmap_base=64,
                         fmap_max=8, start_height=2, start_width=8,
                         num_resolutions=3)
  d = networks.Discriminator(num_blocks=3, scale_mode='H', fmap_base=64,
                             fmap_max=8, start_height=2, start_width=8,
                             num_resolutions=3)
  images = g(*_inputs(2), progress=2.0)
  assert images.shape == (2, 8, 8, 2)
  assert d(images, progress=2.0)[0].shape == (2, 1)
  # Only block 1 (2 x 8) counts at progress 0: 'H' upscales it 4x in height
  # (time) and keeps its 8 columns, where 'ALL' would also widen them.
  first = g(*_inputs(2), progress=0.0).numpy()
  np.testing.assert_array_equal(first, np.repeat(first[:, ::4], 4, axis=1))
  assert np.abs(np.diff(first, axis=2)).min() > 0  # no repeated columns


def test_bad_hyperparameters():
  with pytest.raises(ValueError, match='num_blocks'):
    networks.Generator(num_blocks=5, **SMALL)
  with pytest.raises(ValueError, match='num_blocks'):
    networks.Discriminator(num_blocks=0, **SMALL)
  with pytest.raises(ValueError, match='to_rgb_activation'):
    networks.Generator(to_rgb_activation='relu', **SMALL)


def test_from_hparams_of_an_experiment_json(oracle_ckpt_dir):
  hparams = hparams_lib.HParams.from_dict(
      json.loads((oracle_ckpt_dir / 'experiment.json').read_text()))
  g = networks.Generator.from_hparams(hparams, num_blocks=3)
  assert g.num_blocks == 3
  assert g.image_shape == (128, 1024)
  assert g.blocks[0].conv0.kernel.shape == (2, 16, 317, 8)


def test_full_size_structure_matches_magenta():
  """fmap_base 4096 / fmap_max 256, 7 blocks, 128 x 1024: Magenta's variables."""
  data_dir = pathlib.Path(__file__).parent / 'data' / 'oracle'
  listed = json.loads((data_dir / 'full_variables.json').read_text())
  hparams = hparams_lib.HParams.from_dict(json.loads(
      (data_dir / 'full_reference_meta.json').read_text())['experiment_json'])
  g = networks.Generator.from_hparams(hparams)
  d = networks.Discriminator.from_hparams(hparams)
  ours = {k: v.shape.as_list()
          for k, v in magenta_checkpoint.generator_variable_map(g).items()}
  ours.update({k + magenta_checkpoint.EMA_SUFFIX: s
               for k, s in list(ours.items())})
  ours.update({k: v.shape.as_list() for k, v in
               magenta_checkpoint.discriminator_variable_map(d).items()})
  theirs = {e['name']: e['shape'] for e in listed['variables']
            if e['name'].startswith(('Generator/', 'Discriminator/')) and
            '/Adam' not in e['name']}
  assert sorted(ours) == sorted(theirs)
  assert ours == theirs
  assert len(g.weights) + len(d.weights) == 42 + 46
  # One forward pass at full size.
  images = g(*_inputs(2))
  assert images.shape == (2, 128, 1024, 2)
  assert np.all(np.isfinite(images))
  logits, cls_logits = d(images)
  assert logits.shape == (2, 1) and cls_logits.shape == (2, 61)


def test_checkpoint_holds_every_weight(tmp_path):
  """tf.train.Checkpoint must reach every block (Keras lists are not tracked)."""
  g = networks.Generator(num_blocks=3, **SMALL)
  d = networks.Discriminator(num_blocks=3, **SMALL)
  prefix = tf.train.Checkpoint(generator=g, discriminator=d).write(
      str(tmp_path / 'ckpt'))
  names = [n for n, _ in tf.train.list_variables(prefix)]
  for net, key in ((g, 'generator/'), (d, 'discriminator/')):
    saved = [n for n in names if n.startswith(key)]
    assert len(saved) == len(net.weights), saved
  assert 'generator/progressive_gan_block_3/conv1/kernel/.ATTRIBUTES/' \
         'VARIABLE_VALUE' in names
  # A bigger next-stage network restores the first blocks (make_scaffold).
  g4 = networks.Generator(num_blocks=4, **SMALL)
  tf.train.Checkpoint(generator=g4).read(prefix).expect_partial()
  np.testing.assert_array_equal(g4.blocks[2].conv1.kernel.numpy(),
                                g.blocks[2].conv1.kernel.numpy())


# Magenta's own networks inside transitions and with fewer blocks
# (tests/data/magenta_transitions.npz, made by tools/make_transition_fixture.py
# from Magenta's network_functions on the tiny oracle checkpoint).
TRANSITIONS = pathlib.Path(__file__).parent / 'data' / 'magenta_transitions.npz'


@pytest.fixture(scope='module')
def transitions():
  return np.load(TRANSITIONS)


@pytest.mark.parametrize('num_blocks, progress',
                         [(1, 0.0), (3, 1.5), (3, 2.0), (5, 3.25), (7, 5.5)])
def test_transitions_and_fewer_blocks_match_magenta(
    transitions, oracle, oracle_ckpt_dir, num_blocks, progress):
  """Blending of lower blocks' to_rgb / from_rgb, upscales and alphas: the
  generator (EMA weights) and discriminator of `num_blocks` blocks at
  `progress`, against Magenta's, <= 1e-3 of the peak / largest logit."""
  ckpt = magenta_checkpoint.MagentaCheckpoint(str(oracle_ckpt_dir))
  kwargs = dict(num_blocks=num_blocks, num_tokens=61,
                normalizer=magenta_checkpoint.make_normalizer(
                    ckpt.path, ckpt.hparams))
  generator = networks.Generator.from_hparams(ckpt.hparams, **kwargs)
  discriminator = networks.Discriminator.from_hparams(ckpt.hparams, **kwargs)
  # The checkpoint holds all 7 blocks: read this network's subset by name
  # (no check for unused checkpoint variables: scope_prefixes empty).
  magenta_checkpoint.assign_from_reader(
      ckpt.reader, ckpt.prefix,
      magenta_checkpoint.generator_variable_map(generator), (),
      magenta_checkpoint.EMA_SUFFIX)
  magenta_checkpoint.assign_from_reader(
      ckpt.reader, ckpt.prefix,
      magenta_checkpoint.discriminator_variable_map(discriminator), ())
  key = f'{num_blocks}_{progress:g}'
  z = tf.constant(oracle['z'][:2])
  one_hot = tf.one_hot(oracle['labels'][:2], 61)
  real = tf.constant(oracle['real_images'][:2])
  want = transitions[f'gen_images_{key}']
  peak = np.abs(want).max()
  # A tensor progress (the training graph) and a Python one (which skips
  # zero-weight blocks) alike.
  for p in (tf.constant(progress), progress):
    images = generator(z, one_hot, progress=p).numpy()
    logits, cls = discriminator(real, progress=p)
    errors = {
        'images': np.abs(images - want).max() / peak,
        'd_logits': np.abs(logits.numpy() - transitions[f'd_logits_{key}'])
                    .max() / np.abs(transitions[f'd_logits_{key}']).max(),
        'd_cls_logits': np.abs(cls.numpy() - transitions[
            f'd_cls_logits_{key}']).max() / np.abs(
                transitions[f'd_cls_logits_{key}']).max()}
    print(f'{num_blocks} blocks, progress {progress} '
          f'({type(p).__name__}): error / peak ' +
          ', '.join(f'{k} {v:.2e}' for k, v in errors.items()))
    assert max(errors.values()) <= 1e-3, errors
  # Magenta's literal upscale-then-conv (subpixel_upscale=False) stays
  # available and closer still (the default's folded taps round otherwise).
  literal = networks.Generator.from_hparams(ckpt.hparams,
                                            subpixel_upscale=False, **kwargs)
  literal.set_weights(generator.get_weights())
  error = np.abs(literal(z, one_hot, progress=progress).numpy() -
                 want).max() / peak
  print(f'{num_blocks} blocks, progress {progress}, subpixel_upscale=False: '
        f'images error / peak {error:.2e}')
  assert error <= 1e-5, error
