"""Serve the stack's REST API routes on loopback as API Gateway (REST, v1) Lambda proxy events.

Routes come from the synthesized template (`AWS::ApiGateway::Resource` / `::Method` with
AWS_PROXY integrations). A request is matched against the path templates, literal segments
winning over `{param}` segments, `{proxy+}` matching the rest of the path; the event carries
`resource`, `path`, `httpMethod`, `headers`, `multiValueHeaders`, `queryStringParameters`,
`multiValueQueryStringParameters`, `pathParameters`, `body`, `isBase64Encoded` and a
`requestContext`, and the function's proxy response becomes the HTTP response.

Unknown path: 404 `{"error": {"code": "ROUTE_NOT_FOUND", ...}}`; known path, other method
(any method, TRACE included): 405 `{"error": {"code": "METHOD_NOT_ALLOWED", ...}}`; a request
http.server cannot parse: a JSON 4xx; a function error or a malformed proxy response:
502 `{"message": "Internal server error"}`, as API Gateway answers.

A method behind a Cognito user pool authorizer is enforced as API Gateway does it
(`local.cognito.CognitoAuthorizer`): without a valid ID token of the pool in the authorizer's
header it answers 401 and the function never runs — with the template's UNAUTHORIZED gateway
response if it has one (`$context.path` and `$context.stage` substituted; locally there is no
stage prefix, so `/$context.stage` becomes empty), else `{"message": "Unauthorized"}`; with a
valid token, the event carries the claims as `requestContext.authorizer.claims`.

Locally there is no stage prefix in the URL, and IAM (SigV4) signatures, API keys, usage
plans and throttling are not checked. The caller's identity is still filled in, as API
Gateway does for IAM auth (`requestContext.identity.userArn`, `accessKey`, `caller`,
`accountId`): `identify` maps the request's headers to it (the emulation resolves a SigV4
`Authorization` header's access key id to its IAM principal, and takes an unsigned request for
its local developer user), so the api function derives the tenant as on AWS.
"""

from __future__ import annotations

import base64
import contextlib
import html
import json
import logging
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from local.assembly import GatewayResponseSpec, Route
from local.cognito import CognitoAuthorizer, Unauthorized
from local.loopback import LoopbackServer

logger = logging.getLogger(__name__)

Invoke = Callable[[str, bytes], Any]  # (function name, payload) -> InvokeResult
Identify = Callable[[dict[str, str]], dict[str, Any]]  # headers -> requestContext.identity fields


@dataclass(frozen=True)
class Match:
    route: Route | None
    path_parameters: dict[str, str]
    allowed: tuple[str, ...]  # methods of the matched path (for 405)


class Router:
    """Path templates -> routes, matched the way API Gateway prefers (literal over param)."""

    def __init__(self, routes: Iterable[Route]) -> None:
        self.routes = list(routes)
        by_path: dict[str, list[Route]] = {}
        for route in self.routes:
            by_path.setdefault(route.path, []).append(route)
        self._paths = sorted(by_path.items(), key=lambda item: _specificity(item[0]))

    def match(self, method: str, path: str) -> Match | None:
        segments = _segments(path)
        for template, routes in self._paths:
            params = _match_template(_segments(template), segments)
            if params is None:
                continue
            allowed = tuple(sorted(r.method for r in routes))
            for route in routes:
                if route.method in (method.upper(), "ANY"):
                    return Match(route, params, allowed)
            return Match(None, params, allowed)
        return None


def _segments(path: str) -> list[str]:
    return [s for s in path.split("/") if s]


def _specificity(template: str) -> tuple[int, ...]:
    # Sort literal segments before {param} before {proxy+}, position by position.
    ranks = []
    for seg in _segments(template):
        ranks.append(2 if seg.endswith("+}") else 1 if seg.startswith("{") else 0)
    return (*ranks, 3)


def _match_template(template: list[str], segments: list[str]) -> dict[str, str] | None:
    params: dict[str, str] = {}
    for i, part in enumerate(template):
        if part.startswith("{") and part.endswith("+}"):
            if i >= len(segments):
                return None
            params[part[1:-2]] = "/".join(segments[i:])
            return params
        if i >= len(segments):
            return None
        if part.startswith("{") and part.endswith("}"):
            params[part[1:-1]] = unquote(segments[i])
        elif part != segments[i]:
            return None
    return params if len(template) == len(segments) else None


def proxy_event(
    match: Match,
    method: str,
    raw_path: str,
    headers: list[tuple[str, str]],
    body: bytes,
    source_ip: str,
    stage: str,
    api_id: str,
    account: str,
    claims: dict[str, str] | None = None,
    caller: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The REST API (v1) Lambda proxy event for one request (`claims` from its authorizer,
    `caller`: the identity fields of an IAM-authenticated caller)."""
    assert match.route is not None
    split = urlsplit(raw_path)
    path = split.path or "/"
    multi_query = parse_qs(split.query, keep_blank_values=True)
    multi_headers: dict[str, list[str]] = {}
    for name, value in headers:
        multi_headers.setdefault(name, []).append(value)
    single_headers = {name: values[-1] for name, values in multi_headers.items()}
    try:
        text = body.decode("utf-8") if body else None
        is_base64 = False
    except UnicodeDecodeError:
        text, is_base64 = base64.b64encode(body).decode(), True
    now = datetime.now(UTC)
    request_id = str(uuid.uuid4())
    event: dict[str, Any] = {
        "resource": match.route.path,
        "path": path,
        "httpMethod": method,
        "headers": single_headers or None,
        "multiValueHeaders": multi_headers or None,
        "queryStringParameters": {k: v[-1] for k, v in multi_query.items()} or None,
        "multiValueQueryStringParameters": multi_query or None,
        "pathParameters": match.path_parameters or None,
        "stageVariables": None,
        "body": text,
        "isBase64Encoded": is_base64,
        "requestContext": {
            "accountId": account,
            "apiId": api_id,
            "resourceId": match.route.resource_id,
            "resourcePath": match.route.path,
            "httpMethod": method,
            "stage": stage,
            # The path as the client asked for it: locally the URL has no stage prefix.
            "path": path,
            "protocol": "HTTP/1.1",
            "requestId": request_id,
            "extendedRequestId": request_id,
            "requestTime": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "requestTimeEpoch": int(now.timestamp() * 1000),
            "domainName": single_headers.get("Host", "127.0.0.1"),
            "identity": {
                "sourceIp": source_ip,
                "userAgent": single_headers.get("User-Agent"),
                "accountId": None,
                "apiKey": None,
                "caller": None,
                "user": None,
                "userArn": None,
                "accessKey": None,
                "cognitoIdentityId": None,
                "cognitoIdentityPoolId": None,
                "cognitoAuthenticationType": None,
                "cognitoAuthenticationProvider": None,
                **(caller or {}),
            },
        },
    }
    if claims is not None:
        event["requestContext"]["authorizer"] = {"claims": claims}
    return event


class ApiServer(LoopbackServer):
    """The API on 127.0.0.1, invoking the routes' functions."""

    def __init__(
        self,
        routes: Iterable[Route],
        invoke: Invoke,
        port: int = 0,
        stage: str = "local",
        api_id: str = "local",
        account: str = "123456789012",
        authorizers: dict[str, CognitoAuthorizer] | None = None,
        gateway_responses: dict[str, GatewayResponseSpec] | None = None,
        identify: Identify | None = None,
    ) -> None:
        self.router = Router(routes)
        self.authorizers = authorizers or {}
        self.gateway_responses = gateway_responses or {}
        self.invoke = invoke
        self.identify = identify
        self.stage = stage
        self.api_id = api_id
        self.account = account
        server = self

        class Handler(_Handler):
            api = server

        super().__init__(Handler, port, "api-server")


class _Handler(BaseHTTPRequestHandler):
    api: ApiServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s %s", self.address_string(), format % args)

    def _send(
        self,
        status: int,
        body: bytes,
        headers: list[tuple[str, str]] | None = None,
    ) -> None:
        self.send_response(status)
        names = set()
        for name, value in headers or [("Content-Type", "application/json")]:
            if name.lower() in ("content-length", "connection", "transfer-encoding"):
                continue
            names.add(name.lower())
            self.send_header(name, value)
        if "content-type" not in names:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _error(self, status: int, code: str, message: str, extra: list[tuple[str, str]]) -> None:
        body = json.dumps({"error": {"code": code, "message": message}}).encode()
        self._send(status, body, [("Content-Type", "application/json"), *extra])

    def _handle(self) -> None:
        started = time.monotonic()
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        path = urlsplit(self.path).path or "/"
        match = self.api.router.match(self.command, path)
        if match is None:
            self._error(404, "ROUTE_NOT_FOUND", f"no route for {self.command} {path}", [])
            return
        if match.route is None:
            self._error(
                405,
                "METHOD_NOT_ALLOWED",
                f"{self.command} is not allowed on {path}; allowed: {', '.join(match.allowed)}",
                [("Allow", ", ".join(match.allowed))],
            )
            return
        claims = None
        if match.route.authorizer:
            authorizer = self.api.authorizers.get(match.route.authorizer)
            try:
                if authorizer is None:  # fail closed
                    raise Unauthorized(f"authorizer {match.route.authorizer} is not emulated")
                claims = authorizer.claims(dict(self.headers.items()))
            except Unauthorized as exc:
                logger.info("%s %s -> 401 (%s)", self.command, path, exc)
                self._send(*_unauthorized(self.api.gateway_responses.get("UNAUTHORIZED"), path))
                return
        event = proxy_event(
            match,
            self.command,
            self.path,
            list(self.headers.items()),
            body,
            self.client_address[0],
            self.api.stage,
            self.api.api_id,
            self.api.account,
            claims,
            self.api.identify(dict(self.headers.items())) if self.api.identify else None,
        )
        result = self.api.invoke(match.route.function, json.dumps(event).encode())
        status, payload, headers = _proxy_response(result)
        self._send(status, payload, headers)
        logger.info(
            "%s %s -> %s (%.0f ms)", self.command, path, status, (time.monotonic() - started) * 1e3
        )

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _handle

    def __getattr__(self, name: str) -> Any:
        # Any other method (TRACE, CONNECT, PROPFIND, ...) is routed too, so it gets API
        # Gateway's JSON 4xx (405 on a known path, 404 elsewhere) rather than http.server's 501.
        if name.startswith("do_"):
            return self._handle
        raise AttributeError(name)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """A request http.server refuses itself (malformed, too long) gets a JSON error too."""
        self.close_connection = True
        text = message or self.responses.get(code, ("error",))[0]
        with contextlib.suppress(OSError):
            self._error(code, "BAD_REQUEST" if code < 500 else "INTERNAL_ERROR", text, [])


def _unauthorized(
    spec: GatewayResponseSpec | None, path: str
) -> tuple[int, bytes, list[tuple[str, str]]]:
    """API Gateway's answer to an authorizer's refusal (the template's UNAUTHORIZED response)."""
    if spec is None:
        return 401, b'{"message":"Unauthorized"}', []
    # Browsers send paths percent-encoded; escaping keeps a hand-made raw path inert too.
    body = spec.template.replace("/$context.stage", "").replace("$context.path", html.escape(path))
    headers = list(spec.headers.items())
    if not any(name.lower() == "content-type" for name, _ in headers):
        headers.append(("Content-Type", "application/json"))
    return spec.status or 401, body.encode(), headers


_INTERNAL_ERROR: tuple[int, bytes, list[tuple[str, str]]] = (
    502,
    b'{"message": "Internal server error"}',
    [],
)


def _proxy_response(result: Any) -> tuple[int, bytes, list[tuple[str, str]]]:
    """Turn a proxy integration answer into (status, body, headers), as API Gateway does."""
    if result.function_error:
        logger.warning("api function failed: %s", result.payload[:2000].decode(errors="replace"))
        return _INTERNAL_ERROR
    response = result.json()
    if not isinstance(response, dict) or not isinstance(response.get("statusCode", 200), int):
        logger.warning("malformed proxy response: %r", response)
        return _INTERNAL_ERROR
    headers: list[tuple[str, str]] = [
        (str(k), str(v)) for k, v in (response.get("headers") or {}).items()
    ]
    for name, values in (response.get("multiValueHeaders") or {}).items():
        headers.extend((str(name), str(v)) for v in values)
    body = response.get("body") or ""
    if not isinstance(body, str):
        logger.warning("proxy response body is not a string: %r", type(body))
        return _INTERNAL_ERROR
    raw = base64.b64decode(body) if response.get("isBase64Encoded") else body.encode()
    return int(response.get("statusCode", 200)), raw, headers
