"""Finding the attestation evidence in an RA-TLS certificate, whichever producer wrote it.

Order as Gramine's verifier: if the TCG DICE extension is present it is the
evidence and must hold (no fallback to another extension); only without it are
the legacy extensions read (Gramine's, then the Intel SGX SDK's, then the
original sgx-ra-tls ones).
"""

from __future__ import annotations

import base64
import binascii
import enum
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import cbor2
from cryptography import x509

from sgxra.errors import MalformedMessage, VerificationError
from sgxra.ratls import binding as bind
from sgxra.ratls.der import RaTlsCertificate
from sgxra.verify.pki import load_pem_chain
from sgxra.verify.result import plain
from sgxra.wire.any_quote import parse_quote, report_data_of
from sgxra.wire.dcap_quote import DcapQuote
from sgxra.wire.ias_report import AttestationReport
from sgxra.wire.quote import EpidQuote

DICE_OID = "2.23.133.5.4.9"  # tcg-dice-conceptual-message-wrapper ("tagged evidence")
# Gramine passes the OID's DER header as part of its content, so on the wire it reads so.
GRAMINE_LEGACY_OID = "0.6.9.42.840.113741.1337.6"
INTEL_SDK_OID = "1.2.840.113741.1.13.1"
_ARC = "1.2.840.113741.1337."
IAS_REPORT_OID, IAS_ROOT_OID, IAS_LEAF_OID, IAS_SIGNATURE_OID = (_ARC + n for n in "2345")
SGX_RA_TLS_QUOTE_OID = _ARC + "6"
DICE_TAG = 60000
EVIDENCE_OIDS = (DICE_OID, GRAMINE_LEGACY_OID, INTEL_SDK_OID, IAS_REPORT_OID, SGX_RA_TLS_QUOTE_OID)
STRUCT = "ratls_evidence"


class Format(enum.Enum):
    DICE = "tcg-dice"
    GRAMINE_LEGACY = "gramine-legacy"
    INTEL_SDK_LEGACY = "intel-sdk-legacy"
    SGX_RA_TLS_EPID = "sgx-ra-tls-epid"  # the IAS report, its signature and signing certificate
    SGX_RA_TLS_ECDSA = "sgx-ra-tls-ecdsa"  # a DCAP quote under 1337.6, RSA key


class NotAttested(VerificationError):
    """The certificate carries no RA-TLS evidence extension."""


@dataclass(frozen=True)
class EmbeddedIasReport:
    body: bytes
    signature: bytes
    chain: tuple[x509.Certificate, ...]  # the signing certificate first, then the CA the producer included
    report: AttestationReport  # parsed, not yet verified


@dataclass(frozen=True)
class RaTlsEvidence:
    format: Format
    certificate: RaTlsCertificate
    binding: bind.Binding
    quote: DcapQuote | EpidQuote | None  # None for the IAS-report form
    ias_report: EmbeddedIasReport | None
    claims: Mapping[str, Any] | None  # DICE only
    unused: tuple[str, ...]  # other evidence extensions present but not read (Gramine's order)

    @property
    def name(self) -> str:
        """A result's envelope name (:class:`~sgxra.verify.result.Envelope`): ``ratls`` in JSON, ``sgxra_ratls`` in tokens."""
        return "ratls"

    def to_dict(self) -> dict[str, Any]:
        """The certificate's facts: format, binding, unread evidence extensions, and which key it binds."""
        cert = self.certificate
        return {
            "format": self.format.value, "binding": plain(self.binding), "unused_extensions": list(self.unused),
            "spki_sha256": hashlib.sha256(cert.spki).hexdigest(), "signature_algorithm": cert.signature_algorithm,
            "signature_algorithm_null_parameter": cert.null_signature_parameter,
        }


def _dice(cert: RaTlsCertificate, value: bytes, unused: tuple[str, ...]) -> RaTlsEvidence:
    tagged = bind.decode_cbor(value, STRUCT, DICE_OID)
    if not isinstance(tagged, cbor2.CBORTag) or tagged.tag != DICE_TAG:
        raise MalformedMessage(STRUCT, DICE_OID, 0, f"not CBOR tag {DICE_TAG} (TCG tagged evidence)")
    content = tagged.value
    if not isinstance(content, (list, tuple)) or len(content) != 2 or not all(isinstance(c, bytes) for c in content):
        raise MalformedMessage(STRUCT, DICE_OID, 0, "tagged evidence must be [bstr quote, bstr claims]")
    quote_bytes, claims = content
    quote = parse_quote(quote_bytes)
    if not isinstance(quote, DcapQuote):
        raise MalformedMessage(STRUCT, DICE_OID, 0, "DICE evidence must hold an ECDSA (DCAP) quote")
    decoded = bind.parse_claims(claims)
    binding = bind.bind_claims(cert, claims, decoded, quote.body.report_data, tdx=quote.is_tdx)
    return RaTlsEvidence(Format.DICE, cert, binding, quote, None, decoded, unused)


def _text_value(cert: RaTlsCertificate, oid: str, required: bool) -> bytes | None:
    ext = cert.extension(oid)
    if ext is None and required:
        raise MalformedMessage(STRUCT, oid, 0, "the IAS report form needs this extension")
    return ext.value.rstrip(b"\x00") if ext else None  # C producers may keep a terminating NUL


def _ias(cert: RaTlsCertificate, unused: tuple[str, ...]) -> RaTlsEvidence:
    body = _text_value(cert, IAS_REPORT_OID, True) or b""
    signature_b64 = _text_value(cert, IAS_SIGNATURE_OID, True) or b""
    pems = [p for p in (_text_value(cert, IAS_LEAF_OID, True), _text_value(cert, IAS_ROOT_OID, False)) if p]
    try:
        signature = base64.b64decode(b"".join(signature_b64.split()), validate=True)
    except (binascii.Error, ValueError):
        raise MalformedMessage(STRUCT, IAS_SIGNATURE_OID, 0, "report signature is not base64") from None
    chain = tuple(c for pem in pems for c in load_pem_chain(pem, "IAS signing certificate"))
    report = AttestationReport.parse(body)
    binding = bind.bind_rsa_key(cert, report.quote.report_body.report_data)
    return RaTlsEvidence(Format.SGX_RA_TLS_EPID, cert, binding, None, EmbeddedIasReport(body, signature, chain, report),
                         None, unused)


def extract(cert: RaTlsCertificate) -> RaTlsEvidence:
    """The evidence, parsed, and whether it binds the certificate's key (not yet whether it is genuine).

    Malformed evidence raises :class:`MalformedMessage`; evidence about another
    key comes back with ``binding.bound`` false; no evidence raises :class:`NotAttested`.
    """
    present = [oid for oid in EVIDENCE_OIDS if cert.extension(oid) is not None]
    if not present:
        raise NotAttested("the certificate carries no RA-TLS evidence extension")
    chosen, unused = present[0], tuple(present[1:])
    value = cert.extension(chosen).value  # type: ignore[union-attr]  # present above
    if chosen == DICE_OID:
        return _dice(cert, value, unused)
    if chosen == IAS_REPORT_OID:
        return _ias(cert, unused)
    quote = parse_quote(value)
    report_data = report_data_of(quote)
    if chosen == GRAMINE_LEGACY_OID:
        return RaTlsEvidence(Format.GRAMINE_LEGACY, cert, bind.bind_digest("spki", cert.spki, report_data), quote,
                             None, None, unused)
    if chosen == INTEL_SDK_OID:
        binding = bind.bind_digest("pem-public-key", bind.pem_public_key_with_nul(cert), report_data)
        return RaTlsEvidence(Format.INTEL_SDK_LEGACY, cert, binding, quote, None, None, unused)
    return RaTlsEvidence(Format.SGX_RA_TLS_ECDSA, cert, bind.bind_rsa_key(cert, report_data), quote, None, None, unused)
