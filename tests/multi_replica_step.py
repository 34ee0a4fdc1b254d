r"""One training step on one device or several replicas, for test_distribute.py.

Run as a script (each mode in its own process: devices and clusters are set
up once per process):

  single        --train_dir=D --out=F --group=4 [--whole_out=W]: makes stage
                STAGE's trainer on one device with the minibatch stddev over
                groups of 4, saves its initial checkpoint into D (unless D
                has one), takes one step, writes every variable to F; then
                the same from that checkpoint with one stddev over the whole
                batch, into W.
  mirrored      --train_dir=D --out=F --cpu_replicas=2: restores D's
                checkpoint into a MirroredStrategy trainer over logical CPUs
                and takes the same step.
  multi_worker  --train_dir=D --out=F: the same under
                MultiWorkerMirroredStrategy ($TF_CONFIG names the cluster).
                With --then_train_dir=T [--then_gin_param=P ...], the same
                cluster then runs train's command line (its `main`, on
                distribute_tiny.gin + P) into T: test_distribute.py kills a
                worker of that run (a cluster is set up once per process,
                so the step and the run share it rather than each starting
                one).

The step's inputs (real data, latents, labels, penalty alphas) are fixed by
a seed, so all modes see the same global batch. `single` needs no process of
its own (one device, the default strategy): test_distribute.py calls
`run('single', ...)` in its own process.
"""
import argparse
import os
import sys

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
# The checkout under test, installed or not.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # pylint: disable=g-import-not-at-top

CONFIG = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'data',
                      'distribute_tiny.gin')
STAGE = 3  # a transition (progress 1.5 at image 28): blends in D and G.
START_IMAGE = 28


def step_inputs(hp, num_pitches, batch):
  rng = np.random.RandomState(1234)
  shape = [batch, 32, 512, 2]
  labels = rng.randint(num_pitches, size=[4, batch])
  onehot = lambda i: np.eye(num_pitches, dtype=np.float32)[labels[i]]
  return {
      'real': rng.uniform(-1, 1, shape).astype(np.float32),
      'real_one_hot': onehot(0),
      'inputs': {
          'g_z': rng.randn(batch, hp.latent_vector_size).astype(np.float32),
          'g_one_hot': onehot(1),
          'd_z': rng.randn(batch, hp.latent_vector_size).astype(np.float32),
          'd_one_hot': onehot(2),
          'alpha': rng.uniform(size=[batch, 1, 1, 1]).astype(np.float32)}}


def main():
  parser = argparse.ArgumentParser()
  parser.add_argument('mode', choices=['single', 'mirrored', 'multi_worker'])
  parser.add_argument('--train_dir', required=True)
  parser.add_argument('--out', required=True)
  parser.add_argument('--cpu_replicas', type=int, default=None)
  parser.add_argument('--group', type=int, default=None,
                      help='single: minibatch-stddev group size')
  parser.add_argument('--whole_out', default=None,
                      help='single: also the step with whole-batch stddev')
  parser.add_argument('--then_train_dir', default=None,
                      help='multi_worker: then train into this folder')
  parser.add_argument('--then_gin_param', action='append', default=[],
                      help='gin bindings of that run')
  args = parser.parse_args()
  strategy = run(args.mode, args.train_dir, args.out,
                 cpu_replicas=args.cpu_replicas, group=args.group,
                 whole_out=args.whole_out)
  if args.then_train_dir:
    then_train(strategy, args.then_train_dir, args.then_gin_param)


def then_train(strategy, train_dir, gin_params):
  """`python -m gansynth_tf2.train --gin_file=CONFIG --train_dir=train_dir
  --strategy=multi_worker --gin_param=...` on this process's cluster."""
  from absl import flags  # pylint: disable=import-outside-toplevel
  from gansynth_tf2 import distribute  # pylint: disable=import-outside-toplevel
  from gansynth_tf2 import train  # pylint: disable=import-outside-toplevel
  flag_values = flags.FlagValues()
  train.define_flags(flag_values)
  flag_values(['train', f'--gin_file={CONFIG}', f'--train_dir={train_dir}',
               '--strategy=multi_worker'] +
              [f'--gin_param={p}' for p in gin_params])
  # The strategy main would make is the one this process already has.
  distribute.make_strategy = lambda *args, **kwargs: strategy
  train.main([], flag_values)


def run(mode, train_dir, out, cpu_replicas=None, group=None, whole_out=None):
  """One step in `mode` (see the module's docstring); writes `out`."""
  from gansynth_tf2 import distribute  # pylint: disable=import-outside-toplevel
  strategy = distribute.make_strategy(
      {'single': 'default'}.get(mode, mode), cpu_replicas)
  import keras  # pylint: disable=import-outside-toplevel
  import tensorflow as tf  # pylint: disable=import-outside-toplevel
  from gansynth_tf2 import schedule  # pylint: disable=import-outside-toplevel
  from gansynth_tf2 import train  # pylint: disable=import-outside-toplevel
  from gansynth_tf2 import trainer as trainer_lib  # pylint: disable=import-outside-toplevel
  from gansynth_tf2.data import default  # pylint: disable=import-outside-toplevel

  hp = train.hparams_from_gin_files([CONFIG])
  sched = schedule.TrainingSchedule.from_hparams(hp)
  runs = [(str(out), group)]
  if whole_out:
    runs.append((str(whole_out), None))
  for out_path, group in runs:
    keras.utils.set_random_seed(0)
    trainer = trainer_lib.StageTrainer(
        STAGE, hp, sched, str(train_dir), default.DefaultDataset(), strategy,
        stddev_group_size=group)
    if mode == 'single' and trainer.checkpoint.latest is None:
      trainer_lib.copy_weights(trainer.generator, trainer.ema_generator)
      trainer.image_id.assign(START_IMAGE)
      trainer.save()
    else:
      assert trainer.restore().startswith('resumed'), 'no checkpoint'
    one_step(trainer, strategy, hp, out_path, tf)
    print(f'{mode}: {strategy.num_replicas_in_sync} replicas, group '
          f'{group}, image_id {int(trainer.image_id.numpy())}', flush=True)
  return strategy


def one_step(trainer, strategy, hp, out_path, tf):
  """The fed step; writes losses, every variable and image_id to out_path."""
  fed = step_inputs(hp, trainer.num_pitches, trainer.batch_size)
  b = trainer.replica_batch_size

  def per_replica(array):
    # Replica r of the whole cluster gets rows [r*b, (r+1)*b).
    return strategy.experimental_distribute_values_from_function(
        lambda ctx: tf.constant(
            array[ctx.replica_id_in_sync_group * b:
                  (ctx.replica_id_in_sync_group + 1) * b]))

  values, _ = trainer.step_with_inputs(
      per_replica(fed['real']), per_replica(fed['real_one_hot']),
      {k: tf.constant(v) for k, v in fed['inputs'].items()})
  out = {f'loss/{k}': float(v) for k, v in values.items()}
  for name, network in (('g', trainer.generator), ('ema', trainer.ema_generator),
                        ('d', trainer.discriminator)):
    for i, var in enumerate(network.trainable_variables):
      out[f'{name}/{i}/{var.path.split("/")[-1]}'] = var.numpy()
  for name, opt in (('gopt', trainer.generator_optimizer),
                    ('dopt', trainer.discriminator_optimizer)):
    for i, var in enumerate(opt.variables):
      out[f'{name}/{i}/{var.path.split("/")[-1]}'] = np.asarray(var.numpy())
  out['image_id'] = int(trainer.image_id.numpy())
  out['replicas'] = strategy.num_replicas_in_sync
  np.savez(out_path, **out)


if __name__ == '__main__':
  sys.exit(main())
