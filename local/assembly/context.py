"""What every resource creator shares while one template is provisioned."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from local.assembly.errors import AssemblyError
from local.assembly.intrinsics import Resolved, Resolver
from local.assembly.specs import Deployment


class ProvisionContext:
    """The resolver, the emulated AWS clients, the project and the deployment being recorded.

    `create(context, logical_id, resource)` is what the resolver calls the first time a value
    refers to a resource (see `local.assembly.intrinsics.Resolver`).
    """

    def __init__(
        self,
        template: Mapping[str, Any],
        stack_name: str,
        clients: Callable[[str], Any],
        project_root: Path,
        region: str,
        account: str,
        assets: Mapping[str, Path],
        create: Callable[[ProvisionContext, str, Mapping[str, Any]], Resolved],
    ) -> None:
        self.clients = clients  # service name -> boto3 client for the emulated endpoint
        self.project_root = project_root
        self.assets = assets  # asset object key -> file in the cloud assembly
        self.deployment = Deployment(stack_name=stack_name, region=region, account=account)
        self.resolver = Resolver(
            template,
            stack_name,
            region,
            account,
            lambda logical_id, resource: create(self, logical_id, resource),
        )

    @property
    def region(self) -> str:
        return self.deployment.region

    @property
    def account(self) -> str:
        return self.deployment.account

    def props(self, resource: Mapping[str, Any]) -> dict[str, Any]:
        """The resource's Properties with every intrinsic resolved (creating what they name)."""
        props = self.resolver.resolve(resource.get("Properties", {}))
        if not isinstance(props, dict):
            raise AssemblyError(f"Properties resolve to {type(props).__name__}, not a mapping")
        return props

    def physical_name(self, logical_id: str, suffix: str = "") -> str:
        """A resource's name when the template gives none: `<stack>-<logical id><suffix>`.

        CloudFormation appends a random suffix; locally the name is stable across runs.
        """
        return f"{self.deployment.stack_name}-{logical_id}{suffix}"


def truthy(value: Any) -> bool:
    """A CloudFormation boolean property: `True` or any casing of the string "true"."""
    return value is True or str(value).lower() == "true"
