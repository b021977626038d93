"""Engine differences of the view compiler, and only here: DuckDB (the local lake) and Athena (Trino SQL over
HealthLake / Glue tables). The compiler speaks in these methods; each returns SQL text.

Why Athena unnests positions: UNNEST of an array of ROWs in Trino expands the rows' fields into columns, so
`UNNEST(x) AS u(v, i)` would not even have the right arity. Unnesting `sequence(1, cardinality(x))` and reading
`element_at(x, i)` keeps one column per element whatever its type (the project's `mmh_explode` macro does the
same)."""

from __future__ import annotations

from mmhealth.views.schema import SqlType


def lit(s: str) -> str:
    return "'" + str(s).replace("'", "''") + "'"


def ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class Dialect:
    name = "abstract"

    # --- literals and types -------------------------------------------------------------------------------
    def bool(self, v: bool) -> str:
        return "TRUE" if v else "FALSE"

    def type(self, t: SqlType) -> str:
        raise NotImplementedError

    def cast(self, sql: str, t: SqlType) -> str:
        return f"CAST({sql} AS {self.type(t)})"

    def null(self, t: SqlType) -> str:
        return self.cast("NULL", t)

    # --- lists --------------------------------------------------------------------------------------------
    def transform(self, lst: str, var: str, body: str) -> str:
        raise NotImplementedError

    def filter(self, lst: str, var: str, pred: str) -> str:
        raise NotImplementedError

    def flatten(self, lst: str) -> str:
        return f"flatten({lst})"

    def length(self, lst: str) -> str:
        raise NotImplementedError

    def element(self, lst: str, i: str) -> str:
        """1-based; null when out of range."""
        raise NotImplementedError

    def array(self, items: list[str]) -> str:
        raise NotImplementedError

    def empty_list(self, elem: SqlType) -> str:
        return self.cast(self.array([]), elem.list_of())

    def join(self, lst: str, sep: str) -> str:
        raise NotImplementedError

    def concat_lists(self, a: str, b: str) -> str:
        return f"concat({a}, {b})"

    # --- strings, JSON ------------------------------------------------------------------------------------
    def json_string(self, j: str, path: str) -> str:
        raise NotImplementedError

    def json_value(self, j: str, path: str) -> str:
        raise NotImplementedError

    def json_list(self, j: str) -> str:
        """A JSON value as a list of JSON values (null when it is not an array)."""
        raise NotImplementedError

    def json_scalar_text(self, j: str) -> str:
        """The text of a JSON scalar (a string without its quotes, a number or boolean as written)."""
        raise NotImplementedError

    def regexp_extract(self, s: str, pattern: str, group: int) -> str:
        return f"regexp_extract({s}, {lit(pattern)}, {group})"

    def regexp_like(self, s: str, pattern: str) -> str:
        raise NotImplementedError

    def to_varchar(self, sql: str) -> str:
        return f"CAST({sql} AS VARCHAR)"

    def decimal_text(self, sql: str) -> str:
        """A double as the shortest decimal text that reads back as it ('1.0', '0.25')."""
        raise NotImplementedError

    def last_day_of_month(self, date_sql: str) -> str:
        raise NotImplementedError

    def fail(self, message_sql: str, t: SqlType) -> str:
        """An expression of type `t` that stops the query with the message when it is evaluated (only when: it
        sits in a CASE branch)."""
        raise NotImplementedError

    def timestamp(self, sql: str) -> str:
        """An ISO instant string as a timestamp with time zone (null when it is not one)."""
        raise NotImplementedError

    def timestamp_floor(self) -> str:
        raise NotImplementedError

    # --- joins --------------------------------------------------------------------------------------------
    def unnest(self, lst: str, alias: str, outer: bool) -> tuple[str | None, str | None, str, str]:
        """(join clause, select-list items of a new query level, element sql, 1-based ordinal sql) for one row per
        element of `lst` (one of the first two is None); with `outer` a row whose list is empty or null is kept
        once, with null element and ordinal."""
        raise NotImplementedError

    def table(self, schema: str, table: str) -> str:
        return f"{ident(schema)}.{ident(table)}"


class DuckDB(Dialect):
    name = "duckdb"

    def type(self, t: SqlType) -> str:
        if t.kind == "list":
            return self.type(t.elem) + "[]"
        if t.kind == "struct":
            return "STRUCT(" + ", ".join(f"{ident(n)} {self.type(c)}" for n, c in t.fields) + ")"
        if t.kind == "json":
            return "JSON"
        return {"varchar": "VARCHAR", "bigint": "BIGINT", "double": "DOUBLE", "boolean": "BOOLEAN",
                "integer": "INTEGER", "date": "DATE", "timestamp": "TIMESTAMP"}[t.prim]

    def transform(self, lst, var, body):
        return f"list_transform({lst}, {var} -> {body})"

    def filter(self, lst, var, pred):
        return f"list_filter({lst}, {var} -> {pred})"

    def length(self, lst):
        return f"len({lst})"

    def element(self, lst, i):
        return f"list_extract({lst}, {i})"

    def array(self, items):
        return "[" + ", ".join(items) + "]"

    def join(self, lst, sep):
        return f"array_to_string({lst}, {sep})"

    def concat_lists(self, a, b):
        return f"list_concat({a}, {b})"

    def json_string(self, j, path):
        return f"json_extract_string({j}, {lit(path)})"

    def json_value(self, j, path):
        return f"json_extract({j}, {lit(path)})"

    def json_list(self, j):
        return f"TRY_CAST({j} AS JSON[])"

    def json_scalar_text(self, j):
        return f"json_extract_string({j}, '$')"

    def regexp_like(self, s, pattern):
        return f"regexp_matches({s}, {lit(pattern)})"

    def decimal_text(self, sql):
        return f"CAST(CAST({sql} AS DOUBLE) AS VARCHAR)"

    def last_day_of_month(self, date_sql):
        return f"last_day(CAST({date_sql} AS DATE))"

    def fail(self, message_sql, t):
        return self.cast(f"error({message_sql})", t)

    def timestamp(self, sql):
        return f"TRY_CAST({sql} AS TIMESTAMPTZ)"

    def timestamp_floor(self):
        return "CAST('1900-01-01 00:00:00+00' AS TIMESTAMPTZ)"

    def unnest(self, lst, alias, outer):
        # in the select list, as the project's mmh_explode does: DuckDB then plans the resource's filters (the
        # current-version anti-join) before the unnest; a lateral UNNEST join made them ~30x slower at 10,000
        # patients (benchmarks/views.md)
        v, i = ident(f"{alias}_v"), ident(f"{alias}_i")
        if outer:
            pairs = (f"CASE WHEN COALESCE(len({lst}), 0) > 0 THEN list_transform({lst}, (x, n) -> "
                     f"struct_pack(v := x, i := n)) ELSE [NULL] END")
            return None, f"unnest({pairs}) AS {v}", f"r.{v}.v", f"r.{v}.i"
        return None, f"unnest({lst}) AS {v}, generate_subscripts({lst}, 1) AS {i}", f"r.{v}", f"r.{i}"


class Athena(Dialect):
    name = "athena"

    def type(self, t: SqlType) -> str:
        if t.kind == "list":
            return f"ARRAY({self.type(t.elem)})"
        if t.kind == "struct":
            return "ROW(" + ", ".join(f"{ident(n)} {self.type(c)}" for n, c in t.fields) + ")"
        if t.kind == "json":
            return "JSON"
        return {"varchar": "VARCHAR", "bigint": "BIGINT", "double": "DOUBLE", "boolean": "BOOLEAN",
                "integer": "INTEGER", "date": "DATE", "timestamp": "TIMESTAMP(6)"}[t.prim]

    def transform(self, lst, var, body):
        return f"transform({lst}, {var} -> {body})"

    def filter(self, lst, var, pred):
        return f"filter({lst}, {var} -> {pred})"

    def length(self, lst):
        return f"cardinality({lst})"

    def element(self, lst, i):
        return f"element_at({lst}, {i})"

    def array(self, items):
        return "ARRAY[" + ", ".join(items) + "]"

    def join(self, lst, sep):
        return f"array_join({lst}, {sep})"

    def json_string(self, j, path):
        return f"json_extract_scalar({j}, {lit(path)})"

    def json_value(self, j, path):
        return f"json_extract({j}, {lit(path)})"

    def json_list(self, j):
        return f"TRY_CAST({j} AS ARRAY(JSON))"

    def json_scalar_text(self, j):
        return f"json_extract_scalar({j}, '$')"

    def regexp_like(self, s, pattern):
        return f"regexp_like({s}, {lit(pattern)})"

    def decimal_text(self, sql):
        return f"CAST(CAST({sql} AS DOUBLE) AS VARCHAR)"

    def last_day_of_month(self, date_sql):
        return f"last_day_of_month(CAST({date_sql} AS DATE))"

    def fail(self, message_sql, t):
        # a cast the engine refuses, with the message as the value it quotes; the message is not constant (it
        # names a count), so no optimizer folds it into a planning error for rows that never reach it
        return self.cast(f"CAST({message_sql} AS INTEGER)", t)

    def timestamp(self, sql):
        return f"try(from_iso8601_timestamp({sql}))"

    def timestamp_floor(self):
        return "from_iso8601_timestamp('1900-01-01T00:00:00Z')"

    def unnest(self, lst, alias, outer):
        positions = (f"IF(COALESCE(cardinality({lst}), 0) > 0, sequence(1, cardinality({lst})), "
                     f"CAST(ARRAY[] AS ARRAY(BIGINT)))")
        if outer:
            return (f"LEFT JOIN UNNEST({positions}) AS {alias}(i) ON TRUE", None,
                    f"element_at({lst}, {alias}.i)", f"{alias}.i")
        return f"CROSS JOIN UNNEST({positions}) AS {alias}(i)", None, f"element_at({lst}, {alias}.i)", f"{alias}.i"


DIALECTS = {"duckdb": DuckDB(), "athena": Athena()}


def get_dialect(name: str) -> Dialect:
    from mmhealth.errors import MMHealthError

    if name not in DIALECTS:
        raise MMHealthError(f"--dialect {name}: unknown SQL dialect - choose duckdb or athena")
    return DIALECTS[name]
