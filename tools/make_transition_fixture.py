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

Environment (as tools/make_schedule_fixture.py):

  pip install --no-deps --target /tmp/mgdeps \
      tensorflow-gan==2.1.0 tf-slim==1.1.0 magenta==2.1.4
  PYTHONPATH=/tmp/mgdeps python tools/make_transition_fixture.py \
      --oracle_dir=../shared/oracle --out=tests/data/magenta_transitions.npz
"""
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


def main():
  # The same Magenta set-up as the schedule fixture (stubs, no
  # magenta/__init__.py).
  from make_schedule_fixture import _import_magenta, fixture_args  # pylint: disable=g-import-not-at-top,import-outside-toplevel
  args = fixture_args(__doc__, 'magenta_transitions.npz')
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
  for num_blocks, progress in CASES:
    graph = tf.Graph()
    with graph.as_default():
      kwargs = dict(config)
      kwargs.update(
          progress=tf.constant(progress, tf.float32), num_blocks=num_blocks,
          num_tokens=61, resolution_schedule=networks.ResolutionSchedule(
              scale_mode=config['scale_mode'],
              start_resolutions=(config['start_height'],
                                 config['start_width']),
              scale_base=config['scale_base'],
              num_resolutions=config['num_resolutions']))
      with tf.variable_scope('Generator'):
        images, _ = network_functions.generator_fn_specgram(
            (tf.constant(z), tf.constant(one_hot)), **kwargs)
      with tf.variable_scope('Discriminator'):
        logits, end_points = network_functions.discriminator_fn_specgram(
            tf.constant(real), **kwargs)
      var_list = {}
      for var in tf.global_variables():
        name = var.op.name
        var_list[name + EMA_SUFFIX if name.startswith('Generator/')
                 else name] = var
      with tf.Session() as sess:
        tf.train.Saver(var_list).restore(sess, ckpt)
        g, d, c = sess.run([images, logits,
                            end_points['classification_logits']])
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
