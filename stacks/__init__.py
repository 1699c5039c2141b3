"""CDK constructs and the stack of the AIOS Kit (no business logic here)."""
