#!/usr/bin/env python
"""Writes tests/data/magenta_transitions.npz from MAGENTA'S OWN networks.

Magenta's reference outputs (tests/data/oracle/reference.npz) are at the
checkpoint's progress 6.0 with all 7 blocks, where only block 7 counts. This
script runs Magenta 2.1.4's `network_functions.generator_fn_specgram` and
`discriminator_fn_specgram` (its `networks.generator` / `discriminator`
inside) in TF1 graphs with fewer blocks and at progress values inside
transitions, on the tiny oracle checkpoint's variables (EMA shadows for the
generator, as Magenta generates), and records what they output for the
reference inputs (`z`, `labels`, `real_images` of reference.npz; the first
two of each). `tests/test_networks.py` compares our networks against it.
The script only imports and calls Magenta; no test imports it.

`--calm_channels=C` writes the calm fixture instead
(tests/data/magenta_transitions_calm.npz): the same structure and cases with
C channels in every block (fmap_base 4096, fmap_max C), so that each pixel
norm averages over C channels rather than the tiny oracle's 4-8, whose
float32 rounding the narrow norms amplify CPU by CPU (issue 21). Its weights
are Magenta's own initialisers' (seeded), biases set to small seeded values
so they count, every weight rounded to a float16-representable float32 so
that the fixture stores them exactly at half the size (`w/<Magenta variable
name>`, float16); the generator runs on them directly (no EMA shadows). The
fixture is self-contained: weights, config (`config_json`), inputs (`z`,
`labels`, `real_images`) and Magenta's outputs.

Both fixtures also hold `probe_*`: the sha256 of TensorFlow's own outputs, in
the fixture's process, for a 3x3 and a 1x1 convolution and a matmul of seeded inputs
(`kernel_probe_inputs`). A test that gets the same bits from them runs the
fixture's kernels (same ISA dispatch in oneDNN, or Eigen alike), and only
there can it ask for Magenta's bits; elsewhere the kernels round otherwise.

Environment (as tools/make_schedule_fixture.py):

  pip install --no-deps --target /tmp/mgdeps \
      tensorflow-gan==2.1.0 tf-slim==1.1.0 magenta==2.1.4
  PYTHONPATH=/tmp/mgdeps python tools/make_transition_fixture.py \
      --oracle_dir=../shared/oracle --out=tests/data/magenta_transitions.npz
  PYTHONPATH=/tmp/mgdeps python tools/make_transition_fixture.py \
      --oracle_dir=../shared/oracle --calm_channels=32 \
      --out=tests/data/magenta_transitions_calm.npz
"""
import argparse
import hashlib
import json
import os

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EMA_SUFFIX = '/ExponentialMovingAverage'
BATCH = 2
# (num_blocks, progress): stage 0 (1 block); stage 3 mid-transition (3
# blocks, fading block 3 in); stage 4 stable (3 blocks); stage 7 a quarter
# in (5 blocks); stage 11 mid-transition (7 blocks, fading block 7 in).
CASES = ((1, 0.0), (3, 1.5), (3, 2.0), (5, 3.25), (7, 5.5))


def case_key(num_blocks, progress):
  return f'{num_blocks}_{progress:g}'


def kernel_probe_inputs():
  """Seeded inputs of the kernel probe: {name: (op, a, b)}."""
  rng = np.random.RandomState(2121)
  normal = lambda *shape: rng.standard_normal(shape).astype(np.float32)  # pylint: disable=unnecessary-lambda-assignment
  return {'conv3x3': ('conv', normal(2, 16, 128, 32), normal(3, 3, 32, 32)),
          'conv1x1': ('conv', normal(2, 16, 128, 32), normal(1, 1, 32, 2)),
          'matmul': ('matmul', normal(2, 1024), normal(1024, 61))}


def _kernel_probe(tf):
  """{'probe_<name>': output} of TensorFlow's kernels in a TF1 graph."""
  out = {}
  graph = tf.Graph()
  with graph.as_default():
    # Fed, not constants: grappler would fold constant inputs with its own
    # kernels.
    tensors, feed = {}, {}
    for name, (op, a, b) in kernel_probe_inputs().items():
      pa = tf.placeholder(tf.float32, a.shape)
      pb = tf.placeholder(tf.float32, b.shape)
      feed.update({pa: a, pb: b})
      if op == 'conv':
        tensors[name] = tf.nn.conv2d(pa, pb, [1, 1, 1, 1], 'SAME')
      else:
        tensors[name] = tf.matmul(pa, pb)
    with tf.Session() as sess:
      for name, value in sess.run(tensors, feed).items():
        out[f'probe_{name}'] = np.asarray(probe_digest(value))
  return out


def probe_digest(value):
  """The bits of a probe output, as a short string (sha256 of its bytes)."""
  return hashlib.sha256(np.ascontiguousarray(value, np.float32).tobytes()
                        ).hexdigest()


def _build(tf, networks, network_functions, config, num_blocks, progress,
           z, one_hot, real):
  """Magenta's generator and discriminator in the current graph (inputs:
  placeholders, as Magenta's generate path feeds them; constants would let
  grappler fold the first layers with its own kernels)."""
  kwargs = dict(config)
  kwargs.update(
      progress=tf.constant(progress, tf.float32), num_blocks=num_blocks,
      num_tokens=61, resolution_schedule=networks.ResolutionSchedule(
          scale_mode=config['scale_mode'],
          start_resolutions=(config['start_height'], config['start_width']),
          scale_base=config['scale_base'],
          num_resolutions=config['num_resolutions']))
  with tf.variable_scope('Generator'):
    images, _ = network_functions.generator_fn_specgram(
        (z, one_hot), **kwargs)
  with tf.variable_scope('Discriminator'):
    logits, end_points = network_functions.discriminator_fn_specgram(
        real, **kwargs)
  return images, logits, end_points['classification_logits']


def _calm_weights(tf, networks, network_functions, config, z, one_hot, real,
                  seed=21):
  """{Magenta variable name: float32 value} of 7-block networks: Magenta's
  initialisers (seeded), biases seeded N(0, 0.1), all float16-exact."""
  graph = tf.Graph()
  with graph.as_default():
    tf.set_random_seed(seed)
    _build(tf, networks, network_functions, config,
           config['num_resolutions'], 0.0, tf.constant(z),
           tf.constant(one_hot), tf.constant(real))
    with tf.Session() as sess:
      sess.run(tf.global_variables_initializer())
      values = {v.op.name: sess.run(v) for v in tf.global_variables()}
  rng = np.random.RandomState(seed)
  for name in sorted(values):
    if name.endswith('/bias'):
      values[name] = rng.normal(0.0, 0.1, values[name].shape)
    values[name] = values[name].astype(np.float16).astype(np.float32)
  return values


def main():
  # The same Magenta set-up as the schedule fixture (stubs, no
  # magenta/__init__.py).
  from make_schedule_fixture import _import_magenta  # pylint: disable=g-import-not-at-top,import-outside-toplevel
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--oracle_dir', default=os.path.join(
      REPO, '..', 'shared', 'oracle'))
  parser.add_argument('--out', default=None)
  parser.add_argument('--calm_channels', type=int, default=0,
                      help='0: the tiny oracle checkpoint; C > 0: the calm '
                      'fixture, C channels per block, seeded weights')
  args = parser.parse_args()
  calm = args.calm_channels > 0
  if args.out is None:
    args.out = os.path.join(REPO, 'tests', 'data', 'magenta_transitions' +
                            ('_calm' if calm else '') + '.npz')
  tf, networks = _import_magenta(args.oracle_dir)[:2]
  from magenta.models.gansynth.lib import network_functions  # pylint: disable=g-import-not-at-top,import-outside-toplevel

  data = os.path.join(REPO, 'tests', 'data', 'oracle')
  with open(os.path.join(data, 'ckpt', 'experiment.json')) as f:
    config = json.load(f)
  ckpt = tf.train.latest_checkpoint(os.path.join(data, 'ckpt', 'stage_00012'))
  ref = np.load(os.path.join(data, 'reference.npz'))
  z = ref['z'][:BATCH].astype(np.float32)
  one_hot = np.eye(61, dtype=np.float32)[ref['labels'][:BATCH]]
  real = ref['real_images'][:BATCH].astype(np.float32)

  out = {'cases': np.asarray(CASES, np.float32)}
  out.update(_kernel_probe(tf))
  weights = None
  if calm:
    config.update(fmap_base=4096, fmap_max=args.calm_channels)
    weights = _calm_weights(tf, networks, network_functions, config, z,
                            one_hot, real)
    out.update({'w/' + k: v.astype(np.float16) for k, v in weights.items()})
    out.update(config_json=np.asarray(json.dumps(config)), z=z,
               labels=ref['labels'][:BATCH].astype(np.int32),
               real_images=real)
  for num_blocks, progress in CASES:
    graph = tf.Graph()
    with graph.as_default():
      inputs = (z, one_hot, real)
      placeholders = [tf.placeholder(tf.float32, x.shape) for x in inputs]
      feed = dict(zip(placeholders, inputs))
      images, logits, cls_logits = _build(
          tf, networks, network_functions, config, num_blocks, progress,
          *placeholders)
      var_list = {}
      for var in tf.global_variables():
        name = var.op.name
        var_list[name + EMA_SUFFIX if name.startswith('Generator/')
                 and not calm else name] = var
      with tf.Session() as sess:
        if calm:
          for var in tf.global_variables():
            var.load(weights[var.op.name], sess)
        else:
          tf.train.Saver(var_list).restore(sess, ckpt)
        g, d, c = sess.run([images, logits, cls_logits], feed)
    key = case_key(num_blocks, progress)
    out[f'gen_images_{key}'] = g
    out[f'd_logits_{key}'] = d
    out[f'd_cls_logits_{key}'] = c
    print(f'{key}: {len(var_list)} variables, images {g.shape} '
          f'peak {np.abs(g).max():.3f}, D logits {d.ravel()}', flush=True)
  np.savez_compressed(args.out, **out)
  print(f'wrote {args.out} ({os.path.getsize(args.out) / 1e6:.1f} MB)')


if __name__ == '__main__':
  main()
