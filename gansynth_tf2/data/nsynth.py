"""NSynth readers: the original release TFRecords, and TFDS `nsynth/gansynth_subset`.

The paper trains on the acoustic notes (instrument_source 0) of pitch 24..84;
both readers default to that subset and to Magenta's pitch-count table of it.
A note whose audio holds NaN or Inf stops the reader with an error naming it
(file, record index and note_str; TFDS: the note's id), never reaching a
model: one line, which train.py reports as a TrainingDataError.
"""
import glob
import json
import os
import struct

import gin
import numpy as np
import tensorflow as tf

from gansynth_tf2.data import base
from gansynth_tf2.data import records
from gansynth_tf2.data import schema

# Notes per pitch in TFDS nsynth/gansynth_subset (train split), as listed in
# Magenta's lib/datasets.py; used to sample fake labels for NSynth training.
GANSYNTH_SUBSET_PITCH_COUNTS = {
    24: 551, 25: 545, 26: 561, 27: 550, 28: 549, 29: 578, 30: 547, 31: 628,
    32: 626, 33: 630, 34: 670, 35: 668, 36: 751, 37: 768, 38: 788, 39: 801,
    40: 821, 41: 871, 42: 873, 43: 860, 44: 873, 45: 844, 46: 883, 47: 865,
    48: 1058, 49: 1036, 50: 1094, 51: 1065, 52: 1186, 53: 1200, 54: 1187,
    55: 1346, 56: 1273, 57: 1320, 58: 1263, 59: 1283, 60: 1349, 61: 1285,
    62: 1281, 63: 1332, 64: 1286, 65: 1301, 66: 1220, 67: 1300, 68: 1209,
    69: 1257, 70: 1288, 71: 1223, 72: 1258, 73: 1183, 74: 1178, 75: 1125,
    76: 1171, 77: 1089, 78: 1024, 79: 1081, 80: 966, 81: 1043, 82: 991,
    83: 959, 84: 977,
}

TFDS_NAME = 'nsynth/gansynth_subset:2.3.*'
TFDS_INSTALL_HINT = (
    "NSynth from TFDS needs the optional extra: pip install "
    "'gansynth-tf2[tfds]' (or pip install tensorflow-datasets).")
TFDS_DOWNLOAD_HINT = (
    'Download and prepare it once (TFDS builds NSynth with Apache Beam):\n'
    '  pip install apache-beam && '
    'tfds build nsynth/gansynth_subset --data_dir={dir}\n'
    'or use the original NSynth TFRecord files with NSynthTFRecordDataset '
    '(gin/datasets/nsynth_tfrecord.gin).')


class TfdsNotInstalledError(ImportError, ValueError):
  """The optional tensorflow-datasets package is not installed.

  An ImportError, which it is, and a ValueError: a config that asks for a
  reader that is not installed is bad input, which the tools (train,
  train_classifier, evaluate) report in one line, before writing anything.
  """


def parse_example(serialized):
  """Parses one NSynth-schema record.

  Returns:
    dict with 'note_str' (string), 'pitch', 'velocity', 'instrument_source',
    'instrument_family', 'sample_rate' (int64 scalars; -1 where the record
    has none), 'qualities' (int64 [10]) and 'audio' (float32 [num_samples]).
  """
  ex = tf.io.parse_single_example(serialized, records.FEATURE_SPEC)
  out = {k: (v[0] if k in ('pitch', 'velocity', 'instrument_source',
                           'instrument_family', 'sample_rate') else v)
         for k, v in ex.items() if k != 'audio'}
  out['audio'] = tf.sparse.to_dense(ex['audio'])
  return out


def _resolve_files(file_pattern, what):
  patterns = [file_pattern] if isinstance(file_pattern, str) else list(
      file_pattern)
  files = sorted(f for p in patterns for f in tf.io.gfile.glob(p))
  if not files:
    raise FileNotFoundError(
        f'{what}: no TFRecord files match file_pattern={file_pattern!r}. '
        'Expected NSynth files such as nsynth-train.tfrecord, or the output '
        'of tools/render_soundfont.py / tools/prepare_dataset.py.')
  return files


def _record_header(f, path, offset, size):
  """(data length, offset of the next record) of the record at `offset`."""
  header = f.read(12)  # uint64 length, uint32 masked CRC of the length
  if len(header) < 12:
    raise ValueError(
        f'{path} is not a complete TFRecord file: it ends {size - offset} '
        f'bytes into the record header at byte {offset} (a truncated copy, '
        'or not a TFRecord file).')
  length, = struct.unpack('<Q', header[:8])
  end = offset + 12 + length + 4  # data, then its uint32 masked CRC
  if end > size:
    raise ValueError(
        f'{path} is not a complete TFRecord file: the record at byte '
        f'{offset} needs {length} bytes of data but the file ends at byte '
        f'{size} (a truncated copy, or not a TFRecord file).')
  return length, end


def check_tfrecord_file(path, sample_rate=schema.SAMPLE_RATE):
  """Raises ValueError unless `path` reads as NSynth notes at `sample_rate`.

  Walks the record headers only (one seek per record, no data read), so a
  shard cut short (an interrupted copy or download) or a file that is not
  an uncompressed TFRecord file is refused before any training starts
  instead of failing the run when the reader gets there. Damage inside a
  record's data is found by the reader's CRC check when it reads it. The
  first record's `sample_rate`, where it has one, must be `sample_rate`,
  and its audio must hold no NaN or Inf; the reader checks every other
  record as it reads it.
  """
  size = os.path.getsize(path)
  first = None
  with open(path, 'rb') as f:
    offset = 0
    while offset < size:
      length, end = _record_header(f, path, offset, size)
      if first is None:
        first = f.read(length)
      f.seek(end)
      offset = end
  if first is None:
    return
  try:
    example = tf.train.Example.FromString(first)
  except Exception as e:  # protobuf's DecodeError
    raise ValueError(f'{path}: its first record is not a tf.train.Example '
                     f'({e}); expected NSynth-schema notes.') from None
  feature = example.features.feature
  rates = list(feature['sample_rate'].int64_list.value) if (
      'sample_rate' in feature) else []
  name = (feature['note_str'].bytes_list.value[0].decode(errors='replace')
          if feature['note_str'].bytes_list.value else '?')
  if rates and rates[0] != sample_rate:
    raise ValueError(
        f'{path}: note {name!r} has sample_rate {rates[0]} Hz; expected '
        f'{sample_rate} Hz. Resample the notes (tools/prepare_dataset.py '
        'resamples audio files to 16 kHz).')
  audio = np.asarray(feature['audio'].float_list.value, np.float32)
  if not np.all(np.isfinite(audio)):
    raise ValueError(f'{path}: {_non_finite(0, name)}')


def _non_finite(index, name):
  """The message for a record whose audio holds NaN or Inf."""
  return (f'record {index} (note {name}) has NaN or Inf audio samples; '
          'remove or re-render that note')


@gin.configurable
class NSynthTFRecordDataset(base.NotesDataset):
  """Notes from TFRecords in the NSynth schema (original release or ours).

  Args:
    file_pattern: glob (or list of globs) of TFRecord files, e.g.
      '/data/nsynth/nsynth-train.tfrecord'.
    min_pitch, max_pitch: the model's pitch range; other notes are dropped.
    instrument_sources: keep notes of these sources (0 acoustic, 1 electronic,
      2 synthetic); None keeps all.
    pitch_counts: for fake-label sampling: a {pitch: count} dict,
      'gansynth_subset' (Magenta's table), 'manifest' (manifest.json beside
      the files, as our tools write), or 'scan' (count the records once).
    audio_length: samples per note after crop-or-pad.
  """

  def __init__(self, file_pattern, min_pitch=base.MIN_PITCH,
               max_pitch=base.MAX_PITCH, instrument_sources=(0,),
               pitch_counts='gansynth_subset',
               audio_length=schema.AUDIO_LENGTH):
    super().__init__(min_pitch, max_pitch, audio_length)
    self.file_pattern = file_pattern
    self.files = _resolve_files(file_pattern, type(self).__name__)
    self.instrument_sources = (None if instrument_sources is None else
                               [int(s) for s in instrument_sources])
    self._pitch_counts_spec = pitch_counts
    self._counts = None
    self._files_checked = False

  def describe(self):
    desc = super().describe()
    # A list of patterns has no one path (experiment.json's train_data_path).
    pattern = self.file_pattern
    desc.update(path=pattern if isinstance(pattern, str) else None,
                instrument_sources=self.instrument_sources)
    return desc

  def _keep(self, ex):
    keep = tf.logical_and(ex['pitch'] >= self.min_pitch,
                          ex['pitch'] <= self.max_pitch)
    if self.instrument_sources is not None:
      keep = tf.logical_and(keep, tf.reduce_any(
          tf.equal(ex['instrument_source'],
                   tf.constant(self.instrument_sources, tf.int64))))
    return keep

  def _check_files(self):
    """Refuses cut-short shards and another sample rate, once, before reading."""
    if self._files_checked:
      return
    for path in self.files:
      if os.path.isfile(path):  # local files; remote ones (gs://) unchecked
        check_tfrecord_file(path)
    self._files_checked = True

  def _check_sample_rate(self, ex):
    """`ex`, once its sample_rate is NSynth's (or absent)."""
    rate = ex['sample_rate']
    ok = tf.logical_or(tf.equal(rate, -1), tf.equal(rate, schema.SAMPLE_RATE))
    where = self.describe()['path'] or os.path.dirname(self.files[0])
    check = tf.debugging.Assert(ok, [
        f'{type(self).__name__} ({where}): note', ex['note_str'],
        'has sample_rate', rate, f'Hz; expected {schema.SAMPLE_RATE} Hz'])
    with tf.control_dependencies([check]):
      return dict(ex, audio=tf.identity(ex['audio']))

  def _check_finite(self, ex):
    """`ex`, once its audio holds no NaN or Inf; else an error naming the
    file, the record's index in it and its note_str (one line: train.py
    reports the first line of a reading error)."""
    ok = tf.reduce_all(tf.math.is_finite(ex['audio']))
    message = tf.strings.join([
        ex['file'], ': record ', tf.strings.as_string(ex['record']),
        ' (note ', ex['note_str'], ') has NaN or Inf audio samples; remove '
        'or re-render that note'])
    check = tf.debugging.Assert(ok, [message])
    with tf.control_dependencies([check]):
      return dict(ex, audio=tf.identity(ex['audio']))

  def _examples(self):
    """Parsed, checked records of every file: as
    `TFRecordDataset(files, num_parallel_reads=AUTOTUNE)` reads them (the
    same interleave, so the same order), each with its 'file' and 'record'
    (index in the file) for the error messages."""
    self._check_files()

    def read_one_file(path):
      return tf.data.TFRecordDataset(path).enumerate().map(
          lambda i, record: dict(parse_example(record), file=path, record=i))

    ds = tf.data.Dataset.from_tensor_slices(tf.constant(self.files,
                                                        tf.string))
    ds = ds.interleave(read_one_file, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.map(self._check_sample_rate,
                  num_parallel_calls=tf.data.AUTOTUNE).map(
                      self._check_finite,
                      num_parallel_calls=tf.data.AUTOTUNE).filter(self._keep)

  def provide_dataset(self):
    return self._examples().map(
        lambda ex: self._wave_and_label(ex['audio'], ex['pitch']),
        num_parallel_calls=tf.data.AUTOTUNE)

  def _count_pitches(self):
    if self._counts is None:
      self._counts = self._load_counts()
    return self._counts

  def _load_counts(self):
    spec = self._pitch_counts_spec
    if isinstance(spec, dict):
      return {int(k): int(v) for k, v in spec.items()}
    if spec == 'gansynth_subset':
      return dict(GANSYNTH_SUBSET_PITCH_COUNTS)
    if spec == 'manifest':
      return self._counts_from_manifest()
    if spec == 'scan':
      return self._scan_counts()
    raise ValueError(f"pitch_counts must be a dict, 'gansynth_subset', "
                     f"'manifest' or 'scan'; got {spec!r}.")

  def _counts_from_manifest(self):
    folders = sorted({os.path.dirname(f) for f in self.files})
    counts = {}
    for folder in folders:
      path = os.path.join(folder, 'manifest.json')
      if not os.path.exists(path):
        raise FileNotFoundError(
            f"pitch_counts='manifest' needs {path} (written by "
            "tools/render_soundfont.py and tools/prepare_dataset.py); use "
            "pitch_counts='scan' to count the records instead.")
      with open(path) as f:
        manifest = json.load(f)
      for note in manifest['accepted']:
        source_ok = (self.instrument_sources is None or
                     note.get('instrument_source') in self.instrument_sources)
        if source_ok and self.min_pitch <= note['pitch'] <= self.max_pitch:
          counts[note['pitch']] = counts.get(note['pitch'], 0) + 1
    return counts

  def _scan_counts(self):
    pitches = self._examples().map(lambda ex: ex['pitch'])
    counts = {}
    for p in pitches.as_numpy_iterator():
      counts[int(p)] = counts.get(int(p), 0) + 1
    return counts


@gin.configurable
class PreparedDataset(NSynthTFRecordDataset):
  """The output folder of tools/render_soundfont.py or tools/prepare_dataset.py.

  All instrument sources are kept and the pitch counts come from the
  folder's manifest.json.

  Args:
    data_dir: the tool's --output_dir.
    min_pitch, max_pitch: the model's pitch range.
    audio_length: samples per note.
  """

  def __init__(self, data_dir, min_pitch=base.MIN_PITCH,
               max_pitch=base.MAX_PITCH, audio_length=schema.AUDIO_LENGTH):
    if not os.path.isdir(data_dir):
      raise FileNotFoundError(
          f'PreparedDataset: data_dir={data_dir!r} is not a folder; make one '
          'with tools/render_soundfont.py or tools/prepare_dataset.py.')
    self.data_dir = data_dir
    pattern = os.path.join(data_dir, '*.tfrecord*')
    has_manifest = os.path.exists(os.path.join(data_dir, 'manifest.json'))
    super().__init__(
        [p for p in glob.glob(pattern) if not p.endswith('.tmp')] or pattern,
        min_pitch, max_pitch, instrument_sources=None,
        pitch_counts='manifest' if has_manifest else 'scan',
        audio_length=audio_length)

  def describe(self):
    return dict(super().describe(), path=os.path.abspath(self.data_dir))


# Where `tfds.load` looks when given no data_dir.
DEFAULT_TFDS_DATA_DIR = os.path.join('~', 'tensorflow_datasets')


@gin.configurable
class NSynthTfdsDataset(base.NotesDataset):
  """TFDS `nsynth/gansynth_subset` read from a local data dir (no download).

  Needs the optional `tensorflow-datasets` package.

  Args:
    tfds_data_dir: the TFDS data_dir holding nsynth/gansynth_subset
      (default: TFDS's own default, ~/tensorflow_datasets).
    split: 'train', 'valid' or 'test'.
    min_pitch, max_pitch: the model's pitch range.
    pitch_counts: {pitch: count}; default Magenta's table for this subset.
    audio_length: samples per note.
  """

  def __init__(self, tfds_data_dir=DEFAULT_TFDS_DATA_DIR, split='train',
               min_pitch=base.MIN_PITCH,
               max_pitch=base.MAX_PITCH, pitch_counts=None,
               audio_length=schema.AUDIO_LENGTH):
    super().__init__(min_pitch, max_pitch, audio_length)
    self.tfds_data_dir = os.path.expanduser(tfds_data_dir)
    self.split = split
    self._counts = dict(pitch_counts or GANSYNTH_SUBSET_PITCH_COUNTS)

  def describe(self):
    return dict(super().describe(), path=self.tfds_data_dir, split=self.split)

  def _load(self):
    try:
      import tensorflow_datasets as tfds  # pylint: disable=import-outside-toplevel
    except ImportError as e:
      raise TfdsNotInstalledError(TFDS_INSTALL_HINT) from e
    try:
      return tfds.load(TFDS_NAME, data_dir=self.tfds_data_dir,
                       split=self.split, download=False)
    except Exception as e:  # TFDS raises AssertionError or its own errors.
      raise FileNotFoundError(
          f'TFDS {TFDS_NAME} split={self.split!r} is not prepared in '
          f'tfds_data_dir={self.tfds_data_dir!r} ({type(e).__name__}: {e}).\n'
          + TFDS_DOWNLOAD_HINT.format(dir=self.tfds_data_dir)) from e

  def provide_dataset(self):
    ds = self._load()
    ds = ds.filter(lambda ex: tf.logical_and(ex['pitch'] >= self.min_pitch,
                                             ex['pitch'] <= self.max_pitch))
    return ds.map(lambda ex: self._wave_and_label(self._finite_audio(ex),
                                                  ex['pitch']),
                  num_parallel_calls=tf.data.AUTOTUNE)

  def _finite_audio(self, ex):
    """`ex['audio']`, once it holds no NaN or Inf; else an error naming the
    note (TFDS's 'id', NSynth's note_str) and the split."""
    audio = tf.cast(ex['audio'], tf.float32)
    note = ex['id'] if 'id' in ex else tf.constant('?')
    check = tf.debugging.Assert(
        tf.reduce_all(tf.math.is_finite(audio)),
        [tf.strings.join([
            f'{TFDS_NAME} split={self.split} in {self.tfds_data_dir}: note ',
            note, ' has NaN or Inf audio samples'])])
    with tf.control_dependencies([check]):
      return tf.identity(audio)

  def _count_pitches(self):
    return self._counts
