"""The package follows the data's path: a module never imports from a stage later in that path."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "mmhealth"
STAGES = ["synth", "ingest", "lake", "views", "governance", "quality", "features", "dashboards", "ml"]


def imported_stages(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        elif isinstance(node, ast.ImportFrom) and node.level > 0:
            # Resolve a relative import against the module's own package (`from ..features import x`).
            package = ["mmhealth", *path.relative_to(PACKAGE).parent.parts]
            base = package[: len(package) - (node.level - 1)]
            names = [".".join(base + ([node.module] if node.module else []))]
        else:
            continue
        for name in names:
            parts = name.split(".")
            if parts[0] == "mmhealth" and len(parts) > 1 and parts[1] in STAGES:
                found.add(parts[1])
    return found


def test_no_stage_imports_a_later_stage():
    violations = []
    for rank, stage in enumerate(STAGES):
        for path in sorted((PACKAGE / stage).rglob("*.py")):
            for other in imported_stages(path):
                if STAGES.index(other) > rank:
                    violations.append(f"{path.relative_to(PACKAGE)} imports mmhealth.{other}")
    assert not violations, "imports against the data's path:\n" + "\n".join(violations)


def test_every_stage_package_exists():
    assert all((PACKAGE / s / "__init__.py").exists() for s in STAGES)
