"""Magenta's GANSynth hyperparameters as one typed, frozen object.

The configuration model (see WORKSPACE.md): gin binds exactly three things,
  * `hparams.<name> = value`: the fields of `HParams` below, Magenta's
    `experiment.json` keys with Magenta's `model.set_flags` defaults;
  * the dataset (`DATASET = @DefaultDataset()` and its class's arguments);
  * the run options of the command-line entry points (`train.*`,
    `train_classifier.*`).
Everything else (networks, schedules, losses, normalizers, transforms) is a
plain class built from an `HParams` by one convention: the class lists the
fields it reads in `HPARAMS` and `X.from_hparams(hp, **kwargs)` builds it
from them (`pick(hp, X.HPARAMS)` where the names are its arguments'). None is
gin-configurable, so a binding on one is refused by gin ("No configurable
matching ...") instead of being silently overridden by the explicit
arguments its builder passes.
"""
import dataclasses
import typing

import gin

# Magenta builds its networks with this generator/discriminator function only.
NETWORK_FNS = ('specgram',)


@dataclasses.dataclass(frozen=True)
class HParams:
  """Every hyperparameter of a GANSynth run, with Magenta's names.

  `experiment.json` is `as_dict()`; `from_dict()` reads Magenta's files and
  ours (keys it does not know are kept in `extra` and written back).
  """
  # Where things are: recorded by training, not set in gin.
  train_root_dir: str = '/tmp/gansynth/train'
  train_data_path: str = '/tmp/gansynth/nsynth-train.tfrecord'
  dataset_name: str = 'nsynth_tfds'
  # Data and its representation.
  data_type: str = 'mel'
  audio_length: int = 64000
  sample_rate: int = 16000
  data_normalizer: str = 'specgrams_prespecified_normalizer'
  normalizer_margin: float = 0.8
  normalizer_num_examples: int = 1000
  mag_normalizer_a: float = 0.0661371661726
  mag_normalizer_b: float = 0.113718730221
  p_normalizer_a: float = 0.8
  p_normalizer_b: float = 0.
  # Losses.
  gradient_penalty_target: float = 1.0
  gradient_penalty_weight: float = 10.0
  real_score_penalty_weight: float = 0.001
  generator_ac_loss_weight: float = 1.0
  discriminator_ac_loss_weight: float = 1.0
  gen_gl_consistency_loss_weight: float = 0.0
  # Optimization.
  generator_learning_rate: float = 0.0004
  discriminator_learning_rate: float = 0.0004
  adam_beta1: float = 0.0
  adam_beta2: float = 0.99
  fake_batch_size: int = 16
  # Magenta's distributed-training flags: kept for experiment.json's format.
  master: str = ''
  ps_tasks: int = 0
  task: int = 0
  debug_hook: bool = False
  # Progressive training.
  batch_size_schedule: typing.Tuple[int, ...] = (16, 8)
  stable_stage_num_images: int = 32
  transition_stage_num_images: int = 32
  total_num_images: int = 320
  save_summaries_num_images: int = 100
  train_progressive: bool = True
  train_time_limit: typing.Optional[float] = None
  train_time_stage_multiplier: float = 1.
  # Architecture.
  g_fn: str = 'specgram'
  d_fn: str = 'specgram'
  latent_vector_size: int = 256
  kernel_size: int = 3
  start_height: int = 4
  start_width: int = 8
  scale_mode: str = 'ALL'
  scale_base: int = 2
  num_resolutions: int = 7
  simple_arch: bool = False
  to_rgb_activation: str = 'tanh'
  fmap_base: int = 512
  fmap_decay: float = 1.0
  fmap_max: int = 128
  # Ours, beyond Magenta's keys: {"MIDI pitch": count} of the training data
  # (None: NSynth's GANSynth subset, which every Magenta model used).
  pitch_counts: typing.Optional[typing.Mapping[str, int]] = None
  # Keys of a read experiment.json that no field holds, kept verbatim.
  extra: typing.Mapping[str, typing.Any] = dataclasses.field(
      default_factory=dict)

  def __post_init__(self):
    # JSON and gin give lists; a frozen object wants a tuple.
    object.__setattr__(self, 'batch_size_schedule',
                       tuple(int(b) for b in self.batch_size_schedule))
    for name in ('g_fn', 'd_fn'):
      if getattr(self, name) not in NETWORK_FNS:
        raise ValueError(f'{name} must be one of {NETWORK_FNS} (the only '
                         f'network Magenta has), got {getattr(self, name)!r}')
    if not self.batch_size_schedule or min(self.batch_size_schedule) < 1:
      raise ValueError('batch_size_schedule must be a non-empty list of '
                       f'positive sizes, got {list(self.batch_size_schedule)}')

  @classmethod
  def from_dict(cls, config):
    """From an experiment.json dict; missing keys take Magenta's defaults."""
    config = dict(config)
    extra = {k: config.pop(k) for k in list(config) if k not in FIELD_NAMES}
    return cls(**config, extra=extra)

  def as_dict(self):
    """experiment.json's dict (JSON types; `pitch_counts` only when set)."""
    result = {f: getattr(self, f) for f in MAGENTA_KEYS}
    result['batch_size_schedule'] = list(self.batch_size_schedule)
    if self.pitch_counts is not None:
      result['pitch_counts'] = dict(self.pitch_counts)
    result.update(self.extra)
    return result

  def replace(self, **changes):
    return dataclasses.replace(self, **changes)


FIELD_NAMES = tuple(f.name for f in dataclasses.fields(HParams)
                    if f.name != 'extra')
# Magenta's experiment.json keys (every field but our own two).
MAGENTA_KEYS = tuple(f for f in FIELD_NAMES if f != 'pitch_counts')
MAGENTA_DEFAULTS = HParams().as_dict()

# Fields a gin binding could not change: training records them itself.
NOT_BINDABLE = {
    'train_root_dir': 'is the --train_dir of the run',
    'train_data_path': 'is recorded from the dataset (bind the dataset)',
    'dataset_name': 'is recorded from the dataset (bind the dataset)',
    'pitch_counts': 'is counted from the dataset (bind the dataset)',
    'master': 'is one of Magenta\'s TF1 cluster flags, unused here',
    'ps_tasks': 'is one of Magenta\'s TF1 cluster flags, unused here',
    'task': 'is one of Magenta\'s TF1 cluster flags, unused here',
    'debug_hook': 'is one of Magenta\'s TF1 debugging flags, unused here',
}


@gin.configurable('hparams')
def from_gin(**bindings):
  """The `HParams` of the bound gin config (`hparams.<name> = value`).

  Raises:
    ValueError: a binding names no hyperparameter, or one that training sets
      itself (it would have no effect).
  """
  unknown = sorted(set(bindings) - set(FIELD_NAMES))
  if unknown:
    raise ValueError(
        f'Unknown hyperparameter(s) {unknown} bound as hparams.<name> in the '
        f'gin config; expected one of {sorted(set(FIELD_NAMES) - set(NOT_BINDABLE))}')
  recorded = sorted(set(bindings) & set(NOT_BINDABLE))
  if recorded:
    raise ValueError(f'hparams.{recorded[0]} cannot be bound in gin: it '
                     f'{NOT_BINDABLE[recorded[0]]}')
  return HParams(**bindings)


def pick(hp, names):
  """{name: hp.name} for `names`: the keyword arguments of a `from_hparams`."""
  return {name: getattr(hp, name) for name in names}
