"""Where a cold DCAP verification of the real SGX quote goes, step by step, measured inside whole verifications.

Each step (a function of sgxra.verify.dcap, called by the verifier) is wrapped in a timer for this run only;
every verification starts with the parse memos cleared, as the cold variant of dcap_bench.py. A step's time
includes the steps it calls (load_pem_chain is inside verify_collateral, say), and the wrappers add about
0.1 us per call. Steps are timed in context, not alone: alone, each runs faster (caches stay warm).
Run: make bench-dcap-stages
"""

from __future__ import annotations

import statistics
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from real_quote import AT, read_real_quote

from sgxra.verify import dcap
from sgxra.wire.collateral import Collateral, QeIdentity, TcbInfo
from sgxra.wire.dcap_quote import DcapQuote
from sgxra.wire.memo import clear_parse_memos
from sgxra.wire.pck_extension import PckExtension

WHEN = datetime.fromtimestamp(AT, timezone.utc)
ROUNDS = 10
PER_ROUND = 200
# (owner, attribute): what the verifier calls, by the name it calls it.
STEPS: tuple[tuple[Any, str], ...] = (
    (dcap, "verify_collateral"), (dcap, "verify_pck_chain"), (dcap, "check_quote"),
    (dcap, "load_pem_chain"), (dcap, "load_crl"), (dcap, "check_crl"), (dcap, "verify_tcb_signer"),
    (dcap, "find_crl_issuer"), (dcap, "read_signed"), (dcap, "verify_p256"), (dcap, "verify_chain"),
    (dcap, "raw_point_key"), (DcapQuote, "parse"), (DcapQuote, "pck_chain"), (PckExtension, "from_certificate"),
    (TcbInfo, "parse"), (QeIdentity, "parse"),
)


def timed(owner: Any, name: str, spent: defaultdict[str, float], calls: Counter[str]) -> None:
    inner: Callable[..., Any] = getattr(owner, name)
    label = f"{owner.__name__}.{name}" if isinstance(owner, type) else name

    def step(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return inner(*args, **kwargs)
        finally:
            spent[label] += time.perf_counter() - start
            calls[label] += 1

    setattr(owner, name, step)


def main() -> int:
    quote, text = read_real_quote()
    spent: defaultdict[str, float] = defaultdict(float)
    calls: Counter[str] = Counter()
    for owner, name in STEPS:
        timed(owner, name, spent, calls)

    def cold() -> None:
        clear_parse_memos()
        dcap.verify_dcap_quote(quote, Collateral.from_json(text), at=WHEN)

    timed(sys.modules[__name__], "clear_parse_memos", spent, calls)
    timed(Collateral, "from_json", spent, calls)
    timed(dcap, "verify_dcap_quote", spent, calls)
    for _ in range(PER_ROUND):  # warm-up
        cold()
    rounds: list[dict[str, float]] = []
    for _ in range(ROUNDS):
        spent.clear()
        calls.clear()
        for _ in range(PER_ROUND):
            cold()
        rounds.append({label: seconds / PER_ROUND for label, seconds in spent.items()})
    per_run = {label: statistics.median(r[label] for r in rounds) for label in rounds[0]}
    total = per_run["clear_parse_memos"] + per_run["Collateral.from_json"] + per_run["verify_dcap_quote"]
    print(f"one cold verification: {total * 1e6:.0f} us (memos cleared, collateral read, quote verified); "
          f"medians of {ROUNDS} rounds x {PER_ROUND}")
    for label, seconds in sorted(per_run.items(), key=lambda item: -item[1]):
        print(f"{label:28s} {seconds * 1e6:7.1f} us  {calls[label] / PER_ROUND:4.1f} calls")
    return 0


if __name__ == "__main__":
    sys.exit(main())
