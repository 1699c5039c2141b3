"""Put case events on the kit's EventBridge bus, in order, reporting the first that failed.

EventBridge takes up to 10 entries per PutEvents call and may refuse some of them (throttling,
internal errors): the publisher stops at the first refused entry and returns its position, so
the stream is retried from there and no event is lost. Entries after it that did go through
are sent again by the retry: delivery is at least once, and consumers deduplicate on `id`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from aios.events.envelope import SOURCE, CaseEvent

MAX_ENTRIES = 10


def entry(event: CaseEvent, bus: str) -> dict[str, Any]:
    """The PutEvents entry of one case event."""
    return {
        "Source": SOURCE,
        "DetailType": event.type,
        "Detail": json.dumps(event.model_dump(mode="json"), separators=(",", ":")),
        "EventBusName": bus,
        "Time": datetime.fromisoformat(event.at),
        "Resources": [],
    }


def publish(events: Sequence[CaseEvent], bus: str, client: Any) -> int | None:
    """Put `events` on `bus` in order; the index of the first refused one, None when all went."""
    for start in range(0, len(events), MAX_ENTRIES):
        chunk = events[start : start + MAX_ENTRIES]
        response = client.put_events(Entries=[entry(e, bus) for e in chunk])
        if response.get("FailedEntryCount"):
            for offset, result in enumerate(response.get("Entries", [])):
                if result.get("ErrorCode"):
                    return start + offset
            return start
    return None
