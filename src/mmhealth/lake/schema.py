"""Table schemas as plain JSON trees, merged across Parquet parts and rendered as Hive/Glue types.

A table is made of parts written at different times from different files, so its schema is the union of
theirs, merged by name at every depth (a struct field one part lacks is simply absent there: Athena and DuckDB
both read it as NULL). The tree is kept in the manifest, so Glue can be updated without reading S3."""

from __future__ import annotations

# A type is a str (leaf: "string", "bigint", ...) or {"struct": [[name, type], ...]} | {"list": type} |
# {"map": [key_type, value_type]}.
Type = object


def from_arrow(t) -> Type:
    import pyarrow as pa

    if isinstance(t, pa.ExtensionType):
        t = t.storage_type
    if pa.types.is_struct(t):
        return {"struct": [[t.field(i).name, from_arrow(t.field(i).type)] for i in range(t.num_fields)]}
    if pa.types.is_map(t):
        return {"map": [from_arrow(t.key_type), from_arrow(t.item_type)]}
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t):
        return {"list": from_arrow(t.value_type)}
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return "string"
    if pa.types.is_boolean(t):
        return "boolean"
    if pa.types.is_int64(t) or pa.types.is_uint32(t) or pa.types.is_uint64(t):
        return "bigint"
    if pa.types.is_integer(t):
        return "int"
    if pa.types.is_float32(t):
        return "float"
    if pa.types.is_floating(t) or pa.types.is_decimal(t):
        return "double"
    if pa.types.is_timestamp(t):
        return "timestamp"
    if pa.types.is_date(t):
        return "date"
    if pa.types.is_binary(t) or pa.types.is_large_binary(t):
        return "binary"
    return "string"  # an all-null column too: Glue needs a type, and string accepts whatever a later run brings


def schema_of_parquet(path) -> tuple[list[list], str]:
    """The part's column tree, and a fingerprint of its exact Arrow schema (names, order, types, nullability).

    Parts of one table that share a fingerprint can be read as one file list without DuckDB's union_by_name,
    which opens every file's footer when a query is planned - thousands of them for a variant store of one
    Parquet file per VCF."""
    import hashlib

    import pyarrow.parquet as pq

    schema = pq.read_schema(path).remove_metadata()
    fingerprint = hashlib.sha256(str(schema).encode()).hexdigest()[:16]
    return [[f.name, from_arrow(f.type)] for f in schema], fingerprint


_WIDEN = {("int", "bigint"): "bigint", ("float", "double"): "double", ("int", "double"): "double",
          ("bigint", "double"): "double", ("int", "float"): "double", ("bigint", "float"): "double"}


def merge_type(a: Type, b: Type) -> Type:
    if a == b:
        return a
    if isinstance(a, dict) and isinstance(b, dict) and a.keys() == b.keys():
        kind = next(iter(a))
        if kind == "struct":
            return {"struct": merge_fields(a["struct"], b["struct"])}
        if kind == "list":
            return {"list": merge_type(a["list"], b["list"])}
        if kind == "map":
            return {"map": [merge_type(a["map"][0], b["map"][0]), merge_type(a["map"][1], b["map"][1])]}
    if isinstance(a, str) and isinstance(b, str):
        return _WIDEN.get((a, b)) or _WIDEN.get((b, a)) or "string"
    return "string"  # irreconcilable shapes: Athena would fail on one of them either way


def merge_fields(a: list[list], b: list[list]) -> list[list]:
    out = [[n, t] for n, t in a]
    index = {n: i for i, (n, _) in enumerate(out)}
    for name, t in b:
        if name in index:
            out[index[name]][1] = merge_type(out[index[name]][1], t)
        else:
            index[name] = len(out)
            out.append([name, t])
    return out


def hive_type(t: Type) -> str:
    if isinstance(t, str):
        return t
    kind = next(iter(t))
    if kind == "struct":
        return "struct<" + ",".join(f"{n}:{hive_type(c)}" for n, c in t["struct"]) + ">"
    if kind == "list":
        return f"array<{hive_type(t['list'])}>"
    return f"map<{hive_type(t['map'][0])},{hive_type(t['map'][1])}>"
