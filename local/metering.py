"""Metering the emulation: what the calls and invocations of a run would bill on AWS.

`Metering.install()` (before the emulation starts) hooks every botocore session of the process
and the Lambda runtime, and accumulates an `aios.cost.Meter`:

- Lambda: one request per invocation (Step Functions' lambda:invoke, the SQS and stream event
  sources, API routes), GB-seconds = the measured duration of the handler, rounded up to the
  millisecond, x the function's memory size in the template (arm64).
- DynamoDB read and write units, counted from the calls the way on-demand bills them:
  writes 1 WRU per KiB of the item (2 in a transaction; an update is sized by the item after
  it, read back uncounted), plus one write per global secondary index the item is in; reads
  1 RRU per 4 KiB (half eventually consistent, double transactional; a query by the total
  size it returns). moto's ConsumedCapacity is a constant, so it is not used.
- SQS requests in 64 KiB chunks (FIFO or standard by the queue URL); receives that return
  nothing are the event source's idle polling, a fixed cost, kept apart (`idle_receives`).
- KMS requests by key type (DescribeKey, uncounted, tells asymmetric from symmetric);
  EventBridge entries in 64 KiB chunks; AppConfig, Secrets Manager, S3, SES, PutMetricData.
- Log bytes: what the functions write (their log files in the emulation), plus Lambda's
  START/END/REPORT lines per invocation and the API's access log line per request; the state
  machine's execution log (level ALL, no execution data) is added from the execution history
  by `add_execution`, with the state transitions.

DynamoDB Streams reads by Lambda triggers are free on AWS and not counted.
"""

from __future__ import annotations

import base64
import collections
import contextlib
import json
import math
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import botocore.session

LAYER = Path(__file__).resolve().parents[1] / "layers" / "aios" / "python"
if str(LAYER) not in sys.path:
    sys.path.insert(0, str(LAYER))

from aios.cost import Meter  # noqa: E402

KIB = 1024
CHUNK = 64 * KIB
# Lambda's START, END and REPORT lines (with an X-Ray segment id) per invocation.
LAMBDA_PLATFORM_LOG_BYTES = 330
# One API Gateway access log line (JSON with the standard fields).
API_ACCESS_LOG_BYTES = 420
# A Step Functions execution log event (level ALL, execution data off) is the history event
# with its input and output left out, in a JSON envelope of about this many bytes.
SFN_LOG_ENVELOPE_BYTES = 260

_STATE = threading.local()


def _skipping() -> bool:
    return bool(getattr(_STATE, "skip", False))


@contextlib.contextmanager
def unmetered() -> Iterator[None]:
    """Calls made inside are not counted (the benchmark's own polls and side reads)."""
    before = _skipping()
    _STATE.skip = True
    try:
        yield
    finally:
        _STATE.skip = before


def attribute_size(value: dict[str, Any]) -> int:
    """The size DynamoDB bills for one attribute value (wire format)."""
    ((kind, v),) = value.items()
    if kind == "S":
        return len(v.encode())
    if kind == "N":
        return math.ceil(len(v.lstrip("-").replace(".", "")) / 2) + 1
    if kind == "B":
        return len(base64.b64decode(v)) if isinstance(v, str) else len(v)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "M":
        return 3 + sum(len(k.encode()) + attribute_size(x) + 1 for k, x in v.items())
    if kind == "L":
        return 3 + sum(attribute_size(x) + 1 for x in v)
    if kind == "SS":
        return sum(len(x.encode()) for x in v)
    if kind == "NS":
        return sum(attribute_size({"N": x}) for x in v)
    if kind == "BS":
        return sum(len(base64.b64decode(x)) for x in v)
    return len(json.dumps(v))


def item_size(item: dict[str, Any] | None) -> int:
    return sum(len(k.encode()) + attribute_size(v) for k, v in (item or {}).items())


def _touched(update: dict[str, Any]) -> set[str]:
    """The attribute names an update expression names (its set and remove targets)."""
    names = update.get("ExpressionAttributeNames") or {}
    expression = str(update.get("UpdateExpression") or "")
    return {v for k, v in names.items() if k in expression}


def _write_units(size: int) -> int:
    return max(1, math.ceil(size / KIB))


def _read_units(size: int, consistent: bool) -> float:
    units = max(1, math.ceil(size / (4 * KIB)))
    return float(units) if consistent else units / 2


def _starts_trace(name: str, event: Any) -> bool:
    """A stream-triggered invocation, or one by an EventBridge rule, starts its own trace."""
    return name == "case_events" or (isinstance(event, dict) and "detail-type" in event)


class Metering:
    """Counts of a run, as a Meter (`meter`) and by operation (`operations`)."""

    def __init__(self) -> None:
        self.meter = Meter()
        self.operations: collections.Counter[str] = collections.Counter()
        self.idle_receives = 0
        self.units: dict[str, float] = collections.defaultdict(float)
        """DynamoDB units by "WRU|RRU operation table", to see where they go."""
        self.invocations: collections.Counter[str] = collections.Counter()
        self.lambda_seconds: dict[str, float] = collections.defaultdict(float)
        self._lock = threading.Lock()
        self._key_specs: dict[str, str] = {}
        self._indexes: dict[str, tuple[list[str], list[tuple[list[str], list[str] | None]]]] = {}
        self._memory_mb: dict[str, int] = {}
        self._client: Any = None
        self._installed = False

    # -- reset and read

    def reset(self) -> None:
        with self._lock:
            self.meter = Meter()
            self.operations.clear()
            self.invocations.clear()
            self.lambda_seconds.clear()
            self.units.clear()
            self.idle_receives = 0

    def snapshot(self) -> tuple[Meter, collections.Counter[str]]:
        with self._lock:
            return Meter().merge(self.meter), collections.Counter(self.operations)

    def _add(self, key: str, n: float) -> None:
        with self._lock:
            self.meter.add(key, n)

    # -- installation

    def install(self) -> None:
        """Hook botocore sessions made from now on, and the emulation's Lambda runtime."""
        if self._installed:
            return
        self._installed = True
        original_init = botocore.session.Session.__init__
        metering = self

        def init(session: botocore.session.Session, *args: Any, **kwargs: Any) -> None:
            original_init(session, *args, **kwargs)
            session.register("before-call", metering._before_call)
            session.register("after-call", metering._after_call)

        botocore.session.Session.__init__ = init
        self._install_runtime()

    def _install_runtime(self) -> None:
        from local import lambda_runtime

        original_load = lambda_runtime.LambdaRuntime._load
        metering = self

        def load(runtime: Any, name: str) -> Any:
            loaded = original_load(runtime, name)
            if not getattr(loaded.handler, "_metered", False):
                handler = loaded.handler
                memory_mb = loaded.spec.memory_mb

                def timed(event: Any, context: Any) -> Any:
                    started = time.perf_counter()
                    try:
                        return handler(event, context)
                    finally:
                        metering._invoked(
                            name,
                            memory_mb,
                            time.perf_counter() - started,
                            new_trace=_starts_trace(name, event),
                        )

                timed._metered = True  # type: ignore[attr-defined]
                loaded.handler = timed
            return loaded

        lambda_runtime.LambdaRuntime._load = load  # type: ignore[method-assign, assignment]

    def bind(self, client: Any) -> None:
        """The emulation's client factory (`Emulation.client`), for the uncounted side reads
        (item sizes after an update, the tables' indexes, the keys' specs)."""
        self._client = client

    def _invoked(self, name: str, memory_mb: int, seconds: float, new_trace: bool) -> None:
        if _skipping():
            return
        billed_ms = math.ceil(seconds * 1000)
        with self._lock:
            self.invocations[name] += 1
            self.lambda_seconds[name] += billed_ms / 1000
            self.meter.add("lambda_requests", 1)
            self.meter.add("lambda_gb_seconds", billed_ms / 1000 * memory_mb / 1024)
            self.meter.add("log_bytes", LAMBDA_PLATFORM_LOG_BYTES)
            if new_trace:
                self.meter.add("xray_traces", 1)

    def api_request(self) -> None:
        """One API Gateway request (its trace and access log line)."""
        if _skipping():
            return
        for key, n in (
            ("api_requests", 1),
            ("xray_traces", 1),
            ("log_bytes", API_ACCESS_LOG_BYTES),
        ):
            self._add(key, n)

    def add_log_bytes(self, n: int) -> None:
        self._add("log_bytes", n)

    def add_execution(self, events: list[dict[str, Any]]) -> int:
        """A case's execution history: its state transitions and its execution log."""
        transitions = sum(1 for e in events if e["type"].endswith("StateEntered"))
        self._add("sfn_transitions", transitions)
        self._add("log_bytes", len(events) * SFN_LOG_ENVELOPE_BYTES)
        return transitions

    # -- botocore hooks

    def _before_call(self, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        body = params.get("body") or b""
        context["aios_meter_body"] = body if isinstance(body, bytes) else str(body).encode()
        context["aios_meter_skip"] = _skipping()

    def _after_call(
        self, event_name: str, parsed: dict[str, Any], context: dict[str, Any], **kw: Any
    ) -> None:
        if context.get("aios_meter_skip", True):
            return
        _, service, operation = event_name.split(".", 2)
        body: bytes = context.get("aios_meter_body", b"")
        with self._lock:
            self.operations[f"{service}:{operation}"] += 1
        try:
            request = json.loads(body) if body[:1] == b"{" else {}
        except ValueError:
            request = {}
        handler = getattr(self, f"_{service.replace('-', '_')}", None)
        if handler is not None:
            with unmetered():
                handler(operation, request, parsed, body, kw.get("http_response"))

    # -- per service

    def _dynamodb(self, op: str, request: dict[str, Any], parsed: dict[str, Any], *_: Any) -> None:
        before = dict(self.meter.counts)
        self._dynamodb_units(op, request, parsed)
        table = str(request.get("TableName") or "").rsplit("-", 1)[0] or "multi"
        for key, name in (("dynamodb_wru", "WRU"), ("dynamodb_rru", "RRU")):
            delta = self.meter.counts.get(key, 0.0) - before.get(key, 0.0)
            if delta:
                with self._lock:
                    self.units[f"{name} {op} {table}"] += delta

    def _dynamodb_units(self, op: str, request: dict[str, Any], parsed: dict[str, Any]) -> None:
        if op in ("GetItem", "Query", "Scan", "BatchGetItem", "TransactGetItems"):
            self._dynamodb_read(op, request, parsed)
        elif op == "PutItem":
            self._write(request["TableName"], request["Item"], 1)
        elif op == "UpdateItem":
            table = request["TableName"]
            self._write(table, self._item(table, request["Key"]), 1, _touched(request))
        elif op == "DeleteItem":
            self._add("dynamodb_wru", 1)
        elif op == "BatchWriteItem":
            for table, writes in request.get("RequestItems", {}).items():
                for w in writes:
                    self._write(table, (w.get("PutRequest") or {}).get("Item"), 1)
        elif op == "TransactWriteItems":
            for entry in request.get("TransactItems", []):
                ((kind, part),) = entry.items()
                table = part["TableName"]
                if kind == "Put":
                    self._write(table, part["Item"], 2)
                elif kind == "Update":
                    self._write(table, self._item(table, part["Key"]), 2, _touched(part))
                else:  # ConditionCheck, Delete
                    self._add("dynamodb_wru", 2)

    def _dynamodb_read(self, op: str, request: dict[str, Any], parsed: dict[str, Any]) -> None:
        consistent = bool(request.get("ConsistentRead"))
        if op == "GetItem":
            self._add("dynamodb_rru", _read_units(item_size(parsed.get("Item")), consistent))
        elif op in ("Query", "Scan"):
            size = sum(item_size(i) for i in parsed.get("Items", []))
            self._add("dynamodb_rru", _read_units(size, consistent))
        elif op == "BatchGetItem":
            for items in (parsed.get("Responses") or {}).values():
                for i in items:
                    self._add("dynamodb_rru", _read_units(item_size(i), False))
        else:  # TransactGetItems
            for r in parsed.get("Responses", []):
                self._add("dynamodb_rru", 2 * _read_units(item_size(r.get("Item")), True))

    def _write(
        self, table: str, item: dict[str, Any] | None, factor: int, touched: set[str] | None = None
    ) -> None:
        """A write of `item` (as it is after the write): its units, and one write to each
        index the item is in whose projection the write touches (`touched`: the attribute
        names an update sets; None for a put, which touches all)."""
        item = item or {}
        units = _write_units(item_size(item))
        index_units = 0
        table_keys, indexes = self._table_indexes(table)
        for keys, projected in indexes:
            if not all(k in item for k in keys):
                continue
            wanted = set(item) if projected is None else {*table_keys, *keys, *projected}
            if touched is not None and not (touched & wanted):
                continue
            index_units += _write_units(item_size({k: v for k, v in item.items() if k in wanted}))
        self._add("dynamodb_wru", factor * units + index_units)

    def _item(self, table: str, key: dict[str, Any]) -> dict[str, Any] | None:
        if self._client is None:
            return None
        got = self._client("dynamodb").get_item(TableName=table, Key=key)
        return got.get("Item")  # type: ignore[no-any-return]

    def _table_indexes(
        self, table: str
    ) -> tuple[list[str], list[tuple[list[str], list[str] | None]]]:
        """The table's key names, and per global index its keys and projected attributes
        (None: ALL)."""
        if table not in self._indexes:
            keys: list[str] = []
            indexes: list[tuple[list[str], list[str] | None]] = []
            if self._client is not None:
                t = self._client("dynamodb").describe_table(TableName=table)["Table"]
                keys = [k["AttributeName"] for k in t["KeySchema"]]
                for index in t.get("GlobalSecondaryIndexes", []):
                    projection = index.get("Projection", {})
                    kind = projection.get("ProjectionType", "ALL")
                    indexes.append(
                        (
                            [k["AttributeName"] for k in index["KeySchema"]],
                            None if kind == "ALL" else list(projection.get("NonKeyAttributes", [])),
                        )
                    )
            self._indexes[table] = (keys, indexes)
        return self._indexes[table]

    def _sqs(
        self, op: str, request: dict[str, Any], parsed: dict[str, Any], body: bytes, *_: Any
    ) -> None:
        url = str(request.get("QueueUrl", ""))
        if not url:  # the query protocol: the URL is a form field
            url = ".fifo" if b".fifo" in body else ""
        key = "sqs_requests" if url.endswith(".fifo") else "sqs_standard_requests"
        if op == "ReceiveMessage":
            messages = parsed.get("Messages") or []
            if not messages:
                with self._lock:
                    self.idle_receives += 1
                    self.operations["sqs:ReceiveMessage"] -= 1
                    self.operations["sqs:ReceiveMessage (empty)"] += 1
                return
            size = sum(len(m.get("Body", "").encode()) for m in messages)
            self._add(key, max(1, math.ceil(size / CHUNK)))
        elif op in ("SendMessage", "SendMessageBatch"):
            self._add(key, max(1, math.ceil(len(body) / CHUNK)))
        else:
            self._add(key, 1)

    def _kms(self, op: str, request: dict[str, Any], *_: Any) -> None:
        key_id = str(request.get("KeyId", ""))
        if (
            op in ("Sign", "Verify", "GetPublicKey")
            or self._key_spec(key_id) != "SYMMETRIC_DEFAULT"
        ):
            self._add("kms_asymmetric", 1)
        else:
            self._add("kms_symmetric", 1)

    def _key_spec(self, key_id: str) -> str:
        if key_id and key_id not in self._key_specs and self._client is not None:
            meta = self._client("kms").describe_key(KeyId=key_id)["KeyMetadata"]
            self._key_specs[key_id] = meta.get("KeySpec", "SYMMETRIC_DEFAULT")
        return self._key_specs.get(key_id, "SYMMETRIC_DEFAULT")

    def _eventbridge(self, op: str, request: dict[str, Any], *_: Any) -> None:
        if op == "PutEvents":
            for entry in request.get("Entries", []):
                size = len(json.dumps(entry).encode())
                self._add("eventbridge_events", max(1, math.ceil(size / CHUNK)))

    def _appconfigdata(self, op: str, *args: Any) -> None:
        if op != "GetLatestConfiguration":
            return
        self._add("appconfig_requests", 1)
        response = args[3]
        length = int((getattr(response, "headers", {}) or {}).get("content-length") or 0)
        if length:
            self._add("appconfig_received", 1)

    def _secrets_manager(self, op: str, *_: Any) -> None:
        self._add("secrets_requests", 1)

    def _s3(self, op: str, *_: Any) -> None:
        self._add("s3_puts" if op in ("PutObject", "CopyObject", "ListObjectsV2") else "s3_gets", 1)

    def _ses(self, op: str, *_: Any) -> None:
        if op.startswith("Send"):
            self._add("emails", 1)

    _sesv2 = _ses

    def _cloudwatch(self, op: str, *_: Any) -> None:
        if op == "PutMetricData":
            self._add("metric_requests", 1)


def log_bytes(log_dir: Path) -> int:
    """The bytes the functions have written to their log files so far."""
    return sum(p.stat().st_size for p in log_dir.glob("*.log"))
