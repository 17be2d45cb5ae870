"""The forge's workflows (`.github/workflows/`) pass actionlint and zizmor.

actionlint checks that they are valid workflows (keys, expressions, the shell of
`run:` steps when shellcheck is installed); zizmor audits their security (actions
pinned by commit, least-privilege permissions, no credentials left in the checkout,
no template injection). Both are pinned in requirements.txt, and both run offline:
zizmor with `--offline`, so the audits that would ask the forge's API are skipped.
Each is also shown a bad workflow, so a lint that silently checks nothing fails here.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent  # the venv's bin/, where both commands are installed
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))

# A workflow with the mistakes each tool must catch: an unpinned action, a token left in
# the checkout, no permissions block, and a pull request's title pasted into a shell script.
BAD = """\
name: bad
on: [pull_request]
jobs:
  greet:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v5
      - run: echo "${{ github.event.pull_request.title }}"
      - run: echo ${{ matrix.missing }}
"""


def actionlint(*paths: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "actionlint"), "-no-color", "-oneline", *map(str, paths)],
                          cwd=ROOT, capture_output=True, text=True)


def zizmor(*paths: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "zizmor"), "--offline", "--no-progress", "--color", "never",
                           "--quiet", *map(str, paths)],
                          cwd=ROOT, capture_output=True, text=True)


def test_the_two_workflows_exist():
    assert {"ci.yml", "publish.yml"} <= {p.name for p in WORKFLOWS}


@pytest.mark.parametrize("lint", [actionlint, zizmor])
def test_workflows_pass(lint):
    result = lint(*WORKFLOWS)
    assert result.returncode == 0, f"{lint.__name__} found problems:\n{result.stdout}{result.stderr}"


def test_a_bad_workflow_fails_both(tmp_path):
    bad = tmp_path / ".github" / "workflows" / "bad.yml"
    bad.parent.mkdir(parents=True)
    bad.write_text(BAD)
    found = actionlint(bad)
    assert found.returncode != 0 and "github.event.pull_request.title" in found.stdout
    assert '"missing" is not defined' in found.stdout  # a type error in an expression
    audit = zizmor(bad)
    assert audit.returncode != 0
    for finding in ("template-injection", "unpinned-uses", "artipacked", "excessive-permissions"):
        assert finding in audit.stdout, f"zizmor missed {finding}:\n{audit.stdout}"
