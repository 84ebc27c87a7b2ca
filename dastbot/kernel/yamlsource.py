"""YAML with line numbers: parsed data plus the line of every mapping key and list item.

Validation errors must name the file and line; PyYAML keeps marks only on nodes, so this module
composes the node tree once, records a line for each path into the document, and constructs
the data from that same tree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

PathKey = tuple[str | int, ...]


class YamlSyntaxError(ValueError):
    def __init__(self, where: str, message: str) -> None:
        super().__init__(f"{where}: {message}")
        self.where = where


@dataclass
class Located:
    """A parsed YAML document and the 1-based line of each path in it."""

    data: Any
    file: str
    lines: dict[PathKey, int] = field(default_factory=dict)

    def line(self, path: PathKey) -> int:
        """The line of the deepest known prefix of ``path`` (1 when nothing is known)."""
        for n in range(len(path), -1, -1):
            if path[:n] in self.lines:
                return self.lines[path[:n]]
        return 1

    def where(self, path: PathKey) -> str:
        return f"{self.file}:{self.line(path)}"


MAX_NODES = 200_000

_FAST: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""libyaml's parser when PyYAML was built with it (some ten times faster), else PyYAML's own.
One pass: the node tree gives the lines, and the same tree is constructed into the data."""


class _Walk:
    """Records line numbers; refuses recursive aliases and alias bombs (they would never end)."""

    def __init__(self, file: str, lines: dict[PathKey, int]) -> None:
        self.file, self.lines, self.visited = file, lines, 0
        self.stack: set[int] = set()

    def node(self, node: yaml.Node, path: PathKey) -> None:
        self.visited += 1
        where = f"{self.file}:{node.start_mark.line + 1}"
        if self.visited > MAX_NODES:
            raise YamlSyntaxError(where, "the document expands to too many values (aliases?)")
        if id(node) in self.stack:
            raise YamlSyntaxError(where, "a YAML alias refers to itself")
        self.lines.setdefault(path, node.start_mark.line + 1)
        if not isinstance(node, yaml.MappingNode | yaml.SequenceNode):
            return
        self.stack.add(id(node))
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node)
                self.lines[(*path, key)] = key_node.start_mark.line + 1
                self.node(value_node, (*path, key))
        else:
            for i, item in enumerate(node.value):
                self.node(item, (*path, i))
        self.stack.discard(id(node))


def _bad_scalar(root: yaml.Node) -> tuple[int, str]:
    """The line and text of the first timestamp-like scalar the constructor would reject."""
    stack = [root]
    seen: set[int] = set()
    while stack:
        node = stack.pop(0)
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, yaml.ScalarNode) and node.tag.endswith(":timestamp"):
            try:
                yaml.SafeLoader.construct_yaml_timestamp(yaml.SafeLoader(""), node)
            except ValueError:
                return node.start_mark.line + 1, str(node.value)
        elif isinstance(node, yaml.MappingNode):
            stack.extend(v for pair in node.value for v in pair)
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)
    return 1, ""


def parse(text: str, file: str) -> Located:
    """Parse one YAML document; a syntax error becomes ``YamlSyntaxError`` naming file and line."""
    try:
        return _parse(text, file, _FAST)
    except YamlSyntaxError:
        if _FAST is yaml.SafeLoader:
            raise
    # libyaml words its errors differently: a broken file is parsed again by PyYAML, so that
    # the message is the same with or without libyaml.
    return _parse(text, file, yaml.SafeLoader)


def _parse(text: str, file: str, loader_class: type[yaml.SafeLoader]) -> Located:
    node: yaml.Node | None = None
    lines: dict[PathKey, int] = {}
    data: Any = None
    loader: yaml.SafeLoader | None = None
    try:
        loader = loader_class(text)  # PyYAML's reader refuses control characters here
        node = loader.get_single_node()
        if node is not None:
            _Walk(file, lines).node(node, ())
            data = loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        raise YamlSyntaxError(f"{file}:{line}", f"invalid YAML: {exc.problem or exc}") from None
    except yaml.YAMLError as exc:
        raise YamlSyntaxError(f"{file}:1", f"invalid YAML: {exc}") from None
    except RecursionError:
        # PyYAML composes nested collections recursively: some hundreds of levels overflow.
        raise YamlSyntaxError(f"{file}:1", "lists or mappings nested too deeply") from None
    except YamlSyntaxError:
        raise
    except ValueError as exc:
        # PyYAML raises a bare ValueError for a well-formed but impossible date (2026-02-30).
        line, value = _bad_scalar(node) if node is not None else (1, "")
        raise YamlSyntaxError(f"{file}:{line}", f"invalid date {value!r}: {exc}") from None
    finally:
        if loader is not None:
            loader.dispose()
    return Located(data=data, file=file, lines=lines)


def parse_file(path: Path) -> Located:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise YamlSyntaxError(f"{path}:1", "not UTF-8 text") from None
    except OSError as exc:
        raise YamlSyntaxError(f"{path}:1", f"cannot read: {exc.strerror}") from None
    return parse(text, str(path))
