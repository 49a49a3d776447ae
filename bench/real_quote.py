"""Intel's real SGX v3 quote and its collateral (../shared/vectors/dcap), as the DCAP benchmarks read them."""

from __future__ import annotations

import sys
from pathlib import Path

VECTORS = Path(__file__).resolve().parents[1].parent / "shared" / "vectors" / "dcap"
AT = 1752919277  # inside the collateral's window (Unix time)


def read_real_quote() -> tuple[bytes, str]:
    """The quote's bytes and the collateral's JSON text; exits with 2, saying where they belong, when absent."""
    if not VECTORS.is_dir():
        print(f"the real quote is not at {VECTORS} (it lives in ../shared/vectors)", file=sys.stderr)
        raise SystemExit(2)
    return (VECTORS / "sgx_v3_quote.bin").read_bytes(), (VECTORS / "sgx_v3_quote.collateral.json").read_text()
