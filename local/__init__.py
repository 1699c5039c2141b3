"""The local emulation of AIOS Kit: the synthesized stack run on one laptop, offline.

moto (server mode, loopback only) emulates the AWS services and executes the ASL; this package
adds what moto cannot do without Docker: Lambda functions run in-process, SQS event sources are
polled, and the REST API is served as API Gateway proxy events. Everything is derived from the
synthesized cloud assembly (`cdk.out`), so a wiring mistake in `stacks/` shows up here too.
Dev tooling only: never deployed.
"""
