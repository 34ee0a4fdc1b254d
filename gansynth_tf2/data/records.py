"""NSynth-schema TFRecords: the feature spec, example encoding and sharded writing.

Every dataset this package makes (soundfont renders, prepared WAV folders,
the embedded default) is written in the schema of the original NSynth release
files (`nsynth-{train,valid,test}.tfrecord`), so one reader serves them all
and any NSynth reader can read ours.
"""
import contextlib
import json
import os
import zlib

import numpy as np
import tensorflow as tf

from gansynth_tf2 import files
from gansynth_tf2.data import schema

# What the readers take from a record; the other NSynth features are ignored.
# Only `pitch` and `audio` are required, so NSynth-like files from elsewhere
# read too (a missing source is -1: kept only with instrument_sources=None).
FEATURE_SPEC = {
    'note_str': tf.io.FixedLenFeature([], tf.string, default_value=''),
    'pitch': tf.io.FixedLenFeature([1], tf.int64),
    'velocity': tf.io.FixedLenFeature([1], tf.int64, default_value=[-1]),
    'instrument_source': tf.io.FixedLenFeature([1], tf.int64,
                                               default_value=[-1]),
    'instrument_family': tf.io.FixedLenFeature([1], tf.int64,
                                               default_value=[-1]),
    # Checked by the readers: 16 kHz, or -1 (absent: taken as 16 kHz).
    'sample_rate': tf.io.FixedLenFeature([1], tf.int64, default_value=[-1]),
    'qualities': tf.io.FixedLenFeature(
        [schema.NUM_QUALITIES], tf.int64,
        default_value=[0] * schema.NUM_QUALITIES),
    # Variable length so that clips that are not exactly 4 s still parse; the
    # dataset crops or pads them.
    'audio': tf.io.VarLenFeature(tf.float32),
}


def _int64(values):
  return tf.train.Feature(int64_list=tf.train.Int64List(value=list(values)))


def _bytes(value):
  return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value.encode()]))


def make_example(audio, pitch, velocity, instrument_str, instrument=0,
                 instrument_family=-1, instrument_source=-1, qualities=None,
                 sample_rate=schema.SAMPLE_RATE):
  """Encodes one note with all the features of the NSynth release files.

  Args:
    audio: [num_samples] float waveform in [-1, 1].
    pitch: MIDI pitch.
    velocity: MIDI velocity.
    instrument_str: instrument name; the note is named
      '<instrument_str>-<pitch>-<velocity>'.
    instrument: integer instrument id.
    instrument_family: index into INSTRUMENT_FAMILIES, -1 when unknown.
    instrument_source: index into INSTRUMENT_SOURCES, -1 when unknown.
    qualities: NUM_QUALITIES 0/1 flags, zeros when not given.
    sample_rate: of `audio`.

  Returns:
    A tf.train.Example.
  """
  audio = np.asarray(audio, np.float32).reshape([-1])
  qualities = ([0] * schema.NUM_QUALITIES if qualities is None else
               [int(q) for q in qualities])
  families, sources = schema.INSTRUMENT_FAMILIES, schema.INSTRUMENT_SOURCES
  family_str = (families[instrument_family]
                if 0 <= instrument_family < len(families) else '')
  source_str = (sources[instrument_source]
                if 0 <= instrument_source < len(sources) else '')
  name = schema.note_str(instrument_str, pitch, velocity)
  feature = {
      # A stable id derived from the name (Python's hash() is salted per run).
      'note': _int64([zlib.crc32(name.encode()) & 0x7fffffff]),
      'note_str': _bytes(name),
      'instrument': _int64([instrument]),
      'instrument_str': _bytes(instrument_str),
      'pitch': _int64([pitch]),
      'velocity': _int64([velocity]),
      'sample_rate': _int64([sample_rate]),
      'audio': tf.train.Feature(float_list=tf.train.FloatList(value=audio)),
      'qualities': _int64(qualities),
      'qualities_str': tf.train.Feature(
          bytes_list=tf.train.BytesList(value=[])),
      'instrument_family': _int64([instrument_family]),
      'instrument_family_str': _bytes(family_str),
      'instrument_source': _int64([instrument_source]),
      'instrument_source_str': _bytes(source_str),
  }
  return tf.train.Example(features=tf.train.Features(feature=feature))


def shard_paths(output_dir, prefix, num_shards):
  """'<prefix>.tfrecord' for one shard, else '<prefix>.tfrecord-NNNNN-of-NNNNN'."""
  if num_shards == 1:
    return [os.path.join(output_dir, f'{prefix}.tfrecord')]
  return [os.path.join(output_dir,
                       f'{prefix}.tfrecord-{i:05d}-of-{num_shards:05d}')
          for i in range(num_shards)]


def write_shards(examples, output_dir, prefix='train', num_shards=1):
  """Writes examples round-robin into shards, each created atomically.

  Each shard is written to a temporary file and renamed when complete, so an
  interrupted run leaves no truncated shard behind.

  Args:
    examples: iterable of tf.train.Example.
    output_dir: folder for the shards (created).
    prefix: shard name prefix.
    num_shards: number of shards (>= 1).

  Returns:
    The list of shard paths.
  """
  if num_shards < 1:
    raise ValueError(f'num_shards must be >= 1, got {num_shards}.')
  os.makedirs(output_dir, exist_ok=True)
  paths = shard_paths(output_dir, prefix, num_shards)
  # Each shard appears whole or not at all (files.publish_file). The stack
  # unwinds last-in first-out: the writers close before their files are
  # renamed into place (or deleted, on an exception).
  with contextlib.ExitStack() as stack:
    tmp_paths = [stack.enter_context(files.publish_file(p)) for p in paths]
    writers = [stack.enter_context(tf.io.TFRecordWriter(p))
               for p in tmp_paths]
    for i, example in enumerate(examples):
      writers[i % num_shards].write(example.SerializeToString())
  return paths


def pitch_counts_of(pitches):
  """{pitch: count} of a list of pitches, keys as int."""
  values, counts = np.unique(np.asarray(pitches, np.int64), return_counts=True)
  return {int(v): int(c) for v, c in zip(values, counts)}


def write_dataset(output_dir, accepted, rejected, prefix='train', num_shards=1,
                  **manifest_fields):
  """Writes accepted notes as shards plus a `manifest.json`, as all our tools do.

  Args:
    output_dir: destination folder.
    accepted: iterable of (entry, example), consumed once while the shards
      are written (so a generator keeps memory flat): `entry` a JSON-able dict
      with at least 'pitch' (and 'instrument_source' where known), `example`
      its tf.train.Example.
    rejected: list of JSON-able dicts, each with a 'reason'; read after
      `accepted` is consumed, so a generator may still append to it.
    prefix: shard file prefix.
    num_shards: number of shards.
    **manifest_fields: extra manifest entries (source, config, ...).

  Returns:
    The manifest dict.
  """
  entries = []

  def examples():
    for entry, example in accepted:
      entries.append(entry)
      yield example

  shards = write_shards(examples(), output_dir, prefix, num_shards)
  manifest = dict(
      manifest_fields,
      shards=[os.path.basename(s) for s in shards],
      num_examples=len(entries), num_rejected=len(rejected),
      pitch_counts=pitch_counts_of([e['pitch'] for e in entries]),
      accepted=entries, rejected=list(rejected))
  files.write_atomic(os.path.join(output_dir, 'manifest.json'),
                     json.dumps(manifest, indent=1))
  return manifest


def discard_shards(output_dir, manifest):
  """Deletes a manifest's shards and rewrites it listing none.

  For a run that accepted nothing: the manifest keeps the reasons and no
  empty shard is left to be mistaken for a dataset.
  """
  for shard in manifest['shards']:
    os.remove(os.path.join(output_dir, shard))
  manifest['shards'] = []
  files.write_atomic(os.path.join(output_dir, 'manifest.json'),
                     json.dumps(manifest, indent=1))
