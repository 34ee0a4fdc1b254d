#!/usr/bin/env python
"""Writes tests/data/calm_oracle/: a calm checkpoint made by MAGENTA'S OWN code.

The tiny oracle (tests/data/oracle, fmap_base 512 / fmap_max 8: 4-8 channels
per pixel norm, trained through 13 stages) is chaotic: it amplifies each
CPU's float32 rounding (WORKSPACE.md, issue 21), so a fixture made from it
holds on one CPU only. This checkpoint has the same experiment settings
(tests/data/oracle/ckpt/experiment.json: the paper's mel_prog_hires, stage
12 with all 7 blocks, the full 128x1024 structure) with more channels per
pixel norm (default fmap_base 2048 / fmap_max 16: 16 in every block):

  * Magenta 2.1.4's `lib.model.Model(12, 3, flags)` is built as its
    training builds it (tfgan's GAN model, losses, `define_train_ops`' Adam
    optimizers, the generator EMA of `add_generator_smoothing_ops`), under
    the graph seed --seed, and initialised by Magenta's initialisers;
  * --steps steps of Magenta's train ops are run as tfgan's sequential hooks
    run them (generator op with the EMA, discriminator op, global step
    increment), from image id --start_image_id, on fed inputs: the tiny
    oracle's three real images and labels (tests/data/oracle/reference.npz)
    and seeded latents, labels and penalty alphas; so weights, EMA shadows,
    Adam slots and powers are all warm;
  * `Model.saver` (Magenta's Saver of every global variable) writes
    `ckpt/stage_00012/model.ckpt-N` with a relative `checkpoint` state
    file, and `ckpt/experiment.json` holds the flags;
  * reference.npz: what Magenta's `Model.load_from_path(ckpt)` computes from
    it (as ../shared/oracle/make_oracle.py's reference phase): EMA generator
    images before and after denormalization and `generate_samples_from_z`
    waves for the tiny oracle's `z` / `pitches` (images of the first two
    notes, computed in Magenta's batch of three), and D logits and
    classification logits for its real images.

The script only imports and calls Magenta; no test imports it. Environment
(as tools/make_schedule_fixture.py):

  PYTHONPATH=/tmp/mgdeps python tools/make_calm_oracle.py \\
      --oracle_dir=../shared/oracle --out=tests/data/calm_oracle
"""
import argparse
import json
import os
import shutil
import time

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = os.path.join(REPO, 'tests', 'data', 'oracle')
STAGE = 12
BATCH = 3  # the tiny oracle's three real images
IMAGES = 2  # notes whose images are kept (4 MB); waves are kept for all


def warm_inputs(step, batch=BATCH):
  """The fed inputs of warm-up step `step` (seeded per step), drawn as the
  update fixture draws its own."""
  from make_update_fixture import inputs  # pylint: disable=g-import-not-at-top,import-outside-toplevel
  return inputs(batch=batch, seed=20261204 + step)


def make_flags(lib_flags, lib_model, experiment, train_root):
  flags = lib_flags.Flags()
  flags.load(experiment)
  flags['train_root_dir'] = train_root
  lib_model.set_flags(flags)
  return flags


def fed_ops(tf, graph, model):
  """The iterator's outputs and the penalty's RandomUniform (to feed)."""
  ops = graph.get_operations()
  iterator = [op for op in ops if op.type == 'IteratorGetNext']
  alpha = [op for op in ops if op.type == 'RandomUniform' and
           'wasserstein_gradient_penalty' in op.name]
  assert len(iterator) == 1 and len(alpha) == 1, (iterator, alpha)
  gm = model.gan_model
  del tf

  def feed(values, prefix, real_images, real_one_hot):
    return {
        iterator[0].outputs[0]: real_images,
        iterator[0].outputs[1]: real_one_hot,
        gm.generator_inputs[0]: values[f'{prefix}_z'],
        gm.generator_inputs[1]: np.eye(61, dtype=np.float32)[
            values[f'{prefix}_labels']],
        alpha[0].outputs[0]: values['d_alpha'],
    }
  return feed


def train(tf, lib_flags, lib_model, args, experiment, ckpt_dir, ref):
  """Magenta's init + warm steps; saves stage_00012. Returns the prefix."""
  stage_dir = os.path.join(ckpt_dir, 'stage_%05d' % STAGE)
  os.makedirs(stage_dir)
  real_images = ref['real_images'].astype(np.float32)
  real_one_hot = ref['real_one_hot'].astype(np.float32)
  graph = tf.Graph()
  with graph.as_default():
    tf.set_random_seed(args.seed)
    flags = make_flags(lib_flags, lib_model, experiment, ckpt_dir)
    model = lib_model.Model(STAGE, BATCH, flags)
    feed = fed_ops(tf, graph, model)
    sess = model.sess
    sess.run(tf.global_variables_initializer())
    sess.run(model.current_image_id.assign(args.start_image_id))
    train_ops = model.gan_train_ops
    for step in range(args.steps):
      values = warm_inputs(step)
      t0 = time.time()
      # tfgan.get_sequential_train_hooks (GANTrainSteps(1, 1)): the
      # generator's op (Adam, then the EMA), the discriminator's, then the
      # train op proper (the global step increment).
      g_loss = sess.run([train_ops.generator_train_op,
                         model.gan_loss.generator_loss],
                        feed(values, 'g', real_images, real_one_hot))[1]
      d_loss = sess.run([train_ops.discriminator_train_op,
                         model.gan_loss.discriminator_loss],
                        feed(values, 'd', real_images, real_one_hot))[1]
      sess.run(train_ops.global_step_inc_op)
      print(f'warm step {step}: generator loss {g_loss:.6g}, discriminator '
            f'loss {d_loss:.6g} ({time.time() - t0:.1f} s)', flush=True)
    prefix = model.saver.save(
        sess, os.path.join(stage_dir, 'model.ckpt'),
        global_step=model.current_image_id, write_meta_graph=False)
    sess.close()
  name = os.path.basename(prefix)
  # The state file with a relative path (as make_oracle.py's package phase),
  # so the folder can move.
  with open(os.path.join(stage_dir, 'checkpoint'), 'w') as f:
    f.write(f'model_checkpoint_path: "{name}"\n'
            f'all_model_checkpoint_paths: "{name}"\n')
  return prefix


def reference(tf, lib_flags, lib_model, ckpt_dir, ref):
  """Magenta's outputs from Model.load_from_path (make_oracle's reference)."""
  out = {}
  graph = tf.Graph()
  with graph.as_default():
    model = lib_model.Model.load_from_path(
        ckpt_dir, flags=lib_flags.Flags({'eval_batch_size': BATCH}))
    sess = model.sess
    num_tokens = len(model.pitch_counts)
    with model.load_scope:
      gen_post, gen_ep = model.generator_fn(
          (model.noises_ph, tf.one_hot(model.labels_ph, num_tokens)))
    gen_pre = gen_ep['predictions']
    shape = list(model.resolution_schedule.final_resolutions) + [2]
    d_in = tf.placeholder(tf.float32, [BATCH] + shape)
    with tf.variable_scope(model.gan_model.discriminator_scope, reuse=True):
      d_logits, d_ep = model.discriminator_fn(d_in)
    progress, image_id = sess.run([model.progress, model.current_image_id])
    out['progress'] = np.float32(progress)
    out['global_step'] = np.int64(image_id)
    z = ref['z'].astype(np.float32)
    pitches = [int(p) for p in ref['pitches']]
    labels = model._pitches_to_labels(pitches)  # pylint: disable=protected-access
    out['z'], out['pitches'] = z, np.asarray(pitches, np.int32)
    out['labels'] = np.asarray(labels, np.int32)
    # Batches of BATCH, zero-padded, as generate_samples_from_z runs them.
    n = len(labels)
    batches = -(-n // BATCH)
    pad = batches * BATCH - n
    z_p = np.concatenate([z, np.zeros([pad, z.shape[1]], np.float32)])
    l_p = labels + [0] * pad
    pre, post = [], []
    for i in range(batches):
      fd = {model.noises_ph: z_p[i * BATCH:(i + 1) * BATCH],
            model.labels_ph: l_p[i * BATCH:(i + 1) * BATCH]}
      a, b = sess.run([gen_pre, gen_post], fd)
      pre.append(a)
      post.append(b)
    # Images of the first IMAGES notes only (1 MB each), to keep it small.
    out['gen_images_pre_denorm'] = np.concatenate(pre)[:IMAGES]
    out['gen_images'] = np.concatenate(post)[:IMAGES]
    out['gen_waves'] = model.generate_samples_from_z(z, pitches).astype(
        np.float32)
    # The real images are the tiny oracle's (its reference.npz), not copied.
    real = ref['real_images'].astype(np.float32)
    lg, cl = sess.run([d_logits, d_ep['classification_logits']],
                      {d_in: real})
    out['d_real_logits'], out['d_real_cls_logits'] = lg, cl
    sess.close()
  return out


def main():
  from make_schedule_fixture import _import_magenta  # pylint: disable=g-import-not-at-top,import-outside-toplevel
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--oracle_dir', default=os.path.join(
      REPO, '..', 'shared', 'oracle'))
  parser.add_argument('--out', default=os.path.join(
      REPO, 'tests', 'data', 'calm_oracle'))
  parser.add_argument('--fmap_base', type=int, default=2048)
  parser.add_argument('--fmap_max', type=int, default=16)
  parser.add_argument('--seed', type=int, default=20261204,
                      help='graph seed of the initialisers')
  parser.add_argument('--steps', type=int, default=3,
                      help="warm-up steps of Magenta's train ops")
  parser.add_argument('--start_image_id', type=int, default=96,
                      help="Magenta's global step (image id) before the "
                      'warm-up: 96 is stage 12\'s first image')
  parser.add_argument('--overwrite', action='store_true')
  parser.add_argument('--reference_only', action='store_true',
                      help='only (re)write reference.npz for the checkpoint '
                      'already in --out (Magenta\'s warm-up steps are not '
                      'bit-reproducible run to run: see README.md)')
  args = parser.parse_args()
  tf = _import_magenta(args.oracle_dir)[0]
  from magenta.models.gansynth.lib import flags as lib_flags  # pylint: disable=g-import-not-at-top,import-outside-toplevel
  from magenta.models.gansynth.lib import model as lib_model  # pylint: disable=g-import-not-at-top,import-outside-toplevel

  ckpt_dir = os.path.join(args.out, 'ckpt')
  ref = np.load(os.path.join(TINY, 'reference.npz'))
  if not args.reference_only:
    if os.path.exists(args.out):
      if not args.overwrite:
        raise SystemExit(f'{args.out} exists; pass --overwrite')
      shutil.rmtree(args.out)
    os.makedirs(ckpt_dir)
    with open(os.path.join(TINY, 'ckpt', 'experiment.json')) as f:
      experiment = json.load(f)
    experiment.update(fmap_base=args.fmap_base, fmap_max=args.fmap_max)
    with open(os.path.join(ckpt_dir, 'experiment.json'), 'w') as f:
      json.dump(experiment, f)
    prefix = train(tf, lib_flags, lib_model, args, experiment, ckpt_dir, ref)
    print(f'wrote {prefix}', flush=True)
  out = reference(tf, lib_flags, lib_model, ckpt_dir, ref)
  path = os.path.join(args.out, 'reference.npz')
  np.savez_compressed(path, **out)
  size = sum(os.path.getsize(os.path.join(d, f))
             for d, _, files in os.walk(args.out) for f in files)
  print(f'wrote {path}; {args.out}: {size / 1e6:.2f} MB; progress '
        f'{out["progress"]}, global step {out["global_step"]}')


if __name__ == '__main__':
  main()
