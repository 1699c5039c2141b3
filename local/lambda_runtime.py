"""Run Lambda functions in-process, the way the Lambda Python runtime loads them.

Each function's `app.py` is imported by file path under a unique module name, with the layer
directory on `sys.path` (Lambda's `/opt/python`) and the function's resolved environment in
`os.environ` during the import (its cold start) and during each invocation.

Two pieces of process-wide state need care, because on AWS every function has its own process:

- `os.environ` is shared by all threads. One global re-entrant lock serializes imports and
  invocations, so a handler only ever sees its own environment. Invocations are therefore not
  concurrent locally; a handler that synchronously waited on another emulated Lambda would
  deadlock (none does: they talk to each other through Step Functions and SQS, which call back
  on other threads). The lock is re-entrant so that a handler which is itself driven by the
  emulation (e.g. a test helper invoking from inside an invocation) cannot deadlock itself.
  Threads outside the lock (moto's server and ASL interpreter, the pollers) still read the
  environment while an invocation swaps it: botocore iterates `os.environ.items()` for proxy
  settings whenever it creates a client, and an item deleted mid-iteration raised KeyError in
  an unrelated task. So `os.environ` iterates, copies and lists items from a snapshot taken in
  one step (`_SnapshotEnviron`).
- `sys.stdout`/`sys.stderr` are shared too. A function's output goes to its log file (its
  CloudWatch log group) through a stream that routes by thread: writes from the invoking thread
  reach the function's log, writes from any other thread (the CLI printing a demo, a test) reach
  the stream that was there before. Swapping `sys.stdout` itself would send another thread's
  prints into the function's log while an invocation runs.
- Powertools' parameter providers (`get_secret`, ...) are cached in one process-wide dict
  (`aws_lambda_powertools.utilities.parameters.constants.DEFAULT_PROVIDERS`), each with the
  client of whoever called first. Each function gets its own providers, swapped in and out
  with its environment, so it reads with its own endpoint and credentials (in the split
  layout, its own account's) and never with another function's, or another emulation's.
- The layer's modules (`aios`, ...) read settings at import and cache clients per cold start.
  Each function gets its own copy: the layer's entries in `sys.modules` are swapped in for the
  function's import and invocations and swapped out afterwards. (A thread outside the lock
  that imports a layer module for the first time while they are swapped may find its parent
  package missing: import what a test needs before the emulation runs, or inside `call_in`.)

An unhandled exception is reported the way Lambda reports it: FunctionError "Unhandled" and a
payload `{"errorType", "errorMessage", "stackTrace"}`, so ASL Retry/Catch match the error name.

Emulation-wide environment overrides (applied on top of each function's template
environment; see `Emulation` for the values):

- `AWS_ENDPOINT_URL`: the moto server, so every AWS SDK client talks to the emulation;
- `AWS_DEFAULT_REGION` / `AWS_REGION`: the emulated region;
- `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`: dummy credentials (in the
  split layout none: each function has its own role's in its environment, see `local.split`);
  `AWS_PROFILE` is removed and `AWS_EC2_METADATA_DISABLED=true`, so no real credentials are
  ever looked up;
- `AIOS_HTTP_TARGETS`: every configured target points at the local receiver;
- `POWERTOOLS_TRACE_DISABLED=true`: there is no X-Ray daemon locally;
- the variables the Lambda runtime sets itself: `AWS_LAMBDA_FUNCTION_NAME`,
  `AWS_LAMBDA_FUNCTION_MEMORY_SIZE`, `AWS_LAMBDA_FUNCTION_VERSION`, `AWS_EXECUTION_ENV`,
  `AWS_LAMBDA_LOG_GROUP_NAME`, `LAMBDA_TASK_ROOT`, `_HANDLER`.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, TextIO, TypeVar

from local.assembly import FunctionSpec

logger = logging.getLogger(__name__)

T = TypeVar("T")

# One lock for the whole process: os.environ and sys.modules are process-wide.
_INVOKE_LOCK = threading.RLock()

_REMOVED_VARIABLES = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE")


class _SnapshotEnviron(type(os.environ)):  # type: ignore[misc]
    """`os.environ` whose iteration, `items()`, `keys()`, `values()` and `copy()` read one
    consistent snapshot (a dict copy is atomic under the GIL), however it changes meanwhile."""

    def copy(self) -> dict[str, str]:
        return {self.decodekey(k): self.decodevalue(v) for k, v in self._data.copy().items()}

    def __iter__(self) -> Iterator[str]:
        return iter(self.copy())

    def items(self) -> Any:
        return self.copy().items()

    def keys(self) -> Any:
        return self.copy().keys()

    def values(self) -> Any:
        return self.copy().values()

    def clear(self) -> None:
        # MutableMapping.clear pops one item at a time, each from a new snapshot: O(n^2).
        for key in self.copy():
            self.pop(key, None)


def _consistent_environ() -> None:
    """Make readers of `os.environ` on other threads safe from the invocations' swaps."""
    if not isinstance(os.environ, _SnapshotEnviron):
        os.environ.__class__ = _SnapshotEnviron


# The log stream of the function this thread is running, if any (see _RoutedStream).
_ROUTE = threading.local()


class _RoutedStream:
    """`sys.stdout`/`sys.stderr` during an invocation: the invoking thread's function log,
    or, on every other thread, the stream that was in place before (`fallback`)."""

    def __init__(self, fallback: TextIO) -> None:
        self._fallback = fallback

    def _target(self) -> TextIO:
        stream: TextIO | None = getattr(_ROUTE, "stream", None)
        return stream if stream is not None else self._fallback

    def write(self, text: str) -> int:
        return self._target().write(text)

    def flush(self) -> None:
        self._target().flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._target(), name)


def _route_console() -> None:
    """Put a routed stream in front of `sys.stdout`/`sys.stderr`, once for whatever stream is
    there now, and never take it away: restoring the previous stream when an invocation ends
    would undo a change another thread made meanwhile (pytest's capture, say)."""
    if not isinstance(sys.stdout, _RoutedStream):
        sys.stdout = _RoutedStream(sys.stdout)
    if not isinstance(sys.stderr, _RoutedStream):
        sys.stderr = _RoutedStream(sys.stderr)


class FunctionNotFound(LookupError):
    """No emulated function has this name or ARN (Lambda's ResourceNotFoundException)."""


@dataclass(frozen=True)
class InvokeResult:
    """What Lambda's Invoke API returns: status, payload bytes, FunctionError if any."""

    status_code: int
    payload: bytes
    function_error: str | None = None
    request_id: str = ""

    def json(self) -> Any:
        return json.loads(self.payload) if self.payload else None


@dataclass
class LambdaContext:
    """The parts of the Lambda context object that handlers and Powertools use."""

    function_name: str
    memory_limit_in_mb: int
    invoked_function_arn: str
    aws_request_id: str
    timeout_s: int
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = "local"
    identity: Any = None
    client_context: Any = None
    _deadline: float = field(default=0.0, repr=False)

    def __post_init__(self) -> None:
        self._deadline = time.monotonic() + self.timeout_s
        self.log_group_name = self.log_group_name or f"/aws/lambda/{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


@dataclass
class _Loaded:
    spec: FunctionSpec
    handler: Callable[[Any, Any], Any]
    layer_modules: dict[str, ModuleType]


class LambdaRuntime:
    """Imports and invokes the emulated functions; safe to call from any thread."""

    def __init__(
        self,
        layer_dirs: list[Path],
        overrides: Mapping[str, str] | None = None,
        region: str = "us-east-1",
        log_dir: Path | None = None,
    ) -> None:
        self.layer_dirs = [p.resolve() for p in layer_dirs]
        self.log_dir = log_dir
        self._log_streams: dict[str, TextIO] = {}
        self.overrides = dict(overrides or {})
        self.region = region
        self._specs: dict[str, FunctionSpec] = {}
        self._aliases: dict[str, str] = {}
        self._loaded: dict[str, _Loaded] = {}
        self._providers: dict[str, dict[str, Any]] = {}  # function -> its Powertools providers
        self._layer_packages = self._discover_layer_packages()
        _consistent_environ()
        for path in reversed(self.layer_dirs):
            if str(path) not in sys.path:
                sys.path.insert(0, str(path))

    def _discover_layer_packages(self) -> set[str]:
        names = set()
        for layer in self.layer_dirs:
            for child in layer.iterdir() if layer.is_dir() else []:
                if child.is_dir() and (child / "__init__.py").is_file():
                    names.add(child.name)
                elif child.suffix == ".py":
                    names.add(child.stem)
        return names

    # -- registry

    def register(self, spec: FunctionSpec) -> None:
        """Make a function invocable by its short name, physical name or ARN."""
        self._specs[spec.name] = spec
        for alias in (spec.name, spec.function_name, spec.arn):
            if alias:
                self._aliases[alias] = spec.name

    def resolve_name(self, function_name: str) -> str:
        """Short name for a FunctionName as Lambda accepts it (name, ARN, qualified ARN)."""
        candidates = [function_name]
        if function_name.startswith("arn:") and function_name.count(":") == 7:
            candidates.append(function_name.rsplit(":", 1)[0])  # drop the qualifier
        elif ":" in function_name and not function_name.startswith("arn:"):
            candidates.append(function_name.split(":", 1)[0])
        for candidate in candidates:
            if candidate in self._aliases:
                return self._aliases[candidate]
        raise FunctionNotFound(f"Function not found: {function_name}")

    @property
    def functions(self) -> Mapping[str, FunctionSpec]:
        return dict(self._specs)

    # -- environment and modules

    def environment_for(self, spec: FunctionSpec) -> dict[str, str]:
        """The variables a function sees: template environment, runtime, then overrides."""
        env = dict(spec.environment)
        env.update(
            {
                "AWS_LAMBDA_FUNCTION_NAME": spec.function_name,
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
                "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
                "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{spec.function_name}",
                "AWS_EXECUTION_ENV": "AWS_Lambda_python_local",
                "LAMBDA_TASK_ROOT": str(spec.folder),
                "_HANDLER": spec.handler,
                "AWS_REGION": self.region,
                "AWS_DEFAULT_REGION": self.region,
            }
        )
        env.update(self.overrides)
        return env

    def log_file(self, name: str) -> Path | None:
        """Where a function's stdout/stderr go (its CloudWatch log group), if not the console."""
        return self.log_dir / f"{name}.log" if self.log_dir is not None else None

    def _log_stream(self, spec: FunctionSpec) -> TextIO | None:
        path = self.log_file(spec.name)
        if path is None:
            return None
        if spec.name not in self._log_streams:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._log_streams[spec.name] = path.open("a", buffering=1, encoding="utf-8")
        return self._log_streams[spec.name]

    def close(self) -> None:
        """Close the functions' log files."""
        with _INVOKE_LOCK:
            for stream in self._log_streams.values():
                stream.close()
            self._log_streams.clear()

    def _layer_modules_now(self) -> dict[str, ModuleType]:
        """The layer's modules in sys.modules (one pass over a snapshot of it)."""
        packages = self._layer_packages
        return {n: m for n, m in list(sys.modules.items()) if n.partition(".")[0] in packages}

    @contextmanager
    def _function_process(
        self, spec: FunctionSpec, layer_modules: dict[str, ModuleType]
    ) -> Iterator[dict[str, ModuleType]]:
        """Enter the function's 'process': its environment and its copy of the layer."""
        with _INVOKE_LOCK:
            saved_env = os.environ.copy()
            saved_modules = self._layer_modules_now()
            for name in saved_modules:
                del sys.modules[name]
            sys.modules.update(layer_modules)
            for name in _REMOVED_VARIABLES:
                os.environ.pop(name, None)
            os.environ.update(self.environment_for(spec))
            current: dict[str, ModuleType] = {}
            providers = _parameter_providers()
            saved_providers = dict(providers)
            providers.clear()
            providers.update(self._providers.get(spec.name, {}))
            # Loggers created at import keep the stream they saw: a routed one, which writes to
            # the log file of whichever function the writing thread is running.
            stream = self._log_stream(spec)
            saved_route = getattr(_ROUTE, "stream", None)
            if stream is not None:
                _ROUTE.stream = stream
                _route_console()
            try:
                yield current
            finally:
                self._providers[spec.name] = dict(providers)
                providers.clear()
                providers.update(saved_providers)
                _ROUTE.stream = saved_route
                current.update(self._layer_modules_now())
                for name in current:
                    del sys.modules[name]
                sys.modules.update(saved_modules)
                _restore_environ(saved_env)

    def _load(self, name: str) -> _Loaded:
        with _INVOKE_LOCK:
            if name in self._loaded:
                return self._loaded[name]
            spec = self._specs[name]
            module_path, _, attribute = spec.handler.rpartition(".")
            file = spec.folder / (module_path.replace(".", "/") + ".py")
            module_name = f"aios_local_function_{name.replace('-', '_')}"
            with self._function_process(spec, {}) as layer_modules:
                import_spec = importlib.util.spec_from_file_location(module_name, file)
                if import_spec is None or import_spec.loader is None:
                    raise ImportError(f"cannot import {file}")
                module = importlib.util.module_from_spec(import_spec)
                sys.modules[module_name] = module
                try:
                    import_spec.loader.exec_module(module)
                except BaseException:
                    del sys.modules[module_name]
                    raise
            handler = getattr(module, attribute)
            loaded = _Loaded(spec=spec, handler=handler, layer_modules=layer_modules)
            self._loaded[name] = loaded
            return loaded

    def preload(self, name: str) -> None:
        """Cold-start a function now, so a broken import fails the emulation's start."""
        self._load(self.resolve_name(name))

    def call_in(self, function_name: str, call: Callable[[], T]) -> T:
        """Run `call` inside the function's process: its environment and its copy of the layer,
        so `import aios...` within `call` finds what the handler finds (its bound tables, its
        clients). For tests and tools that drive the domain library as that function would."""
        name = self.resolve_name(function_name)
        with _INVOKE_LOCK:
            loaded = self._load(name)
            with self._function_process(loaded.spec, loaded.layer_modules) as layer_modules:
                try:
                    return call()
                finally:
                    loaded.layer_modules = layer_modules

    # -- invoke

    def invoke(self, function_name: str, payload: bytes | str | None = None) -> InvokeResult:
        """Invoke synchronously (RequestResponse), reporting errors as Lambda does.

        A failed cold start is reported like Lambda's Runtime.ImportModuleError, and an
        unhandled exception as FunctionError "Unhandled"; neither raises here.
        """
        name = self.resolve_name(function_name)
        request_id = str(uuid.uuid4())
        raw = payload.encode() if isinstance(payload, str) else (payload or b"")
        try:
            event = json.loads(raw) if raw.strip() else {}
        except ValueError as exc:
            return _error_result("InvalidRequestContentException", str(exc), request_id, 400)
        with _INVOKE_LOCK:
            try:
                loaded = self._load(name)
            except Exception as exc:
                logger.exception("cold start of %s failed", name)
                return _error_result("Runtime.ImportModuleError", _message(exc), request_id)
            spec = loaded.spec
            context = LambdaContext(
                function_name=spec.function_name,
                memory_limit_in_mb=spec.memory_mb,
                invoked_function_arn=spec.arn,
                aws_request_id=request_id,
                timeout_s=spec.timeout_s,
            )
            started = time.monotonic()
            with self._function_process(spec, loaded.layer_modules) as layer_modules:
                try:
                    result = loaded.handler(event, context)
                    body = json.dumps(result).encode()
                except Exception as exc:
                    logger.info("%s raised %s: %s", name, type(exc).__name__, exc)
                    return _error_result(type(exc).__name__, _message(exc), request_id, trace=exc)
                finally:
                    loaded.layer_modules = layer_modules
            elapsed = time.monotonic() - started
            if elapsed > spec.timeout_s:
                # Lambda would have killed it; a thread cannot be killed, so report it.
                logger.warning("%s ran %.1fs, over its %ss timeout", name, elapsed, spec.timeout_s)
                return _error_result(
                    "Sandbox.Timedout",
                    f"Task timed out after {spec.timeout_s:.2f} seconds",
                    request_id,
                )
        return InvokeResult(200, body, None, request_id)


def _parameter_providers() -> dict[str, Any]:
    from aws_lambda_powertools.utilities.parameters.constants import DEFAULT_PROVIDERS

    return DEFAULT_PROVIDERS


def _restore_environ(saved: dict[str, str]) -> None:
    """Make os.environ equal `saved`, touching only the variables that differ."""
    current = os.environ.copy()
    for name in current.keys() - saved.keys():
        os.environ.pop(name, None)
    for name, value in saved.items():
        if current.get(name) != value:
            os.environ[name] = value


def _message(exc: BaseException) -> str:
    return str(exc) if str(exc) else type(exc).__name__


def _error_result(
    error_type: str,
    message: str,
    request_id: str,
    status: int = 200,
    trace: BaseException | None = None,
) -> InvokeResult:
    payload: dict[str, Any] = {"errorType": error_type, "errorMessage": message}
    # Like Lambda, the trace starts in the handler, not in the runtime that called it.
    tb = trace.__traceback__.tb_next if trace is not None and trace.__traceback__ else None
    payload["stackTrace"] = traceback.format_tb(tb) if tb is not None else []
    if error_type != "Runtime.ImportModuleError" and status == 200:
        payload["requestId"] = request_id
    return InvokeResult(status, json.dumps(payload).encode(), "Unhandled", request_id)
