"""Fixtures shared with the reliability tests: a signed ticket-triage decision (`decided`) and a
loopback HTTP peer (`peer`)."""

from tests.reliability.conftest import decided, peer

__all__ = ["decided", "peer"]
