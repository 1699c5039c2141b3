"""Read a synthesized CDK cloud assembly (`cdk.out`): the stack template and its asset files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from local.assembly.errors import AssemblyError

FUNCTION_METADATA_KEY = "aios:function"
"""Resource metadata key naming an emulated function (its folder under `functions/`)."""
LAYER_METADATA_KEY = "aios:layer"
"""Resource metadata key of a layer the emulation takes from the assembly (the `user` layer)."""


def load_stack(cdk_out: Path, stack_name: str | None = None) -> tuple[str, dict[str, Any]]:
    """Return (stack name, template) of the CloudFormation stack in a cloud assembly.

    With no name given, the assembly must hold exactly one stack that has `aios:function`
    resources (the kit synthesizes one).
    """
    stacks = stack_templates(cdk_out)
    if stack_name is not None:
        if stack_name not in stacks:
            raise AssemblyError(f"stack {stack_name!r} not in assembly; found {sorted(stacks)}")
        return stack_name, stacks[stack_name]
    candidates = {name: tpl for name, tpl in stacks.items() if _has_functions(tpl)}
    if len(candidates) != 1:
        raise AssemblyError(
            f"expected one stack with {FUNCTION_METADATA_KEY!r} functions, "
            f"found {sorted(candidates)}"
        )
    return next(iter(candidates.items()))


def stack_templates(cdk_out: Path) -> dict[str, dict[str, Any]]:
    """Stack name -> template, for every CloudFormation stack artifact in the manifest."""
    manifest_path = cdk_out / "manifest.json"
    if not manifest_path.is_file():
        raise AssemblyError(f"no cloud assembly at {cdk_out} (manifest.json missing): synth first")
    manifest = json.loads(manifest_path.read_text())
    stacks: dict[str, dict[str, Any]] = {}
    for artifact_id, artifact in manifest.get("artifacts", {}).items():
        if artifact.get("type") != "aws:cloudformation:stack":
            continue
        properties = artifact.get("properties", {})
        template_file = properties.get("templateFile")
        if not template_file:
            continue
        name = properties.get("stackName") or artifact.get("displayName", artifact_id)
        stacks[name] = json.loads((cdk_out / template_file).read_text())
    return stacks


def _has_functions(template: dict[str, Any]) -> bool:
    return any(
        FUNCTION_METADATA_KEY in (res.get("Metadata") or {})
        for res in template.get("Resources", {}).values()
    )


def asset_files(cdk_out: Path) -> dict[str, Path]:
    """Asset object key (as the template names it in S3) -> the file or folder in `cdk_out`."""
    files: dict[str, Path] = {}
    for manifest in sorted(cdk_out.glob("*.assets.json")):
        for asset in json.loads(manifest.read_text()).get("files", {}).values():
            source = Path(asset.get("source", {}).get("path", ""))
            path = source if source.is_absolute() else cdk_out / source
            for destination in asset.get("destinations", {}).values():
                files[destination["objectKey"]] = path
    return files


def assembly_layer_dirs(template: dict[str, Any], assets: dict[str, Path]) -> list[Path]:
    """The `python/` folders of the layers marked `aios:layer`, as synthesized in `cdk.out`.

    Lambda extracts a layer into /opt and puts /opt/python on the path; the emulation puts
    these folders on its path the same way. A marked layer whose asset is missing fails loudly.
    """
    dirs: list[Path] = []
    for logical_id, resource in sorted(template.get("Resources", {}).items()):
        if resource.get("Type") != "AWS::Lambda::LayerVersion":
            continue
        if LAYER_METADATA_KEY not in (resource.get("Metadata") or {}):
            continue
        key = (resource.get("Properties", {}).get("Content") or {}).get("S3Key")
        folder = assets.get(key) if isinstance(key, str) else None
        if folder is None or not folder.is_dir():
            raise AssemblyError(f"{logical_id}: layer asset {key!r} not in the assembly")
        dirs.append(folder / "python")
    return dirs
