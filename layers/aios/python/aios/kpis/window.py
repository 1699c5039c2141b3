"""The time window of a KPI report: `since` and `until` as given by a person or a schedule."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from aios.errors import InvalidInput

DEFAULT_WINDOW = timedelta(hours=24)
MAX_WINDOW = timedelta(days=31)
_RELATIVE = re.compile(r"^(\d{1,4})([mhd])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days"}


def _moment(value: str, field: str, until: datetime | None = None) -> datetime:
    """An ISO 8601 time (UTC when it names no zone), or `<n>m|h|d` before `until`."""
    relative = _RELATIVE.match(value.strip())
    if relative and until is not None:
        return until - timedelta(**{_UNITS[relative.group(2)]: int(relative.group(1))})
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        hint = " or a duration like 24h, 7d" if until is not None else ""
        raise InvalidInput(f"{field}: not an ISO 8601 time{hint}: {value!r}", field=field) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def parse_window(
    since: str | None, until: str | None, now: datetime, default: timedelta = DEFAULT_WINDOW
) -> tuple[datetime, datetime]:
    """[since, until): until defaults to now, since to `default` before until.

    InvalidInput names the field when a value is malformed, since is not before until, or the
    window is longer than 31 days.
    """
    end = _moment(until, "until") if until else now
    start = _moment(since, "since", end) if since else end - default
    if start >= end:
        raise InvalidInput("since: must be before until", field="since")
    if end - start > MAX_WINDOW:
        raise InvalidInput("since: the window is at most 31 days", field="since")
    return start.astimezone(UTC), end.astimezone(UTC)
