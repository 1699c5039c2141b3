"""The classification cache key: trivial rewording maps to one key, a change of meaning never."""

from __future__ import annotations

import pytest
from aios.model_cache import reworded, reworded_text
from hypothesis import given
from hypothesis import strategies as st

BASE = "Since the update the invoice portal crashes right after login with error 1849."


@pytest.mark.parametrize(
    ("one", "other"),
    [
        (BASE, BASE.upper()),  # case
        (BASE, "  " + BASE.replace(" ", "  ") + "\n"),  # spacing
        (BASE, BASE.replace(".", "!!").replace("update", "update,")),  # punctuation
        (BASE, BASE.replace("1849", "4550")),  # an error code is an identifier
        ("Ticket T-5003 is still open", "ticket t-5012 is still open"),
        ("Order ORD123456 never arrived", "Order ord-998877 never arrived!"),
        ("Write to ana@example.com", "write to bo.li@corp.example.org"),
        ("See https://status.example.com/x?id=1", "see www.example.com/other"),
        ("I paid 110 EUR twice", "i paid €110 twice"),  # one amount, written two ways
        ("Refund of 1,500.00 USD", "refund of $1500"),
        ("\uff26\uff55\uff4c\uff4c text", "full TEXT"),  # Unicode compatibility forms
    ],
)
def test_trivial_rewording_keeps_the_key(one: str, other: str) -> None:
    assert reworded_text(one) == reworded_text(other)


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("Please refund my last payment", "Please do not refund my last payment"),  # negation
        ("I paid 110 EUR twice", "I paid 4000 EUR twice"),  # amounts carry meaning
        ("I paid EUR 4000 twice", "I paid EUR 9000 twice"),  # four-digit amounts too
        ("I paid 110 EUR", "I paid 110 USD"),  # so does the currency
        ("A refund of 1.100 EUR", "A refund of 1.1 EUR"),  # a thousands dot is not a decimal
        ("Charged 2 times", "Charged 3 times"),  # small counts are kept
        ("Cancelled on day 11", "Cancelled on day 12"),
        ("Version 2.1 crashes", "Version 2.2 crashes"),
        ("The Pro plan is down", "The Team plan is down"),  # every word counts
        ("Is the API down?", "The API is down."),  # word order
        ("The app crashes", "The app crashed"),
    ],
)
def test_a_change_of_meaning_changes_the_key(one: str, other: str) -> None:
    assert reworded_text(one) != reworded_text(other)


def test_structured_inputs_are_reworded_field_by_field() -> None:
    one = {"subject": "Error 1849", "body": "Crash!", "priority": "high", "n": 2, "tags": ["A1234"]}
    other = {
        "subject": "error 5555",
        "body": "crash",
        "priority": "HIGH",
        "n": 2,
        "tags": ["b9999"],
    }
    assert reworded(one) == reworded(other)
    assert reworded({**one, "priority": "low"}) != reworded(one)
    assert reworded({**one, "n": 3}) != reworded(one)


@given(st.text(max_size=200))
def test_rewording_is_idempotent_on_its_output_words(text: str) -> None:
    once = reworded_text(text)
    assert reworded_text(once.upper()) == reworded_text(once)
    assert once == once.strip() and "  " not in once
