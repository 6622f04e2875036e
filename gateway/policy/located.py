"""YAML to values that remember their line, so every policy error can say where it is.

PyYAML's safe constructor builds scalars; mappings and sequences are walked here from the composed node tree,
which also lets us reject duplicate keys (PyYAML silently keeps the last one, hiding a policy author's mistake).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

from gateway.errors import PolicyError


@dataclass(frozen=True)
class Located:
    """A YAML value with its 1-based line: dict[str, Located], list[Located] or a scalar."""

    value: Any
    line: int


def _convert(node: yaml.Node, constructor: yaml.SafeLoader, source: str) -> Located:
    line = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        constructor.flatten_mapping(node)
        out: dict[str, Located] = {}
        for key_node, value_node in node.value:
            key = constructor.construct_object(key_node, deep=True)
            key_line = key_node.start_mark.line + 1
            if not isinstance(key, str | int) or isinstance(key, bool):
                raise PolicyError(f"{source}:{key_line}: keys must be strings")
            key = str(key)
            if key in out:
                raise PolicyError(f"{source}:{key_line}: duplicate key {key!r}")
            value = _convert(value_node, constructor, source)
            # A key's errors are best reported on the key's line, even for nested block values.
            out[key] = Located(value.value, key_line) if not isinstance(value.value, dict | list) else value
        return Located(out, line)
    if isinstance(node, yaml.SequenceNode):
        return Located([_convert(item, constructor, source) for item in node.value], line)
    return Located(constructor.construct_object(node, deep=True), line)


def load_located(data: bytes, source: str) -> Located:
    """Parse one YAML document into Located values; syntax errors become PolicyError with the line."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PolicyError(f"{source}:1: the policy file is not UTF-8") from exc
    try:
        # The reader checks for non-printable characters as soon as it is built: that can fail too.
        loader = yaml.SafeLoader(text)
    except yaml.YAMLError as exc:
        raise PolicyError(f"{source}:1: invalid YAML (a character YAML does not allow)") from exc
    try:
        node = loader.get_single_node()
        if node is None:
            raise PolicyError(f"{source}:1: the policy file is empty (an empty policy is rejected)")
        return _convert(node, loader, source)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = mark.line + 1 if mark is not None else 1
        raise PolicyError(f"{source}:{where}: invalid YAML ({exc.problem or 'syntax error'})") from exc
    except yaml.YAMLError as exc:
        raise PolicyError(f"{source}:1: invalid YAML") from exc
    finally:
        loader.dispose()
