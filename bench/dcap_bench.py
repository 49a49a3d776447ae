"""Verify the real DCAP quote with sgxra and with dcap-qvl in one run; print per-quote times and ratios.

cold: every iteration builds fresh collateral objects from the JSON text and
      verifies from scratch (sgxra: no verifier cache, and its memos of parsed
      input -- certificates, PEM chains, signed JSON -- cleared first, so the
      same bytes are read again as if never seen).
seen: as cold, but sgxra's parse memos kept (a verifier without a cache that
      meets bytes it has read before: every signature, chain, CRL and date is
      still checked; only reading the bytes is skipped). Shown, not in the ratios.
warm: one collateral object; sgxra reuses a DcapVerifier that remembers what it
      verified (dcap-qvl has no cache: it verifies everything each time).

Rounds alternate the four variants so machine noise hits all of them alike;
each figure is the median over rounds, in CPU time of this process (both
verifiers run in it, single-threaded): on a shared machine wall time also
counts the time other processes hold the cores. Run: make bench-dcap
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from datetime import datetime, timezone

import dcap_qvl
from real_quote import AT, read_real_quote

from sgxra.verify.dcap import DcapVerifier, verify_dcap_quote
from sgxra.wire.collateral import Collateral
from sgxra.wire.memo import clear_parse_memos

ROUNDS = 15
PER_ROUND = 60


def per_call_seconds(fn: Callable[[], object], n: int) -> float:
    start = time.process_time()
    for _ in range(n):
        fn()
    return (time.process_time() - start) / n


def main() -> int:
    quote, text = read_real_quote()
    at = datetime.fromtimestamp(AT, timezone.utc)

    ours = verify_dcap_quote(quote, Collateral.from_json(text), at=at)
    theirs = dcap_qvl.verify(quote, dcap_qvl.QuoteCollateralV3.from_json(text), AT)
    if ours.status.value != theirs.status or list(ours.advisory_ids) != sorted(theirs.advisory_ids, key=ours.advisory_ids.index):
        print(f"verdicts differ: sgxra {ours.status.value} {ours.advisory_ids}, dcap-qvl {theirs.status} "
              f"{theirs.advisory_ids}", file=sys.stderr)
        return 1
    print(f"both verify the quote: {ours.status.value} {', '.join(ours.advisory_ids)}")

    collateral = Collateral.from_json(text)
    qvl_collateral = dcap_qvl.QuoteCollateralV3.from_json(text)
    verifier = DcapVerifier()

    def sgxra_cold() -> object:
        clear_parse_memos()
        return verify_dcap_quote(quote, Collateral.from_json(text), at=at)

    variants: dict[str, Callable[[], object]] = {
        "sgxra cold": sgxra_cold,
        "dcap-qvl cold": lambda: dcap_qvl.verify(quote, dcap_qvl.QuoteCollateralV3.from_json(text), AT),
        "sgxra seen": lambda: verify_dcap_quote(quote, Collateral.from_json(text), at=at),
        "sgxra warm": lambda: verifier.verify(quote, collateral, at=at),
        "dcap-qvl warm": lambda: dcap_qvl.verify(quote, qvl_collateral, AT),
    }
    for fn in variants.values():  # warm-up
        per_call_seconds(fn, 20)
    samples: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(ROUNDS):
        for name, fn in variants.items():
            samples[name].append(per_call_seconds(fn, PER_ROUND))
    median = {name: statistics.median(values) for name, values in samples.items()}
    for name, seconds in median.items():
        spread = (max(samples[name]) - min(samples[name])) * 1e6
        print(f"{name:14s} {seconds * 1e6:8.1f} us per quote  (spread {spread:6.1f} us over {ROUNDS} rounds)")
    warm = median["dcap-qvl warm"] / median["sgxra warm"]
    cold = median["dcap-qvl cold"] / median["sgxra cold"]
    print(f"dcap-qvl {dcap_qvl.__version__}, {ROUNDS} rounds x {PER_ROUND} quotes per variant; "
          f"seen_speedup_vs_dcap_qvl={median['dcap-qvl cold'] / median['sgxra seen']:.2f}")
    print(f"warm_speedup_vs_dcap_qvl={warm:.2f} cold_speedup_vs_dcap_qvl={cold:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
