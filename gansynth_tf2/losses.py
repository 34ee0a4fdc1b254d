"""GANSynth's training losses (Magenta `train_util.define_loss` + `model.py`).

Progressive GAN losses as Magenta builds them through TF-GAN's `gan_loss`:

* Wasserstein generator / discriminator losses,
* the WGAN-GP gradient penalty on random interpolates of real and fake data
  (TF-GAN's `wasserstein_gradient_penalty` with `epsilon=0`, as Magenta sets
  `gradient_penalty_epsilon=0.0`),
* a drift penalty that keeps the real scores near zero,
* auxiliary pitch classification (AC-GAN) losses on fake (generator) and real
  (discriminator) data, with stop-gradient labels,
* the G&L (Griffin-Lim) consistency loss (weight 0 in the paper).

Each term is a plain function of tensors so that tests can check it against
Magenta's numbers; `generator_losses` / `discriminator_losses` weigh and sum
them exactly as Magenta's graph does, and return every term for summaries.
"""
import tensorflow as tf

from gansynth_tf2 import hparams as hparams_lib


def wasserstein_generator_loss(d_gen_outputs):
  """-mean(D(G(z))).

  Args:
    d_gen_outputs: [batch, 1] critic scores of generated data.

  Returns:
    Scalar loss.
  """
  return -tf.reduce_mean(d_gen_outputs)


def wasserstein_discriminator_loss(d_real_outputs, d_gen_outputs):
  """mean(D(G(z))) - mean(D(x)).

  Args:
    d_real_outputs: [batch, 1] critic scores of real data.
    d_gen_outputs: [batch, 1] critic scores of generated data.

  Returns:
    Scalar loss.
  """
  return tf.reduce_mean(d_gen_outputs) - tf.reduce_mean(d_real_outputs)


def interpolate(real_data, generated_data, alpha):
  """real + alpha * (fake - real), TF-GAN's interpolation order.

  Args:
    real_data: [batch, H, W, C] real images.
    generated_data: [batch, H, W, C] generated images.
    alpha: [batch, 1, 1, 1] coefficients in [0, 1).

  Returns:
    [batch, H, W, C] interpolates.
  """
  return real_data + alpha * (generated_data - real_data)


def random_interpolation_alpha(batch_size, rank=4, seed=None, rng=None):
  """Uniform [batch, 1, 1, 1] coefficients, one per example (as TF-GAN);
  drawn from the `tf.random.Generator` `rng` when given."""
  shape = [batch_size] + [1] * (rank - 1)
  if rng is not None:
    return rng.uniform(shape)
  return tf.random.uniform(shape, seed=seed)


def gradient_penalty(critic_fn, interpolates, target=1.0, epsilon=0.0,
                     loss_scale=None):
  """WGAN-GP: mean((||dD(x)/dx||_2 / target - 1)^2) over the batch.

  A nested tape: the caller's tape (the discriminator step) differentiates
  this penalty again with respect to the discriminator weights.

  Args:
    critic_fn: images [batch, H, W, C] -> scores [batch, 1].
    interpolates: [batch, H, W, C] points between real and fake data.
    target: gradient norm target (Magenta: `gradient_penalty_target`).
    epsilon: added under the square root; 0 as in Magenta (TF-GAN's default
      1e-10 would shift the value slightly).
    loss_scale: None, or a float32 scalar: the inner gradient is taken of
      the scores times it and divided back (fp16 training: the critic's
      input gradients, ~1/sqrt(pixels) each, would underflow otherwise).

  Returns:
    Scalar penalty (unweighted).
  """
  with tf.GradientTape() as tape:
    tape.watch(interpolates)
    scores = critic_fn(interpolates)
    if loss_scale is not None:
      scores = scores * loss_scale
  # The gradient of the sum of the scores: each example's score depends on
  # the other examples only through minibatch stddev, exactly as tf.gradients
  # in TF-GAN treats it.
  gradients = tape.gradient(scores, interpolates)
  if loss_scale is not None:
    gradients = gradients / loss_scale
  squares = tf.reduce_sum(tf.square(gradients),
                          axis=list(range(1, gradients.shape.rank)))
  slopes = tf.sqrt(squares + epsilon)
  return tf.reduce_mean(tf.square(slopes / target - 1.0))


def real_score_penalty(d_real_outputs):
  """Drift penalty mean(D(x)^2) that keeps the critic's scores near zero."""
  return tf.reduce_mean(tf.square(d_real_outputs))


def classification_loss(classification_logits, one_hot_labels):
  """Auxiliary (AC-GAN) pitch loss: mean softmax cross-entropy.

  Args:
    classification_logits: [batch, num_pitches] D's classification head.
    one_hot_labels: [batch, num_pitches] target pitches; no gradient flows
      into them (Magenta stops it explicitly).

  Returns:
    Scalar loss.
  """
  return tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(
      labels=tf.stop_gradient(one_hot_labels), logits=classification_logits))


def gl_consistency_loss(data, specgrams_helper, is_mel):
  """G&L consistency: how much an STFT changes through waves and back.

  Magnitudes of the STFT the data stands for and of the STFT of its inverse
  are compared after scaling by max(1, their per-example maxima).

  Args:
    data: [batch, time, freq, 2] specgrams (log-magnitude, IF) in data space.
    specgrams_helper: a `specgrams.SpecgramsHelper` of the data's shape.
    is_mel: whether `data` is a mel specgram (IF-Mel) or a linear one.

  Returns:
    Scalar loss.
  """
  if is_mel:
    stfts = specgrams_helper.melspecgrams_to_stfts(data)
  else:
    stfts = specgrams_helper.specgrams_to_stfts(data)
  waves = specgrams_helper.stfts_to_waves(stfts)
  new_stfts = specgrams_helper.waves_to_stfts(waves)
  mag = tf.abs(stfts)
  new_mag = tf.abs(new_stfts)
  mag_max = tf.reduce_max(mag, axis=(1, 2), keepdims=True)
  new_mag_max = tf.reduce_max(new_mag, axis=(1, 2), keepdims=True)
  mag_scale = tf.maximum(1.0, tf.maximum(mag_max, new_mag_max))
  return tf.reduce_mean(tf.square((mag - new_mag) / mag_scale))


class LossWeights:
  """Loss weights with Magenta's hyperparameter names and defaults.

  The defaults are Magenta's `model.set_flags` values; the paper's configs
  (gin/*.gin) set both AC weights to 10.
  """

  def __init__(self,
               gradient_penalty_target=1.0,
               gradient_penalty_weight=10.0,
               real_score_penalty_weight=0.001,
               generator_ac_loss_weight=1.0,
               discriminator_ac_loss_weight=1.0,
               gen_gl_consistency_loss_weight=0.0):
    self.gradient_penalty_target = float(gradient_penalty_target)
    self.gradient_penalty_weight = float(gradient_penalty_weight)
    self.real_score_penalty_weight = float(real_score_penalty_weight)
    self.generator_ac_loss_weight = float(generator_ac_loss_weight)
    self.discriminator_ac_loss_weight = float(discriminator_ac_loss_weight)
    self.gen_gl_consistency_loss_weight = float(gen_gl_consistency_loss_weight)

  HPARAMS = ('gradient_penalty_target', 'gradient_penalty_weight',
             'real_score_penalty_weight', 'generator_ac_loss_weight',
             'discriminator_ac_loss_weight', 'gen_gl_consistency_loss_weight')

  @classmethod
  def from_hparams(cls, hp):
    """From an `hparams.HParams` (the same names)."""
    return cls(**hparams_lib.pick(hp, cls.HPARAMS))

  def as_dict(self):
    return dict(vars(self))


def generator_losses(d_gen_outputs, d_gen_classification_logits,
                     gen_one_hot_labels, weights, gl_loss=None):
  """The generator's total loss and its terms, as Magenta's graph sums them.

  total = wass + generator_ac_loss_weight * fake_ac
          [+ gen_gl_consistency_loss_weight * fake_gl]

  Args:
    d_gen_outputs: [batch, 1] D scores of generated data.
    d_gen_classification_logits: [batch, num_pitches] D's pitch logits on
      generated data.
    gen_one_hot_labels: [batch, num_pitches] pitches the generator was given.
    weights: `LossWeights`.
    gl_loss: optional scalar G&L consistency loss of the generated data; only
      added when given (Magenta adds it only in the last stage).

  Returns:
    Dict of scalars: 'generator_loss' (the total) and each term.
  """
  wass = wasserstein_generator_loss(d_gen_outputs)
  fake_ac = classification_loss(d_gen_classification_logits,
                                gen_one_hot_labels)
  wx_fake_ac = weights.generator_ac_loss_weight * fake_ac
  total = wass + wx_fake_ac
  terms = {'generator_wass_loss': wass, 'fake_ac_loss': fake_ac,
           'wx_fake_ac_loss': wx_fake_ac}
  if gl_loss is not None:
    wx_gl = weights.gen_gl_consistency_loss_weight * gl_loss
    total += wx_gl
    terms.update(fake_gl_loss=gl_loss, wx_fake_gl_loss=wx_gl)
  terms['generator_loss'] = total
  return terms


def discriminator_losses(d_real_outputs, d_gen_outputs, gp_loss,
                         d_real_classification_logits, real_one_hot_labels,
                         weights):
  """The discriminator's total loss and its terms, as Magenta sums them.

  total = wass + gradient_penalty_weight * gp
          + real_score_penalty_weight * mean(D(x)^2)
          + discriminator_ac_loss_weight * real_ac

  Args:
    d_real_outputs: [batch, 1] D scores of real data.
    d_gen_outputs: [batch, 1] D scores of generated data.
    gp_loss: scalar from `gradient_penalty`.
    d_real_classification_logits: [batch, num_pitches] D's pitch logits on
      real data.
    real_one_hot_labels: [batch, num_pitches] pitches of the real data.
    weights: `LossWeights`.

  Returns:
    Dict of scalars: 'discriminator_loss' (the total) and each term.
  """
  wass = wasserstein_discriminator_loss(d_real_outputs, d_gen_outputs)
  drift = real_score_penalty(d_real_outputs)
  real_ac = classification_loss(d_real_classification_logits,
                                real_one_hot_labels)
  wx_real_ac = weights.discriminator_ac_loss_weight * real_ac
  total = (wass + weights.gradient_penalty_weight * gp_loss +
           weights.real_score_penalty_weight * drift + wx_real_ac)
  return {
      'discriminator_gen_wass_loss': tf.reduce_mean(d_gen_outputs),
      'discriminator_real_wass_loss': tf.reduce_mean(d_real_outputs),
      'discriminator_wass_loss': wass,
      'gradient_penalty_loss': gp_loss,
      'real_score_penalty': drift,
      'real_ac_loss': real_ac,
      'wx_real_ac_loss': wx_real_ac,
      'discriminator_loss': total,
  }


def compute_discriminator_losses(discriminator, real_data, real_one_hot_labels,
                                 generated_data, alpha, progress, weights,
                                 loss_scale=None):
  """All discriminator loss terms for one batch (Magenta's D graph).

  D is applied to real and generated data separately and to the interpolates
  (each call has its own minibatch stddev, as Magenta's separate calls).

  Args:
    discriminator: `networks.Discriminator`; `(images, progress) ->
      (logits [b, 1], classification_logits [b, num_pitches])`.
    real_data: [b, H, W, C] real images (blended by progress), data space.
    real_one_hot_labels: [b, num_pitches].
    generated_data: [b, H, W, C] generator output, data space.
    alpha: [b, 1, 1, 1] interpolation coefficients of the gradient penalty.
    progress: float scalar.
    weights: `LossWeights`.
    loss_scale: the gradient penalty's inner loss scale (fp16), or None.

  Returns:
    (losses, outputs): the `discriminator_losses` dict of scalars, and the
    scores {'d_real_outputs', 'd_gen_outputs'} ([b, 1] each).
  """
  d_real, d_real_cls = discriminator(real_data, progress)
  d_gen, _ = discriminator(generated_data, progress)
  gp = gradient_penalty(
      lambda images: discriminator(images, progress)[0],
      interpolate(real_data, generated_data, alpha),
      target=weights.gradient_penalty_target, loss_scale=loss_scale)
  terms = discriminator_losses(d_real, d_gen, gp, d_real_cls,
                               real_one_hot_labels, weights)
  return terms, {'d_real_outputs': d_real, 'd_gen_outputs': d_gen}


def compute_generator_losses(discriminator, generated_data, gen_one_hot_labels,
                             progress, weights, gl_loss_fn=None):
  """All generator loss terms for one batch of generated data.

  Args:
    discriminator: as in `compute_discriminator_losses`.
    generated_data: [b, H, W, C] generator output for `gen_one_hot_labels`.
    gen_one_hot_labels: [b, num_pitches] pitches given to the generator.
    progress: float scalar.
    weights: `LossWeights`.
    gl_loss_fn: optional data -> scalar G&L consistency loss.

  Returns:
    (losses, outputs): the `generator_losses` dict of scalars, and
    {'d_gen_outputs': [b, 1] scores}.
  """
  d_gen, d_gen_cls = discriminator(generated_data, progress)
  gl = gl_loss_fn(generated_data) if gl_loss_fn is not None else None
  terms = generator_losses(d_gen, d_gen_cls, gen_one_hot_labels, weights,
                           gl_loss=gl)
  return terms, {'d_gen_outputs': d_gen}
