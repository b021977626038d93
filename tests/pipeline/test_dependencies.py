"""The lock holds exactly what the project needs: every pinned package is reached from pyproject.toml's
requirements (through the installed packages' own metadata), every pin carries hashes, and the runtime install
(no extras) leaves the test and lint tools out."""

from __future__ import annotations

import importlib.metadata as md
import re
import tomllib
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[2]
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s\\]+)")


def _locked(path: Path) -> dict[str, str]:
    """name -> version of every pin in a pip-compile lock; fails on a pin without a hash."""
    pins: dict[str, str] = {}
    lines = path.read_text().splitlines()
    for i, line in enumerate(lines):
        m = PIN.match(line)
        if not m:
            continue
        assert i + 1 < len(lines) and lines[i + 1].strip().startswith("--hash=sha256:"), f"{path.name}: {line} has no hash"
        pins[canonicalize_name(m.group(1))] = m.group(2)
    return pins


def _closure(requirements: list[str], extras: set[str]) -> set[str]:
    """Names of every distribution reached from `requirements` (evaluated with `extras` for the top level, and
    with the extras each requirement asks for below it), read from the installed packages' metadata."""
    env = default_environment()
    seen: set[tuple[str, str]] = set()
    todo = [(Requirement(r), "") for r in requirements]
    for extra in extras:
        todo += [(Requirement(r), extra) for r in requirements]
    names: set[str] = set()
    while todo:
        req, extra = todo.pop()
        if req.marker and not req.marker.evaluate({**env, "extra": extra}):
            continue
        name = canonicalize_name(req.name)
        for wanted in {"", *req.extras}:
            if (name, wanted) in seen:
                continue
            seen.add((name, wanted))
            names.add(name)
            for sub in md.distribution(name).requires or []:
                todo.append((Requirement(sub), wanted))
    return names


def _project_requirements() -> tuple[list[str], list[str]]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    return project["dependencies"], project["optional-dependencies"]["dev"]


def test_every_pinned_package_is_required_and_every_requirement_pinned():
    runtime, dev = _project_requirements()
    needed = _closure(runtime + dev, set())
    locked = _locked(REPO / "requirements.lock")
    assert set(locked) - needed == set(), "pinned but required by nothing: drop from the lock (make lock)"
    assert needed - set(locked) == set(), "required but not pinned: run make lock"


def test_installed_versions_are_the_locked_ones():
    locked = _locked(REPO / "requirements.lock") | _locked(REPO / "requirements-build.lock")
    wrong = {name: (version, md.version(name)) for name, version in locked.items() if md.version(name) != version}
    assert wrong == {}, "the venv differs from the lock: rm -rf .venv && make venv"


def test_runtime_install_leaves_out_test_and_lint_tools():
    runtime, _ = _project_requirements()
    needed = _closure(runtime, set())
    assert {"moto", "flask", "sqlfluff", "pytest", "hypothesis", "docker", "cfn-lint"} & needed == set()
    # ... while the dev extra brings them.
    _, dev = _project_requirements()
    assert {"moto", "flask", "sqlfluff", "pytest"} <= _closure(dev, set())
