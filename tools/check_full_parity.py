#!/usr/bin/env python
"""Full-size parity: our load_model against Magenta's outputs of a full checkpoint.

The tests compare against the tiny and calm oracles (small widths); this tool
checks the paper's full-size network (fmap_base 4096 / fmap_max 256), whose
checkpoint (~200 MB) is not shipped. Make one with Magenta's own code
(~11 min on 2 CPU cores, in the environment of ../shared/oracle/magenta_env.sh):

  PY=.magenta-venv/bin/python
  $PY ../shared/oracle/make_oracle.py --config full --out /tmp/out_full \\
      --phases train,package,reference

then run, in this project's environment:

  python tools/check_full_parity.py --oracle_dir=/tmp/out_full

It loads `OUT/ckpt` with `load_model` (the fast sub-pixel default and
`exact=True`) at Magenta's reference batch size, generates the reference
latents and pitches, and prints the largest error of the images (before and
after denormalization) and of the waves, each relative to Magenta's peak.
"""
import argparse
import os

import numpy as np



def main():
  parser = argparse.ArgumentParser(description=__doc__,
                                   formatter_class=argparse.RawTextHelpFormatter)
  parser.add_argument('--oracle_dir', required=True,
                      help='make_oracle.py --out folder (ckpt/ + reference.npz)')
  args = parser.parse_args()
  ckpt = os.path.join(args.oracle_dir, 'ckpt')
  reference = os.path.join(args.oracle_dir, 'reference.npz')
  for path in (ckpt, reference):
    if not os.path.exists(path):
      parser.error(f'{path} does not exist: make it with '
                   f'make_oracle.py --config full --out {args.oracle_dir}')

  import tensorflow as tf  # pylint: disable=import-outside-toplevel
  import gansynth_tf2  # pylint: disable=import-outside-toplevel
  from bench_common import machine_line  # pylint: disable=import-outside-toplevel

  with np.load(reference) as f:
    ref = {k: f[k] for k in f.files}
  batch = int(ref['ref_batch'])
  print(f'{machine_line()}; '
        f'{len(ref["pitches"])} notes at batch {batch}')
  rows = []
  for label, kwargs in (('default (sub-pixel)', {}),
                        ('exact=True', {'exact': True})):
    model = gansynth_tf2.load_model(ckpt, batch_size=batch, **kwargs)
    images = model.specgrams_from_z(ref['z'], ref['pitches'])
    waves = model.generate_from_z(ref['z'], ref['pitches'])
    labels = tf.one_hot(ref['labels'], len(model.pitch_counts))
    pre = np.concatenate([
        model.generator(ref['z'][i:i + batch], labels[i:i + batch],
                        progress=model.progress, denormalize=False)
        for i in range(0, len(ref['z']), batch)])
    errors = {
        'pre-denorm images': np.abs(pre - ref['gen_images_pre_denorm']).max()
                             / np.abs(ref['gen_images_pre_denorm']).max(),
        'images': np.abs(images - ref['gen_images']).max()
                  / np.abs(ref['gen_images']).max(),
        'waves': np.abs(waves - ref['gen_waves']).max()
                 / np.abs(ref['gen_waves']).max(),
    }
    rows.append((label, errors))
  print('| load_model | ' + ' | '.join(rows[0][1]) + ' |')
  print('|---' * (len(rows[0][1]) + 1) + '|')
  for label, errors in rows:
    print(f'| {label} | ' + ' | '.join(f'{v:.2e}' for v in errors.values())
          + ' |')


if __name__ == '__main__':
  main()
