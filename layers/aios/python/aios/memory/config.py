"""Memory's runtime settings (environment variables) and the store they select."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from aios.memory.embedders import Embedder, get_embedder
from aios.memory.store import EmbeddedVectorStore, VectorStore


class MemorySettings(BaseModel):
    """`engine`: `none` (memory off), `serverless` / `managed` (OpenSearch, SigV4 service
    `aoss` / `es`) or `embedded` (a SQLite file: the local emulation's override)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    engine: Literal["none", "embedded", "serverless", "managed"] = Field(
        default="none", alias="AIOS_MEMORY_ENGINE"
    )
    table: str = Field(default="", alias="AIOS_MEMORY_TABLE")
    endpoint: str = Field(default="", alias="AIOS_MEMORY_ENDPOINT")
    index: str = Field(default="aios-memory", alias="AIOS_MEMORY_INDEX")
    store_path: str = Field(default="", alias="AIOS_MEMORY_STORE_PATH")
    embedder: Literal["titan", "hashing"] = Field(default="hashing", alias="AIOS_MEMORY_EMBEDDER")
    dimensions: int = Field(default=256, ge=8, le=4096, alias="AIOS_MEMORY_DIMENSIONS")
    top_k: int = Field(default=5, ge=1, le=50, alias="AIOS_MEMORY_TOP_K")
    half_life_days: float = Field(default=30.0, gt=0, alias="AIOS_MEMORY_HALF_LIFE_DAYS")
    ttl_days: int = Field(default=180, ge=0, le=3650, alias="AIOS_MEMORY_TTL_DAYS")
    region: str = Field(default="us-east-1", alias="AWS_REGION")

    @property
    def enabled(self) -> bool:
        return self.engine != "none"


def load_memory_settings(environ: Mapping[str, str] | None = None) -> MemorySettings:
    env = dict(os.environ if environ is None else environ)
    try:
        return MemorySettings.model_validate(env)
    except ValidationError as exc:
        raise RuntimeError(f"invalid memory environment variables: {exc}") from exc


def open_store(settings: MemorySettings) -> VectorStore | None:
    """The vector store the settings name; None when memory is off. An OpenSearch store's
    client is made at its first request (opensearch-py stays off the cold start)."""
    if settings.engine == "none":
        return None
    if settings.engine == "embedded":
        if not settings.store_path:
            raise RuntimeError("AIOS_MEMORY_STORE_PATH is required with the embedded engine")
        return EmbeddedVectorStore(settings.store_path)
    from aios.memory.opensearch import OpenSearchVectorStore, lazy_aws_client

    if not settings.endpoint:
        raise RuntimeError("AIOS_MEMORY_ENDPOINT is required with an OpenSearch engine")
    service = "aoss" if settings.engine == "serverless" else "es"
    return OpenSearchVectorStore(
        lazy_aws_client(settings.endpoint, settings.region, service),
        settings.index,
        serverless=settings.engine == "serverless",
    )


def open_embedder(settings: MemorySettings) -> Embedder:
    return get_embedder(settings.embedder, settings.dimensions)
