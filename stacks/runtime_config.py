"""Runtime configuration: the workspace's processes as an AWS AppConfig hosted configuration.

One application (`<stack>-processes`), one environment (`live`) and one freeform configuration
profile (`processes`) holding the configuration document (`aios.control.config`): every
process spec with its prompts, read from `processes/` at synth. A JSON Schema validator
(generated from the planes' own models, with the capabilities this code has) guards every
version; a linear deployment strategy rolls it out and AppConfig rolls it back when one of the
monitored alarms fires during the rollout or its bake time (failed cases, errors of the api,
decide and execute functions). Operators deploy new versions at runtime with
`aios control deploy`; a later `cdk deploy` whose processes changed deploys them again.

Functions that read specs get the AppConfig names in their environment and may read this one
profile in this one environment (`appconfig:StartConfigurationSession`,
`appconfig:GetLatestConfiguration`), through a policy of its own: the environment depends on
alarms that name the functions, so the functions must not depend on it.
"""

from __future__ import annotations

import json

from aws_cdk import Duration, Stack
from aws_cdk import aws_appconfig as appconfig
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from constructs import Construct

from stacks.config import AiosConfig
from stacks.functions import AiosFunction
from stacks.workspace import Workspace

ENVIRONMENT = "live"
PROFILE = "processes"


class RuntimeConfig(Construct):
    """The processes as deployable configuration, with validation and alarm rollback."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        config: AiosConfig,
        workspace: Workspace,
        alarms: list[cloudwatch.IAlarm],
    ) -> None:
        super().__init__(scope, id)
        # The library is importable once stacks.workspace has put the layer on the path.
        from aios.control.config import document_of, document_schema

        self.config = config
        self.application_name = f"{config.stack_name}-processes"
        self.application = appconfig.Application(
            self,
            "Application",
            application_name=self.application_name,
            description="AIOS process specs, prompts and policies",
        )
        self.environment = appconfig.Environment(
            self,
            "Environment",
            application=self.application,
            environment_name=ENVIRONMENT,
            description="what the planes read; rolled back when a monitored alarm fires",
            monitors=[
                appconfig.Monitor.from_cloud_watch_alarm(alarm, self._monitor_role(alarms))
                for alarm in alarms[:5]
            ],
        )
        self.strategy = appconfig.DeploymentStrategy(
            self,
            "Rollout",
            deployment_strategy_name=f"{self.application_name}-rollout",
            description="linear rollout, then a bake time watched by the environment's alarms",
            rollout_strategy=appconfig.RolloutStrategy.linear(
                growth_factor=config.config_growth_percent,
                deployment_duration=Duration.minutes(config.config_deployment_minutes),
                final_bake_time=Duration.minutes(config.config_bake_minutes),
            ),
        )
        # The workspace was validated as a whole when it was read (stacks/workspace.py).
        folders = [s.folder for _, s in sorted(workspace.catalog.processes.items()) if s.folder]
        document = document_of(folders)
        schema = document_schema(sorted(workspace.capabilities))
        self.processes = appconfig.HostedConfiguration(
            self,
            "Processes",
            application=self.application,
            name=PROFILE,
            description="the configuration document: process specs and their prompts",
            type=appconfig.ConfigurationType.FREEFORM,
            content=appconfig.ConfigurationContent.from_inline_json(
                json.dumps(document, sort_keys=True, separators=(",", ":"))
            ),
            validators=[
                appconfig.JsonSchemaValidator.from_inline(
                    json.dumps(schema, sort_keys=True, separators=(",", ":"))
                )
            ],
            deployment_strategy=self.strategy,
            deploy_to=[self.environment],
        )
        self.readers = iam.Policy(
            self,
            "ReadProcesses",
            statements=[
                iam.PolicyStatement(
                    actions=[
                        "appconfig:StartConfigurationSession",
                        "appconfig:GetLatestConfiguration",
                    ],
                    resources=[self.configuration_arn],
                )
            ],
        )

    def _monitor_role(self, alarms: list[cloudwatch.IAlarm]) -> iam.IRole:
        """AppConfig's role to watch the rollback alarms: DescribeAlarms on those alarms only
        (CDK's default role would allow it on every alarm)."""
        if getattr(self, "_monitor", None) is None:
            self._monitor = iam.Role(
                self,
                "MonitorRole",
                assumed_by=iam.ServicePrincipal("appconfig.amazonaws.com"),
                description="AppConfig reads the alarms that roll a process deployment back",
                inline_policies={
                    "DescribeRollbackAlarms": iam.PolicyDocument(
                        statements=[
                            iam.PolicyStatement(
                                actions=["cloudwatch:DescribeAlarms"],
                                resources=[alarm.alarm_arn for alarm in alarms[:5]],
                            )
                        ]
                    )
                },
            )
        return self._monitor

    @property
    def configuration_arn(self) -> str:
        """This profile in this environment: the one resource the readers may read."""
        return Stack.of(self).format_arn(
            service="appconfig",
            resource="application",
            resource_name=(
                f"{self.application.application_id}/environment/"
                f"{self.environment.environment_id}/configuration/"
                f"{self.processes.configuration_profile_id}"
            ),
        )

    def grant_read(self, *functions: AiosFunction) -> None:
        """Let `functions` read the deployed processes: names in their environment (literal,
        so no dependency on the environment), the policy on their roles."""
        for fn in functions:
            fn.add_environment("AIOS_CONFIG_APPLICATION", self.application_name)
            fn.add_environment("AIOS_CONFIG_ENVIRONMENT", ENVIRONMENT)
            fn.add_environment("AIOS_CONFIG_PROFILE", PROFILE)
            fn.add_environment(
                "AIOS_CONFIG_MAX_AGE_SECONDS", str(self.config.config_max_age_seconds)
            )
            self.readers.attach_to_role(fn.role)
