"""Scale settings in the template: the action queue's FIFO high-throughput mode, the SQS
event sources' maximum concurrency and the decide function's reserved concurrency, each from
its context key."""

from __future__ import annotations

from typing import Any

import pytest
from infra_synth import Synth, synthesize
from test_resources import _queues

from stacks.config import AiosConfig, ConfigError


def _event_source(synth: Synth, function: str) -> dict[str, Any]:
    logical_id, _ = synth.function(function)
    [mapping] = [
        m["Properties"]
        for m in synth.of_type("AWS::Lambda::EventSourceMapping").values()
        if m["Properties"]["FunctionName"] == {"Ref": logical_id}
    ]
    return mapping


def test_the_action_queue_is_high_throughput_fifo_and_event_sources_are_bounded(
    synth: Synth,
) -> None:
    (_, queue), _ = _queues(synth)
    props = queue["Properties"]
    assert props["DeduplicationScope"] == "messageGroup"
    assert props["FifoThroughputLimit"] == "perMessageGroupId"
    assert props["ContentBasedDeduplication"] is False  # the action id stays the dedup id
    assert _event_source(synth, "execute")["ScalingConfig"] == {"MaximumConcurrency": 50}
    assert _event_source(synth, "webhooks")["ScalingConfig"] == {"MaximumConcurrency": 10}
    assert "ReservedConcurrentExecutions" not in synth.function("decide")[1]["Properties"]


@pytest.mark.slow
def test_context_keys_turn_high_throughput_off_and_set_the_concurrency(tmp_path: Any) -> None:
    synth = synthesize(
        tmp_path,
        fifo_high_throughput="false",
        execute_max_concurrency="5",
        webhooks_max_concurrency="2",
        decide_reserved_concurrency="20",
    )
    (_, queue), _ = _queues(synth)
    assert "DeduplicationScope" not in queue["Properties"]
    assert "FifoThroughputLimit" not in queue["Properties"]
    assert _event_source(synth, "execute")["ScalingConfig"] == {"MaximumConcurrency": 5}
    assert _event_source(synth, "webhooks")["ScalingConfig"] == {"MaximumConcurrency": 2}
    assert synth.function("decide")[1]["Properties"]["ReservedConcurrentExecutions"] == 20


@pytest.mark.parametrize(
    ("key", "value"),
    [("execute_max_concurrency", "1"), ("webhooks_max_concurrency", "1001"),
     ("decide_reserved_concurrency", "0"), ("fifo_high_throughput", "sometimes")],
)  # fmt: skip
def test_scale_keys_out_of_range_are_refused_naming_the_key(key: str, value: str) -> None:
    with pytest.raises(ConfigError, match=rf"^invalid context value for '{key}': "):
        AiosConfig.from_mapping({key: value})
