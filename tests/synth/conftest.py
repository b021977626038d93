"""Generated data sets shared by the synth tests: small ones for format and link checks, one larger
FHIR + genome population for the prevalence and association checks. Session-scoped: each is made once."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from mmhealth.synth.generate import GenerateConfig, generate

SMALL = dict(patients=40, genomes=25, imaging=8, seed=7)


def _make(tmp_path_factory, name: str, **kw) -> Path:
    out = tmp_path_factory.mktemp(name) / "data"
    generate(GenerateConfig(out=out, **kw))
    return out


def file_hashes(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def read_ndjson(root: Path, rtype: str) -> list[dict]:
    with open(root / "fhir" / f"{rtype}.ndjson", encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


@pytest.fixture(scope="session")
def small(tmp_path_factory) -> Path:
    """40 patients / 25 genomes / 8 imaging, with bundles, written by two processes."""
    return _make(tmp_path_factory, "small", bundles=True, jobs=2, **SMALL)


@pytest.fixture(scope="session")
def small_again(tmp_path_factory) -> Path:
    """The same arguments in one process: must be byte-identical to `small`."""
    return _make(tmp_path_factory, "small_again", bundles=True, jobs=1, **SMALL)


@pytest.fixture(scope="session")
def small_other_seed(tmp_path_factory) -> Path:
    return _make(tmp_path_factory, "small_seed8", bundles=True, jobs=2, **{**SMALL, "seed": 8})


@pytest.fixture(scope="session")
def population(tmp_path_factory) -> Path:
    """1,500 patients, all genotyped, no imaging: enough for prevalences and associations."""
    return _make(tmp_path_factory, "population", patients=1500, genomes=1500, imaging=0, seed=11, jobs=2)


@pytest.fixture(scope="session")
def corrupted(tmp_path_factory) -> Path:
    return _make(tmp_path_factory, "corrupted", patients=30, genomes=10, imaging=4, seed=5, corrupt=2, jobs=1)


@pytest.fixture(scope="session")
def manifest(small) -> dict:
    return json.loads((small / "manifest.json").read_text())


# Helpers as fixtures: with --import-mode=importlib test modules cannot import this conftest by name.
@pytest.fixture(scope="session")
def hashes():
    return file_hashes


@pytest.fixture(scope="session")
def ndjson():
    return read_ndjson
