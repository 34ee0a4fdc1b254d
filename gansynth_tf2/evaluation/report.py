"""The table's rows named, and written as Markdown and JSON."""
import collections
import json
import math
import os

import numpy as np

REAL_ROW = 'real data'
# The keys every row has (the paper's Table 1 columns).
METRIC_KEYS = ('IS', 'FID', 'PA', 'PE', 'NDB', 'NDB_fraction')


def row_names(ckpt_dirs):
  """Unique row names: folder basenames, with parents or numbers if equal."""
  paths = [os.path.abspath(os.fspath(d)).rstrip('/') for d in ckpt_dirs]
  base_names = [os.path.basename(p) for p in paths]
  names = [
      os.path.join(os.path.basename(os.path.dirname(p)), b)
      if base_names.count(b) > 1 or b == REAL_ROW else b
      for p, b in zip(paths, base_names)]
  seen = collections.Counter()
  numbered = []
  for name in names:
    seen[name] += 1
    numbered.append(f'{name} #{seen[name]}' if names.count(name) > 1 else name)
  return numbered


def json_ready(value):
  """numpy scalars -> Python; NaN/Inf -> None (JSON has no NaN)."""
  if isinstance(value, dict):
    return {k: json_ready(v) for k, v in value.items()}
  if isinstance(value, (list, tuple)):
    return [json_ready(v) for v in value]
  if isinstance(value, np.generic):
    value = value.item()
  if isinstance(value, float) and not math.isfinite(value):
    return None
  return value


def markdown_table(results):
  """Table 1 style: Model | IS | FID | PA | PE | NDB | NDB frac (| pYIN PA)."""
  columns = [('IS', '{:.2f}'), ('FID', '{:.2f}'), ('PA', '{:.3f}'),
             ('PE', '{:.3f}'), ('NDB', '{:d}'), ('NDB_fraction', '{:.3f}')]
  headers = ['Model', 'IS', 'FID', 'PA', 'PE', 'NDB', 'NDB frac']
  if results.get('pyin'):
    columns.append(('pyin_PA', '{:.3f}'))
    headers.append('pYIN PA')
  lines = ['| ' + ' | '.join(headers) + ' |',
           '|' + '---|' + '---:|' * (len(headers) - 1)]
  for name, row in results['rows'].items():
    cells = [name] + ['-' if row.get(key) is None else fmt.format(row[key])
                      for key, fmt in columns]
    lines.append('| ' + ' | '.join(cells) + ' |')
  return '\n'.join(lines)


def write_json(path, results):
  """Writes the results atomically (temporary file, then rename)."""
  from gansynth_tf2 import files  # pylint: disable=import-outside-toplevel
  parent = os.path.dirname(os.path.abspath(path))
  os.makedirs(parent, exist_ok=True)
  files.write_atomic(path, json.dumps(results, indent=2) + '\n')
