"""When a collateral set is usable: the intersection of every item's validity window.

Used to turn "expired" into advice: which window to verify in (``--at``), or
that the set must be refreshed. Nothing here is trusted or verified; it only
reads dates.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime

from cryptography import x509

from sgxra.errors import SgxRaError
from sgxra.verify.collateral_facts import crl_span
from sgxra.verify.pki import common_name, iso, load_crl, load_pem_chain
from sgxra.wire.collateral import Collateral, QeIdentity, TcbInfo

Item = tuple[str, datetime, datetime]


def _crl_item(name: str, data: bytes) -> Item:
    return (name, *crl_span(load_crl(data, name)))


def _cert_items(name: str, pem: bytes) -> Iterator[Item]:
    for cert in load_pem_chain(pem, name):
        label = common_name(cert) or cert.subject.rfc4514_string()
        yield f"{name} certificate {label!r}", cert.not_valid_before_utc, cert.not_valid_after_utc


def collateral_items(collateral: Collateral, pck_chain_pem: bytes = b"") -> list[Item]:
    """Every dated item of the set (unreadable items are left out: this is advice, not verification)."""
    items: list[Item] = []
    readers: list[Callable[[], list[Item]]] = [
        lambda: [_crl_item("root CA CRL", collateral.root_ca_crl)],
        lambda: [_crl_item("PCK CRL", collateral.pck_crl)],
        lambda: [("TCB info", (t := TcbInfo.parse(collateral.tcb_info)).issue_date, t.next_update)],
        lambda: [("QE identity", (q := QeIdentity.parse(collateral.qe_identity)).issue_date, q.next_update)],
        lambda: list(_cert_items("TCB info issuer chain", collateral.tcb_info_issuer_chain.encode())),
        lambda: list(_cert_items("QE identity issuer chain", collateral.qe_identity_issuer_chain.encode())),
        lambda: list(_cert_items("PCK CRL issuer chain", collateral.pck_crl_issuer_chain.encode())),
        lambda: list(_cert_items("PCK chain", pck_chain_pem.rstrip(b"\x00"))) if pck_chain_pem else [],
    ]
    for read in readers:
        try:
            items.extend(read())
        except (SgxRaError, ValueError, x509.InvalidVersion):
            continue
    return items


def validity_advice(collateral: Collateral, pck_chain_pem: bytes = b"") -> str:
    """Where the whole set is valid, and what to do about it."""
    items = collateral_items(collateral, pck_chain_pem)
    if not items:
        return "No item of the collateral carries a readable date: refresh the collateral"
    start = max(items, key=lambda item: item[1])
    end = min(items, key=lambda item: item[2])
    if start[1] > end[2]:
        return (f"The collateral's items have no common window ({start[0]} starts {iso(start[1])}, after "
                f"{end[0]} ends {iso(end[2])}): refresh the collateral")
    return (f"The collateral set is valid {iso(start[1])} .. {iso(end[2])} (every item's window intersected; "
            f"it ends with the {end[0]}): verify at a time inside it (--at), or refresh the collateral")
