"""The whole local emulation behind one object: synth, provision, serve, stop.

    with Emulation() as emu:
        requests.get(f"{emu.api_url}/processes")
        emu.client("stepfunctions").list_executions(...)

`start()`:

1. synthesizes the CDK app without Docker bundling (`CDK_OUTDIR`, `aws:cdk:bundling-stacks`
   empty) into a temporary directory, unless `cdk_out` (or `AIOS_LOCAL_CDK_OUT`) names an
   existing cloud assembly;
2. starts moto in server mode on 127.0.0.1 (a free port), resets it and turns on ASL execution
   (`POST /moto-api/config {"stepfunctions": {"execute_state_machine": true}}`);
3. creates the template's tables, queues, keys, topics, state machines and AppConfig
   resources (`local.assembly`; AppConfig through moto and the stand-in of `local.appconfig`,
   which also serves the functions' configuration reads);
4. starts the receiver (the outside system) with the workspace's loopback services mounted
   (`local.services`: fakes with state and idempotency, from `capabilities/_loopback/`), the
   in-process Lambda runtime with the layer on its path, patches moto's ASL interpreter to
   invoke it (`local.moto_patches`; each execution's end goes to the template's rules on the
   default bus, `local.service_events`), starts one SQS poller per event source mapping and the
   API server on `127.0.0.1:$AIOS_LOCAL_PORT`
   (default 8787; 0 picks a free port), whose callers are identified as IAM principals
   (`identify`; an unsigned request is the IAM user `aios-local-developer`, tagged with the
   tenant `default`).

With `split=True` the app is synthesized in the split layout (docs/two-accounts.md) and its
two stacks are provisioned in two emulated accounts, each function acting as its own role
(`local.split`); `self.deployment` is the decision plane's, `self.execution` the execution
plane's, `client(service, account)` a client of either account.

Everything listens on loopback only and all AWS calls go to moto: nothing reaches real AWS.
Environment variables read here: `AIOS_LOCAL_PORT`, `AIOS_LOCAL_CDK_OUT`,
`AIOS_LOCAL_VISIBILITY_TIMEOUT` (see `local.sqs_poller`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from types import TracebackType
from typing import Any

import boto3
from botocore.config import Config

from local import moto_patches
from local import split as split_layout
from local.api_gateway import ApiServer
from local.appconfig import AppConfigStandIn
from local.assembly import (
    DEFAULT_ACCOUNT,
    DEFAULT_REGION,
    Deployment,
    assembly_layer_dirs,
    asset_files,
    load_stack,
    provision,
)
from local.cognito import CognitoAuthorizer, LocalUser, seed_users
from local.lambda_runtime import InvokeResult, LambdaRuntime
from local.receiver import Receiver
from local.service_events import ServiceEvents
from local.services import LoopbackService, discover_services
from local.sqs_poller import SqsPoller
from local.stream_poller import StreamPoller

logger = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parent.parent
LOCAL_DEVELOPER = "aios-local-developer"
LOCAL_TENANT = "default"
TENANT_TAG = "aios:tenant"
DEFAULT_API_PORT = 8787
LOCAL_MEMORY_ENGINE = "serverless"  # synthesized locally; served by the embedded store
Invoke = Callable[[str, bytes | None], InvokeResult]
# Locally a configuration deployment completes at once; functions read it at their next read.
LOCAL_CONFIG_MAX_AGE_SECONDS = 0
APPCONFIG_SERVICES = ("appconfig", "appconfigdata")
DUMMY_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}


def synth(
    project_root: Path, outdir: Path, timeout_s: float = 600, context: dict[str, Any] | None = None
) -> Path:
    """Synthesize the CDK app into `outdir` without Docker; returns `outdir`. `context`
    overrides the local defaults (memory on, configuration read at once)."""
    env = dict(os.environ)
    env.update(
        {
            "CDK_OUTDIR": str(outdir),
            # Memory on: locally the vector engine is the embedded store (see _memory_overrides).
            "CDK_CONTEXT_JSON": json.dumps(
                {
                    "aws:cdk:bundling-stacks": [],
                    "memory_engine": LOCAL_MEMORY_ENGINE,
                    "config_max_age_seconds": LOCAL_CONFIG_MAX_AGE_SECONDS,
                    **(context or {}),
                }
            ),
            "JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION": "1",
        }
    )
    proc = subprocess.run(
        [sys.executable, "app.py"],
        cwd=project_root,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )
    if proc.returncode != 0 or not (outdir / "manifest.json").is_file():
        # cdk-nag / validation findings come first; the jsii stack trace last.
        findings = [line for line in proc.stderr.splitlines() if line.startswith("ERROR")]
        detail = "\n".join(findings[:20]) or proc.stderr[-4000:]
        raise RuntimeError(f"cdk synth failed ({proc.returncode}):\n{detail}")
    return outdir


class Emulation:
    """The emulated stack; a context manager. Attributes are valid between start and stop."""

    def __init__(
        self,
        project_root: Path = PROJECT_ROOT,
        api_port: int | None = None,
        cdk_out: Path | None = None,
        stack_name: str | None = None,
        region: str = DEFAULT_REGION,
        preload: bool = True,
        function_log_dir: Path | None = None,
        split: bool = False,
    ) -> None:
        self.project_root = project_root
        if api_port is None:
            api_port = int(os.environ.get("AIOS_LOCAL_PORT", DEFAULT_API_PORT))
        self.api_port = api_port
        env_out = os.environ.get("AIOS_LOCAL_CDK_OUT")
        self.cdk_out = cdk_out or (Path(env_out) if env_out else None)
        self.stack_name = stack_name
        self.region = region
        self.account = DEFAULT_ACCOUNT
        self.preload = preload
        self.function_log_dir = function_log_dir
        self.timings: dict[str, float] = {}
        self.deployment: Deployment | None = None
        self.split = split
        self.execution: Deployment | None = None  # the execution plane's stack, when split
        self._sessions: dict[str, boto3.session.Session] = {}  # account -> deployer session
        self._function_accounts: dict[str, str] = {}  # function -> account it runs in
        self.runtime: LambdaRuntime | None = None
        self.pollers: list[SqsPoller] = []
        self.stream_pollers: list[StreamPoller] = []
        self.memory_dir: Path | None = None
        self._tmp: Path | None = None
        self._moto: Any = None
        self._receiver: Receiver | None = None
        self._api: ApiServer | None = None
        self._service_events: ServiceEvents | None = None
        self._sm_clients: moto_patches.ServiceClient | None = None
        self._appconfig: AppConfigStandIn | None = None
        self._session = boto3.session.Session(
            aws_access_key_id=DUMMY_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=DUMMY_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            aws_session_token=DUMMY_CREDENTIALS["AWS_SESSION_TOKEN"],
            region_name=region,
        )
        self.aws_endpoint = ""
        self.target_keys: dict[str, str] = {}  # HTTP target -> local signing key
        self._developer: dict[str, Any] = {}
        self._principals: dict[str, dict[str, Any]] = {}  # access key id -> identity fields
        self.console_users: list[LocalUser] = []  # one per console role, with its password
        self.capability_keys: dict[str, dict[str, str]] = {}  # capability -> its secret's values
        self.services: dict[str, LoopbackService] = {}  # loopback services by name

    # -- public surface

    @property
    def api_url(self) -> str:
        assert self._api is not None, "start() first"
        return self._api.url

    @property
    def console_url(self) -> str:
        """The operator console's sign-in page ("" when the stack has no user pool)."""
        return f"{self.api_url}/console/sign-in" if self.console_users else ""

    @property
    def user_pool_id(self) -> str:
        assert self.deployment is not None, "start() first"
        return next(iter(self.deployment.user_pools.values()), "")

    @property
    def console_client_id(self) -> str:
        assert self.deployment is not None, "start() first"
        return next((c for _, c in self.deployment.user_pool_clients.values()), "")

    @property
    def receiver_url(self) -> str:
        assert self._receiver is not None, "start() first"
        return self._receiver.url

    @property
    def receiver(self) -> Receiver:
        assert self._receiver is not None, "start() first"
        return self._receiver

    def service(self, name: str) -> LoopbackService:
        """The loopback service `name` (from the workspace's `capabilities/_loopback/`)."""
        return self.services[name]

    def _user_root(self) -> Path:
        explicit = os.environ.get("AIOS_USER_ROOT")
        return Path(explicit) if explicit else self.project_root

    @property
    def session(self) -> boto3.session.Session:
        """A boto3 session with dummy credentials; pass `endpoint_url=emu.aws_endpoint`."""
        return self._session

    @property
    def appconfig(self) -> AppConfigStandIn:
        """The AppConfig stand-in (environments, deployments, the data API; see local.appconfig)."""
        assert self._appconfig is not None, "start() first"
        return self._appconfig

    def client(self, service: str, account: str | None = None) -> Any:
        """A boto3 client for the emulated AWS (never real AWS): of the decision account, or
        with `account`, of that account (the split layout's execution account)."""
        assert self.aws_endpoint, "start() first"
        endpoint = self.aws_endpoint
        if service in APPCONFIG_SERVICES:
            endpoint = self.appconfig.url
        session = self._sessions.get(account or self.account, self._session)
        return session.client(
            service,
            endpoint_url=endpoint,
            config=Config(retries={"max_attempts": 2, "mode": "standard"}),
        )

    def __enter__(self) -> Emulation:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- lifecycle

    def start(self) -> Emulation:
        started = time.monotonic()
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        self.timings["total"] = time.monotonic() - started
        return self

    def _timed(self, name: str, since: float) -> float:
        now = time.monotonic()
        self.timings[name] = now - since
        return now

    def _start(self) -> None:
        t = time.monotonic()
        if self.cdk_out is None:
            self._tmp = Path(tempfile.mkdtemp(prefix="aios-cdk-out-"))
            context = split_layout.synth_context(self.region) if self.split else None
            self.cdk_out = synth(self.project_root, self._tmp, context=context)
            t = self._timed("synth", t)
        if self.split:
            (stack_name, template), execution_stack = split_layout.split_stacks(
                self.cdk_out, self.stack_name
            )
        else:
            stack_name, template = load_stack(self.cdk_out, self.stack_name)

        self._start_moto()
        if self.split:
            self._enter_accounts()
        self._appconfig = AppConfigStandIn(self.aws_endpoint, self._session).start()
        t = self._timed("moto", t)

        assets = asset_files(self.cdk_out)
        self.deployment = provision(
            template,
            stack_name,
            self.client,
            self.project_root,
            self.region,
            self.account,
            assets=assets,
        )
        layer_templates = [template]
        if self.split:
            execution_name, execution_template = execution_stack
            self.execution = provision(
                execution_template,
                execution_name,
                lambda service: self.client(service, split_layout.EXECUTION_ACCOUNT),
                self.project_root,
                self.region,
                split_layout.EXECUTION_ACCOUNT,
                assets=assets,
            )
            layer_templates.append(execution_template)
        t = self._timed("provision", t)

        self._receiver = Receiver().start()
        self.services = {s.name: s for s in discover_services(self._user_root())}
        for service in self.services.values():
            self._receiver.mount(service)
        self.runtime = LambdaRuntime(
            # The kit's own layers from source; the user's processes and capabilities as
            # synthesized (validated, YAML specs turned JSON), like Lambda's /opt/python.
            layer_dirs=[
                *sorted((self.project_root / "layers").glob("*/python")),
                *dict.fromkeys(
                    d for tpl in layer_templates for d in assembly_layer_dirs(tpl, assets)
                ),
            ],
            overrides=self._overrides(),
            region=self.region,
            log_dir=self.function_log_dir,
        )
        self.runtime.overrides.update(self._memory_overrides())
        for deployment in self._deployments():
            for spec in deployment.functions.values():
                self._function_accounts[spec.name] = deployment.account
                self.runtime.register(self._as_deployed(self._with_local_targets(spec)))
                self._seed_target_keys(spec)
                self._seed_capability_secrets(spec)
        self._service_events = ServiceEvents(
            self.deployment.service_event_rules,
            self.runtime.invoke,
            region=self.region,
            account=self.account,
        )
        self._sm_clients = self._state_machine_clients()
        self._patch_moto(self.runtime.invoke)
        if self.preload:
            for name in self._function_accounts:
                self.runtime.preload(name)
        t = self._timed("functions", t)

        for deployment in self._deployments():
            sqs = self.client("sqs", deployment.account)
            for mapping in deployment.event_sources:
                self.pollers.append(
                    SqsPoller(mapping, sqs, self.runtime.invoke, region=self.region).start()
                )
        streams = self.client("dynamodbstreams")
        for stream in self.deployment.stream_sources:
            self.stream_pollers.append(StreamPoller(stream, streams, self.runtime.invoke).start())
        self._create_local_developer()
        self._api = ApiServer(
            self.deployment.routes,
            self.runtime.invoke,
            port=self.api_port,
            stage=self.deployment.stage or "local",
            api_id=self.deployment.api_id or "local",
            account=self.account,
            authorizers=self._authorizers(),
            gateway_responses=self.deployment.gateway_responses,
            identify=self.identify,
        ).start()
        self._seed_approvals()
        self._seed_memory()
        if self.user_pool_id:
            self.console_users = seed_users(self.client("cognito-idp"), self.user_pool_id)
        self._timed("serve", t)

    def _deployments(self) -> list[Deployment]:
        assert self.deployment is not None
        return [self.deployment, *([self.execution] if self.execution is not None else [])]

    def _enter_accounts(self) -> None:
        """The split layout: deployer sessions of both accounts; the decision account's is
        the emulation's own session (`client`, the AppConfig stand-in, tests)."""
        sts = self._session.client("sts", endpoint_url=self.aws_endpoint)
        for account in (split_layout.DECISION_ACCOUNT, split_layout.EXECUTION_ACCOUNT):
            self._sessions[account] = split_layout.account_session(sts, account, self.region)
        self.account = split_layout.DECISION_ACCOUNT
        self._session = self._sessions[self.account]

    def _as_deployed(self, spec: Any) -> Any:
        """The split layout: the function's credentials are its own role's (as Lambda gives
        them), and the execution plane's pinned plan keys are the decision plane's key."""
        if not self.split:
            return spec
        assert self.deployment is not None
        sts = self._session.client("sts", endpoint_url=self.aws_endpoint)
        env = {
            **spec.environment,
            **split_layout.function_credentials(sts, spec.role_arn, spec.function_name),
        }
        if self.execution is not None and spec.name in self.execution.functions:
            pinned = split_layout.decision_public_keys(self.deployment, self.client("kms"))
            env = split_layout.pin_keys(env, pinned)
        return dataclasses.replace(spec, environment=env)

    def _state_machine_clients(self) -> moto_patches.ServiceClient | None:
        """The split layout: the ASL interpreter's SQS calls act as the state machine's role
        and reach the execution account's queue as its policy allows (`local.split`)."""
        if self.execution is None or self.deployment is None:
            return None
        policies = split_layout.queue_policies(self._execution_template(), self.execution)
        sts = self._session.client("sts", endpoint_url=self.aws_endpoint)
        return split_layout.StateMachineClients(self.aws_endpoint, sts, policies)

    def _execution_template(self) -> dict[str, Any]:
        assert self.cdk_out is not None and self.execution is not None
        return load_stack(self.cdk_out, self.execution.stack_name)[1]

    def _seed_memory(self) -> None:
        """Each process's seed memories, `processes/<name>/memory/<namespace>.json` (a list of
        objects, one record each), as canonical records of the tenant `default` (version 1: a
        record already there stays), so a local run has, say, content-ops's glossary."""
        assert self.deployment is not None
        seeds = sorted(self.project_root.glob("processes/*/memory/*.json"))
        memory = self.deployment.functions.get("memory")
        if not seeds or memory is None or "AIOS_MEMORY_TABLE" not in memory.environment:
            return

        def seed() -> None:
            from aios.errors import StaleMemoryWrite
            from aios.memory.records import new_record, put_record

            for path in seeds:
                for i, entry in enumerate(json.loads(path.read_text())):
                    record = new_record(
                        tenant="default", namespace=path.stem, memory_id=f"seed-{i:04d}",
                        text=json.dumps(entry, ensure_ascii=False, sort_keys=True), version=1,
                        embedding_model="seed",
                    )  # fmt: skip
                    try:
                        put_record(record)
                    except StaleMemoryWrite:
                        continue

        assert self.runtime is not None
        self.runtime.call_in("memory", seed)

    def _authorizers(self) -> dict[str, CognitoAuthorizer]:
        """The template's Cognito authorizers, checking tokens against moto's JWKS."""
        assert self.deployment is not None
        clients: dict[str, list[str]] = {}
        for pool, client in self.deployment.user_pool_clients.values():
            clients.setdefault(pool, []).append(client)
        return {
            authorizer_id: CognitoAuthorizer(
                spec,
                region=self.region,
                jwks_url=lambda pool: f"{self.aws_endpoint}/{pool}/.well-known/jwks.json",
                clients=clients,
            )
            for authorizer_id, spec in self.deployment.authorizers.items()
        }

    def _seed_approvals(self) -> None:
        """Approval links point at the local API and Slack at the receiver (`/slack/<method>`);
        the approvals secret gets local Slack credentials; the SES sender is verified."""
        assert self.runtime is not None and self.deployment is not None
        self.runtime.overrides["AIOS_PUBLIC_API_URL"] = self.api_url
        self.runtime.overrides["AIOS_SLACK_API_URL"] = f"{self.receiver_url}/slack"
        for spec in self.deployment.functions.values():
            sender = spec.environment.get("AIOS_APPROVALS_SENDER")
            if sender:
                self.client("ses").verify_email_identity(EmailAddress=sender)
            secret_id = spec.environment.get("AIOS_APPROVALS_SECRET_ARN")
            if secret_id:
                sm = self.client("secretsmanager")
                values = json.loads(sm.get_secret_value(SecretId=secret_id)["SecretString"])
                if not values.get("slack_signing_secret"):
                    values["slack_bot_token"] = f"xoxb-local-{secrets.token_hex(8)}"
                    values["slack_signing_secret"] = secrets.token_hex(16)
                    sm.put_secret_value(SecretId=secret_id, SecretString=json.dumps(values))

    def event_source(self, function: str) -> SqsPoller:
        """The SQS event source mapping of `function` (e.g. "execute"), to disable or enable
        it as `UpdateEventSourceMapping(Enabled=...)` would."""
        [poller] = [p for p in self.pollers if p.mapping.function == function]
        return poller

    def _create_local_developer(self) -> None:
        """The IAM user an unsigned local request acts as: tagged with the tenant `default`."""
        user = self.client("iam").create_user(
            UserName=LOCAL_DEVELOPER, Tags=[{"Key": TENANT_TAG, "Value": LOCAL_TENANT}]
        )["User"]
        self._developer = {"userArn": user["Arn"], "caller": user["UserId"], "user": user["UserId"]}

    def identify(self, headers: dict[str, str]) -> dict[str, Any]:
        """API Gateway's `requestContext.identity` for a request, as IAM auth fills it in.

        A SigV4 `Authorization` header's access key id is resolved to its IAM principal by
        the emulated STS (the signature itself is not checked locally); an unsigned request is
        the local developer user's.
        """
        auth = next((v for k, v in headers.items() if k.lower() == "authorization"), "")
        match = re.search(r"Credential=([A-Z0-9]{16,128})/", auth)
        if match is None:
            return {**self._developer, "accountId": self.account, "accessKey": None}
        access_key = match.group(1)
        if access_key not in self._principals:
            sts = boto3.session.Session(
                aws_access_key_id=access_key,
                aws_secret_access_key=DUMMY_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
                region_name=self.region,
            ).client("sts", endpoint_url=self.aws_endpoint)
            who = sts.get_caller_identity()
            self._principals[access_key] = {
                "userArn": who["Arn"], "caller": who["UserId"], "user": who["UserId"],
                "accountId": who["Account"],
            }  # fmt: skip
        return {**self._principals[access_key], "accessKey": access_key}

    def cli_environment(self) -> dict[str, str]:
        """What `aios kpi|dlq|webhooks|audit` read, pointed at this emulation (the audit
        checkpoints' bucket and key too)."""
        assert self.deployment is not None, "start() first"
        functions = self.deployment.functions
        reconciler = functions["case_reconciler"].environment
        webhook_queue = next(
            m.queue_url for m in self.deployment.event_sources if m.function == "webhooks"
        )
        return {
            "AWS_ENDPOINT_URL": self.aws_endpoint,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_ACCESS_KEY_ID": DUMMY_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            "AWS_SECRET_ACCESS_KEY": DUMMY_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            "AIOS_LEDGER_TABLE": reconciler["AIOS_LEDGER_TABLE"],
            "AIOS_ACTION_QUEUE_URL": reconciler["AIOS_ACTION_QUEUE_URL"],
            "AIOS_ACTION_DLQ_URL": reconciler["AIOS_ACTION_DLQ_URL"],
            "AIOS_WEBHOOK_QUEUE_URL": webhook_queue,
            "AIOS_WEBHOOK_DLQ_URL": functions["webhooks"].environment["AIOS_WEBHOOK_DLQ_URL"],
            "AIOS_AUDIT_BUCKET": functions["audit_checkpoint"].environment["AIOS_AUDIT_BUCKET"],
            "AIOS_AUDIT_KEY_ID": functions["audit_checkpoint"].environment["AIOS_AUDIT_KEY_ID"],
        }

    def executor_environment(self) -> dict[str, str]:
        """What `aios executor run` needs to stand in for the execute function here: its
        environment as the emulation gives it (tables, plan key, capabilities, the loopback
        targets), the action queue, and the synthesized layers on PYTHONPATH."""
        assert self.runtime is not None, "start() first"
        lambda_only = ("AWS_LAMBDA_", "AWS_EXECUTION_ENV", "LAMBDA_TASK_ROOT", "_HANDLER")
        env = {
            k: v
            for k, v in self.runtime.environment_for(self.runtime.functions["execute"]).items()
            if not k.startswith(lambda_only)
        }
        queue_url = next(
            p.mapping.queue_url for p in self.pollers if p.mapping.function == "execute"
        )
        layers = os.pathsep.join(str(p) for p in self.runtime.layer_dirs)
        return {**env, "AIOS_ACTION_QUEUE_URL": queue_url, "PYTHONPATH": layers}

    @contextlib.contextmanager
    def paused(self, function: str) -> Iterator[None]:
        """No event source delivers to `function` inside the block (messages stay queued)."""
        candidates: list[SqsPoller | StreamPoller] = [*self.pollers, *self.stream_pollers]
        pollers = [p for p in candidates if p.mapping.function == function]
        for poller in pollers:
            poller.pause()
        try:
            yield
        finally:
            for poller in pollers:
                poller.resume()

    def dead_letter(self, case_id: str, timeout_s: float = 30.0) -> float:
        """Receive the case's queued action message until SQS moves it to the dead-letter queue
        (after the queue's maxReceiveCount receives), as a consumer failing every time would;
        returns `time.monotonic()` when it moved. Pause the consumer first (`paused`)."""
        sqs = self.client("sqs")
        queue_url = next(
            p.mapping.queue_url for p in self.pollers if p.mapping.function == "execute"
        )
        received, deadline = 0, time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            messages = sqs.receive_message(
                QueueUrl=queue_url, MaxNumberOfMessages=1, VisibilityTimeout=0
            ).get("Messages", [])
            if messages:
                if case_id not in messages[0]["Body"]:
                    raise RuntimeError("the action queue holds another case's message first")
                received += 1
            elif received:
                return time.monotonic()
        raise TimeoutError(f"no action message of {case_id} reached the dead-letter queue")

    def route_invocations(self, invoke: Invoke) -> None:
        """Send every invocation the emulation makes through `invoke`: the API's, the queue and
        stream pollers', the ASL interpreter's tasks and the service events' (an execution's
        end reaching finalize). A benchmark or the chaos harness wraps `runtime.invoke` with
        this and puts it back with `route_invocations(emu.runtime.invoke)` after; re-pointing
        only some paths loses the rest (a status change that never reaches finalize)."""
        assert self._api is not None and self._service_events is not None, "not started"
        self._api.invoke = invoke
        for poller in self.pollers:
            poller.invoke = invoke
        for stream in self.stream_pollers:
            stream.invoke = invoke
        self._service_events.invoke = invoke
        self._patch_moto(invoke)

    def _patch_moto(self, invoke: Invoke) -> None:
        """The ASL interpreter's tasks through `invoke`, its SQS calls through the state
        machine's clients, and every execution's end to the service events (finalize)."""
        assert self._service_events is not None
        moto_patches.apply(
            self._moto_port,
            invoke,
            self._sm_clients,
            on_execution_end=self._service_events.execution_ended,
        )

    def ses_outbox(self) -> list[dict[str, Any]]:
        """Emails sent through the emulated SES (moto runs in this process): source,
        destinations, subject and body (moto keeps the HTML part when there is one)."""
        from moto.ses.models import ses_backends

        backend = ses_backends[self.account][self.region]
        return [
            {
                "source": m.source,
                "destinations": m.destinations,
                "subject": m.subject,
                "body": m.body,
            }
            for m in list(backend.sent_messages)
        ]

    def _start_moto(self) -> None:
        from moto.server import ThreadedMotoServer

        moto_patches.check()
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per AWS call
        self._moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self._moto.start()
        host, port = self._moto.get_host_and_port()
        self._moto_port = int(port)
        self.aws_endpoint = f"http://{host}:{port}"
        # moto's backends are process-wide: start from empty, then turn on ASL execution.
        self._moto_api("/moto-api/reset", {})
        self._moto_api("/moto-api/config", {"stepfunctions": {"execute_state_machine": True}})

    def _moto_api(self, path: str, payload: dict[str, Any]) -> None:
        request = urllib.request.Request(  # noqa: S310 - loopback moto server
            self.aws_endpoint + path, data=json.dumps(payload).encode(), method="POST"
        )
        with urllib.request.urlopen(request, timeout=10) as resp:  # noqa: S310
            resp.read()

    def _overrides(self) -> dict[str, str]:
        """Emulation-wide variables for every function (see `local.lambda_runtime`)."""
        return {
            "AWS_ENDPOINT_URL": self.aws_endpoint,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
            "AWS_EC2_METADATA_DISABLED": "true",
            "POWERTOOLS_TRACE_DISABLED": "true",
            # AppConfig (moto and the stand-in) for the runtime configuration of processes.
            "AWS_ENDPOINT_URL_APPCONFIG": self.appconfig.url,
            "AWS_ENDPOINT_URL_APPCONFIGDATA": self.appconfig.url,
            # Split: each function has its own role's credentials (`_as_deployed`).
            **({} if self.split else DUMMY_CREDENTIALS),
        }

    def _memory_overrides(self) -> dict[str, str]:
        """With a memory table in the template, the vector engine is the embedded store (a
        SQLite file shared by the memory, indexer and reconciler handlers) and the embedder is
        the offline hashing one: recall works with no network."""
        assert self.deployment is not None
        if not any(
            "AIOS_MEMORY_TABLE" in f.environment for f in self.deployment.functions.values()
        ):
            return {}
        self.memory_dir = Path(tempfile.mkdtemp(prefix="aios-memory-"))
        return {
            "AIOS_MEMORY_ENGINE": "embedded",
            "AIOS_MEMORY_STORE_PATH": str(self.memory_dir / "vectors.sqlite"),
            "AIOS_MEMORY_EMBEDDER": "hashing",
            "AIOS_MEMORY_DIMENSIONS": "256",
        }

    def _with_local_targets(self, spec: Any) -> Any:
        """Point every `AIOS_HTTP_TARGETS` entry at the receiver, as `<receiver>/<target>`, and
        every https URL in a capability's options (`AIOS_CAPABILITY_CONFIG`) at
        `<receiver>/<capability>`."""
        env = dict(spec.environment)
        raw = env.get("AIOS_HTTP_TARGETS")
        if raw is not None:
            targets = json.loads(raw) if raw.strip() else {}
            env["AIOS_HTTP_TARGETS"] = json.dumps(
                {name: f"{self.receiver_url}/{name}" for name in targets}
            )
        raw_config = env.get("AIOS_CAPABILITY_CONFIG")
        if raw_config:
            options = json.loads(raw_config)
            env["AIOS_CAPABILITY_CONFIG"] = json.dumps(
                {
                    name: {
                        k: f"{self.receiver_url}/{name}"
                        if isinstance(v, str) and v.startswith("https://")
                        else v
                        for k, v in values.items()
                    }
                    for name, values in options.items()
                }
            )
        return dataclasses.replace(spec, environment=env)

    def _seed_capability_secrets(self, spec: Any) -> None:
        """Give every key of a capability's secret that is still empty a local random value.

        On AWS the operator stores them after deploy (the stack creates each secret with its
        keys and empty values); `capability_keys` holds what was seeded, for tests.
        """
        raw = spec.environment.get("AIOS_CAPABILITY_SECRETS")
        if not raw:
            return
        sm = self.client("secretsmanager", self._function_accounts.get(spec.name))
        for name, secret_id in json.loads(raw).items():
            current = sm.get_secret_value(SecretId=secret_id).get("SecretString") or "{}"
            values = json.loads(current)
            missing = [k for k, v in values.items() if not v]
            if missing:
                values.update({k: secrets.token_hex(16) for k in missing})
                sm.put_secret_value(SecretId=secret_id, SecretString=json.dumps(values))
            self.capability_keys[name] = {str(k): str(v) for k, v in values.items()}

    def _seed_target_keys(self, spec: Any) -> None:
        """Give every HTTP target a signing key in `AIOS_HTTP_SECRET_ARN`'s secret, if missing.

        On AWS an operator stores the keys after deploy; locally they are generated, so
        `http.post` can sign (the receiver records `X-Aios-Signature` / `X-Aios-Timestamp`).
        """
        secret_id = spec.environment.get("AIOS_HTTP_SECRET_ARN")
        raw_targets = spec.environment.get("AIOS_HTTP_TARGETS", "")
        if not secret_id or not raw_targets.strip():
            return
        sm = self.client("secretsmanager", self._function_accounts.get(spec.name))
        current = sm.get_secret_value(SecretId=secret_id).get("SecretString") or "{}"
        try:
            values = json.loads(current)
        except ValueError:
            values = {}
        if not isinstance(values, dict):
            values = {}
        missing = [t for t in json.loads(raw_targets) if t not in values]
        if missing:
            values.update({t: secrets.token_hex(32) for t in missing})
            sm.put_secret_value(SecretId=secret_id, SecretString=json.dumps(values))
        self.target_keys = {str(k): str(v) for k, v in values.items()}

    def stop(self) -> None:
        """Stop serving and polling, undo the moto patches, stop moto; safe to call twice."""
        if self._api is not None:
            self._api.stop()
            self._api = None
        for poller in self.pollers:
            poller.stop()
        self.pollers = []
        for stream_poller in self.stream_pollers:
            stream_poller.stop()
        self.stream_pollers = []
        if self._receiver is not None:
            self._receiver.stop()
            self._receiver = None
        if self._appconfig is not None:
            self._appconfig.stop()
            self._appconfig = None
        moto_patches.revert()
        if self.runtime is not None:
            self.runtime.close()
        if self._moto is not None:
            self._moto.stop()
            self._moto = None
        if self.memory_dir is not None:
            shutil.rmtree(self.memory_dir, ignore_errors=True)
            self.memory_dir = None
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None
            self.cdk_out = None
