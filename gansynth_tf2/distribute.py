"""Which devices train: tf.distribute strategies by name, and the cluster's roles.

  default       one device (TensorFlow's default strategy)
  mirrored      every GPU of this machine (`MirroredStrategy`); with
                `cpu_replicas=N`, N logical CPU devices instead (a testing aid)
  multi_worker  every worker of a cluster described by $TF_CONFIG
                (`MultiWorkerMirroredStrategy`)
  tpu           a TPU (`TPUStrategy`; `tpu` names it, '' = the local TPU VM)

The training step (trainer.py) runs under `strategy.run` with the schedule's
batch size as the GLOBAL batch: each replica gets `batch / replicas`, the
losses are divided by the number of replicas so that the summed gradients are
the global batch's mean, and the EMA and image counter change once per step.

In a cluster the chief (task `chief`, or `worker` 0 when the cluster has no
chief) writes experiment.json, the normalizer, checkpoints and summaries;
every worker restores from the chief's train_dir, which must be on storage
all workers see.

Magenta -> here: `gansynth_train.py`'s `replica_device_setter` (TF1
parameter servers, gone in TF2) -> `make_strategy`.
"""
import json
import os

import tensorflow as tf

STRATEGIES = ('default', 'mirrored', 'multi_worker', 'tpu')


class ClusterError(RuntimeError):
  """A worker of the cluster stopped; the run must be restarted."""


def set_cpu_replicas(num):
  """Splits this machine's CPU into `num` logical devices /cpu:0.. (testing).

  Must run before TensorFlow runs anything (its devices are fixed then).

  Raises:
    ValueError: num < 1, or TensorFlow's devices are already initialized.
  """
  if num < 1:
    raise ValueError(f'cpu_replicas must be >= 1, got {num}')
  cpu = tf.config.list_physical_devices('CPU')[0]
  current = tf.config.get_logical_device_configuration(cpu)
  if current is not None and len(current) == num:
    return
  try:
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration()] * num)
  except RuntimeError:
    raise ValueError(
        f'cpu_replicas={num}: TensorFlow already set up its devices in this '
        'process; split the CPU before anything runs (the train CLI does; '
        'in Python call gansynth_tf2.distribute.make_strategy first).'
    ) from None


def make_strategy(name='default', cpu_replicas=None, tpu=''):
  """The tf.distribute strategy called `name` (one of STRATEGIES).

  Args:
    name: 'default', 'mirrored', 'multi_worker' or 'tpu'.
    cpu_replicas: with 'mirrored', mirror over this many logical CPU devices
      instead of the GPUs (to test multi-replica training without GPUs).
    tpu: with 'tpu', the TPU's name or grpc:// address ('' = local).

  Returns:
    A `tf.distribute.Strategy`.

  Raises:
    ValueError: an unknown name, or cpu_replicas with another strategy.
  """
  if name not in STRATEGIES:
    raise ValueError(f'strategy must be one of {", ".join(STRATEGIES)}; got '
                     f'{name!r}')
  if cpu_replicas is not None and name != 'mirrored':
    raise ValueError(f'cpu_replicas applies to strategy mirrored only, not '
                     f'{name!r}')
  if name == 'default':
    return tf.distribute.get_strategy()
  if name == 'mirrored':
    if cpu_replicas is None:
      return tf.distribute.MirroredStrategy()
    set_cpu_replicas(cpu_replicas)
    return tf.distribute.MirroredStrategy(
        [f'/cpu:{i}' for i in range(cpu_replicas)])
  if name == 'multi_worker':
    _check_tf_config()
    try:
      return tf.distribute.MultiWorkerMirroredStrategy()
    except RuntimeError as e:
      raise ValueError(
          'strategy multi_worker must be set up before TensorFlow runs '
          f'anything in this process ({e}); the train CLI does so.') from None
  resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=tpu)
  tf.config.experimental_connect_to_cluster(resolver)
  tf.tpu.experimental.initialize_tpu_system(resolver)
  return tf.distribute.TPUStrategy(resolver)


def _check_tf_config():
  """A readable $TF_CONFIG, or a clear error (absent means one worker)."""
  raw = os.environ.get('TF_CONFIG')
  if not raw:
    return
  try:
    config = json.loads(raw)
    task = config['task']
    tasks = config['cluster'][task['type']]
    if not 0 <= int(task['index']) < len(tasks):
      raise IndexError(task['index'])
  except (ValueError, KeyError, TypeError, IndexError) as e:
    raise ValueError(
        'TF_CONFIG must be JSON like {"cluster": {"worker": ["host1:port", '
        '"host2:port"]}, "task": {"type": "worker", "index": 0}}; got '
        f'{raw!r} ({type(e).__name__}: {e})') from None


def _task(strategy):
  """(task_type, task_id, cluster dict), or (None, None, {}) for one process."""
  resolver = getattr(strategy, 'cluster_resolver', None)
  if resolver is None or isinstance(
      resolver, tf.distribute.cluster_resolver.TPUClusterResolver):
    return None, None, {}
  return resolver.task_type, resolver.task_id, resolver.cluster_spec().as_dict()


def num_workers(strategy):
  """Processes training together (chief and workers); 1 without a cluster."""
  _, _, cluster = _task(strategy)
  return max(1, len(cluster.get('chief', [])) + len(cluster.get('worker', [])))


def is_chief(strategy):
  """Whether this process writes the run's files (checkpoints, summaries)."""
  task_type, task_id, cluster = _task(strategy)
  if task_type in (None, 'chief'):
    return True
  return task_type == 'worker' and task_id == 0 and 'chief' not in cluster


def worker_name(strategy):
  """'worker 1' etc. in a cluster, '' in one process."""
  task_type, task_id, _ = _task(strategy)
  return '' if task_type is None else f'{task_type} {task_id}'


def replicas_in_sync(num_replicas):
  """'2 replicas in sync': what the progress lines say."""
  return f'{num_replicas} replica{"s" if num_replicas != 1 else ""} in sync'


def barrier(strategy):
  """Blocks until every replica of every worker gets here.

  Used after the chief writes something the others then read (the normalizer,
  the last checkpoint of a stage).
  """
  if num_workers(strategy) == 1:
    return  # One process: its own writes are already visible to it.

  def replica_fn():
    ctx = tf.distribute.get_replica_context()
    return ctx.all_reduce(tf.distribute.ReduceOp.SUM, tf.ones([]))

  tf.function(lambda: strategy.run(replica_fn), autograph=False)()


# What TensorFlow raises on the survivors when a worker dies mid-collective.
PEER_ERRORS = (tf.errors.UnavailableError, tf.errors.DeadlineExceededError,
               tf.errors.AbortedError, tf.errors.CancelledError)
