"""Validity edges as Intel's QVL has them, and expiry errors that say what to do.

Intel's QVL accepts the real SGX set at its last nextUpdate instant (1752919278) and refuses it one second
later (QE identity expired); dcap-qvl refuses at the instant itself: Intel's behaviour is kept.
"""

from __future__ import annotations

import dataclasses
import re
from datetime import datetime, timedelta, timezone

import pytest

from dcap_env import NOW, PKI, quote, spec
from sgxra.errors import CertificateExpired, CollateralExpired
from sgxra.verify.dcap import verify_dcap_quote
from sgxra.wire.collateral import Collateral, TcbStatus
from vectors_env import RealSgx

LAST_VALID = 1752919278  # the QE identity's nextUpdate, 2025-07-19T10:01:18Z
REAL_WINDOW = "2025-06-19T10:56:11Z .. 2025-07-19T10:01:18Z"


def _at(ts: int) -> datetime:
    return datetime.fromtimestamp(ts, timezone.utc)


@pytest.fixture(scope="module")
def real(real_sgx: RealSgx) -> tuple[bytes, Collateral]:
    return real_sgx.quote, real_sgx.collateral


def test_valid_at_the_next_update_instant_refused_one_second_later(real: tuple[bytes, Collateral]) -> None:
    raw, collateral = real
    verdict = verify_dcap_quote(raw, collateral, at=_at(LAST_VALID))
    assert verdict.status is TcbStatus.ConfigurationAndSWHardeningNeeded
    with pytest.raises(CollateralExpired, match="QE identity is expired at 2025-07-19T10:01:19Z"):
        verify_dcap_quote(raw, collateral, at=_at(LAST_VALID + 1))


@pytest.mark.parametrize("ts", [LAST_VALID + 1, 1760000000, 1900000000])
def test_expiry_names_the_item_its_window_and_the_sets_window(real: tuple[bytes, Collateral], ts: int) -> None:
    raw, collateral = real
    with pytest.raises(CollateralExpired) as info:
        verify_dcap_quote(raw, collateral, at=_at(ts))
    message = str(info.value)
    assert re.search(r"(TCB info|QE identity|PCK CRL|root CA CRL) is expired at .*: valid \S+ \.\. \S+", message)
    assert f"The collateral set is valid {REAL_WINDOW}" in message
    assert "--at" in message and "refresh" in message


def test_not_yet_valid_is_said_so(real: tuple[bytes, Collateral]) -> None:
    raw, collateral = real
    with pytest.raises(CollateralExpired, match=f"TCB info is not yet valid at .*{re.escape(REAL_WINDOW)}"):
        verify_dcap_quote(raw, collateral, at=_at(1750330570))


def test_items_without_a_common_window_ask_for_a_refresh() -> None:
    fresh = PKI.collateral(spec())
    stale_crl = PKI.collateral(spec(issued=NOW - timedelta(days=60))).pck_crl
    with pytest.raises(CollateralExpired, match="PCK CRL is expired.*no common window.*refresh the collateral"):
        verify_dcap_quote(quote(), dataclasses.replace(fresh, pck_crl=stale_crl), at=NOW, root=PKI.root)


def test_an_expired_certificate_gets_the_same_advice() -> None:
    cert_end = PKI.tcb_signing.not_valid_after_utc
    collateral = PKI.collateral(spec(issued=cert_end - timedelta(days=5)))
    with pytest.raises(CertificateExpired, match=r"certificate expired .*The collateral set is valid .* \.\. "
                                                 r".*'Intel SGX TCB Signing'.*--at"):
        verify_dcap_quote(quote(), collateral, at=cert_end + timedelta(days=1), root=PKI.root)
