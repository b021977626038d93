"""The policy file: typed view of `governance/*.yml`, checked against `governance/schema/policy.schema.json`.

Loading does the schema check only; meaning (unknown tags, unknown tables, the PHI invariant) is in
`validate.py`, because it needs the dbt manifest too."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from mmhealth.errors import MMHealthError
from mmhealth.governance.rowfilter import RowFilter, RowFilterError, parse_row_filter
from mmhealth.governance.yamlsource import SourceDoc, load_yaml, loads_yaml

SCHEMA_PATH = Path(__file__).resolve().parents[3] / "governance" / "schema" / "policy.schema.json"
CLEARANCES = ("public", "internal", "phi")  # ordered: a principal may read a column whose level is <= its own
ALL_TABLE = frozenset({"ALTER", "DELETE", "DESCRIBE", "DROP", "INSERT", "SELECT"})
ALL_DATABASE = frozenset({"ALTER", "CREATE_TABLE", "DESCRIBE", "DROP"})
# Permissions that let a principal read cells; DESCRIBE only shows metadata.
READ_PERMISSIONS = frozenset({"SELECT", "ALL"})
# Permissions that change or destroy a table (or, on a database, its tables): reported like grant options.
WRITE_PERMISSIONS = frozenset({"INSERT", "DELETE", "ALTER", "DROP", "ALL"})


def clearance_rank(level: str) -> int:
    return CLEARANCES.index(level)


@dataclass(frozen=True)
class Principal:
    name: str
    type: str
    clearance: str
    identifier: str  # canonical DataLakePrincipalIdentifier (ARN or 12-digit account), for comparing
    line: int
    as_written: str = ""  # the ARN as the policy spells it (with any IAM path), for sending


@dataclass(frozen=True)
class TableTagRule:
    match: str
    tags: dict[str, str]
    line: int


@dataclass(frozen=True)
class Database:
    name: str
    dbt_schemas: tuple[str, ...]
    tags: dict[str, str]
    line: int
    lake_database: str | None = None  # a database of the lake itself (lakemeta.py) instead of dbt models


@dataclass(frozen=True)
class Grant:
    """One grant block. Exactly one of tag_expression / database / table is set."""

    name: str
    principals: tuple[str, ...]
    permissions: frozenset[str]
    grant_option: frozenset[str]
    line: int
    index: int
    tag_expression: tuple[tuple[str, tuple[str, ...]], ...] | None = None
    resource_type: str = "TABLE"
    database: str | None = None
    table: str | None = None  # "db.table" or "db.*"
    columns: tuple[str, ...] | None = None
    exclude_columns: tuple[str, ...] | None = None
    via_filter: str | None = None  # set for grants desugared from a data cells filter
    # Explicit exceptions to the delegation rule (validate.py), each needing `reason`: a grant option, or a
    # write permission, on a table with phi columns, for a phi-cleared principal.
    allow_phi_regrant: bool = False
    allow_phi_write: bool = False
    reason: str | None = None

    @property
    def label(self) -> str:
        if self.via_filter is not None:
            return f"data cells filter '{self.via_filter}' (grant of SELECT through it)"
        return f"grant '{self.name}'"


@dataclass(frozen=True)
class CellsFilter:
    name: str
    database: str
    table: str
    row_filter: str | None  # the canonical rendering (rowfilter.py): checked, previewed, compared and sent
    columns: tuple[str, ...] | None
    exclude_columns: tuple[str, ...] | None
    principals: tuple[str, ...]
    line: int
    index: int
    parsed: RowFilter | None = field(default=None, compare=False)  # source text, columns, comparisons


@dataclass
class Policy:
    file: str
    doc: SourceDoc
    version: int
    catalog_id: str | None
    region: str
    manifest: str
    lf_tags: dict[str, tuple[str, ...]]
    meta_key: str
    classification_tag: str
    databases: dict[str, Database]
    tables: list[TableTagRule]
    principals: dict[str, Principal]
    grants: list[Grant]
    filters: list[CellsFilter]
    unmanaged_principals: tuple[str, ...] = ()
    unmanaged_resources: tuple[str, ...] = ()

    def where(self, *path) -> str:
        return self.doc.where(path)

    def all_grants(self) -> list[Grant]:
        """Explicit grants plus the SELECT grants each data cells filter implies for its principals."""
        out = list(self.grants)
        for f in self.filters:
            out.append(
                Grant(
                    name=f"filter:{f.name}",
                    principals=f.principals,
                    permissions=frozenset({"SELECT"}),
                    grant_option=frozenset(),
                    line=f.line,
                    index=f.index,
                    table=f"{f.database}.{f.table}",
                    via_filter=f.name,
                )
            )
        return out

    def filter_by_name(self, name: str) -> CellsFilter | None:
        return next((f for f in self.filters if f.name == name), None)


@lru_cache(maxsize=1)
def _validator():
    import jsonschema

    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def schema_errors(doc: SourceDoc) -> list[str]:
    """Every schema violation as `file:line: message`, in file order."""
    errors = []
    for err in _validator().iter_errors(doc.data):
        path = tuple(err.absolute_path)
        where = "/".join(str(p) for p in path) or "(top level)"
        errors.append((doc.line(path), f"{doc.file}:{doc.line(path)}: {where}: {_short(err)}"))
    return [msg for _, msg in sorted(errors)]


def _short(err) -> str:
    if err.validator == "oneOf" and "principals" in [str(p) for p in err.absolute_path][:1]:
        return "give either arn (IAM role/user, SAML or QuickSight group) or account (external_account), not both"
    if err.validator == "oneOf" and [str(p) for p in err.absolute_path][:1] == ["databases"]:
        return "a database holds either dbt models (dbt_schemas) or lake tables (lake_database), not both"
    if err.validator == "oneOf":
        return "a grant names exactly one of tag_expression, database or table"
    if err.validator == "not":
        return "use columns or exclude_columns, not both"
    if err.validator == "required" and "'reason'" in err.message:
        return "allow_phi_regrant / allow_phi_write need a `reason`: who approved the exception and why"
    return err.message


def canonical_principal(identifier: str) -> str:
    """Lake Formation echoes principals in more than one spelling; compare on one.

    - `arn:aws:iam::123456789012:root` is the account itself -> `123456789012`
    - IAM role and user ARNs with a path (`role/team/x`) are listed without it: names are unique per account.
    - ARNs keep their case (IAM names are case-sensitive in ARNs), surrounding space and trailing `/` go."""
    ident = identifier.strip().rstrip("/")
    parts = ident.split(":", 5)
    if len(parts) == 6 and parts[2] == "iam":
        account, resource = parts[4], parts[5]
        if resource == "root":
            return account
        kind, _, rest = resource.partition("/")
        if kind in ("role", "user") and "/" in rest:
            resource = f"{kind}/{rest.rsplit('/', 1)[1]}"
        return ":".join(parts[:5] + [resource])
    return ident


def load_policy(path: str | Path, *, catalog_id: str | None = None) -> Policy:
    doc = load_yaml(path)
    return policy_from_doc(doc, catalog_id=catalog_id)


def loads_policy(text: str, name: str = "<policy>", *, catalog_id: str | None = None) -> Policy:
    return policy_from_doc(loads_yaml(text, name), catalog_id=catalog_id)


def policy_from_doc(doc: SourceDoc, *, catalog_id: str | None = None) -> Policy:
    if not isinstance(doc.data, dict):
        raise MMHealthError(f"{doc.file}:1: the policy must be a YAML mapping with version, lf_tags, ... - see docs/governance.md")
    errors = schema_errors(doc)
    if errors:
        raise PolicyError(errors)
    d = doc.data
    # Without an account id, ARNs keep the `{account_id}` placeholder: enough to validate and review, and
    # `plan` / `apply` refuse to run (they would otherwise talk about the wrong account).
    account = catalog_id or d.get("catalog_id") or "{account_id}"
    region = d.get("region", "us-east-1")
    cc = d.get("column_classification", {})
    principals = {}
    for name, p in d["principals"].items():
        raw = p.get("arn") or p.get("account")
        written = raw.replace("{account_id}", account).replace("{region}", region).strip()
        principals[name] = Principal(name, p["type"], p["clearance"], canonical_principal(written),
                                     doc.line(("principals", name)), written)
    grants = []
    for i, g in enumerate(d["grants"]):
        expr = None
        if "tag_expression" in g:
            expr = tuple(sorted((k, tuple(sorted(v))) for k, v in g["tag_expression"].items()))
        grants.append(
            Grant(
                name=g["name"],
                principals=tuple(g["principals"]),
                permissions=frozenset(g["permissions"]),
                grant_option=frozenset(g.get("grant_option", [])),
                line=doc.line(("grants", i)),
                index=i,
                tag_expression=expr,
                resource_type=g.get("resource_type", "TABLE"),
                database=g.get("database"),
                table=g.get("table"),
                columns=tuple(g["columns"]) if "columns" in g else None,
                exclude_columns=tuple(g["exclude_columns"]) if "exclude_columns" in g else None,
                allow_phi_regrant=bool(g.get("allow_phi_regrant", False)),
                allow_phi_write=bool(g.get("allow_phi_write", False)),
                reason=g.get("reason"),
            )
        )
    # Row filters are parsed here, once: every command then works from the same canonical text, and a filter
    # that does not parse stops every command (none may read it as "no filter", which would mean every row).
    filters, filter_errors = [], []
    for i, f in enumerate(d.get("data_cells_filters", [])):
        db, table = f["table"].split(".", 1)
        parsed = None
        if "row_filter" in f:
            try:
                parsed = parse_row_filter(f["row_filter"])
            except RowFilterError as exc:
                where = doc.where(("data_cells_filters", i, "row_filter"))
                filter_errors.append(f"{where}: data cells filter '{f['name']}': row_filter {exc}")
        filters.append(
            CellsFilter(
                name=f["name"], database=db, table=table, row_filter=parsed.canonical if parsed else None,
                columns=tuple(f["columns"]) if "columns" in f else None,
                exclude_columns=tuple(f["exclude_columns"]) if "exclude_columns" in f else None,
                principals=tuple(f["principals"]), line=doc.line(("data_cells_filters", i)), index=i,
                parsed=parsed,
            )
        )
    if filter_errors:
        raise PolicyError(filter_errors)
    um = d.get("unmanaged", {})
    return Policy(
        file=doc.file,
        doc=doc,
        version=d["version"],
        catalog_id=account,
        region=region,
        manifest=d.get("manifest", "target/manifest.json"),
        lf_tags={k: tuple(v) for k, v in d["lf_tags"].items()},
        meta_key=cc.get("meta_key", "sensitivity"),
        classification_tag=cc.get("tag_key", "sensitivity"),
        databases={
            n: Database(n, tuple(db.get("dbt_schemas", ())), dict(db.get("tags", {})), doc.line(("databases", n)),
                        db.get("lake_database"))
            for n, db in d["databases"].items()
        },
        tables=[
            TableTagRule(t["match"], dict(t["tags"]), doc.line(("tables", i))) for i, t in enumerate(d.get("tables", []))
        ],
        principals=principals,
        grants=grants,
        filters=filters,
        unmanaged_principals=tuple(
            canonical_principal(p.replace("{account_id}", account)) for p in um.get("principals", [])
        ),
        unmanaged_resources=tuple(um.get("resources", [])),
    )


class PolicyError(MMHealthError):
    """A policy that fails the schema or the meaning checks; carries every finding, not just the first."""

    def __init__(self, findings: list[str]):
        self.findings = findings
        if len(findings) == 1:  # one problem, one line
            super().__init__(findings[0])
        else:
            super().__init__(f"{len(findings)} problem(s) in the policy:\n  " + "\n  ".join(findings))
