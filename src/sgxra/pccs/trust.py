"""Verify one item against the pinned root before it is stored (a PCCS must never hand out forgeries).

Each item is checked on its own, at a time inside its own validity: ``at`` if
it is current then, otherwise its issue time. An expired item is genuine or
not regardless of when it is looked at; whether it is still current is what
the service reports when it serves it, not a reason to refuse an import.
"""

from __future__ import annotations

from datetime import datetime

from cryptography import x509

from sgxra.errors import CertificateChainError, MalformedMessage
from sgxra.pccs.items import PCK_CERT, PCK_CRL, QE, QVE, ROOT_CRL, TCB, Item, crl_of, utc
from sgxra.verify.dcap import ec_public_key, pck_ca_type, pck_roles, verify_p256
from sgxra.verify.pki import (
    check_crl,
    check_not_revoked,
    common_name,
    find_crl_issuer,
    load_pem_chain,
    verify_chain,
    verify_tcb_signer,
)
from sgxra.wire.collateral import QeIdentity, TcbInfo, read_signed
from sgxra.wire.pck_extension import PckExtension

_IDS = {QE: ("QE", "TD_QE"), QVE: ("QVE",)}


def check_time(item: Item, at: datetime) -> datetime:
    """``at`` when the item is current then, else the item's own issue time."""
    return at if item.issued <= at.timestamp() <= item.next_update else utc(item.issued)


def verify_item(item: Item, root: x509.Certificate, at: datetime,
                root_crl: x509.CertificateRevocationList | None = None) -> None:
    """Raise unless ``item`` is signed under ``root`` by the certificate of its role, and says what its key says.

    ``root_crl``, when known, must not revoke the signer or the CA on the way.
    """
    when = check_time(item, at)
    if item.kind == ROOT_CRL:
        check_crl(crl_of(item), root, at=when, what="root CA CRL")
        return
    chain = load_pem_chain(item.chain.encode(), f"{item.label} issuer chain")
    if item.kind in (TCB, QE, QVE):
        signer = verify_tcb_signer(chain, root, at=when, what=item.label)
        text, signature = item.signed()
        kind = TcbInfo if item.kind == TCB else QeIdentity
        signed, obj = read_signed(text, item.label, kind)
        verify_p256(ec_public_key(signer, f"{item.label} signer"), signature, signed, f"{item.label} signature")
        _check_signed_key(item, kind.parse(text, obj))
        revocable = [signer]
    elif item.kind == PCK_CRL:
        ca, path = find_crl_issuer(crl_of(item), chain, root, at=when, what=item.label)
        if pck_ca_type(ca) != item.key:
            raise CertificateChainError(f"{item.label} is issued by {common_name(ca)!r}, not the {item.key} CA")
        revocable = path
    elif item.kind == PCK_CERT:
        cert = load_pem_chain(item.body, item.label)[0]
        leaf = verify_chain([cert, *chain], root, at=when)
        pck_roles(leaf, chain[0])
        extension = PckExtension.from_certificate(leaf)
        if extension.pce_id.hex().upper() != item.key.split("/")[1]:
            raise MalformedMessage(item.label, "pceid", 0, "differs from the certificate's PCE-ID")
        revocable = chain[:1]
    else:
        raise MalformedMessage("collateral item", "kind", 0, f"unknown kind {item.kind!r}")
    if root_crl is not None:
        for cert in revocable:
            if cert != root:
                check_not_revoked(cert, root_crl, f"{item.label} signer")


def _check_signed_key(item: Item, read: TcbInfo | QeIdentity) -> None:
    """The signed JSON is for what the item claims (a PCCS that mixes FMSPCs up must not store it)."""
    if isinstance(read, TcbInfo):
        if f"{read.id}/{read.fmspc.hex().upper()}" != item.key:
            raise MalformedMessage(item.label, "tcbInfo", 0, f"is TCB info for {read.id} FMSPC {read.fmspc.hex().upper()}")
        return
    wanted = {"SGX": "QE", "TDX": "TD_QE"}.get(item.key) if item.kind == QE else "QVE"
    if read.id != wanted or read.id not in _IDS[item.kind]:
        raise MalformedMessage(item.label, "enclaveIdentity", 0, f"is the identity of {read.id}")
