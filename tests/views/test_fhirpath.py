"""The FHIRPath parser: precedence, literals, invocations, and one-line syntax errors with a position."""

from __future__ import annotations

import pytest

from mmhealth.views import fhirpath as fp


def test_precedence_and_invocations():
    n = fp.parse("name.where(use = 'official').family.first() = 'F' and active or x.exists().not()")
    assert isinstance(n, fp.Binary) and n.op == "or"
    left = n.left
    assert isinstance(left, fp.Binary) and left.op == "and"
    eq = left.left
    assert isinstance(eq, fp.Binary) and eq.op == "="
    assert eq.right == fp.Literal("F", "string")
    first = eq.left
    assert isinstance(first, fp.Call) and first.name == "first" and first.args == ()
    assert isinstance(first.target, fp.Member) and first.target.name == "family"


def test_arithmetic_binds_tighter_than_comparison():
    n = fp.parse("a + b * 2 > 3")
    assert n.op == ">" and n.left.op == "+" and n.left.right.op == "*"


def test_literals_env_and_index():
    assert fp.parse("1.5") == fp.Literal(1.5, "decimal")
    assert fp.parse("42") == fp.Literal(42, "integer")
    assert fp.parse("true") == fp.Literal(True, "boolean")
    assert fp.parse("@2020-01-02") == fp.Literal("2020-01-02", "date")
    assert fp.parse("{}") == fp.Literal(None, "empty")
    assert fp.parse("'it\\'s'") == fp.Literal("it's", "string")
    assert fp.parse("%rowIndex") == fp.EnvVar("rowIndex")
    n = fp.parse("name[%i].given")
    assert isinstance(n, fp.Member) and isinstance(n.target, fp.Index) and n.target.index == fp.EnvVar("i")
    assert fp.parse("$this") == fp.This()
    assert fp.parse("`end`") == fp.Ident("end")


@pytest.mark.parametrize("text", ["@@", "name.", "where(", "a ++", "(a", "'open"])
def test_syntax_errors_are_one_line_with_a_position(text):
    with pytest.raises(fp.FhirPathSyntaxError) as e:
        fp.parse(text)
    assert "\n" not in str(e.value)
