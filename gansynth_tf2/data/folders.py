"""Your own samples: a folder of audio files -> NSynth-schema TFRecords.

Files are decoded and checked in parallel (audio_files.py); every file ends up
in the manifest, accepted or rejected with its reason, and one bad file never
stops the run.
"""
import concurrent.futures
import functools
import multiprocessing
import os

from tqdm.auto import tqdm

from gansynth_tf2.data import audio_files
from gansynth_tf2.data import records
from gansynth_tf2.data import schema


def prepare_folder(input_dir, output_dir,
                   pitch_regex=audio_files.NSYNTH_PATTERN,
                   estimate_pitches=False, min_pitch=schema.MIN_PITCH,
                   max_pitch=schema.MAX_PITCH, num_shards=1, num_workers=1,
                   prefix='train', progress=True):
  """Converts a folder of note files into NSynth-schema TFRecords + manifest.

  Args:
    input_dir: folder searched recursively for AUDIO_EXTENSIONS files.
    output_dir: destination folder.
    pitch_regex: file name pattern (see audio_files.parse_filename).
    estimate_pitches: estimate pitches with pYIN instead of (or, when both
      exist, overriding) the file name's.
    min_pitch, max_pitch: the model's range; other notes are rejected.
    num_shards: TFRecord shards.
    num_workers: processes decoding/resampling in parallel (1: in-process).
    prefix: shard file prefix.
    progress: show a progress bar.

  Returns:
    The manifest dict (also at `<output_dir>/manifest.json`).

  Raises:
    ValueError: min_pitch/max_pitch outside 0..127 or the wrong way round
      (before anything is read or written).
    FileNotFoundError: no audio files.
    RuntimeError: every file was rejected (the manifest says why).
  """
  if not 0 <= min_pitch <= max_pitch <= 127:
    raise ValueError(f'Need 0 <= min_pitch <= max_pitch <= 127, got '
                     f'min_pitch={min_pitch}, max_pitch={max_pitch}: no note '
                     'could be kept.')
  paths = audio_files.find_audio_files(input_dir)
  audio_files.check_pattern(pitch_regex)  # Fail before any work.
  work = functools.partial(
      audio_files.process_file, input_dir=input_dir, pitch_regex=pitch_regex,
      use_estimate=estimate_pitches, min_pitch=min_pitch, max_pitch=max_pitch)
  rejected = []

  def accepted(results):
    for entry, wave in tqdm(results, total=len(paths), unit='file',
                            disable=not progress, desc='preparing'):
      if wave is None:
        rejected.append(entry)
        continue
      yield entry, records.make_example(
          wave, entry['pitch'], entry['velocity'], entry['instrument_str'])

  config = dict(input_dir=os.path.abspath(input_dir), pitch_regex=pitch_regex,
                estimate_pitch=estimate_pitches, min_pitch=min_pitch,
                max_pitch=max_pitch)
  if num_workers and num_workers > 1:
    # Spawned workers: forking a process that has started TensorFlow's
    # threads is unsafe.
    with concurrent.futures.ProcessPoolExecutor(
        num_workers, mp_context=multiprocessing.get_context('spawn')) as pool:
      manifest = records.write_dataset(
          output_dir, accepted(pool.map(work, paths, chunksize=4)), rejected,
          prefix, num_shards, source='folder', config=config)
  else:
    manifest = records.write_dataset(
        output_dir, accepted(map(work, paths)), rejected, prefix, num_shards,
        source='folder', config=config)
  if not manifest['num_examples']:
    records.discard_shards(output_dir, manifest)
    raise RuntimeError(
        f'All {len(paths)} audio files under {input_dir} were rejected; see '
        f'the reasons in {os.path.join(output_dir, "manifest.json")}.')
  return manifest
