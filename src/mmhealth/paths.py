"""Where things are: the project (dbt_project.yml, governance/, expectations/, target/) and the lake, its dbt
warehouse and its feature store.

Defaults resolve from the project, never from the working directory, so every command gives the same answer
from any folder. A path the user types (`--lake x`, `--manifest y`) stays relative to where they typed it.
"""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ENV = "MMHEALTH_PROJECT"
LAKE_ENV = "MMHEALTH_LAKE"
FEATURE_STORE_ENV = "MMHEALTH_FEATURE_STORE"
DEFAULT_LAKE = "demo-lake"
_MARKER = "dbt_project.yml"
# An editable install (make venv) runs from the checkout: src/mmhealth/paths.py -> the repository root.
_CHECKOUT = Path(__file__).resolve().parents[2]


def project_root() -> Path:
    """$MMHEALTH_PROJECT, else the nearest folder at or above the working directory holding dbt_project.yml, else
    the checkout this package runs from, else the working directory."""
    env = os.environ.get(PROJECT_ENV)
    if env:
        return Path(env).expanduser().resolve()
    here = Path.cwd().resolve()
    for folder in (here, *here.parents):
        if (folder / _MARKER).is_file():
            return folder
    if (_CHECKOUT / _MARKER).is_file():
        return _CHECKOUT
    return here


def in_project(*parts: str) -> Path:
    return project_root().joinpath(*parts)


def dbt_project_file() -> Path:
    return in_project(_MARKER)


def dbt_manifest() -> Path:
    """The manifest of the local dbt build (dbt writes target/ beside dbt_project.yml)."""
    return in_project("target", "manifest.json")


def resolve_project_path(path: str | os.PathLike) -> Path:
    """A path written in a project file (e.g. the policy's `manifest:`): relative to the project, not the caller."""
    p = Path(path).expanduser()
    return p if p.is_absolute() else in_project(str(p))


def shown(path: str | os.PathLike) -> str:
    """A path as output shows it: relative to the project when inside it, so a generated file or a message says
    the same from every working directory."""
    p = Path(path)
    try:
        return str(p.resolve().relative_to(project_root()))
    except ValueError:
        return str(p)


def policy_file() -> Path:
    return in_project("governance", "policy.yml")


def governance_dir() -> Path:
    return in_project("governance")


def expectations_dir() -> Path:
    """The Great Expectations project: $MMHEALTH_EXPECTATIONS, else <project>/expectations."""
    env = os.environ.get("MMHEALTH_EXPECTATIONS")
    return Path(env) if env else in_project("expectations")


def lake_dir(value: str | os.PathLike | None = None) -> Path:
    """The lake folder: the one given, else $MMHEALTH_LAKE, else <project>/demo-lake (what `make demo` builds)."""
    if value:
        return Path(value)
    env = os.environ.get(LAKE_ENV)
    return Path(env) if env else in_project(DEFAULT_LAKE)


def warehouse_path(lake: str | os.PathLike | None = None) -> Path:
    """dbt's DuckDB warehouse of a lake (profiles.yml writes it there)."""
    return lake_dir(lake) / "warehouse.duckdb"


def lake_catalog(lake: str | os.PathLike | None = None) -> Path:
    return lake_dir(lake) / "lake.duckdb"


def quality_dir(lake: str | os.PathLike | None = None) -> Path:
    return lake_dir(lake) / "quality"


def feature_store_dir(lake: str | os.PathLike | None = None) -> Path:
    """The local offline feature store: $MMHEALTH_FEATURE_STORE (when no lake is given), else <lake>/feature_store."""
    env = os.environ.get(FEATURE_STORE_ENV)
    if env and lake is None:
        return Path(env)
    return lake_dir(lake) / "feature_store"
