"""Inversion against the best-of-random baseline users use today (issue 23).

  python tools/bench_invert.py [--ckpt_dir=models/cpu_small] [--generated=16]
      [--real=16] [--num_random=1000] [--output=bench_invert.json]

Two sets of notes, each inverted with `inversion.invert` (its defaults
unless flags say otherwise), all notes of a set in one batched call:
  * generated: notes the model made from latents drawn here (seed 10_000 +,
    never the inversion's own random latents, seed 0), at trained pitches;
    targets: log-mel distance <= 0.5x the best of --num_random random
    latents, and the note regenerated from the found z within 0.5 semitone
    (pYIN) of the asked pitch;
  * real: soundfont notes (fluidsynth, the GM soundfont setup.sh installs)
    of programs outside the model's training set (the default dataset
    trains on 0, 24, 40, 73), at trained pitches; target: below the
    baseline for >= 80% of them;
and the time per note (target <= 60 s on 2 CPU cores). Prints the machine,
a row per note and the summary against the targets.
"""

import json
import os
import sys
import time

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

from absl import app  # noqa: E402
from absl import flags  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_common  # noqa: E402  pylint: disable=wrong-import-position

from gansynth_tf2 import inversion  # noqa: E402
from gansynth_tf2 import metrics  # noqa: E402
from gansynth_tf2 import model as model_lib  # noqa: E402
from gansynth_tf2.data import soundfont  # noqa: E402

# Trumpet, vibraphone, oboe, church organ, acoustic bass, harpsichord,
# choir aahs, sawtooth lead: eight families none of which the model heard.
UNSEEN_PROGRAMS = (56, 11, 68, 19, 32, 6, 52, 81)

flags.DEFINE_string('ckpt_dir', os.path.join(bench_common.ROOT, 'models',
                                             'cpu_small'), 'Model to invert.')
flags.DEFINE_integer('generated', 16, 'Generated notes.')
flags.DEFINE_integer('real', 16, 'Soundfont notes of unseen programs.')
flags.DEFINE_integer('num_random', inversion.NUM_RANDOM,
                     'Random latents of the baseline.')
flags.DEFINE_integer('num_starts', inversion.NUM_STARTS, 'Starts per note.')
flags.DEFINE_list('steps', [str(s) for s in inversion.STEPS],
                  'Adam steps of the two phases.')
flags.DEFINE_string('output', None, 'Also write the rows as JSON here.')
FLAGS = flags.FLAGS


def generated_set(model, count):
  trained = inversion.trained_pitches(model)
  rng = np.random.RandomState(10_000)
  pitches = rng.choice(trained, count)
  z = rng.standard_normal([count, model.latent_size]).astype(np.float32)
  return model.generate_from_z(z, pitches), pitches, [
      f'generated #{i}' for i in range(count)]


def real_set(model, count):
  trained = [p for p in inversion.trained_pitches(model) if 42 <= p <= 78]
  sf2 = soundfont.find_soundfont()
  rng = np.random.RandomState(20_000)
  waves, pitches, names = [], [], []
  for i in range(count):
    program = UNSEEN_PROGRAMS[i % len(UNSEEN_PROGRAMS)]
    pitch = int(rng.choice(trained))
    wave = soundfont.render_notes(sf2, program, [pitch], 100,
                                  sample_rate=model.sample_rate,
                                  audio_length=model.audio_length)[0]
    waves.append(wave)
    pitches.append(pitch)
    names.append(f'GM {program:3d} {soundfont.instrument_str(program)}')
  return np.stack(waves), np.array(pitches), names


def invert_set(model, waves, pitches):
  start = time.time()
  last = [0.0]

  def progress(done, total, what):
    if time.time() - last[0] > 30 or done == total:
      last[0] = time.time()
      print(f'  {what}: {done}/{total} ({time.time() - start:.0f} s)',
            flush=True)

  found = inversion.invert(
      model, waves, pitches, num_random=FLAGS.num_random,
      num_starts=FLAGS.num_starts, steps=tuple(int(s) for s in FLAGS.steps),
      progress=progress)
  return found, (time.time() - start) / len(waves)


def main(argv):
  del argv
  print(bench_common.machine_line())
  model = model_lib.load_model(FLAGS.ckpt_dir)
  print(f'model {FLAGS.ckpt_dir}: {model.audio_length / model.sample_rate:.2f}'
        f' s notes, latent {model.latent_size}; baseline: best of '
        f'{FLAGS.num_random} random latents; inversion: {FLAGS.num_starts} '
        f'starts, steps {FLAGS.steps}')
  rows, summary = [], {}
  sets = [('generated', generated_set, FLAGS.generated),
          ('real', real_set, FLAGS.real)]
  for kind, make, count in sets:
    if not count:
      continue
    waves, pitches, names = make(model, count)
    print(f'{kind}: {count} notes', flush=True)
    found, seconds = invert_set(model, waves, pitches)
    heard = metrics.pyin_midi(found.reconstructions, model.sample_rate,
                              start_s=0.05, end_s=min(2.0, model.audio_length
                                                      / model.sample_rate))
    # The target's own pitch: where pYIN cannot hear the asked pitch in the
    # target (the model's roughest low notes), the regenerated note cannot
    # be blamed for it.
    heard_target = metrics.pyin_midi(
        waves, model.sample_rate, start_s=0.05,
        end_s=min(2.0, model.audio_length / model.sample_rate))
    ratio = found.distance_db / found.baseline_db
    print(f'| {kind} note | pitch | inverted dB | best-of-{FLAGS.num_random} '
          'dB | ratio | pYIN of regenerated | pYIN of target |')
    print('|---|---|---|---|---|---|---|')
    for i in range(count):
      print(f'| {names[i]} | {pitches[i]} | {found.distance_db[i]:.2f} | '
            f'{found.baseline_db[i]:.2f} | {ratio[i]:.2f} | {heard[i]:.2f} | '
            f'{heard_target[i]:.2f} |')
      rows.append(dict(set=kind, name=names[i], pitch=int(pitches[i]),
                       distance_db=float(found.distance_db[i]),
                       baseline_db=float(found.baseline_db[i]),
                       ratio=float(ratio[i]), pyin=float(heard[i]),
                       pyin_target=float(heard_target[i])))
    in_tune = np.abs(heard - pitches) <= 0.5
    target_in_tune = np.abs(heard_target - pitches) <= 0.5
    summary[kind] = dict(
        median_ratio=float(np.median(ratio)),
        mean_ratio=float(np.mean(ratio)),
        at_most_half=int(np.sum(ratio <= 0.5)),
        below_baseline=int(np.sum(found.distance_db < found.baseline_db)),
        in_tune=int(np.sum(in_tune)),
        in_tune_where_target_is=int(np.sum(in_tune & target_in_tune)),
        targets_in_tune=int(np.sum(target_in_tune)), count=count,
        seconds_per_note=float(seconds))
    s = summary[kind]
    print(f'{kind}: ratio median {s["median_ratio"]:.2f}, mean '
          f'{s["mean_ratio"]:.2f}; <= 0.5x baseline: {s["at_most_half"]}/'
          f'{count}; below baseline: {s["below_baseline"]}/{count}; '
          f'regenerated within 0.5 semitone: {s["in_tune"]}/{count} '
          f'({s["in_tune_where_target_is"]} of the {s["targets_in_tune"]} '
          'targets pYIN hears in tune); '
          f'{seconds:.1f} s per note', flush=True)
  if 'generated' in summary:
    s = summary['generated']
    print(f'target generated: median ratio <= 0.5 -> '
          f'{"met" if s["median_ratio"] <= 0.5 else "NOT met"} '
          f'({s["at_most_half"]}/{s["count"]} notes at <= 0.5x)')
  if 'real' in summary:
    s = summary['real']
    share = s['below_baseline'] / s['count']
    print(f'target real: >= 80% below baseline -> '
          f'{"met" if share >= 0.8 else "NOT met"} ({100 * share:.0f}%)')
  if FLAGS.output:
    with open(FLAGS.output, 'w') as f:
      json.dump(dict(machine=bench_common.machine_line(), rows=rows,
                     summary=summary), f, indent=2)


if __name__ == '__main__':
  app.run(main)
