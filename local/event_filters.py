"""Lambda event filtering (`FilterCriteria`) for the emulation's pollers.

An event source mapping's filters are patterns in EventBridge's syntax; a record reaches the
function when any pattern matches it (Lambda drops the rest). The subset the kit's templates
use is supported: nested objects, lists of literal values, `prefix`, `exists` and
`anything-but`. A pattern using anything else raises `UnsupportedFilter` when the mapping is
read, so an emulation never silently delivers what AWS would filter.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

OPERATORS = frozenset({"prefix", "exists", "anything-but"})


class UnsupportedFilter(ValueError):
    """A filter pattern uses syntax the emulation does not implement."""


def parse_patterns(filter_criteria: Mapping[str, Any] | None) -> tuple[dict[str, Any], ...]:
    """The patterns of a FilterCriteria property (`{"Filters": [{"Pattern": "<json>"}]}`)."""
    patterns = []
    for entry in (filter_criteria or {}).get("Filters", []):
        raw = entry.get("Pattern", "{}")
        pattern = json.loads(raw) if isinstance(raw, str) else raw
        _check(pattern)
        patterns.append(pattern)
    return tuple(patterns)


def _check(pattern: Any) -> None:
    if isinstance(pattern, dict):
        for value in pattern.values():
            _check(value)
    elif isinstance(pattern, list):
        for matcher in pattern:
            if isinstance(matcher, dict) and not set(matcher) <= OPERATORS:
                raise UnsupportedFilter(f"unsupported filter operator in {matcher}")
    else:
        raise UnsupportedFilter(f"a pattern value must be an object or a list, not {pattern!r}")


def matches_any(patterns: Sequence[Mapping[str, Any]], record: Mapping[str, Any]) -> bool:
    """Whether the record passes the filters (no filters: every record passes)."""
    return not patterns or any(_matches(p, record) for p in patterns)


def _matches(pattern: Mapping[str, Any], value: Any) -> bool:
    if not isinstance(value, Mapping):
        return False
    for key, expected in pattern.items():
        present = key in value
        if isinstance(expected, Mapping):
            if not present or not _matches(expected, value[key]):
                return False
        elif not any(_matcher(m, present, value.get(key)) for m in expected):
            return False
    return True


def _matcher(matcher: Any, present: bool, actual: Any) -> bool:
    if not isinstance(matcher, dict):
        return present and actual == matcher
    if "exists" in matcher:
        return present is bool(matcher["exists"])
    if "prefix" in matcher:
        return present and isinstance(actual, str) and actual.startswith(matcher["prefix"])
    excluded = matcher["anything-but"]
    excluded = excluded if isinstance(excluded, list) else [excluded]
    return present and actual not in excluded
