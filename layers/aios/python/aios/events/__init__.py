"""Case lifecycle events: the kit's EventBridge bus and per-process signed webhooks.

Emitted from the ledger's DynamoDB stream, not in the code paths that change a case: every
change is committed with exactly one new audit item, and the stream carries each new item
once, in commit order per case, whichever code path (decide, execute, approvals, finalize,
the reconciler, an operator's move) wrote it. So no writer can forget an event, an event is
never emitted for a change that was rolled back, and nothing is added to the latency of the
writers. Delivery from the stream to the bus is at least once (a failed put is retried from
the failed record); consumers deduplicate on the event `id` and order a case's events by `seq`.

- `envelope`: the `CaseEvent` model, the known types and the JSON schema;
- `build`: a stream record's audit item joined with its causal ids;
- `publish`: PutEvents in order;
- `webhooks`: signed deliveries to a process's webhook.
"""

from aios.events.build import AuditRecord, CausalLookup, audit_record, case_event
from aios.events.envelope import EVENT_TYPES, SOURCE, CaseEvent, json_schema
from aios.events.publish import publish
from aios.events.webhooks import deliver, parse_delivery

__all__ = [
    "EVENT_TYPES",
    "SOURCE",
    "AuditRecord",
    "CaseEvent",
    "CausalLookup",
    "audit_record",
    "case_event",
    "deliver",
    "json_schema",
    "parse_delivery",
    "publish",
]
