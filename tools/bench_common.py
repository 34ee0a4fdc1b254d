"""What the benchmarks share: Magenta's baseline in a second interpreter, the roofline.

`run_magenta(python, script, args)` runs one of the `tools/magenta_bench_*.py`
scripts with an interpreter that can import Magenta (made as
`../shared/oracle/magenta_env.sh` describes: TensorFlow 2.21, tf_keras,
magenta 2.1.4 without its pins) and returns the JSON object the script prints
on its last line. Ours and Magenta's are timed in one invocation, one after the
other, so that their ratio is measured on the same machine in the same state.

`measure_roofline(dtypes)` times this machine's 3x3 convolution on the
generator's two largest shapes (batch 8: 64x512 with 64 -> 64 channels and
128x1024 with 32 -> 32) with oneDNN and with XLA, and returns the best
GFLOP/s per dtype: the arithmetic rate no full-size generator can beat here,
since ~98% of its FLOPs are such convolutions.
"""

import json
import os
import re
import subprocess
import sys
import time

import numpy as np
import tensorflow as tf

TOOLS = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(TOOLS)
# Where Magenta's oracle harness (oracle_setup.py) lives in this workplace.
DEFAULT_ORACLE_DIR = os.path.join(ROOT, '..', 'shared', 'oracle')

ROOFLINE_SHAPES = ((8, 64, 512, 64, 64), (8, 128, 1024, 32, 32))


class MagentaError(RuntimeError):
  """The Magenta baseline did not run."""


def check_magenta_python(python):
  """Clear error when --magenta_python is not an interpreter with Magenta."""
  if not os.path.isfile(python) or not os.access(python, os.X_OK):
    raise MagentaError(
        f'--magenta_python={python}: not an executable file; expected a '
        'Python interpreter with Magenta 2.1.4 installed (see '
        '../shared/oracle/magenta_env.sh)')


def run_magenta(python, script, args=(), timeout=3600):
  """Runs tools/<script> with Magenta's interpreter; returns its JSON result.

  Args:
    python: path of the interpreter that imports Magenta.
    script: file name in tools/, e.g. 'magenta_bench_generate.py'.
    args: command-line arguments for the script.
    timeout: seconds.

  Returns:
    The dict the script printed as the last line of its stdout.

  Raises:
    MagentaError: with the script's stderr tail when it failed.
  """
  check_magenta_python(python)
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL='3', TF_USE_LEGACY_KERAS='1')
  # Our package must not shadow anything in Magenta's process.
  env.pop('PYTHONPATH', None)
  cmd = [python, os.path.join(TOOLS, script), *map(str, args)]
  proc = subprocess.run(cmd, capture_output=True, text=True, env=env,
                        timeout=timeout, check=False)
  lines = [l for l in proc.stdout.splitlines() if l.startswith('{')]
  if proc.returncode or not lines:
    tail = '\n'.join(proc.stderr.strip().splitlines()[-15:])
    raise MagentaError(f'{" ".join(cmd)} failed (exit {proc.returncode}):\n'
                       f'{tail}')
  return json.loads(lines[-1])


def median_seconds(fn, repeats, warmup=1):
  """Median wall time of fn() (its result forced to numpy) after warm-ups."""
  for _ in range(warmup):
    _force(fn())
  times = []
  for _ in range(repeats):
    start = time.perf_counter()
    _force(fn())
    times.append(time.perf_counter() - start)
  return float(np.median(times))


def _force(result):
  for t in tf.nest.flatten(result):
    np.asarray(t)


def conv_gflops(b, h, w, cin, cout, dtype, jit_compile, repeats=3):
  """GFLOP/s of one SAME 3x3 conv `[b, h, w, cin] -> [b, h, w, cout]`."""
  x = tf.cast(tf.random.normal([b, h, w, cin]), dtype)
  k = tf.cast(tf.random.normal([3, 3, cin, cout]) * 0.1, dtype)
  conv = tf.function(lambda x, k: tf.nn.conv2d(x, k, 1, 'SAME'),
                     jit_compile=jit_compile)
  seconds = min(median_seconds(lambda: conv(x, k), 1) for _ in range(repeats))
  return 2.0 * b * h * w * cin * cout * 9 / seconds / 1e9


def measure_roofline(dtypes=('float32',)):
  """Best 3x3-conv GFLOP/s per dtype on the generator's largest shapes.

  Returns:
    {dtype: {'gflops': best, 'detail': {'oneDNN 64x512x64': ..., ...}}}.
  """
  result = {}
  for dtype in dtypes:
    detail = {}
    for b, h, w, cin, cout in ROOFLINE_SHAPES:
      for jit in (False, True):
        name = f'{"XLA" if jit else "oneDNN"} {h}x{w}x{cin}'
        try:
          detail[name] = conv_gflops(b, h, w, cin, cout, tf.as_dtype(dtype),
                                     jit)
        except Exception:  # pylint: disable=broad-except
          detail[name] = float('nan')  # e.g. no XLA kernel for this dtype
    best = max(v for v in detail.values() if np.isfinite(v))
    result[dtype] = {'gflops': best, 'detail': detail}
  return result


def roofline_again(roofline, rates):
  """Measures the roofline again (after a table) and returns a line with
  both measurements and each rate's fraction of the higher one.

  A 2-core VM's conv rate drifts by 5-10% within minutes (measured: the bf16
  roofline 1,496-1,663 GFLOP/s over five runs in 12 s), so a fraction of one
  measurement taken before the table can flatter or wrong the rows; the
  higher of two is the conservative bound.

  Args:
    roofline: `measure_roofline`'s result from before the table.
    rates: [(label, dtype, GFLOP/s)] of the rows to restate.
  """
  again = measure_roofline(list(roofline))
  parts = []
  for dtype in roofline:
    parts.append(f'{dtype} {roofline[dtype]["gflops"]:.0f} before, '
                 f'{again[dtype]["gflops"]:.0f} after')
  fractions = []
  for label, dtype, rate in rates:
    best = max(roofline[dtype]['gflops'], again[dtype]['gflops'])
    fractions.append(f'{label} {rate / best:.0%}')
  return (f'roofline measured again after the table: {"; ".join(parts)}. '
          f'Of the higher: {", ".join(fractions)}')


def peak_rss_mib():
  """This process's peak resident memory so far (Linux ru_maxrss), MiB."""
  import resource  # pylint: disable=import-outside-toplevel
  return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure_bandwidth(mib=256, repeats=3):
  """This machine's memory bandwidth (GB/s) for TF: `x * 2` on `mib` MiB.

  Counts bytes read plus written: the rate a memory-bound transform (the
  spectral ones: FFTs, elementwise maps) cannot beat.
  """
  x = tf.random.uniform([mib * 2**18])
  double = tf.function(lambda x: x * 2.0)
  seconds = min(median_seconds(lambda: double(x), 1) for _ in range(repeats))
  return 2 * x.shape[0] * 4 / seconds / 1e9


def graph_flops(fn, *args):
  """Float ops of fn traced at `args` (TensorSpecs or tensors; TF profiler:
  counts matmuls and convs, not FFTs). `fn`: a tf.function (traced as it
  is, its own body counted) or a Python function. None when the profiler
  cannot tell."""
  if not hasattr(fn, 'get_concrete_function'):
    fn = tf.function(fn)
  try:
    graph = fn.get_concrete_function(*args).graph
    opts = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
    opts['output'] = 'none'
    return tf.compat.v1.profiler.profile(graph=graph,
                                         options=opts).total_float_ops
  except Exception:  # pylint: disable=broad-except
    return None


# A TF kernel's event in the profiler's host plane: "scope/op_name:OpType".
_OP_EVENT = re.compile(r'[^\s:]+:([A-Za-z_0-9]+)')
# One XLA executable's run (its fusions are events nested inside it).
_XLA_EVENT = 'CpuExecutable::ExecuteAsyncOnStream'
# Where the 16-bit non-conv share should stay (issue 26: the generator and
# the step at >= 50% of the conv roofline leave at most half to the rest).
NON_CONV_BOUND = 0.5


def op_profile(fn, logdir=None, warmup=1):
  """Where one call of `fn` spends its kernel time (TF profiler).

  Returns {'conv': s, 'xla': s, 'other': {op type: s}, 'total': s,
  'non_conv': share}: conv = every oneDNN / TF convolution kernel (fused
  forms and backprops included), xla = the XLA functions (the 16-bit pixel
  norms' and minibatch stddev's fusions), other = the remaining TF kernels
  by type. Kernel seconds summed over threads, so 'total' can exceed the
  wall time; the shares are what matters. `fn` is run `warmup` times
  before (0 when the caller has already run it: a full-size training step
  takes seconds).
  """
  import glob  # pylint: disable=import-outside-toplevel
  import tempfile  # pylint: disable=import-outside-toplevel
  from tensorflow.tsl.profiler.protobuf import xplane_pb2  # pylint: disable=import-outside-toplevel,g-direct-tensorflow-import
  for _ in range(warmup):
    _force(fn())
  with tempfile.TemporaryDirectory() as tmp:
    logdir = logdir or tmp
    tf.profiler.experimental.start(logdir)
    try:
      _force(fn())
    finally:
      tf.profiler.experimental.stop()
    paths = sorted(glob.glob(os.path.join(logdir, '**', '*.xplane.pb'),
                             recursive=True))
    space = xplane_pb2.XSpace()
    with open(paths[-1], 'rb') as f:
      space.ParseFromString(f.read())
  conv = xla = 0.0
  other = {}
  for plane in space.planes:
    if not plane.name.startswith('/host:CPU'):
      continue
    for line in plane.lines:
      for event in line.events:
        name = plane.event_metadata[event.metadata_id].name
        seconds = event.duration_ps / 1e12
        if name == _XLA_EVENT:
          xla += seconds
          continue
        match = _OP_EVENT.fullmatch(name)
        if not match:
          continue  # the executor's and Python's own spans
        if 'Conv2D' in match.group(1):
          conv += seconds
        else:
          other[match.group(1)] = other.get(match.group(1), 0.0) + seconds
  total = conv + xla + sum(other.values())
  return {'conv': conv, 'xla': xla, 'other': other, 'total': total,
          'non_conv': 1.0 - conv / total if total else float('nan')}


def describe_profile(profile, top=4):
  """One line: the non-conv share against NON_CONV_BOUND and its biggest
  parts."""
  total = profile['total']
  parts = dict(profile['other'], **({'XLA fusions': profile['xla']}
                                    if profile['xla'] else {}))
  biggest = sorted(parts.items(), key=lambda kv: -kv[1])[:top]
  verdict = ('within' if profile['non_conv'] <= NON_CONV_BOUND else 'OVER')
  return (f'non-conv {profile["non_conv"]:.0%} of kernel time ({verdict} the '
          f'{NON_CONV_BOUND:.0%} bound; convs {profile["conv"]:.3f} s of '
          f'{total:.3f} s): ' +
          ', '.join(f'{k} {v / total:.0%}' for k, v in biggest))


def cpu_name():
  """The processor's model name (Linux), for the tables' headers."""
  try:
    with open('/proc/cpuinfo') as f:
      for line in f:
        if line.startswith('model name'):
          return line.split(':', 1)[1].strip()
  except OSError:
    pass
  return 'unknown CPU'


def cpu_features():
  """The matrix / vector units that matter for fp32 and bf16 here."""
  try:
    with open('/proc/cpuinfo') as f:
      flags = next((l.split(':', 1)[1].split() for l in f
                    if l.startswith('flags')), [])
  except OSError:
    flags = []
  wanted = ('avx2', 'avx512f', 'avx512_bf16', 'avx512_fp16', 'amx_bf16',
            'amx_fp16')
  return [f for f in wanted if f in flags] or ['none of avx2/avx512/amx']


def machine_line():
  """One header line naming the machine the numbers come from."""
  gpus = tf.config.list_physical_devices('GPU')
  return (f'{cpu_name()} ({os.cpu_count()} cores; '
          f'{", ".join(cpu_features())}); '
          f'{len(gpus)} GPU; TF {tf.__version__}; Python '
          f'{sys.version.split()[0]}')
