#!/usr/bin/env python
"""Writes tests/data/magenta_update.npz: one training update by MAGENTA'S OWN train ops.

From the tiny oracle checkpoint (stage 12, global step 264) Magenta 2.1.4's
`model.Model` is built as its training builds it (tfgan's GAN model, its
losses, `train_util.define_train_ops`' Adam optimizers and the generator EMA
of `add_generator_smoothing_ops`), every variable (networks, EMA shadows,
Adam slots and powers) is restored from the checkpoint, and one training step
is run as tfgan's sequential hooks run it: the generator train op (its Adam
step, then the EMA), then the discriminator train op. The latents, labels,
real batch and gradient-penalty alpha that Magenta's graph would draw are
fed instead (the real batch is the oracle's three real images and labels).
Two variants: Magenta's config as trained (G&L weight 0) and with
`gen_gl_consistency_loss_weight` 1.0. Every variable's value after the step
is stored, keyed by Magenta's name ('/' written as '|'), with the inputs.
`tests/test_trainer.py` runs our StageTrainer from the converted checkpoint
on the same inputs and compares. The script only imports and calls Magenta.

Environment (as tools/make_schedule_fixture.py):

  PYTHONPATH=/tmp/mgdeps python tools/make_update_fixture.py \
      --oracle_dir=../shared/oracle --out=tests/data/magenta_update.npz
"""
import json
import os

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VARIANTS = {'plain': 0.0, 'gl': 1.0}


def inputs(num_pitches=61, batch=3, latent=256):
  """The fed inputs: G step latents/labels, D step latents/labels/alpha."""
  rs = np.random.RandomState(20261126)
  return {
      'g_z': rs.standard_normal((batch, latent)).astype(np.float32),
      'g_labels': rs.randint(0, num_pitches, batch).astype(np.int32),
      'd_z': rs.standard_normal((batch, latent)).astype(np.float32),
      'd_labels': rs.randint(0, num_pitches, batch).astype(np.int32),
      'd_alpha': rs.uniform(size=(batch, 1, 1, 1)).astype(np.float32),
  }


def run_variant(tf, lib_flags, lib_model, ckpt_dir, gl_weight, feed_values):
  """One Magenta step; returns {variable name: value after the step}."""
  with open(os.path.join(ckpt_dir, 'experiment.json')) as f:
    experiment = json.load(f)
  ckpt = tf.train.latest_checkpoint(os.path.join(ckpt_dir, 'stage_00012'))
  graph = tf.Graph()
  with graph.as_default():
    flags = lib_flags.Flags()
    flags['train_root_dir'] = ckpt_dir
    flags.load(experiment)
    lib_model.set_flags(flags)
    flags['gen_gl_consistency_loss_weight'] = gl_weight
    batch = feed_values['real_images'].shape[0]
    model = lib_model.Model(12, batch, flags)
    in_ckpt = dict(tf.train.list_variables(ckpt))
    variables = {v.op.name: v for v in tf.global_variables()
                 if v.op.name in in_ckpt}
    ops = graph.get_operations()
    iterator = [op for op in ops if op.type == 'IteratorGetNext']
    alpha = [op for op in ops if op.type == 'RandomUniform' and
             'wasserstein_gradient_penalty' in op.name]
    assert len(iterator) == 1 and len(alpha) == 1, (iterator, alpha)
    gm = model.gan_model

    def feed(prefix):
      return {
          iterator[0].outputs[0]: feed_values['real_images'],
          iterator[0].outputs[1]: feed_values['real_one_hot'],
          gm.generator_inputs[0]: feed_values[f'{prefix}_z'],
          gm.generator_inputs[1]: np.eye(61, dtype=np.float32)[
              feed_values[f'{prefix}_labels']],
          alpha[0].outputs[0]: feed_values['d_alpha'],
      }
    with tf.Session() as sess:
      sess.run(tf.global_variables_initializer())
      tf.train.Saver(variables).restore(sess, ckpt)
      # tfgan.get_sequential_train_hooks: the generator's op, then the
      # discriminator's (train_util.train runs GANTrainSteps(1, 1)).
      train_ops = model.gan_train_ops
      g_loss = sess.run([train_ops.generator_train_op,
                         model.gan_loss.generator_loss], feed('g'))[1]
      d_loss = sess.run([train_ops.discriminator_train_op,
                         model.gan_loss.discriminator_loss], feed('d'))[1]
      values = sess.run(variables)
  print(f'G&L weight {gl_weight}: generator loss {g_loss:.6g}, '
        f'discriminator loss {d_loss:.6g}, {len(values)} variables',
        flush=True)
  return values, g_loss, d_loss


def main():
  from make_schedule_fixture import _import_magenta, fixture_args  # pylint: disable=g-import-not-at-top,import-outside-toplevel
  args = fixture_args(__doc__, 'magenta_update.npz')
  tf = _import_magenta(args.oracle_dir)[0]
  from magenta.models.gansynth.lib import flags as lib_flags  # pylint: disable=g-import-not-at-top,import-outside-toplevel
  from magenta.models.gansynth.lib import model as lib_model  # pylint: disable=g-import-not-at-top,import-outside-toplevel

  data = os.path.join(REPO, 'tests', 'data', 'oracle')
  ref = np.load(os.path.join(data, 'reference.npz'))
  feed_values = inputs()
  feed_values['real_images'] = ref['real_images'].astype(np.float32)
  feed_values['real_one_hot'] = ref['real_one_hot'].astype(np.float32)
  out = {k: v for k, v in feed_values.items()
         if k not in ('real_images', 'real_one_hot')}
  for variant, weight in VARIANTS.items():
    values, g_loss, d_loss = run_variant(
        tf, lib_flags, lib_model, os.path.join(data, 'ckpt'), weight,
        feed_values)
    out[f'{variant}:generator_loss'] = np.float32(g_loss)
    out[f'{variant}:discriminator_loss'] = np.float32(d_loss)
    for name, value in values.items():
      out[f'{variant}:{name.replace("/", "|")}'] = np.asarray(value)
  np.savez_compressed(args.out, **out)
  print(f'wrote {args.out} ({os.path.getsize(args.out) / 1e6:.1f} MB)')


if __name__ == '__main__':
  main()
