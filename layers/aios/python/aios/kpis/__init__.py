"""Decision-quality KPIs, computed from the ledger over a time window.

`kpi_report(process, since, until)` reads the cases created in the window (the ledger's sparse
`ByProcess` index, then each case's items) and returns per process, and per model id and prompt
version, the figures defined in `aios.kpis.compute`. It serves `GET /kpis`, `aios kpi` and
the scheduled KPI job that feeds the dashboard.

Bounds: a window is at most 31 days and a report reads at most `MAX_CASES` cases per process
(the oldest first; `truncated` says when more existed).
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from aios.errors import InvalidInput, ProcessNotFound
from aios.kpis.compute import ALL, KpiRow, as_metrics, compute_kpis, percentile, ratio
from aios.kpis.facts import CaseFacts, case_facts
from aios.kpis.window import parse_window
from aios.ledger import cases_by_process, iso, load_case_items
from aios.specs import current_specs, get_spec

MAX_CASES = 2000


class KpiReport(BaseModel):
    since: str
    until: str
    process: str | None
    truncated: bool
    rows: list[KpiRow]


def collect_facts(process: str, since: datetime, until: datetime) -> tuple[list[CaseFacts], bool]:
    """The facts of the process's cases created in [since, until), at most MAX_CASES."""
    facts: list[CaseFacts] = []
    for ref in cases_by_process(process, since, until):
        if len(facts) == MAX_CASES:
            return facts, True
        facts.append(case_facts(process, load_case_items(ref.case_id)))
    return facts, False


def kpi_report(process: str | None, since: datetime, until: datetime) -> KpiReport:
    """The KPIs of one process (or of every process) over [since, until)."""
    if process is not None:
        try:
            get_spec(process)
        except ProcessNotFound as exc:
            raise InvalidInput(f"process: {exc.message}", field="process") from None
    names = [process] if process else sorted(current_specs())
    facts: list[CaseFacts] = []
    truncated = False
    for name in names:
        found, more = collect_facts(name, since, until)
        facts.extend(found)
        truncated = truncated or more
    rows = compute_kpis(facts)
    # A process with no case in the window still gets its (empty) row.
    present = {r.process for r in rows}
    rows += [KpiRow(process=n, model_id=ALL, prompt_version=ALL) for n in names if n not in present]
    rows.sort(key=lambda r: (r.process, r.model_id != ALL, r.model_id, r.prompt_version))
    return KpiReport(
        since=iso(since), until=iso(until), process=process, truncated=truncated, rows=rows
    )


__all__ = [
    "ALL",
    "MAX_CASES",
    "CaseFacts",
    "KpiReport",
    "KpiRow",
    "as_metrics",
    "case_facts",
    "collect_facts",
    "compute_kpis",
    "kpi_report",
    "parse_window",
    "percentile",
    "ratio",
]
