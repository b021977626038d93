"""A ViewDefinition to one SQL query over the lake's resource table.

The select tree (columns, nested selects, forEach / forEachOrNull / repeat, unionAll) is brought to a sum of
products: a list of *branches*, each a plain chain `FROM <table> r [CROSS|LEFT] JOIN UNNEST(...) ...` with filters
and one expression per column, and the query is their UNION ALL. Both engines run that shape without lateral
subqueries:

- sibling selects multiply (a branch of each, joined), a nested select refines its parent's element;
- forEach unnests the collection (WITH ORDINALITY, for %rowIndex); a forEach over at most one item is a filter;
- forEachOrNull whose subtree only has columns is a LEFT JOIN UNNEST; otherwise it is two branch sets, the
  items and one all-null row for resources whose collection is empty (the spec's processing algorithm);
- unionAll concatenates its members' branches; repeat unrolls its paths to the depth the lake's schema has
  (every level is a struct type of its own), one branch per path sequence; %rowIndex inside a repeat is its
  pre-order position, a window over the unrolled levels.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field, replace

from mmhealth.views.definition import Column, Select, ViewDefinition, ViewError, _collect
from mmhealth.views.dialect import Dialect, ident, lit
from mmhealth.views.expr import Ctx, ExprCompiler, Holes, PathError, Val
from mmhealth.views.schema import Shape, SqlType

_BIGINT = SqlType.of("bigint")
_DECLARED = {"boolean": "boolean", "integer": "bigint", "positiveInt": "bigint", "unsignedInt": "bigint",
             "integer64": "bigint", "decimal": "double"}
_ROW_TOKEN = re.compile("\x00R(\\d+)\x00")


@dataclass
class Step:
    join: str | None = None  # a join clause (Athena), or None
    level: str | None = None  # select-list unnest items of a new query level (DuckDB), or None
    source: str | None = None  # the list unnested
    outer: bool = False
    filter: str | None = None
    ordinal: str | None = None  # 1-based position SQL of the element this step produced
    owner: int | None = None  # the repeat that made it


@dataclass
class ColVal:
    sql: str | None  # None: a typed null
    type: SqlType | None
    rowindex: bool = False  # the column is `%rowIndex` itself


@dataclass
class Branch:
    steps: list[Step] = field(default_factory=list)
    cols: list[tuple[str, ColVal]] = field(default_factory=list)
    choices: list[tuple[int, int]] = field(default_factory=list)  # (union or repeat id, member)
    order: dict[int, list[str]] = field(default_factory=dict)  # repeat id -> pre-order key parts (SQL ints)

    def join(self, other: "Branch") -> "Branch":
        return Branch(self.steps + other.steps, self.cols + other.cols, self.choices + other.choices,
                      {**self.order, **other.order})


def _product(parts: list[list[Branch]]) -> list[Branch]:
    rows = [Branch()]
    for part in parts:
        rows = [a.join(b) for a in rows for b in part]
    return rows


def _has_iteration(s: Select) -> bool:
    if s.for_each or s.for_each_or_null or s.repeat:
        return True
    return any(_has_iteration(c) for c in (*s.select, *s.union_all))


def _flat(s: Select) -> bool:
    """Only columns below (plain nested selects allowed): a LEFT JOIN gives forEachOrNull exactly."""
    return not s.union_all and all(_flat(c) and not _has_iteration(c) for c in s.select)


@dataclass(frozen=True)
class CompiledView:
    view: ViewDefinition
    sql: str
    columns: list[tuple[str, SqlType]]  # output columns in order, with SQL types
    dialect: str


@dataclass
class Target:
    """Where the compiled SQL reads from and how it filters resource versions."""

    table_sql: str | None  # FROM this (None: the lake has no such table -> a typed empty result)
    version_filter: str | None = None  # boolean over alias `r`, or None
    root_alias: str = "r"


class ViewCompiler:
    def __init__(self, view: ViewDefinition, dialect: Dialect, root: Shape | None, target: Target,
                 holes: Holes | None = None, repeat_depth: int = 16):
        self.view = view
        self.d = dialect
        self.target = target
        self.holes = holes or Holes()
        self.x = ExprCompiler(dialect, root, view.constants, self.holes, target.root_alias)
        self.repeat_depth = repeat_depth
        self._ids = itertools.count(1)
        self._aliases = itertools.count(1)
        self.declared = {c.name: c for c in view.columns()}
        self.col_types: dict[str, SqlType] = {}
        self._rids: list[int] = []

    # --- errors --------------------------------------------------------------------------------------------------
    def _path(self, text: str, ctx: Ctx, column: str | None = None) -> Val:
        try:
            return self.x.compile(text, ctx)
        except PathError as e:
            raise ViewError(self.view.name, str(e), column, text) from None

    # --- columns -------------------------------------------------------------------------------------------------
    def column(self, col: Column, ctx: Ctx) -> tuple[str, ColVal]:
        bare_index = col.path.strip() == "%rowIndex"
        v = self._path(col.path, ctx, col.name)
        if v.sql and _ROW_TOKEN.search(v.sql) and not bare_index:
            raise ViewError(self.view.name, "%rowIndex of a repeat can only be a column of its own here",
                            col.name, col.path)
        declared = SqlType.of(_DECLARED.get(col.type or "", "varchar")) if col.type else None
        try:
            if col.collection:
                return col.name, self._collection(v, declared, col)
            return col.name, self._scalar(v, declared, col, bare_index)
        except PathError as e:
            raise ViewError(self.view.name, str(e), col.name, col.path) from None

    def _item_sql(self, v: Val, declared: SqlType | None, var: str | None = None) -> tuple[str, SqlType]:
        """One item as the column's SQL type."""
        s = var or v.sql
        t = v.t
        if t.kind == "root":
            raise PathError("a column cannot hold the whole resource")
        if t.kind == "json":
            if declared is None and t.fhir and t.fhir[:1].isupper():
                return f"CAST({s} AS VARCHAR)", SqlType.of("varchar")
            s = self.d.json_scalar_text(s)
            if declared and declared.prim != "varchar":
                return f"TRY_CAST({s} AS {self.d.type(declared)})", declared
            return s, SqlType.of("varchar")
        own = t.sql_type() if t.kind in ("prim", "struct") else None
        if declared is None:
            return s, own or SqlType.of("varchar")
        if t.kind == "struct":
            raise PathError(f"the path gives a {t.fhir or 'complex element'}, not a {declared.prim} value: "
                            "select one of its fields")
        if own == declared:
            return s, declared
        if t.kind == "prim" and t.prim == "boolean" and declared.prim == "varchar":
            return f"CASE WHEN {s} THEN 'true' WHEN NOT {s} THEN 'false' END", declared
        if t.kind == "prim" and t.prim == "decimal" and declared.prim == "varchar":
            return self.d.decimal_text(s), declared
        return f"CAST({s} AS {self.d.type(declared)})", declared

    def _scalar(self, v: Val, declared: SqlType | None, col: Column, bare_index: bool) -> ColVal:
        if v.empty:
            return ColVal(None, declared, bare_index)
        v = self.x.single(v, f"column {col.name!r} (not a collection)")
        sql, t = self._item_sql(v, declared)
        self.col_types.setdefault(col.name, t)
        return ColVal(sql, t, bare_index)

    def _collection(self, v: Val, declared: SqlType | None, col: Column) -> ColVal:
        if v.empty:
            t = (declared or SqlType.of("varchar")).list_of()
            return ColVal(self.d.empty_list(t.elem), t)
        lst = self.x.as_list(v)
        var = self.x.var()
        item, t = self._item_sql(v, declared, var)
        if item != var:
            lst = self.d.transform(lst, var, item)
        lt = t.list_of()
        self.col_types.setdefault(col.name, lt)
        return ColVal(f"COALESCE({lst}, {self.d.empty_list(t)})", lt)

    # --- selects -------------------------------------------------------------------------------------------------
    def rows(self, s: Select, ctx: Ctx) -> list[Branch]:
        if s.repeat:
            return self.repeat(s, ctx)
        if s.for_each is not None or s.for_each_or_null is not None:
            return self.for_each(s, ctx)
        return self.body(s, ctx)

    def body(self, s: Select, ctx: Ctx) -> list[Branch]:
        parts: list[list[Branch]] = []
        if s.column:
            parts.append([Branch(cols=[self.column(c, ctx) for c in s.column])])
        for child in s.select:
            parts.append(self.rows(child, ctx))
        if s.union_all:
            uid = next(self._ids)
            members = []
            for k, u in enumerate(s.union_all):
                for b in self.rows(u, ctx):
                    b.choices.append((uid, k))
                    members.append(b)
            parts.append(members)
        return _product(parts)

    def _columns_of(self, s: Select) -> list[Column]:
        return _collect(self.view, s, [])

    def null_row(self, s: Select) -> Branch:
        """forEachOrNull over an empty collection: one row, every column below null, %rowIndex 0."""
        cols = []
        for c in self._columns_of(s):
            if c.path.strip() == "%rowIndex":
                cols.append((c.name, ColVal("0", _BIGINT, True)))
            else:
                cols.append((c.name, ColVal(None, None)))
        return Branch(cols=cols)

    def for_each(self, s: Select, ctx: Ctx) -> list[Branch]:
        or_null = s.for_each_or_null is not None
        path = s.for_each_or_null if or_null else s.for_each
        items = self._path(path, ctx)
        inner = Select(column=s.column, select=s.select, union_all=s.union_all)
        if items.empty:
            return [self.null_row(inner)] if or_null else []
        if items.t.kind == "root":
            raise ViewError(self.view.name, "forEach over the resource itself", None, path)
        if not items.many:
            elem = Val(items.sql, False, items.t)
            present = f"({items.sql} IS NOT NULL)"
            if or_null and _flat(inner):
                out = self.body(inner, Ctx(elem, "0", elem))
                for b in out:
                    b.cols = [(n, c if c.rowindex or c.sql is None else replace(c, sql=f"CASE WHEN {present} THEN {c.sql} END"))
                              for n, c in b.cols]
                return out
            out = self.body(inner, Ctx(elem, "0", elem))
            for b in out:
                b.steps.insert(0, Step(filter=present))
            if or_null:
                nb = self.null_row(inner)
                nb.steps.append(Step(filter=f"({items.sql} IS NULL)"))
                return out + [nb]
            return out
        alias = f"u{next(self._aliases)}"
        if or_null and _flat(inner):
            join, level, elem_sql, ordinal = self.d.unnest(items.sql, alias, outer=True)
            elem = Val(elem_sql, False, items.t)
            out = self.body(inner, Ctx(elem, f"(COALESCE({ordinal}, 1) - 1)", elem))
            for b in out:
                b.steps.insert(0, Step(join=join, level=level, source=items.sql, outer=True, ordinal=ordinal))
                b.cols = [(n, c if c.rowindex or c.sql is None else replace(c, sql=f"CASE WHEN {ordinal} IS NOT NULL THEN {c.sql} END"))
                          for n, c in b.cols]
            return out
        join, level, elem_sql, ordinal = self.d.unnest(items.sql, alias, outer=False)
        elem = Val(elem_sql, False, items.t)
        out = self.body(inner, Ctx(elem, f"({ordinal} - 1)", elem))
        for b in out:
            b.steps.insert(0, Step(join=join, level=level, source=items.sql, ordinal=ordinal))
        if or_null:
            nb = self.null_row(inner)
            nb.steps.append(Step(filter=f"COALESCE({self.d.length(items.sql)}, 0) = 0"))
            out.append(nb)
        return out

    def repeat(self, s: Select, ctx: Ctx) -> list[Branch]:
        rid = next(self._ids)
        inner = Select(column=s.column, select=s.select, union_all=s.union_all)
        token = f"\x00R{rid}\x00"
        out: list[Branch] = []
        frontier: list[tuple[list[Step], Val, list[str]]] = [([], ctx.focus, [])]
        seq = 0
        for depth in range(self.repeat_depth + 1):
            level: list[tuple[list[Step], Val, list[str]]] = []
            for steps, focus, key in frontier:
                for j, p in enumerate(s.repeat):
                    items = self._path(p, Ctx(focus, ctx.row_index, focus))
                    if items.empty:
                        continue
                    if items.t.kind in ("prim", "root"):
                        continue  # repeat walks elements; primitives have no children to walk
                    if items.many:
                        alias = f"u{next(self._aliases)}"
                        join, lvl, elem_sql, ordinal = self.d.unnest(items.sql, alias, outer=False)
                        step = Step(join=join, level=lvl, source=items.sql, ordinal=ordinal, owner=rid)
                    else:
                        elem_sql, ordinal = items.sql, "1"
                        step = Step(filter=f"({items.sql} IS NOT NULL)", owner=rid)
                    level.append((steps + [step], Val(elem_sql, False, items.t), key + [str(j), ordinal]))
            if not level:
                return out
            if depth == self.repeat_depth:
                # deeper than we unrolled: stop the query rather than return a truncated traversal
                for steps, _focus, _key in level:
                    msg = lit(f"view {self.view.name}: repeat {list(s.repeat)} is deeper than {self.repeat_depth} "
                              "levels; compile with a larger repeat depth")
                    guard = Branch(steps=list(steps), cols=[
                        (c.name, ColVal(self.d.fail(msg, SqlType.of("varchar")) if i == 0 else None, None))
                        for i, c in enumerate(self._columns_of(inner))])
                    out.append(guard)
                return out
            for steps, elem, key in level:
                body = self.body(inner, Ctx(elem, token, elem))
                for b in body:
                    b.steps = list(steps) + b.steps
                    b.choices.append((rid, seq))
                    b.order[rid] = key
                seq += 1
                out.extend(body)
            frontier = level
            if any(_ROW_TOKEN.search(c.sql or "") for b in out for _, c in b.cols) and _has_iteration(inner):
                raise ViewError(self.view.name, "%rowIndex inside a repeat whose body iterates again "
                                                "(forEach/repeat below it) is not supported", None, " | ".join(s.repeat))
        return out

    # --- the query -----------------------------------------------------------------------------------------------
    def compile(self) -> CompiledView:
        root_ctx = Ctx(self.x.root(), "0", self.x.root())
        filters: list[str] = []
        for w in self.view.where:
            v = self._path(w, root_ctx)
            try:
                b = self.x.boolean(v, "a where path")
            except PathError as e:
                raise ViewError(self.view.name, str(e), None, w) from None
            filters.append(self.d.bool(False) if b.empty else f"COALESCE({b.sql}, FALSE)")
        branches = _product([self.rows(s, root_ctx) for s in self.view.select])
        columns = self.view.columns()
        types = self._resolve_types(columns, branches)
        if self.target.table_sql is None or not branches:
            sql = "SELECT " + ", ".join(f"{self.d.null(types[c.name])} AS {ident(c.name)}" for c in columns) + " WHERE FALSE"
            return CompiledView(self.view, sql, [(c.name, types[c.name]) for c in columns], self.d.name)
        if self.target.version_filter:
            filters.append(self.target.version_filter)
        self._rids = self._repeat_ids(branches)
        uses_window = bool(self._rids)
        selects = [self._branch_sql(b, columns, types, filters, uses_window) for b in branches]
        body = "\nUNION ALL\n".join(selects)
        if uses_window:
            body = self._window(body, columns, branches)
        return CompiledView(self.view, body, [(c.name, types[c.name]) for c in columns], self.d.name)

    def _resolve_types(self, columns: list[Column], branches: list[Branch]) -> dict[str, SqlType]:
        types: dict[str, SqlType] = {}
        for c in columns:
            t = None
            if c.type:
                base = SqlType.of(_DECLARED.get(c.type, "varchar"))
                t = base.list_of() if c.collection else base
            if t is None:
                t = self.col_types.get(c.name)
            if t is None:
                for b in branches:
                    for n, cv in b.cols:
                        if n == c.name and cv.type is not None:
                            t = cv.type
                            break
                    if t:
                        break
            if t is None:
                t = SqlType.of("varchar").list_of() if c.collection else SqlType.of("varchar")
            types[c.name] = t
        return types

    def _branch_sql(self, b: Branch, columns: list[Column], types: dict[str, SqlType], filters: list[str],
                    uses_window: bool) -> str:
        cols = dict(b.cols)
        out = []
        for c in columns:
            cv = cols.get(c.name)
            t = types[c.name]
            if cv is None or cv.sql is None:
                out.append(f"{self.d.null(t)} AS {ident(c.name)}")
            elif _ROW_TOKEN.search(cv.sql):
                out.append(f"{self.d.null(t)} AS {ident(c.name)}")
            elif cv.type is not None and cv.type != t and cv.sql != "0":
                out.append(f"CAST({cv.sql} AS {self.d.type(t)}) AS {ident(c.name)}")
            else:
                out.append(f"{cv.sql} AS {ident(c.name)}")
        if uses_window:
            out.extend(self._window_keys(b))
        alias = self.target.root_alias
        joins = [s.join for s in b.steps if s.join]
        levels = [s for s in b.steps if s.level]
        step_filters = [s.filter for s in b.steps if s.filter]
        if not levels:
            sql = f"SELECT {', '.join(out)}\nFROM {self.target.table_sql} AS {alias}"
            if joins:
                sql += "\n" + "\n".join(joins)
            where = list(filters) + step_filters
            if where:
                sql += "\nWHERE " + "\n  AND ".join(where)
            return sql
        # DuckDB: unnest in the select list, one query level per step, the resource filters at the bottom (a
        # lateral CROSS JOIN UNNEST keeps DuckDB from planning the version anti-join and filters below it)
        base_where = list(filters)
        first = levels[0]
        if not first.outer and first.source and f"{alias}." in first.source and not _ROW_TOKEN.search(first.source):
            base_where.append(f"COALESCE({self.d.length(first.source)}, 0) > 0")  # rows it would drop anyway
        src = f"SELECT {self._base_columns(out, levels, step_filters)} FROM {self.target.table_sql} AS {alias}"
        if base_where:
            src += "\n  WHERE " + "\n    AND ".join(base_where)
        for s in levels:
            src = f"SELECT {alias}.*, {s.level}\nFROM (\n{src}\n) AS {alias}"
        sql = f"SELECT {', '.join(out)}\nFROM (\n{src}\n) AS {alias}"
        if step_filters:
            sql += "\nWHERE " + "\n  AND ".join(step_filters)
        return sql

    def _base_columns(self, out: list[str], levels: list[Step], step_filters: list[str]) -> str:
        """Only the resource columns the query reads go up through the unnest levels (DuckDB does not prune a
        `r.*` carried through select-list unnests). Against the FHIR model (dbt) the lake's columns are not known
        yet: all of them."""
        root = self.x.root_shape
        from mmhealth.views.schema import LakeShape

        if not isinstance(root, LakeShape):
            return "*"
        table_cols = {n for n, _ in root.type.fields}
        text = " ".join(out + [s.level or "" for s in levels] + step_filters)
        used = [n for n in dict.fromkeys(re.findall(rf'\b{self.target.root_alias}\."([^"]+)"', text)) if n in table_cols]
        alias = self.target.root_alias
        return ", ".join(f"{alias}.{ident(n)}" for n in used) or "1 AS __one"

    def _repeat_ids(self, branches: list[Branch]) -> list[int]:
        ids = set()
        for b in branches:
            for _, c in b.cols:
                for m in _ROW_TOKEN.finditer(c.sql or ""):
                    ids.add(int(m.group(1)))
        return sorted(ids)

    def _window_keys(self, b: Branch) -> list[str]:
        keys = [f"{self.target.root_alias}.{ident('id')} AS __rk"]
        for rid in self._rids:
            if rid not in b.order:
                keys += [f"{self.d.null(_BIGINT.list_of())} AS __rp{rid}", f"{self.d.null(_BIGINT.list_of())} AS __ro{rid}"]
                continue
            part = [f"CAST({uid * 1000 + k} AS BIGINT)" for uid, k in b.choices if uid != rid]
            part += [f"CAST({s.ordinal} AS BIGINT)" for s in b.steps if s.ordinal and s.owner != rid]
            order = [f"CAST({k} AS BIGINT)" for k in b.order[rid]]
            keys.append(f"{self.d.array(['CAST(0 AS BIGINT)'] + part)} AS __rp{rid}")
            keys.append(f"{self.d.array(order)} AS __ro{rid}")
        return keys

    def _window(self, body: str, columns: list[Column], branches: list[Branch]) -> str:
        outer = []
        token_cols: dict[str, int] = {}
        for b in branches:
            for n, c in b.cols:
                m = _ROW_TOKEN.search(c.sql or "")
                if m:
                    token_cols[n] = int(m.group(1))
        for c in columns:
            rid = token_cols.get(c.name)
            if rid is None:
                outer.append(f"v.{ident(c.name)}")
            else:
                outer.append(f"COALESCE(v.{ident(c.name)}, CASE WHEN v.__ro{rid} IS NOT NULL THEN "
                             f"row_number() OVER (PARTITION BY v.__rk, v.__rp{rid} ORDER BY v.__ro{rid}) - 1 END) "
                             f"AS {ident(c.name)}")
        return f"SELECT {', '.join(outer)}\nFROM (\n{body}\n) AS v"


def compile_view(view: ViewDefinition, dialect: Dialect, root: Shape | None, target: Target,
                 holes: Holes | None = None, repeat_depth: int = 16) -> CompiledView:
    return ViewCompiler(view, dialect, root, target, holes, repeat_depth).compile()
