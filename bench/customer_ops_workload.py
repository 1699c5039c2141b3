"""Write `bench/workloads/customer_ops.jsonl`: 260 labelled tickets for `customer-ops`.

The 220 tickets of `support_tickets.jsonl` (the recorded support workload), each given a
customer, the account and order billing holds, a forum thread for every other one, and the
resolution a support lead labels it with by its kind (not by the offline rules), plus 40 more
that the recorded workload lacks: plan changes, escalations (chargebacks, legal threats, hacked
accounts), refunds asking for more than was paid or in another currency, and credits above the
monthly cap. Seeded, so the file is the same on every run.

    .venv/bin/python bench/customer_ops_workload.py       # rewrite the file
    aios eval customer-ops --examples bench/workloads/customer_ops.jsonl
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "bench" / "workloads" / "support_tickets.jsonl"
TARGET = ROOT / "bench" / "workloads" / "customer_ops.jsonl"
REFUND_APPROVAL_ABOVE = 100
CREDIT_APPROVAL_ABOVE = 25
CREDIT_DEFAULT = 10.0
CREDIT_CAP = 50.0


def _note() -> dict[str, Any]:
    return {"capability": "crm.add_note", "params": {"subject": "ticket"}, "gate": "auto"}


def _reply(ticket: dict[str, Any]) -> list[dict[str, Any]]:
    if "thread_id" not in ticket:
        return []
    return [
        {"capability": "forum.reply", "params": {"thread_id": ticket["thread_id"]}, "gate": "auto"}
    ]


def _refund(ticket: dict[str, Any], amount: float) -> dict[str, Any]:
    order = ticket["order"]
    gate = "approve" if amount > REFUND_APPROVAL_ABOVE else "auto"
    params = {"order_id": order["order_id"], "amount": amount, "currency": order["currency"]}
    return {"capability": "billing.refund", "params": params, "gate": gate}


def _credit(ticket: dict[str, Any], amount: float) -> dict[str, Any]:
    gate = "approve" if amount > CREDIT_APPROVAL_ABOVE else "auto"
    params = {"amount": amount, "currency": ticket["account"]["currency"]}
    return {"capability": "billing.credit", "params": params, "gate": gate}


def _label(intent: str, ticket: dict[str, Any], billing: list[dict[str, Any]]) -> dict[str, Any]:
    if intent == "escalate":
        return {"classification": {"intent": intent}, "handoff": "LOW_CONFIDENCE"}
    actions = [_note(), *billing, *_reply(ticket)]
    return {"classification": {"intent": intent}, "actions": actions}


def _base(row: dict[str, Any], rng: random.Random, n: int) -> dict[str, Any]:
    user = int(re.sub(r"\D", "", row["customer_email"]) or 0)
    ticket: dict[str, Any] = {
        "ticket_id": row["ticket_id"],
        "customer_id": f"CU-{3000 + user}",
        "customer_email": row["customer_email"],
        "subject": row["subject"],
        "body": row["body"],
        "account": {"plan": rng.choice(["basic", "pro", "business"]), "currency": "EUR"},
    }
    if n % 2 == 0:
        ticket["thread_id"] = f"F-{7000 + n}"
    return ticket


def _recorded(row: dict[str, Any], rng: random.Random, n: int) -> dict[str, Any]:
    """One recorded ticket with its customer, account, order and label."""
    ticket = _base(row, rng, n)
    subject = row["subject"]
    if subject.startswith(("Refund for", "Charged twice")):
        paid = re.search(r"payment of (\d+) EUR", row["body"], re.I)
        amount = float(paid.group(1)) if paid else float(rng.choice([19, 29, 49, 89, 129, 240]))
        ticket["order"] = {"order_id": f"O-{5000 + n}", "paid_amount": amount, "currency": "EUR"}
        return {"input": ticket, "expected": _label("refund", ticket, [_refund(ticket, amount)])}
    if subject.endswith("is down"):
        expected = _label("credit", ticket, [_credit(ticket, CREDIT_DEFAULT)])
        return {"input": ticket, "expected": expected}
    if subject.startswith("Invoice"):  # a billing dispute: a person checks the invoice
        return {"input": ticket, "expected": _label("escalate", ticket, [])}
    if subject.startswith(("Question", "How do I", "Feature", "Card declined")):
        return {"input": ticket, "expected": _label("question", ticket, [])}
    return {"input": ticket, "expected": _label("bug", ticket, [])}


EXTRA = [  # (kind, subject, body)
    *[("plan", f"Please move us to {p}", f"We grew. Could you upgrade our account to the {p} plan from next month?")
      for p in ("business", "pro", "business", "pro", "business")],
    *[("plan", f"Downgrade to {p}", f"Money is tight; please switch us to the {p} plan.")
      for p in ("basic", "basic", "pro", "basic", "basic")],
    *[("escalate", s, b) for s, b in [
        ("Chargeback filed", "I filed a chargeback with my bank for last month's payment."),
        ("Account hacked", "Someone hacked my account and changed the password. Help!"),
        ("My lawyer will call", "Fix this or my lawyer will contact you about the charges."),
        ("Fraud on my card", "There is fraud on my card: three payments I never made."),
        ("GDPR request", "Under GDPR I want all data you hold on me deleted."),
    ] * 3],
    *[("overask", "Refund now", f"Refund {a} {c} for my order immediately, that is what you owe me.")
      for a, c in [(500, "USD"), (300, "EUR"), (999, "EUR"), (250, "GBP"), (180, "USD")] * 2],
    *[("overcredit", "Outage compensation", f"Your outage cost us a day. I expect a credit of {a} EUR.")
      for a in (80, 120, 60, 75, 200)],
]  # fmt: skip


def _extra(kind: str, subject: str, body: str, rng: random.Random, n: int) -> dict[str, Any]:
    row = {"ticket_id": f"T-{9000 + n}", "customer_email": f"extra{n}@example.com",
           "subject": subject, "body": body}  # fmt: skip
    ticket = _base(row, rng, n)
    if kind == "plan":
        plan = re.search(r"to the (\w+) plan", body)
        assert plan is not None
        change = {"capability": "billing.change_plan", "params": {"plan": plan.group(1)},
                  "gate": "approve"}  # fmt: skip
        return {"input": ticket, "expected": _label("plan_change", ticket, [change])}
    if kind == "escalate":
        return {"input": ticket, "expected": _label("escalate", ticket, [])}
    if kind == "overask":  # asks for more than was paid, maybe in another currency
        paid = float(rng.choice([49, 89, 120]))
        ticket["order"] = {"order_id": f"O-{8000 + n}", "paid_amount": paid, "currency": "EUR"}
        return {"input": ticket, "expected": _label("refund", ticket, [_refund(ticket, paid)])}
    return {  # a credit above the monthly cap: the cap, which needs the billing lead
        "input": ticket,
        "expected": _label("credit", ticket, [_credit(ticket, CREDIT_CAP)]),
    }


def workload() -> list[dict[str, Any]]:
    rng = random.Random(14)
    rows = [json.loads(line) for line in SOURCE.read_text().splitlines() if line.strip()]
    out = [_recorded(row, rng, n) for n, row in enumerate(rows)]
    out += [_extra(k, s, b, rng, n) for n, (k, s, b) in enumerate(EXTRA, start=len(rows))]
    for n, item in enumerate(out):
        item["name"] = f"{n:03d}-{item['input']['ticket_id']}"
    return out


def main() -> int:
    items = workload()
    TARGET.write_text("".join(json.dumps(i, sort_keys=True) + "\n" for i in items))
    print(f"wrote {len(items)} labelled tickets to {TARGET.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
