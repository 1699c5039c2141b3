"""Memory: the canonical records table, the Recall/Learn function, and the vector engine.

`memory_engine` (context) picks the engine:

- `none`: vector memory off. The memory function is still deployed (the ASL names it) and
  answers an empty recall; no table, indexer, reconciler or engine exists.
- `serverless`: an OpenSearch Serverless VECTORSEARCH collection (encryption, network and
  data access policies scoped to the kit's memory roles).
- `managed`: a one-node OpenSearch domain (t3.small.search) with fine-grained access control,
  encryption at rest and node to node, HTTPS enforced.

Whatever the engine, the ephemeral context tier is a bucket for claim checks: a case input
larger than `CLAIM_THRESHOLD_BYTES` travels through the state machine as a reference to an S3
object (see `aios.memory.context`), so no state nears Step Functions' 256 KiB.

With an engine, the records table streams to the indexer; the reconciler runs hourly and, as
the index's custom resource, creates the k-NN index at deploy time.
"""

from __future__ import annotations

import json

from aws_cdk import CustomResource, Duration, RemovalPolicy, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_opensearchserverless as aoss
from aws_cdk import aws_opensearchservice as opensearch
from aws_cdk import aws_s3 as s3
from aws_cdk.aws_lambda_event_sources import DynamoEventSource
from constructs import Construct

from stacks.config import AiosConfig
from stacks.functions import LEDGER_READ, AiosFunction
from stacks.ledger import Ledger
from stacks.nag import acknowledge

TITAN_EMBEDDINGS = "amazon.titan-embed-text-v2:0"
DIMENSIONS = 512
INDEX = "aios-memory"
CLAIM_THRESHOLD_BYTES = 64 * 1024
CLAIM_PREFIX = "cases/"
CLAIM_EXPIRY = Duration.days(7)
BODY_PREFIX = "bodies/"
BODY_INLINE_MAX_BYTES = 8 * 1024


class Memory(Construct):
    """The memory function (Recall/Learn) and, unless the engine is `none`, the rest."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        config: AiosConfig,
        ledger: Ledger,
        layers: list[lambda_.ILayerVersion],
        removal_policy: RemovalPolicy,
    ) -> None:
        super().__init__(scope, id)
        engine = config.memory_engine
        common = {
            "AIOS_MEMORY_ENGINE": engine,
            "AIOS_MEMORY_EMBEDDER": "titan",
            "AIOS_MEMORY_DIMENSIONS": str(DIMENSIONS),
            "AIOS_MEMORY_INDEX": INDEX,
        }
        self.recall = AiosFunction(
            self,
            "Recall",
            name="memory",
            config=config,
            layers=layers,
            timeout=Duration.seconds(20),
            environment={**common, "AIOS_LEDGER_TABLE": ledger.table.table_name},
        )
        ledger.table.grant(self.recall.role, *LEDGER_READ)
        self.functions = [self.recall]
        self.context_bucket = s3.Bucket(
            self,
            "Context",
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            lifecycle_rules=[
                s3.LifecycleRule(
                    expiration=CLAIM_EXPIRY,
                    abort_incomplete_multipart_upload_after=Duration.days(1),
                )
            ],
            removal_policy=removal_policy,
        )
        acknowledge(
            self.context_bucket,
            id="AwsSolutions-S1",
            reason="claim checks are short-lived copies of case inputs the ledger records; "
            "CloudTrail data events can be enabled where object access logs are required",
        )
        self.share_context(readers=(self.recall,))
        if engine == "none":
            return

        self.table = dynamodb.Table(
            self,
            "Records",
            partition_key=dynamodb.Attribute(name="pk", type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name="sk", type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            time_to_live_attribute="expires_at",
            stream=dynamodb.StreamViewType.NEW_AND_OLD_IMAGES,
            removal_policy=removal_policy,
            deletion_protection=removal_policy == RemovalPolicy.RETAIN,
        )
        self.indexer = AiosFunction(
            self,
            "Indexer",
            name="memory_indexer",
            config=config,
            layers=layers,
            timeout=Duration.seconds(60),
            environment=common,
        )
        self.reconciler = AiosFunction(
            self,
            "Reconciler",
            name="memory_reconciler",
            config=config,
            layers=layers,
            timeout=Duration.minutes(5),
            environment=common,
        )
        self.functions += [self.indexer, self.reconciler]
        for fn in self.functions:
            fn.add_environment("AIOS_MEMORY_TABLE", self.table.table_name)
        self.table.grant(self.recall.role, "dynamodb:GetItem", "dynamodb:PutItem")
        self.table.grant(self.reconciler.role, "dynamodb:Scan", "dynamodb:UpdateItem")
        # Lambda reads the stream for the indexer; the function itself never reads the table.
        self.indexer.function.add_event_source(
            DynamoEventSource(
                self.table,
                starting_position=lambda_.StartingPosition.TRIM_HORIZON,
                batch_size=100,
                bisect_batch_on_error=True,
                retry_attempts=10,
            )
        )
        embed = iam.PolicyStatement(
            actions=["bedrock:InvokeModel"],
            resources=[
                Stack.of(self).format_arn(
                    service="bedrock",
                    account="",
                    resource="foundation-model",
                    resource_name=TITAN_EMBEDDINGS,
                )
            ],
        )
        for fn in self.functions:
            fn.role.add_to_principal_policy(embed)

        endpoint = (
            self._serverless(config)
            if engine == "serverless"
            else self._managed(config, removal_policy)
        )
        for fn in self.functions:
            fn.add_environment("AIOS_MEMORY_ENDPOINT", endpoint)

        events.Rule(
            self,
            "ReconcileSchedule",
            description="AIOS memory: reconcile the vector index with the canonical records",
            schedule=events.Schedule.rate(Duration.hours(1)),
            targets=[targets.LambdaFunction(self.reconciler.function, retry_attempts=2)],
        )
        # Index creation is part of the deployment: the reconciler answers the custom resource.
        index = CustomResource(
            self,
            "Index",
            service_token=self.reconciler.function.function_arn,
            resource_type="Custom::AiosMemoryIndex",
            properties={"Index": INDEX, "Dimensions": DIMENSIONS, "Engine": engine},
        )
        index.node.add_dependency(self.engine_resource)

    def share_context(
        self, *, writers: tuple[AiosFunction, ...] = (), readers: tuple[AiosFunction, ...] = ()
    ) -> None:
        """Writers may put claim checks, readers may redeem them; both learn the bucket."""
        objects = self.context_bucket.arn_for_objects(f"{CLAIM_PREFIX}*")
        for fns, action in ((writers, "s3:PutObject"), (readers, "s3:GetObject")):
            for fn in fns:
                fn.add_environment("AIOS_CONTEXT_BUCKET", self.context_bucket.bucket_name)
                fn.add_environment("AIOS_CONTEXT_MAX_BYTES", str(CLAIM_THRESHOLD_BYTES))
                fn.role.add_to_principal_policy(
                    iam.PolicyStatement(actions=[action], resources=[objects])
                )
                acknowledge(
                    fn.role,
                    id=f"AwsSolutions-IAM5[Resource::<{Stack.of(self).get_logical_id(self.context_bucket.node.default_child)}.Arn>/{CLAIM_PREFIX}*]",  # type: ignore[arg-type]
                    reason="claim check objects are keyed per case under one prefix of the context bucket",
                )

    def share_records(self, reader: AiosFunction) -> None:
        """A process pipeline reads canonical records of a namespace (a glossary) in Decide:
        Query on the records table, no write; nothing without a vector engine."""
        table = getattr(self, "table", None)
        if table is None:
            return
        reader.add_environment("AIOS_MEMORY_TABLE", table.table_name)
        table.grant(reader.role, "dynamodb:Query")

    def share_bodies(self, *, proposer: AiosFunction, executor: AiosFunction) -> None:
        """Large action bodies (`aios.bodies`): the proposer puts them, the executor reads them,
        both under `bodies/` only, addressed by their SHA-256."""
        objects = self.context_bucket.arn_for_objects(f"{BODY_PREFIX}*")
        for fn, action in ((proposer, "s3:PutObject"), (executor, "s3:GetObject")):
            fn.add_environment("AIOS_CONTEXT_BUCKET", self.context_bucket.bucket_name)
            fn.add_environment("AIOS_BODY_INLINE_MAX_BYTES", str(BODY_INLINE_MAX_BYTES))
            fn.role.add_to_principal_policy(
                iam.PolicyStatement(actions=[action], resources=[objects])
            )
            acknowledge(
                fn.role,
                id=f"AwsSolutions-IAM5[Resource::<{Stack.of(self).get_logical_id(self.context_bucket.node.default_child)}.Arn>/{BODY_PREFIX}*]",  # type: ignore[arg-type]
                reason="action bodies are content-addressed (SHA-256 keys) under one prefix",
            )

    def _serverless(self, config: AiosConfig) -> str:
        name = f"{config.stack_name.lower()[:24]}-memory"
        resource = [f"collection/{name}"]
        encryption = aoss.CfnSecurityPolicy(
            self,
            "EncryptionPolicy",
            name=f"{name}-enc",
            type="encryption",
            policy=json.dumps(
                {
                    "Rules": [{"ResourceType": "collection", "Resource": resource}],
                    "AWSOwnedKey": True,
                }
            ),
        )
        # Public endpoint: every request is SigV4-signed and checked against the data policy.
        network = aoss.CfnSecurityPolicy(
            self,
            "NetworkPolicy",
            name=f"{name}-net",
            type="network",
            policy=json.dumps(
                [
                    {
                        "Rules": [{"ResourceType": "collection", "Resource": resource}],
                        "AllowFromPublic": True,
                    }
                ]
            ),
        )
        collection = aoss.CfnCollection(
            self,
            "Collection",
            name=name,
            type="VECTORSEARCH",
            standby_replicas="DISABLED",
            description="AIOS vector memory",
        )
        collection.node.add_dependency(encryption, network)
        index = [f"index/{name}/{INDEX}"]
        read = ["aoss:DescribeIndex", "aoss:ReadDocument"]
        write = [*read, "aoss:WriteDocument"]
        rules = [
            (self.recall, read),
            (self.indexer, write),
            (self.reconciler, [*write, "aoss:CreateIndex", "aoss:UpdateIndex"]),
        ]
        aoss.CfnAccessPolicy(
            self,
            "DataAccessPolicy",
            name=f"{name}-data",
            type="data",
            policy=Stack.of(self).to_json_string(
                [
                    {
                        "Rules": [
                            {"ResourceType": "index", "Resource": index, "Permission": perms}
                        ],
                        "Principal": [fn.role.role_arn],
                    }
                    for fn, perms in rules
                ]
            ),
        )
        for fn, _ in rules:
            fn.role.add_to_principal_policy(
                iam.PolicyStatement(actions=["aoss:APIAccessAll"], resources=[collection.attr_arn])
            )
        self.engine_resource: Construct = collection
        return collection.attr_collection_endpoint

    def _managed(self, config: AiosConfig, removal_policy: RemovalPolicy) -> str:
        domain = opensearch.Domain(
            self,
            "Domain",
            version=opensearch.EngineVersion.OPENSEARCH_2_19,
            capacity=opensearch.CapacityConfig(
                data_nodes=1,
                data_node_instance_type="t3.small.search",
                multi_az_with_standby_enabled=False,
            ),
            ebs=opensearch.EbsOptions(volume_size=10, volume_type=ec2.EbsDeviceVolumeType.GP3),
            encryption_at_rest=opensearch.EncryptionAtRestOptions(enabled=True),
            node_to_node_encryption=True,
            enforce_https=True,
            tls_security_policy=opensearch.TLSSecurityPolicy.TLS_1_2,
            fine_grained_access_control=opensearch.AdvancedSecurityOptions(
                master_user_arn=self.reconciler.role.role_arn
            ),
            removal_policy=removal_policy,
        )
        for fn, actions in (
            (self.recall, ["es:ESHttpGet", "es:ESHttpPost"]),
            (self.indexer, ["es:ESHttpGet", "es:ESHttpPost", "es:ESHttpPut", "es:ESHttpDelete"]),
            (
                self.reconciler,
                [
                    "es:ESHttpGet",
                    "es:ESHttpHead",
                    "es:ESHttpPost",
                    "es:ESHttpPut",
                    "es:ESHttpDelete",
                ],
            ),
        ):
            # Index paths are chosen at runtime within the domain: scoped to this domain.
            fn.role.add_to_principal_policy(
                iam.PolicyStatement(
                    actions=actions, resources=[domain.domain_arn, f"{domain.domain_arn}/*"]
                )
            )
            acknowledge(
                fn.role,
                id=f"AwsSolutions-IAM5[Resource::<{Stack.of(self).get_logical_id(domain.node.default_child)}.Arn>/*]",  # type: ignore[arg-type]
                reason="OpenSearch HTTP paths (index, _search, _bulk) under this one domain",
            )
        for finding, reason in (
            (
                "AwsSolutions-OS1",
                "no VPC in the kit: SigV4 + fine-grained access control guard the endpoint",
            ),
            ("AwsSolutions-OS3", "access is by IAM role (SigV4), not by source IP"),
            (
                "AwsSolutions-OS4",
                "one small data node keeps the at-rest cost low; no dedicated masters",
            ),
            (
                "AwsSolutions-OS5",
                "fine-grained access control denies anonymous access; IAM policy per role",
            ),
            (
                "AwsSolutions-OS7",
                "single node by choice (cost); the index is rebuildable from the records",
            ),
            (
                "AwsSolutions-OS9[LogExport::SEARCH_SLOW_LOGS]",
                "slow logs off to keep the floor low; enable when tuning",
            ),
            (
                "AwsSolutions-OS9[LogExport::INDEX_SLOW_LOGS]",
                "slow logs off to keep the floor low; enable when tuning",
            ),
        ):
            acknowledge(domain, id=finding, reason=reason)
        self.engine_resource = domain
        return f"https://{domain.domain_endpoint}"
