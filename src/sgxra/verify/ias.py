"""Is an IAS Attestation Verification Report genuine, and about our request?

Verification, not policy: the report's status is returned, not judged.
"""

from __future__ import annotations

import hmac
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from sgxra.errors import (
    EvidenceMismatch,
    MalformedMessage,
    SignatureInvalid,
    StaleEvidence,
)
from sgxra.verify.pki import verify_chain
from sgxra.verify.trust import intel_ias_report_signing_root
from sgxra.wire.ias_report import MAX_REPORT_SIZE, AttestationReport
from sgxra.wire.quote import QUOTE_BODY_SIZE

# How far a report's timestamp may lie ahead of the verification time (clock skew).
FUTURE_SKEW = timedelta(minutes=5)


def _signing_key(chain: Sequence[x509.Certificate], root: x509.Certificate, at: datetime) -> rsa.RSAPublicKey:
    key = verify_chain(chain, root, at=at).public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise SignatureInvalid("report signing certificate does not hold an RSA key")
    return key


class SigningChainCache:
    """Which report-signing chains were found to lead to which root, and the key they certify.

    IAS signs every report under the same chain, so its verification (two RSA
    signatures, names, roles) need not be repeated per report. An entry is found
    by the identity of the certificate objects and the root (the client parses
    each exact header value once, so a chain IAS repeats arrives as the same
    objects; the entry holds them, so no other object can take their identity),
    and is used only while the verification time lies inside every certificate's
    validity window (leaf, intermediates and root); outside it the chain is
    verified afresh, which refuses it. The report's own signature is never
    cached. Bounded: the least recently used entry goes first.
    """

    def __init__(self, max_entries: int = 8) -> None:
        if max_entries < 1:
            raise ValueError("a chain cache holds at least one entry")
        self.max_entries = max_entries
        self._entries: OrderedDict[tuple[int, ...], _Verified] = OrderedDict()
        self._lock = threading.Lock()  # the sync verifier may be shared between threads

    def __len__(self) -> int:
        return len(self._entries)

    def signing_key(self, chain: Sequence[x509.Certificate], root: x509.Certificate, at: datetime) -> rsa.RSAPublicKey:
        certificates = (*chain, root)
        identity = tuple(map(id, certificates))
        with self._lock:
            entry = self._entries.get(identity)
            if entry is not None:
                self._entries.move_to_end(identity)
        if entry is not None and entry.not_before <= at <= entry.not_after:
            return entry.key
        key = _signing_key(chain, root, at)  # raises for a chain outside its window, cached or not
        verified = _Verified(certificates, key, max(c.not_valid_before_utc for c in certificates),
                             min(c.not_valid_after_utc for c in certificates))
        with self._lock:
            self._entries[identity] = verified
            self._entries.move_to_end(identity)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
        return key


@dataclass(frozen=True)
class _Verified:
    certificates: tuple[x509.Certificate, ...]  # held, so that their identities (the entry's key) stay theirs
    key: rsa.RSAPublicKey
    not_before: datetime  # the latest start and the earliest end of all their validity windows
    not_after: datetime


def verify_report(
    body: bytes,
    signature: bytes,
    *,
    chain: Sequence[x509.Certificate],
    at: datetime,
    root: x509.Certificate | None = None,
    api_version: int | None = None,
    quote: bytes | None = None,
    nonce: str | None = None,
    max_age: timedelta | None = None,
    chain_cache: SigningChainCache | None = None,
) -> AttestationReport:
    """Verify a report body and its signature; return the parsed report.

    Checks, in order: ``chain`` (leaf first) leads to ``root`` (Intel's pinned
    report-signing root unless given) at time ``at``; the RSA-PKCS1v15-SHA256
    signature over the exact ``body``; the body parses; then, where given, the
    API version (an API v2 report has no version field: it passes only when no
    version is required, and is then reported as version 2), the nonce echo, that ``isvEnclaveQuoteBody`` is the first 432
    bytes of ``quote``, and that the report is at most ``max_age`` old at ``at``.
    ``nonce=""`` means none was sent, so a report echoing any nonce is refused; only None skips the check.
    ``chain_cache`` skips re-verifying a chain it has seen (see :class:`SigningChainCache`).
    """
    if at.tzinfo is None:
        raise ValueError("verification time must be timezone-aware")
    if len(body) > MAX_REPORT_SIZE:
        raise MalformedMessage("ias_report", "<body>", 0, f"{len(body)} bytes exceeds {MAX_REPORT_SIZE}")
    root = root or intel_ias_report_signing_root()
    key = chain_cache.signing_key(chain, root, at) if chain_cache is not None else _signing_key(chain, root, at)
    try:
        key.verify(signature, body, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        raise SignatureInvalid("report signature does not verify over the report body") from None
    report = AttestationReport.parse(body)
    if api_version is not None and not report.declares_version:
        raise EvidenceMismatch(f"report has no version field (IAS API v2), not the API version used ({api_version})")
    if api_version is not None and report.version != api_version:
        raise EvidenceMismatch(f"report version {report.version} is not the API version used ({api_version})")
    if nonce is not None and not hmac.compare_digest((report.nonce or "").encode(), nonce.encode()):
        raise EvidenceMismatch("report does not echo the nonce sent with the quote")
    if quote is not None and not hmac.compare_digest(report.isv_enclave_quote_body, quote[:QUOTE_BODY_SIZE]):
        raise EvidenceMismatch("report describes a different quote than the one submitted")
    if report.timestamp > at + FUTURE_SKEW:
        raise StaleEvidence(f"report timestamp {report.timestamp.isoformat()} is in the future at {at.isoformat()}")
    if max_age is not None and at - report.timestamp > max_age:
        raise StaleEvidence(
            f"report from {report.timestamp.isoformat()} is older than {max_age} at {at.isoformat()}"
        )
    return report
