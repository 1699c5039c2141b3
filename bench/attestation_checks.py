"""The per-action cost of the execution plane's signature checks (issue 15).

Each action is verified twice: the plan signature (plan key) and the attestation's (policy or
human key), with public keys from the keyring, pinned as the execution plane on its own has
them. This measures, over real ECDSA P-256 signatures made with keys generated here:

- the time of both checks per action (median and p95 over `--actions`), the first one
  included (it loads the public keys once);
- the KMS requests the execution plane makes per action (a KMS client that counts, and
  refuses, every call stands behind the keyring): 0;
- KMS Sign requests per plan on the decision side (the plan and one policy attestation for
  all its auto actions; plus one per approved action) and what they cost per 1,000 cases of
  two auto actions, against one KMS Verify per signature per action had the checks called KMS.

    .venv/bin/python bench/attestation_checks.py [--actions 2000]
"""

from __future__ import annotations

import argparse
import base64
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "layers" / "aios" / "python"))

from aios.attestations import (  # noqa: E402
    AttestationClaim,
    sign_attestation,
    verify_attestation,
)
from aios.cost import load_prices  # noqa: E402
from aios.keyring import Keyring, TrustedKey, TrustedKeys  # noqa: E402
from aios.signing import (  # noqa: E402
    SpecRef,
    digest,
    new_envelope,
    sign_plan,
    verify_plan_signature,
)
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402


class LocalKms:
    """Signs as KMS does (RAW, ECDSA_SHA_256) with keys made here; counts every request."""

    def __init__(self) -> None:
        self.keys: dict[str, ec.EllipticCurvePrivateKey] = {}
        self.requests: dict[str, int] = {"Sign": 0, "GetPublicKey": 0}

    def new(self, key_id: str) -> TrustedKey:
        self.keys[key_id] = ec.generate_private_key(ec.SECP256R1())
        der = (
            self.keys[key_id]
            .public_key()
            .public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )
        return TrustedKey(key_id=key_id, public_key=base64.b64encode(der).decode())

    def sign(self, **kwargs: Any) -> dict[str, Any]:
        self.requests["Sign"] += 1
        key = self.keys[kwargs["KeyId"]]
        return {"Signature": key.sign(kwargs["Message"], ec.ECDSA(hashes.SHA256()))}

    def get_public_key(self, **kwargs: Any) -> dict[str, Any]:
        self.requests["GetPublicKey"] += 1
        raise AssertionError("the execution plane asked KMS for a public key")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--actions", type=int, default=2000)
    args = parser.parse_args()
    kms = LocalKms()
    trusted = TrustedKeys(plan=(kms.new("plan"),), policy=(kms.new("policy"),))
    spec = SpecRef(name="ticket-triage", version="1", sha256="0" * 64)
    digests = [digest({"action": i}) for i in range(2)]
    envelope = new_envelope(
        case_id="c-1", plan_id="c-1.p1", process="ticket-triage", tenant="t",
        action_digests=digests, key_id="plan", ttl_seconds=3600, spec=spec,
        input_digest=digest({}),
    )  # fmt: skip
    signed_plan = sign_plan(kms, envelope)
    claim = AttestationClaim(
        type="policy", case_id="c-1", plan_id="c-1.p1", action_digests=tuple(digests),
        spec=spec, rule="risk<=low", issued_at=envelope.issued_at, key_id="policy",
    )  # fmt: skip
    attestation = sign_attestation(kms, claim)
    signs_per_plan = kms.requests["Sign"]

    keyring = Keyring(trusted, lambda key_id: kms.get_public_key(KeyId=key_id)["PublicKey"])
    kms.requests = {"Sign": 0, "GetPublicKey": 0}
    times: list[float] = []
    for i in range(args.actions):
        start = time.perf_counter()
        verify_plan_signature(signed_plan, keyring)
        verify_attestation(
            attestation, keyring, envelope=envelope, action_digest=digests[i % 2], content=""
        )
        times.append(time.perf_counter() - start)
    kms_per_action = sum(kms.requests.values()) / args.actions

    usd = load_prices("us-east-1").usd("kms.asymmetric_request")
    median, p95 = statistics.median(times), sorted(times)[int(0.95 * len(times)) - 1]
    print(f"actions verified:                      {args.actions}")
    print(f"both checks per action, median:        {median * 1e6:8.1f} us")
    print(f"both checks per action, p95:           {p95 * 1e6:8.1f} us")
    print(f"first action (loads the public keys):  {times[0] * 1e6:8.1f} us")
    print(f"KMS requests per action at execution:  {kms_per_action:g}")
    print(f"public keys loaded (once each):        {keyring.fetches}")
    print(f"KMS Sign per plan (plan + policy):     {signs_per_plan}")
    per_1000 = 1000 * signs_per_plan * usd
    verify_per_1000 = 1000 * 2 * len(digests) * usd  # had each check been a KMS Verify
    print(f"KMS USD per 1,000 cases (2 auto actions): {per_1000:.4f} signing, 0 verifying")
    print(f"  with a KMS Verify per check instead:    {per_1000 + verify_per_1000:.4f}")
    print(
        f"  ratio (KMS Verify per check / pinned):  {(per_1000 + verify_per_1000) / per_1000:.1f}x"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
