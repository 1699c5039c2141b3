"""The executor on ECS Fargate: the execution plane as a long-lived container in a private VPC.

Behind the context key `executor=fargate`. The container runs `python -m aios.executor` (the
`aios` library's own entry point, the code the execute Lambda function runs per message) and
polls the action queue. Its task role has exactly what that loop needs: consume the action
queue, read the ledger and write only the key spaces execute writes, its idempotency records,
the connector secret, assume the capability roles, and answer the case machine's tasks (directly
in one stack, through the task answer role when the decision plane is another account's).

The VPC has private subnets only reached out of through one NAT gateway (capabilities call
outside systems), gateway endpoints for DynamoDB and S3, and flow logs. The image is built from
`executor/Dockerfile` by `cdk deploy`; `cdk synth` only stages its context, so no Docker is
needed to synthesize.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from aws_cdk import Duration, Fn
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_iam as iam
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from stacks.action_bus import ActionBus
from stacks.capability_roles import CapabilityRoles
from stacks.config import AiosConfig
from stacks.connector_secrets import ConnectorSecrets
from stacks.functions import (
    IDEMPOTENCY_READ_WRITE,
    LEDGER_READ,
    ROOT,
    AiosFunction,
    log_group,
)
from stacks.ledger import CASE_KEYS, EXECUTION_KEYS, Ledger
from stacks.nag import acknowledge
from stacks.signing_key import SigningKey

QUEUE_CONSUME = (
    "sqs:ReceiveMessage",
    "sqs:DeleteMessage",
    "sqs:ChangeMessageVisibility",
    "sqs:GetQueueAttributes",
    "sqs:GetQueueUrl",
)
POWERTOOLS_ENV = ("POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE", "LOG_LEVEL")


def stage_image_context(user_layer_dir: Path, target: Path) -> Path:
    """The executor image's build context: the Dockerfile, requirements.txt, the `aios`
    library and the user layer's `python/` folder (processes and capabilities)."""
    shutil.copy2(ROOT / "executor" / "Dockerfile", target / "Dockerfile")
    shutil.copy2(ROOT / "requirements.txt", target / "requirements.txt")
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(ROOT / "layers" / "aios" / "python" / "aios", target / "aios", ignore=ignore)
    shutil.copytree(user_layer_dir / "python", target / "user", ignore=ignore)
    return target


class Executor(Construct):
    """A VPC, an ECS cluster and one Fargate service running the executor."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        config: AiosConfig,
        execute: AiosFunction,
        ledger: Ledger,
        action_bus: ActionBus,
        connector_secrets: ConnectorSecrets,
        capability_roles: CapabilityRoles,
        user_layer_dir: Path,
        signing_key: SigningKey | None = None,
        machine: sfn.StateMachine | None = None,
        task_answer_role_arn: str | None = None,
        task_answer_region: str | None = None,
        role_name: str | None = None,
    ) -> None:
        super().__init__(scope, id)
        self._staging = tempfile.TemporaryDirectory(prefix="aios-executor-image-")
        context = stage_image_context(user_layer_dir, Path(self._staging.name))
        self.vpc = ec2.Vpc(
            self,
            "Vpc",
            # Two of the region's zones, resolved at deploy (Fn::GetAZs): the synth needs no
            # AZ lookup in the target account and the template names no zone.
            availability_zones=[Fn.select(i, Fn.get_azs()) for i in range(2)],
            nat_gateways=1,
            subnet_configuration=[
                ec2.SubnetConfiguration(name="egress", subnet_type=ec2.SubnetType.PUBLIC),
                ec2.SubnetConfiguration(
                    name="executor", subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS
                ),
            ],
            gateway_endpoints={
                "DynamoDb": ec2.GatewayVpcEndpointOptions(
                    service=ec2.GatewayVpcEndpointAwsService.DYNAMODB
                ),
                "S3": ec2.GatewayVpcEndpointOptions(service=ec2.GatewayVpcEndpointAwsService.S3),
            },
        )
        self.vpc.add_flow_log(
            "FlowLog",
            destination=ec2.FlowLogDestination.to_cloud_watch_logs(
                log_group(self, "FlowLogs", config)
            ),
        )
        self.cluster = ecs.Cluster(
            self,
            "Cluster",
            vpc=self.vpc,
            container_insights_v2=ecs.ContainerInsights.ENABLED,
        )
        self.task_role = iam.Role(
            self,
            "TaskRole",
            assumed_by=iam.ServicePrincipal("ecs-tasks.amazonaws.com"),
            role_name=role_name,
            description="AIOS executor: consume actions, verify, apply, answer the case machine",
        )
        self._grant(ledger, action_bus, connector_secrets, capability_roles)
        if signing_key is not None:
            signing_key.grant_verify(self.task_role)
        if task_answer_role_arn:
            self.task_role.add_to_principal_policy(
                iam.PolicyStatement(actions=["sts:AssumeRole"], resources=[task_answer_role_arn])
            )
        elif machine is not None:
            self.task_role.add_to_principal_policy(
                iam.PolicyStatement(
                    actions=["states:SendTaskSuccess", "states:SendTaskFailure"],
                    resources=[machine.state_machine_arn],
                )
            )
        self.task_definition = ecs.FargateTaskDefinition(
            self,
            "Task",
            cpu=256,
            memory_limit_mib=512,
            task_role=self.task_role,
            runtime_platform=ecs.RuntimePlatform(
                cpu_architecture=ecs.CpuArchitecture.ARM64,
                operating_system_family=ecs.OperatingSystemFamily.LINUX,
            ),
        )
        environment = {k: v for k, v in execute.environment.items() if k not in POWERTOOLS_ENV} | {
            "AIOS_ACTION_QUEUE_URL": action_bus.queue.queue_url
        }
        if task_answer_role_arn and task_answer_region:
            environment["AIOS_TASK_ANSWER_ROLE_ARN"] = task_answer_role_arn
            environment["AIOS_TASK_ANSWER_REGION"] = task_answer_region
        self.container = self.task_definition.add_container(
            "Executor",
            image=ecs.ContainerImage.from_asset(str(context)),
            environment=environment,
            logging=ecs.LogDrivers.aws_logs(
                stream_prefix="executor", log_group=log_group(self, "Logs", config)
            ),
            readonly_root_filesystem=True,
            stop_timeout=Duration.seconds(30),
        )
        self.security_group = ec2.SecurityGroup(
            self,
            "SecurityGroup",
            vpc=self.vpc,
            description="AIOS executor: no inbound; outbound HTTPS (AWS APIs, outside systems)",
            allow_all_outbound=False,
        )
        self.security_group.add_egress_rule(ec2.Peer.any_ipv4(), ec2.Port.tcp(443), "HTTPS out")
        self.service = ecs.FargateService(
            self,
            "Service",
            cluster=self.cluster,
            task_definition=self.task_definition,
            desired_count=1,
            # A new task starts before the old one stops: two pollers of a FIFO queue still
            # never hold the same message group at once.
            min_healthy_percent=100,
            max_healthy_percent=200,
            assign_public_ip=False,
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS),
            security_groups=[self.security_group],
            circuit_breaker=ecs.DeploymentCircuitBreaker(rollback=True),
        )
        acknowledge(
            self.task_definition,
            id="AwsSolutions-ECS2",
            reason="the environment holds names and ARNs (tables, queue, roles), no secret: "
            "secrets are read from Secrets Manager at run time",
        )
        execution_role = self.task_definition.obtain_execution_role()
        acknowledge(
            execution_role,
            id="AwsSolutions-IAM5[Resource::*]",
            reason="ECS pulls the image: ecr:GetAuthorizationToken supports no resource-level "
            "permissions",
        )

    def _grant(
        self,
        ledger: Ledger,
        action_bus: ActionBus,
        connector_secrets: ConnectorSecrets,
        capability_roles: CapabilityRoles,
    ) -> None:
        role = self.task_role
        role.add_to_principal_policy(
            iam.PolicyStatement(actions=list(QUEUE_CONSUME), resources=[action_bus.queue.queue_arn])
        )
        ledger.table.grant(role, *LEDGER_READ)
        ledger.grant_write(role, CASE_KEYS + EXECUTION_KEYS)
        ledger.idempotency_table.grant(role, *IDEMPOTENCY_READ_WRITE)
        connector_secrets.http_keys.grant_read(role)
        capability_roles.allow(role)
