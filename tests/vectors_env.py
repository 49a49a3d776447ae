"""The shared real Intel vectors (../shared/vectors, outside the repository) and the real SGX set among them.

The SGX v3 quote and its collateral (Intel hardware, Intel PCS) are verified at SGX_AT, inside the collateral's
window (the vectors README; Intel's QVL: ConfigurationAndSWHardeningNeeded). Tests take them through conftest's
``vectors`` or ``real_sgx`` fixture, which skip with a reason where the vectors are absent. No pytest here:
bench/ reaches this module through tests/mutations.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from sgxra.wire.collateral import Collateral

VECTORS = Path(__file__).resolve().parents[2] / "shared" / "vectors"
DCAP = VECTORS / "dcap"
SGX_QUOTE = DCAP / "sgx_v3_quote.bin"
SGX_COLLATERAL = DCAP / "sgx_v3_quote.collateral.json"
SGX_AT_UNIX = 1752919277
SGX_AT = datetime.fromtimestamp(SGX_AT_UNIX, timezone.utc)


@dataclass(frozen=True)
class RealSgx:
    """The real SGX set as read from disk: the quote, the collateral's JSON text and that text parsed."""

    quote: bytes
    collateral_text: str
    collateral: Collateral

    @classmethod
    def load(cls) -> RealSgx:
        text = SGX_COLLATERAL.read_text()
        return cls(SGX_QUOTE.read_bytes(), text, Collateral.from_json(text))
