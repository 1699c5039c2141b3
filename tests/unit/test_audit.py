from __future__ import annotations

from aios.audit import GENESIS, chain_events, verify_chain
from hypothesis import given
from hypothesis import strategies as st

events_st = st.lists(
    st.tuples(
        st.sampled_from(["case.received", "plan.signed", "action.applied"]),
        st.dictionaries(st.text(max_size=5), st.integers(-(2**53) + 1, 2**53 - 1), max_size=3),
    ),
    min_size=1,
    max_size=12,
)


def _chain(events):
    return chain_events("c-1", 0, GENESIS, events, "2026-01-01T00:00:00+00:00")


@given(events_st)
def test_an_untouched_chain_verifies_and_ends_at_the_head(events) -> None:
    chain = _chain(events)
    verdict = verify_chain(chain, len(chain), chain[-1].hash)
    assert verdict.valid and verdict.length == len(events) and verdict.head == chain[-1].hash


@given(events_st, st.data())
def test_any_edited_event_is_detected(events, data) -> None:
    chain = _chain(events)
    i = data.draw(st.integers(0, len(chain) - 1))
    edited = chain[i].model_copy(update={"data": {**chain[i].data, "tampered": 1}})
    verdict = verify_chain([*chain[:i], edited, *chain[i + 1 :]], len(chain), chain[-1].hash)
    assert not verdict.valid and verdict.seq == i + 1


@given(events_st.filter(lambda e: len(e) >= 3), st.data())
def test_a_removed_event_is_detected(events, data) -> None:
    chain = _chain(events)
    i = data.draw(st.integers(0, len(chain) - 2))
    assert not verify_chain([*chain[:i], *chain[i + 1 :]], len(chain), chain[-1].hash).valid


@given(events_st.filter(lambda e: len(e) >= 2))
def test_a_truncated_tail_is_detected_by_the_case_head(events) -> None:
    chain = _chain(events)
    assert verify_chain(chain[:-1]).valid  # links alone cannot see a cut tail ...
    assert not verify_chain(chain[:-1], len(chain), chain[-1].hash).valid  # ... the head can


def test_a_rewritten_chain_with_recomputed_hashes_does_not_match_the_head() -> None:
    chain = _chain([("case.received", {}), ("action.applied", {"amount": 10})])
    forged = chain_events(
        "c-1", 1, chain[0].hash, [("action.applied", {"amount": 9999})], chain[1].at
    )
    assert verify_chain([chain[0], *forged]).valid
    assert not verify_chain([chain[0], *forged], 2, chain[-1].hash).valid


def _verdict_after(change):
    chain = _chain(
        [
            ("case.received", {}),
            ("plan.signed", {"n": 1}),
            ("action.applied", {"n": 2}),
            ("case.succeeded", {}),
        ]
    )
    return verify_chain(change(list(chain)), len(chain), chain[-1].hash)


def test_an_inserted_event_is_detected_at_its_position() -> None:
    def insert(chain):
        extra = chain_events("c-1", 1, chain[0].hash, [("action.applied", {"n": 99})], chain[0].at)[
            0
        ]
        return [chain[0], extra, *chain[1:]]

    verdict = _verdict_after(insert)
    # The forged event links correctly, so the break shows where the original event 2 now sits.
    assert not verdict.valid and verdict.seq == 3


def test_reordered_events_are_detected_at_the_first_out_of_place() -> None:
    verdict = _verdict_after(lambda c: [c[0], c[2], c[1], c[3]])
    assert not verdict.valid and verdict.seq == 2
    assert "expected event 2" in (verdict.problem or "")


def test_a_deleted_event_is_named() -> None:
    verdict = _verdict_after(lambda c: [c[0], c[2], c[3]])
    assert not verdict.valid and verdict.seq == 2 and "expected event 2" in (verdict.problem or "")
