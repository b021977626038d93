"""Row filter expressions: the small SQL subset that means the same in Lake Formation (PartiQL-ish, evaluated
by Athena) and in DuckDB (`govern local`). Comparisons, AND/OR/NOT, IN, BETWEEN, LIKE, IS [NOT] NULL, literals
and column names; no functions, sub-queries or casts, because those are where the two engines part ways."""

from __future__ import annotations

from dataclasses import dataclass

import sqlglot
from sqlglot import exp

_ALLOWED = (
    exp.And, exp.Or, exp.Not, exp.Paren,
    exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE,
    exp.In, exp.Between, exp.Like, exp.Is,
    exp.Column, exp.Identifier, exp.Literal, exp.Boolean, exp.Null, exp.Neg, exp.Tuple,
)


@dataclass(frozen=True)
class RowFilter:
    text: str
    columns: frozenset[str]
    tree: exp.Expression

    def to_duckdb(self) -> str:
        return self.tree.sql(dialect="duckdb")

    def to_athena(self) -> str:
        return self.tree.sql(dialect="athena")


class RowFilterError(ValueError):
    pass


def parse_row_filter(text: str) -> RowFilter:
    try:
        tree = sqlglot.parse_one(text, read="athena")
    except sqlglot.errors.ParseError as exc:
        raise RowFilterError(f"not a SQL predicate ({str(exc).splitlines()[0]})") from exc
    for node in tree.walk():
        if not isinstance(node, _ALLOWED):
            raise RowFilterError(
                f"'{node.sql(dialect='athena')}' ({type(node).__name__}) is outside the subset both Athena and "
                "DuckDB agree on: use comparisons, AND/OR/NOT, IN, BETWEEN, LIKE, IS NULL and literals"
            )
        if isinstance(node, exp.Column) and node.table:
            raise RowFilterError(f"'{node.sql()}': name columns without a table qualifier")
    if not isinstance(tree, (exp.And, exp.Or, exp.Not, exp.Paren, exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT,
                             exp.LTE, exp.In, exp.Between, exp.Like, exp.Is, exp.Boolean, exp.Column)):
        raise RowFilterError("a row filter must be a boolean predicate")
    columns = frozenset(c.name for c in tree.find_all(exp.Column))
    return RowFilter(text=text, columns=columns, tree=tree)
