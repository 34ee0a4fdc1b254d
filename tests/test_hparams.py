"""Tests for gansynth_tf2.hparams: the one configuration channel (issue 12).

gin binds `hparams.*`, the dataset classes and the entry points' run options;
every other component is built from an `HParams`, so a binding on it is
refused instead of being silently overridden.
"""
import importlib
import json
import pathlib
import pkgutil

import gin
import pytest

import gansynth_tf2
from gansynth_tf2 import gin_config
from gansynth_tf2 import hparams

REPO = pathlib.Path(__file__).resolve().parent.parent
ORACLE_JSON = REPO / 'tests' / 'data' / 'oracle' / 'ckpt' / 'experiment.json'

# What gin may configure; anything else is built explicitly from HParams.
ALLOWED = {
    'gansynth_tf2.hparams.hparams',
    'gansynth_tf2.train.train',
    'gansynth_tf2.train_classifier.train_classifier',
    'gansynth_tf2.evaluate.evaluate_real_dataset',
    'gansynth_tf2.data.default.DefaultDataset',
    'gansynth_tf2.data.eval_set.EvalDataset',
    'gansynth_tf2.data.eval_set.SoundfontDataset',
    'gansynth_tf2.data.nsynth.NSynthTFRecordDataset',
    'gansynth_tf2.data.nsynth.NSynthTfdsDataset',
    'gansynth_tf2.data.nsynth.PreparedDataset',
}


def _import_everything():
  for module in pkgutil.walk_packages(gansynth_tf2.__path__,
                                      'gansynth_tf2.'):
    importlib.import_module(module.name)


def test_only_hparams_datasets_and_entry_points_are_configurable():
  _import_everything()
  registered = {name for name in gin.config._REGISTRY._selector_map  # pylint: disable=protected-access
                if name.startswith('gansynth_tf2.')}
  assert registered == ALLOWED


@pytest.mark.parametrize('binding', [
    'Generator.fmap_max = 16',
    'Discriminator.fmap_base = 64',
    'ResolutionSchedule.scale_base = 4',
    'TrainingSchedule.total_num_images = 10',
    'LossWeights.gradient_penalty_weight = 1.0',
    'PrespecifiedNormalizer.mag_normalizer_a = 2.0',
    'provide_batches.data_type = "phase"',
    'EqualizedConv2D.he_initializer_slope = 0.0',
    'MelIF.audio_length = 16000',
    'PitchClassifier.width = 0.5',
    'StageTrainer.ema_decay = 0.5',
])
def test_a_binding_that_could_not_take_effect_is_refused(binding):
  """These classes get every argument from HParams (or their caller); a gin
  binding on them used to be accepted and silently overridden."""
  _import_everything()
  gin.clear_config()
  try:
    with pytest.raises(gin_config.GinConfigError,
                       match='No configurable matching'):
      gin_config.parse_gin([], [binding])
  finally:
    gin.clear_config()


@pytest.mark.parametrize('name', sorted(hparams.NOT_BINDABLE))
def test_hparams_that_training_sets_itself_are_refused(name):
  with pytest.raises(ValueError, match=f'hparams.{name} cannot be bound'):
    hparams.from_gin(**{name: 'x'})


def test_unknown_and_invalid_hparams_are_refused():
  with pytest.raises(ValueError, match=r"\['fmap_bse'\]"):
    hparams.from_gin(fmap_bse=3)
  with pytest.raises(ValueError, match='g_fn must be one of'):
    hparams.from_gin(g_fn='wave')
  with pytest.raises(ValueError, match='batch_size_schedule'):
    hparams.from_gin(batch_size_schedule=[])


def test_bound_values_reach_the_object_and_it_is_frozen():
  gin.clear_config()
  try:
    gin_config.parse_gin([], ['hparams.fmap_max = 16',
                              'hparams.batch_size_schedule = [4, 2]'])
    hp = hparams.from_gin()
  finally:
    gin.clear_config()
  assert hp.fmap_max == 16 and hp.batch_size_schedule == (4, 2)
  assert hp.fmap_base == hparams.HParams().fmap_base  # untouched default
  with pytest.raises(AttributeError):
    hp.fmap_max = 8  # pylint: disable=assigning-non-slot


def test_magentas_experiment_json_round_trips():
  """The file Magenta's own training wrote (the oracle checkpoint)."""
  config = json.loads(ORACLE_JSON.read_text())
  hp = hparams.HParams.from_dict(config)
  assert hp.as_dict() == config
  assert set(config) == set(hparams.MAGENTA_KEYS)
  # Keys no field holds are kept verbatim; missing ones take the defaults.
  partial = {k: v for k, v in config.items() if k != 'simple_arch'}
  partial['eval_batch_size'] = 3
  again = hparams.HParams.from_dict(partial)
  assert again.simple_arch == hparams.HParams().simple_arch
  assert again.as_dict()['eval_batch_size'] == 3


def test_train_cli_refuses_a_binding_on_a_component_before_writing(
    tmp_path, run_main):
  from gansynth_tf2 import train  # pylint: disable=import-outside-toplevel
  train_dir = tmp_path / 'run'
  result = run_main(train, [f'--gin_file={REPO / "tests/data/train_tiny.gin"}',
                            '--gin_param=Generator.fmap_max = 16',
                            f'--train_dir={train_dir}'])
  assert result.returncode == 1, result.stdout + result.stderr
  assert "No configurable matching 'Generator'" in result.stdout
  assert 'Traceback' not in result.stdout + result.stderr
  assert not train_dir.exists()


class _Recording:
  """An HParams that records which fields are read."""

  def __init__(self, hp):
    self._hp = hp
    self.read = set()

  def __getattr__(self, name):
    self.read.add(name)
    return getattr(self._hp, name)


def _from_hparams_builders():
  # pylint: disable=import-outside-toplevel
  from gansynth_tf2 import losses
  from gansynth_tf2 import networks
  from gansynth_tf2 import normalizers
  from gansynth_tf2 import schedule
  from gansynth_tf2 import specgrams
  small = dict(fmap_base=16, fmap_max=4, num_resolutions=2)
  builders = [(cls, cls.from_hparams, {}) for cls in (
      schedule.ResolutionSchedule, schedule.TrainingSchedule,
      losses.LossWeights, specgrams.DataHelper)]
  builders += [(cls, cls.from_hparams, small)
               for cls in (networks.Generator, networks.Discriminator)]
  for name, cls in sorted(normalizers.REGISTRY.items()):
    if cls.HPARAMS == ('normalizer_margin', 'normalizer_num_examples'):
      build = lambda hp: normalizers.from_hparams(hp, '/nonexistent/assets')  # pylint: disable=unnecessary-lambda-assignment
    else:
      build = normalizers.from_hparams
    builders.append((cls, build, dict(data_normalizer=name)))
  return builders


def test_every_from_hparams_reads_exactly_its_hparams():
  """The one convention: `X.HPARAMS` lists what `X.from_hparams` reads."""
  for cls, build, changes in _from_hparams_builders():
    hp = _Recording(hparams.HParams().replace(**changes))
    build(hp)
    extra = {'data_normalizer'} if 'data_normalizer' in changes else set()
    assert hp.read - extra == set(cls.HPARAMS), cls.__name__
    assert set(cls.HPARAMS) <= set(hparams.FIELD_NAMES), cls.__name__
