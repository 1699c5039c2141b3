"""Faults of the emulated AWS itself: KMS and DynamoDB answering throttling and 5xx errors.

`AwsFaults` sits in front of moto's WSGI application (the one server every emulated function
talks to, whatever process or thread the function runs in). For each KMS or DynamoDB request a
*function* makes, it asks `choose(service)` whether to fail it; a chosen fault is answered
the way the service answers under load, without the request reaching moto (nothing is
applied), so the SDK's own retry and error paths run in the handler exactly as on AWS:

| service  | throttling (HTTP 400)                                           | 5xx                          |
| -------- | --------------------------------------------------------------- | ---------------------------- |
| dynamodb | `ProvisionedThroughputExceededException`, `ThrottlingException` | 500 `InternalServerError`    |
| kms      | `ThrottlingException`                                           | 500 `KMSInternalException`   |

A request is a function's when its User-Agent carries the Lambda execution environment
(`exec-env/AWS_Lambda...`, from `AWS_EXECUTION_ENV`, which the emulation sets for functions
only) and it is not signed by the Step Functions interpreter (access key `ak`: its service
integrations run with no SDK retries, as a Step Functions task, not a handler, would).
Requests of tests, tools and the emulation itself are never failed.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

# X-Amz-Target prefix -> service (both speak the JSON protocol).
_TARGETS = {"DynamoDB_20120810": "dynamodb", "TrentService": "kms"}
_CONTENT_TYPES = {"dynamodb": "application/x-amz-json-1.0", "kms": "application/x-amz-json-1.1"}
_DYNAMODB_SHAPE = "com.amazonaws.dynamodb.v20120810#"
_INTERPRETER_KEY = "Credential=ak/"  # moto's ASL interpreter signs with access key "ak"
_FUNCTION_AGENT = "exec-env/AWS_Lambda"


@dataclass(frozen=True)
class Fault:
    """One way a service fails a request: `kind` is "throttle" or "5xx"."""

    service: str
    kind: str
    status: int
    code: str

    @property
    def name(self) -> str:
        """The name the fault is counted under: `<service>_<kind>` (e.g. `kms_5xx`)."""
        return f"{self.service}_{self.kind}"

    def body(self) -> bytes:
        shape = _DYNAMODB_SHAPE + self.code if self.service == "dynamodb" else self.code
        return json.dumps({"__type": shape, "message": "injected fault (local.faults)"}).encode()


FAULTS: dict[str, tuple[Fault, ...]] = {
    "dynamodb": (
        Fault("dynamodb", "throttle", 400, "ProvisionedThroughputExceededException"),
        Fault("dynamodb", "throttle", 400, "ThrottlingException"),
        Fault("dynamodb", "5xx", 500, "InternalServerError"),
    ),
    "kms": (
        Fault("kms", "throttle", 400, "ThrottlingException"),
        Fault("kms", "5xx", 500, "KMSInternalException"),
    ),
}
KINDS = tuple(sorted({fault.name for faults in FAULTS.values() for fault in faults}))

Choose = Callable[[str], Fault | None]
StartResponse = Callable[..., Any]


def service_of(environ: dict[str, Any]) -> str | None:
    """ "dynamodb" or "kms" for a request a function made to one of them, else None."""
    target = str(environ.get("HTTP_X_AMZ_TARGET", ""))
    service = _TARGETS.get(target.partition(".")[0])
    if service is None:
        return None
    if _FUNCTION_AGENT not in str(environ.get("HTTP_USER_AGENT", "")):
        return None
    if _INTERPRETER_KEY in str(environ.get("HTTP_AUTHORIZATION", "")):
        return None
    return service


class AwsFaults:
    """WSGI middleware: fails the functions' KMS/DynamoDB requests `choose` picks."""

    def __init__(self, app: Callable[..., Iterable[bytes]], choose: Choose) -> None:
        self.app = app
        self.choose = choose

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        service = service_of(environ)
        fault = self.choose(service) if service is not None else None
        if fault is None:
            return self.app(environ, start_response)
        body = fault.body()
        reason = "Bad Request" if fault.status == 400 else "Internal Server Error"
        start_response(
            f"{fault.status} {reason}",
            [
                ("Content-Type", _CONTENT_TYPES[fault.service]),
                ("Content-Length", str(len(body))),
                ("x-amzn-ErrorType", fault.code),
                ("x-amzn-RequestId", "00000000-0000-0000-0000-000000000000"),
            ],
        )
        return [body]


def install(server: Any, choose: Choose) -> Callable[[], None]:
    """Put `AwsFaults` in front of a running werkzeug server's app (moto's
    `ThreadedMotoServer._server`); returns what takes it out again."""
    original = server.app
    server.app = AwsFaults(original, choose)

    def uninstall() -> None:
        server.app = original

    return uninstall
