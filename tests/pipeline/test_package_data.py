"""Files the package reads at run time that are not Python (dashboard and data-docs assets, the FHIR schema) ship
in the wheel only when pyproject's package-data names them: every such file must be named."""

import fnmatch
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "src" / "mmhealth"


def test_every_non_python_file_of_the_package_is_package_data():
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    missing = []
    for path in sorted(PACKAGE.rglob("*")):
        if not path.is_file() or path.suffix in (".py", ".pyc") or "__pycache__" in path.parts:
            continue
        rel = path.relative_to(PACKAGE.parent)
        # the package owning the file: the deepest folder with an __init__.py above it
        owner = next(p for p in rel.parents if (PACKAGE.parent / p / "__init__.py").exists())
        inside = rel.relative_to(owner).as_posix()
        globs = declared.get(".".join(owner.parts), [])
        if not any(fnmatch.fnmatch(inside, g) for g in globs):
            missing.append(f"{rel} (package {'.'.join(owner.parts)})")
    assert not missing, "not in [tool.setuptools.package-data], so not in the wheel:\n" + "\n".join(missing)


def test_the_dashboard_pages_read_their_assets_from_package_data():
    from mmhealth.dashboards.local import asset

    assert "function" in asset("dashboard.js") and "{" in asset("dashboard.css")
