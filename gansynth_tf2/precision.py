"""Reduced precision: the one `precision` setting of generate, export and train.

`fp32` (default) computes everything in float32, Magenta's numbers. `bf16` and
`fp16` run the networks under Keras' mixed policies (`mixed_bfloat16`,
`mixed_float16`): weights stay float32, convolutions and activations compute
in the 16-bit type, while the statistics (pixel norm's mean of squares, the
minibatch stddev: inside small XLA functions, so no float32 copy of a map
is made between convs; layers.py), the networks' outputs, the spectral
transforms and the losses stay float32. bf16 keeps float32's range (no loss scaling); fp16 has
three more mantissa bits but overflows past 65504, so training in fp16 scales
the losses (Keras' `LossScaleOptimizer`).

Where it pays: bf16 on CPUs with AMX / AVX512-BF16 (oneDNN) and on GPUs with
bf16 tensor cores (Ampere and later); fp16 on GPUs. A CPU without 16-bit
units (e.g. AVX2 only) emulates them and gains nothing: `tools/bench_*.py`
measure the bound per precision on the machine at hand.
"""

# precision name -> Keras dtype policy name
POLICIES = {'fp32': 'float32', 'bf16': 'mixed_bfloat16',
            'fp16': 'mixed_float16'}
PRECISIONS = tuple(POLICIES)


def check(precision, what='precision'):
  """Returns `precision` if known; else ValueError naming `what`."""
  if precision not in POLICIES:
    raise ValueError(f'{what} must be one of {"|".join(PRECISIONS)}, got '
                     f'{precision!r}')
  return precision


def check_exact(exact, jit_compile=False, precision='fp32', cli=False):
  """Refuses `exact` (Magenta's arithmetic) with XLA or 16 bits.

  Neither is Magenta's: XLA's kernels and 16-bit types round otherwise.
  `jit_compile`: load_model's argument (the CLIs' --xla). `cli`: name the
  command-line flags (--exact, --xla, --precision) in the error instead of
  load_model's arguments.
  """
  if not exact:
    return
  if jit_compile:
    raise ValueError(
        "--exact (Magenta's arithmetic) cannot be combined with --xla: XLA's "
        "kernels round otherwise than Magenta's; drop one of them" if cli else
        f"exact=True (Magenta's arithmetic) cannot be combined with "
        f"jit_compile={jit_compile!r}: XLA's kernels round otherwise than "
        'the TensorFlow kernels Magenta runs; drop one of them')
  if precision != 'fp32':
    raise ValueError(
        f"--exact (Magenta's arithmetic) needs --precision=fp32, got "
        f'{precision}' if cli else
        f"exact=True (Magenta's arithmetic) needs precision 'fp32', got "
        f'{precision!r}: Magenta computes in float32')


def policy(precision):
  """The Keras `DTypePolicy` of a precision name."""
  # Imported here: the CLIs check their flags before TensorFlow loads.
  import keras  # pylint: disable=import-outside-toplevel
  return keras.DTypePolicy(POLICIES[check(precision)])


def compute_dtype(precision):
  """'float32', 'bfloat16' or 'float16'."""
  return policy(precision).compute_dtype


def cast_network(network, precision):
  """`network` itself for fp32, else a copy computing in `precision`.

  Args:
    network: a `networks.Generator` or `networks.Discriminator`.
    precision: one of PRECISIONS.
  """
  if check(precision) == 'fp32' and network.dtype_policy.name == 'float32':
    return network
  return network.with_dtype(policy(precision))


def needs_loss_scaling(precision):
  """fp16 gradients underflow without it; bf16 has float32's exponent."""
  return check(precision) == 'fp16'


def audio_error(reference, test, n_fft=1024, hop_length=256, range_db=60.0):
  """How far 16-bit audio is from the float32 reference, per note.

  Args:
    reference, test: `[n, samples]` float waves (same z and pitches).
    n_fft, hop_length: STFT of the comparison.
    range_db: bins within this many dB of the reference note's peak count
      (quieter bins are inaudible and their dB error meaningless).

  Returns:
    dict of `[n]` arrays: 'db' the mean |log-magnitude difference| in dB over
    those bins, 'snr' the waveform SNR in dB (reference energy over
    difference energy; phase drift lowers it although the ear may not hear
    it, hence both).
  """
  import librosa  # pylint: disable=import-outside-toplevel
  import numpy as np  # pylint: disable=import-outside-toplevel
  reference = np.asarray(reference, np.float32)
  test = np.asarray(test, np.float32)
  db_errors, snrs = [], []
  for ref, out in zip(reference, test):
    mag_ref = np.abs(librosa.stft(ref, n_fft=n_fft, hop_length=hop_length))
    mag_out = np.abs(librosa.stft(out, n_fft=n_fft, hop_length=hop_length))
    floor = 1e-5 * max(mag_ref.max(), 1e-12)
    db_ref = 20 * np.log10(mag_ref + floor)
    db_out = 20 * np.log10(mag_out + floor)
    audible = db_ref > db_ref.max() - range_db
    db_errors.append(float(np.mean(np.abs(db_ref - db_out)[audible])))
    noise = np.sum((ref - out).astype(np.float64)**2)
    snrs.append(float(10 * np.log10(np.sum(ref.astype(np.float64)**2) /
                                    max(noise, 1e-30))))
  return {'db': np.array(db_errors), 'snr': np.array(snrs)}


# /proc/cpuinfo flags of native 16-bit arithmetic that oneDNN's convs use.
# Not avx512_fp16 alone: on the AMX Xeon (amx_bf16 and avx512_fp16, no
# amx_fp16; TF 2.21, 2026-12-06) oneDNN's fp16 3x3 conv ran at 182 GFLOP/s
# against fp32's 303, and fp16 generation took 0.98 s per batch of 8 against
# fp32's 0.91 s.
CPU_FLAGS = {'bf16': ('amx_bf16', 'avx512_bf16'),
             'fp16': ('amx_fp16',)}


def cpu_flags(cpuinfo='/proc/cpuinfo'):
  """The CPU's feature flags (an empty set where /proc/cpuinfo is absent)."""
  try:
    with open(cpuinfo) as f:
      for line in f:
        if line.startswith('flags'):
          return set(line.split(':', 1)[1].split())
  except OSError:
    pass
  return set()


def _has_gpu(has_gpu=None):
  """`has_gpu` as given (tests), else whether TF sees a GPU."""
  if has_gpu is None:
    import tensorflow as tf  # pylint: disable=import-outside-toplevel
    return bool(tf.config.list_physical_devices('GPU'))
  return has_gpu


def emulation_warning(precision, flags=None, has_gpu=None):
  """A warning line when `precision` has no units here, else None.

  A CPU without bf16 / fp16 units (e.g. AVX2 only) emulates the 16-bit type
  and runs slower than fp32 (measured on an AVX2 EPYC: cpu_small training
  step 3.79 s in bf16 vs 0.435 s in fp32). Decided by the CPU's flags, not by
  timing. `flags`, `has_gpu`: the machine's (read when None; for tests).
  """
  if check(precision) == 'fp32':
    return None
  if _has_gpu(has_gpu):
    return None
  flags = cpu_flags() if flags is None else set(flags)
  wanted = CPU_FLAGS[precision]
  if flags & set(wanted):
    return None
  return (f'WARNING: precision {precision} asked, but this CPU has no '
          f'{precision} units that TensorFlow\'s convolutions use (none of '
          f'the flags {", ".join(wanted)}): {precision} is slower than fp32 '
          'here. Use fp32 on this machine.')


def warn_if_emulated(precision):
  """Prints `emulation_warning(precision)` where there is one (load_model
  and train call this once, before any work)."""
  warning = emulation_warning(precision)
  if warning:
    print(warning, flush=True)


def auto_jit_compile(flags=None, has_gpu=None):
  """What `load_model(..., jit_compile='auto')` / `generate --xla=auto` pick
  on this machine, from its features (deterministic, never by timing).

  Measured (full-size generator, batch 8, docs/performance.md): on a CPU
  without AVX-512 (a 2-core AVX2 EPYC) the XLA-compiled generator is the
  fastest (2.34x Magenta's notes/s, 1.40x without XLA); on CPUs with AVX-512
  (the AMX Xeon) oneDNN's convs beat XLA's in fp32 and bf16, so no XLA. A
  GPU gets the XLA generator (XLA's fusions; not measured here). `flags`,
  `has_gpu`: the machine's (read when None; for tests).

  Returns:
    (False or 'generator', the reason in words).
  """
  if _has_gpu(has_gpu):
    return 'generator', 'a GPU: the XLA-compiled generator'
  flags = cpu_flags() if flags is None else set(flags)
  if 'avx512f' in flags:
    return False, ('a CPU with AVX-512: oneDNN\'s convs, faster than XLA\'s '
                   'here')
  return 'generator', ('a CPU without AVX-512: the XLA-compiled generator, '
                       'faster than oneDNN\'s convs here')
