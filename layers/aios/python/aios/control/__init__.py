"""Runtime control: what operators change without a code deploy.

- `revocations`: the kill switch. Revoke or restore a capability, a process or a tenant (for
  all tenants or one); the decision plane hands a revoked case to a person, the execution
  plane refuses revoked actions already queued. Revocations have their own audit chain.
- `config`: the process specs, prompts and policies in force, read from the deployed runtime
  configuration (AWS AppConfig) with a short cache.
"""
