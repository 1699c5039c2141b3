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

3. `moto.sqs.models.SQSBackend.receive_message` first drops the messages whose visibility
   timeout has expired from the queue's in-flight set. moto 5.2.5 does that lazily inside its
   receive loop and, for FIFO queues, decides whether a message group is blocked before it has
   looked at every expired message: of two expired messages of one group it delivers the later
   one and starves the earlier one forever. AWS redelivers both, in order.

4. `moto.dynamodb.models.DynamoDBBackend.transact_write_items` rolls a failed transaction back
   by putting back a deep copy of each table taken when it began. Two things break on AWS's
   promises: a write another request made to the table meanwhile is lost with it, and the
   table's stream shard is a new object afterwards, while the stream iterators a reader holds
   (`moto.dynamodbstreams.models.ShardIterator.stream_shard`) keep reading the old one, so
   every later change is never delivered. The patch runs each transaction, each single-item
   write and each `get_records` under one lock (a transaction is atomic for other requests,
   as on AWS), and points an iterator at its table's current shard before it reads. The copy
   also no longer copies the stream's records (the shard's copy shares them; a failed
   transaction's records are cut off again): copying them made every transaction slower as
   the stream grew.

5. `moto.moto_server.werkzeug_app.DomainDispatcherApplication.get_backend_for_host`: the
   service a request is for is looked up once per host; moto lists its package folder on every
   request, under one lock for all services, which was a tenth of the emulation's time under
   load.

`apply()` first checks moto's version and that every patched symbol exists, and raises
`MotoPatchError` otherwise: if moto moves these internals the emulation must fail loudly, not
silently call a Docker-backed Lambda or the wrong port.
"""

from __future__ import annotations

import copy
import importlib
import io
import threading
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
_LAMBDA_EVAL_MODULE = (
    "moto.stepfunctions.parser.asl.component.state.exec.state_task.lambda_eval_utils"
)

#: (module, attribute) pairs the patches replace; checked before anything is patched.
PATCHED_SYMBOLS: tuple[tuple[str, str], ...] = (
    (_BOTO_CLIENT_MODULE, "moto_server_port"),
    (_BOTO_CLIENT_MODULE, "boto_client_for"),
    (_LAMBDA_EVAL_MODULE, "boto_client_for"),
    (_LAMBDA_EVAL_MODULE, "exec_lambda_function"),
    (_LAMBDA_EVAL_MODULE, "_invoke_lambda_function"),
    (_SQS_MODELS_MODULE, "SQSBackend.receive_message"),
    (_SQS_MODELS_MODULE, "SQSBackend.get_queue"),
    *((_DYNAMODB_MODULE, f"DynamoDBBackend.{name}") for name in _DYNAMODB_WRITES),
    (_DYNAMODB_MODULE, "DynamoDBBackend.get_table"),
    (_DYNAMODB_TABLE_MODULE, "StreamShard.add"),
    (_STREAMS_MODULE, "DynamoDBStreamsBackend.get_records"),
    (_DISPATCH_MODULE, "DomainDispatcherApplication.get_backend_for_host"),
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


def apply(moto_port: int, invoke: Callable[[str, bytes | None], Any]) -> None:
    """Point the ASL interpreter at our server and run its Lambda calls in-process.

    Idempotent: applying again re-targets the patches (a new port or runtime).
    """
    check()
    boto_client = importlib.import_module(_BOTO_CLIENT_MODULE)
    lambda_eval = importlib.import_module(_LAMBDA_EVAL_MODULE)
    fix_fifo_redelivery()
    fix_stream_transactions()
    cache_dispatch()
    if not _applied:
        _applied["moto_server_port"] = boto_client.moto_server_port
        _applied["boto_client_for"] = lambda_eval.boto_client_for
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


def revert() -> None:
    """Undo patches 1 and 2 (the emulation calls this on stop)."""
    if not _applied:
        return
    boto_client = importlib.import_module(_BOTO_CLIENT_MODULE)
    lambda_eval = importlib.import_module(_LAMBDA_EVAL_MODULE)
    setattr(boto_client, "moto_server_port", _applied.pop("moto_server_port"))  # noqa: B010
    setattr(lambda_eval, "boto_client_for", _applied.pop("boto_client_for"))  # noqa: B010


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


def fix_fifo_redelivery() -> None:
    """Patch 3 (see the module docstring). Idempotent; a bug fix, so `revert` keeps it."""
    check()
    backend = importlib.import_module(_SQS_MODELS_MODULE).SQSBackend
    if getattr(backend.receive_message, "_aios_fixed", False):
        return
    original = backend.receive_message

    def receive_message(self: Any, queue_name: str, *args: Any, **kwargs: Any) -> Any:
        queue = self.get_queue(queue_name)
        for message in [m for m in queue.pending_messages if m.visible]:
            queue.pending_messages.discard(message)
        return original(self, queue_name, *args, **kwargs)

    receive_message._aios_fixed = True  # type: ignore[attr-defined]
    backend.receive_message = receive_message


_DYNAMODB_LOCK = threading.RLock()


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

    def transact_write_items(self: Any, *args: Any, **kwargs: Any) -> Any:
        with _DYNAMODB_LOCK:
            shards = [t.stream_shard for t in self.tables.values() if t.stream_shard is not None]
            lengths = [(shard.items, len(shard.items)) for shard in shards]
            try:
                return original_transact(self, *args, **kwargs)
            except BaseException:
                for items, length in lengths:  # the rollback's shard shares this list
                    del items[length:]
                raise

    backend.transact_write_items = transact_write_items
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
