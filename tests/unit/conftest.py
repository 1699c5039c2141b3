"""Fixtures of the unit tests: a throwaway workspace (see workspace_fixtures)."""

from tests.unit.workspace_fixtures import user_root

__all__ = ["user_root"]
