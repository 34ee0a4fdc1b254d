"""Checks that hold the package's shape, read from the source (ast), not run.

* Imports follow the layer order WORKSPACE.md gives (its ```layers block):
  a module imports its own layer or lower ones, never a later one, and no
  import cycle exists (imports inside functions count too).
* One place names the run folder's files: stage folders, experiment.json,
  operative_config.gin (run_dir.py).
* One function constructs a `Generator` or `Discriminator` for loading and
  training (networks.build_networks), in the package and the tools.
"""
import ast
import pathlib
import re

import pytest

REPO = pathlib.Path(__file__).resolve().parent.parent
PACKAGE = REPO / 'gansynth_tf2'
PACKAGE_NAME = 'gansynth_tf2'


def _module_name(path):
  parts = path.relative_to(REPO).with_suffix('').parts
  if parts[-1] == '__init__':
    parts = parts[:-1]
  return '.'.join(parts)


def _sources():
  return {_module_name(p): p for p in sorted(PACKAGE.rglob('*.py'))}


def _imports(path, modules):
  """Package modules `path` imports anywhere in it (function bodies too)."""
  tree = ast.parse(path.read_text(), str(path))
  found = set()
  for node in ast.walk(tree):
    if isinstance(node, ast.Import):
      names = [a.name for a in node.names]
    elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
      # `from gansynth_tf2 import x`: x may be a module or a name in one.
      names = [f'{node.module}.{a.name}' for a in node.names] + [node.module]
    else:
      continue
    for name in names:
      if name in modules and name != PACKAGE_NAME:
        found.add(name)
  return found


def _graph():
  modules = _sources()
  return {m: _imports(p, modules) - {m} for m, p in modules.items()}


def _layers():
  """[(layer name, [module patterns])] from WORKSPACE.md's ```layers block."""
  text = (REPO / 'WORKSPACE.md').read_text()
  match = re.search(r'```layers\n(.*?)```', text, re.S)
  assert match, 'WORKSPACE.md has no ```layers block'
  layers = []
  for line in match.group(1).splitlines():
    if not line.strip():
      continue
    name, _, modules = line.partition(':')
    layers.append((name.strip(), modules.split()))
  return layers


def _layer_of(module, layers):
  short = module[len(PACKAGE_NAME) + 1:] if module != PACKAGE_NAME else (
      '__init__')
  for index, (_, patterns) in enumerate(layers):
    for pattern in patterns:
      if short == pattern or (pattern.endswith('.*') and
                              short.startswith(pattern[:-1])):
        return index
  return None


def test_every_module_has_a_layer_and_imports_only_downwards():
  layers = _layers()
  graph = _graph()
  missing = sorted(m for m in graph if _layer_of(m, layers) is None)
  assert not missing, (f'modules without a layer in WORKSPACE.md: {missing}')
  wrong = []
  for module, imported in sorted(graph.items()):
    mine = _layer_of(module, layers)
    for other in sorted(imported):
      theirs = _layer_of(other, layers)
      if theirs > mine:
        wrong.append(f'{module} ({layers[mine][0]}) imports {other} '
                     f'({layers[theirs][0]})')
  assert not wrong, 'imports against the layer order:\n' + '\n'.join(wrong)


def test_no_import_cycle():
  graph = _graph()
  cycles = []
  state = {}

  def visit(node, path):
    state[node] = 'open'
    for nxt in sorted(graph[node]):
      if state.get(nxt) == 'open':
        cycles.append(path[path.index(nxt):] + [nxt])
      elif nxt not in state:
        visit(nxt, path + [nxt])
    state[node] = 'done'

  for module in sorted(graph):
    if module not in state:
      visit(module, [module])
  assert not cycles, 'import cycles: ' + '; '.join(
      ' -> '.join(c) for c in cycles)


def test_the_layer_check_sees_a_violation(tmp_path):
  """The checks above can fail: an upward and a cyclic import are found."""
  layers = [('low', ['a']), ('high', ['b'])]
  assert _layer_of(f'{PACKAGE_NAME}.a', layers) == 0
  assert _layer_of(f'{PACKAGE_NAME}.evaluation.cli',
                   [('x', ['evaluation.*'])]) == 0
  source = tmp_path / 'a.py'
  source.write_text('def f():\n  from gansynth_tf2 import b\n')
  assert _imports(source, {f'{PACKAGE_NAME}.b'}) == {f'{PACKAGE_NAME}.b'}


# Literal names of the run folder's files: only run_dir.py may hold them.
# Prose (help texts, messages: with spaces) may mention them.
RUN_FOLDER_NAME = re.compile(
    r'^(experiment\.json|operative_config\.gin|hparams\.gin|assets)$|'
    r'/experiment\.json$|stage_(\d|\{|\(|%)|^stage_$')


def _string_constants(tree):
  """String constants that are not docstrings."""
  docstrings = set()
  for node in ast.walk(tree):
    if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef,
                         ast.AsyncFunctionDef)) and node.body:
      first = node.body[0]
      if isinstance(first, ast.Expr) and isinstance(first.value,
                                                    ast.Constant):
        docstrings.add(id(first.value))
  return [n for n in ast.walk(tree) if isinstance(n, ast.Constant) and
          isinstance(n.value, str) and id(n) not in docstrings]


def test_only_run_dir_names_stage_folders_and_experiment_json():
  offenders = []
  paths = sorted(PACKAGE.rglob('*.py')) + sorted((REPO / 'tools').glob('*.py'))
  for path in paths:
    if path.name == 'run_dir.py' or path.name.startswith('make_'):
      continue  # make_*: fixture makers write Magenta's own folders
    tree = ast.parse(path.read_text(), str(path))
    for node in _string_constants(tree):
      if (RUN_FOLDER_NAME.search(node.value) and
          not re.search(r'\s', node.value)):
        offenders.append(f'{path.relative_to(REPO)}:{node.lineno}: '
                         f'{node.value!r}')
  assert not offenders, ('run-folder names outside run_dir.py:\n' +
                         '\n'.join(offenders))


def _network_constructions(path):
  tree = ast.parse(path.read_text(), str(path))
  found = []
  for node in ast.walk(tree):
    if not isinstance(node, ast.Call):
      continue
    func = node.func
    if isinstance(func, ast.Attribute) and func.attr == 'from_hparams':
      func = func.value
    name = (func.id if isinstance(func, ast.Name) else
            func.attr if isinstance(func, ast.Attribute) else None)
    if name in ('Generator', 'Discriminator'):
      found.append(node)
  return tree, found


def test_one_function_constructs_the_networks():
  outside = []
  for path in sorted(PACKAGE.rglob('*.py')) + sorted(
      (REPO / 'tools').glob('*.py')):
    tree, calls = _network_constructions(path)
    if not calls:
      continue
    allowed = set()
    if path == PACKAGE / 'networks.py':
      for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and node.name == 'build_networks':
          allowed = {id(n) for n in ast.walk(node)}
    for call in calls:
      if id(call) not in allowed:
        outside.append(f'{path.relative_to(REPO)}:{call.lineno}')
  assert not outside, ('Generator / Discriminator built outside '
                       'networks.build_networks: ' + ', '.join(outside))


@pytest.mark.parametrize('source, count', [
    ('networks.Generator.from_hparams(hp)', 1),
    ('Discriminator(num_blocks=2)', 1),
    ('networks.build_networks(hp, 0, None, 61)', 0),
])
def test_the_construction_check_sees_a_call(tmp_path, source, count):
  path = tmp_path / 'x.py'
  path.write_text(source + '\n')
  assert len(_network_constructions(path)[1]) == count
