r"""Trains the pitch classifier that the metrics use (classifier.py).

  python -m gansynth_tf2.train_classifier --gin_file=gin/classifier.gin \
      --output_dir=models/pitch_classifier
  # any other dataset: add its gin file (it sets the DATASET macro)
  python -m gansynth_tf2.train_classifier --gin_file=gin/classifier.gin \
      --gin_file=gin/datasets/prepared.gin \
      --gin_param="PreparedDataset.data_dir='data/mine'" --output_dir=out/clf

Every note of the dataset is read once and turned into the classifier's
log-magnitude spectrogram (stored as uint8, 128 KB a note, so the network
alone runs per step). A deterministic part of the notes is held out: the
`holdout_fraction` with the smallest CRC-32 (seeded by `holdout_seed`) of
their audio, so the split depends on the notes themselves, not on the order
in which the dataset yields them. Training is Adam (beta1 0.5) on softmax
cross entropy with random onset delays and random noise floors as
augmentation; at the end the held-out notes are classified from their waves
(`classifier.predict`, as the metrics do) and the accuracies (exact, and
within one semitone) are printed and saved in classifier.json. Nothing is
written before that: the classifier folder appears complete or not at all.
"""
import json
import os
import time
import zlib

from absl import app
from absl import flags
import gin
import keras
import numpy as np
import tensorflow as tf

from gansynth_tf2 import classifier as classifier_lib
from gansynth_tf2 import gin_config

DEFAULT_GIN = 'gin/classifier.gin'


def load_notes(dataset, model, max_notes=None, batch_size=32):
  """Reads a dataset's notes into memory.

  Args:
    dataset: a data.base.NotesDataset.
    model: the PitchClassifier (its spectrogram settings).
    max_notes: read at most this many notes (the first ones).
    batch_size: notes per spectrogram call.

  Returns:
    (specs `[n, F, T]` uint8 (the input image * 255), waves `[n, samples]`
    float32 (model.audio_length), labels `[n]` int32 (pitch - MIN_PITCH),
    crcs `[n]` uint32 of the audio, number of notes dropped as out of the
    classifier's pitch range).
  """
  ds = dataset.provide_dataset()
  if max_notes:
    ds = ds.take(int(max_notes))
  spectrogram = tf.function(model.spectrogram)
  specs, waves, labels, crcs = [], [], [], []
  dropped = 0
  for wave, one_hot in ds.batch(batch_size).as_numpy_iterator():
    wave = wave.reshape([wave.shape[0], -1])
    pitch = np.argmax(one_hot, axis=1) + dataset.min_pitch
    label = classifier_lib.pitch_to_label(pitch)
    keep = (label >= 0) & (label < model.num_pitches)
    dropped += int(np.sum(~keep))
    if not np.any(keep):
      continue
    wave = classifier_lib.fit_length(wave[keep], model.audio_length).numpy()
    spec = spectrogram(wave).numpy()[..., 0]
    specs.append(np.round(spec * 255.0).astype(np.uint8))
    waves.append(wave)
    labels.append(label[keep].astype(np.int32))
    crcs.extend(zlib.crc32(w.tobytes()) for w in wave)
  if not specs:
    return (None, None, np.zeros([0], np.int32), np.zeros([0], np.uint32),
            dropped)
  return (np.concatenate(specs), np.concatenate(waves), np.concatenate(labels),
          np.asarray(crcs, np.uint32), dropped)


def holdout_mask(crcs, fraction, seed=0):
  """True for the held-out notes: the `fraction` with the smallest seeded hash.

  At least one note is held out and one kept.

  Args:
    crcs: `[n]` CRC-32 of each note's audio.
    fraction: share of notes to hold out, in (0, 1).
    seed: changes which notes are chosen.

  Returns:
    `[n]` bool.
  """
  n = len(crcs)
  keys = [zlib.crc32(int(c).to_bytes(4, 'little'), seed & 0xffffffff)
          for c in crcs]
  order = sorted(range(n), key=lambda i: (keys[i], i))
  count = min(max(1, int(round(fraction * n))), n - 1)
  mask = np.zeros([n], bool)
  mask[order[:count]] = True
  return mask


def augment(specs, max_shift_frames, noise_floor_prob, noise_floor_db,
            truncate_prob=0.0, truncate_min_frames=0):
  """Random onset delays, noise floors and truncations of input images.

  Args:
    specs: `[b, F, T]` float32 in [0, 1] (0 = TOP_DB below the peak).
    max_shift_frames: each note is delayed by 0..this many frames (silence
      in front, the end cropped).
    noise_floor_prob: chance that a note gets a noise floor.
    noise_floor_db: (low, high) dB below the peak of that floor (uniform):
      bins quieter than it are raised to it, as white noise would.
    truncate_prob: chance that a note is cut short: silent from a random
      frame in truncate_min_frames..T on (a shorter note, zero-padded).
    truncate_min_frames: the earliest cut.

  Returns:
    `[b, F, T]` float32.
  """
  b, _, t = specs.shape
  if truncate_prob > 0:
    cut = tf.random.uniform([b, 1, 1], min(truncate_min_frames, t), t + 1,
                            tf.int32)
    cut = tf.where(tf.random.uniform([b, 1, 1]) < truncate_prob, cut, t)
    specs = tf.where(tf.range(t)[tf.newaxis, tf.newaxis, :] < cut, specs, 0.0)
  if max_shift_frames:
    shift = tf.random.uniform([b, 1], 0, max_shift_frames + 1, tf.int32)
    src = tf.range(t)[tf.newaxis, :] - shift  # [b, T]
    moved = tf.gather(specs, tf.maximum(src, 0), axis=2, batch_dims=1)
    specs = tf.where((src >= 0)[:, tf.newaxis, :], moved, 0.0)
  if noise_floor_prob > 0:
    low, high = noise_floor_db
    db = tf.random.uniform([b, 1, 1], low, high)
    floor = 1.0 + db / classifier_lib.TOP_DB
    on = tf.random.uniform([b, 1, 1]) < noise_floor_prob
    specs = tf.where(on, tf.maximum(specs, floor), specs)
  return specs


def accuracies(probs, labels):
  """Accuracy (exact, within 1 semitone) and mean entropy of predictions."""
  predicted = np.argmax(probs, axis=1)
  entropy = -np.sum(probs * np.log(np.maximum(probs, 1e-12)), axis=1)
  return dict(
      accuracy=float(np.mean(predicted == labels)),
      accuracy_within_1_semitone=float(np.mean(np.abs(predicted - labels)
                                               <= 1)),
      mean_entropy=float(np.mean(entropy)))


def training_data_summary(dataset, labels):
  """classifier.json's `trained_on` data: the dataset's class and path, its
  render config (a rendered folder's manifest) and the notes' pitch range."""
  info = dict(dataset=type(dataset).__name__)
  path = dataset.describe()['path']
  if path:
    info['path'] = str(path)
  manifest = os.path.join(getattr(dataset, 'data_dir', '') or '',
                          'manifest.json')
  if os.path.isfile(manifest):
    with open(manifest) as f:
      config = json.load(f).get('config', {})
    info['render_config'] = {k: v for k, v in config.items()
                             if k in ('sf2', 'programs', 'pitches',
                                      'velocities', 'timbres', 'velocity')}
  pitches = classifier_lib.label_to_pitch(labels)
  info.update(num_notes=int(len(labels)), num_pitches=int(len(set(pitches))),
              min_pitch=int(pitches.min()), max_pitch=int(pitches.max()))
  return info


@gin.configurable
def train_classifier(output_dir, dataset=gin.REQUIRED, width=1.0,
                     bn_momentum=0.99, batch_size=32,
                     num_steps=2000, learning_rate=1e-4, adam_beta1=0.5,
                     holdout_fraction=0.15, holdout_seed=0,
                     max_shift_seconds=0.1, noise_floor_prob=0.5,
                     noise_floor_db=(-90.0, -40.0), truncate_prob=0.0,
                     truncate_min_seconds=1.0, lr_schedule='constant',
                     max_notes=None,
                     max_train_seconds=None, eval_every_steps=0,
                     log_every_secs=10.0, seed=0):
  """Trains a PitchClassifier and saves it.

  Args:
    output_dir: the classifier folder to write (see save_classifier).
    dataset: a data.base.NotesDataset (gin: `train_classifier.dataset =
      %DATASET`).
    width: the classifier's channel multiplier (`PitchClassifier`'s; 1.0 is
      the paper's network).
    bn_momentum: its batch norm moving-average momentum.
    batch_size: notes per step.
    num_steps: training steps.
    learning_rate: Adam learning rate (the NSynth baseline's: 1e-4).
    adam_beta1: Adam beta1 (the baseline's: 0.5).
    holdout_fraction: share of the notes held out for the final accuracy.
    holdout_seed: which notes are held out (see holdout_mask).
    max_shift_seconds: random onset delay of up to this (augmentation).
    noise_floor_prob: chance of a random noise floor (augmentation).
    noise_floor_db: (low, high) level of that floor in dB below the peak.
    truncate_prob: chance of cutting a note short (augmentation), so that
      shorter notes (zero-padded by the classifier) are classified too.
    truncate_min_seconds: the shortest such note.
    lr_schedule: 'constant', or 'cosine' (decays to 5% over num_steps).
    max_notes: read at most this many notes (all are held in memory while
      reading, about 384 KB each: wave and spectrogram).
    max_train_seconds: stop earlier once training took this long.
    eval_every_steps: also classify the held-out notes every this many steps
      (0: only at the end).
    log_every_secs: interval of the progress line.
    seed: weight initialization and batch order.

  Returns:
    The metrics dict saved in classifier.json.
  """
  if batch_size < 1 or num_steps < 1:
    raise ValueError(f'Need batch_size >= 1 and num_steps >= 1, got '
                     f'batch_size={batch_size}, num_steps={num_steps}.')
  if lr_schedule not in ('constant', 'cosine'):
    raise ValueError("lr_schedule must be 'constant' or 'cosine', got "
                     f'{lr_schedule!r}.')
  if not 0 < holdout_fraction < 1:
    raise ValueError('holdout_fraction must be in (0, 1), got '
                     f'{holdout_fraction}.')
  classifier_lib.check_output_dir(output_dir)
  keras.utils.set_random_seed(seed)
  model = classifier_lib.PitchClassifier(width=width, bn_momentum=bn_momentum)
  start = time.time()
  specs, waves, labels, crcs, dropped = load_notes(dataset, model, max_notes)
  name = type(dataset).__name__
  if len(labels) < 2:
    raise ValueError(
        f'{name} yields {len(labels)} note(s) with a pitch in '
        f'{classifier_lib.MIN_PITCH}..'
        f'{classifier_lib.MIN_PITCH + model.num_pitches - 1} '
        f'({dropped} outside); training needs at least 2.')
  held = holdout_mask(crcs, holdout_fraction, holdout_seed)
  train_specs, train_labels = specs[~held], labels[~held]
  held_waves, held_labels = waves[held], labels[held]
  del specs, waves
  print(f'Read {len(labels)} notes of {len(set(labels.tolist()))} pitches '
        f'from {name} in {time.time() - start:.0f} s'
        + (f' ({dropped} out of range dropped)' if dropped else '')
        + f'; holding out {int(held.sum())} (seeded {holdout_fraction:.0%}, '
        f'holdout_seed {holdout_seed}), training on {len(train_labels)}.',
        flush=True)
  model.build_variables()
  print(f'PitchClassifier width {model.width:g}: {model.count_params():,} '
        f'parameters, {model.feature_dim}-d features; {num_steps} steps of '
        f'{batch_size}.', flush=True)

  schedule = learning_rate
  if lr_schedule == 'cosine':
    schedule = keras.optimizers.schedules.CosineDecay(
        learning_rate, decay_steps=num_steps, alpha=0.05)
  optimizer = keras.optimizers.Adam(schedule, beta_1=adam_beta1)
  frames_per_second = model.sample_rate / model.hop
  max_shift = int(round(max_shift_seconds * frames_per_second))
  min_cut = int(round(truncate_min_seconds * frames_per_second))

  @tf.function
  def step(spec_batch, label_batch):
    x = tf.cast(spec_batch, tf.float32) / 255.0
    x = augment(x, max_shift, noise_floor_prob, noise_floor_db,
                truncate_prob, min_cut)
    with tf.GradientTape() as tape:
      logits = model.classify(x[..., tf.newaxis], training=True)['logits']
      loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(
          label_batch, logits))
    variables = model.trainable_variables
    optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
    correct = tf.cast(tf.argmax(logits, 1, output_type=tf.int32)
                      == label_batch, tf.float32)
    return loss, tf.reduce_mean(correct)

  rng = np.random.default_rng(seed)
  n = len(train_labels)
  order, pos = rng.permutation(n), 0
  window = []  # (loss, acc) since the last progress line
  train_start = last_line = time.time()
  done = 0
  for step_id in range(1, num_steps + 1):
    # Fixed-size batches (one trace): take what is left of this epoch's
    # order and continue with the next one.
    idx = []
    while len(idx) < batch_size:
      take = order[pos:pos + batch_size - len(idx)]
      idx.extend(take)
      pos += len(take)
      if pos >= n:
        order, pos = rng.permutation(n), 0
    loss, acc = step(tf.constant(train_specs[idx]),
                     tf.constant(train_labels[idx]))
    loss, acc = float(loss), float(acc)
    if not np.isfinite(loss):
      raise FloatingPointError(f'Non-finite loss at step {step_id}; nothing '
                               'was saved.')
    window.append((loss, acc))
    done = step_id
    now = time.time()
    if step_id == 1:
      # Speed counts from here: the first step also traced the function.
      clock = now
    out_of_time = (max_train_seconds is not None and
                   now - train_start >= max_train_seconds)
    if (now - last_line >= log_every_secs or step_id == num_steps or
        out_of_time):
      speed = (step_id - 1) * batch_size / max(now - clock, 1e-9)
      eta = (f'{(num_steps - step_id) * batch_size / speed / 60:.1f} min'
             if speed > 0 else '?')
      mean_loss, mean_acc = np.mean(window, axis=0)
      print(f'step {step_id}/{num_steps} | epoch {step_id * batch_size / n:.1f}'
            f' | loss {mean_loss:.3f} | train acc {mean_acc:.3f} | '
            f'{speed:.1f} notes/s | ETA {eta}', flush=True)
      window, last_line = [], now
    if eval_every_steps and step_id % eval_every_steps == 0 and (
        step_id != num_steps):
      probs, _ = classifier_lib.predict(model, held_waves)
      m = accuracies(probs, held_labels)
      print(f'  held-out at step {step_id}: accuracy {m["accuracy"]:.3f}, '
            f'within 1 semitone {m["accuracy_within_1_semitone"]:.3f}',
            flush=True)
    if out_of_time:
      print(f'Stopping after {step_id} steps: max_train_seconds='
            f'{max_train_seconds} reached.', flush=True)
      break
  train_seconds = time.time() - train_start

  probs, _ = classifier_lib.predict(model, held_waves)
  metrics = dict(accuracies(probs, held_labels),
                 held_out_notes=int(len(held_labels)),
                 held_out=(f'the {holdout_fraction:.0%} of notes with the '
                           f'smallest CRC-32 of their audio seeded by '
                           f'holdout_seed={holdout_seed}'),
                 train_notes=int(n), steps=int(done),
                 batch_size=int(batch_size),
                 train_seconds=round(train_seconds, 1),
                 final_train_loss=float(mean_loss),
                 final_train_accuracy=float(mean_acc))
  print(f'Held-out pitch accuracy ({len(held_labels)} notes): '
        f'{metrics["accuracy"]:.3f} exact, '
        f'{metrics["accuracy_within_1_semitone"]:.3f} within 1 semitone '
        f'(chance {1 / model.num_pitches:.3f}); trained {done} steps in '
        f'{train_seconds / 60:.1f} min.', flush=True)
  trained_on = training_data_summary(dataset, labels)
  trained_on.update(
      learning_rate=learning_rate, lr_schedule=lr_schedule,
      adam_beta1=adam_beta1, seed=seed,
      augmentation=dict(max_shift_seconds=max_shift_seconds,
                        noise_floor_prob=noise_floor_prob,
                        noise_floor_db=list(noise_floor_db),
                        truncate_prob=truncate_prob,
                        truncate_min_seconds=truncate_min_seconds),
      gin_config=gin.config_str())
  classifier_lib.save_classifier(model, output_dir, metrics, trained_on)
  return metrics


FLAGS = flags.FLAGS


def define_flags(flag_values=FLAGS):
  """The command-line flags; defined only by the CLI, so that importing this
  module beside train (which has its own --gin_file) does not clash.
  `flag_values`: where (tests parse into their own `flags.FlagValues`)."""
  flags.DEFINE_multi_string(
      'gin_file', [], f'gin config files, applied in order; default '
      f'{DEFAULT_GIN}.',
      flag_values=flag_values)
  flags.DEFINE_multi_string('gin_param', [], 'gin bindings applied after the '
                            "files, e.g. --gin_param='train_classifier."
                            "num_steps=100'.",
                            flag_values=flag_values)
  flags.DEFINE_string('output_dir', None, 'The classifier folder to write '
                      '(replaced if it holds an earlier classifier).',
                      flag_values=flag_values)




def main(argv, flag_values=FLAGS):
  """The CLI after flag parsing (`flag_values`: parsed flags, for tests)."""
  fv = flag_values
  if len(argv) > 1:
    print(f'ERROR: unexpected arguments {argv[1:]}; use --gin_param for '
          'bindings.', flush=True)
    raise SystemExit(2)
  if not fv.output_dir:
    print('ERROR: --output_dir is required (the classifier folder to write).',
          flush=True)
    raise SystemExit(2)
  tf.get_logger().setLevel('WARNING')
  try:
    gin_config.parse_gin(fv.gin_file or [DEFAULT_GIN], fv.gin_param)
    train_classifier(fv.output_dir)
  except (ValueError, OSError, RuntimeError, FloatingPointError,
          tf.errors.OpError) as e:
    # Bad input or a failed run: one clear line, no traceback.
    print(f'ERROR: {e}', flush=True)
    raise SystemExit(1) from None
  print(f'Saved {fv.output_dir}', flush=True)


def console_entry_point():
  define_flags()
  app.run(main)


if __name__ == '__main__':
  console_entry_point()
