"""boto3 at the edge: read Lake Formation's live state for the governed scope, and write changes in batches.

The number of calls grows with tables plus principals, never their product: permissions come from one
paginated catalog-wide `ListPermissions` scan (tag-expression grants keep the grant count near the number of
principals), LF-Tags of a database or table come from one `GetResourceLFTags` each (two where the endpoint does
not return column tags with the table, as moto does), data cells filters from one paginated listing per database.

`ListPermissions` is called with no principal or resource filter on purpose: unfiltered, it returns the raw
explicit grants (named, wildcard and tag-expression ones); with filters it returns computed effective
permissions (Lake Formation team, quoted in hashicorp/terraform-provider-aws#44574), which must not be diffed."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from mmhealth.governance.desired import Scope
from mmhealth.governance.policy import canonical_principal
from mmhealth.governance.state import State, filter_from_api, merge_entries, res_from_api

BATCH_SIZE = 20  # BatchGrantPermissions / BatchRevokePermissions accept at most 20 entries


def make_client(region: str, endpoint_url: str | None = None, profile: str | None = None):
    import boto3
    from botocore.config import Config

    session = boto3.session.Session(profile_name=profile, region_name=region)
    # Standard retry mode; the attempt count is left to AWS_MAX_ATTEMPTS / the profile so operators can tune it.
    return session.client("lakeformation", endpoint_url=endpoint_url, config=Config(retries={"mode": "standard"}))


class Gateway:
    """One Lake Formation client (and optionally a second one for the data cells filter calls, which the tests
    point at a botocore Stubber because moto lacks them), counting every call it makes."""

    def __init__(self, client, catalog_id: str, filters_client=None):
        self.client = client
        self.filters_client = filters_client or client
        self.catalog_id = catalog_id
        self.calls: Counter[str] = Counter()

    def call(self, op: str, **kwargs):
        client = self.filters_client if "data_cells_filter" in op else self.client
        self.calls[op] += 1
        return getattr(client, op)(**kwargs)

    def paged(self, op: str, items_key: str, **kwargs):
        token = None
        while True:
            resp = self.call(op, **kwargs, **({"NextToken": token} if token else {}))
            yield from resp.get(items_key) or []
            token = resp.get("NextToken")
            if not token:
                return


@dataclass
class LiveRead:
    state: State
    warnings: list[str] = field(default_factory=list)
    out_of_scope: int = 0  # permission rows outside the governed scope or for unmanaged principals


def _error_code(exc) -> str:
    return getattr(exc, "response", {}).get("Error", {}).get("Code", type(exc).__name__)


def _tag_dict(tags, keys, warnings, where) -> dict[str, str]:
    out = {}
    for t in tags or []:
        if t["TagKey"] not in keys:
            continue
        values = t.get("TagValues") or []
        if len(values) != 1:
            warnings.append(f"{where}: LF-Tag '{t['TagKey']}' has {len(values)} values {values}; expected exactly one")
        if values:
            out[t["TagKey"]] = sorted(values)[0]
    return out


def read_live(gw: Gateway, scope: Scope, progress=None) -> LiveRead:
    """Live state of the governed scope; `progress(n)` is called as tables are read (one call or two each)."""
    from botocore.exceptions import ClientError

    cat = gw.catalog_id
    read = LiveRead(State())
    st = read.state

    for t in gw.paged("list_lf_tags", "LFTags", CatalogId=cat, MaxResults=1000):
        if t["TagKey"] in scope.tag_keys:
            st.lf_tags[t["TagKey"]] = frozenset(t.get("TagValues") or [])

    rows = []
    for row in gw.paged("list_permissions", "PrincipalResourcePermissions", CatalogId=cat, MaxResults=1000):
        res, res_cat = res_from_api(row.get("Resource") or {})
        raw = (row.get("Principal") or {}).get("DataLakePrincipalIdentifier", "")
        principal = canonical_principal(raw)
        if principal in scope.unmanaged_principals or not scope.owns_res(res, res_cat):
            read.out_of_scope += 1
            continue
        rows.append((principal, res, row.get("Permissions") or [], row.get("PermissionsWithGrantOption") or []))
        st.spelling.setdefault(principal, raw)
    st.permissions = merge_entries(rows)

    unreadable: list[tuple[str, str]] = []

    def get_tags(resource, where):
        try:
            return gw.call("get_resource_lf_tags", CatalogId=cat, Resource=resource, ShowAssignedLFTags=True)
        except ClientError as exc:
            unreadable.append((where, _error_code(exc)))
            return {}

    keys = scope.tag_keys
    for db in sorted(scope.databases):
        if scope.resource_unmanaged(db):
            continue
        resp = get_tags({"Database": {"CatalogId": cat, "Name": db}}, db)
        st.resource_tags[db] = _tag_dict(resp.get("LFTagOnDatabase"), keys, read.warnings, db)
    for fqn, columns in scope.tables.items():
        db, name = fqn.split(".", 1)
        resp = get_tags({"Table": {"CatalogId": cat, "DatabaseName": db, "Name": name}}, fqn)
        st.resource_tags[fqn] = _tag_dict(resp.get("LFTagsOnTable"), keys, read.warnings, fqn)
        col_rows = resp.get("LFTagsOnColumns")
        if col_rows is None and columns and resp:
            # Some endpoints only answer column tags when asked for the columns by name.
            resp2 = get_tags({"TableWithColumns": {"CatalogId": cat, "DatabaseName": db, "Name": name,
                                                   "ColumnNames": list(columns)}}, fqn)
            col_rows = resp2.get("LFTagsOnColumns")
        if progress:
            progress(1)
        by_col = {c["Name"]: c.get("LFTags") for c in col_rows or []}
        for col in columns:
            st.resource_tags[f"{fqn}.{col}"] = _tag_dict(by_col.get(col), keys, read.warnings, f"{fqn}.{col}")
    if unreadable:
        codes = Counter(code for _, code in unreadable)
        read.warnings.append(
            f"could not read the LF-Tags of {len(unreadable)} resource(s) ({', '.join(f'{c} x{n}' for c, n in codes.items())}; "
            f"first: {unreadable[0][0]}) - treated as untagged; a table missing from Glue needs `dbt run` (marts) or "
            "`mmhealth ingest --lake s3://...` (lake_meta tables) first"
        )

    for db in sorted(scope.databases):
        if scope.resource_unmanaged(db):
            continue
        for f in gw.paged("list_data_cells_filter", "DataCellsFilters",
                          Table={"CatalogId": cat, "DatabaseName": db, "TableWildcard": {}}, MaxResults=1000):
            spec = filter_from_api(f)
            if f.get("TableCatalogId", cat) != cat or scope.resource_unmanaged(spec.database, spec.table):
                continue
            st.filters[f"{spec.database}.{spec.table}/{spec.name}"] = spec

    try:
        settings = gw.call("get_data_lake_settings", CatalogId=cat).get("DataLakeSettings") or {}
    except ClientError as exc:
        read.warnings.append(f"could not read data lake settings ({_error_code(exc)})")
        settings = {}
    for which in ("CreateDatabaseDefaultPermissions", "CreateTableDefaultPermissions"):
        for row in settings.get(which) or []:
            if (row.get("Principal") or {}).get("DataLakePrincipalIdentifier") == "IAM_ALLOWED_PRINCIPALS":
                read.warnings.append(
                    f"data lake settings: {which} grants IAM_ALLOWED_PRINCIPALS, so new "
                    f"{'databases' if 'Database' in which else 'tables'} are governed by IAM alone until revoked - "
                    "clear it in the Lake Formation console (Data Catalog settings)"
                )
    return read
