"""Your own capabilities: one module per capability, discovered by the kit.

A module defines `CAPABILITY = Capability(...)` (see `aios.capabilities.Capability`): a params
model, a risk, an executor, optionally a compensation and a state reader, the AWS permissions
it needs (`iam`), the keys of its own secret (`secrets`) and its options (`config_model`). The
stack gives each one that needs AWS access or a secret its own role. `aios validate` checks
them; `aios new capability NAME` writes a new one with its test.
"""
