"""Cases whose execution is missing or over while the ledger says the case is still running.

- `RECEIVED` past the grace period and no execution named after the case: the api function
  recorded the case but never started it (a crash between the two). Repair: start it, with the
  same name and input the api function would have used (Step Functions refuses a second
  execution of one name, so a repeat cannot run the case twice).
- An execution that FAILED, TIMED_OUT or was ABORTED while the ledger says RECEIVED, RUNNING,
  WAITING_APPROVAL, COMPENSATING or HANDED_OFF (a handoff waits in its execution, on a task
  token): the case machine could not record the end. Repair: the case becomes FAILED with the
  reason `Aios.ExecutionEnded`; applied actions are listed in the finding, not undone (the
  reconciler never writes to outside systems).
- An execution that SUCCEEDED while the ledger says RECEIVED, RUNNING or WAITING_APPROVAL:
  the case's SUCCEEDED is recorded on the execution's status change (an EventBridge rule on
  Step Functions' events invokes finalize), and that event never landed. Repair: the case
  becomes SUCCEEDED, as finalize would have made it. Any other status under a SUCCEEDED
  execution is reported only.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from typing import Any

from aios import aws
from aios.cases import HANDED_OFF, TRANSITIONS
from aios.cases import OPEN as SUBMITTED_OPEN
from aios.ledger import CaseRecord, get_case, load_case_items
from aios.memory.context import check_in_case_input
from aios.reconciler.findings import Finding, record

CHECKED = (*SUBMITTED_OPEN, "COMPENSATING", HANDED_OFF)
ENDED_BADLY = ("FAILED", "TIMED_OUT", "ABORTED")


@dataclass(frozen=True)
class Execution:
    status: str
    stop_date: str | None


def execution_arn(state_machine_arn: str, case_id: str) -> str:
    """The ARN of the execution named after the case."""
    return f"{state_machine_arn.replace(':stateMachine:', ':execution:', 1)}:{case_id}"


def describe(state_machine_arn: str, case_id: str) -> Execution | None:
    """The case's execution, or None when there is none."""
    sfn = aws.client("stepfunctions")
    try:
        found = sfn.describe_execution(executionArn=execution_arn(state_machine_arn, case_id))
    except sfn.exceptions.ExecutionDoesNotExist:
        return None
    stop = found.get("stopDate")
    return Execution(str(found["status"]), stop.isoformat() if stop is not None else None)


def _start(state_machine_arn: str, case: CaseRecord) -> None:
    """Start the case as the api function would (same name, same input, claim check too)."""
    data = case.data
    execution_input = {
        "case_id": case.case_id,
        "tenant": data.get("tenant"),
        "process": data.get("process"),
        "input": data.get("input"),
    }
    sfn = aws.client("stepfunctions")
    with contextlib.suppress(sfn.exceptions.ExecutionAlreadyExists):
        sfn.start_execution(
            stateMachineArn=state_machine_arn,
            name=case.case_id,
            input=json.dumps(check_in_case_input(execution_input, aws.client("s3"))),
        )


def check_execution(state_machine_arn: str, case_id: str) -> Finding | None:
    """The finding about this open case's execution, repaired and recorded; None if healthy."""
    case = get_case(case_id)  # consistent: the index may lag behind the case
    if case.status not in CHECKED:
        return None
    execution = describe(state_machine_arn, case_id)
    if execution is None:
        if case.status != "RECEIVED":
            return None
        _start(state_machine_arn, case)
        finding = Finding(
            kind="received_without_execution",
            case_id=case_id,
            subject="execution",
            repair="started",
        )
        return record(finding)
    if execution.status == "RUNNING":
        return None
    detail: dict[str, Any] = {
        "execution_status": execution.status,
        "stop_date": execution.stop_date,
        "case_status": case.status,
    }
    if execution.status == "SUCCEEDED" and case.status in TRANSITIONS["SUCCEEDED"]:
        return record(
            Finding(
                kind="execution_ended",
                case_id=case_id,
                subject="execution",
                detail=detail,
                repair="case succeeded",
            ),
            events=[("case.succeeded", {})],
            to_status="SUCCEEDED",
            from_statuses=TRANSITIONS["SUCCEEDED"],
        )
    if execution.status not in ENDED_BADLY:
        return record(
            Finding(kind="execution_ended", case_id=case_id, subject="execution", detail=detail)
        )
    applied = [
        (i.data or {}).get("action_id")
        for i in load_case_items(case_id)
        if i.kind == "action" and i.status == "APPLIED"
    ]
    reason = {
        "error": "Aios.ExecutionEnded",
        "cause": {"execution_status": execution.status, "stop_date": execution.stop_date},
    }

    def failed(current: CaseRecord) -> dict[str, Any]:
        return {**current.data, "error": reason}

    finding = Finding(
        kind="execution_ended",
        case_id=case_id,
        subject="execution",
        detail={**detail, "applied_actions": applied},
        repair="case failed",
    )
    return record(
        finding,
        events=[("case.failed", {"error": reason})],
        to_status="FAILED",
        from_statuses=CHECKED,
        data=failed,
    )
