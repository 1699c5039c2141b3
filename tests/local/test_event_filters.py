"""Lambda event filtering as the emulation's pollers apply it: the patterns the kit's templates
use match as on AWS, and a pattern the emulation cannot evaluate fails loudly."""

from __future__ import annotations

import json

import pytest

from local.event_filters import UnsupportedFilter, matches_any, parse_patterns

AUDIT_INSERTS = {
    "Filters": [
        {
            "Pattern": json.dumps(
                {
                    "eventName": ["INSERT"],
                    "dynamodb": {"Keys": {"sk": {"S": [{"prefix": "AUDIT#"}]}}},
                }
            )
        }
    ]
}


def record(event: str, sk: str) -> dict:
    return {"eventName": event, "dynamodb": {"Keys": {"pk": {"S": "CASE#c"}, "sk": {"S": sk}}}}


def test_the_publishers_filter_lets_only_new_audit_items_through() -> None:
    patterns = parse_patterns(AUDIT_INSERTS)
    assert matches_any(patterns, record("INSERT", "AUDIT#0000000001"))
    assert not matches_any(patterns, record("MODIFY", "AUDIT#0000000001"))
    assert not matches_any(patterns, record("INSERT", "ACTION#000"))
    assert not matches_any(patterns, {"eventName": "INSERT"})


def test_no_filter_passes_everything_and_any_pattern_may_match() -> None:
    assert matches_any(parse_patterns(None), record("REMOVE", "CASE"))
    either = parse_patterns(
        {
            "Filters": [
                {"Pattern": '{"eventName": ["REMOVE"]}'},
                {"Pattern": '{"eventName": ["INSERT"]}'},
            ]
        }
    )
    assert matches_any(either, record("INSERT", "X")) and not matches_any(
        either, record("MODIFY", "X")
    )
    absent = parse_patterns({"Filters": [{"Pattern": '{"userIdentity": [{"exists": false}]}'}]})
    assert matches_any(absent, record("REMOVE", "X"))
    other = parse_patterns(
        {"Filters": [{"Pattern": '{"eventName": [{"anything-but": ["REMOVE"]}]}'}]}
    )
    assert matches_any(other, record("INSERT", "X")) and not matches_any(
        other, record("REMOVE", "X")
    )


@pytest.mark.parametrize(
    "pattern",
    ['{"eventName": [{"numeric": [">", 1]}]}', '{"eventName": "INSERT"}'],
)
def test_a_pattern_the_emulation_cannot_evaluate_is_refused(pattern: str) -> None:
    with pytest.raises(UnsupportedFilter):
        parse_patterns({"Filters": [{"Pattern": pattern}]})
