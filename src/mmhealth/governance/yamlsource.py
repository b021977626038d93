"""YAML loading that remembers where every value came from, so findings can say `file:line`.

PyYAML's safe loader throws the node marks away once it builds Python objects; we compose the node tree
ourselves, build plain dicts/lists from it, and keep a side table of path -> line."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from mmhealth.errors import MMHealthError

PathKey = tuple[Any, ...]


@dataclass
class SourceDoc:
    """A parsed YAML document plus the 1-based line of each path inside it (`("grants", 3, "principals")`)."""

    file: str
    data: Any
    lines: dict[PathKey, int] = field(default_factory=dict)

    def line(self, path: PathKey) -> int:
        """The line of `path`, or of its nearest ancestor that has one (1 for the document itself)."""
        path = tuple(path)
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.lines.get((), 1)

    def where(self, path: PathKey) -> str:
        return f"{self.file}:{self.line(path)}"


def _build(node: yaml.Node, path: PathKey, lines: dict[PathKey, int], loader) -> Any:
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            if key in out:
                raise MMHealthError(
                    f"{loader.name}:{key_node.start_mark.line + 1}: duplicate key {key!r} - keep one of them"
                )
            lines[path + (key,)] = key_node.start_mark.line + 1
            out[key] = _build(value_node, path + (key,), lines, loader)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_build(child, path + (i,), lines, loader) for i, child in enumerate(node.value)]
    return loader.construct_object(node, deep=True)


def load_yaml(path: str | Path) -> SourceDoc:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise MMHealthError(f"{path}: cannot read ({exc.strerror}) - check the path") from exc
    return loads_yaml(text, str(path))


# libyaml's parser keeps node marks too and is ~10x faster on big policies; fall back to pure Python without it.
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def loads_yaml(text: str, name: str = "<policy>") -> SourceDoc:
    loader = _Loader(text)
    loader.name = name
    try:
        node = loader.get_single_node()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{name}:{mark.line + 1}" if mark else name
        raise MMHealthError(f"{where}: not valid YAML ({getattr(exc, 'problem', exc)}) - fix the syntax") from exc
    finally:
        loader.dispose()
    lines: dict[PathKey, int] = {}
    data = _build(node, (), lines, loader) if node is not None else None
    return SourceDoc(file=name, data=data, lines=lines)
