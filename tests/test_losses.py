"""Tests for gansynth_tf2.losses: each term against independent math and
against Magenta's own loss values (tests/data/oracle/reference.npz)."""
import numpy as np
import pytest
import tensorflow as tf

from gansynth_tf2 import losses

# Magenta's mel_prog_hires weights (the oracle's config).
PAPER_WEIGHTS = dict(generator_ac_loss_weight=10.0,
                     discriminator_ac_loss_weight=10.0)


def _rel(a, b):
  return float(np.max(np.abs(np.asarray(a) - np.asarray(b)) /
                      np.maximum(np.abs(np.asarray(b)), 1e-12)))


def test_wasserstein_terms_match_magenta_summaries(oracle):
  """From Magenta's own D outputs, our formulas give Magenta's summaries."""
  d_real = tf.constant(oracle['loss_d_real_outputs'])
  d_gen = tf.constant(oracle['loss_d_gen_outputs'])
  prefix = 'loss_summary_discriminator_wasserstein_loss_'
  checks = {
      'generator_wass_loss': (
          losses.wasserstein_generator_loss(d_gen),
          oracle['loss_summary_generator_wasserstein_loss_'
                 'generator_wass_loss']),
      'discriminator_wass_loss': (
          losses.wasserstein_discriminator_loss(d_real, d_gen),
          oracle[prefix + 'discriminator_wass_loss']),
      'real_score_penalty': (losses.real_score_penalty(d_real),
                             oracle['loss_summary_real_score_penalty']),
  }
  for name, (ours, theirs) in checks.items():
    err = _rel(ours, theirs)
    print(f'{name}: ours {float(ours):.7g} magenta {float(theirs):.7g} '
          f'rel err {err:.2e}')
    assert err <= 1e-5, f'{name}: relative error {err:.2e}'


def test_totals_match_magenta_from_its_terms(oracle):
  """The weighted sums reproduce Magenta's totals from Magenta's terms."""
  weights = losses.LossWeights(**PAPER_WEIGHTS)
  d_real = tf.constant(oracle['loss_d_real_outputs'])
  d_gen = tf.constant(oracle['loss_d_gen_outputs'])
  def logits_with_ce(ce, batch):
    # Logits whose CE against label 0 is Magenta's AC loss: for
    # [a, 0, ..., 0], CE = log(exp(a) + 60) - a, solved for a.
    a = np.log(60.0 / (np.exp(ce) - 1.0))
    logits = np.zeros([batch, 61], np.float32)
    logits[:, 0] = a
    return tf.constant(logits)
  one_hot = tf.constant(np.eye(61, dtype=np.float32)[[0] * 3])
  g = losses.generator_losses(
      d_gen, logits_with_ce(float(oracle['loss_fake_ac_loss']), 3), one_hot,
      weights)
  d = losses.discriminator_losses(
      d_real, d_gen,
      tf.constant(oracle[
          'loss_summary_wasserstein_gradient_penalty_gradient_penalty_loss']),
      logits_with_ce(float(oracle['loss_real_ac_loss']), 3), one_hot, weights)
  for name, ours, theirs in [
      ('generator_loss', g['generator_loss'], oracle['loss_generator_loss']),
      ('discriminator_loss', d['discriminator_loss'],
       oracle['loss_discriminator_loss'])]:
    err = _rel(ours, theirs)
    print(f'{name}: rel err {err:.2e}')
    assert err <= 1e-5, f'{name}: relative error {err:.2e}'


def test_classification_loss_is_softmax_cross_entropy():
  rng = np.random.RandomState(0)
  logits = rng.normal(size=[5, 61]).astype(np.float32)
  labels = np.eye(61, dtype=np.float32)[rng.randint(0, 61, size=5)]
  log_softmax = logits - np.log(np.sum(np.exp(logits), -1, keepdims=True))
  expected = -np.mean(np.sum(labels * log_softmax, -1))
  got = losses.classification_loss(tf.constant(logits), tf.constant(labels))
  np.testing.assert_allclose(float(got), expected, rtol=1e-5)


def test_classification_loss_stops_label_gradient():
  logits = tf.constant(np.random.RandomState(1).normal(size=[2, 61]),
                       tf.float32)
  labels = tf.Variable(np.eye(61, dtype=np.float32)[[3, 7]])
  with tf.GradientTape() as tape:
    loss = losses.classification_loss(logits, labels)
  assert tape.gradient(loss, labels) is None


def test_gradient_penalty_of_linear_critic_is_analytic():
  """For D(x) = <w, x> the input gradient is w, so the penalty is
  (||w|| / target - 1)^2 whatever the interpolates."""
  rng = np.random.RandomState(2)
  w = tf.constant(rng.normal(size=[1, 4, 8, 2]).astype(np.float32))
  critic = lambda x: tf.reduce_sum(w * x, axis=[1, 2, 3])[:, None]
  real = tf.constant(rng.normal(size=[3, 4, 8, 2]).astype(np.float32))
  fake = tf.constant(rng.normal(size=[3, 4, 8, 2]).astype(np.float32))
  alpha = losses.random_interpolation_alpha(3, seed=0)
  norm = float(np.sqrt(np.sum(np.square(w.numpy()))))
  for target in (1.0, 2.5):
    got = losses.gradient_penalty(
        critic, losses.interpolate(real, fake, alpha), target=target)
    np.testing.assert_allclose(float(got), (norm / target - 1.0) ** 2,
                               rtol=1e-5)


def test_gradient_penalty_epsilon_zero_is_exact():
  """With epsilon 0 (Magenta's setting) a unit-norm gradient gives exactly 0;
  a nonzero epsilon moves it, so the default matters."""
  w = np.zeros([1, 2, 2, 1], np.float32)
  w[0, 0, 0, 0] = 1.0
  critic = lambda x: tf.reduce_sum(w * x, axis=[1, 2, 3])[:, None]
  x = tf.ones([2, 2, 2, 1])
  assert float(losses.gradient_penalty(critic, x)) == 0.0
  assert float(losses.gradient_penalty(critic, x, epsilon=1e-2)) > 0.0


def test_gradient_penalty_is_differentiable_in_critic_weights():
  """The nested tape lets the D step differentiate the penalty."""
  v = tf.Variable(np.full([1, 2, 2, 1], 0.3, np.float32))
  critic = lambda x: tf.reduce_sum(tf.square(v) * x, axis=[1, 2, 3])[:, None]
  x = tf.ones([2, 2, 2, 1])
  with tf.GradientTape() as tape:
    gp = losses.gradient_penalty(critic, x)
  grad = tape.gradient(gp, v)
  # gp = (||u|| - 1)^2 with u = v^2 (4 entries of 0.09), ||u|| = 0.18;
  # d||u||/du_i = u_i / ||u|| and du_i/dv_i = 2 v_i.
  u = 0.09
  expected = 2 * (0.18 - 1.0) * (u / 0.18) * 2 * 0.3
  np.testing.assert_allclose(grad.numpy(), np.full([1, 2, 2, 1], expected),
                             rtol=1e-5)


def test_interpolate_follows_tfgan_order():
  real = tf.zeros([2, 1, 1, 1])
  fake = tf.ones([2, 1, 1, 1])
  alpha = tf.constant([[[[0.25]]], [[[0.75]]]])
  np.testing.assert_allclose(
      losses.interpolate(real, fake, alpha).numpy().ravel(), [0.25, 0.75])


def test_generator_gl_term_only_when_given():
  weights = losses.LossWeights(gen_gl_consistency_loss_weight=2.0)
  d_gen = tf.constant([[1.0], [3.0]])
  logits = tf.zeros([2, 61])
  one_hot = tf.one_hot([0, 1], 61)
  without = losses.generator_losses(d_gen, logits, one_hot, weights)
  with_gl = losses.generator_losses(d_gen, logits, one_hot, weights,
                                    gl_loss=tf.constant(0.5))
  assert 'fake_gl_loss' not in without
  np.testing.assert_allclose(
      float(with_gl['generator_loss']) - float(without['generator_loss']),
      1.0, rtol=1e-6)
  # -mean(D) + 1.0 * log(61) for uniform logits.
  np.testing.assert_allclose(float(without['generator_loss']),
                             -2.0 + np.log(61.0), rtol=1e-6)


def test_loss_weights_keep_magenta_names():
  w = losses.LossWeights()
  assert set(w.as_dict()) == {
      'gradient_penalty_target', 'gradient_penalty_weight',
      'real_score_penalty_weight', 'generator_ac_loss_weight',
      'discriminator_ac_loss_weight', 'gen_gl_consistency_loss_weight'}


@pytest.fixture(scope='module')
def oracle_networks(oracle_ckpt_dir):
  """Magenta's tiny checkpoint: RAW generator weights (as in training) and D."""
  from gansynth_tf2 import magenta_checkpoint  # pylint: disable=g-import-not-at-top
  ckpt = magenta_checkpoint.MagentaCheckpoint(oracle_ckpt_dir)
  return (ckpt, ckpt.build_generator(use_ema=False),
          ckpt.build_discriminator())


def test_losses_match_magenta_on_its_checkpoint(oracle, oracle_networks):
  """Every loss term from Magenta's weights and fixed batch, <= 1e-3 relative.

  The oracle fed its loss graph the real batch, z = loss_z, the pitches
  loss_gen_pitches and the penalty's interpolation coefficients
  loss_gp_alpha, at progress 6 (blending is the identity there).
  """
  ckpt, generator, discriminator = oracle_networks
  progress = tf.constant(float(oracle['progress']))
  assert ckpt.progress == float(oracle['progress'])
  labels = oracle['loss_gen_pitches'] - 24
  gen_one_hot = tf.one_hot(labels, 61)
  fake = generator(tf.constant(oracle['loss_z']), gen_one_hot, progress)
  weights = losses.LossWeights.from_hparams(ckpt.hparams)
  d, d_out = losses.compute_discriminator_losses(
      discriminator, tf.constant(oracle['real_images']),
      tf.constant(oracle['real_one_hot']), fake,
      tf.constant(oracle['loss_gp_alpha']), progress, weights)
  g, _ = losses.compute_generator_losses(discriminator, fake, gen_one_hot,
                                      progress, weights)
  summary = 'loss_summary_'
  dwl = summary + 'discriminator_wasserstein_loss_'
  pairs = [
      ('generator_loss', g['generator_loss'], 'loss_generator_loss'),
      ('discriminator_loss', d['discriminator_loss'],
       'loss_discriminator_loss'),
      ('generator_wass_loss', g['generator_wass_loss'],
       summary + 'generator_wasserstein_loss_generator_wass_loss'),
      ('discriminator_wass_loss', d['discriminator_wass_loss'],
       dwl + 'discriminator_wass_loss'),
      ('discriminator_gen_wass_loss', d['discriminator_gen_wass_loss'],
       dwl + 'discriminator_gen_wass_loss'),
      ('discriminator_real_wass_loss', d['discriminator_real_wass_loss'],
       dwl + 'discriminator_real_wass_loss'),
      ('gradient_penalty_loss', d['gradient_penalty_loss'],
       summary + 'wasserstein_gradient_penalty_gradient_penalty_loss'),
      ('real_score_penalty', d['real_score_penalty'],
       summary + 'real_score_penalty'),
      ('fake_ac_loss', g['fake_ac_loss'], 'loss_fake_ac_loss'),
      ('real_ac_loss', d['real_ac_loss'], 'loss_real_ac_loss'),
      ('d_real_outputs', d_out['d_real_outputs'], 'loss_d_real_outputs'),
      ('d_gen_outputs', d_out['d_gen_outputs'], 'loss_d_gen_outputs'),
  ]
  errors = {}
  for name, ours, key in pairs:
    errors[name] = _rel(ours.numpy(), oracle[key])
    print(f'{name:30s} ours {np.ravel(ours.numpy())[0]: .7g} magenta '
          f'{np.ravel(oracle[key])[0]: .7g} rel err {errors[name]:.2e}')
  worst = max(errors, key=errors.get)
  assert errors[worst] <= 1e-3, (
      f'{worst}: relative error {errors[worst]:.2e} > 1e-3 ({errors})')


def test_gl_consistency_loss_small_for_consistent_specgrams(oracle):
  """Specgrams computed from real audio survive waves -> STFT nearly intact;
  the same magnitudes with random instantaneous frequency do not."""
  from gansynth_tf2 import specgrams  # pylint: disable=g-import-not-at-top
  helper = specgrams.make_data_helper('linear').specgrams_helper
  waves = tf.constant(oracle['real_waves'][:1])
  linear = helper.waves_to_specgrams(waves)
  rng = np.random.RandomState(3)
  noise_if = rng.uniform(-1, 1, size=linear.shape[:3] + (1,)).astype(
      np.float32)
  scrambled = tf.concat([linear[..., :1], noise_if], axis=-1)
  consistent = float(losses.gl_consistency_loss(linear, helper, is_mel=False))
  broken = float(losses.gl_consistency_loss(scrambled, helper, is_mel=False))
  mel_images = tf.constant(oracle['real_images'][:1])
  mel = float(losses.gl_consistency_loss(mel_images, helper, is_mel=True))
  mel_broken = float(losses.gl_consistency_loss(
      tf.concat([mel_images[..., :1], noise_if], axis=-1), helper,
      is_mel=True))
  print(f'G&L loss: linear {consistent:.3g} vs random IF {broken:.3g}; '
        f'mel {mel:.3g} vs random IF {mel_broken:.3g}')
  assert consistent < broken / 1000
  # The mel inverse is lossy by itself, hence the smaller margin.
  assert mel < mel_broken / 4
