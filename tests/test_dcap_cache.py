"""DcapVerifier's caches are keyed on content: a verdict judged against older collateral is never served
for newer collateral (ids of freed objects are reused by Python, so an ``id()`` key could do exactly that)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from dcap_env import NOW, PKI, QE, quote, spec
from sgxra.errors import CertificateRevoked
from sgxra.verify import dcap
from sgxra.verify.dcap import DcapVerifier
from sgxra.wire.collateral import Collateral, TcbStatus

RAW = quote()
REVOKING = spec(revoked_pck_serials=[QE.pck_certificate.serial_number])


def _collaterals(count: int, **changes: Any) -> list[Collateral]:
    """Distinct sets (each with its own CRLs) that say the same or, with ``changes``, revoke the PCK."""
    return [PKI.collateral(spec(**changes) if changes else spec()) for _ in range(count)]


def test_replacement_collateral_that_revokes_the_pck_is_obeyed() -> None:
    verifier = DcapVerifier(PKI.root)
    assert verifier.verify(RAW, PKI.collateral(spec()), at=NOW).status is TcbStatus.UpToDate
    with pytest.raises(CertificateRevoked, match="PCK certificate"):
        verifier.verify(RAW, PKI.collateral(REVOKING), at=NOW)


def test_forced_id_reuse_does_not_serve_a_stale_pck(monkeypatch: pytest.MonkeyPatch) -> None:
    # Every object gets the same id(), as a freed and re-allocated object would: the key must not depend on it.
    monkeypatch.setattr(dcap, "id", lambda _obj: 1, raising=False)
    verifier = DcapVerifier(PKI.root, max_entries=1)
    verifier.verify(RAW, PKI.collateral(spec()), at=NOW)
    with pytest.raises(CertificateRevoked):
        verifier.verify(RAW, PKI.collateral(REVOKING), at=NOW)


def test_revocation_is_obeyed_after_evictions_free_older_results() -> None:
    # Revoking sets fill the collateral cache and evict (free) the good set's result while the PCK cache
    # still holds the PCK judged against it. Whether a later result lands at the freed address is up to the
    # allocator (the test above forces it); this one checks the eviction path itself.
    verifier = DcapVerifier(PKI.root, max_entries=2)
    verifier.verify(RAW, PKI.collateral(spec()), at=NOW)
    for revoking in _collaterals(6, revoked_pck_serials=[QE.pck_certificate.serial_number]):
        with pytest.raises(CertificateRevoked):
            verifier.verify(RAW, revoking, at=NOW)


def _counting(monkeypatch: pytest.MonkeyPatch) -> list[Collateral]:
    seen: list[Collateral] = []
    real: Callable[..., dcap.VerifiedCollateral] = dcap.verify_collateral

    def counting(collateral: Collateral, *args: Any) -> dcap.VerifiedCollateral:
        seen.append(collateral)
        return real(collateral, *args)

    monkeypatch.setattr(dcap, "verify_collateral", counting)
    return seen


def test_cache_is_bounded_and_evicts_the_oldest(monkeypatch: pytest.MonkeyPatch) -> None:
    seen = _counting(monkeypatch)
    first, second, third = _collaterals(3)
    verifier = DcapVerifier(PKI.root, max_entries=2)
    for collateral in (first, second, first, second):
        verifier.verify(RAW, collateral, at=NOW)
    assert seen == [first, second]  # both remembered
    verifier.verify(RAW, third, at=NOW)  # evicts the oldest, first
    verifier.verify(RAW, second, at=NOW)
    verifier.verify(RAW, first, at=NOW)
    assert seen == [first, second, third, first]


def test_equal_content_shares_one_entry(monkeypatch: pytest.MonkeyPatch) -> None:
    seen = _counting(monkeypatch)
    collateral = PKI.collateral(spec())
    copy = Collateral.from_json(collateral.to_json())
    assert copy is not collateral and copy == collateral
    verifier = DcapVerifier(PKI.root)
    verifier.verify(RAW, collateral, at=NOW)
    verifier.verify(RAW, copy, at=NOW)
    assert seen == [collateral]


def test_uncached_verifier_verifies_every_time(monkeypatch: pytest.MonkeyPatch) -> None:
    seen = _counting(monkeypatch)
    collateral = PKI.collateral(spec())
    verifier = DcapVerifier(PKI.root, cache=False)
    verifier.verify(RAW, collateral, at=NOW)
    verifier.verify(RAW, collateral, at=NOW)
    assert seen == [collateral, collateral]
