"""The process specs in force, from the deployed runtime configuration (AWS AppConfig).

Specs, prompts and policies are configuration: the stack deploys the workspace's processes as
one AppConfig hosted configuration (the *configuration document*), validated by a JSON Schema
validator (`document_schema`, generated from the same pydantic models the planes validate
with) and rolled out by a deployment strategy that rolls back when an alarm fires. An operator
changes a process at runtime by deploying a new version (`aios control deploy`); no code is
deployed, and the cases that start after the rollout reach a function use it.

The document:

    {"processes": {"<name>": {"spec": {...the process spec...},
                              "prompts": {"<name>.<task>.v<N>": "<template text>", ...}}}}

Functions read it through Powertools' `AppConfigProvider` (AppConfig's data API:
`StartConfigurationSession` once, then `GetLatestConfiguration`) with a short cache
(`AIOS_CONFIG_MAX_AGE_SECONDS`, 30 s by default). A document is validated once per content
(its SHA-256): if a deployed document does not validate here (the JSON Schema cannot express
every rule: known capabilities, prompts, the example against the input schema), the last good
one keeps serving, or the bundled specs when there is none yet, and the problem is logged. A
function without `AIOS_CONFIG_*` reads no configuration and serves the bundled specs.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from aios.errors import SpecError
from aios.settings import Settings, load_settings
from aios.specs import (
    PROMPTS_DIR,
    ProcessSpec,
    load_process,
    parse_spec,
    process_folders,
    read_data_file,
    spec_file,
)

logger = logging.getLogger(__name__)

PROMPT_NAME = r"^[a-z0-9][a-z0-9-]*\.[a-z][a-z0-9_]{0,31}\.v[0-9]+$"
MAX_DOCUMENT_BYTES = 1024 * 1024
"""AppConfig's limit for a hosted configuration version (1 MB by default)."""


class DeployedProcess(BaseModel):
    """One process of the configuration document: its spec and the prompts it brings."""

    model_config = ConfigDict(extra="forbid")

    spec: ProcessSpec
    prompts: dict[str, str] = Field(default_factory=dict)


class ConfigDocument(BaseModel):
    """The runtime configuration: every process in force, by name."""

    model_config = ConfigDict(extra="forbid")

    processes: dict[str, DeployedProcess] = Field(min_length=1)


DRAFT_04 = "http://json-schema.org/draft-04/schema#"


def document_schema(capabilities: list[str] | None = None) -> dict[str, Any]:
    """The JSON Schema AppConfig validates a document with before it deploys it.

    Generated from the models above, so the structure is the one the planes accept; when
    `capabilities` is given, a spec may name only those (the ones the deployed code has).
    Written in draft 4, the one AppConfig's JSON Schema validators understand.
    """
    schema = ConfigDocument.model_json_schema()
    spec = schema["$defs"]["ProcessSpec"]
    if capabilities is not None:
        spec["properties"]["capabilities"]["items"] = {"enum": sorted(capabilities)}
    process = schema["$defs"]["DeployedProcess"]
    process["properties"]["prompts"] = {
        "type": "object",
        "patternProperties": {PROMPT_NAME: {"type": "string"}},
        "additionalProperties": False,
    }
    draft4: dict[str, Any] = _draft4(schema)
    return {"$schema": DRAFT_04, **draft4}


def _draft4(node: Any) -> Any:
    """pydantic's JSON Schema (2020-12) in draft 4 terms: `definitions`, boolean exclusive
    bounds, `enum` for `const`."""
    if isinstance(node, list):
        return [_draft4(item) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "$defs":
            out["definitions"] = {name: _draft4(v) for name, v in value.items()}
        elif key == "$ref" and isinstance(value, str):
            out["$ref"] = value.replace("#/$defs/", "#/definitions/")
        elif key in ("exclusiveMinimum", "exclusiveMaximum") and not isinstance(value, bool):
            out["minimum" if key == "exclusiveMinimum" else "maximum"] = value
            out[key] = True
        elif key == "const":
            out["enum"] = [value]
        elif key in ("properties", "patternProperties"):
            out[key] = {name: _draft4(v) for name, v in value.items()}
        else:
            out[key] = _draft4(value)
    return out


def document_of(folders: Iterable[Path]) -> dict[str, Any]:
    """The configuration document of these process folders: each spec file as written, with
    every prompt of its prompts folder (not validated here; see `build_document`)."""
    processes: dict[str, Any] = {}
    for folder in folders:
        data = read_data_file(spec_file(folder))
        prompts_dir = folder / PROMPTS_DIR
        prompts = (
            {p.stem: p.read_text(encoding="utf-8") for p in sorted(prompts_dir.glob("*.txt"))}
            if prompts_dir.is_dir()
            else {}
        )
        name = data.get("name", folder.name) if isinstance(data, dict) else folder.name
        processes[str(name)] = {"spec": data, "prompts": prompts}
    return {"processes": processes}


def build_document(root: Path | None = None) -> dict[str, Any]:
    """The validated configuration document of the workspace's processes (`root`: a
    `processes/` folder; default the workspace's); SpecError naming the process and field of
    a bad one."""
    folders = process_folders(root)
    for folder in folders:
        load_process(folder)  # names the file and field of a bad spec
    document = document_of(folders)
    parse_document(json.dumps(document), source="workspace")  # and as the planes will read it
    return document


def parse_document(
    raw: bytes | str, source: str = "appconfig", folders: Mapping[str, Path] | None = None
) -> dict[str, ProcessSpec]:
    """The specs of a configuration document, each validated with its prompts; SpecError
    naming the process and field when one does not validate.

    `folders` are the bundled process folders by name: a deployed spec keeps its folder's
    code (offline rules) and prompts that the document does not bring.
    """
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise SpecError(f"{source}: not JSON: {exc}", file=source, field="<file>") from exc
    if not isinstance(data, dict) or not isinstance(data.get("processes"), dict):
        raise SpecError(f"{source}: processes: required", file=source, field="processes")
    specs: dict[str, ProcessSpec] = {}
    for name, entry in data["processes"].items():
        entry = entry if isinstance(entry, dict) else {}
        prompts = entry.get("prompts") or {}
        spec = parse_spec(
            entry.get("spec"),
            source=Path(f"{source}#processes.{name}.spec"),
            folder=(folders or {}).get(name),
            prompt_texts=prompts if isinstance(prompts, dict) else {},
        )
        if spec.name != name:
            raise SpecError(f"{source}: processes.{name}: the spec is named {spec.name!r}")
        specs[name] = spec
    if not specs:
        raise SpecError(f"{source}: processes: no process", file=source, field="processes")
    return specs


class DeployedConfig:
    """The deployed document of one function, read through Powertools with `max_age`, parsed
    once per content; the last good specs keep serving when a new document does not parse."""

    def __init__(self, settings: Settings, provider: Any | None = None) -> None:
        self.settings = settings
        self._provider = provider
        self._lock = threading.Lock()
        self._digest = ""
        self._specs: dict[str, ProcessSpec] | None = None
        self.refused: dict[str, str] = {}
        """content digest -> why it was refused (each logged once)."""

    def _get_provider(self) -> Any:
        if self._provider is None:
            from aws_lambda_powertools.utilities.parameters import AppConfigProvider

            from aios import aws

            self._provider = AppConfigProvider(
                environment=self.settings.config_environment,
                application=self.settings.config_application,
                boto3_client=aws.client("appconfigdata"),
            )
        return self._provider

    def specs(self) -> dict[str, ProcessSpec] | None:
        """The specs in force, or None when no good document was read yet.

        When AppConfig cannot be read (throttled, unreachable, not yet allowed while a stack
        deploys), the last good specs keep serving (the bundled ones before any): a planes'
        outage must not follow from a configuration service's.
        """
        from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

        try:
            raw = self._get_provider().get(
                self.settings.config_profile, max_age=self.settings.config_max_age_seconds
            )
        except GetParameterError as exc:
            logger.warning("deployed configuration unreadable; serving the last good one: %s", exc)
            return self._specs
        content = raw if isinstance(raw, bytes) else str(raw).encode("utf-8")
        digest = hashlib.sha256(content).hexdigest()
        with self._lock:
            if digest == self._digest or digest in self.refused:
                return self._specs
            source = f"appconfig:{self.settings.config_profile}"
            try:
                specs = parse_document(content, source, {f.name: f for f in process_folders()})
            except SpecError as exc:
                self.refused[digest] = exc.message
                logger.error(
                    "deployed configuration refused; the last good one keeps serving",
                    extra={"sha256": digest, "problem": exc.message},
                )
                return self._specs
            self._digest, self._specs = digest, specs
            logger.info("deployed configuration in force", extra={"sha256": digest})
            return specs


_deployed: DeployedConfig | None = None
_unconfigured = False


def deployed_specs() -> Mapping[str, ProcessSpec] | None:
    """The deployed specs by name; None when this function reads no deployed configuration
    (no `AIOS_CONFIG_*` in its environment) or none validated yet (the bundled specs serve)."""
    global _deployed, _unconfigured
    if _unconfigured:
        return None
    if _deployed is None:
        settings = load_settings()
        if not settings.config_profile:
            _unconfigured = True
            return None
        _deployed = DeployedConfig(settings)
    return _deployed.specs()


def reset() -> None:
    """Forget the configuration read so far (tests; a new environment)."""
    global _deployed, _unconfigured
    _deployed, _unconfigured = None, False
