"""The README and docs/: every relative link and anchor leads somewhere; CI
runs the README's test command, on a lock within pyproject.toml's ranges."""

import os
import re
import tomllib

from packaging.requirements import Requirement
import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PAGES = ['README.md'] + sorted(
    os.path.join('docs', f) for f in os.listdir(os.path.join(REPO, 'docs'))
    if f.endswith('.md'))
LINK = re.compile(r'!?\[[^\]]*\]\(([^)\s]+)\)')


def _without_code(text: str) -> str:
  return re.sub(r'```.*?```', '', text, flags=re.S)


def anchors(path: str) -> set[str]:
  """GitHub's anchors of a Markdown file's headings."""
  with open(path) as f:
    text = _without_code(f.read())
  found = set()
  for heading in re.findall(r'^#{1,6} (.+)$', text, flags=re.M):
    slug = re.sub(r'[^\w\- ]', '', heading.strip().lower()).replace(' ', '-')
    found.add(slug)
  return found


def test_anchors_follow_githubs_rule():
  assert 'the-papers-five-experiments' in anchors(
      os.path.join(REPO, 'docs', 'experiments.md'))


def test_the_readme_links_every_docs_page():
  with open(os.path.join(REPO, 'README.md')) as f:
    readme = f.read()
  for page in PAGES[1:]:
    assert f']({page})' in readme, page


@pytest.mark.parametrize('page', PAGES)
def test_links_resolve(page):
  with open(os.path.join(REPO, page)) as f:
    text = _without_code(f.read())
  base = os.path.dirname(os.path.join(REPO, page))
  broken = []
  for target in LINK.findall(text):
    if re.match(r'^[a-z]+:', target):
      continue  # a URL
    path, _, anchor = target.partition('#')
    path = os.path.normpath(os.path.join(base, path)) if path else (
        os.path.join(REPO, page))
    if not os.path.exists(path):
      broken.append(f'{target}: no such file')
    elif anchor and anchor not in anchors(path):
      broken.append(f'{target}: no heading with that anchor')
  assert not broken, broken


def _read(path: str) -> str:
  with open(os.path.join(REPO, path)) as f:
    return f.read()


def test_ci_runs_the_readmes_test_command_on_the_lock():
  """CI calls the README's test command as written, and that command
  installs the committed lock, every package of it pinned."""
  readme = _read('README.md')
  command = re.search(r'Run the tests .*?```bash\n(.+?)\n```', readme,
                      flags=re.S).group(1)
  ci_lines = _read(os.path.join('.ci', 'run')).splitlines()
  assert command in ci_lines, command
  assert '-r .ci/requirements-lock.txt' in command
  lock = [line for line in _read(os.path.join(
      '.ci', 'requirements-lock.txt')).splitlines()
          if line and not line.startswith('#')]
  assert lock and all(re.fullmatch(r'[A-Za-z0-9_.\-]+==[^=\s]+', line)
                      for line in lock), lock
  locked = {_name(name): version
            for name, version in (line.split('==') for line in lock)}
  # Every requirement of the package and of its test extra (with the extras
  # that one includes), and the build backend, at a version its range
  # allows: the package installs with --no-deps, so pip checks none of this.
  with open(os.path.join(REPO, 'pyproject.toml'), 'rb') as f:
    pyproject = tomllib.load(f)
  project = pyproject['project']
  extras = project['optional-dependencies']
  wanted = [Requirement(r) for r in project['dependencies'] + extras['test'] +
            pyproject['build-system']['requires']]
  for own in [r for r in wanted if r.name == 'infogan_jax']:
    wanted += [Requirement(r) for extra in own.extras for r in extras[extra]]
  outside = []
  for requirement in wanted:
    if requirement.name == 'infogan_jax':
      continue
    version = locked.get(_name(requirement.name))
    if version is None or version not in requirement.specifier:
      outside.append(f'{requirement}: locked {version}')
  assert not outside, outside


def _name(requirement: str) -> str:
  return re.sub(r'[-_.]+', '-', requirement).lower()  # as PEP 503 compares
