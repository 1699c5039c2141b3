"""The process specs in force, from the deployed runtime configuration (AWS AppConfig).

Placeholder until the runtime configuration lands: no configuration is deployed, so the
bundled specs serve.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aios.specs import ProcessSpec


def deployed_specs() -> Mapping[str, ProcessSpec] | None:
    """The deployed specs by name, or None when this function reads no deployed configuration."""
    return None
