"""FHIRPath expressions to SQL expressions over one resource row.

A FHIRPath value is a collection. Here every compiled value knows, statically, whether it is at most one item
(`many=False`: a SQL scalar, NULL for the empty collection) or a collection (`many=True`: a SQL list that never
holds NULLs), and what its items are (a struct of the lake, a primitive, a JSON string from an extension, or the
resource row itself). A value the schema proves empty (an element the lake does not have) has no SQL at all
(`sql=None`) and stays empty through every function, which is how a view over a sparse lake still compiles.

Functions the compiler does not know are refused here, with the reason; nothing is evaluated in Python."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace

from mmhealth.views import fhirpath as fp
from mmhealth.views.definition import Constant
from mmhealth.views.dialect import Dialect, ident, lit
from mmhealth.views.schema import JSON, PRIM_SQL, Shape, SqlType, fhir_model

# FHIR type names a choice element can take (value[x], deceased[x], effective[x], ...).
_FHIR_TYPES = ("base64Binary boolean canonical code date dateTime decimal id instant integer integer64 markdown oid "
               "positiveInt string time unsignedInt uri url uuid Address Age Annotation Attachment CodeableConcept "
               "Coding ContactDetail ContactPoint Contributor Count DataRequirement Distance Dosage Duration "
               "Expression HumanName Identifier Meta Money ParameterDefinition Period Quantity Range Ratio Reference "
               "RelatedArtifact SampledData Signature Timing TriggerDefinition UsageContext").split()
_FHIR_TYPE_BY_LOWER = {t.lower(): t for t in _FHIR_TYPES}
_STRINGISH = {"string", "code", "id", "uri", "url", "canonical", "oid", "uuid", "markdown", "base64Binary",
              "date", "dateTime", "instant", "time"}
_PRIM_OF_FHIR = {"boolean": "boolean", "integer": "integer", "positiveInt": "integer", "unsignedInt": "integer",
                 "integer64": "integer", "decimal": "decimal"}


class PathError(Exception):
    """Raised while compiling one path; the caller adds the view and column names."""


@dataclass(frozen=True)
class FType:
    kind: str  # 'root' | 'struct' | 'prim' | 'json' | 'any'
    shape: Shape | None = None
    prim: str = ""  # boolean | integer | decimal | string | date | dateTime | time | instant
    fhir: str | None = None

    def sql_type(self) -> SqlType:
        if self.kind == "prim":
            return SqlType.of(PRIM_SQL.get(self.prim, "varchar"))
        if self.kind == "json":
            return JSON
        if self.shape is not None:
            return self.shape.element_sql_type()
        return SqlType.of("varchar")


STRING = FType("prim", prim="string")
BOOLEAN = FType("prim", prim="boolean")
INTEGER = FType("prim", prim="integer")
DECIMAL = FType("prim", prim="decimal")
ANY = FType("any")


@dataclass(frozen=True)
class Val:
    sql: str | None  # None: statically the empty collection
    many: bool
    t: FType
    guard: str | None = None  # only for the resource row filtered by where(): the row counts when guard holds

    @property
    def empty(self) -> bool:
        return self.sql is None


def empty(t: FType = ANY, many: bool = False) -> Val:
    return Val(None, many, t)


@dataclass(frozen=True)
class Ctx:
    focus: Val
    row_index: str  # SQL of %rowIndex here
    this: Val | None = None


def _type_from_shape(shape: Shape) -> FType:
    if shape.kind == "prim":
        return FType("prim", shape, prim=shape.prim or "string", fhir=shape.fhir_type)
    if shape.kind == "json":
        return FType("json", shape, fhir="Extension" if shape.path and shape.path[-1] in ("extension", "modifierextension") else shape.fhir_type)
    return FType("struct", shape, fhir=shape.fhir_type)


class Holes:
    """Field reads whose presence is decided when the SQL runs (dbt models compiled without a lake). Each is a
    token in the SQL text, rendered at the end, when the typed null's type (every field read below the element)
    is known."""

    def __init__(self):
        self.items: list[tuple[Shape, str]] = []

    def make(self, shape: Shape, present_sql: str) -> str:
        self.items.append((shape, present_sql))
        return f"\x00H{len(self.items) - 1}\x00"

    def render(self, sql: str, render_one) -> str:
        """Replace every hole token with render_one(shape, present_sql, absent_known): holes nest (`a.b` inside
        `a`), and inside the present branch of `a.b` every prefix of it is known present, so those holes render
        as plain reads."""
        import re

        pattern = re.compile("\x00H(\\d+)\x00")

        def walk(text: str, known: frozenset) -> str:
            def one(m) -> str:
                shape, present = self.items[int(m.group(1))]
                parts = shape.dotted.split(".")
                inner_known = known | {".".join(parts[:i]) for i in range(1, len(parts) + 1)}
                inner = walk(present, inner_known)
                if shape.dotted in known:
                    return inner
                return render_one(shape, inner)

            return pattern.sub(one, text)

        return walk(sql, frozenset())


class ExprCompiler:
    """Compiles the paths of one view. `root_alias` is the SQL alias of the resource row."""

    def __init__(self, dialect: Dialect, root: Shape | None, constants: dict[str, Constant], holes: Holes,
                 root_alias: str = "r"):
        self.d = dialect
        self.root_shape = root
        self.constants = constants
        self.holes = holes
        self.root_alias = root_alias
        self._vars = itertools.count(1)

    # --- entry points ------------------------------------------------------------------------------------------
    def root(self) -> Val:
        if self.root_shape is None:
            return empty()
        return Val(self.root_alias, False, FType("root", self.root_shape, fhir=self.root_shape.fhir_type))

    def compile(self, text: str, ctx: Ctx) -> Val:
        try:
            node = fp.parse(text)
        except fp.FhirPathSyntaxError as e:
            raise PathError(f"not FHIRPath: {e}") from None
        return self.expr(node, ctx)

    def var(self) -> str:
        return f"x{next(self._vars)}"

    # --- nodes -----------------------------------------------------------------------------------------------
    def expr(self, node: fp.Node, ctx: Ctx) -> Val:
        if isinstance(node, fp.Literal):
            return self.literal(node.value, node.kind)
        if isinstance(node, fp.This):
            return ctx.this or ctx.focus
        if isinstance(node, fp.EnvVar):
            return self.env(node.name, ctx)
        if isinstance(node, fp.Ident):
            focus = ctx.focus
            if focus.t.kind == "root" and focus.t.shape is not None and node.name == (focus.t.fhir or ""):
                return focus  # `Patient.name` spelled with its type
            return self.member(focus, node.name)
        if isinstance(node, fp.Member):
            return self.member(self.expr(node.target, ctx), node.name)
        if isinstance(node, fp.Index):
            return self.index(self.expr(node.target, ctx), self.expr(node.index, ctx))
        if isinstance(node, fp.Call):
            return self.call(node, ctx)
        if isinstance(node, fp.Unary):
            v = self.expr(node.operand, ctx)
            if node.op == "+":
                return v
            s = self.single(v)
            if s.empty:
                return s
            if s.t.prim not in ("integer", "decimal"):
                raise PathError("unary minus needs a number")
            return Val(f"(-{s.sql})", False, s.t)
        if isinstance(node, fp.Binary):
            return self.binary(node, ctx)
        raise PathError(f"unsupported expression {type(node).__name__}")

    def literal(self, value, kind: str) -> Val:
        if kind == "empty":
            return empty()
        if kind == "boolean":
            return Val(self.d.bool(bool(value)), False, BOOLEAN)
        if kind == "integer":
            return Val(str(int(value)), False, INTEGER)
        if kind == "decimal":
            return Val(f"CAST({float(value)!r} AS DOUBLE)", False, DECIMAL)
        return Val(lit(str(value)), False, FType("prim", prim=kind if kind in ("date", "dateTime", "time") else "string"))

    def env(self, name: str, ctx: Ctx) -> Val:
        if name == "rowIndex":
            return Val(ctx.row_index, False, INTEGER)
        if name in ("resource", "rootResource"):
            return self.root()
        c = self.constants.get(name)
        if c is None:
            raise PathError(f"%{name} is not a constant of this view (nor %rowIndex)")
        if c.type == "boolean":
            return self.literal(c.value, "boolean")
        if c.type in ("integer", "positiveInt", "unsignedInt"):
            return self.literal(c.value, "integer")
        if c.type == "decimal":
            return self.literal(c.value, "decimal")
        if c.type == "integer64":
            return Val(f"CAST({int(c.value)} AS BIGINT)", False, INTEGER)
        return self.literal(c.value, c.type if c.type in ("date", "dateTime", "time") else "string")

    # --- navigation ----------------------------------------------------------------------------------------------
    def field_sql(self, base: Val, shape: Shape) -> str:
        """base.field for one (scalar) base."""
        name = shape.path[-1]
        sql = f"{base.sql}.{ident(name)}"
        if base.guard:
            sql = f"CASE WHEN {base.guard} THEN {sql} END"
        if shape.present is None:
            sql = self.holes.make(shape, sql)
        return sql

    def member(self, v: Val, name: str) -> Val:
        if v.empty:
            return empty(ANY, v.many)
        kind = v.t.kind
        if kind == "json":
            return self.json_member(v, name)
        if kind not in ("root", "struct") or v.t.shape is None:
            if kind == "prim":
                return empty()  # a primitive has no children (its `value` is itself; extensions live elsewhere)
            raise PathError(f"cannot read .{name} here")
        child = v.t.shape.child(name)
        if child is None:
            self._check_choice(v.t.shape, name)
            return empty(ANY, True)
        ct = _type_from_shape(child)
        if not v.many:
            return Val(self.field_sql(v, child), child.is_list, ct)
        x = self.var()
        inner = self.field_sql(Val(x, False, v.t), child)
        mapped = self.d.transform(v.sql, x, inner)
        if child.is_list:
            y = self.var()
            return Val(self.d.flatten(self.d.filter(mapped, y, f"{y} IS NOT NULL")), True, ct)
        return self.not_null_items(mapped, ct)

    def not_null_items(self, lst: str, t: FType) -> Val:
        y = self.var()
        return Val(self.d.filter(lst, y, f"{y} IS NOT NULL"), True, t)

    def _check_choice(self, shape: Shape, name: str) -> None:
        """`value` on an Observation is a choice: FHIRPath needs ofType() to say which typed element to read."""
        candidates = []
        for t in _FHIR_TYPES:
            if shape.child(name + t[0].upper() + t[1:]) is not None:
                candidates.append(t)
        if candidates:
            raise PathError(f"'{name}' is a choice element here ({', '.join(candidates[:6])}"
                            f"{', ...' if len(candidates) > 6 else ''}): say which with {name}.ofType(<type>)")

    def json_member(self, v: Val, name: str) -> Val:
        """A field of JSON kept as text in the lake (extensions). The FHIR model says whether it repeats."""
        spec = fhir_model()["types"].get(v.t.fhir or "", {}).get(name)
        tname, is_list = "", False
        if spec:
            tname = spec.split("@")[0]
            is_list = tname.endswith("*")
            tname = tname.rstrip("*")
        prim = _PRIM_OF_FHIR.get(tname) or ("string" if tname in _STRINGISH or tname in ("string",) else "")
        path = f"$.{name}"

        def one(j: str) -> str:
            if is_list:
                return self.d.json_list(self.d.json_value(j, path))
            if prim:
                text = self.d.json_string(j, path)
                if prim == "boolean":
                    return f"TRY_CAST({text} AS BOOLEAN)"
                if prim == "integer":
                    return f"TRY_CAST({text} AS BIGINT)"
                if prim == "decimal":
                    return f"TRY_CAST({text} AS DOUBLE)"
                return text
            return self.d.json_value(j, path)

        t = FType("prim", prim=prim, fhir=tname) if prim else FType("json", fhir=tname or None)
        if not v.many:
            return Val(one(v.sql), is_list, t)
        x = self.var()
        mapped = self.d.transform(v.sql, x, one(x))
        if is_list:
            y = self.var()
            return Val(self.d.flatten(self.d.filter(mapped, y, f"{y} IS NOT NULL")), True, t)
        return self.not_null_items(mapped, t)

    def index(self, v: Val, i: Val) -> Val:
        i = self.single(i)
        if v.empty or i.empty:
            return empty(v.t)
        if i.t.prim != "integer":
            raise PathError("an index must be an integer")
        if not v.many:
            return Val(f"CASE WHEN {i.sql} = 0 THEN {v.sql} END", False, v.t)
        if i.sql.isdigit():
            return Val(self.d.element(v.sql, str(int(i.sql) + 1)), False, v.t)
        return Val(f"CASE WHEN {i.sql} >= 0 THEN {self.d.element(v.sql, f'({i.sql}) + 1')} END", False, v.t)

    # --- collections ---------------------------------------------------------------------------------------------
    def as_list(self, v: Val) -> str:
        """The SQL list of a value (a scalar becomes a list of 0 or 1 items)."""
        if v.many:
            return v.sql
        y = self.var()
        return self.d.filter(self.d.array([v.sql]), y, f"{y} IS NOT NULL")

    def single(self, v: Val, what: str = "this expression") -> Val:
        """At most one item, else the query stops (FHIRPath: a singleton is expected here)."""
        if v.empty or not v.many:
            return v
        n = self.d.length(v.sql)
        msg = f"{lit(f'FHIRPath: {what} gave more than one value: ')} || CAST({n} AS VARCHAR)"
        return Val(f"CASE WHEN {n} > 1 THEN {self.d.fail(msg, v.t.sql_type())} "
                   f"ELSE {self.d.element(v.sql, '1')} END", False, v.t)

    def exists(self, v: Val) -> Val:
        if v.empty:
            return Val(self.d.bool(False), False, BOOLEAN)
        if v.t.kind == "root":
            return Val(v.guard or self.d.bool(True), False, BOOLEAN)
        if v.many:
            return Val(f"COALESCE({self.d.length(v.sql)}, 0) > 0", False, BOOLEAN)
        return Val(f"({v.sql} IS NOT NULL)", False, BOOLEAN)

    def where(self, v: Val, crit: fp.Node, ctx: Ctx) -> Val:
        if v.empty:
            return v
        if v.many:
            x = self.var()
            elem = Val(x, False, v.t)
            c = self.boolean(self.expr(crit, Ctx(elem, ctx.row_index, elem)), "where() criteria")
            if c.empty:
                return empty(v.t, True)
            # list_filter / filter keep an element only when the lambda is true (not when it is null)
            return Val(self.d.filter(v.sql, x, c.sql), True, v.t)
        elem = replace(v, guard=None) if v.t.kind == "root" else v
        c = self.boolean(self.expr(crit, Ctx(elem, ctx.row_index, elem)), "where() criteria")
        if c.empty:
            return empty(v.t)
        cond = f"COALESCE({c.sql}, FALSE)"
        if v.t.kind == "root":
            return replace(v, guard=f"({v.guard}) AND {cond}" if v.guard else cond)
        return Val(f"CASE WHEN {cond} THEN {v.sql} END", False, v.t)

    def boolean(self, v: Val, what: str) -> Val:
        """A single boolean (or empty); refuses what is statically not boolean."""
        if v.empty:
            return v
        if v.t.kind in ("prim",) and v.t.prim != "boolean":
            raise PathError(f"{what} must be boolean, but it is {v.t.prim}")
        if v.t.kind in ("struct", "root"):
            raise PathError(f"{what} must be boolean, but it is {v.t.fhir or 'an element'}")
        s = self.single(v, what)
        if s.t.kind == "json":
            return Val(f"TRY_CAST({self.d.json_scalar_text(s.sql)} AS BOOLEAN)", False, BOOLEAN)
        return s

    # --- functions -----------------------------------------------------------------------------------------------
    def call(self, node: fp.Call, ctx: Ctx) -> Val:
        name, args = node.name, node.args
        if name == "ofType":
            return self.of_type(node, ctx)
        if name == "getResourceKey":
            recv = self.expr(node.target, ctx) if node.target is not None else ctx.focus
            if recv.empty:
                return empty(STRING)  # a lake without the table: the view compiles to a typed empty result
            if recv.t.kind != "root":
                raise PathError("getResourceKey() is called on the resource itself")
            return self.member(recv, "id")
        recv = self.expr(node.target, ctx) if node.target is not None else ctx.focus

        def nargs(*allowed: int) -> None:
            if len(args) not in allowed:
                raise PathError(f"{name}() takes {' or '.join(map(str, allowed))} argument(s)")

        if name == "first":
            nargs(0)
            return Val(self.d.element(recv.sql, "1"), False, recv.t) if recv.many and not recv.empty else replace(recv, many=False)
        if name == "last":
            nargs(0)
            return Val(self.d.element(recv.sql, "-1"), False, recv.t) if recv.many and not recv.empty else replace(recv, many=False)
        if name == "exists":
            nargs(0, 1)
            return self.exists(self.where(recv, args[0], ctx) if args else recv)
        if name == "empty":
            nargs(0)
            e = self.exists(recv)
            return Val(f"(NOT {e.sql})", False, BOOLEAN)
        if name == "count":
            nargs(0)
            if recv.empty:
                return Val("0", False, INTEGER)
            if recv.many:
                return Val(f"COALESCE({self.d.length(recv.sql)}, 0)", False, INTEGER)
            return Val(f"CASE WHEN {recv.sql} IS NULL THEN 0 ELSE 1 END", False, INTEGER)
        if name == "where":
            nargs(1)
            return self.where(recv, args[0], ctx)
        if name == "not":
            nargs(0)
            b = self.boolean(recv, "not()'s input")
            return b if b.empty else Val(f"(NOT {b.sql})", False, BOOLEAN)
        if name == "join":
            nargs(0, 1)
            sep = self.single(self.expr(args[0], ctx)) if args else Val("''", False, STRING)
            if recv.empty:
                return Val("''", False, STRING)
            return Val(f"COALESCE({self.d.join(self.as_list(self.text(recv)), sep.sql or 'NULL')}, '')", False, STRING)
        if name == "extension":
            nargs(1)
            url = self.single(self.expr(args[0], ctx))
            exts = self.member(recv, "extension")
            if exts.empty or url.empty:
                return empty(FType("json", fhir="Extension"), True)
            if not exts.many:
                exts = Val(self.as_list(exts), True, exts.t)
            x = self.var()
            t = replace(exts.t, kind="json", fhir="Extension")
            return Val(self.d.filter(exts.sql, x, f"{self.d.json_string(x, '$.url')} = {url.sql}"), True, t)
        if name == "getReferenceKey":
            nargs(0, 1)
            rtype = self.type_name(args[0]) if args else None
            ref = self.member(recv, "reference")
            if ref.empty:
                return empty(STRING, ref.many)
            if not ref.many:
                return Val(self.reference_key(ref.sql, rtype), False, STRING)
            x = self.var()
            return self.not_null_items(self.d.transform(ref.sql, x, self.reference_key(x, rtype)), STRING)
        if name in ("lowBoundary", "highBoundary"):
            nargs(0)
            return self.boundary(self.single(recv), name == "lowBoundary")
        if name in ("toString",):
            nargs(0)
            return self.text(self.single(recv))
        if name in ("lower", "upper", "length", "trim"):
            nargs(0)
            s = self.single(self.text(recv))
            if s.empty:
                return s
            if name == "length":
                return Val(f"length({s.sql})", False, INTEGER)
            return Val(f"{name}({s.sql})", False, STRING)
        if name in ("startsWith", "endsWith", "contains") and node.target is not None:
            nargs(1)
            s, a = self.single(self.text(recv)), self.single(self.expr(args[0], ctx))
            if s.empty or a.empty:
                return empty(BOOLEAN)
            if name == "startsWith":
                return Val(f"(substr({s.sql}, 1, length({a.sql})) = {a.sql})", False, BOOLEAN)
            if name == "endsWith":
                return Val(f"(length({a.sql}) = 0 OR substr({s.sql}, -length({a.sql})) = {a.sql})", False, BOOLEAN)
            return Val(f"(strpos({s.sql}, {a.sql}) > 0)", False, BOOLEAN)
        if name == "iif":
            nargs(2, 3)
            c = self.boolean(self.expr(args[0], ctx), "iif() condition")
            a = self.single(self.expr(args[1], ctx))
            b = self.single(self.expr(args[2], ctx)) if len(args) == 3 else empty(a.t)
            if c.empty:
                return b
            return Val(f"CASE WHEN COALESCE({c.sql}, FALSE) THEN {a.sql or 'NULL'} ELSE {b.sql or 'NULL'} END", False,
                       a.t if not a.empty else b.t)
        raise PathError(f"{name}() is not supported by the SQL compiler (supported: first, last, exists, empty, "
                        "count, where, not, join, extension, ofType, getResourceKey, getReferenceKey, lowBoundary, "
                        "highBoundary, toString, lower, upper, length, trim, startsWith, endsWith, contains, iif)")

    def type_name(self, node: fp.Node) -> str:
        if isinstance(node, fp.Ident):
            return node.name
        if isinstance(node, fp.Member) and isinstance(node.target, fp.Ident) and node.target.name in ("FHIR", "System"):
            return node.name
        if isinstance(node, fp.Literal) and node.kind == "string":
            return str(node.value)
        raise PathError("expected a type name (e.g. Quantity, Patient)")

    def of_type(self, node: fp.Call, ctx: Ctx) -> Val:
        if len(node.args) != 1:
            raise PathError("ofType() takes one type name")
        tname = self.type_name(node.args[0])
        target = node.target
        typed = tname[:1].upper() + tname[1:]
        # `value.ofType(Quantity)` is the choice element valueQuantity (the lake's `valuequantity`)
        if isinstance(target, fp.Ident):
            return self.member(ctx.focus, target.name + typed)
        if isinstance(target, fp.Member):
            return self.member(self.expr(target.target, ctx), target.name + typed)
        if target is None:
            recv = ctx.focus
        else:
            recv = self.expr(target, ctx)
        if recv.empty:
            return recv
        have = recv.t.fhir or recv.t.prim
        if recv.t.kind == "root":
            return recv if recv.t.fhir == tname else empty(recv.t)
        if have == tname or (recv.t.kind == "prim" and recv.t.prim == _PRIM_OF_FHIR.get(tname, "string" if tname in _STRINGISH else None)):
            return recv
        return empty(recv.t, recv.many)

    def reference_key(self, ref: str, rtype: str | None) -> str:
        """The id a reference points at, as getResourceKey() gives it on the target: relative `Type/id`, absolute
        URLs and `_history` versions; with a type, a reference to another type is empty. As the staging models read
        references (macro fhir_reference_id): `urn:uuid:<id>` / `urn:oid:<id>` (a bundle's own ids, left when the
        ingest could not resolve them) and a bare id name that id whatever the type."""
        pattern = "([A-Za-z]+)/([^/]+)(/_history/[^/]+)?$"
        typed = self.d.regexp_extract(ref, pattern, 1)
        key = self.d.regexp_extract(ref, pattern, 2)
        head = (f"CASE WHEN {ref} IS NULL OR trim({ref}) = '' THEN NULL "
                f"WHEN {ref} LIKE 'urn:uuid:%' THEN substr({ref}, 10) WHEN {ref} LIKE 'urn:oid:%' THEN substr({ref}, 9) "
                f"WHEN strpos({ref}, '/') = 0 THEN {ref} ")
        if rtype is None:
            return head + f"ELSE NULLIF({key}, '') END"
        return head + f"WHEN {typed} = {lit(rtype)} THEN NULLIF({key}, '') END"

    def text(self, v: Val) -> Val:
        """String form of a primitive (FHIRPath toString)."""
        if v.empty or (v.t.kind == "prim" and v.t.prim not in ("boolean", "integer", "decimal")):
            return v
        if v.t.kind not in ("prim", "json"):
            raise PathError("only primitive values can be turned into text")

        def one(s: str) -> str:
            if v.t.kind == "json":
                return self.d.json_scalar_text(s)
            if v.t.prim == "boolean":
                return f"CASE WHEN {s} THEN 'true' WHEN NOT {s} THEN 'false' END"
            if v.t.prim == "decimal":
                return self.d.decimal_text(s)
            return self.d.to_varchar(s)

        if not v.many:
            return Val(one(v.sql), False, STRING)
        x = self.var()
        return Val(self.d.transform(v.sql, x, one(x)), True, STRING)

    def boundary(self, v: Val, low: bool) -> Val:
        """lowBoundary()/highBoundary() of a decimal (precision from its shortest text), date, dateTime or time."""
        if v.empty:
            return v
        prim = v.t.prim
        s = v.sql
        if prim in ("decimal", "integer"):
            text = self.d.decimal_text(s)
            # the precision of a decimal is the digits it was written with; the lake keeps a double, whose
            # shortest text ('1.0', '0.25') is what was written for the values FHIR data carries
            digits = (f"CASE WHEN strpos({text}, '.') = 0 THEN 0 "
                      f"ELSE length({text}) - strpos({text}, '.') END") if prim == "decimal" else "0"
            half = f"(0.5 / power(10, {digits}))"
            return Val(f"(CAST({s} AS DOUBLE) {'-' if low else '+'} {half})", False, DECIMAL)
        if prim == "date":
            if low:
                sql = (f"CASE length({s}) WHEN 4 THEN {s} || '-01-01' WHEN 7 THEN {s} || '-01' ELSE {s} END")
            else:
                sql = (f"CASE length({s}) WHEN 4 THEN {s} || '-12-31' "
                       f"WHEN 7 THEN CAST({self.d.last_day_of_month(f'{s} || ' + lit('-01'))} AS VARCHAR) ELSE {s} END")
            return Val(sql, False, FType("prim", prim="date"))
        if prim in ("dateTime", "instant"):
            date_part = f"substr({s}, 1, 10)"
            zone = f"regexp_extract({s}, '(Z|[+-][0-9]{{2}}:[0-9]{{2}})$', 1)"
            has_time = f"strpos({s}, 'T') > 0"
            day_low = (f"CASE length({s}) WHEN 4 THEN {s} || '-01-01' WHEN 7 THEN {s} || '-01' ELSE {date_part} END")
            day_high = (f"CASE length({s}) WHEN 4 THEN {s} || '-12-31' WHEN 7 THEN "
                        f"CAST({self.d.last_day_of_month(f'{s} || ' + lit('-01'))} AS VARCHAR) ELSE {date_part} END")
            clock = f"regexp_extract({s}, 'T([0-9:.]+)', 1)"
            fill_low = "00:00:00.000"
            fill_high = "23:59:59.999"
            fill = fill_low if low else fill_high
            clock_full = (f"CASE WHEN length({clock}) >= 12 THEN substr({clock}, 1, 12) "
                          f"WHEN length({clock}) > 8 THEN rpad({clock}, 12, '{'0' if low else '9'}') "
                          f"ELSE {clock} || substr({lit(fill)}, length({clock}) + 1) END")
            default_zone = "'+14:00'" if low else "'-12:00'"
            sql = (f"CASE WHEN {has_time} THEN {date_part} || 'T' || {clock_full} || "
                   f"CASE WHEN {zone} = '' THEN {default_zone} ELSE {zone} END "
                   f"ELSE {day_low if low else day_high} || 'T{fill}' || {default_zone} END")
            return Val(sql, False, FType("prim", prim="dateTime"))
        if prim == "time":
            if low:
                sql = (f"CASE WHEN length({s}) >= 12 THEN substr({s}, 1, 12) WHEN length({s}) > 8 THEN rpad({s}, 12, '0') "
                       f"ELSE {s} || substr('00:00:00.000', length({s}) + 1) END")
            else:
                sql = (f"CASE WHEN length({s}) >= 12 THEN substr({s}, 1, 12) WHEN length({s}) > 8 THEN rpad({s}, 12, '9') "
                       f"ELSE {s} || substr('00:59:59.999', length({s}) + 1) END")
            return Val(sql, False, FType("prim", prim="time"))
        if prim == "string" and v.t.kind == "prim":
            raise PathError("lowBoundary()/highBoundary() of a string: give the element's type with ofType(date|dateTime|time)")
        raise PathError(f"{'low' if low else 'high'}Boundary() needs a decimal, date, dateTime or time")

    # --- operators ----------------------------------------------------------------------------------------------
    def binary(self, node: fp.Binary, ctx: Ctx) -> Val:
        op = node.op
        a, b = self.expr(node.left, ctx), self.expr(node.right, ctx)
        if op in ("and", "or", "xor", "implies"):
            x, y = self.boolean(a, f"'{op}' operand"), self.boolean(b, f"'{op}' operand")
            xs, ys = x.sql or "CAST(NULL AS BOOLEAN)", y.sql or "CAST(NULL AS BOOLEAN)"
            if op == "and":
                return Val(f"({xs} AND {ys})", False, BOOLEAN)
            if op == "or":
                return Val(f"({xs} OR {ys})", False, BOOLEAN)
            if op == "xor":
                return Val(f"({xs} <> {ys})", False, BOOLEAN)
            return Val(f"((NOT {xs}) OR {ys})", False, BOOLEAN)
        if op in ("=", "!="):
            eq = self.equals(a, b)
            if eq.empty or op == "=":
                return eq
            return Val(f"(NOT {eq.sql})", False, BOOLEAN)
        if op in ("<", ">", "<=", ">="):
            x, y = self.single(a, f"'{op}' operand"), self.single(b, f"'{op}' operand")
            if x.empty or y.empty:
                return empty(BOOLEAN)
            self._comparable(x, y, op)
            return Val(f"({self.scalar(x)} {op} {self.scalar(y)})", False, BOOLEAN)
        if op in ("+", "-", "*", "/", "div", "mod", "&"):
            x, y = self.single(a, f"'{op}' operand"), self.single(b, f"'{op}' operand")
            if op == "&":
                xs = f"COALESCE({self.text(x).sql}, '')" if not x.empty else "''"
                ys = f"COALESCE({self.text(y).sql}, '')" if not y.empty else "''"
                return Val(f"({xs} || {ys})", False, STRING)
            if x.empty or y.empty:
                return empty(DECIMAL)
            if op == "+" and x.t.prim in _STRINGISH and y.t.prim in _STRINGISH:
                return Val(f"({x.sql} || {y.sql})", False, STRING)
            for v in (x, y):
                if v.t.kind == "json":
                    continue
                if v.t.prim not in ("integer", "decimal"):
                    raise PathError(f"'{op}' needs numbers, got {v.t.prim or v.t.fhir or v.t.kind}")
            xs, ys = self.scalar(x), self.scalar(y)
            both_int = x.t.prim == "integer" and y.t.prim == "integer"
            if op == "/":
                return Val(f"(CAST({xs} AS DOUBLE) / NULLIF(CAST({ys} AS DOUBLE), 0))", False, DECIMAL)
            if op == "div":
                return Val(f"CAST(floor(CAST({xs} AS DOUBLE) / NULLIF(CAST({ys} AS DOUBLE), 0)) AS BIGINT)", False, INTEGER)
            if op == "mod":
                return Val(f"({xs} % NULLIF({ys}, 0))", False, INTEGER if both_int else DECIMAL)
            return Val(f"({xs} {op} {ys})", False, INTEGER if both_int else DECIMAL)
        if op == "|":
            if a.empty:
                return Val(b.sql, True, b.t) if not b.many and not b.empty else b
            if b.empty:
                return Val(self.as_list(a), True, a.t) if not a.many else a
            return Val(f"array_distinct({self.d.concat_lists(self.as_list(a), self.as_list(b))})", True, a.t)
        if op in ("in", "contains"):
            item, coll = (a, b) if op == "in" else (b, a)
            item = self.single(item)
            if item.empty:
                return empty(BOOLEAN)
            if coll.empty:
                return Val(self.d.bool(False), False, BOOLEAN)
            x = self.var()
            return Val(f"(COALESCE({self.d.length(self.d.filter(self.as_list(coll), x, f'{x} = {item.sql}'))}, 0) > 0)",
                       False, BOOLEAN)
        raise PathError(f"operator '{op}' is not supported by the SQL compiler")

    def scalar(self, v: Val) -> str:
        """SQL of a single value for comparison/arithmetic (JSON scalars read as text)."""
        if v.t.kind == "json":
            return self.d.json_scalar_text(v.sql)
        return v.sql

    def _comparable(self, x: Val, y: Val, op: str) -> None:
        kinds = {x.t.kind, y.t.kind}
        if kinds & {"struct", "root"}:
            raise PathError(f"'{op}' compares primitive values, not {x.t.fhir or y.t.fhir or 'elements'}")

    def equals(self, a: Val, b: Val) -> Val:
        if a.empty or b.empty:
            return empty(BOOLEAN)
        self._comparable(a, b, "=")
        if not a.many and not b.many:
            return Val(f"({self.scalar(a)} = {self.scalar(b)})", False, BOOLEAN)
        la = self.as_list(a) if a.t.kind != "json" else self.as_list(self.text(a))
        lb = self.as_list(b) if b.t.kind != "json" else self.as_list(self.text(b))
        return Val(f"CASE WHEN COALESCE({self.d.length(la)}, 0) = 0 OR COALESCE({self.d.length(lb)}, 0) = 0 THEN NULL "
                   f"ELSE {la} = {lb} END", False, BOOLEAN)
