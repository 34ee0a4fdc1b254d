r"""Learning curve of a training run: PA, FID, NDB (and pYIN pitch) vs images.

Evaluates the network at initialisation (the last stage's architecture with
fresh weights) and the latest checkpoint of every stage folder of a training
directory with `gansynth_tf2.evaluate`, then plots the metrics against the
number of training images and writes the numbers as JSON. With
--every_checkpoint, every checkpoint kept in the last stage's folder is a
point too (train with e.g. --gin_param=train.max_to_keep=40 to keep them), so
the long last stage of gin/cpu_small.gin is followed, not only its end.

  python tools/learning_curve.py --train_dir=runs/cpu_small \
      --classifier_dir=models/pitch_classifier --num_samples=256 --pyin \
      --output_png=docs/cpu_small_learning_curve.png \
      --output_json=docs/cpu_small_learning_curve.json
"""
import json
import os
import sys

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

from absl import app  # pylint: disable=g-import-not-at-top
from absl import flags

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

FLAGS = flags.FLAGS
flags.DEFINE_string('train_dir', None, 'Training directory (ours).')
flags.DEFINE_string('classifier_dir', 'models/pitch_classifier',
                    'Pitch classifier folder (train_classifier output).')
flags.DEFINE_integer('num_samples', 256, 'Generated notes per point.')
flags.DEFINE_integer('seed', 0, 'Seeds latents, pitches and the init weights.')
flags.DEFINE_integer('ndb_k', 20, 'NDB bins.')
flags.DEFINE_boolean('pyin', False, 'Also measure pitch with pYIN (slow).')
flags.DEFINE_boolean('every_checkpoint', False,
                     "Also evaluate every kept checkpoint of the last stage's "
                     'folder, not only its latest.')
flags.DEFINE_string('output_png', None, 'Where the plot goes.')
flags.DEFINE_string('output_json', None, 'Where the numbers go.')


def initial_model(train_dir, seed):
  """The last stage's generator with fresh (seeded) weights, as a model."""
  import keras  # pylint: disable=import-outside-toplevel
  from gansynth_tf2 import model as model_lib  # pylint: disable=import-outside-toplevel
  from gansynth_tf2 import networks  # pylint: disable=import-outside-toplevel
  from gansynth_tf2 import run_dir  # pylint: disable=import-outside-toplevel
  from gansynth_tf2 import schedule  # pylint: disable=import-outside-toplevel
  run = run_dir.Run(train_dir)
  hp = run.hparams()
  last_stage = schedule.TrainingSchedule.from_hparams(hp).num_stages - 1
  pitch_counts = run_dir.pitch_counts(hp)
  keras.utils.set_random_seed(seed)
  generator = networks.build_networks(
      hp, last_stage, run.normalizer(hp), len(pitch_counts),
      names=('generator',))['generator']
  return model_lib.GANSynthModel(generator, hp, pitch_counts,
                                 float(generator.num_blocks - 1),
                                 source='init')


def plot(points, path, title):
  import matplotlib  # pylint: disable=import-outside-toplevel
  matplotlib.use('Agg')
  from matplotlib import pyplot as plt  # pylint: disable=import-outside-toplevel
  images = [p['image_id'] for p in points]
  keys = [('PA', 'pitch accuracy (classifier, +-1 semitone)'),
          ('FID', 'FID (classifier features)'),
          ('NDB_fraction', 'NDB fraction')]
  if any(p.get('pyin_PA') is not None for p in points):
    keys.insert(1, ('pyin_PA', 'pYIN within 0.5 semitone (MIDI 36..84)'))
  fig, axes = plt.subplots(1, len(keys), figsize=(4.2 * len(keys), 3.4))
  for ax, (key, label) in zip(axes, keys):
    ax.plot(images, [p.get(key) for p in points], 'o-')
    ax.set_xlabel('training images')
    ax.set_title(label, fontsize=9)
    ax.grid(alpha=0.3)
    if key == 'FID':
      ax.set_yscale('log')
      if points and points[0].get('point') == 'init':
        # Issue 9's target: 5x below the network at initialisation.
        ax.axhline(points[0]['FID'] / 5, color='gray', ls='--', lw=1,
                   label='init / 5')
        ax.legend(fontsize=8)
  fig.suptitle(title, fontsize=10)
  fig.tight_layout()
  fig.savefig(path, dpi=110)


def main(argv):
  del argv
  if not FLAGS.train_dir or not os.path.isdir(FLAGS.train_dir):
    raise app.UsageError(f'--train_dir={FLAGS.train_dir!r} is not a folder')
  import gansynth_tf2  # pylint: disable=import-outside-toplevel
  from gansynth_tf2 import evaluate  # pylint: disable=import-outside-toplevel
  dataset, _ = evaluate.resolve_real_data([FLAGS.train_dir])
  common = dict(num_samples=FLAGS.num_samples, seed=FLAGS.seed,
                ndb_k=FLAGS.ndb_k, pyin=FLAGS.pyin)
  from gansynth_tf2 import run_dir  # pylint: disable=import-outside-toplevel
  points = []
  run = run_dir.Run(FLAGS.train_dir)
  stages = run.stage_ids()
  candidates = [('init', {})] + [(f'stage {s}', dict(stage_id=s))
                                 for s in stages]
  if FLAGS.every_checkpoint and stages:
    # The latest one is already the stage's point.
    _, latest = run.pick(stages[-1])
    earlier = [p for p in run.checkpoints(stages[-1])
               if os.path.abspath(p) != os.path.abspath(latest)]
    candidates[-1:-1] = [(f'stage {stages[-1]} {os.path.basename(p)}',
                          dict(checkpoint=p)) for p in earlier]
  real = None
  for name, where in candidates:
    if not where:
      model = initial_model(FLAGS.train_dir, FLAGS.seed)
    else:
      model = gansynth_tf2.load_model(FLAGS.train_dir, **where)
    result = evaluate.evaluate_models([FLAGS.train_dir], FLAGS.classifier_dir,
                                      dataset, models=[model], **common)
    real = result['rows'][evaluate.REAL_ROW]
    row = [v for k, v in result['rows'].items() if k != evaluate.REAL_ROW][0]
    row.update(point=name, image_id=row.get('image_id') or 0)
    points.append(row)
    print(f"{name}: images {row['image_id']} PA {row['PA']:.3f} FID "
          f"{row['FID']:.3g} NDB {row['NDB_fraction']:.2f}"
          + (f" pYIN {row['pyin_PA']:.3f}" if row.get('pyin_PA') is not None
             else ''), flush=True)
  summary = dict(train_dir=os.path.abspath(FLAGS.train_dir),
                 classifier_dir=os.path.abspath(FLAGS.classifier_dir),
                 real_data=real, points=points, **common)
  if FLAGS.output_json:
    from gansynth_tf2 import files  # pylint: disable=import-outside-toplevel
    files.write_atomic(FLAGS.output_json, json.dumps(summary, indent=1))
  if FLAGS.output_png:
    plot(points, FLAGS.output_png, os.path.basename(
        os.path.abspath(FLAGS.train_dir)))
    print(f'wrote {FLAGS.output_png}')


if __name__ == '__main__':
  flags.mark_flag_as_required('train_dir')
  app.run(main)
