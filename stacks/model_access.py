"""Who may invoke which Bedrock model: foundation models and cross-Region inference profiles.

A model id of the configuration is either a foundation model (`amazon.nova-micro-v1:0`,
invoked in the stack's Region) or a system-defined cross-Region inference profile (`us.`,
`eu.`, `apac.`, ... + the model id). Invoking through a profile needs `bedrock:InvokeModel` on
the profile's ARN (in the stack's Region and account) *and* on the foundation model's ARN in
every Region the profile may route the request to. The second grant is narrowed by the
condition `bedrock:InferenceProfileArn`: the foundation models may be reached only through the
configured profiles, never invoked directly in another Region. The Regions each geography routes
to are the context key `inference_profile_regions` (defaults: stacks/config.py).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from aws_cdk import Stack
from aws_cdk import aws_iam as iam

_PROFILE = re.compile(r"^(?P<geo>[a-z]+(?:-gov)?)\.(?P<model>[a-z0-9-]+\.[A-Za-z0-9._:-]+)$")


def split_profile(model_id: str) -> tuple[str, str] | None:
    """(geography, foundation model id) of a cross-Region inference profile id, else None."""
    match = _PROFILE.match(model_id)
    return (match["geo"], match["model"]) if match else None


def invoke_statements(
    stack: Stack, model_ids: Iterable[str], profile_regions: Mapping[str, list[str]]
) -> list[iam.PolicyStatement]:
    """`bedrock:InvokeModel` on exactly the configured models and profiles (see module doc)."""
    direct: list[str] = []
    profiles: list[str] = []
    routed: set[str] = set()
    for model_id in sorted(set(model_ids)):
        profile = split_profile(model_id)
        if profile is None:
            direct.append(_foundation_model(stack, model_id, stack.region))
            continue
        geo, foundation = profile
        regions = profile_regions.get(geo)
        if not regions:
            raise ValueError(
                f"no Regions known for the inference profile {model_id!r}: add {geo!r} to"
                " the context key inference_profile_regions"
            )
        profiles.append(
            stack.format_arn(
                service="bedrock", resource="inference-profile", resource_name=model_id
            )
        )
        routed.update(_foundation_model(stack, foundation, region) for region in regions)
    statements = []
    if direct or profiles:
        statements.append(
            iam.PolicyStatement(actions=["bedrock:InvokeModel"], resources=direct + profiles)
        )
    if routed:
        statements.append(
            iam.PolicyStatement(
                actions=["bedrock:InvokeModel"],
                resources=sorted(routed),
                conditions={"StringEquals": {"bedrock:InferenceProfileArn": profiles}},
            )
        )
    return statements


def _foundation_model(stack: Stack, model_id: str, region: str) -> str:
    return stack.format_arn(
        service="bedrock",
        region=region,
        account="",
        resource="foundation-model",
        resource_name=model_id,
    )
