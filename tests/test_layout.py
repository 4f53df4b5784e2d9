"""The package's layout: one home per concern, imports one way, the module
map in docs/layout.md true, and the checkpoint layout unchanged."""

import ast
import json
import os
import pathlib
import subprocess
import sys

import jax
import ml_collections
import numpy as np
import pytest
import tensorflow_datasets as tfds

import infogan_jax
from infogan_jax import checkpointing
from infogan_jax import step as step_lib
from infogan_jax import trainer

ROOT = pathlib.Path(__file__).resolve().parent.parent
LIBRARY = ROOT / 'infogan_jax'
FIXTURE = pathlib.Path(__file__).parent / 'fixtures' / (
    'checkpoint_layout_format1.json')


def _modules(package: pathlib.Path):
  for path in sorted(package.rglob('*.py')):
    if 'configs' not in path.relative_to(package).parts:
      yield path


def _imports(path: pathlib.Path) -> set[str]:
  """Every module `path` imports, as dotted names (from-imports of names
  count as the module they come from, and as module.name)."""
  names = set()
  for node in ast.walk(ast.parse(path.read_text())):
    if isinstance(node, ast.Import):
      names.update(alias.name for alias in node.names)
    elif isinstance(node, ast.ImportFrom) and node.module:
      names.add(node.module)
      names.update(f'{node.module}.{alias.name}' for alias in node.names)
  return names


def test_only_the_data_modules_import_tensorflow():
  for path in _modules(LIBRARY):
    tensorflow = {n for n in _imports(path)
                  if n.split('.')[0] in ('tensorflow', 'tensorflow_datasets')}
    if path.parent.name != 'data':
      assert not tensorflow, (path, tensorflow)


def test_the_library_never_imports_the_tools():
  for path in _modules(LIBRARY):
    assert not any(n.startswith('infogan_tools') for n in _imports(path)), path


def _library_module_file(dotted: str) -> str | None:
  """'infogan_jax.data.pipeline' (or a name in it) -> its path in the map."""
  parts = dotted.split('.')
  if parts[0] != 'infogan_jax':
    return None
  if parts[1:2] == ['configs']:
    return 'infogan_jax/configs/'  # the map names the configs as one entry
  while parts:
    path = ROOT.joinpath(*parts)
    if path.with_suffix('.py').exists():
      return str(path.with_suffix('.py').relative_to(ROOT))
    if (path / '__init__.py').exists():
      return str((path / '__init__.py').relative_to(ROOT))
    parts.pop()
  return None


def _library_imports(path: pathlib.Path) -> set[str]:
  """The library files `path` imports (`from P import m` counts as P's
  module m when there is one, else as P)."""
  files = set()
  for node in ast.walk(ast.parse(path.read_text())):
    if isinstance(node, ast.ImportFrom) and node.module:
      for alias in node.names:
        files.add(_library_module_file(f'{node.module}.{alias.name}'))
    elif isinstance(node, ast.Import):
      files.update(_library_module_file(a.name) for a in node.names)
  return files - {None}


def _map_order() -> list[str]:
  text = (ROOT / 'docs' / 'layout.md').read_text()
  return [line.split('`')[1] for line in text.splitlines()
          if line.startswith('| `infogan_jax/')]


def test_every_module_imports_only_modules_above_it_in_the_map():
  order = _map_order()
  for path in _modules(LIBRARY):
    name = str(path.relative_to(ROOT))
    for target in _library_imports(path):
      if target == name:
        continue
      assert order.index(target) < order.index(name), (
          f'{name} imports {target}, which comes after it in docs/layout.md')


def _attributes_read(path: pathlib.Path) -> set[str]:
  return {node.attr for node in ast.walk(ast.parse(path.read_text()))
          if isinstance(node, ast.Attribute)}


def test_the_member_axis_lives_in_population_py():
  """Only population.py reads a config's population size or touches the
  member axis of a state; restarts.py writes the population its restarts
  train as. Everything else goes through population.py."""
  allowed = {'infogan_jax/population.py', 'infogan_jax/restarts.py'}
  member_axis = {'population', 'MEMBER_AXES', 'STATE_AXES', 'DATA_AXES'}
  for path in _modules(LIBRARY):
    name = str(path.relative_to(ROOT))
    if name not in allowed:
      assert not _attributes_read(path) & member_axis, name
      assert "get('population'" not in path.read_text(), name


def test_code_types_are_named_only_in_codes_py_and_their_users():
  """A code type's config fields are read by its class alone: adding a type
  touches codes.py and the config."""
  fields = {'categorical_codes', 'num_continuous_codes', 'continuous_std'}
  for path in _modules(LIBRARY):
    name = str(path.relative_to(ROOT))
    if name != 'infogan_jax/codes.py':
      assert not _attributes_read(path) & fields, name


def test_the_module_map_names_every_module_and_only_those():
  text = (ROOT / 'docs' / 'layout.md').read_text()
  named = {m for m in _backticked(text) if m.endswith('.py')}
  assert len(set(_map_order())) == len(_map_order())
  present = {str(p.relative_to(ROOT)) for package in (LIBRARY,
                                                      ROOT / 'infogan_tools')
             for p in _modules(package)}
  assert present - named == set(), 'modules missing from docs/layout.md'
  assert named - present == set(), 'docs/layout.md names modules that are gone'


def _backticked(text: str) -> set[str]:
  parts = text.split('`')
  return {parts[i] for i in range(1, len(parts), 2)}


def test_command_modules_import_together_and_keep_their_flags(tmp_path):
  """Each tool parses its own flags, so any of them can share a process with
  `infogan_jax.main` (whose flags are absl's global ones)."""
  run = tmp_path / 'run'
  run.mkdir()
  (run / 'config.json').write_text(json.dumps(
      {'seed': 0, 'model': {'categorical_codes': [10]}}))
  (run / 'metrics.jsonl').write_text(json.dumps(
      {'step': 1, 'mi_cat_nats': 2.0, 'mi_cont_nats': -0.5}) + '\n')
  script = f"""
import json
from infogan_jax import main, selection
from infogan_tools import benchmark, plots, summary
summary.main(['summary', '--workdir={run}'])
"""
  result = subprocess.run([sys.executable, '-c', script], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
  assert result.returncode == 0, result.stderr[-3000:]
  record = json.loads(result.stdout)
  assert record['steps'] == 1
  assert record['h_cat_nats'] == pytest.approx(np.log(10))


# ------------------------------------------------------- checkpoint layout


def _fixture():
  with open(FIXTURE) as f:
    return json.load(f)


def _config_of_fixture(config):
  """The tiny test config with the fixture's (smaller still) model."""
  saved = _fixture()['config']
  for field in ('generator', 'shared_body', 'q_head'):
    config.model[field] = tuple(saved['model'][field])
  return config


def _flat(tree) -> dict[str, list]:
  return {jax.tree_util.keystr(path, simple=True, separator='/'):
          [list(x.shape), str(x.dtype)]
          for path, x in jax.tree_util.tree_flatten_with_path(tree)[0]}


def test_the_state_has_the_layout_checkpoints_have_always_had(config):
  """tests/fixtures/checkpoint_layout_format1.json lists every array of a
  checkpoint written before the package was re-partitioned (format 1)."""
  step = step_lib.TrainStep.from_config(_config_of_fixture(config))
  shapes = jax.eval_shape(lambda: step.init(0, (28, 28, 1)))
  assert _flat(shapes) == _fixture()['arrays']
  assert checkpointing.FORMAT_VERSION == _fixture()['format_version']


def _unflatten(flat: dict[str, np.ndarray]) -> dict:
  tree = {}
  for name, value in flat.items():
    *parents, leaf = name.split('/')
    node = tree
    for part in parents:
      node = node.setdefault(part, {})
    node[leaf] = value
  return tree


def test_a_checkpoint_in_the_format1_layout_loads_and_resumes(config,
                                                              tmp_path):
  """Arrays saved as plain nested dicts in the recorded layout, with the
  recorded config: `load` restores them and training continues from them."""
  fixture = _fixture()
  rng = np.random.default_rng(0)
  arrays = {}
  for name, (shape, dtype) in fixture['arrays'].items():
    if np.issubdtype(np.dtype(dtype), np.floating):
      arrays[name] = (0.05 * np.abs(rng.normal(size=shape))).astype(dtype)
    else:
      arrays[name] = np.zeros(shape, dtype)
  arrays['step'] = np.asarray(2, np.int32)
  workdir = str(tmp_path)
  manager = checkpointing.manager(workdir)
  checkpointing.save(manager, 2, _unflatten(arrays),
                     ml_collections.ConfigDict(fixture['config']))
  manager.wait_until_finished()
  manager.close()

  model = infogan_jax.load(workdir)
  assert model.step == 2
  np.testing.assert_array_equal(
      model.g_variables['params']['Dense_0']['kernel'],
      arrays['g/params/Dense_0/kernel'])
  assert model.generate(jax.random.key(0), 2).shape == (2, 28, 28, 1)

  config = _config_of_fixture(config)
  config.download_data = 'always'  # TFDS's mocked download stands in
  with tfds.testing.mock_data(num_examples=64):
    state = trainer.train_and_evaluate(config, workdir)
  assert int(state.step) == config.num_train_steps == 4
  assert os.path.isdir(os.path.join(workdir, 'checkpoints', '4'))
