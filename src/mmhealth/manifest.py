"""The dbt project as every stage reads it: models, their columns, types, descriptions, `meta` and the one
sensitivity ladder. Governance, the quality gate, features and dashboards all read dbt's `target/manifest.json`
through this module (or, without a parsed project, the model YAML under `models/`), so they cannot disagree about
what a column is.

**Merge rule for `meta` and `config.meta`: per key, `config.meta` wins.** That is dbt's own rule. Since dbt 1.10
`meta` belongs under `config`; dbt 1.11 still accepts a column's top-level `meta` beside `config.meta`, merges
them key by key with `config.meta` winning, and writes the merged dict to *both* places in manifest.json (a
model with both is a parse error). So on a manifest dbt 1.11 wrote the two agree and the rule changes nothing; on
one written by an older dbt, by hand or by a tool, and on the YAML fallback, this rule reads what dbt itself would
make of the same YAML - which is what `dbt docs`, `dbt ls` and dbt-athena's Glue tags show. A "most sensitive
wins" rule would be safer for one key but would make our tools disagree with dbt's own artifacts about the rest;
`meta_conflicts` lists every disagreement, so a check can refuse an ambiguous classification outright.
(tests/pipeline/test_manifest_reader.py pins dbt's behaviour, so a dbt upgrade that changes it fails there.)

**Sensitivity ladder: `public` < `internal` < `phi`.** A column with no classification, or a value outside the
ladder, ranks as `phi`: what nobody classified is treated as the most sensitive (fail closed).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import yaml

from mmhealth.errors import MMHealthError

SENSITIVITY_LEVELS = ("public", "internal", "phi")  # ordered: least to most sensitive
PHI = "phi"
SENSITIVITY_KEY = "sensitivity"  # the meta key that classifies a column (governance may name another)


def sensitivity_rank(level: str | None) -> int:
    """Position on the ladder; unclassified or unknown values rank as phi."""
    return SENSITIVITY_LEVELS.index(level) if level in SENSITIVITY_LEVELS else SENSITIVITY_LEVELS.index(PHI)


def is_phi(level: str | None) -> bool:
    """Treated as PHI: classified phi, unclassified, or classified with a value outside the ladder."""
    return sensitivity_rank(level) >= SENSITIVITY_LEVELS.index(PHI)


def cleared(clearance: str, level: str | None) -> bool:
    """A principal of `clearance` may read a column of `level` (level <= clearance on the ladder)."""
    return sensitivity_rank(level) <= sensitivity_rank(clearance)


def merged_meta(entry: Mapping[str, Any]) -> dict[str, Any]:
    """A model's or column's meta: its top-level `meta`, overridden key by key by `config.meta` (dbt's rule)."""
    return {**(entry.get("meta") or {}), **((entry.get("config") or {}).get("meta") or {})}


def meta_conflicts(entry: Mapping[str, Any]) -> dict[str, tuple[Any, Any]]:
    """Keys on which `meta` and `config.meta` disagree: key -> (meta value, config.meta value); config.meta is the one used."""
    top, cfg = entry.get("meta") or {}, (entry.get("config") or {}).get("meta") or {}
    return {k: (top[k], cfg[k]) for k in top.keys() & cfg.keys() if top[k] != cfg[k]}


@dataclass(frozen=True)
class Column:
    name: str
    data_type: str | None
    description: str
    meta: Mapping[str, Any] = field(default_factory=dict, compare=False)
    conflicts: Mapping[str, tuple[Any, Any]] = field(default_factory=dict, compare=False)

    def classification(self, key: str = SENSITIVITY_KEY) -> str | None:
        value = self.meta.get(key)
        return None if value is None or value == "" else str(value)

    @property
    def sensitivity(self) -> str | None:
        return self.classification()


@dataclass(frozen=True)
class Model:
    unique_id: str
    name: str
    database: str | None  # dbt "database": the DuckDB catalog locally, the Glue catalog on Athena
    schema: str  # resolved schema: the Athena (Glue) database on Athena
    configured_schema: str | None  # the custom schema in config (`marts`), before dbt prefixes it
    alias: str  # the table name
    relation_name: str | None
    description: str
    columns: tuple[Column, ...]
    meta: Mapping[str, Any] = field(default_factory=dict, compare=False)
    path: str = ""  # the model's SQL file
    yaml_path: str = ""  # the YAML that documents it (else the SQL file)
    fqn: tuple[str, ...] = ()  # dbt's node path: where dbt_project.yml configures it

    def column(self, name: str) -> Column | None:
        return next((c for c in self.columns if c.name == name), None)

    @property
    def column_names(self) -> set[str]:
        return {c.name for c in self.columns}

    def sensitivity(self, key: str = SENSITIVITY_KEY) -> dict[str, str | None]:
        """Column -> classification (None when unclassified)."""
        return {c.name: c.classification(key) for c in self.columns}


@dataclass(frozen=True)
class Manifest:
    path: Path
    models: dict[str, Model]  # by model name (the last one, if versions or packages repeat a name)
    adapter_type: str | None = None
    every_model: tuple[Model, ...] = ()  # all of them, by unique_id order

    def __iter__(self):
        return iter(self.every_model or tuple(self.models.values()))

    def model(self, name: str) -> Model:
        try:
            return self.models[name]
        except KeyError:
            raise MMHealthError(
                f"{self.path}: dbt model '{name}' not in the manifest - run `dbt parse` (DBT_PROFILES_DIR=.) "
                "after pulling the models, or pass the right --manifest"
            ) from None

    def find(self, name: str) -> Model | None:
        return self.models.get(name)


def read_manifest_json(path: str | Path) -> dict:
    """manifest.json as dbt wrote it; a missing or broken file is a one-line error naming the fix."""
    path = Path(path)
    try:
        with path.open(encoding="utf-8") as fh:
            return json.load(fh)
    except FileNotFoundError:
        raise MMHealthError(
            f"{path}: dbt manifest not found - run `dbt parse` (DBT_PROFILES_DIR=.; for Athena "
            "`scripts/dbt_athena.sh parse`) or pass --manifest"
        ) from None
    except json.JSONDecodeError as exc:
        raise MMHealthError(f"{path}: not valid JSON (line {exc.lineno}) - run `dbt parse` again") from None


def load_manifest(path: str | Path) -> Manifest:
    return parse_manifest(read_manifest_json(path), Path(path))


def parse_manifest(raw: Mapping[str, Any], path: Path) -> Manifest:
    every: list[Model] = []
    for uid, node in (raw.get("nodes") or {}).items():
        if node.get("resource_type") != "model":
            continue
        patch = (node.get("patch_path") or "").split("://", 1)[-1]
        sql_path = node.get("original_file_path") or node.get("path") or ""
        every.append(Model(
            unique_id=uid,
            name=node["name"],
            database=node.get("database"),
            schema=node.get("schema") or "",
            configured_schema=(node.get("config") or {}).get("schema"),
            alias=node.get("alias") or node["name"],
            relation_name=node.get("relation_name"),
            description=node.get("description") or "",
            columns=tuple(_column(name, col) for name, col in (node.get("columns") or {}).items()),
            meta=merged_meta(node),
            path=sql_path,
            yaml_path=patch or sql_path,
            fqn=tuple(node.get("fqn") or (node["name"],)),
        ))
    return Manifest(path=path, models={m.name: m for m in every},
                    adapter_type=(raw.get("metadata") or {}).get("adapter_type"), every_model=tuple(every))


def models_from_yaml(models_dir: Path) -> Manifest:
    """The models the YAML under `models_dir` documents, for commands run without a parsed project. Same merge
    rule; descriptions that name a doc block (`{{ doc('patient_key') }}`) read the block's text from the `.md` files
    beside the YAML, as dbt renders them; what only dbt knows (resolved schemas, relation names, `+meta` set in
    dbt_project.yml) is absent."""
    docs = doc_blocks(models_dir)
    models: dict[str, Model] = {}
    for path in sorted(models_dir.rglob("*.yml")):
        try:
            doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (yaml.YAMLError, UnicodeDecodeError):
            continue  # not ours to judge here: dbt parse reports a broken YAML with its line
        for entry in (doc.get("models") or []) if isinstance(doc, dict) else []:
            if not isinstance(entry, dict) or "name" not in entry:
                continue
            rel = str(path)
            models[entry["name"]] = Model(
                unique_id=f"model.{entry['name']}", name=entry["name"], database=None, schema="",
                configured_schema=(entry.get("config") or {}).get("schema"), alias=entry["name"],
                relation_name=None, description=render_doc_refs(entry.get("description") or "", docs),
                columns=tuple(_column(c["name"], c, docs) for c in entry.get("columns") or [] if "name" in c),
                meta=merged_meta(entry), path=rel, yaml_path=rel, fqn=(entry["name"],),
            )
    return Manifest(path=models_dir, models=models, every_model=tuple(models.values()))


_DOC_BLOCK = re.compile(r"\{%-?\s*docs\s+(\w+)\s*-?%\}(.*?)\{%-?\s*enddocs\s*-?%\}", re.S)
_DOC_REF = re.compile(r"""\{\{\s*doc\(\s*['"](\w+)['"]\s*\)\s*\}\}""")


def doc_blocks(models_dir: Path) -> dict[str, str]:
    """Name -> text of every `{% docs name %}...{% enddocs %}` block in the .md files under models_dir, stripped as
    dbt strips them."""
    blocks: dict[str, str] = {}
    for path in sorted(Path(models_dir).rglob("*.md")):
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        blocks.update((name, body.strip()) for name, body in _DOC_BLOCK.findall(text))
    return blocks


def render_doc_refs(text: str, blocks: Mapping[str, str]) -> str:
    """`{{ doc('name') }}` replaced by the block's text; a name without a block stays as written (dbt parse fails
    on it, with the name)."""
    return _DOC_REF.sub(lambda m: blocks.get(m.group(1), m.group(0)), str(text))


def _column(name: str, col: Mapping[str, Any], docs: Mapping[str, str] | None = None) -> Column:
    """A column; `docs` (the YAML fallback) resolves doc-block references that a manifest holds already rendered."""
    description = col.get("description") or ""
    if docs is not None:
        description = render_doc_refs(description, docs)
    return Column(name=name, data_type=col.get("data_type"), description=description,
                  meta=merged_meta(col), conflicts=meta_conflicts(col))
