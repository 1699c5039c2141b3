"""The AIOS stack: composes one construct per concern."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from aws_cdk import CfnOutput, Duration, Stack
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from stacks.action_bus import ActionBus
from stacks.api import STAGE, Api
from stacks.approvals import PUBLIC_ROUTES, Approvals
from stacks.audit_anchor import AuditAnchor
from stacks.boundary import Boundary
from stacks.capability_roles import CapabilityRoles
from stacks.case_events import CaseEvents
from stacks.case_machine import CaseMachine
from stacks.config import AiosConfig
from stacks.connector_secrets import ConnectorSecrets
from stacks.console import Console
from stacks.decision_store import DecisionStore
from stacks.executor import Executor
from stacks.functions import Functions, log_group, removal_policy
from stacks.handoffs import Handoffs
from stacks.ledger import Ledger
from stacks.memory import Memory
from stacks.observability import Observability
from stacks.reconciler import Reconciler
from stacks.runtime_config import RuntimeConfig
from stacks.signing_key import SigningKey
from stacks.task_answers import TaskAnswers
from stacks.workspace import Workspace, read_workspace, stage_user_layer

ROLLBACK_ALARMS = ("CasesFailed", "ApiErrors", "DecideErrors", "ExecuteErrors")
"""The alarms that roll a configuration deployment back while it rolls out and bakes."""


class AiosStack(Stack):
    """Ledger, action bus, signing key, functions, case machine, API and observability."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        config: AiosConfig,
        workspace: Workspace | None = None,
        boundary: Boundary | None = None,
        **kwargs: Any,
    ) -> None:
        """With ``boundary``, the execution plane is the ExecutionStack's (another account or
        region): this stack sends signed actions to its queue and lets its execute role answer
        the case machine's tasks through the task answer role."""
        super().__init__(scope, id, **kwargs)
        self.config = config
        self.boundary = boundary
        self.execution_stack: Stack | None = None
        """The execution plane's own stack, when it has one (set by stacks.application)."""
        self.workspace = workspace or read_workspace()
        retention = removal_policy(config)
        # CDK copies the staged folder into the assembly when the layer is built (below).
        self._staging = tempfile.TemporaryDirectory(prefix="aios-user-layer-")
        user_layer_dir = stage_user_layer(self.workspace, Path(self._staging.name))
        self.user_layer_dir = user_layer_dir

        self.ledger = Ledger(self, "Ledger", removal_policy=retention, idempotency=boundary is None)
        self.action_bus: ActionBus | None = None
        action_queue: sqs.IQueue
        if boundary is None:
            self.action_bus = ActionBus(
                self,
                "ActionBus",
                consumer_timeout=Duration.seconds(config.execute_timeout_seconds),
                high_throughput=config.fifo_high_throughput,
            )
            action_queue = self.action_bus.queue
        else:
            action_queue = sqs.Queue.from_queue_attributes(
                self,
                "ExecutionActionQueue",
                queue_arn=boundary.action_queue_arn,
                queue_url=boundary.action_queue_url,
                fifo=True,
            )
        self.signing_key = SigningKey(self, "SigningKey", removal_policy=retention)
        self.connector_secrets = ConnectorSecrets(
            self, "ConnectorSecrets", removal_policy=retention
        )
        self.decision_store = DecisionStore(self, "DecisionStore", removal_policy=retention)
        self.functions = Functions(
            self,
            "Functions",
            config=config,
            ledger=self.ledger,
            signing_key=self.signing_key,
            action_bus=self.action_bus,
            connector_secrets=self.connector_secrets,
            decision_store=self.decision_store,
            user_layer_dir=user_layer_dir,
        )
        # GET /kpis lists a process's cases by creation time.
        self.ledger.grant_case_index_read(self.functions.api.role)
        self.capability_roles: CapabilityRoles | None = None
        if self.functions.execute is not None:
            self.capability_roles = CapabilityRoles(
                self,
                "CapabilityRoles",
                execute=self.functions.execute,
                email_sender=config.email_sender,
                capabilities=self.workspace.user_capabilities,
                config=config.capability_config,
                removal_policy=retention,
            )
        self.approvals = Approvals(
            self,
            "Approvals",
            config=config,
            ledger=self.ledger,
            layers=self.functions.layers,
            removal_policy=retention,
        )
        self.handoffs = Handoffs(
            self,
            "Handoffs",
            config=config,
            ledger=self.ledger,
            approvals=self.approvals,
            layers=self.functions.layers,
        )
        # The user layer too: act-by-hand forms come from the user's capabilities' models.
        self.console = Console(
            self,
            "Console",
            config=config,
            ledger=self.ledger,
            layers=self.functions.layers,
            removal_policy=retention,
        )
        # Human attestations: an approval's decision (link, Slack or console) and an operator's
        # act-by-hand; no other function may sign with the human key.
        for signer in (self.approvals.answer, self.console.function):
            self.signing_key.human_key.grant(signer.role, "kms:Sign")
            signer.add_environment("AIOS_HUMAN_KEY_ID", self.signing_key.human_key.key_arn)
        self.memory = Memory(
            self,
            "Memory",
            config=config,
            ledger=self.ledger,
            layers=self.functions.layers,
            removal_policy=retention,
        )
        layers = self.functions.layers  # the user's workspace too: specs and capabilities
        self.case_events = CaseEvents(
            self,
            "CaseEvents",
            config=config,
            ledger=self.ledger,
            connector_secrets=self.connector_secrets,
            layers=layers,
        )
        self.reconciler = Reconciler(
            self,
            "Reconciler",
            config=config,
            ledger=self.ledger,
            action_queue=self.action_bus.queue if self.action_bus else None,
            dead_letter_queue=self.action_bus.dead_letter_queue if self.action_bus else None,
            layers=layers,
        )
        # Large case inputs enter the state machine as claim checks (api, or the reconciler
        # restarting a case) and leave it at decide.
        self.memory.share_context(
            writers=(self.functions.api, self.reconciler.reconciler),
            readers=(self.functions.decide,),
        )
        # Large action bodies travel as claim checks: decide puts them, execute redeems them.
        # (In the split layout execute lives in the execution stack; it reads no bodies there
        # yet: see docs/two-accounts.md.)
        if self.functions.execute is not None:
            self.memory.share_bodies(
                proposer=self.functions.decide, executor=self.functions.execute
            )
        self.memory.share_records(self.functions.decide)
        self.case_machine = CaseMachine(
            self,
            "CaseMachine",
            memory=self.memory.recall.function,
            decide=self.functions.decide.function,
            finalize=self.functions.finalize.function,
            approval_request=self.approvals.request.function,
            handoff=self.handoffs.handoff.function,
            action_queue=action_queue,
            log_group=log_group(self, "CaseMachineLogs", config),
            role_name=boundary.case_machine_role_name if boundary else None,
            memory_steps=config.memory_engine != "none",
        )
        self.functions.attach_case_machine(self.case_machine.state_machine)
        self.reconciler.attach_case_machine(self.case_machine.state_machine)
        self.task_answers: TaskAnswers | None = None
        if boundary is not None:
            self.task_answers = TaskAnswers(
                self,
                "TaskAnswers",
                boundary=boundary,
                machine=self.case_machine.state_machine,
                executor=config.executor == "fargate",
            )
        self.api = Api(
            self,
            "Api",
            config=config,
            handler=self.functions.api.function,
            access_log_group=log_group(self, "ApiAccessLogs", config),
        )
        self.functions.attach_tenant_keys(self.api.tenant_keys)
        self.api.add_public_routes(
            self.approvals.answer.function,
            PUBLIC_ROUTES,
            reason="approval links and Slack interactions: the HMAC link token or Slack's "
            "request signature is the credential, checked by the approvals function",
        )
        self.approvals.attach(
            self.case_machine.state_machine,
            self.api.rest_api,
            STAGE,
        )
        self.handoffs.attach(self.case_machine.state_machine, self.api.rest_api, STAGE)
        self.console.attach(self.api, self.handoffs)
        self.audit_anchor = AuditAnchor(
            self,
            "AuditAnchor",
            config=config,
            ledger=self.ledger,
            layers=self.functions.layers,
            removal_policy=retention,
        )
        self.observability = Observability(
            self,
            "Observability",
            config=config,
            removal_policy=retention,
            state_machine=self.case_machine.state_machine,
            dead_letter_queues={
                **(
                    {
                        "DeadLetters": (
                            self.action_bus.dead_letter_queue,
                            "Actions are in the dead-letter queue",
                        )
                    }
                    if self.action_bus
                    else {}
                ),
                "WebhookDeadLetters": (
                    self.case_events.webhook_dead_letters,
                    "Webhook deliveries are in the dead-letter queue (aios webhooks replay)",
                ),
                "CaseEventFailures": (
                    self.case_events.stream_failures,
                    "Ledger stream batches could not be published as case events",
                ),
            },
            functions=[
                *self.functions.all,
                *self.approvals.all,
                *self.handoffs.all,
                self.console.function,
                *self.memory.functions,
                *self.case_events.functions,
                *self.reconciler.functions,
                self.audit_anchor.function,
            ],
            rest_api=self.api.rest_api,
        )
        self.runtime_config = RuntimeConfig(
            self,
            "RuntimeConfig",
            config=config,
            workspace=self.workspace,
            alarms=[a for a in self.observability.alarms if a.node.id in ROLLBACK_ALARMS],
        )
        # Every function that reads process specs reads the deployed ones.
        self.runtime_config.grant_read(
            *(f for f in (self.functions.api, self.functions.decide, self.functions.execute) if f),
            *self.approvals.all,
            *self.handoffs.all,
            self.console.function,
            *self.case_events.functions,
            *self.reconciler.functions,
        )

        CfnOutput(self, "ApiUrl", value=self.api.url)
        CfnOutput(self, "StateMachineArn", value=self.case_machine.state_machine.state_machine_arn)
        CfnOutput(self, "LedgerTableName", value=self.ledger.table.table_name)
        CfnOutput(self, "ActionQueueUrl", value=action_queue.queue_url)
        CfnOutput(self, "ConsoleUrl", value=f"{self.api.url}console")
        CfnOutput(self, "ConsoleUserPoolId", value=self.console.user_pool.user_pool_id)
        CfnOutput(self, "PlanKeyArn", value=self.signing_key.key.key_arn)
        CfnOutput(self, "PolicyKeyArn", value=self.signing_key.policy_key.key_arn)
        CfnOutput(self, "HumanKeyArn", value=self.signing_key.human_key.key_arn)
        CfnOutput(self, "ConfigApplication", value=self.runtime_config.application_name)
        CfnOutput(self, "AuditBucketName", value=self.audit_anchor.bucket.bucket_name)
        CfnOutput(self, "AuditKeyArn", value=self.audit_anchor.key.key_arn)
        self.executor: Executor | None = None
        if self.action_bus is not None:
            CfnOutput(
                self, "ActionDeadLetterQueueUrl", value=self.action_bus.dead_letter_queue.queue_url
            )
            self._executor(config)
        CfnOutput(self, "CaseEventBusName", value=self.case_events.bus.event_bus_name)
        CfnOutput(self, "WebhookQueueUrl", value=self.case_events.webhook_queue.queue_url)
        CfnOutput(
            self,
            "WebhookDeadLetterQueueUrl",
            value=self.case_events.webhook_dead_letters.queue_url,
        )

    def _executor(self, config: AiosConfig) -> None:
        """The executor container beside the execute function (``executor=fargate``)."""
        execute, bus, roles = self.functions.execute, self.action_bus, self.capability_roles
        if config.executor != "fargate" or execute is None or bus is None or roles is None:
            return
        self.executor = Executor(
            self,
            "Executor",
            config=config,
            execute=execute,
            ledger=self.ledger,
            action_bus=bus,
            connector_secrets=self.connector_secrets,
            capability_roles=roles,
            user_layer_dir=self.user_layer_dir,
            signing_key=self.signing_key,
            machine=self.case_machine.state_machine,
        )
