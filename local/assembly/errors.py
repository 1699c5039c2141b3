"""The one exception the assembly package raises."""

from __future__ import annotations


class AssemblyError(RuntimeError):
    """The cloud assembly is missing, ambiguous or uses something the resolver cannot do."""
