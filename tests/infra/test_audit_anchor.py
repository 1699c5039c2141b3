"""The audit anchor on the synthesized template: the Object Lock bucket (COMPLIANCE, retention
from context), the checkpoint signing key, and a checkpointer that may read the moved heads,
put locked checkpoints and sign with its key, and nothing else; in the split layout the
execution plane anchors its own table (where its rejections land)."""

from __future__ import annotations

import json
from typing import Any

from infra_iam import actions, grants, refers_to, resources_for, role_statements
from infra_synth import Synth

OWN_LOGS_AND_TRACES = {
    "logs:CreateLogStream",
    "logs:PutLogEvents",
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
}


def role_of(synth: Synth, name: str) -> str:
    return str(synth.function(name)[1]["Properties"]["Role"]["Fn::GetAtt"][0])


def locked_bucket(synth: Synth) -> tuple[str, dict[str, Any]]:
    [(bucket_id, bucket)] = [
        (k, v["Properties"])
        for k, v in synth.of_type("AWS::S3::Bucket").items()
        if v["Properties"].get("ObjectLockEnabled")
    ]
    return bucket_id, bucket


def checkpoint_key(synth: Synth) -> str:
    [key_id] = [
        k
        for k, v in synth.of_type("AWS::KMS::Key").items()
        if "audit checkpoint" in v["Properties"].get("Description", "")
    ]
    return key_id


def test_checkpoints_are_locked_in_compliance_mode_for_the_retention_from_context(
    synth: Synth, synth_variant: Synth
) -> None:
    for s, days in ((synth, 365), (synth_variant, 30)):
        bucket_id, bucket = locked_bucket(s)
        assert bucket["ObjectLockConfiguration"] == {
            "ObjectLockEnabled": "Enabled",
            "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Days": days}},
        }
        assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}
        [rule] = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
        assert bucket["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        }
        assert "DestinationBucketName" in bucket["LoggingConfiguration"]
        assert s.resources[bucket_id]["DeletionPolicy"] == "Retain"  # also under destroy
        [policy] = [
            p["Properties"]["PolicyDocument"]["Statement"]
            for p in s.of_type("AWS::S3::BucketPolicy").values()
            if refers_to(p["Properties"]["Bucket"], bucket_id)
        ]
        assert any(
            st["Effect"] == "Deny" and st["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
            for st in policy
        )


def test_the_checkpoint_key_is_an_ecdsa_p256_signing_key(synth: Synth) -> None:
    key = synth.resources[checkpoint_key(synth)]["Properties"]
    assert (key["KeySpec"], key["KeyUsage"]) == ("ECC_NIST_P256", "SIGN_VERIFY")


def test_the_checkpointer_reads_moved_heads_puts_locked_checkpoints_and_signs_nothing_else(
    synth: Synth,
) -> None:
    role = role_of(synth, "audit_checkpoint")
    bucket_id, _ = locked_bucket(synth)
    key_id = checkpoint_key(synth)
    assert actions(synth.resources, role) == OWN_LOGS_AND_TRACES | {
        "dynamodb:BatchGetItem",
        "dynamodb:Query",
        "s3:PutObject",
        "s3:PutObjectRetention",
        "s3:GetObject",
        "s3:ListBucket",
        "kms:Sign",
        "kms:GetPublicKey",
    }
    for action in ("kms:Sign", "kms:GetPublicKey"):
        [key] = resources_for(synth.resources, role, action)
        assert key == {"Fn::GetAtt": [key_id, "Arn"]}
    [query] = resources_for(synth.resources, role, "dynamodb:Query")
    assert json.dumps(query).endswith('"/index/AuditPeriods"]]}')
    for action in ("s3:PutObject", "s3:PutObjectRetention", "s3:GetObject"):
        [objects] = resources_for(synth.resources, role, action)
        assert refers_to(objects, bucket_id) and json.dumps(objects).endswith('/checkpoints/*"]]}')
    [listing] = [
        st for st in role_statements(synth.resources, role) if st["Action"] == "s3:ListBucket"
    ]
    assert listing["Condition"] == {"StringLike": {"s3:prefix": ["checkpoints/"]}}
    [(_, fn)] = [synth.function("audit_checkpoint")]
    assert fn["Properties"]["ReservedConcurrentExecutions"] == 1


def test_no_other_role_may_sign_checkpoints_or_write_the_bucket(synth: Synth) -> None:
    role = role_of(synth, "audit_checkpoint")
    bucket_id, _ = locked_bucket(synth)
    key_id = checkpoint_key(synth)
    for other in synth.of_type("AWS::IAM::Role"):
        if other == role:
            continue
        for grant in grants(synth.resources, other):
            if grant.action.startswith("kms:"):
                assert not refers_to(grant.resource, key_id), (other, grant)
            if grant.action.startswith("s3:Put") or grant.action.startswith("s3:Delete"):
                assert not refers_to(grant.resource, bucket_id), (other, grant)


def test_the_checkpointer_runs_on_its_context_rate_and_its_errors_alarm(
    synth: Synth, synth_variant: Synth
) -> None:
    def rate(s: Synth) -> str:
        function_id, _ = s.function("audit_checkpoint")
        [rule] = [
            r["Properties"]
            for r in s.of_type("AWS::Events::Rule").values()
            if any(refers_to(t["Arn"], function_id) for t in r["Properties"].get("Targets", []))
        ]
        return str(rule["ScheduleExpression"])

    assert (rate(synth), rate(synth_variant)) == ("rate(1 hour)", "rate(15 minutes)")
    function_id, _ = synth.function("audit_checkpoint")
    assert any(
        a["Properties"].get("MetricName") == "Errors"
        and any(refers_to(d["Value"], function_id) for d in a["Properties"]["Dimensions"])
        for a in synth.of_type("AWS::CloudWatch::Alarm").values()
    )


def test_the_execution_plane_anchors_its_own_table_where_its_rejections_land(
    synth_split: Synth,
) -> None:
    execution = synth_split.execution
    assert execution is not None
    _, fn = execution.function("audit_checkpoint")
    [table] = [
        k
        for k, v in execution.of_type("AWS::DynamoDB::Table").items()
        if "State" in k and v["Properties"]["KeySchema"][0]["AttributeName"] == "pk"
    ]
    assert refers_to(fn["Properties"]["Environment"]["Variables"]["AIOS_LEDGER_TABLE"], table)
    bucket_id, _ = locked_bucket(execution)
    assert refers_to(fn["Properties"]["Environment"]["Variables"]["AIOS_AUDIT_BUCKET"], bucket_id)
    assert "AuditCheckpointErrors" in {a.node.id for a in execution.stack.alarms}  # type: ignore[attr-defined]
    # and the decision stack anchors its case chains with its own
    synth_split.function("audit_checkpoint")
