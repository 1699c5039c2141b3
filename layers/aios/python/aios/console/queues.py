"""The queue pages: what waits for people, filterable by process and sortable by age.

Who sees what: handed-off and failed cases and rejections need the `operator` role, waiting
approvals the `approver` role, each for the entry's process (admins see everything). A queue
filtered on a process the person has no role for is refused (Forbidden); unfiltered, the
entries of processes outside their roles are left out. A rejection that names no case has no
process: only people with the role for every process see it.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import quote, urlencode

from pydantic import BaseModel, ConfigDict

from aios.console.markup import esc
from aios.errors import InvalidInput
from aios.operator import KINDS, Operator, QueueEntry, QueueKind, Role, can, require

QUEUES: tuple[QueueKind, ...] = KINDS
QUEUE_TITLES: dict[QueueKind, str] = {
    "handoffs": "Handed-off cases",
    "approvals": "Waiting approvals",
    "failed": "Failed cases",
    "rejections": "Recent rejections",
}
ROLE_OF_QUEUE: dict[QueueKind, Role] = {
    "handoffs": "operator",
    "approvals": "approver",
    "failed": "operator",
    "rejections": "operator",
}


class QueueQuery(BaseModel):
    """A queue page's query: which queue, which process (or all), oldest or newest first."""

    model_config = ConfigDict(frozen=True)

    kind: QueueKind
    process: str | None = None
    oldest_first: bool = True

    @classmethod
    def from_query(cls, kind: str, query: Mapping[str, str]) -> QueueQuery:
        """Raises InvalidInput naming `kind`, `process` or `order`."""
        if kind not in KINDS:
            raise InvalidInput(f"kind: one of {', '.join(KINDS)}", field="kind")
        order = query.get("order", "oldest")
        if order not in ("oldest", "newest"):
            raise InvalidInput("order: oldest or newest", field="order")
        process = query.get("process") or None
        if process is not None and (len(process) > 64 or not process.replace("-", "").isalnum()):
            raise InvalidInput("process: not a process name", field="process")
        return cls.model_validate(
            {"kind": kind, "process": process, "oldest_first": order == "oldest"}
        )


def may_see(operator: Operator, kind: QueueKind) -> bool:
    """Whether the person has the queue's role for any process."""
    role = ROLE_OF_QUEUE[kind]
    return can(operator, role) or any(g.startswith(f"{role}:") for g in operator.groups)


def visible(operator: Operator, query: QueueQuery, entries: list[QueueEntry]) -> list[QueueEntry]:
    """The entries the person may see (Forbidden for a process outside their roles)."""
    role = ROLE_OF_QUEUE[query.kind]
    if query.process is not None:
        require(operator, role, query.process)
    elif not may_see(operator, query.kind):
        require(operator, role)
    return [e for e in entries if can(operator, role, e.process)]


def age_text(seconds: float) -> str:
    """Seconds as the largest two units (`3 h 12 min`, `45 s`)."""
    whole = int(seconds)
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [(days, "d"), (hours, "h"), (minutes, "min"), (secs, "s")]
    shown = [f"{n} {unit}" for n, unit in parts if n][:2]
    return " ".join(shown) or "0 s"


def home_body(base: str, counts: Mapping[QueueKind, int | None]) -> str:
    """The queues overview: one line per queue with its count (None: not the person's role)."""
    rows = "".join(
        f"<tr><td><a id='queue-{kind}' href='{esc(base)}/queues/{kind}'>{esc(QUEUE_TITLES[kind])}"
        f"</a></td><td>{esc(count)}</td></tr>"
        for kind, count in counts.items()
        if count is not None
    )
    return f"<table><tr><th>Queue</th><th>Entries</th></tr>{rows}</table>"


def _link(base: str, query: QueueQuery, **change: str | None) -> str:
    params = {"process": query.process, "order": "oldest" if query.oldest_first else "newest"}
    params.update(change)
    kept = {k: v for k, v in params.items() if v}
    return f"{base}/queues/{query.kind}?{urlencode(kept)}"


def _sla(entry: QueueEntry) -> str:
    if entry.sla_seconds is None:
        return "<td class=muted>-</td>"
    cls = " class=late" if entry.overdue else ""
    word = "overdue" if entry.overdue else "within"
    return f"<td{cls}>{word} {esc(age_text(entry.sla_seconds))}</td>"


def _row(base: str, entry: QueueEntry) -> str:
    case = (
        f"<a class=case href='{esc(base)}/cases/{esc(quote(entry.case_id))}'>{esc(entry.case_id)}</a>"
        if entry.case_id
        else f"<span class=muted>message {esc(entry.message_id)}</span>"
    )
    what = " ".join(esc(x) for x in (entry.reason, entry.detail or entry.message) if x)
    holder = esc(entry.holder) if entry.holder else "<span class=muted>nobody</span>"
    return (
        f"<tr data-case='{esc(entry.case_id or '')}'><td>{case}</td><td>{esc(entry.process)}</td>"
        f"<td>{esc(entry.status)}</td><td>{what}</td><td>{esc(age_text(entry.age_seconds))}</td>"
        f"{_sla(entry)}<td>{holder}</td></tr>"
    )


def queue_body(base: str, query: QueueQuery, entries: list[QueueEntry]) -> str:
    """One queue: filter by process, sort by age, and the entries."""
    processes = sorted({e.process for e in entries if e.process} | {query.process or ""} - {""})
    filters = [f"<a href='{esc(_link(base, query, process=None))}'>all processes</a>"]
    filters += [f"<a href='{esc(_link(base, query, process=p))}'>{esc(p)}</a>" for p in processes]
    flip = "newest" if query.oldest_first else "oldest"
    sort = f"<a id=sort href='{esc(_link(base, query, order=flip))}'>{flip} first</a>"
    showing = f"{esc(query.process or 'all processes')}, {'oldest' if query.oldest_first else 'newest'} first"
    rows = "".join(_row(base, e) for e in entries) or (
        "<tr><td colspan=7 class=muted>nothing waits here</td></tr>"
    )
    return (
        f"<nav class=filters>Process: {' '.join(filters)} · Sort: {sort}</nav>"
        f"<p class=muted>Showing {showing}: {len(entries)} entries.</p>"
        "<table id=queue><tr><th>Case</th><th>Process</th><th>Status</th><th>Why</th>"
        f"<th>Age</th><th>SLA</th><th>Held by</th></tr>{rows}</table>"
    )
