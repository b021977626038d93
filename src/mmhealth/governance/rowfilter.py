"""Row filter expressions: parsed once, checked against the subset Lake Formation accepts, and rendered in one
canonical form that is what `validate` checks, what `access` and `local` preview, what `plan` compares and
what `apply` sends.

The subset is Lake Formation's documented PartiQL row filter grammar (developer guide, "PartiQL support in row
filter expressions"), narrowed where our two engines could disagree:

- a *simple* predicate compares one column with constants: `col = | <> | != | < | <= | > | >= literal`,
  `col [NOT] IN (literal, ...)`, `col [NOT] BETWEEN literal AND literal`, `col [NOT] LIKE 'pattern'`,
  `col IS [NOT] NULL`; a literal may stand on the left (`18 <= age`), it is turned round;
- *composite* predicates join those with AND / OR / NOT and parentheses;
- literals: single-quoted strings (no control characters), finite decimal numbers (optionally negative),
  TRUE / FALSE;
- columns: one unqualified name (bare or double-quoted). No table qualifiers or struct fields.

Refused, with the reason: comments (`--`, `/* */`: the text Lake Formation stores must be the predicate and
nothing else, and a comment collapsed onto one line swallows the conditions after it), functions of any kind
(Lake Formation allows none, standard or user-defined, and casts and typed literals such as `DATE '...'` are
functions there), sub-queries, column-to-column comparisons (Lake Formation compares columns with constants
only), `NULL` as a comparison operand, `IS TRUE`, `ILIKE`, `ESCAPE`, arithmetic, several statements, and a
canonical form of 2,048 characters or more (Lake Formation's limit). Column existence and types (string,
numeric and boolean columns only; no arrays, maps, dates or timestamps) are checked by `validate`, which
knows the table.

Canonical form: one line; every operand of AND / OR in parentheses and chains flattened, as Lake Formation's
documentation writes composite expressions (`(a = 1) AND (b = 'x')`); NOT over a composite as
`NOT (...)`; `<>` for inequality; `col NOT IN`, `col NOT LIKE`, `col NOT BETWEEN`, `col IS NOT NULL`;
keywords upper case; the column on the left. The same text is valid, with the same meaning, in DuckDB, so
`govern local` runs it unchanged. Rendering is idempotent: parsing a canonical form gives it back.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import sqlglot
from sqlglot import exp

MAX_CANONICAL = 2047  # Lake Formation: "total length of the expression must be less than 2048 characters"
MAX_SOURCE = 20_000  # refuse absurd input before parsing it
_BARE = re.compile(r"[a-z_][a-z0-9_]*")
_NUMBER = re.compile(r"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_FLIP = {exp.EQ: "=", exp.NEQ: "<>", exp.LT: ">", exp.LTE: ">=", exp.GT: "<", exp.GTE: "<="}
_OPS = {exp.EQ: "=", exp.NEQ: "<>", exp.LT: "<", exp.LTE: "<=", exp.GT: ">", exp.GTE: ">="}


class RowFilterError(ValueError):
    """A row filter outside the subset; the message is one line and says what to write instead."""


@dataclass(frozen=True)
class Comparison:
    """One column tested against literals, for the type check in `validate`: `kinds` of the literals
    (string / number / boolean), `like` when the test is LIKE (string columns only)."""

    column: str
    kinds: tuple[str, ...]
    like: bool = False


@dataclass(frozen=True)
class RowFilter:
    source: str  # as written in the policy
    canonical: str  # what is checked, previewed, compared and sent
    columns: frozenset[str]
    comparisons: tuple[Comparison, ...]


def _lexer():
    from sqlglot.dialects.dialect import Dialect

    return Dialect.get_or_raise("athena")


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    line = text[0] if text else type(exc).__name__
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in line)


def parse_row_filter(text: str) -> RowFilter:
    """Parse, check the subset, render canonically. Raises RowFilterError with a one-line reason."""
    if not isinstance(text, str) or not text.strip():
        raise RowFilterError("is empty - omit row_filter for all rows")
    if len(text) > MAX_SOURCE:
        raise RowFilterError(f"is {len(text)} characters long; Lake Formation accepts fewer than 2048")
    dialect = _lexer()
    try:
        tokens = dialect.tokenize(text)
    except sqlglot.errors.SqlglotError as exc:
        raise RowFilterError(f"cannot be read as SQL ({_first_line(exc)}) - check for an unterminated 'string' "
                             "or \"name\"") from None
    for tok in tokens:
        if tok.comments:
            raise RowFilterError(
                f"holds a comment ({tok.comments[0].strip()!r} near line {tok.line}) - remove it: comments are not "
                "sent to Lake Formation, and one collapsed onto a single line would swallow the conditions after it"
            )
        if tok.token_type == sqlglot.TokenType.SEMICOLON:
            raise RowFilterError("holds ';' - a row filter is one predicate, not statements")
    try:
        trees = sqlglot.parse(text, read="athena")
    except sqlglot.errors.SqlglotError as exc:
        raise RowFilterError(f"is not a SQL predicate ({_first_line(exc)})") from None
    except RecursionError:
        raise RowFilterError("is nested too deeply to parse - simplify it") from None
    trees = [t for t in trees if t is not None]
    if len(trees) != 1:
        raise RowFilterError("must be exactly one predicate")
    comparisons: list[Comparison] = []
    try:
        canonical = _predicate(trees[0], comparisons)
    except RecursionError:
        raise RowFilterError("is nested too deeply - simplify it") from None
    if len(canonical) > MAX_CANONICAL:
        raise RowFilterError(f"is {len(canonical)} characters in canonical form; Lake Formation accepts fewer than 2048")
    return RowFilter(text, canonical, frozenset(c.column for c in comparisons), tuple(comparisons))


def canonical_row_filter(text: str) -> str:
    return parse_row_filter(text).canonical


def canonical_or_verbatim(text: str) -> str:
    """For text read back from Lake Formation: its canonical form when it is in the subset, else the text
    exactly as stored (so a filter someone wrote by hand, comment and all, shows up as drift rather than
    being made to look like the policy's)."""
    try:
        return parse_row_filter(text).canonical
    except RowFilterError:
        return text


# --- the checker / renderer: one recursive walk over the sqlglot tree -------------------------------------

# The arguments each accepted node may carry. Anything else set on a node (a modifier sqlglot knows and this
# walk would not render, like LIKE's `negate`) refuses the filter instead of being dropped from the canonical text.
_ARGS = {
    exp.Paren: {"this"}, exp.And: {"this", "expression"}, exp.Or: {"this", "expression"}, exp.Not: {"this"},
    exp.In: {"this", "expressions"}, exp.Like: {"this", "expression", "negate"},
    exp.Between: {"this", "low", "high"}, exp.Is: {"this", "expression"}, exp.Column: {"this"},
    exp.Identifier: {"this", "quoted"}, exp.Literal: {"this", "is_string"}, exp.Boolean: {"this"},
    exp.Null: set(), exp.Neg: {"this"}, **{op: {"this", "expression"} for op in _OPS},
}


def _check_args(node: exp.Expression) -> None:
    allowed = _ARGS.get(type(node))
    if allowed is None:
        return  # not a node of the subset: the caller refuses it with its own reason
    extra = sorted(k for k, v in node.args.items() if k not in allowed and v not in (None, False, [], ""))
    if extra:
        raise _outside(node, f"it carries {', '.join(extra)}, which the subset does not cover")


def _strip(node: exp.Expression) -> exp.Expression:
    _check_args(node)
    while isinstance(node, exp.Paren):
        node = node.this
        _check_args(node)
    return node


def _describe(node: exp.Expression) -> str:
    try:
        sql = node.sql()  # the generic dialect renders what was written (athena turns `a IS TRUE` into `a`)
    except Exception:  # noqa: BLE001 - only for the message
        sql = type(node).__name__
    sql = "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in sql)  # one line, always
    return sql if len(sql) <= 60 else sql[:57] + "..."


def _outside(node: exp.Expression, why: str = "") -> RowFilterError:
    hint = why or ("Lake Formation row filters allow comparisons of a column with constants, IN, BETWEEN, LIKE, "
                   "IS [NOT] NULL, AND/OR/NOT - no functions, casts, sub-queries or arithmetic")
    return RowFilterError(f"'{_describe(node)}' is outside the row filter subset: {hint}")


def _chain(node: exp.Expression, kind) -> list[exp.Expression]:
    node = _strip(node)
    if isinstance(node, kind):
        return _chain(node.this, kind) + _chain(node.expression, kind)
    return [node]


def _predicate(node: exp.Expression, out: list[Comparison]) -> str:
    node = _strip(node)
    if isinstance(node, (exp.And, exp.Or)):
        word = "AND" if isinstance(node, exp.And) else "OR"
        parts = [_predicate(p, out) for p in _chain(node, type(node))]
        text = f" {word} ".join(f"({p})" for p in parts)
        return text
    if isinstance(node, exp.Not):
        inner = _strip(node.this)
        if isinstance(inner, exp.In):
            return _in(inner, out, negated=True)
        if isinstance(inner, exp.Like) and not inner.args.get("negate"):
            return _like(inner, out, negated=True)
        if isinstance(inner, exp.Between):
            return _between(inner, out, negated=True)
        if isinstance(inner, exp.Is):
            return _is(inner, out, negated=True)
        return f"NOT ({_predicate(inner, out)})"
    if type(node) in _OPS:
        return _compare(node, out)
    if isinstance(node, exp.In):
        return _in(node, out)
    if isinstance(node, exp.Like):
        return _like(node, out, negated=bool(node.args.get("negate")))
    if isinstance(node, exp.Between):
        return _between(node, out)
    if isinstance(node, exp.Is):
        return _is(node, out)
    if isinstance(node, (exp.Column, exp.Boolean)):
        raise _outside(node, "a predicate compares a column with a constant, e.g. `flag = TRUE`"
                             + (" (for every row, omit row_filter)" if isinstance(node, exp.Boolean) else ""))
    raise _outside(node)


def _column(node: exp.Expression) -> str | None:
    """The column's name if `node` is a plain column reference, else None."""
    node = _strip(node)
    if not isinstance(node, exp.Column):
        return None
    if node.table or node.db or node.catalog:
        raise _outside(node, "name the column without a table qualifier or struct path")
    ident = node.this
    if not isinstance(ident, exp.Identifier):
        raise _outside(node)
    _check_args(ident)
    name = ident.this
    if not ident.quoted and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        raise _outside(node, "strings take single quotes; unusual column names double quotes")
    return name


def _quote_column(name: str) -> str:
    if _BARE.fullmatch(name) and name.upper() not in _keywords():
        return name
    return '"' + name.replace('"', '""') + '"'


_KEYWORDS: frozenset[str] | None = None


def _keywords() -> frozenset[str]:
    global _KEYWORDS
    if _KEYWORDS is None:
        tokenizer = _lexer().tokenizer_class
        _KEYWORDS = frozenset(k.upper() for k in tokenizer.KEYWORDS)
    return _KEYWORDS


def _literal(node: exp.Expression) -> tuple[str, str]:
    """(canonical text, kind) of a constant, or RowFilterError."""
    node = _strip(node)
    negative = False
    if isinstance(node, exp.Neg):
        negative, node = True, _strip(node.this)
        if not (isinstance(node, exp.Literal) and not node.is_string):
            raise _outside(node, "only a number can be negated")
    if isinstance(node, exp.Boolean):
        return ("TRUE" if node.this else "FALSE"), "boolean"
    if isinstance(node, exp.Null):
        raise _outside(node, "NULL never equals anything: use `col IS NULL` / `col IS NOT NULL`")
    if isinstance(node, exp.Literal) and node.is_string:
        value = node.this
        if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
            raise _outside(node, "string constants must not hold control characters (newlines, tabs)")
        return "'" + value.replace("'", "''") + "'", "string"
    if isinstance(node, exp.Literal):
        text = str(node.this)
        if not _NUMBER.fullmatch(text):
            raise _outside(node, "numbers are written in decimal, e.g. 18, 2.5 or 1e3")
        if not math.isfinite(float(text)):
            raise _outside(node, "the number is out of range")
        return ("-" if negative else "") + text, "number"
    if isinstance(node, exp.Column):
        raise _outside(node, "Lake Formation compares a column with constants, not with another column "
                             "(and strings take single quotes)")
    raise _outside(node, "constants are single-quoted strings, decimal numbers, TRUE or FALSE - no functions "
                         "or typed literals such as DATE '...'")


def _compare(node: exp.Expression, out: list[Comparison]) -> str:
    left, right = node.this, node.expression
    col = _column(left)
    if col is not None:
        lit, kind = _literal(right)
        op = _OPS[type(node)]
    else:
        col = _column(right)
        if col is None:
            func = next((n for n in (_strip(left), _strip(right)) if isinstance(n, exp.Func)), None)
            if func is not None:
                raise _outside(func, "Lake Formation allows no functions in row filters (standard or user-defined) - "
                                     "compare the column itself with a constant")
            raise _outside(node, "one side must be a column, the other a constant")
        lit, kind = _literal(left)
        op = _FLIP[type(node)]
    out.append(Comparison(col, (kind,)))
    return f"{_quote_column(col)} {op} {lit}"


def _in(node: exp.In, out: list[Comparison], negated: bool = False) -> str:
    col = _column(node.this)
    if col is None:
        raise _outside(node, "IN tests a column against a list of constants")
    if node.args.get("query") or node.args.get("unnest") or node.args.get("field"):
        raise _outside(node, "IN takes a list of constants, not a sub-query")
    items = node.expressions
    if not items:
        raise _outside(node, "IN needs at least one constant")
    lits = [_literal(i) for i in items]
    out.append(Comparison(col, tuple(k for _, k in lits)))
    return f"{_quote_column(col)} {'NOT IN' if negated else 'IN'} ({', '.join(t for t, _ in lits)})"


def _like(node: exp.Like, out: list[Comparison], negated: bool = False) -> str:
    col = _column(node.this)
    if col is None:
        raise _outside(node, "LIKE tests a column against a 'pattern'")
    text, kind = _literal(node.expression)
    if kind != "string":
        raise _outside(node, "a LIKE pattern is a single-quoted string")
    out.append(Comparison(col, (kind,), like=True))
    return f"{_quote_column(col)} {'NOT LIKE' if negated else 'LIKE'} {text}"


def _between(node: exp.Between, out: list[Comparison], negated: bool = False) -> str:
    col = _column(node.this)
    if col is None:
        raise _outside(node, "BETWEEN tests a column against two constants")
    if node.args.get("symmetric") is not None:
        raise _outside(node, "BETWEEN SYMMETRIC is not in the subset")
    low, lk = _literal(node.args["low"])
    high, hk = _literal(node.args["high"])
    out.append(Comparison(col, (lk, hk)))
    return f"{_quote_column(col)} {'NOT BETWEEN' if negated else 'BETWEEN'} {low} AND {high}"


def _is(node: exp.Is, out: list[Comparison], negated: bool = False) -> str:
    col = _column(node.this)
    if col is None or not isinstance(_strip(node.expression), exp.Null):
        raise _outside(node, "IS is only `col IS NULL` / `col IS NOT NULL`; compare booleans with `col = TRUE`")
    out.append(Comparison(col, ()))
    return f"{_quote_column(col)} {'IS NOT NULL' if negated else 'IS NULL'}"
