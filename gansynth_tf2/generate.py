r"""Generate audio from a GANSynth checkpoint (ours or Magenta's).

Random notes (Magenta's default):
  python -m gansynth_tf2.generate --ckpt_dir=DIR --output_dir=OUT \
      [--n=8] [--pitches=60,64,C5] [--seed=0] [--batch_size=8]
Play a MIDI file, instruments interpolated over time:
  python -m gansynth_tf2.generate --ckpt_dir=DIR --output_dir=OUT \
      --midi_file=song.mid [--secs_per_instrument=6] [--z_file=OUT0/z.npy] \
      [--max_midi_seconds=600]
One timbre across pitches, and a morph between two timbres:
  python -m gansynth_tf2.generate ... --timbre_sweep [--pitches=36,48,60]
  python -m gansynth_tf2.generate ... --interpolate=8 [--pitches=60]
Any mode, timbres moved along the model's latent directions (latents.py):
  python -m gansynth_tf2.generate ... --edit=1:+2.0,2:-1.0

Every run writes 16 kHz float WAVs, a PNG per clip (log-magnitude
spectrogram; with a piano roll above it for clips of several notes),
`z.npy` (the latent vectors used, reusable as --z_file) and `generated.json`
(what was generated, from which checkpoint, with which seed). Output is
written to a temporary folder beside OUT and moved into place at the end, so
a failed run leaves nothing behind; an --output_dir that cannot be written
is refused before the model loads. A MIDI file is rendered with memory
bounded by --batch_size (notes generated and mixed in batches, the WAV
written streamed, a progress line); files longer than --max_midi_seconds
(default 600) are refused.

This module is the command line (flags, `main`); the modes are in
generate_modes.py, re-exported here (`generate.run`, `generate.synthesize`,
...); the files are written by writers.py.
"""

import sys

from absl import app
from absl import flags

# The modes, re-exported: callers know them as generate.run etc.
# pylint: disable=unused-import
from gansynth_tf2 import precision as precision_lib
from gansynth_tf2.generate_modes import check_output_dir
from gansynth_tf2.generate_modes import load_z_file
from gansynth_tf2.generate_modes import MAX_MIDI_SECONDS
from gansynth_tf2.generate_modes import MIDDLE_C
from gansynth_tf2.generate_modes import parse_pitches
from gansynth_tf2.generate_modes import resolve_seed
from gansynth_tf2.generate_modes import run
from gansynth_tf2.generate_modes import SUMMARY_NOTE_SECS
from gansynth_tf2.generate_modes import summary_notes
from gansynth_tf2.generate_modes import synthesize
# pylint: enable=unused-import

FLAGS = flags.FLAGS


class _XlaParser(flags.BooleanParser):
  """--xla: a boolean flag (--xla, --noxla, --xla=true) that also takes
  'auto'."""

  def parse(self, argument):
    if isinstance(argument, str) and argument.lower() == 'auto':
      return 'auto'
    try:
      return super().parse(argument)
    except ValueError:
      raise ValueError(f'expected true, false or auto, got {argument!r}')  # pylint: disable=raise-missing-from

  def flag_type(self):
    return 'bool or auto'


def define_flags(flag_values=FLAGS):
  """The command-line flags; defined only by the CLI so that importing this
  module beside another absl program does not clash. `flag_values`: where
  (tests parse into their own `flags.FlagValues`)."""
  flags.DEFINE_string(
      'ckpt_dir', None, 'Checkpoint directory: ours (a training directory) '
      "or Magenta's (experiment.json + stage_000NN/).",
      flag_values=flag_values)
  flags.DEFINE_string(
      'output_dir', None, 'Directory for the WAVs, PNGs and JSON; must not '
      'exist or be empty unless --overwrite.',
      flag_values=flag_values)
  flags.DEFINE_list(
      'pitches', None, 'MIDI pitches (numbers or names like C4, F#3). Random '
      "notes: the notes' pitches (cycled to --n; default: sampled from the "
      'training pitch distribution). --timbre_sweep: the pitches swept '
      "(default: all the model's pitches). --interpolate: one pitch "
      '(default 60).',
      flag_values=flag_values)
  flags.DEFINE_integer(
      'n', None, 'Number of random notes (default: len(--pitches), else '
      '--batch_size).',
      flag_values=flag_values)
  flags.DEFINE_integer(
      'seed', None, 'Seed of the latent vectors and sampled pitches '
      '(default: drawn at random and written to generated.json).',
      flag_values=flag_values)
  flags.DEFINE_integer('batch_size', 8, 'Notes generated per forward pass.',
      flag_values=flag_values)
  flags.DEFINE_string(
      'midi_file', None, "A MIDI file to play: every pitched track, notes in "
      "the model's pitch range.",
      flag_values=flag_values)
  flags.DEFINE_float(
      'max_midi_seconds', MAX_MIDI_SECONDS, 'With --midi_file: refuse a file '
      'longer than this (seconds) before any work. Memory stays bounded by '
      '--batch_size at any length; time and a temporary mix file (8 bytes a '
      'sample, ~77 MB per 10 min) grow with it.',
      flag_values=flag_values)
  flags.DEFINE_float(
      'secs_per_instrument', 6.0, 'With --midi_file: seconds between latent '
      'vectors; notes in between get a slerp of the two around them.',
      flag_values=flag_values)
  flags.DEFINE_string(
      'z_file', None, 'A .npy of latent vectors [k, latent_size] to use '
      'instead of random ones (e.g. the z.npy of an earlier run). '
      '--midi_file: the k instruments, spread over the clip; --timbre_sweep: '
      '1 vector; --interpolate: 2 vectors; random notes: one per note.',
      flag_values=flag_values)
  flags.DEFINE_boolean(
      'timbre_sweep', False, 'Play one latent vector across pitches '
      '(consistent timbre).',
      flag_values=flag_values)
  flags.DEFINE_integer(
      'interpolate', 0, 'If > 1: this many slerp steps between two latent '
      'vectors at one pitch.',
      flag_values=flag_values)
  flags.DEFINE_boolean(
      'use_ema', True, "Use the generator's exponential moving average "
      'weights (what Magenta generates with).',
      flag_values=flag_values)
  flags.DEFINE_enum(
      'precision', 'fp32', list(precision_lib.PRECISIONS),
      "Compute type of the generator: fp32 (Magenta's numbers) or 16-bit "
      '(faster where the hardware has 16-bit units; see '
      'docs/performance.md).',
      flag_values=flag_values)
  flags.DEFINE_flag(flags.Flag(
      _XlaParser(), None, 'xla', False,
      'Compile the generator with XLA: faster on CPUs without AVX-512 (1.7x '
      'on a 2-core AVX2 EPYC), slower on the AMX Xeon; rounds otherwise than '
      'the default kernels (~1e-4 of peak); the first batch pays the '
      'compilation. --xla=auto picks XLA or not from this machine\'s '
      'features (see docs/performance.md).', boolean=True),
      flag_values=flag_values)
  flags.DEFINE_boolean(
      'exact', False, "Magenta's arithmetic: the literal upscale + conv "
      '(no sub-pixel folding), TensorFlow\'s kernels, float32: bit for bit '
      "what Magenta's graph computes from the same weights (the default "
      "rounds otherwise: ~3e-4 of the audio's peak on a full-size "
      'checkpoint); slower. Not with --xla or 16-bit --precision.',
      flag_values=flag_values)
  flags.DEFINE_string(
      'edit', None, "Move every latent along the model's latent directions "
      "first: --edit=1:+2.0,2:-1.0 (direction 1 = PC1, amounts in standard "
      'deviations, sensible within +-3; the directions and their labels are '
      "the checkpoint folder's directions.npz, fitted by python -m "
      'gansynth_tf2.latents). Every mode; z.npy keeps the unedited latents.',
      flag_values=flag_values)
  flags.DEFINE_boolean('png', True, 'Also write a spectrogram PNG per clip.',
      flag_values=flag_values)
  flags.DEFINE_boolean(
      'overwrite', False, 'Allow a non-empty --output_dir; files of the same '
      'name are replaced.',
      flag_values=flag_values)
  flags.mark_flags_as_required(['ckpt_dir', 'output_dir'],
                               flag_values=flag_values)


def main(argv, flag_values=FLAGS):
  """The CLI after flag parsing (`flag_values`: parsed flags, for tests)."""
  if len(argv) > 1:
    raise app.UsageError(f'unexpected arguments: {argv[1:]}')
  try:
    fv = flag_values
    meta = run(fv.ckpt_dir, fv.output_dir, n=fv.n, pitches=fv.pitches,
               seed=fv.seed, batch_size=fv.batch_size, midi_file=fv.midi_file,
               secs_per_instrument=fv.secs_per_instrument, z_file=fv.z_file,
               timbre_sweep=fv.timbre_sweep, interpolate=fv.interpolate,
               use_ema=fv.use_ema, png=fv.png, overwrite=fv.overwrite,
               progress=None, precision=fv.precision, xla=fv.xla,
               exact=fv.exact, max_midi_seconds=fv.max_midi_seconds,
               edit=fv.edit)
  except (ValueError, FileNotFoundError, FileExistsError) as e:
    # Bad input: one clear line, no traceback.
    sys.exit(f'gansynth_tf2.generate: error: {e}')
  count = len(meta['files']) + (1 if 'summary' in meta else 0)
  print(f'wrote {count} clips to {flag_values.output_dir} '
        f'(seed {meta["seed"]})')


def console_entry_point():
  define_flags()
  app.run(main)


if __name__ == '__main__':
  console_entry_point()
