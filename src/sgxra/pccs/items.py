"""What a PCCS holds: one :class:`Item` per piece of collateral, stored as served.

A PCCS answers for each piece on its own (a TCB info, a PCK CRL, ...), so items
are stored one by one, not as the nine-field bundle; ``from_collateral`` splits
a bundle into items.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone

from cryptography import x509

from sgxra.errors import MalformedMessage
from sgxra.pcs.client import SignedAnswer, pck_ca_type, signed_answer
from sgxra.verify.pki import load_crl, load_pem_chain
from sgxra.wire.collateral import Collateral, QeIdentity, TcbInfo, signed_member
from sgxra.wire.pck_extension import PckExtension

# Item kinds and the JSON member a signed body carries.
TCB, QE, QVE, PCK_CRL, ROOT_CRL, PCK_CERT = "tcb", "qeidentity", "qveidentity", "pckcrl", "rootcacrl", "pckcert"
KINDS = (TCB, QE, QVE, PCK_CRL, ROOT_CRL, PCK_CERT)
MEMBERS = {TCB: "tcbInfo", QE: "enclaveIdentity", QVE: "enclaveIdentity"}
ROOT_KEY = "root"
STANDARD = "standard"


@dataclass(frozen=True)
class Item:
    """One stored piece of collateral.

    ``key`` names what it is for (``SGX/00A067110000`` for TCB info, ``TDX`` for
    a QE identity, ``processor`` for a PCK CRL, ``<QEID>/<PCEID>`` for a PCK
    certificate); ``variant`` which version (``standard``/``early``/a TCB
    evaluation data number for signed JSON, the TCBm for a PCK certificate).
    ``body`` is what is served (the signed JSON answer, a DER CRL, a PEM certificate).
    Times are Unix seconds.
    """

    kind: str
    key: str
    variant: str
    body: bytes
    chain: str  # the issuer chain (PEM), "" for the root CA CRL
    issued: int
    next_update: int
    fetched_at: int
    number: int | None = None  # the TCB evaluation data number of signed JSON
    meta: str = "{}"  # PCK certificates: {"fmspc", "ca", "tcbm"}

    @property
    def label(self) -> str:
        return f"{self.kind} {self.key}" + (f" ({self.variant})" if self.variant else "")

    def meta_value(self, name: str) -> str:
        value = json.loads(self.meta).get(name, "")
        return value if isinstance(value, str) else ""

    def signed(self) -> tuple[str, bytes]:
        """The signed JSON text and its signature (TCB info and identities only)."""
        return signed_member(self.body.decode("utf-8"), MEMBERS[self.kind], f"stored {self.kind}")


def utc(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, timezone.utc)


def _seconds(t: datetime) -> int:
    return int(t.timestamp())


def signed_item(kind: str, key: str, variant: str, text: str, signature: bytes, chain: str, *, now: int) -> Item:
    """TCB info or an enclave identity; dates and number read (not trusted) from the JSON."""
    read = TcbInfo.parse(text) if kind == TCB else QeIdentity.parse(text)
    return Item(kind, key, variant, signed_answer(MEMBERS[kind], text, signature).encode(), chain, _seconds(read.issue_date),
                _seconds(read.next_update), now, read.tcb_evaluation_data_number)


def answer_item(kind: str, key: str, variant: str, answer: SignedAnswer, *, now: int) -> Item:
    return signed_item(kind, key, variant, answer.text, answer.signature, answer.chain, now=now)


def crl_item(kind: str, key: str, der: bytes, chain: str, *, now: int) -> Item:
    crl = load_crl(der, kind)
    if crl.next_update_utc is None:
        raise MalformedMessage(kind, "nextUpdate", 0, "the CRL has no nextUpdate")
    return Item(kind, key, "", der, chain, _seconds(crl.last_update_utc), _seconds(crl.next_update_utc), now)


def pck_cert_item(qeid: str, pceid: str, tcbm: str, cert_pem: str, chain: str, *, now: int) -> Item:
    """A PCK certificate for the platform ``qeid``/``pceid`` at TCB level ``tcbm`` (CPUSVN || PCESVN LE, hex)."""
    cert = load_pem_chain(cert_pem.encode(), "PCK certificate")[0]
    extension = PckExtension.from_certificate(cert)
    meta = json.dumps({"fmspc": extension.fmspc.hex().upper(), "ca": pck_ca_type(cert), "tcbm": tcbm.upper()})
    return Item(PCK_CERT, f"{qeid.upper()}/{pceid.upper()}", tcbm.upper(), cert_pem.encode(), chain,
                _seconds(cert.not_valid_before_utc), _seconds(cert.not_valid_after_utc), now, meta=meta)


def tcb_key(tee: str, fmspc: str) -> str:
    return f"{tee}/{fmspc.upper()}"


def from_collateral(collateral: Collateral, *, variant: str = STANDARD, now: int) -> list[Item]:
    """The items of a nine-field bundle; the TEE and FMSPC come from its TCB info, the CA from its PCK CRL."""
    tcb = TcbInfo.parse(collateral.tcb_info)
    ca = _crl_ca(collateral.pck_crl)
    return [
        signed_item(TCB, tcb_key(tcb.id, tcb.fmspc.hex()), variant, collateral.tcb_info, collateral.tcb_info_signature,
                    collateral.tcb_info_issuer_chain, now=now),
        signed_item(QE, tcb.id, variant, collateral.qe_identity, collateral.qe_identity_signature,
                    collateral.qe_identity_issuer_chain, now=now),
        crl_item(PCK_CRL, ca, collateral.pck_crl, collateral.pck_crl_issuer_chain, now=now),
        crl_item(ROOT_CRL, ROOT_KEY, collateral.root_ca_crl, "", now=now),
    ]


def _crl_ca(der: bytes) -> str:
    issuer = load_crl(der, "PCK CRL").issuer.rfc4514_string()
    for ca in ("processor", "platform"):
        if f"PCK {ca.capitalize()} CA" in issuer:
            return ca
    raise MalformedMessage("PCK CRL", "issuer", 0, f"{issuer} is neither PCK CA")


def crl_of(item: Item) -> x509.CertificateRevocationList:
    return load_crl(item.body, item.label)


EXPORT_FORMAT = "sgxra-pccs-items/1"


def export_json(items: list[Item]) -> str:
    """Every item as stored (bodies in hex), for ``sgxra pccs import`` on another PCCS; each is re-verified there."""
    return json.dumps({"format": EXPORT_FORMAT, "items": [
        {"kind": i.kind, "key": i.key, "variant": i.variant, "body": i.body.hex(), "chain": i.chain,
         "issued": i.issued, "next_update": i.next_update, "fetched_at": i.fetched_at, "number": i.number,
         "meta": i.meta} for i in items]}, indent=1)


def import_json(obj: dict[str, object]) -> list[Item]:
    """The items of an :func:`export_json` document (their dates are re-read from the bodies)."""
    entries = obj.get("items")
    if obj.get("format") != EXPORT_FORMAT or not isinstance(entries, list):
        raise MalformedMessage("PCCS export", "format", 0, f"not an {EXPORT_FORMAT} document")
    items = []
    for index, entry in enumerate(entries):
        try:
            kind, key, variant, chain = (str(entry[n]) for n in ("kind", "key", "variant", "chain"))
            body, fetched_at = bytes.fromhex(entry["body"]), int(entry["fetched_at"])
        except (TypeError, KeyError, ValueError):
            raise MalformedMessage("PCCS export", f"items[{index}]", 0, "missing or malformed member") from None
        items.append(_reread(kind, key, variant, body, chain, fetched_at, str(entry.get("meta", "{}"))))
    return items


def _reread(kind: str, key: str, variant: str, body: bytes, chain: str, fetched_at: int, meta: str) -> Item:
    """An item rebuilt from what it carries, so that dates and numbers are never taken on trust."""
    if kind in MEMBERS:
        text, signature = signed_member(body.decode("utf-8", "replace"), MEMBERS[kind], f"exported {kind}")
        return signed_item(kind, key, variant, text, signature, chain, now=fetched_at)
    if kind in (PCK_CRL, ROOT_CRL):
        return crl_item(kind, key, body, chain, now=fetched_at)
    if kind == PCK_CERT:
        qeid, _, pceid = key.partition("/")
        return pck_cert_item(qeid, pceid, variant, body.decode("ascii", "replace"), chain, now=fetched_at)
    raise MalformedMessage("PCCS export", "kind", 0, f"unknown item kind {kind!r}")
