"""AWS clients, created once per cold start and lazily.

Endpoint and region come from the environment (`AWS_ENDPOINT_URL`, `AWS_REGION`), so the local
emulation and AWS differ only in configuration.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from botocore.config import Config

CONFIG = Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=3, read_timeout=10)


@cache
def client(service: str) -> Any:
    import boto3

    return boto3.session.Session().client(service, config=CONFIG)
