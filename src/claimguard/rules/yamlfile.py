"""YAML loading that remembers the line of every mapping and key, for errors that point."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


class LineDict(dict):
    """A mapping from YAML that knows its own line and each key's line (1-based)."""

    line: int = 0
    key_lines: dict[str, int]


class NotUtf8(ValueError):
    """A pack file that is not UTF-8; `line` is where the first bad byte is (1-based)."""

    def __init__(self, message: str, line: int) -> None:
        super().__init__(message)
        self.line = line


class _Loader(yaml.SafeLoader):
    pass


def _timestamp(loader: _Loader, node: yaml.ScalarNode) -> object:
    """A date such as 2026-02-30 matches YAML's timestamp pattern but is no date: say where."""
    try:
        return yaml.SafeLoader.construct_yaml_timestamp(loader, node)
    except ValueError as exc:
        raise yaml.constructor.ConstructorError(
            None, None, f"invalid date {node.value!r}: {exc}", node.start_mark
        ) from None


def _mapping(loader: _Loader, node: yaml.MappingNode) -> LineDict:
    result = LineDict()
    result.line = node.start_mark.line + 1
    result.key_lines = {}
    loader.flatten_mapping(node)
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in result:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        result[key] = loader.construct_object(value_node, deep=True)
        result.key_lines[str(key)] = key_node.start_mark.line + 1
    return result


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)
_Loader.add_constructor("tag:yaml.org,2002:timestamp", _timestamp)


def load_yaml(path: Path) -> Any:
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise NotUtf8(f"byte {data[exc.start]:#04x} at offset {exc.start}", line) from None
    return yaml.load(text, Loader=_Loader)  # a SafeLoader subclass: data only


def line_of(root: Any, loc: tuple[Any, ...]) -> int:
    """The line of the deepest node on `loc` (a pydantic error location) inside `root`."""
    line = getattr(root, "line", 0)
    node = root
    for part in loc:
        if isinstance(node, LineDict):
            if str(part) in node.key_lines:
                line = node.key_lines[str(part)]
            node = node.get(part)
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
            line = getattr(node, "line", line)
        else:
            break
    return line
