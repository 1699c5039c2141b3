"""Fixtures of the unit tests: a throwaway workspace (see workspace_fixtures), and, shared with
the reliability tests, a signed ticket-triage decision (`decided`) and a loopback HTTP peer
(`peer`)."""

from tests.reliability.conftest import decided, peer
from tests.unit.workspace_fixtures import user_root

__all__ = ["decided", "peer", "user_root"]
