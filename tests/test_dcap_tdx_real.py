"""A real TDX quote (v4, TD 1.0, module TDX_01) and its collateral, judged as Intel's QVL judges them.

Data: tests/data/dcap-qvl (see PROVENANCE.md there). Intel's verdict: UpToDate up to and including the
PCK CRL's nextUpdate (1752919235), refused one second later.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest

from sgxra.errors import CollateralExpired
from sgxra.verify.dcap import verify_dcap_quote
from sgxra.wire.collateral import Collateral, TcbStatus

DATA = Path(__file__).parent / "data" / "dcap-qvl"
LAST_VALID = 1752919235


def _quote() -> bytes:
    raw = (DATA.parent / "real" / "tdx_v4_b0c06f_dcapqvl.bin").read_bytes()
    # The sample carries 70 zero bytes after its signature data; Intel ignores them. Cut at the declared end
    # (header 48 + TD 1.0 body 584 + the signature data length field and what it declares).
    return raw[: 636 + int.from_bytes(raw[632:636], "little")]


def _collateral() -> Collateral:
    return Collateral.from_json((DATA / "tdx_quote_collateral.json").read_text())


@pytest.mark.parametrize("ts", [1752000000, LAST_VALID])
def test_real_tdx_quote_is_up_to_date(ts: int) -> None:
    verdict = verify_dcap_quote(_quote(), _collateral(), at=datetime.fromtimestamp(ts, timezone.utc))
    assert verdict.status is TcbStatus.UpToDate and verdict.advisory_ids == ()
    assert verdict.tdx_module_status is TcbStatus.UpToDate and verdict.qe_status is TcbStatus.UpToDate
    assert verdict.pck.fmspc.hex().upper() == "B0C06F000000"


def test_real_tdx_collateral_expires_with_its_pck_crl() -> None:
    with pytest.raises(CollateralExpired, match="PCK CRL is expired at 2025-07-19T10:00:36Z.*2025-06-19T10:32:27Z"):
        verify_dcap_quote(_quote(), _collateral(), at=datetime.fromtimestamp(LAST_VALID + 1, timezone.utc))
