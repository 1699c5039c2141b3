"""Chaos: many cases through the emulation while a nemesis injects faults at random, then the
invariants, checked from what actually happened (the API's read model, the audit chains, the
outside receiver, the answers the approvers' clicks got).

The cases: ticket triages (most), refunds whose single approver's link is clicked by racing
clicks (approve and reject at once, twice), and chat refunds (approval times out after 4 s,
escalates, then rejects) whose approver clicks approve around the moment the approval times
out.

The nemesis (seeded, so a run reproduces with its seed):

- `crash_before`: a decide/execute/finalize invocation fails before its handler runs;
- `crash_after`: the handler runs (its side effects happen), then the invocation fails, so the
  caller (Step Functions' Retry, the SQS redrive) delivers it again;
- `killed_mid_batch`: an SQS batch of several messages (execute, webhooks) is handled up to a
  random message, then the handler dies: the messages before it took effect, none is deleted,
  the whole batch comes back;
- `duplicate`: an execute delivery (SQS batch) is invoked twice;
- `delay`: an invocation waits 0-300 ms before it runs (late delivery);
- `dynamodb_throttle` / `dynamodb_5xx` / `kms_throttle` / `kms_5xx`: a KMS or DynamoDB
  request a function makes is answered, before it reaches moto (nothing applied), as the
  service answers under load: `ProvisionedThroughputExceededException` or
  `ThrottlingException` (400), `InternalServerError` / `KMSInternalException` (500)
  (`local.faults`, in front of moto's server, so whatever process a function runs in; the
  SDK's retries absorb most, the rest reach the handler's error paths);
- `model_throttled` / `model_5xx`: a model call of the decide function fails as a provider
  fails on HTTP 429 / 503 (`ModelThrottled`; the tier's fallback chain, then the state
  machine's `ModelUnavailable` retry, must absorb it);
- `receiver_5xx`: the outside system answers 503 to the next request of a case (it does not
  store it);
- `receiver_timeout`: the outside system stores and applies the next request of a case but
  answers only after the caller's timeout (the action is retried with its idempotency key);
- `approval_race` / `approval_vs_timeout`: the clicks described above.

Invariants after the run settles:

- no case lost: every case is terminal (`SUCCEEDED`, `FAILED`, `HANDED_OFF`) or visibly waiting
  (`WAITING_APPROVAL`) before the deadline;
- no duplicate side effect: every request the outside system stored for one idempotency key has
  the same body, and one business key (ticket, order) got its side effects under one key;
- every audit chain verifies;
- every failed case says why (its actions carry a status and the case a reason or error);
- an approval is decided once: of the racing clicks on one link at most one is accepted, and
  the refund was made (the outside system stored it, the action is `APPLIED`) if and only if
  an approve click was accepted (or, none accepted, an approve click was answered 5xx);
  otherwise the action is `SKIPPED` with its reason;
- no budget overspent (`chaos_budgets`): every budget the run spent from is within its
  process's daily limit (plus what settling the calls in flight may add) and not negative,
  and it counted at least the model spend its cases recorded. `--budget-headroom USD` leaves
  only that much of today's ticket-triage budget for the run, so it runs out under the faults.

    .venv/bin/python bench/chaos.py [--cases 100] [--seed N] [--clients 8] [--fault-rate 0.1]
        [--aws-fault-rate 0.03] [--budget-headroom USD] [--max-in-flight 24] [--submit-for S]

Exit status 1 on any violation, with the seed to reproduce it. `tests/local/test_chaos.py` runs
a short run on the suite's emulation (`run_chaos`).
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import http.client
import json
import random
import re
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlencode, urlsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import chaos_budgets  # noqa: E402 (bench/ is on the path when this runs as a script or test)

TERMINAL = ("SUCCEEDED", "FAILED", "HANDED_OFF", "WAITING_APPROVAL")
FAULTY_FUNCTIONS = ("decide", "execute", "finalize", "webhooks")
BATCH_FUNCTIONS = ("execute", "webhooks")
DECIDE_MODULE = "aios_local_function_decide"
LINK = re.compile(r'href="([^"]+/approvals/[^"?]+\?t=[^"]+)"')
# Failed batches come back after this many seconds, not the action queue's 180 s.
CHAOS_VISIBILITY_TIMEOUT = 2
# Of the functions' KMS/DynamoDB requests (tens per case). Each fault costs the handler the
# SDK's backoff (up to seconds); functions run one at a time here, so this sets the run's pace.
AWS_FAULT_RATE = 0.03
PROGRESS_EVERY_S = 60.0
MAX_IN_FLIGHT = 24  # unsettled cases at most (3 per client): a slow machine settles them all
SUBMIT_ATTEMPTS = 5  # a client's retries of a 5xx answer to a submission (same key)
GATEWAY_TIMEOUT = 504  # what _request reports when the API did not answer within its timeout
STALL_SECONDS = 6.0  # longer than http.post's 5 s timeout (AIOS_HTTP_TIMEOUT_SECONDS)


T = TypeVar("T")


class Nemesis:
    """Seeded random faults: `rate` of the flow's invocations, model calls and outside
    requests; `aws_rate` of the functions' KMS/DynamoDB requests (many per case)."""

    def __init__(self, seed: int, rate: float, aws_rate: float | None = None) -> None:
        self.random = random.Random(seed)
        self.rate = rate
        self.aws_rate = rate if aws_rate is None else aws_rate
        self.lock = threading.Lock()
        self.injected: collections.Counter[str] = collections.Counter()
        self.enabled = False

    def pick(self, kinds: tuple[T, ...], rate: float | None = None) -> T | None:
        with self.lock:
            chance = self.rate if rate is None else rate
            if not self.enabled or self.random.random() >= chance:
                return None
            return self.random.choice(kinds)

    def count(self, kind: str) -> None:
        with self.lock:
            self.injected[kind] += 1

    def uniform(self, low: float, high: float) -> float:
        with self.lock:
            return self.random.uniform(low, high)


NEMESIS = Nemesis(0, 0.0)


def _aws_fault(service: str) -> Any:
    """The nemesis's pick of a KMS/DynamoDB fault for one of a function's requests."""
    from local.faults import FAULTS

    fault = NEMESIS.pick(FAULTS[service], NEMESIS.aws_rate)
    if fault is not None:
        NEMESIS.count(fault.name)
    return fault


class FaultyProvider:
    """The decide function's model provider, failing some calls as a provider under load does."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def complete(self, request: Any) -> Any:
        from aios.errors import ModelThrottled

        kind = NEMESIS.pick(("model_throttled", "model_5xx"))
        if kind is not None:
            NEMESIS.count(kind)
            status = 429 if kind == "model_throttled" else 503
            raise ModelThrottled(f"chaos {request.model_id}: HTTP {status}")
        return self.inner.complete(request)


def faulty(invoke: Any, runtime: Any) -> Any:
    """The runtime's invoke with the nemesis in front of the flow's functions."""
    from local.lambda_runtime import _error_result

    def faulty_invoke(function_name: str, payload: Any = None) -> Any:
        name = runtime.resolve_name(function_name)
        if name not in FAULTY_FUNCTIONS:
            return invoke(function_name, payload)
        kinds: tuple[str, ...] = ("crash_before", "crash_after", "delay")
        if name == "execute":
            kinds += ("duplicate",)
        if name in BATCH_FUNCTIONS:
            kinds += ("killed_mid_batch",)
        kind = NEMESIS.pick(kinds)
        records = _records(payload) if kind == "killed_mid_batch" else []
        if kind == "killed_mid_batch" and len(records) < 2:
            kind = None  # a batch of one: nothing to kill in the middle of
        if kind is not None:
            NEMESIS.count(kind)
        if kind == "crash_before":
            return _error_result("ChaosCrash", "crashed before the handler ran", "chaos")
        if kind == "delay":
            time.sleep(NEMESIS.uniform(0, 0.3))
        if kind == "killed_mid_batch":
            done = int(NEMESIS.uniform(1, len(records)))
            invoke(function_name, json.dumps({"Records": records[:done]}).encode())
            return _error_result("Runtime.ExitError", "killed in the middle of a batch", "x")
        result = invoke(function_name, payload)
        if kind == "duplicate":
            result = invoke(function_name, payload)
        if kind == "crash_after":
            return _error_result("ChaosCrash", "crashed after the handler ran", "chaos")
        return result

    return faulty_invoke


def _records(payload: Any) -> list[Any]:
    try:
        event = json.loads(payload or b"{}")
    except ValueError:
        return []
    records = event.get("Records") if isinstance(event, dict) else None
    return records if isinstance(records, list) else []


def install(emu: Any) -> Callable[[], None]:
    """Put the nemesis in front of the emulation's functions; returns what takes it out."""
    from local import faults

    original = emu.runtime.invoke
    emu.route_invocations(faulty(original, emu.runtime))
    visibility = {poller: poller.visibility_timeout for poller in emu.pollers}
    for poller in emu.pollers:
        poller.visibility_timeout = CHAOS_VISIBILITY_TIMEOUT
    decide = sys.modules.get(DECIDE_MODULE)
    models = getattr(decide, "models", None)
    if models is not None:
        decide.models = dataclasses.replace(models, provider=FaultyProvider(models.provider))  # type: ignore[union-attr]
    remove_aws_faults = faults.install(emu._moto._server, _aws_fault)

    def uninstall() -> None:
        remove_aws_faults()
        if models is not None:
            decide.models = models  # type: ignore[union-attr]
        for poller, timeout in visibility.items():
            poller.visibility_timeout = timeout
        emu.route_invocations(original)

    return uninstall


def _request(
    api: str,
    method: str,
    path: str,
    body: Any = None,
    form: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, Any]:
    split = urlsplit(api)
    conn = http.client.HTTPConnection(split.hostname or "127.0.0.1", split.port or 80, timeout=60)
    try:
        if form is not None:
            data = urlencode(form).encode()
            sent = {"Content-Type": "application/x-www-form-urlencoded"}
        else:
            data = json.dumps(body).encode() if body is not None else None
            sent = {"Content-Type": "application/json"}
        try:
            conn.request(method, path, body=data, headers={**sent, **(headers or {})})
            response = conn.getresponse()
            raw = response.read()
        except TimeoutError:
            # No answer in time (a starved machine): the request may or may not have landed,
            # as after a gateway timeout; callers treat it as a 5xx (retry, or "unanswered").
            return GATEWAY_TIMEOUT, "no answer in time"
        try:
            return response.status, json.loads(raw or b"null")
        except ValueError:
            return response.status, raw.decode(errors="replace")
    finally:
        conn.close()


@dataclass
class Clicks:
    """The clicks on one approval link and the answers they got."""

    kind: str  # approval_race | approval_vs_timeout
    answers: list[tuple[str, int]] = field(default_factory=list)  # (decision, status)

    def accepted(self) -> list[str]:
        return [decision for decision, status in self.answers if status == 200]

    def unanswered(self) -> list[str]:
        """Clicks answered 5xx (an injected fault): their decision may or may not have landed."""
        return [decision for decision, status in self.answers if status >= 500]


@dataclass
class Report:
    seed: int
    cases: dict[str, str]  # case id -> business key
    final: dict[str, Any]
    injected: dict[str, int]
    violations: list[str]
    outside_requests: int
    wall_s: float
    requested: int = 0

    def lines(self) -> list[str]:
        statuses = collections.Counter(c["status"] if c else "LOST" for c in self.final.values())
        out = [
            f"chaos seed {self.seed}: {len(self.cases)} cases"
            f"{'' if len(self.cases) == self.requested else f' of {self.requested} asked'},"
            f" {self.wall_s:.0f} s wall",
            f"faults injected  {dict(sorted(self.injected.items()))}"
            f" ({sum(self.injected.values())} in all)",
            f"case statuses    {dict(statuses)}",
            f"outside requests {self.outside_requests}",
            f"model spend      {_model_spend(self.final)}",
        ]
        for name in INVARIANTS:
            held = not any(v.startswith(name) for v in self.violations)
            out.append(f"  {'held    ' if held else 'VIOLATED'} {name}")
        out.extend(f"    {v}" for v in self.violations[:20])
        if self.violations:
            out.append(
                f"FAILED: {len(self.violations)} violations; reproduce with --seed {self.seed}"
            )
        else:
            out.append("all invariants held")
        return out


def _model_spend(final: dict[str, Any]) -> str:
    usages = [c["usage"] for c in final.values() if c and c.get("usage")]
    usd = sum(float(u.get("cost_usd") or 0) for u in usages)
    budget = sum(1 for c in final.values() if c and _handoff_reason(c) == "BUDGET_EXHAUSTED")
    return (
        f"{usd:.6f} USD over {len(usages)} decisions ({usd / max(1, len(usages)):.6f} each);"
        f" {budget} cases handed off for an exhausted budget"
    )


def _handoff_reason(case: dict[str, Any]) -> str | None:
    handoff = case.get("handoff")
    return str(handoff.get("reason")) if isinstance(handoff, dict) else None


INVARIANTS = (
    "no case lost",
    "no duplicate side effect",
    "audit chain verifies",
    "rejection recorded",
    "approval decided once",
    chaos_budgets.INVARIANT,
)


class _InFlight:
    """Backpressure: the driver's submitted cases not settled yet, read from the ledger's case
    records (one BatchGetItem per 100 cases, at most once a second, no function invoked), so
    a slow machine does not pile up more cases than it can settle before the deadline."""

    def __init__(self, emu: Any, cap: int) -> None:
        self.cap = cap
        self.ddb = emu.client("dynamodb")
        functions = emu.deployment.functions
        self.table = next(
            f.environment["AIOS_LEDGER_TABLE"]
            for f in functions.values()
            if "AIOS_LEDGER_TABLE" in f.environment
        )
        self.lock = threading.Lock()
        self.open: set[str] = set()
        self.checked = 0.0

    def add(self, case_id: str) -> None:
        with self.lock:
            self.open.add(case_id)

    def wait_room(self) -> None:
        while True:
            with self.lock:
                if time.monotonic() - self.checked >= 1.0:
                    self._refresh()
                if len(self.open) < self.cap:
                    return
            time.sleep(0.5)

    def _refresh(self) -> None:
        self.checked = time.monotonic()
        pending = sorted(self.open)
        for start in range(0, len(pending), 100):
            keys = [{"pk": {"S": f"CASE#{c}"}, "sk": {"S": "CASE"}} for c in pending[start:][:100]]
            request = {
                self.table: {
                    "Keys": keys,
                    "ConsistentRead": True,
                    "ProjectionExpression": "pk, #s",
                    "ExpressionAttributeNames": {"#s": "status"},
                }
            }
            try:
                answer = self.ddb.batch_get_item(RequestItems=request)
            except Exception:  # a failed read only delays the next case; the next one retries
                return
            for item in answer["Responses"].get(self.table, []):
                if item.get("status", {}).get("S") in TERMINAL:
                    self.open.discard(item["pk"]["S"].removeprefix("CASE#"))


class _Driver:
    """Submits the cases and clicks the approvals, from several client threads."""

    def __init__(self, emu: Any, seed: int, examples: dict[str, dict[str, Any]]) -> None:
        self.emu = emu
        self.seed = seed
        self.examples = examples
        self.rng = random.Random(seed + 1)
        self.lock = threading.Lock()
        self.cases: dict[str, str] = {}
        self.clicks: dict[str, Clicks] = {}
        self.errors: list[str] = []
        self.in_flight: _InFlight | None = None

    def choose(self) -> tuple[str, float]:
        with self.lock:
            return self._kind(self.rng.random()), self.rng.random()

    @staticmethod
    def _kind(draw: float) -> str:
        return "approval_race" if draw < 0.1 else "approval_vs_timeout" if draw < 0.2 else "triage"

    def one(self, n: int) -> None:
        kind, draw = self.choose()
        key = f"{self.seed % 100000:05d}{n:05d}"
        if kind == "triage":
            ticket = f"T-{key}"
            body = {**self.examples["ticket-triage"], "ticket_id": ticket}
            if draw < 0.1:
                self.emu.receiver.inject_faults(503, 1, path_contains=f"/{ticket}/")
                NEMESIS.count("receiver_5xx")
            elif draw < 0.2:
                self.emu.receiver.inject_faults(
                    200, 1, path_contains=f"/{ticket}/", stall_seconds=STALL_SECONDS
                )
                NEMESIS.count("receiver_timeout")
            self.submit("ticket-triage", body, ticket)
            return
        order = f"O-{key}"
        channel = "chat" if kind == "approval_vs_timeout" else "email"
        body = {**self.examples["refund-request"], "order_id": order, "amount": 120}
        body["channel"] = channel
        case_id = self.submit("refund-request", body, order)
        link = self.link(case_id)
        if link is None:
            return  # the case did not ask (e.g. handed off): its status is checked anyway
        NEMESIS.count(kind)
        clicks = Clicks(kind)
        with self.lock:
            self.clicks[case_id] = clicks
        if kind == "approval_race":
            decisions = ["approve", "reject", "approve"]
        else:  # the link's approval times out 4 s after it was asked for
            time.sleep(3.0 + 2.0 * draw)
            decisions = ["approve"]
        threads = [threading.Thread(target=self.click, args=(link, d, clicks)) for d in decisions]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    def submit(self, process: str, body: dict[str, Any], business_key: str) -> str:
        """Submit as a careful client does: with an Idempotency-Key, retrying a 5xx with it."""
        path, key = f"/processes/{process}/cases", {"Idempotency-Key": f"chaos-{business_key}"}
        for _ in range(SUBMIT_ATTEMPTS):
            status, answer = _request(self.emu.api_url, "POST", path, body, headers=key)
            if status < 500:
                break
        if status != 202:
            raise AssertionError(f"submit {business_key}: {status} {answer}")
        with self.lock:
            self.cases[answer["case_id"]] = business_key
        if self.in_flight is not None:
            self.in_flight.add(str(answer["case_id"]))
        return str(answer["case_id"])

    def link(self, case_id: str, timeout: float = 120.0) -> str | None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for mail in self.emu.ses_outbox():
                match = LINK.search(mail["body"])
                if match and f"/approvals/{case_id}." in match.group(1):
                    return match.group(1).replace("&amp;", "&")
            status, case = _request(self.emu.api_url, "GET", f"/cases/{case_id}")
            if status == 200 and case["status"] in ("SUCCEEDED", "FAILED", "HANDED_OFF"):
                return None
            time.sleep(0.2)
        return None

    def click(self, link: str, decision: str, clicks: Clicks) -> None:
        url, _, token = link.partition("?t=")
        path = urlsplit(url).path
        status, _ = _request(
            self.emu.api_url, "POST", path, form={"t": token, "decision": decision}
        )
        with self.lock:
            clicks.answers.append((decision, status))


def run_chaos(
    emu: Any,
    cases: int,
    seed: int,
    clients: int = 8,
    fault_rate: float = 0.1,
    settle_s: float = 600.0,
    *,
    aws_fault_rate: float = AWS_FAULT_RATE,
    budget_headroom_usd: float | None = None,
    submit_for: float | None = None,
    max_in_flight: int | None = None,
) -> Report:
    """Run `cases` cases through a started emulation with the nemesis on; check invariants.

    `budget_headroom_usd` leaves only that much of today's ticket-triage budget of the local
    tenant for the run (given back afterwards), so the budget runs out under the faults.
    `submit_for` stops starting cases after that many seconds (the report says how many ran);
    `max_in_flight` starts a case only while fewer than that many are unsettled."""
    from local.emulation import LOCAL_TENANT

    global NEMESIS
    NEMESIS = Nemesis(seed, fault_rate, aws_fault_rate)
    started = time.monotonic()
    first_request = len(emu.receiver.requests)
    _, listing = _request(emu.api_url, "GET", "/processes")
    examples = {p["name"]: p["example_input"] for p in listing["processes"]}
    driver = _Driver(emu, seed, examples)
    if max_in_flight is not None:
        driver.in_flight = _InFlight(emu, max_in_flight)
    limits = chaos_budgets.read_limits(emu)
    tight = chaos_budgets.budget_key(LOCAL_TENANT, "ticket-triage")
    added = 0
    if budget_headroom_usd is not None:
        added = chaos_budgets.tighten(emu, tight, limits["ticket-triage"], budget_headroom_usd)
    try:
        spend_before = chaos_budgets.read_spend(emu)
        uninstall = install(emu)
        try:
            NEMESIS.enabled = True
            _drive(driver, cases, clients, submit_for)
            final = _settle(emu.api_url, driver.cases, deadline=time.monotonic() + settle_s)
            NEMESIS.enabled = False
        finally:
            uninstall()
        spend_after = chaos_budgets.read_spend(emu)
    finally:
        chaos_budgets.loosen(emu, tight, added)
    requests = emu.receiver.requests[first_request:]
    violations = [f"no case lost: {e}" for e in driver.errors]
    violations += _invariants(emu.api_url, driver.cases, final, requests)
    violations += _approvals(driver.cases, driver.clicks, final, requests)
    violations += chaos_budgets.check_budgets(
        spend_before, spend_after, limits, final, in_flight=clients
    )
    return Report(
        seed=seed,
        cases=driver.cases,
        final=final,
        injected=dict(NEMESIS.injected),
        violations=violations,
        outside_requests=len(requests),
        wall_s=time.monotonic() - started,
        requested=cases,
    )


def _drive(driver: _Driver, cases: int, clients: int, submit_for: float | None = None) -> None:
    """Play the cases from `clients` threads; a case that raises is recorded as lost. With
    `submit_for`, no case is started after that many seconds (a run that must end in time)."""
    numbers = iter(range(cases))
    lock = threading.Lock()
    stop_at = time.monotonic() + submit_for if submit_for is not None else None

    def client() -> None:
        while True:
            with lock:
                late = stop_at is not None and time.monotonic() > stop_at
                n = None if late else next(numbers, None)
            if n is None:
                return
            try:
                if driver.in_flight is not None:
                    driver.in_flight.wait_room()
                driver.one(n)
            except Exception as exc:
                with driver.lock:
                    driver.errors.append(f"case {n}: {exc!r}")

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        while t.is_alive():
            t.join(timeout=PROGRESS_EVERY_S)
            if t.is_alive():
                _progress(f"{len(driver.cases)} cases submitted")


def _progress(what: str) -> None:
    """A line on stderr while a long run goes on (what a run stopped early had done)."""
    injected = sum(NEMESIS.injected.values())
    print(f"[chaos {time.strftime('%H:%M:%S')}] {what}; {injected} faults", file=sys.stderr)


def _settle(api: str, cases: dict[str, str], deadline: float) -> dict[str, Any]:
    final: dict[str, Any] = dict.fromkeys(cases)
    pending = set(cases)
    reported = time.monotonic()
    while pending and time.monotonic() < deadline:
        if time.monotonic() - reported > PROGRESS_EVERY_S:
            reported = time.monotonic()
            _progress(f"{len(cases) - len(pending)} of {len(cases)} cases settled")
        for case_id in list(pending):
            status, case = _request(api, "GET", f"/cases/{case_id}")
            if status == 200 and case["status"] in TERMINAL:
                final[case_id] = case
                pending.discard(case_id)
        if pending:
            time.sleep(0.5)
    return final


def _invariants(
    api: str, cases: dict[str, str], final: dict[str, Any], requests: list[Any]
) -> list[str]:
    violations = []
    for case_id, case in final.items():
        if case is None:
            violations.append(f"no case lost: {case_id} ({cases[case_id]}) not settled")
            continue
        audit = _audit(api, case_id)
        if not audit["chain"]["valid"]:
            violations.append(f"audit chain verifies: {case_id} {audit['chain']}")
        failed = case["status"] == "FAILED"
        if failed and not (case.get("error") or any(a.get("error") for a in case["actions"])):
            violations.append(f"rejection recorded: {case_id} failed without a reason")
        for action in case["actions"]:
            if action.get("status") in ("SKIPPED", "FAILED", "REJECTED") and not action.get(
                "error"
            ):
                violations.append(f"rejection recorded: {case_id} {action.get('status')} action")
    bodies: dict[str, set[str]] = collections.defaultdict(set)
    keys_by_business: dict[tuple[str, str], set[str]] = collections.defaultdict(set)
    keys = set(cases.values())
    for request in requests:
        if request.status != 200 or not request.idempotency_key:
            continue
        bodies[request.idempotency_key].add(request.body)
        business = next((k for k in _business_keys(request.path) if k in keys), None)
        if business:
            keys_by_business[(business, request.path)].add(request.idempotency_key)
    for key, distinct in bodies.items():
        if len(distinct) > 1:
            violations.append(f"no duplicate side effect: key {key} stored {len(distinct)} bodies")
    for (business, path), idempotency_keys in keys_by_business.items():
        if len(idempotency_keys) > 1:
            violations.append(
                f"no duplicate side effect: {business} {path} under {len(idempotency_keys)} keys"
            )
    return violations


def _audit(api: str, case_id: str) -> Any:
    """The case's audit view; a chain that cannot be read at all counts as not verified."""
    for _ in range(SUBMIT_ATTEMPTS):
        status, audit = _request(api, "GET", f"/cases/{case_id}/audit")
        if status == 200:
            return audit
    return {"chain": {"valid": False, "reason": f"unreadable: HTTP {status}"}}


def _business_keys(path: str) -> list[str]:
    return re.findall(r"[TO]-[0-9]+", path)


def _approvals(
    cases: dict[str, str], clicks: dict[str, Clicks], final: dict[str, Any], requests: list[Any]
) -> list[str]:
    """Of the clicks on one link at most one is accepted, and the refund happened if and only
    if an approve click was accepted (or, with none accepted, one was answered 5xx: a fault
    after its decision landed)."""
    violations = []
    for case_id, on_link in clicks.items():
        case, order = final.get(case_id), cases[case_id]
        accepted = on_link.accepted()
        answers = sorted(on_link.answers)
        if len(accepted) > 1:
            violations.append(f"approval decided once: {case_id} accepted {answers}")
        if case is None or case["status"] not in ("SUCCEEDED", "FAILED"):
            continue
        refunded = any(r.status == 200 and f"/refunds/{order}" in r.path for r in requests)
        applied = any(a.get("status") == "APPLIED" for a in case["actions"])
        approved = accepted == ["approve"]
        maybe = not accepted and "approve" in on_link.unanswered()
        if (
            (approved and not applied)
            or (applied and not (approved or maybe))
            or (applied and not refunded)
        ):
            violations.append(
                f"approval decided once: {case_id} clicks {answers}, refunded {refunded}, "
                f"actions {[(a.get('status'), (a.get('error') or {}).get('code')) for a in case['actions']]}"
            )
    return violations


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=100)
    parser.add_argument("--seed", type=int, default=int(time.time()) % 100000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--fault-rate", type=float, default=0.1)
    parser.add_argument("--aws-fault-rate", type=float, default=AWS_FAULT_RATE)
    parser.add_argument(
        "--budget-headroom",
        type=float,
        default=None,
        help="USD left of today's ticket-triage budget for the run (default: the whole budget)",
    )
    parser.add_argument("--settle", type=float, default=600.0, help="seconds for cases to settle")
    parser.add_argument(
        "--max-in-flight",
        type=int,
        default=MAX_IN_FLIGHT,
        help="start a case only while fewer than this many are unsettled",
    )
    parser.add_argument(
        "--submit-for",
        type=float,
        default=None,
        help="start no case after this many seconds (fewer cases than --cases then run)",
    )
    args = parser.parse_args()
    from local.emulation import Emulation

    started = time.monotonic()
    logs = Path(tempfile.mkdtemp(prefix="aios-chaos-"))
    with Emulation(api_port=0, function_log_dir=logs) as emu:
        report = run_chaos(
            emu,
            args.cases,
            args.seed,
            args.clients,
            args.fault_rate,
            settle_s=args.settle,
            aws_fault_rate=args.aws_fault_rate,
            budget_headroom_usd=args.budget_headroom,
            submit_for=args.submit_for,
            max_in_flight=args.max_in_flight,
        )
    print("\n".join(report.lines()))
    print(f"wall with the emulation's start and stop: {time.monotonic() - started:.0f} s")
    return 1 if report.violations else 0


if __name__ == "__main__":
    raise SystemExit(main())
