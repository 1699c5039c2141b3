"""Text embedders: Bedrock Titan Text Embeddings V2 on AWS, a hashing embedder offline.

Every embedder names itself with `model` (`"<id>@<version>"`); the name is stored with each
canonical record and each indexed document, so the reconciler can tell which documents were
embedded by another model and must be re-embedded.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import re
from typing import Any, Protocol

TITAN_V2 = "amazon.titan-embed-text-v2:0"
_WORD = re.compile(r"[a-z0-9]+")


class Embedder(Protocol):
    """Turns texts into unit-length vectors of `dimensions` floats."""

    @property
    def model(self) -> str: ...

    @property
    def dimensions(self) -> int: ...

    def embed(self, texts: list[str]) -> list[list[float]]: ...


class HashingEmbedder:
    """Deterministic feature hashing of words and word bigrams, L2-normalised.

    Weaker than a neural model: it matches shared words, not meaning ("refund" and "money
    back" are unrelated to it). It needs no model file and no network, and the same text
    always gives the same vector, which makes tests and the local emulation reproducible.
    """

    def __init__(self, dimensions: int = 256, version: str = "1") -> None:
        self._dimensions = dimensions
        self._version = version

    @property
    def model(self) -> str:
        return f"hashing-{self._dimensions}@{self._version}"

    @property
    def dimensions(self) -> int:
        return self._dimensions

    def embed(self, texts: list[str]) -> list[list[float]]:
        return [self._one(text) for text in texts]

    def _one(self, text: str) -> list[float]:
        words = _WORD.findall(text.lower())
        features = words + [f"{a} {b}" for a, b in itertools.pairwise(words)]
        vector = [0.0] * self._dimensions
        for feature in features:
            digest = hashlib.blake2b(f"{self._version}:{feature}".encode(), digest_size=8).digest()
            slot = int.from_bytes(digest[:4], "big") % self._dimensions
            vector[slot] += 1.0 if digest[4] & 1 else -1.0
        return _normalised(vector)


class TitanEmbedder:
    """Amazon Titan Text Embeddings V2 through `bedrock-runtime:InvokeModel`."""

    def __init__(self, client: Any, dimensions: int = 512, model_id: str = TITAN_V2) -> None:
        if dimensions not in (256, 512, 1024):
            raise ValueError("Titan Text Embeddings V2 supports 256, 512 or 1024 dimensions")
        self._client = client
        self._dimensions = dimensions
        self._model_id = model_id

    @property
    def model(self) -> str:
        return f"{self._model_id}@{self._dimensions}"

    @property
    def dimensions(self) -> int:
        return self._dimensions

    def embed(self, texts: list[str]) -> list[list[float]]:
        # Titan V2 embeds one text per request; 8k tokens max, so the text is capped.
        vectors = []
        for text in texts:
            body = {"inputText": text[:30_000], "dimensions": self._dimensions, "normalize": True}
            response = self._client.invoke_model(
                modelId=self._model_id,
                body=json.dumps(body),
                contentType="application/json",
                accept="application/json",
            )
            vectors.append([float(x) for x in json.loads(response["body"].read())["embedding"]])
        return vectors


def get_embedder(name: str, dimensions: int) -> Embedder:
    """The embedder a function's environment names: `titan` or `hashing`."""
    if name == "titan":
        from aios import aws

        return TitanEmbedder(aws.client("bedrock-runtime"), dimensions)
    if name == "hashing":
        return HashingEmbedder(dimensions)
    raise ValueError(f"unknown embedder {name!r}: expected titan or hashing")


def _normalised(vector: list[float]) -> list[float]:
    norm = math.sqrt(sum(x * x for x in vector))
    return [x / norm for x in vector] if norm else vector
