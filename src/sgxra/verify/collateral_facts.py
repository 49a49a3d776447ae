"""Facts about verified collateral that Intel's supplemental data reports: dates, CRL numbers, root key id.

The dates follow Intel's QvE (qve.cpp, qve_logic.cpp): a certificate chain
counts with its earliest and latest notBefore and its earliest notAfter, a CRL
with its thisUpdate and nextUpdate, signed JSON with its issueDate and nextUpdate.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from sgxra.errors import CertificateChainError
from sgxra.wire.certificates import certificate_facts

Span = tuple[datetime, datetime]  # from .. until: a certificate's validity, a CRL's or signed JSON's issue .. next update


def cert_spans(certs: Sequence[x509.Certificate]) -> list[Span]:
    return [(facts.not_before, facts.not_after) for facts in map(certificate_facts, certs)]


def crl_span(crl: x509.CertificateRevocationList) -> Span:
    """thisUpdate .. nextUpdate (a CRL without nextUpdate: its thisUpdate alone)."""
    return crl.last_update_utc, crl.next_update_utc or crl.last_update_utc


@dataclass(frozen=True)
class IssueDates:
    """Earliest and latest issue date and earliest expiration date over a set of collateral items."""

    earliest_issue: datetime
    latest_issue: datetime
    earliest_expiration: datetime

    def merge(self, *others: IssueDates) -> IssueDates:
        every = (self, *others)
        return IssueDates(min(d.earliest_issue for d in every), max(d.latest_issue for d in every),
                          min(d.earliest_expiration for d in every))

    @classmethod
    def of_spans(cls, spans: Sequence[Span]) -> IssueDates:
        """Over items each valid from .. until (a certificate's validity, a CRL's or JSON's issue .. next update)."""
        starts = [start for start, _ in spans]
        return cls(min(starts), max(starts), min(end for _, end in spans))


def crl_number(crl: x509.CertificateRevocationList) -> int:
    """The CRL's CRLNumber extension, or 0 when it has none (Intel's value then)."""
    try:
        return int(crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number)
    except x509.ExtensionNotFound:
        return 0


def root_key_id(root: x509.Certificate) -> bytes:
    """SHA-384 of the root's public key as its subjectPublicKey BIT STRING holds it (the raw 04||X||Y point).

    Remembered per root object (a root is configuration, not evidence)."""
    known = _ROOT_KEY_IDS.get(id(root))
    if known is not None and known[0] is root:
        return known[1]
    key = root.public_key()
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise CertificateChainError("the DCAP root does not hold an EC key")
    point = key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    digest = hashlib.sha384(point).digest()
    with _ROOT_KEY_IDS_LOCK:
        while len(_ROOT_KEY_IDS) >= 16:
            del _ROOT_KEY_IDS[next(iter(_ROOT_KEY_IDS))]
        _ROOT_KEY_IDS[id(root)] = (root, digest)
    return digest


# By the identity of the root, which the entry holds (so no other object takes that id meanwhile).
_ROOT_KEY_IDS: dict[int, tuple[x509.Certificate, bytes]] = {}
_ROOT_KEY_IDS_LOCK = threading.Lock()
