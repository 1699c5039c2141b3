"""The only place the emulation touches moto internals. Pinned to moto 5.2.5.

moto's Step Functions interpreter (LocalStack's ASL engine) calls other services through
`boto_client_for(region, service, state_credentials)`, which builds a boto3 client for
`http://localhost:$MOTO_PORT`. The patches:

1. `moto.stepfunctions.parser.asl.utils.boto_client.moto_server_port` returns the port our
   `ThreadedMotoServer` actually listens on (it may be picked at random), so `sqs:sendMessage`,
   `dynamodb:*` and the other service integrations reach this emulation's server.
2. `moto.stepfunctions.parser.asl.component.state.exec.state_task.lambda_eval_utils.boto_client_for`
   returns, for `service="lambda"` only, a client whose `invoke` runs the function in-process
   (moto's own Lambda backend needs Docker). Both `arn:aws:states:::lambda:invoke` and plain
   Lambda ARN task resources go through this module.
   With a `service_client` (the split layout, `local.split`), the SQS service integration's
   `boto_client_for` is replaced too: its client acts as the state machine's role (the
   `state_credentials` the interpreter passes), so a message lands in the queue's account.

3. `moto.sqs.models.SQSBackend.receive_message` first drops the messages whose visibility
   timeout has expired from the queue's in-flight set. moto 5.2.5 does that lazily inside its
   receive loop and, for FIFO queues, decides whether a message group is blocked before it has
   looked at every expired message: of two expired messages of one group it delivers the later
   one and starves the earlier one forever. AWS redelivers both, in order. A long poll
   (`WaitTimeSeconds`) is served by receiving again whenever a message is sent to the queue
   (and every quarter second, for messages whose visibility timeout ran out), so the fix
   applies to every receive; moto's own wait loop spins when a FIFO queue's visible messages
   are all in blocked groups.

4. `moto.dynamodb.models.DynamoDBBackend.transact_write_items` rolls a failed transaction back
   by putting back a deep copy of each table taken when it began. Two things break on AWS's
   promises: a write another request made to the table meanwhile is lost with it, and the
   table's stream shard is a new object afterwards, while the stream iterators a reader holds
   (`moto.dynamodbstreams.models.ShardIterator.stream_shard`) keep reading the old one, so
   every later change is never delivered. The patch runs each transaction, each single-item
   write and each `get_records` under one lock (a transaction is atomic for other requests,
   as on AWS), and points an iterator at its table's current shard before it reads. A
   transaction no longer copies its tables at all (a copy of the whole ledger per transaction
   made every transaction slower as the ledger grew): it keeps a copy of each item it names
   and, when it fails, puts those back and cuts off the stream records it added. A deep copy
   of a table elsewhere shares the stream's records with the original.

5. `moto.moto_server.werkzeug_app.DomainDispatcherApplication.get_backend_for_host`: the
   service a request is for is looked up once per host; moto lists its package folder on every
   request, under one lock for all services, which was a tenth of the emulation's time under
   load.

6. `moto.stepfunctions.parser.backend.execution_worker.ExecutionWorker._get_evaluation_entrypoint`
   parses the state machine's definition (an ANTLR parser in pure Python) for every execution:
   most of an execution's CPU time. The parsed program is cached per definition: its
   components keep an execution's state in the execution's environment, not on themselves
   (retry counters go by the component's `heap_key`, which the patch sets once, atomically),
   except a Parallel state's branches, so a definition with a Parallel state is parsed per
   execution as before.

7. `moto.dynamodb.models.table.Table.query` sorts every item of the table (`all_items`) and
   then looks for the query's partition, for a query on the table as for one on an index: a
   cost that grows with the table (the ledger grows with every case). The patch hands the
   query only the candidates, the partition of its hash key, or for an index the items whose
   attributes equal the index's hash key conditions; moto then filters, sorts and pages them
   as before.

8. `moto.stepfunctions.parser.backend.execution.BaseExecutionWorkerCommunication.terminated`
   also hands the ended execution, as the detail of Step Functions' "Execution Status Change"
   event, to the emulation's listener (`apply(on_execution_end=...)`), which delivers it to the
   template's rules on the default bus (AWS sends these events there; moto does not).

`apply()` first checks moto's version and that every patched symbol exists, and raises
`MotoPatchError` otherwise: if moto moves these internals the emulation must fail loudly, not
silently call a Docker-backed Lambda or the wrong port.
"""

from __future__ import annotations

import copy
import importlib
import io
import json
import threading
import time
from collections.abc import Callable
from typing import Any

PINNED_MOTO_VERSION = "5.2.5"

_BOTO_CLIENT_MODULE = "moto.stepfunctions.parser.asl.utils.boto_client"
_SQS_MODELS_MODULE = "moto.sqs.models"
_DYNAMODB_MODULE = "moto.dynamodb.models"
_DYNAMODB_TABLE_MODULE = "moto.dynamodb.models.table"
_STREAMS_MODULE = "moto.dynamodbstreams.models"
_DYNAMODB_WRITES = ("transact_write_items", "put_item", "update_item", "delete_item")
_DISPATCH_MODULE = "moto.moto_server.werkzeug_app"
_EXECUTION_WORKER_MODULE = "moto.stepfunctions.parser.backend.execution_worker"
_EXECUTION_MODULE = "moto.stepfunctions.parser.backend.execution"
_EVAL_COMPONENT_MODULE = "moto.stepfunctions.parser.asl.component.eval_component"
_LAMBDA_EVAL_MODULE = (
    "moto.stepfunctions.parser.asl.component.state.exec.state_task.lambda_eval_utils"
)
_SQS_TASK_MODULE = (
    "moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_sqs"
)

#: (module, attribute) pairs the patches replace; checked before anything is patched.
PATCHED_SYMBOLS: tuple[tuple[str, str], ...] = (
    (_BOTO_CLIENT_MODULE, "moto_server_port"),
    (_BOTO_CLIENT_MODULE, "boto_client_for"),
    (_LAMBDA_EVAL_MODULE, "boto_client_for"),
    (_LAMBDA_EVAL_MODULE, "exec_lambda_function"),
    (_LAMBDA_EVAL_MODULE, "_invoke_lambda_function"),
    (_SQS_TASK_MODULE, "boto_client_for"),
    (_SQS_MODELS_MODULE, "SQSBackend.receive_message"),
    (_SQS_MODELS_MODULE, "SQSBackend.get_queue"),
    (_SQS_MODELS_MODULE, "Queue.wait_for_messages"),  # the queue's `_messages_lock` condition
    *((_DYNAMODB_MODULE, f"DynamoDBBackend.{name}") for name in _DYNAMODB_WRITES),
    (_DYNAMODB_MODULE, "DynamoDBBackend.get_table"),
    (_DYNAMODB_TABLE_MODULE, "StreamShard.add"),
    (_DYNAMODB_TABLE_MODULE, "Table.query"),
    (_DYNAMODB_TABLE_MODULE, "Table.all_items"),
    (_STREAMS_MODULE, "DynamoDBStreamsBackend.get_records"),
    (_DISPATCH_MODULE, "DomainDispatcherApplication.get_backend_for_host"),
    (_EXECUTION_WORKER_MODULE, "ExecutionWorker._get_evaluation_entrypoint"),
    (_EXECUTION_MODULE, "BaseExecutionWorkerCommunication.terminated"),
    (_EVAL_COMPONENT_MODULE, "EvalComponent.eval"),
)
#: Data attributes the SQS patch reads (checked on the classes or their instances' init).
_SQS_ATTRIBUTES = (("Queue", "pending_messages"), ("Message", "visible"))


class MotoPatchError(RuntimeError):
    """moto is not the pinned version, or a patched internal has moved."""


class InProcessLambdaClient:
    """Just enough of a boto3 Lambda client for the ASL interpreter: `invoke`."""

    def __init__(self, invoke: Callable[[str, bytes | None], Any]) -> None:
        self._invoke = invoke

    def invoke(self, **params: Any) -> dict[str, Any]:
        payload = params.get("Payload")
        if isinstance(payload, str):
            payload = payload.encode()
        result = self._invoke(params["FunctionName"], payload)
        response: dict[str, Any] = {
            "StatusCode": result.status_code,
            "ExecutedVersion": "$LATEST",
            "Payload": io.BytesIO(result.payload),
            "ResponseMetadata": {"RequestId": result.request_id, "HTTPStatusCode": 200},
        }
        if result.function_error:
            response["FunctionError"] = result.function_error
        return response


def check() -> None:
    """Raise MotoPatchError unless moto is the pinned version with every patched symbol."""
    import moto

    if moto.__version__ != PINNED_MOTO_VERSION:
        raise MotoPatchError(
            f"the local emulation is pinned to moto {PINNED_MOTO_VERSION}, found "
            f"{moto.__version__}: re-check local/moto_patches.py before changing the pin"
        )
    for module_name, attribute in PATCHED_SYMBOLS:
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            raise MotoPatchError(f"moto internal module {module_name} is gone: {exc}") from exc
        target: Any = module
        for part in attribute.split("."):
            target = getattr(target, part, None)
        if not callable(target):
            raise MotoPatchError(f"moto internal {module_name}.{attribute} is gone")
    sqs_models = importlib.import_module(_SQS_MODELS_MODULE)
    for class_name, attribute in _SQS_ATTRIBUTES:
        if not isinstance(
            getattr(getattr(sqs_models, class_name, None), attribute, None), property
        ):
            raise MotoPatchError(
                f"moto internal {_SQS_MODELS_MODULE}.{class_name}.{attribute} moved"
            )


_applied: dict[str, Any] = {}


ServiceClient = Callable[[str, str, Any], Any]
"""(region, service, the interpreter's state credentials) -> a boto3 client."""

ExecutionEnded = Callable[[dict[str, Any]], None]
_execution_listener: list[ExecutionEnded] = []


def apply(
    moto_port: int,
    invoke: Callable[[str, bytes | None], Any],
    service_client: ServiceClient | None = None,
    on_execution_end: ExecutionEnded | None = None,
) -> None:
    """Point the ASL interpreter at our server and run its Lambda calls in-process; with
    `service_client`, its SQS integration calls go through the clients that gives;
    `on_execution_end` receives the status change detail of every execution that ends.

    Idempotent: applying again re-targets the patches (a new port or runtime).
    """
    check()
    report_execution_ends()
    _execution_listener[:] = [on_execution_end] if on_execution_end is not None else []
    boto_client = importlib.import_module(_BOTO_CLIENT_MODULE)
    lambda_eval = importlib.import_module(_LAMBDA_EVAL_MODULE)
    sqs_task = importlib.import_module(_SQS_TASK_MODULE)
    fix_fifo_redelivery()
    fix_stream_transactions()
    cache_dispatch()
    cache_programs()
    if not _applied:
        _applied["moto_server_port"] = boto_client.moto_server_port
        _applied["boto_client_for"] = lambda_eval.boto_client_for
        _applied["sqs_boto_client_for"] = sqs_task.boto_client_for
    original_client_for = _applied["boto_client_for"]
    lambda_client = InProcessLambdaClient(invoke)

    def moto_server_port() -> str:
        return str(moto_port)

    def boto_client_for(region: str, service: str, state_credentials: Any = None) -> Any:
        if service == "lambda":
            return lambda_client
        return original_client_for(
            region=region, service=service, state_credentials=state_credentials
        )

    setattr(boto_client, "moto_server_port", moto_server_port)  # noqa: B010
    setattr(lambda_eval, "boto_client_for", boto_client_for)  # noqa: B010
    if service_client is None:
        setattr(sqs_task, "boto_client_for", _applied["sqs_boto_client_for"])  # noqa: B010
    else:

        def sqs_client_for(region: str, service: str, state_credentials: Any = None) -> Any:
            return service_client(region, service, state_credentials)

        setattr(sqs_task, "boto_client_for", sqs_client_for)  # noqa: B010


def report_execution_ends() -> None:
    """Patch 8 (see the module docstring). Idempotent; reports to the listener `apply` set."""
    cls = importlib.import_module(_EXECUTION_MODULE).BaseExecutionWorkerCommunication
    if getattr(cls.terminated, "_aios_reported", False):
        return
    original = cls.terminated

    def terminated(self: Any) -> None:
        original(self)
        execution = self.execution
        detail = {
            "executionArn": execution.exec_arn,
            "stateMachineArn": execution.state_machine_arn,
            "name": execution.name,
            "status": execution.exec_status.value,
            "startDate": int(execution.start_date.timestamp() * 1000),
            "stopDate": int(execution.stop_date.timestamp() * 1000),
        }
        if execution.output is not None:  # as Step Functions includes it (under the size limit)
            output = execution.output
            detail["output"] = output if isinstance(output, str) else json.dumps(output)
            detail["outputDetails"] = {"included": True}
        for listener in list(_execution_listener):
            listener(detail)

    terminated._aios_reported = True  # type: ignore[attr-defined]
    cls.terminated = terminated


def revert() -> None:
    """Undo patches 1 and 2 and stop reporting execution ends (the emulation calls this on
    stop)."""
    _execution_listener.clear()
    if not _applied:
        return
    boto_client = importlib.import_module(_BOTO_CLIENT_MODULE)
    lambda_eval = importlib.import_module(_LAMBDA_EVAL_MODULE)
    setattr(boto_client, "moto_server_port", _applied.pop("moto_server_port"))  # noqa: B010
    setattr(lambda_eval, "boto_client_for", _applied.pop("boto_client_for"))  # noqa: B010
    sqs_task = importlib.import_module(_SQS_TASK_MODULE)
    setattr(sqs_task, "boto_client_for", _applied.pop("sqs_boto_client_for"))  # noqa: B010


def cache_dispatch() -> None:
    """Patch 5 (see the module docstring). Idempotent; pure caching, so `revert` keeps it."""
    cls = importlib.import_module(_DISPATCH_MODULE).DomainDispatcherApplication
    if getattr(cls, "_aios_cached", False):
        return
    original_backend_for_host = cls.get_backend_for_host
    backends: dict[str, Any] = {}

    def get_backend_for_host(self: Any, host: str | None) -> Any:
        if host is None:
            return None
        if host not in backends:
            backend = original_backend_for_host(self, host)
            if backend is None:
                return None
            backends[host] = backend
        return backends[host]

    cls.get_backend_for_host = get_backend_for_host
    cls._aios_cached = True


_PROGRAMS: dict[str, Any] = {}


def cache_programs() -> None:
    """Patch 6 (see the module docstring). Idempotent; pure caching, so `revert` keeps it."""
    worker = importlib.import_module(_EXECUTION_WORKER_MODULE).ExecutionWorker
    if getattr(worker._get_evaluation_entrypoint, "_aios_cached", False):
        return
    original = worker._get_evaluation_entrypoint

    def entrypoint(self: Any) -> Any:
        definition = self._evaluation_details.state_machine_details.definition
        if '"Parallel"' in definition:  # a Parallel state keeps an execution's state on itself
            return original(self)
        program = _PROGRAMS.get(definition)
        if program is None:
            program = _PROGRAMS.setdefault(definition, original(self))
        return program

    entrypoint._aios_cached = True  # type: ignore[attr-defined]
    worker._get_evaluation_entrypoint = entrypoint
    component = importlib.import_module(_EVAL_COMPONENT_MODULE).EvalComponent

    def heap_key(self: Any) -> str:
        # Executions share the cached program's components: the first key set is the key.
        return str(self.__dict__.setdefault("_aios_heap_key", _long_uid()))

    component.heap_key = property(heap_key)


def _long_uid() -> str:
    from moto.stepfunctions.parser.utils import long_uid

    return str(long_uid())


def fix_fifo_redelivery() -> None:
    """Patch 3 (see the module docstring). Idempotent; a bug fix, so `revert` keeps it."""
    check()
    backend = importlib.import_module(_SQS_MODELS_MODULE).SQSBackend
    if getattr(backend.receive_message, "_aios_fixed", False):
        return
    original = backend.receive_message

    def receive_message(
        self: Any,
        queue_name: str,
        count: int,
        wait_seconds_timeout: int,
        visibility_timeout: int,
        message_attribute_names: list[str] | None = None,
    ) -> Any:
        queue = self.get_queue(queue_name)
        deadline = time.monotonic() + (wait_seconds_timeout or 0)
        while True:
            for message in [m for m in queue.pending_messages if m.visible]:
                queue.pending_messages.discard(message)
            result = original(
                self, queue_name, count, 0, visibility_timeout, message_attribute_names
            )
            remaining = deadline - time.monotonic()
            if result or remaining <= 0:
                return result
            # Long polling: woken by the next message sent, or after a short while for a
            # message whose visibility timeout ran out (nothing signals that).
            with queue._messages_lock:
                queue._messages_lock.wait(min(remaining, LONG_POLL_RECHECK_S))

    receive_message._aios_fixed = True  # type: ignore[attr-defined]
    backend.receive_message = receive_message


LONG_POLL_RECHECK_S = 0.25
_DYNAMODB_LOCK = threading.RLock()
_TRANSACTION = threading.local()


def _undo_log(backend: Any, transact_items: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """(table, hash key, range key, a copy of the item or None) for every item a transaction
    names, taken before it runs (under the lock, so nothing else writes meanwhile)."""
    from moto.dynamodb.models.dynamo_type import DynamoType

    undo = []
    for entry in transact_items:
        op = next(iter(entry.values()), None)
        if not isinstance(op, dict) or op.get("TableName") not in backend.tables:
            continue
        table = backend.tables[op["TableName"]]
        keys = op.get("Key") or op.get("Item") or {}
        if table.hash_key_attr not in keys:
            continue
        hash_key = DynamoType(keys[table.hash_key_attr])
        range_key = None
        if table.range_key_attr is not None:
            if table.range_key_attr not in keys:
                continue
            range_key = DynamoType(keys[table.range_key_attr])
        current = table.get_item(hash_key, range_key)
        undo.append((table, hash_key, range_key, copy.deepcopy(current)))
    return undo


_QUERY = threading.local()


def _narrow_queries(table_class: Any) -> None:
    """Patch 7 (see the module docstring): a query reads its partition, not the whole table."""
    original_query = table_class.query
    original_all_items = table_class.all_items

    def query(self: Any, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
        index_name = args[6] if len(args) > 6 else kwargs.get("index_name")
        conditions = kwargs.get("hash_key_conditions") or []
        if index_name and conditions:
            _QUERY.narrow = (self, _index_candidates(self, conditions))
        elif not index_name and hash_key is not None:
            _QUERY.narrow = (self, _partition(self, hash_key))
        try:
            return original_query(self, hash_key, *args, **kwargs)
        finally:
            _QUERY.narrow = None

    def all_items(self: Any) -> Any:
        narrow = getattr(_QUERY, "narrow", None)
        if narrow is None or narrow[0] is not self:
            return original_all_items(self)
        return sorted(
            narrow[1],
            key=lambda x: (x.hash_key, x.range_key) if x.range_key else x.hash_key,
        )

    table_class.query = query
    table_class.all_items = all_items


def _partition(table: Any, hash_key: Any) -> list[Any]:
    partition = table.items.get(hash_key)
    if partition is None:
        return []
    return list(partition.values()) if table.range_key_attr else [partition]


def _index_candidates(table: Any, conditions: list[tuple[str, Any]]) -> list[Any]:
    """The items whose attributes equal every index hash key condition (moto checks them
    again; this only spares it sorting and scanning the rest of the table)."""
    out = []
    for partition in list(table.items.values()):
        items = list(partition.values()) if table.range_key_attr else [partition]
        for item in items:
            attrs = item.attrs
            if all(_equal(attrs.get(name), value) for name, value in conditions):
                out.append(item)
    return out


def _equal(found: Any, expected: Any) -> bool:
    return found is not None and bool(found == expected)  # as moto's own check compares


def _restore(table: Any, hash_key: Any, range_key: Any, item: Any) -> None:
    """Put an item back as it was before a failed transaction (None: it did not exist)."""
    if range_key is None:
        if item is None:
            table.items.pop(hash_key, None)
        else:
            table.items[hash_key] = item
        return
    partition = table.items[hash_key]
    if item is None:
        partition.pop(range_key, None)
        if not partition:
            table.items.pop(hash_key, None)
    else:
        partition[range_key] = item


def fix_stream_transactions() -> None:
    """Patch 4 (see the module docstring). Idempotent; a bug fix, so `revert` keeps it."""
    check()
    backend = importlib.import_module(_DYNAMODB_MODULE).DynamoDBBackend
    streams = importlib.import_module(_STREAMS_MODULE).DynamoDBStreamsBackend
    if getattr(streams.get_records, "_aios_fixed", False):
        return

    def serialized(method: Callable[..., Any]) -> Callable[..., Any]:
        def locked(self: Any, *args: Any, **kwargs: Any) -> Any:
            with _DYNAMODB_LOCK:
                return method(self, *args, **kwargs)

        return locked

    for name in _DYNAMODB_WRITES[1:]:
        setattr(backend, name, serialized(getattr(backend, name)))
    original_transact = backend.transact_write_items

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> Any:
        with _DYNAMODB_LOCK:
            shards = [t.stream_shard for t in self.tables.values() if t.stream_shard is not None]
            lengths = [(shard.items, len(shard.items)) for shard in shards]
            undo = _undo_log(self, transact_items)
            _TRANSACTION.active = True
            try:
                return original_transact(self, transact_items)
            except BaseException:
                for items, length in lengths:
                    del items[length:]
                for table, hash_key, range_key, item in undo:
                    _restore(table, hash_key, range_key, item)
                raise
            finally:
                _TRANSACTION.active = False

    backend.transact_write_items = transact_write_items
    table_class = importlib.import_module(_DYNAMODB_TABLE_MODULE).Table

    def table_copy(self: Any, memo: dict[int, Any]) -> Any:
        if getattr(_TRANSACTION, "active", False):
            return self  # the transaction's undo log restores what it touched (see above)
        state = self.__reduce_ex__(4)
        return copy._reconstruct(self, memo, *state)  # type: ignore[attr-defined]

    table_class.__deepcopy__ = table_copy
    _narrow_queries(table_class)
    shard_class = importlib.import_module(_DYNAMODB_TABLE_MODULE).StreamShard

    def shard_copy(self: Any, memo: dict[int, Any]) -> Any:
        clone = copy.copy(self)  # the records list is shared, not copied
        memo[id(self)] = clone
        clone.table = copy.deepcopy(self.table, memo)
        return clone

    shard_class.__deepcopy__ = shard_copy
    original_get_records = streams.get_records

    def get_records(self: Any, iterator_arn: str, limit: int) -> Any:
        with _DYNAMODB_LOCK:
            iterator = self.shard_iterators[iterator_arn]
            current = self.dynamodb.get_table(iterator.stream_shard.table.name).stream_shard
            if current is not None:
                iterator.stream_shard = current
            return original_get_records(self, iterator_arn, limit)

    get_records._aios_fixed = True  # type: ignore[attr-defined]
    streams.get_records = get_records
