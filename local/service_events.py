"""AWS services' own events on the default bus, delivered to the template's rules.

Step Functions sends an "Execution Status Change" event to the account's default event bus when
a standard workflow's execution ends; moto does not. The emulation hears each execution end
(`local.moto_patches`, patch 8), shapes the event as AWS does and invokes the Lambda targets of
every `ServiceEventRule` whose pattern matches, asynchronously (as EventBridge does), retrying
a failed invocation a few times (EventBridge retries for up to a day; the reconciler repairs
what never lands).
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from local.assembly.specs import ServiceEventRule
from local.event_filters import matches_any
from local.lambda_runtime import InvokeResult

logger = logging.getLogger(__name__)

STATUS_CHANGE = "Step Functions Execution Status Change"
ATTEMPTS = 3


class ServiceEvents:
    """Deliver service events to the rules' Lambda targets, each on its own thread."""

    def __init__(
        self,
        rules: Sequence[ServiceEventRule],
        invoke: Callable[[str, bytes | None], InvokeResult],
        *,
        region: str,
        account: str,
    ) -> None:
        self._rules = list(rules)
        self.invoke = invoke
        self._region, self._account = region, account

    def execution_ended(self, detail: dict[str, Any]) -> None:
        """A Step Functions execution ended: its status change event, to the matching rules."""
        self.publish("aws.states", STATUS_CHANGE, detail, resources=[detail["executionArn"]])

    def publish(
        self, source: str, detail_type: str, detail: dict[str, Any], resources: list[str]
    ) -> None:
        event = {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": detail_type,
            "source": source,
            "account": self._account,
            "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": self._region,
            "resources": resources,
            "detail": detail,
        }
        for rule in self._rules:
            if matches_any(rule.patterns, event):
                for arn in rule.function_arns:
                    threading.Thread(
                        target=self._deliver,
                        args=(arn, event),
                        name=f"event-{rule.logical_id}",
                        daemon=True,
                    ).start()

    def _deliver(self, function_arn: str, event: dict[str, Any]) -> None:
        payload = json.dumps(event).encode()
        for attempt in range(1, ATTEMPTS + 1):
            result = self.invoke(function_arn, payload)
            if not result.function_error:
                return
            logger.warning("%s failed on %s (attempt %d)", function_arn, event["id"], attempt)
            time.sleep(0.2 * attempt)  # EventBridge's backoff between retries, shortened
