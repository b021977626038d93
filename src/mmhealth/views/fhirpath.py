"""FHIRPath text to an AST. The grammar is FHIRPath's (operators, precedence, literals, invocations); which
functions a view may call is decided later, by the compiler (`mmhealth.views.expr`), which refuses what it cannot
turn into SQL. Parsing is pure: no schema, no SQL."""

from __future__ import annotations

import re
from dataclasses import dataclass

from mmhealth.errors import MMHealthError


class FhirPathSyntaxError(MMHealthError):
    """A path that is not FHIRPath at all (unbalanced brackets, a stray character)."""


# --- AST -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Node:
    pass


@dataclass(frozen=True)
class Literal(Node):
    value: object  # str | int | float | bool
    kind: str  # 'string' | 'integer' | 'decimal' | 'boolean' | 'date' | 'dateTime' | 'time' | 'empty'


@dataclass(frozen=True)
class Ident(Node):
    """A bare name at the start of a path (`name`), resolved against the focus (or a type name in `ofType`)."""

    name: str


@dataclass(frozen=True)
class This(Node):
    pass


@dataclass(frozen=True)
class EnvVar(Node):
    """`%name`: a view constant or an environment variable (`%rowIndex`, `%resource`)."""

    name: str


@dataclass(frozen=True)
class Member(Node):
    target: Node
    name: str


@dataclass(frozen=True)
class Call(Node):
    """`target.name(args)`; target is None for a call at the start of a path (`where(...)`, `getResourceKey()`)."""

    target: Node | None
    name: str
    args: tuple[Node, ...]


@dataclass(frozen=True)
class Index(Node):
    target: Node
    index: Node


@dataclass(frozen=True)
class Binary(Node):
    op: str
    left: Node
    right: Node


@dataclass(frozen=True)
class Unary(Node):
    op: str
    operand: Node


# --- tokens ----------------------------------------------------------------------------------------------------

_TOKEN = re.compile(r"""
    (?P<ws>\s+|//[^\n]*|/\*.*?\*/)
  | (?P<datetime>@\d{4}(?:-\d{2}(?:-\d{2})?)?(?:T(?:\d{2}(?::\d{2}(?::\d{2}(?:\.\d+)?)?)?)?(?:Z|[+-]\d{2}:\d{2})?)?)
  | (?P<time>@T\d{2}(?::\d{2}(?::\d{2}(?:\.\d+)?)?)?)
  | (?P<number>\d+(?:\.\d+)?)
  | (?P<string>'(?:[^'\\]|\\.)*')
  | (?P<quoted>`(?:[^`\\]|\\.)*`)
  | (?P<special>\$this|\$index|\$total)
  | (?P<env>%(?:[A-Za-z_][A-Za-z0-9_]*|`(?:[^`\\]|\\.)*`|'(?:[^'\\]|\\.)*'))
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op><=|>=|!=|!~|[=~<>+\-*/|&(),.\[\]])
""", re.VERBOSE | re.DOTALL)

_ESCAPES = {"'": "'", '"': '"', "`": "`", "/": "/", "\\": "\\", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}


def _unescape(body: str) -> str:
    out, i = [], 0
    while i < len(body):
        ch = body[i]
        if ch == "\\" and i + 1 < len(body):
            nxt = body[i + 1]
            if nxt == "u" and i + 5 < len(body) + 1:
                out.append(chr(int(body[i + 2:i + 6], 16)))
                i += 6
                continue
            out.append(_ESCAPES.get(nxt, nxt))
            i += 2
            continue
        out.append(ch)
        i += 1
    return "".join(out)


@dataclass(frozen=True)
class _Tok:
    kind: str
    text: str
    pos: int


def tokenize(text: str) -> list[_Tok]:
    toks, pos = [], 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            raise FhirPathSyntaxError(f"unexpected character {text[pos]!r} at position {pos}")
        kind = m.lastgroup
        if kind != "ws":
            toks.append(_Tok(kind, m.group(), pos))
        pos = m.end()
    toks.append(_Tok("eof", "", len(text)))
    return toks


# --- parser (precedence climbing, FHIRPath's table) -----------------------------------------------------------

_KEYWORD_OPS = {"and", "or", "xor", "implies", "div", "mod", "in", "contains", "is", "as"}
# lowest first
_LEVELS: list[set[str]] = [
    {"implies"},
    {"or", "xor"},
    {"and"},
    {"in", "contains"},
    {"=", "~", "!=", "!~"},
    {"<", ">", "<=", ">="},
    {"|"},
    {"is", "as"},
    {"+", "-", "&"},
    {"*", "/", "div", "mod"},
]


class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.toks = tokenize(text)
        self.i = 0

    @property
    def tok(self) -> _Tok:
        return self.toks[self.i]

    def take(self) -> _Tok:
        t = self.toks[self.i]
        self.i += 1
        return t

    def expect(self, text: str) -> None:
        if self.tok.text != text or self.tok.kind not in ("op",):
            found = self.tok.text or "end of path"
            raise FhirPathSyntaxError(f"expected {text!r} at position {self.tok.pos}, found {found!r}")
        self.i += 1

    def is_op(self, ops: set[str]) -> bool:
        t = self.tok
        if t.kind == "op":
            return t.text in ops
        return t.kind == "ident" and t.text in ops and t.text in _KEYWORD_OPS

    def parse(self) -> Node:
        node = self.expression(0)
        if self.tok.kind != "eof":
            raise FhirPathSyntaxError(f"unexpected {self.tok.text!r} at position {self.tok.pos}")
        return node

    def expression(self, level: int) -> Node:
        if level == len(_LEVELS):
            return self.unary()
        left = self.expression(level + 1)
        while self.is_op(_LEVELS[level]):
            op = self.take().text
            if op in ("is", "as"):
                right: Node = self.type_specifier()
            else:
                right = self.expression(level + 1)
            left = Binary(op, left, right)
        return left

    def type_specifier(self) -> Node:
        t = self.take()
        if t.kind not in ("ident", "quoted"):
            raise FhirPathSyntaxError(f"expected a type name at position {t.pos}")
        node: Node = Ident(self._name(t))
        while self.tok.text == "." and self.toks[self.i + 1].kind in ("ident", "quoted"):
            self.i += 1
            node = Member(node, self._name(self.take()))
        return node

    def unary(self) -> Node:
        if self.tok.kind == "op" and self.tok.text in ("+", "-"):
            op = self.take().text
            return Unary(op, self.unary())
        return self.postfix(self.term())

    def postfix(self, node: Node) -> Node:
        while True:
            if self.tok.kind == "op" and self.tok.text == ".":
                self.i += 1
                t = self.take()
                if t.kind not in ("ident", "quoted"):
                    raise FhirPathSyntaxError(f"expected a name after '.' at position {t.pos}")
                name = self._name(t)
                if self.tok.kind == "op" and self.tok.text == "(":
                    node = Call(node, name, self.arguments())
                else:
                    node = Member(node, name)
            elif self.tok.kind == "op" and self.tok.text == "[":
                self.i += 1
                idx = self.expression(0)
                self.expect("]")
                node = Index(node, idx)
            else:
                return node

    def arguments(self) -> tuple[Node, ...]:
        self.expect("(")
        args: list[Node] = []
        if not (self.tok.kind == "op" and self.tok.text == ")"):
            args.append(self.expression(0))
            while self.tok.kind == "op" and self.tok.text == ",":
                self.i += 1
                args.append(self.expression(0))
        self.expect(")")
        return tuple(args)

    @staticmethod
    def _name(t: _Tok) -> str:
        return _unescape(t.text[1:-1]) if t.kind == "quoted" else t.text

    def term(self) -> Node:
        t = self.take()
        if t.kind == "number":
            return Literal(float(t.text), "decimal") if "." in t.text else Literal(int(t.text), "integer")
        if t.kind == "string":
            return Literal(_unescape(t.text[1:-1]), "string")
        if t.kind == "datetime":
            body = t.text[1:]
            return Literal(body, "dateTime" if "T" in body else "date")
        if t.kind == "time":
            return Literal(t.text[2:], "time")
        if t.kind == "special":
            if t.text == "$this":
                return This()
            raise FhirPathSyntaxError(f"{t.text} is not supported (only $this) at position {t.pos}")
        if t.kind == "env":
            body = t.text[1:]
            if body[:1] in ("`", "'"):
                body = _unescape(body[1:-1])
            return EnvVar(body)
        if t.kind in ("ident", "quoted"):
            name = self._name(t)
            if t.kind == "ident" and name in ("true", "false"):
                return Literal(name == "true", "boolean")
            if self.tok.kind == "op" and self.tok.text == "(":
                return Call(None, name, self.arguments())
            return Ident(name)
        if t.kind == "op" and t.text == "(":
            node = self.expression(0)
            self.expect(")")
            return node
        found = t.text or "end of path"
        raise FhirPathSyntaxError(f"unexpected {found!r} at position {t.pos}")


def parse(text: str) -> Node:
    """Parse FHIRPath text. Raises FhirPathSyntaxError (one line, with the position) when it is not FHIRPath."""
    if not isinstance(text, str) or not text.strip():
        raise FhirPathSyntaxError("an empty path")
    # `{}` (the empty collection literal) is the one literal the token table does not cover
    text_stripped = text.strip()
    if text_stripped == "{}":
        return Literal(None, "empty")
    return _Parser(text).parse()
