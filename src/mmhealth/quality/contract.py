"""What dbt already says about each gated mart, read from dbt's `target/manifest.json`: the single source of the
gate's structural invariants.

The contract (columns and their declared data types) and the grain tests (`unique`, `not_null`,
`mmh_unique_combination`) become generated expectations; nothing of them is written in `expectations/`. dbt's
other tests (accepted values, value ranges, relationships to models the gate does not read) ran in `dbt build` and
are not repeated. All manifest access of the gate goes through `_model_nodes`, which reads the file with the project's shared
reader (`mmhealth.manifest`); the classification of columns comes from that reader too (`classification.py`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mmhealth.errors import MMHealthError
from mmhealth.manifest import read_manifest_json

# dbt generic tests whose meaning the gate evaluates again on the snapshot it publishes.
GRAIN_TESTS = ("unique", "not_null", "mmh_unique_combination")


@dataclass(frozen=True)
class MartContract:
    name: str
    schema: str  # the relation's schema on the target the manifest was parsed for
    columns: dict[str, str]  # column -> data_type as the contract declares it (varchar, bigint, double, ...)
    unique: tuple[str, ...] = ()
    not_null: tuple[str, ...] = ()
    unique_combinations: tuple[tuple[str, ...], ...] = ()
    description: str = ""

    @property
    def key(self) -> tuple[str, ...]:
        """The grain: a unique column, else the first unique combination."""
        if self.unique:
            return (self.unique[0],)
        return self.unique_combinations[0] if self.unique_combinations else ()

    def kind(self, column: str) -> str:
        """numeric | boolean | date | text, from the declared type."""
        t = self.columns[column].lower()
        if "bool" in t:
            return "boolean"
        if any(k in t for k in ("int", "double", "float", "real", "decimal", "numeric")):
            return "numeric"
        if "date" in t or "timestamp" in t:
            return "date"
        return "text"


def _model_nodes(manifest: Path, names: tuple[str, ...] | list[str]) -> tuple[dict[str, dict], list[dict]]:
    """The manifest's model nodes of `names` and every generic test attached to them."""
    raw = read_manifest_json(manifest)  # the shared reader: same errors, same file rules as every stage
    nodes = raw.get("nodes") or {}
    models = {n["name"]: n for n in nodes.values() if n.get("resource_type") == "model" and n.get("name") in names}
    tests = [n for n in nodes.values() if n.get("resource_type") == "test" and n.get("test_metadata")
             and (n.get("attached_node") or "").rsplit(".", 1)[-1] in models]
    return models, tests


def load_contracts(manifest: Path, names: tuple[str, ...] | list[str]) -> dict[str, MartContract]:
    models, tests = _model_nodes(manifest, names)
    missing = [n for n in names if n not in models]
    if missing:
        raise MMHealthError(f"{manifest}: no dbt model {', '.join(missing)} - run `dbt parse` on this project or "
                            "remove the mart from expectations/gate.yml")
    by_model: dict[str, list[dict]] = {n: [] for n in names}
    for t in tests:
        by_model[t["attached_node"].rsplit(".", 1)[-1]].append(t["test_metadata"])
    out = {}
    for name in names:
        node = models[name]
        columns = {c: str(v.get("data_type") or "") for c, v in (node.get("columns") or {}).items()}
        untyped = [c for c, t in columns.items() if not t]
        if not columns or untyped:
            raise MMHealthError(f"{manifest}: model {name} has no data_type for {untyped or 'any column'} - the gate "
                                "reads the schema from the dbt contract; declare data_type in the model YAML")
        unique, not_null, combos = [], [], []
        for meta in by_model[name]:
            kwargs = meta.get("kwargs") or {}
            column = kwargs.get("column_name")
            if meta["name"] == "unique" and column:
                unique.append(column)
            elif meta["name"] == "not_null" and column:
                not_null.append(column)
            elif meta["name"] == "mmh_unique_combination" and kwargs.get("columns"):
                combos.append(tuple(kwargs["columns"]))
        out[name] = MartContract(name, str(node.get("schema") or ""), columns, tuple(dict.fromkeys(unique)),
                                 tuple(dict.fromkeys(not_null)), tuple(dict.fromkeys(combos)),
                                 str(node.get("description") or "").strip())
    return out


def dbt_var(dbt_project: Path, name: str):
    """A var's value in dbt_project.yml (what a build without --vars used)."""
    import yaml

    try:
        raw = yaml.safe_load(dbt_project.read_text()) or {}
    except FileNotFoundError:
        raise MMHealthError(f"{dbt_project}: dbt project not found - the gate reads var {name} from it; pass "
                            "--dbt-project") from None
    value = (raw.get("vars") or {}).get(name)
    if value is None:
        raise MMHealthError(f"{dbt_project}: no var {name} - the gate reads it from the dbt project")
    return value
