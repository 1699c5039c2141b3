"""AWS AppConfig for the emulation: moto for what it has, a thin stand-in for the rest.

moto 5.2.5 emulates AppConfig applications, configuration profiles (with their validators)
and hosted configuration versions, but neither environments, deployment strategies and
deployments nor the data API (`appconfigdata`) that functions read configuration through.
`AppConfigStandIn` is one loopback HTTP server that speaks both APIs (REST-JSON, as botocore
sends them): every `appconfig` request it does not handle goes to moto unchanged, and it
answers these itself:

- environments: CreateEnvironment, GetEnvironment, ListEnvironments (monitors are kept, not
  watched);
- deployment strategies: CreateDeploymentStrategy, GetDeploymentStrategy,
  ListDeploymentStrategies; ListApplications (moto lacks it; answered from the applications
  created through the stand-in);
- deployments: StartDeployment validates the hosted version against its profile's JSON
  Schema validators (draft 4, as AppConfig) and refuses an invalid one with
  `BadRequestException` — the deployed version stays; a valid one is deployed at once and
  COMPLETE (the strategy's steps, bake time and alarm rollback are not emulated);
  GetDeployment, ListDeployments, StopDeployment (ROLLED_BACK: the previous version serves);
- the data API: StartConfigurationSession (identifiers by id or name) and
  GetLatestConfiguration, which returns the deployed content on a session's first call and
  after each change, and an empty body otherwise, with a new token each time.

Functions reach it through `AWS_ENDPOINT_URL_APPCONFIG` and `AWS_ENDPOINT_URL_APPCONFIGDATA`
(botocore's service-specific endpoints), set by the emulation.
"""

from __future__ import annotations

import json
import logging
import secrets
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from local.loopback import LoopbackServer

logger = logging.getLogger(__name__)

DATA_PATHS = ("/configurationsessions", "/configuration")
HOP_HEADERS = {"connection", "transfer-encoding", "content-length", "host", "keep-alive"}


class AppConfigError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


@dataclass
class Deployment:
    number: int
    application_id: str
    environment_id: str
    profile_id: str
    version: str
    strategy_id: str
    description: str
    state: str
    started_at: str
    log: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "ApplicationId": self.application_id,
            "EnvironmentId": self.environment_id,
            "ConfigurationProfileId": self.profile_id,
            "ConfigurationVersion": self.version,
            "DeploymentNumber": self.number,
            "DeploymentStrategyId": self.strategy_id,
            "Description": self.description,
            "State": self.state,
            "PercentageComplete": 100.0 if self.state == "COMPLETE" else 0.0,
            "StartedAt": self.started_at,
            "CompletedAt": self.started_at,
            "EventLog": self.log,
        }


@dataclass
class _Session:
    key: tuple[str, str, str]
    served: str | None = None  # the version last returned on this session


@dataclass
class _State:
    lock: threading.RLock = field(default_factory=threading.RLock)
    applications: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> application
    environments: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> environment
    strategies: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> strategy
    profiles: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> profile
    deployments: dict[tuple[str, str], list[Deployment]] = field(default_factory=dict)
    deployed: dict[tuple[str, str, str], str] = field(default_factory=dict)  # -> version
    sessions: dict[str, _Session] = field(default_factory=dict)  # token -> session


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _id() -> str:
    return secrets.token_hex(4)[:7]


class AppConfigStandIn(LoopbackServer):
    """See the module docstring; `moto_endpoint` serves what moto has, reached with
    `session` (a boto3 session with the emulation's dummy credentials)."""

    def __init__(self, moto_endpoint: str, session: Any, port: int = 0) -> None:
        self.moto_endpoint = moto_endpoint
        self.session = session  # boto3 session with the emulation's dummy credentials
        self.state = _State()
        server = self

        class Handler(_Handler):
            standin = server

        super().__init__(Handler, port, "appconfig-standin")

    # -- moto, for the content of hosted versions

    def hosted_content(self, application_id: str, profile_id: str, version: str) -> bytes:
        from botocore.exceptions import ClientError

        moto = self.session.client("appconfig", endpoint_url=self.moto_endpoint)
        try:
            found = moto.get_hosted_configuration_version(
                ApplicationId=application_id,
                ConfigurationProfileId=profile_id,
                VersionNumber=int(version),
            )
        except (ClientError, ValueError) as exc:
            raise AppConfigError(404, "ResourceNotFoundException", f"no version {version}") from exc
        content: bytes = found["Content"].read()
        return content

    # -- names and ids

    def application_id(self, identifier: str) -> str:
        with self.state.lock:
            for app_id, app in self.state.applications.items():
                if identifier in (app_id, app.get("Name")):
                    return app_id
        raise AppConfigError(404, "ResourceNotFoundException", f"no application {identifier}")

    def environment_id(self, application_id: str, identifier: str) -> str:
        with self.state.lock:
            for env_id, env in self.state.environments.items():
                if env["ApplicationId"] == application_id and identifier in (env_id, env["Name"]):
                    return env_id
        raise AppConfigError(404, "ResourceNotFoundException", f"no environment {identifier}")

    def profile_id(self, application_id: str, identifier: str) -> str:
        with self.state.lock:
            for profile_id, profile in self.state.profiles.items():
                if profile["ApplicationId"] == application_id and identifier in (
                    profile_id,
                    profile["Name"],
                ):
                    return profile_id
        raise AppConfigError(404, "ResourceNotFoundException", f"no profile {identifier}")

    # -- control plane

    def create_environment(self, application_id: str, body: dict[str, Any]) -> dict[str, Any]:
        self.application_id(application_id)
        env = {
            "ApplicationId": application_id,
            "Id": _id(),
            "Name": body["Name"],
            "Description": body.get("Description", ""),
            "State": "READY_FOR_DEPLOYMENT",
            "Monitors": body.get("Monitors", []),
        }
        with self.state.lock:
            self.state.environments[env["Id"]] = env
        return env

    def create_strategy(self, body: dict[str, Any]) -> dict[str, Any]:
        strategy = {
            "Id": _id(),
            "Name": body["Name"],
            "Description": body.get("Description", ""),
            "DeploymentDurationInMinutes": body.get("DeploymentDurationInMinutes", 0),
            "GrowthType": body.get("GrowthType", "LINEAR"),
            "GrowthFactor": body.get("GrowthFactor", 100),
            "FinalBakeTimeInMinutes": body.get("FinalBakeTimeInMinutes", 0),
            "ReplicateTo": body.get("ReplicateTo", "NONE"),
        }
        with self.state.lock:
            self.state.strategies[strategy["Id"]] = strategy
        return strategy

    def start_deployment(
        self, application_id: str, environment_id: str, body: dict[str, Any]
    ) -> Deployment:
        """Validate, then deploy at once; BadRequestException and nothing deployed if invalid."""
        app_id = self.application_id(application_id)
        env_id = self.environment_id(app_id, environment_id)
        profile_id = self.profile_id(app_id, body["ConfigurationProfileId"])
        version = str(body["ConfigurationVersion"])
        strategy = str(body["DeploymentStrategyId"])
        if strategy not in self.state.strategies and not strategy.startswith("AppConfig."):
            raise AppConfigError(404, "ResourceNotFoundException", f"no strategy {strategy}")
        content = self.hosted_content(app_id, profile_id, version)
        self._validate(self.state.profiles[profile_id], content)
        with self.state.lock:
            deployments = self.state.deployments.setdefault((app_id, env_id), [])
            if any(d.state == "DEPLOYING" for d in deployments):
                raise AppConfigError(409, "ConflictException", "a deployment is in progress")
            deployment = Deployment(
                number=len(deployments) + 1,
                application_id=app_id,
                environment_id=env_id,
                profile_id=profile_id,
                version=version,
                strategy_id=strategy,
                description=body.get("Description", ""),
                state="COMPLETE",
                started_at=_now(),
                log=[{"EventType": "DEPLOYMENT_COMPLETED", "OccurredAt": _now()}],
            )
            deployments.append(deployment)
            self.state.deployed[(app_id, env_id, profile_id)] = version
        logger.info("AppConfig: deployed version %s of %s to %s", version, profile_id, env_id)
        return deployment

    def stop_deployment(self, application_id: str, environment_id: str, number: int) -> Deployment:
        """Roll back: the deployment becomes ROLLED_BACK and the version before it serves."""
        app_id = self.application_id(application_id)
        env_id = self.environment_id(app_id, environment_id)
        with self.state.lock:
            deployments = self.state.deployments.get((app_id, env_id), [])
            deployment = next((d for d in deployments if d.number == number), None)
            if deployment is None:
                raise AppConfigError(404, "ResourceNotFoundException", f"no deployment {number}")
            deployment.state = "ROLLED_BACK"
            earlier = [
                d
                for d in deployments
                if d.profile_id == deployment.profile_id and d.state == "COMPLETE"
            ]
            key = (app_id, env_id, deployment.profile_id)
            if earlier:
                self.state.deployed[key] = earlier[-1].version
            else:
                self.state.deployed.pop(key, None)
        return deployment

    @staticmethod
    def _validate(profile: dict[str, Any], content: bytes) -> None:
        import fastjsonschema

        for validator in profile.get("Validators") or []:
            if validator.get("Type") != "JSON_SCHEMA":
                continue  # LAMBDA validators are not run locally
            try:
                check = fastjsonschema.compile(json.loads(validator["Content"]))
                check(json.loads(content))
            except (ValueError, fastjsonschema.JsonSchemaException) as exc:
                raise AppConfigError(
                    400,
                    "BadRequestException",
                    f"The configuration failed validation by the JSON_SCHEMA validator: {exc}",
                ) from exc

    # -- data plane

    def start_session(self, body: dict[str, Any]) -> str:
        app_id = self.application_id(body["ApplicationIdentifier"])
        env_id = self.environment_id(app_id, body["EnvironmentIdentifier"])
        profile_id = self.profile_id(app_id, body["ConfigurationProfileIdentifier"])
        token = secrets.token_urlsafe(24)
        with self.state.lock:
            self.state.sessions[token] = _Session(key=(app_id, env_id, profile_id))
        return token

    def latest(self, token: str) -> tuple[bytes, str]:
        """(content or b"" when unchanged for this session, the next token)."""
        with self.state.lock:
            session = self.state.sessions.pop(token, None)
            if session is None:
                raise AppConfigError(400, "BadRequestException", "invalid configuration token")
            version = self.state.deployed.get(session.key)
            next_token = secrets.token_urlsafe(24)
            self.state.sessions[next_token] = _Session(key=session.key, served=version)
        if version is None:
            raise AppConfigError(404, "ResourceNotFoundException", "nothing is deployed")
        if version == session.served:
            return b"", next_token
        app_id, _, profile_id = session.key
        return self.hosted_content(app_id, profile_id, version), next_token

    def record_moto_answer(self, method: str, path: str, status: int, body: bytes) -> None:
        """Remember the applications and configuration profiles created or updated through
        moto: the stand-in resolves names with them and validates with their validators."""
        if status >= 300 or method not in ("POST", "PATCH"):
            return
        parts = [p for p in path.split("/") if p]
        try:
            created = json.loads(body)
        except ValueError:
            return
        with self.state.lock:
            if parts == ["applications"]:
                self.state.applications[created["Id"]] = created
            elif len(parts) in (3, 4) and parts[2] == "configurationprofiles":
                self.state.profiles[created["Id"]] = created

    # -- the operations the stand-in answers, by (method, path pattern)

    def _environment(self, app: str, env: str) -> tuple[str, str]:
        app_id = self.application_id(app)
        return app_id, self.environment_id(app_id, env)

    def _deployment(self, app: str, env: str, number: str) -> Deployment:
        key = self._environment(app, env)
        found = [d for d in self.state.deployments.get(key, []) if d.number == int(number)]
        if not found:
            raise AppConfigError(404, "ResourceNotFoundException", f"no deployment {number}")
        return found[0]

    def _strategy(self, strategy_id: str) -> dict[str, Any]:
        if strategy_id not in self.state.strategies:
            raise AppConfigError(404, "ResourceNotFoundException", f"no strategy {strategy_id}")
        return self.state.strategies[strategy_id]

    def answer(
        self, method: str, parts: list[str], query: dict[str, list[str]], data: dict[str, Any]
    ) -> tuple[int, Any, dict[str, str]] | None:
        """(status, JSON payload or raw bytes, headers) for an operation moto lacks; None to
        pass the request on to moto."""
        shape = (method, tuple("*" if i % 2 else p for i, p in enumerate(parts)))
        state = self.state
        match shape:
            case ("POST", ("configurationsessions",)):
                return 201, {"InitialConfigurationToken": self.start_session(data)}, {}
            case ("GET", ("configuration",)):
                content, token = self.latest(query.get("configuration_token", [""])[0])
                headers = {
                    "Next-Poll-Configuration-Token": token,
                    "Next-Poll-Interval-In-Seconds": "15",
                }
                return 200, content, headers
            case ("GET", ("applications",)):
                return 200, {"Items": list(state.applications.values())}, {}
            case ("POST", ("deploymentstrategies",)):
                return 201, self.create_strategy(data), {}
            case ("GET", ("deploymentstrategies",)):
                return 200, {"Items": list(state.strategies.values())}, {}
            case ("GET", ("deploymentstrategies", "*")):
                return 200, self._strategy(parts[1]), {}
            case ("POST", ("applications", "*", "environments")):
                return 201, self.create_environment(parts[1], data), {}
            case ("GET", ("applications", "*", "environments")):
                app_id = self.application_id(parts[1])
                envs = [e for e in state.environments.values() if e["ApplicationId"] == app_id]
                return 200, {"Items": envs}, {}
            case ("GET", ("applications", "*", "environments", "*")):
                return 200, state.environments[self._environment(parts[1], parts[3])[1]], {}
            case ("POST", ("applications", "*", "environments", "*", "deployments")):
                return 201, self.start_deployment(parts[1], parts[3], data).to_json(), {}
            case ("GET", ("applications", "*", "environments", "*", "deployments")):
                found = state.deployments.get(self._environment(parts[1], parts[3]), [])
                return 200, {"Items": [d.to_json() for d in reversed(found)]}, {}
            case ("GET", ("applications", "*", "environments", "*", "deployments", "*")):
                return 200, self._deployment(parts[1], parts[3], parts[5]).to_json(), {}
            case ("DELETE", ("applications", "*", "environments", "*", "deployments", "*")):
                stopped = self.stop_deployment(parts[1], parts[3], int(parts[5]))
                return 202, stopped.to_json(), {}
        return None


class _Handler(BaseHTTPRequestHandler):
    standin: AppConfigStandIn
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s %s", self.address_string(), format % args)

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {"Content-Type": "application/json"}).items():
            if name.lower() not in HOP_HEADERS:
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        split = urlsplit(self.path)
        parts = [unquote(p) for p in split.path.split("/") if p]
        try:
            data = json.loads(body) if body and self.command in ("POST", "PATCH") else {}
        except ValueError:
            data = {}  # not an operation of the stand-in (a hosted version's content, say)
        try:
            answer = self.standin.answer(self.command, parts, parse_qs(split.query), data)
        except AppConfigError as exc:
            message = json.dumps({"Message": exc.message, "message": exc.message}).encode()
            headers = {"Content-Type": "application/json", "x-amzn-ErrorType": exc.code}
            self._send(exc.status, message, headers)
            return
        if answer is None:
            self._proxy(body)
            return
        status, payload, headers = answer
        raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        self._send(status, raw, {"Content-Type": "application/json", **headers})

    def _proxy(self, body: bytes) -> None:
        """Pass the request to moto as it came, and its answer back as it went."""
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_HEADERS}
        request = urllib.request.Request(  # noqa: S310 - loopback moto server
            self.standin.moto_endpoint + self.path,
            data=body if body or self.command in ("POST", "PUT", "PATCH") else None,
            method=self.command,
            headers=headers,
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as resp:  # noqa: S310
                status, answer, answer_headers = resp.status, resp.read(), dict(resp.headers)
        except urllib.error.HTTPError as exc:
            status, answer, answer_headers = exc.code, exc.read(), dict(exc.headers)
        self.standin.record_moto_answer(self.command, urlsplit(self.path).path, status, answer)
        self._send(status, answer, answer_headers)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle
