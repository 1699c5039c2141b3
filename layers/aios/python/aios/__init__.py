"""AIOS Kit domain library: specs, ledger, signing, capabilities, policy and audit.

Shared by every Lambda function through the `aios` layer. Nothing in here knows about
Lambda event shapes; handlers in `functions/` translate events into calls on this library.
"""

__version__ = "0.1.0"
