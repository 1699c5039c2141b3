"""X-Ray tracing for the handlers, with the X-Ray SDK loaded when the first trace is recorded.

Powertools' `Tracer()` imports the X-Ray SDK while it is built and, on Lambda, patches every
library the SDK knows (requests, sqlite3, SQLAlchemy, pynamodb, ...): about a hundred
milliseconds of every cold start, spent even where tracing is off (the local emulation, tests).
`new_tracer()` is the same Powertools tracer with a provider that imports the SDK on first use
and patches only what the kit's functions call out through: botocore (every AWS call,
pynamodb's included) and httplib (outbound HTTP: capabilities, webhooks, model endpoints).
Patching is class-level, so clients created before it are traced too.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aws_lambda_powertools import Tracer

PATCHED = ("botocore", "httplib")


class LazyXRayRecorder:
    """The X-Ray SDK's recorder, imported (and the requested modules patched) on first use."""

    def __init__(self) -> None:
        self._recorder: Any = None
        self._modules: tuple[str, ...] = ()

    def patch(self, modules: Sequence[str]) -> None:
        """Patch `modules` when the recorder loads (at once if it has loaded already)."""
        self._modules = tuple(dict.fromkeys((*self._modules, *modules)))
        if self._recorder is not None:
            from aws_xray_sdk.core import patch  # type: ignore[import-untyped]

            patch(self._modules)

    def patch_all(self) -> None:
        self.patch(PATCHED)

    def _load(self) -> Any:
        if self._recorder is None:
            from aws_xray_sdk.core import patch, xray_recorder

            # Send each subsegment as it closes (what Powertools configures for the SDK).
            xray_recorder.configure(streaming_threshold=0)
            if self._modules:
                patch(self._modules)
            self._recorder = xray_recorder
        return self._recorder

    def __getattr__(self, name: str) -> Any:
        return getattr(self._load(), name)


def new_tracer() -> Tracer:
    """The function's Powertools tracer; the X-Ray SDK loads at the first traced call, and
    only botocore and httplib are patched (when tracing is on: on Lambda, not locally)."""
    return Tracer(provider=LazyXRayRecorder(), patch_modules=PATCHED)  # type: ignore[arg-type]
