"""The Lambda functions: one role, one log group and one code folder per function.

Every function runs the handler ``functions/<name>/app.py`` on Python 3.13 arm64 with two
layers: the ``aios`` domain library and its pinned dependencies. Each function's CfnFunction
carries the metadata ``aios:function`` so the local emulation finds its handler folder.
"""

from __future__ import annotations

import json
from pathlib import Path

from aios.keyring import TrustedKeys
from aws_cdk import ArnFormat, Duration, RemovalPolicy, SecretValue, Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk.aws_lambda_event_sources import SqsEventSource
from constructs import Construct

from stacks.action_bus import ActionBus
from stacks.bundling import compiled_layer_code, dependencies_layer_code
from stacks.config import AiosConfig
from stacks.connector_secrets import ConnectorSecrets
from stacks.decision_store import DecisionStore
from stacks.ledger import CASE_KEYS, EXECUTION_KEYS, Ledger
from stacks.model_access import invoke_statements
from stacks.nag import acknowledge
from stacks.signing_key import SigningKey
from stacks.workspace import USER_LAYER_METADATA

ROOT = Path(__file__).resolve().parents[1]
FUNCTION_METADATA = "aios:function"
RUNTIME = lambda_.Runtime.PYTHON_3_13
ARCHITECTURE = lambda_.Architecture.ARM_64

LEDGER_READ = ("dynamodb:GetItem", "dynamodb:Query")
IDEMPOTENCY_READ_WRITE = (
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
)
XRAY_REASON = (
    "X-Ray PutTraceSegments/PutTelemetryRecords support no resource-level permissions, "
    "so tracing needs Resource '*'"
)

# CloudWatch Logs accepts only these retentions; aws_logs.RetentionDays names them.
_RETENTION = {
    1: logs.RetentionDays.ONE_DAY, 3: logs.RetentionDays.THREE_DAYS,
    5: logs.RetentionDays.FIVE_DAYS, 7: logs.RetentionDays.ONE_WEEK,
    14: logs.RetentionDays.TWO_WEEKS, 30: logs.RetentionDays.ONE_MONTH,
    60: logs.RetentionDays.TWO_MONTHS, 90: logs.RetentionDays.THREE_MONTHS,
    120: logs.RetentionDays.FOUR_MONTHS, 150: logs.RetentionDays.FIVE_MONTHS,
    180: logs.RetentionDays.SIX_MONTHS, 365: logs.RetentionDays.ONE_YEAR,
    400: logs.RetentionDays.THIRTEEN_MONTHS, 545: logs.RetentionDays.EIGHTEEN_MONTHS,
    731: logs.RetentionDays.TWO_YEARS, 1096: logs.RetentionDays.THREE_YEARS,
    1827: logs.RetentionDays.FIVE_YEARS, 2192: logs.RetentionDays.SIX_YEARS,
    2557: logs.RetentionDays.SEVEN_YEARS, 2922: logs.RetentionDays.EIGHT_YEARS,
    3288: logs.RetentionDays.NINE_YEARS, 3653: logs.RetentionDays.TEN_YEARS,
}  # fmt: skip


def retention_days(config: AiosConfig) -> logs.RetentionDays:
    """The configured log retention as CDK's enum."""
    return _RETENTION[config.log_retention_days]


def removal_policy(config: AiosConfig) -> RemovalPolicy:
    """The removal policy of stateful resources (tables, keys, log groups)."""
    return RemovalPolicy.RETAIN if config.retention == "retain" else RemovalPolicy.DESTROY


def log_group(scope: Construct, id: str, config: AiosConfig) -> logs.LogGroup:
    """A log group with the configured retention and removal policy."""
    return logs.LogGroup(
        scope, id, retention=retention_days(config), removal_policy=removal_policy(config)
    )


class AiosFunction(Construct):
    """One handler folder deployed as a Lambda function with its own role and log group."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        name: str,
        config: AiosConfig,
        layers: list[lambda_.ILayerVersion],
        environment: dict[str, str],
        timeout: Duration,
        memory_size: int = 512,
        role_name: str | None = None,
        reserved_concurrency: int | None = None,
    ) -> None:
        super().__init__(scope, id)
        self.name = name
        self.log_group = log_group(self, "LogGroup", config)
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"AIOS {name} function",
            role_name=role_name,  # named only where another account's policy names it
        )
        # Instead of AWSLambdaBasicExecutionRole: write to this function's log group only.
        self.log_group.grant_write(self.role)
        self.function = lambda_.Function(
            self,
            "Function",
            description=f"AIOS {name}",
            code=lambda_.Code.from_asset(
                str(ROOT / "functions" / name), exclude=["__pycache__", "*.pyc"]
            ),
            handler="app.handler",
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            role=self.role,
            layers=layers,
            tracing=lambda_.Tracing.ACTIVE,
            log_group=self.log_group,
            logging_format=lambda_.LoggingFormat.JSON,
            timeout=timeout,
            memory_size=memory_size,
            reserved_concurrent_executions=reserved_concurrency,
            environment={
                "POWERTOOLS_SERVICE_NAME": f"aios-{name}",
                "POWERTOOLS_METRICS_NAMESPACE": "AIOS",
                "LOG_LEVEL": "INFO",
                **environment,
            },
        )
        self.environment = dict(environment)
        """What this function's code reads besides Powertools' variables (a container running
        the same code reads the same)."""
        self.function.node.default_child.add_metadata(FUNCTION_METADATA, name)  # type: ignore[union-attr]
        acknowledge(
            self.function,
            id="AwsSolutions-L1",
            reason="python3.13 is the target runtime: the dependency layer's wheels are cp313",
        )
        acknowledge(self.role, id="AwsSolutions-IAM5[Resource::*]", reason=XRAY_REASON)

    def add_environment(self, key: str, value: str) -> None:
        self.function.add_environment(key, value)
        self.environment[key] = value


def aios_layers(scope: Construct, user_layer_dir: Path) -> list[lambda_.ILayerVersion]:
    """The three layers every function runs with: the ``aios`` domain library, its pinned
    dependencies (arm64) and the user's workspace (processes and capabilities)."""
    domain = lambda_.LayerVersion(
        scope,
        "DomainLayer",
        description="aios domain library",
        code=compiled_layer_code(ROOT / "layers" / "aios"),
        compatible_runtimes=[RUNTIME],
        compatible_architectures=[ARCHITECTURE],
    )
    dependencies = lambda_.LayerVersion(
        scope,
        "DependenciesLayer",
        description="aios runtime dependencies (requirements.txt, arm64)",
        code=dependencies_layer_code(ROOT / "requirements.txt"),
        compatible_runtimes=[RUNTIME],
        compatible_architectures=[ARCHITECTURE],
    )
    user = lambda_.LayerVersion(
        scope,
        "UserLayer",
        description="the user's processes and capabilities (processes/, capabilities/)",
        code=lambda_.Code.from_asset(str(user_layer_dir)),
        compatible_runtimes=[RUNTIME],
        compatible_architectures=[ARCHITECTURE],
    )
    user.node.default_child.add_metadata(USER_LAYER_METADATA, "user")  # type: ignore[union-attr]
    return [domain, dependencies, user]


def execute_function(
    scope: Construct,
    *,
    config: AiosConfig,
    layers: list[lambda_.ILayerVersion],
    ledger: Ledger,
    action_bus: ActionBus,
    connector_secrets: ConnectorSecrets,
    signing_key: SigningKey | None = None,
    role_name: str | None = None,
) -> AiosFunction:
    """The execute function: reads the action queue, verifies, applies through capabilities.

    With ``signing_key`` (one stack) it verifies with the plan, policy and human keys' public
    keys, fetched once per cold start, and shares the decision ledger; without (the execution
    plane on its own) it trusts the public keys pinned in ``trusted_keys`` (and
    ``plan_public_keys``), calls no KMS at all, and reads no decision ledger.
    """
    execute = AiosFunction(
        scope,
        "Execute",
        name="execute",
        config=config,
        layers=layers,
        timeout=Duration.seconds(config.execute_timeout_seconds),
        role_name=role_name,
        environment={
            "AIOS_LEDGER_TABLE": ledger.table.table_name,
            "AIOS_IDEMPOTENCY_TABLE": ledger.idempotency_table.table_name,
            "AIOS_HTTP_TARGETS": json.dumps(config.http_targets, sort_keys=True),
            "AIOS_HTTP_TIMEOUT_SECONDS": str(config.http_timeout_seconds),
            "AIOS_HTTP_SECRET_ARN": connector_secrets.http_keys.secret_arn,
        },
    )
    if signing_key is None:
        pinned = config.pinned_keys.model_dump(mode="json", exclude_defaults=True)
        execute.add_environment("AIOS_TRUSTED_KEYS", json.dumps(pinned, sort_keys=True))
        execute.add_environment("AIOS_DECISION_LEDGER", "false")
    else:
        for name, value in signing_key.environment().items():
            execute.add_environment(name, value)
        if config.trusted_keys != TrustedKeys():  # a rotation in one stack: pinned keys win
            pinned = config.trusted_keys.model_dump(mode="json", exclude_defaults=True)
            execute.add_environment("AIOS_TRUSTED_KEYS", json.dumps(pinned, sort_keys=True))
    ledger.table.grant(execute.role, *LEDGER_READ)
    ledger.grant_write(execute.role, CASE_KEYS + EXECUTION_KEYS)
    ledger.idempotency_table.grant(execute.role, *IDEMPOTENCY_READ_WRITE)
    if signing_key is not None:
        signing_key.grant_verify(execute.role)
    connector_secrets.http_keys.grant_read(execute.role)
    execute.function.add_event_source(
        SqsEventSource(
            action_bus.queue,
            batch_size=10,
            report_batch_item_failures=True,
            # Bounds the concurrent calls on outside systems (and execute's share of the
            # account's concurrency); messages wait in the queue instead of throttling.
            max_concurrency=config.execute_max_concurrency,
        )
    )
    return execute


class Functions(Construct):
    """The api, decide, execute and finalize functions with their least-privilege grants."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        config: AiosConfig,
        ledger: Ledger,
        signing_key: SigningKey,
        action_bus: ActionBus | None,
        connector_secrets: ConnectorSecrets,
        decision_store: DecisionStore,
        user_layer_dir: Path,
    ) -> None:
        """Without ``action_bus``, the execute function is not here: the execution stack has
        it (stacks/execution_stack.py)."""
        super().__init__(scope, id)
        self.layers = aios_layers(self, user_layer_dir)
        layers = self.layers
        table = ledger.table
        key = signing_key.key
        common = {"AIOS_LEDGER_TABLE": table.table_name}
        short = Duration.seconds(30)

        self.api = AiosFunction(
            self,
            "Api",
            name="api",
            config=config,
            layers=layers,
            timeout=Duration.seconds(15),
            # No idempotency table: a case id derives from its Idempotency-Key, so the case
            # record itself is the idempotency record (aios.cases.submit_case).
            environment={
                **common,
                "AIOS_API_AUTH": config.api_auth,
                # The case's cost (GET /cases/{id}) counts the memory steps when the flow has them.
                "AIOS_MEMORY_STEPS": str(config.memory_engine != "none").lower(),
            },
        )
        table.grant(self.api.role, *LEDGER_READ, "dynamodb:BatchGetItem")
        ledger.grant_write(self.api.role, CASE_KEYS)
        if config.api_auth == "iam":
            self._grant_tenant_tags()

        self.decide = AiosFunction(
            self,
            "Decide",
            name="decide",
            config=config,
            layers=layers,
            timeout=Duration.seconds(60),
            # Caps concurrent model calls (provider quotas); Step Functions retries a throttle.
            reserved_concurrency=config.decide_reserved_concurrency,
            environment={
                **common,
                "AIOS_PLAN_KEY_ID": key.key_arn,
                "AIOS_POLICY_KEY_ID": signing_key.policy_key.key_arn,
                "AIOS_PLAN_TTL_SECONDS": str(config.plan_ttl_seconds),
                "AIOS_MODEL_PROVIDER": config.model_provider,
                "AIOS_MODEL_TIERS": json.dumps(config.model_tiers, sort_keys=True),
                "AIOS_MODEL_PRICES": json.dumps(
                    {m: p.model_dump(exclude_none=True) for m, p in config.model_prices.items()},
                    sort_keys=True,
                ),
                "AIOS_MODEL_CACHE_TTL_SECONDS": str(config.model_cache_ttl_seconds),
                "AIOS_DECISION_TABLE": decision_store.table.table_name,
            },
        )
        table.grant(self.decide.role, *LEDGER_READ)
        ledger.grant_write(self.decide.role, CASE_KEYS)
        key.grant(self.decide.role, "kms:Sign", "kms:GetPublicKey")
        # One policy attestation per plan; never the human key (approvals and console only).
        signing_key.policy_key.grant(self.decide.role, "kms:Sign")
        decision_store.table.grant(
            self.decide.role, "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"
        )
        self._grant_models(config)

        self.execute: AiosFunction | None = None
        if action_bus is not None:
            self.execute = execute_function(
                self,
                config=config,
                layers=layers,
                ledger=ledger,
                action_bus=action_bus,
                connector_secrets=connector_secrets,
                signing_key=signing_key,
            )

        self.finalize = AiosFunction(
            self,
            "Finalize",
            name="finalize",
            config=config,
            layers=layers,
            timeout=short,
            environment=common,
        )
        table.grant(self.finalize.role, *LEDGER_READ)
        ledger.grant_write(self.finalize.role, CASE_KEYS)

    def _grant_models(self, config: AiosConfig) -> None:
        """decide may invoke the configured models only (Converse needs bedrock:InvokeModel; a
        cross-Region inference profile also its foundation model in the Regions it routes to),
        or read the key of the OpenAI-compatible endpoint; the offline provider needs nothing."""
        if config.model_provider == "bedrock":
            stack = Stack.of(self)
            for statement in invoke_statements(
                stack, config.model_ids, config.inference_profile_regions
            ):
                self.decide.role.add_to_principal_policy(statement)
        elif config.model_provider == "openai":
            self.model_api_key = secretsmanager.Secret(
                self,
                "ModelApiKey",
                description='AIOS OpenAI-compatible endpoint key: JSON {"api_key": ...}',
                secret_string_value=SecretValue.unsafe_plain_text("{}"),  # stored after deploy
            )
            acknowledge(
                self.model_api_key,
                id="AwsSolutions-SMG4",
                reason="the key is issued by the model endpoint's operator; rotated there by hand",
            )
            self.model_api_key.grant_read(self.decide.role)
            self.decide.add_environment("AIOS_OPENAI_BASE_URL", config.openai_base_url or "")
            self.decide.add_environment("AIOS_OPENAI_SECRET_ARN", self.model_api_key.secret_arn)

    def _grant_tenant_tags(self) -> None:
        """Under IAM auth the caller's tenant is its principal's `aios:tenant` tag: api may
        read the tags of this account's users and roles, nothing else of IAM."""
        stack = Stack.of(self)
        self.api.role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["iam:ListUserTags", "iam:ListRoleTags"],
                resources=[
                    stack.format_arn(service="iam", region="", resource="user", resource_name="*"),
                    stack.format_arn(service="iam", region="", resource="role", resource_name="*"),
                ],
            )
        )
        for kind in ("user", "role"):
            acknowledge(
                self.api.role,
                id=f"AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:iam::<AWS::AccountId>:{kind}/*]",
                reason="any principal of the account may call the API: its tenant tag is read "
                "(List*Tags only) to learn whose case it is",
            )

    def attach_tenant_keys(self, keys: dict[str, apigw.IApiKey]) -> None:
        """Under API-key auth: the api function maps each tenant's key id to the tenant."""
        if keys:
            mapping = {tenant: key.key_id for tenant, key in keys.items()}
            self.api.add_environment("AIOS_TENANT_API_KEYS", Stack.of(self).to_json_string(mapping))

    @property
    def all(self) -> list[AiosFunction]:
        functions = [self.api, self.decide, self.execute, self.finalize]
        return [f for f in functions if f is not None]

    def attach_case_machine(self, machine: sfn.StateMachine) -> None:
        """Let api start and read cases and execute answer task tokens of ``machine``.

        Done after the machine exists: the machine invokes decide and finalize, so only the
        functions it does not invoke may depend on it.
        """
        self.api.add_environment("AIOS_STATE_MACHINE_ARN", machine.state_machine_arn)
        machine.grant_start_execution(self.api.role)
        self.api.role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["states:DescribeExecution"],
                resources=[execution_arns(machine)],
            )
        )
        acknowledge(
            self.api.role,
            id=f"AwsSolutions-IAM5[Resource::{execution_arns_finding(machine)}]",
            reason="execution ARNs are named per case at runtime; scoped to this machine's ones",
        )
        if self.execute is not None:
            machine.grant_task_response(self.execute.role)


def execution_arns(machine: sfn.StateMachine) -> str:
    """ARN pattern of every execution of ``machine``."""
    return Stack.of(machine).format_arn(
        service="states",
        resource="execution",
        resource_name=f"{machine.state_machine_name}:*",
        arn_format=ArnFormat.COLON_RESOURCE_NAME,
    )


def execution_arns_finding(machine: sfn.StateMachine) -> str:
    """How cdk-nag prints execution_arns(machine) in an AwsSolutions-IAM5 finding id."""
    logical_id = Stack.of(machine).get_logical_id(machine.node.default_child)  # type: ignore[arg-type]
    return (
        "arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:"
        f"<{logical_id}.Name>:*"
    )
