"""NSynth readers on records written in the original release's schema."""
import json
import os
import sys

import numpy as np
import pytest
import tensorflow as tf

from gansynth_tf2.data import nsynth
from gansynth_tf2.data import records

# The feature keys of the NSynth release files (nsynth-*.tfrecord).
NSYNTH_KEYS = {'note', 'note_str', 'instrument', 'instrument_str', 'pitch',
               'velocity', 'sample_rate', 'audio', 'qualities',
               'qualities_str', 'instrument_family', 'instrument_family_str',
               'instrument_source', 'instrument_source_str'}


def _nsynth_example(pitch, source, audio, velocity=75, family=3):
  """Built field by field here, independent of records.make_example."""
  def ints(v):
    return tf.train.Feature(int64_list=tf.train.Int64List(value=v))

  def strs(v):
    return tf.train.Feature(bytes_list=tf.train.BytesList(
        value=[s.encode() for s in v]))
  name = f'guitar_acoustic_{source:03d}-{pitch:03d}-{velocity:03d}'
  feature = {
      'note': ints([pitch * 10 + source]), 'note_str': strs([name]),
      'instrument': ints([source]), 'instrument_str': strs(['guitar']),
      'pitch': ints([pitch]), 'velocity': ints([velocity]),
      'sample_rate': ints([16000]),
      'audio': tf.train.Feature(float_list=tf.train.FloatList(value=audio)),
      'qualities': ints([0, 1, 0, 0, 0, 0, 0, 0, 1, 0]),
      'qualities_str': strs(['bright', 'percussive']),
      'instrument_family': ints([family]),
      'instrument_family_str': strs(['guitar']),
      'instrument_source': ints([source]),
      'instrument_source_str': strs(['acoustic']),
  }
  return tf.train.Example(features=tf.train.Features(feature=feature))


# (pitch, source, num_samples): in range, out of range, other sources, and
# clips shorter and longer than 4 s.
NOTES = [(24, 0, 64000), (60, 0, 1000), (84, 0, 70000), (23, 0, 64000),
         (85, 0, 64000), (60, 1, 64000), (61, 2, 64000), (40, 0, 64000)]


def _audio(i, n):
  return (np.sin(np.arange(n) * 0.01 * (i + 1)) * 0.5).astype(np.float32)


@pytest.fixture(scope='module')
def nsynth_file(tmp_path_factory):
  path = tmp_path_factory.mktemp('nsynth') / 'nsynth-train.tfrecord'
  with tf.io.TFRecordWriter(str(path)) as w:
    for i, (pitch, source, n) in enumerate(NOTES):
      w.write(_nsynth_example(pitch, source, _audio(i, n)).SerializeToString())
  return path


def _read(dataset):
  waves, labels = [], []
  for w, l in dataset.provide_dataset():
    waves.append(w.numpy())
    labels.append(l.numpy())
  return np.array(waves), np.array(labels)


def test_reads_paper_subset_with_padding_and_labels(nsynth_file):
  ds = nsynth.NSynthTFRecordDataset(str(nsynth_file))
  waves, labels = _read(ds)
  kept = [i for i, (p, s, _) in enumerate(NOTES) if s == 0 and 24 <= p <= 84]
  assert waves.shape == (len(kept), 64000, 1)
  assert labels.shape == (len(kept), 61)
  np.testing.assert_array_equal(labels.sum(1), 1.0)
  np.testing.assert_array_equal(labels.argmax(1),
                                [NOTES[i][0] - 24 for i in kept])
  for wave, i in zip(waves, kept):
    n = NOTES[i][2]
    src = _audio(i, n)
    if n >= 64000:  # long clips keep their start
      np.testing.assert_array_equal(wave[:, 0], src[:64000])
    else:  # short ones are centered, as Magenta's crop_or_pad
      left = (64000 - n) - (64000 - n) // 2
      np.testing.assert_array_equal(wave[left:left + n, 0], src)
      np.testing.assert_array_equal(wave[:left, 0], 0.0)
      np.testing.assert_array_equal(wave[left + n:, 0], 0.0)


def test_source_filter_none_keeps_all_sources(nsynth_file):
  ds = nsynth.NSynthTFRecordDataset(str(nsynth_file), instrument_sources=None,
                                    min_pitch=30, max_pitch=70)
  _, labels = _read(ds)
  assert labels.shape[1] == 41
  assert sorted(labels.argmax(1) + 30) == [40, 60, 60, 61]


def test_datasets_describe_where_their_notes_are(nsynth_file, tmp_path):
  ds = nsynth.NSynthTFRecordDataset(str(nsynth_file), min_pitch=30,
                                    max_pitch=70, audio_length=100)
  assert ds.describe() == {
      'class': 'NSynthTFRecordDataset', 'path': str(nsynth_file),
      'min_pitch': 30, 'max_pitch': 70, 'audio_length': 100,
      'instrument_sources': [0]}
  # A list of patterns has no one path to record.
  assert nsynth.NSynthTFRecordDataset([str(nsynth_file)]).describe()[
      'path'] is None
  folder = tmp_path / 'prepared'
  folder.mkdir()
  (folder / 'x.tfrecord').write_bytes(nsynth_file.read_bytes())
  prepared = nsynth.PreparedDataset(str(folder)).describe()
  assert prepared['class'] == 'PreparedDataset'
  assert prepared['path'] == str(folder) and prepared['instrument_sources'] is None
  tfds_ds = nsynth.NSynthTfdsDataset(str(tmp_path / 'tfds'), split='valid')
  assert tfds_ds.describe()['path'] == str(tmp_path / 'tfds')
  assert tfds_ds.describe()['split'] == 'valid'


def test_pitch_counts(nsynth_file):
  ds = nsynth.NSynthTFRecordDataset(str(nsynth_file))
  counts = ds.get_pitch_counts()
  assert list(counts) == list(range(24, 85))
  assert counts == nsynth.GANSYNTH_SUBSET_PITCH_COUNTS
  scanned = nsynth.NSynthTFRecordDataset(
      str(nsynth_file), pitch_counts='scan').get_pitch_counts()
  assert {p: c for p, c in scanned.items() if c} == {24: 1, 40: 1, 60: 1,
                                                      84: 1}
  with pytest.raises(FileNotFoundError, match='manifest.json'):
    nsynth.NSynthTFRecordDataset(str(nsynth_file),
                                 pitch_counts='manifest').get_pitch_counts()


def test_fake_labels_follow_counts(nsynth_file):
  ds = nsynth.NSynthTFRecordDataset(str(nsynth_file),
                                    pitch_counts={30: 1, 40: 3})
  labels = ds.provide_one_hot_labels(4000, seed=1).numpy()
  assert labels.shape == (4000, 61)
  pitches = labels.argmax(1) + 24
  assert set(pitches) == {30, 40}  # zero-count pitches are never drawn
  frac = np.mean(pitches == 40)
  assert abs(frac - 0.75) < 0.04, frac
  assert sum(ds.get_pitches(100, seed=0).values()) == 100


def test_our_writer_matches_nsynth_schema(tmp_path):
  example = records.make_example(np.zeros(64000), 60, 100, 'reed_acoustic_007',
                                 instrument_family=7, instrument_source=0)
  assert set(example.features.feature) == NSYNTH_KEYS
  records.write_dataset(tmp_path, [({'pitch': 60, 'instrument_source': 0},
                                    example)], [])
  ds = nsynth.PreparedDataset(str(tmp_path))
  parsed = next(iter(tf.data.TFRecordDataset(ds.files).map(
      nsynth.parse_example)))
  assert parsed['note_str'].numpy() == b'reed_acoustic_007-060-100'
  assert int(parsed['instrument_family']) == 7
  assert ds.get_pitch_counts()[60] == 1
  manifest = json.loads((tmp_path / 'manifest.json').read_text())
  assert manifest['pitch_counts'] == {'60': 1}


def test_missing_files_error_names_the_pattern(tmp_path):
  with pytest.raises(FileNotFoundError, match='file_pattern'):
    nsynth.NSynthTFRecordDataset(str(tmp_path / 'nope-*.tfrecord'))
  with pytest.raises(FileNotFoundError, match='render_soundfont'):
    nsynth.PreparedDataset(str(tmp_path / 'absent'))


def test_tfds_not_installed_message(monkeypatch, tmp_path):
  # None in sys.modules makes `import tensorflow_datasets` raise ImportError.
  monkeypatch.setitem(sys.modules, 'tensorflow_datasets', None)
  ds = nsynth.NSynthTfdsDataset(str(tmp_path))
  assert ds.get_pitch_counts() == nsynth.GANSYNTH_SUBSET_PITCH_COUNTS
  with pytest.raises(ImportError, match=r'gansynth-tf2\[tfds\]'):
    ds.provide_dataset()


class _FakeTfds:
  """Stands in for tensorflow_datasets with no prepared data."""

  @staticmethod
  def load(name, data_dir, split, download):
    assert not download
    raise AssertionError(f'Dataset {name} not found in {data_dir}.')


def test_tfds_data_absent_message(monkeypatch, tmp_path):
  monkeypatch.setitem(sys.modules, 'tensorflow_datasets', _FakeTfds)
  ds = nsynth.NSynthTfdsDataset(str(tmp_path))
  with pytest.raises(FileNotFoundError, match='tfds build nsynth'):
    ds.provide_dataset()


def test_tfds_reading_path(tmp_path):
  """tfds.load for real (name, version, split), serving our notes in TFDS's layout."""
  if os.environ.get('CI'):
    # tools/setup.sh installs the tfds extra: in CI this must run, not skip.
    import tensorflow_datasets as tfds  # pylint: disable=import-outside-toplevel
  else:
    tfds = pytest.importorskip(
        'tensorflow_datasets',
        reason="optional extra: pip install 'gansynth-tf2[tfds]'")
  notes = [(24, 64000), (60, 1000), (84, 70000), (23, 64000), (90, 64000)]

  def as_dataset(builder, split, **unused_kwargs):
    assert builder.name == 'nsynth'
    assert builder.builder_config.name == 'gansynth_subset'
    assert str(split) == 'train'
    return tf.data.Dataset.from_generator(
        lambda: ({'pitch': np.int64(p), 'audio': _audio(i, n)}
                 for i, (p, n) in enumerate(notes)),
        output_signature={'pitch': tf.TensorSpec([], tf.int64),
                          'audio': tf.TensorSpec([None], tf.float32)})

  with tfds.testing.mock_data(as_dataset_fn=as_dataset):
    waves, labels = _read(nsynth.NSynthTfdsDataset(str(tmp_path)))
  np.testing.assert_array_equal(labels.argmax(1), [0, 36, 60])
  assert waves.shape == (3, 64000, 1)
  np.testing.assert_array_equal(waves[1, 31500:32500, 0], _audio(1, 1000))
  np.testing.assert_array_equal(waves[1, :31500], 0.0)
  np.testing.assert_array_equal(waves[1, 32500:], 0.0)


def test_interrupted_shard_writing_leaves_nothing(tmp_path):
  def examples():
    yield records.make_example(np.zeros(10), 60, 100, 'x')
    raise KeyboardInterrupt

  with pytest.raises(KeyboardInterrupt):
    records.write_shards(examples(), tmp_path, num_shards=2)
  assert not list(tmp_path.iterdir())


def test_minimal_records_with_only_pitch_and_audio(tmp_path):
  path = str(tmp_path / 'minimal.tfrecord')
  with tf.io.TFRecordWriter(path) as w:
    w.write(tf.train.Example(features=tf.train.Features(feature={
        'pitch': tf.train.Feature(int64_list=tf.train.Int64List(value=[50])),
        'audio': tf.train.Feature(float_list=tf.train.FloatList(
            value=_audio(0, 64000))),
    })).SerializeToString())
  paper_subset = nsynth.NSynthTFRecordDataset(path, pitch_counts='scan')
  assert not list(paper_subset.provide_dataset())  # no source: not acoustic
  with pytest.raises(ValueError, match='no notes with pitch in 24..84'):
    paper_subset.get_pitch_counts()
  ds = nsynth.NSynthTFRecordDataset(path, instrument_sources=None)
  (wave, label), = list(ds.provide_dataset().as_numpy_iterator())
  assert label.argmax() == 26
  np.testing.assert_array_equal(wave[:, 0], _audio(0, 64000))


# Bad input (issue 10): a clear one-line error before anything is written.

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _prepared(folder, notes, num_shards=1):
  """Writes (pitch, sample_rate) notes with records.write_dataset."""
  accepted = [({'pitch': p, 'instrument_source': 0},
               records.make_example(_audio(i, 16000), p, 100, f'organ_{i}',
                                    instrument_source=0, sample_rate=rate))
              for i, (p, rate) in enumerate(notes)]
  records.write_dataset(str(folder), accepted, [], num_shards=num_shards)
  return folder


def _one_line_value_error(dataset):
  """The error provide_dataset raises: a ValueError (what the tools report
  as one line), of one line."""
  with pytest.raises(ValueError) as info:
    dataset.provide_dataset()
  assert '\n' not in str(info.value), str(info.value)
  return str(info.value)


def test_a_cut_short_or_foreign_shard_is_refused_before_reading(tmp_path):
  folder = _prepared(tmp_path / 'data', [(60, 16000), (62, 16000)],
                     num_shards=2)
  shards = sorted(str(p) for p in folder.glob('*.tfrecord*'))
  ds = nsynth.PreparedDataset(str(folder))
  assert len(list(ds.provide_dataset())) == 2  # intact: reads
  data = open(shards[1], 'rb').read()
  with open(shards[1], 'wb') as f:  # an interrupted copy
    f.write(data[:-100])
  message = _one_line_value_error(nsynth.PreparedDataset(str(folder)))
  assert message.startswith(f'{shards[1]} is not a complete TFRecord file')
  assert 'truncated' in message
  with open(shards[1], 'wb') as f:  # not a TFRecord file at all
    f.write(b'RIFF\x24\x00\x00\x00WAVEfmt ' + bytes(200))
  message = _one_line_value_error(
      nsynth.NSynthTFRecordDataset(shards, instrument_sources=None))
  assert message.startswith(f'{shards[1]} is not a complete TFRecord file')
  with open(shards[1], 'wb') as f:  # ends inside a record header
    f.write(data + data[:5])
  assert 'record header' in _one_line_value_error(
      nsynth.PreparedDataset(str(folder)))


def test_notes_at_another_sample_rate_are_refused(tmp_path):
  folder = _prepared(tmp_path / 'at44k', [(60, 44100), (62, 44100)])
  message = _one_line_value_error(nsynth.PreparedDataset(str(folder)))
  assert message.startswith(str(folder / 'train.tfrecord'))
  assert "note 'organ_0-060-100' has sample_rate 44100 Hz; expected 16000" in (
      message)
  # One record among 16 kHz ones: the reader stops at it, naming it.
  mixed = _prepared(tmp_path / 'mixed', [(60, 16000), (62, 22050)])
  with pytest.raises(tf.errors.InvalidArgumentError,
                     match=r"(?s)\(.*mixed\): note\] \[organ_1-062-100\] "
                           r'\[has sample_rate\] \[22050\] \[Hz; expected '
                           r'16000 Hz\]'):
    list(nsynth.PreparedDataset(str(mixed)).provide_dataset())
  # A record without the feature is taken as 16 kHz (minimal records, above).


def test_training_on_tfds_without_the_extra_is_one_error_line(
    tmp_path, monkeypatch, run_main):
  """The TFDS config (if_mel_hq.gin's default data) with tensorflow_datasets
  missing: one ERROR line with the install hint, no traceback, no train_dir
  (was an ImportError traceback). The train CLI's main in this process, the
  package blocked (a None entry in sys.modules makes its import fail)."""
  from gansynth_tf2 import train  # pylint: disable=import-outside-toplevel
  monkeypatch.setitem(sys.modules, 'tensorflow_datasets', None)
  train_dir = tmp_path / 'run'
  gin_file = os.path.join(REPO, 'gin', 'if_mel_hq.gin')
  result = run_main(train, [f'--gin_file={gin_file}',
                            f'--train_dir={train_dir}'])
  out = result.stdout + result.stderr
  assert result.returncode == 1, out[-3000:]
  errors = [l for l in result.stdout.splitlines() if l.startswith('ERROR:')]
  assert errors == ['ERROR: ' + nsynth.TFDS_INSTALL_HINT], out[-3000:]
  assert 'Traceback' not in out
  assert not train_dir.exists()


def _nan_file(path, bad_index, value=np.nan, count=4):
  """An NSynth-schema file of `count` in-range notes, the audio of the one
  at `bad_index` holding `value` at one sample."""
  with tf.io.TFRecordWriter(str(path)) as w:
    for i in range(count):
      audio = _audio(i, 16000)
      if i == bad_index:
        audio[123] = value
      w.write(_nsynth_example(40 + i, 0, audio).SerializeToString())
  return path


@pytest.mark.parametrize('value', [np.nan, np.inf])
def test_a_note_with_nan_or_inf_audio_is_refused_naming_file_and_record(
    tmp_path, value):
  """Record 2 of 4 holds a NaN (or Inf): reading stops there with one line
  naming the file, the record and its note_str (the first line of the
  error is what train.py's TrainingDataError shows)."""
  path = _nan_file(tmp_path / 'nsynth-train.tfrecord', 2, value)
  dataset = nsynth.NSynthTFRecordDataset(str(path), pitch_counts='scan')
  with pytest.raises(tf.errors.InvalidArgumentError) as info:
    list(dataset.provide_dataset())
  first = info.value.message.splitlines()[0]
  assert (f"{path}: record 2 (note guitar_acoustic_000-042-075) has NaN "
          'or Inf audio samples; remove or re-render that note') in first, (
              info.value.message)
  # In the first record: refused before reading, as a one-line ValueError.
  first_bad = _nan_file(tmp_path / 'first.tfrecord', 0, value)
  message = _one_line_value_error(nsynth.NSynthTFRecordDataset(
      str(first_bad)))
  assert message == (f'{first_bad}: record 0 (note '
                     'guitar_acoustic_000-040-075) has NaN or Inf audio '
                     'samples; remove or re-render that note')


def test_training_stops_on_a_nan_note_with_one_line_naming_it(tmp_path):
  """train.py's path: a reading error during training becomes a
  TrainingDataError of the error's first line, here naming the note."""
  from gansynth_tf2 import train  # pylint: disable=import-outside-toplevel
  path = _nan_file(tmp_path / 'nsynth-train.tfrecord', 3)
  dataset = nsynth.NSynthTFRecordDataset(str(path))
  train.check_dataset_readable(dataset)  # the first note is fine
  with pytest.raises(tf.errors.OpError) as info:
    for _ in dataset.provide_dataset().batch(2):
      pass
  assert train.reading_error_line(info.value) == (
      f'{path}: record 3 (note guitar_acoustic_000-043-075) has NaN or Inf '
      'audio samples; remove or re-render that note'), info.value.message


def test_records_are_read_in_tfrecord_datasets_order(tmp_path):
  """Adding each record's file and index keeps the order of
  TFRecordDataset(files, num_parallel_reads=AUTOTUNE) over several shards."""
  folder = _prepared(tmp_path / 'data', [(40 + i, 16000) for i in range(9)],
                     num_shards=3)
  dataset = nsynth.PreparedDataset(str(folder))
  ours = [ex['note_str'] for ex in dataset._examples().as_numpy_iterator()]  # pylint: disable=protected-access
  plain = tf.data.TFRecordDataset(dataset.files,
                                  num_parallel_reads=tf.data.AUTOTUNE).map(
                                      nsynth.parse_example)
  assert ours == [ex['note_str'] for ex in plain.as_numpy_iterator()]
  assert len(set(ours)) == 9
