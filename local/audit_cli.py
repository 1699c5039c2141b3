"""`aios audit verify CASE_ID`: check a case's audit chain straight from the ledger table.

Works against AWS or the emulation alike: the table comes from `--table` (or
$AIOS_LEDGER_TABLE), the endpoint from `--endpoint-url` (or $AWS_ENDPOINT_URL; unset = AWS).
The verifier is the domain library's own (`aios.audit.verify_chain`), the same code that serves
`GET /cases/{id}/audit`. Exit status: 0 valid, 1 broken (the first bad sequence number is
printed), 2 no such case.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

LAYER = Path(__file__).resolve().parents[1] / "layers" / "aios" / "python"


def verify(case_id: str, table: str, endpoint_url: str | None) -> int:
    if str(LAYER) not in sys.path:
        sys.path.insert(0, str(LAYER))
    if endpoint_url:
        os.environ["AWS_ENDPOINT_URL"] = endpoint_url
    from aios.audit import verify_chain
    from aios.errors import CaseNotFound
    from aios.ledger import bind_ledger, get_case, load_audit

    bind_ledger(table)
    try:
        case = get_case(case_id)
    except CaseNotFound:
        print(f"no case {case_id} in table {table}", file=sys.stderr)
        return 2
    events = load_audit(case_id)
    verdict = verify_chain(events, case.seq, case.head)
    for event in events:
        print(f"#{event.seq:<4} {event.at}  {event.type:<22} {event.hash[:16]}")
    if verdict.valid:
        print(f"chain VALID: {verdict.length} events, head {verdict.head}")
        return 0
    where = f" at seq {verdict.seq}" if verdict.seq is not None else ""
    print(f"chain BROKEN{where}: {verdict.problem}")
    return 1


def add_parser(commands: Any) -> None:
    audit = commands.add_parser("audit", help="the tamper-evident audit chain")
    audit_commands = audit.add_subparsers(dest="audit_command", required=True)
    check = audit_commands.add_parser("verify", help="verify one case's audit chain")
    check.add_argument("case_id")
    check.add_argument(
        "--table",
        default=os.environ.get("AIOS_LEDGER_TABLE"),
        required=not os.environ.get("AIOS_LEDGER_TABLE"),
        help="ledger table name (default $AIOS_LEDGER_TABLE)",
    )
    check.add_argument(
        "--endpoint-url",
        default=os.environ.get("AWS_ENDPOINT_URL"),
        help="AWS endpoint, e.g. the emulation's (default $AWS_ENDPOINT_URL)",
    )
