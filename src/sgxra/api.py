"""One call from evidence to a verdict a program can act on: :func:`verify` and :func:`averify`.

The only module of the library above verify/ and validate/ that may fetch:
with no collateral given, it asks a :class:`~sgxra.pcs.cache.CollateralCache`
(Intel's PCS by default) for the quote's collateral.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from cryptography import x509

from sgxra.errors import MalformedMessage, VerificationError
from sgxra.one_call import OneCall
from sgxra.pcs.cache import CollateralCache
from sgxra.pcs.key import CollateralKey
from sgxra.pcs.verifier import collateral_key
from sgxra.validate.policy import Policy
from sgxra.verify.dcap import DcapVerifier
from sgxra.verify.ias import verify_report
from sgxra.verify.pki import load_chain_text
from sgxra.verify.result import DcapResult, Envelope, IasResult
from sgxra.verify.trust import intel_ias_report_signing_root
from sgxra.wire._json import JsonObject
from sgxra.wire.collateral import Collateral
from sgxra.wire.dcap_quote import DcapQuote
from sgxra.wire.ias_report import MAX_REPORT_SIZE, AttestationReport, QuoteStatus

CollateralFetcher = Callable[[CollateralKey], Collateral] | CollateralCache
MAX_BUNDLE = 2 * MAX_REPORT_SIZE + 64 * 1024


@dataclass(frozen=True)
class IasEvidence:
    """An IAS report as the service returned it: the exact body, its signature and signing chain (leaf first).

    As JSON (what ``sgxra verify`` reads): ``{"report": <body text>, "signature": <base64>,
    "certificates": <PEM chain, or the URL-encoded X-IASReport-Signing-Certificate value>}``;
    ``nonce`` and ``api_version`` optionally require the report to echo them.
    """

    body: bytes
    signature: bytes
    chain: tuple[x509.Certificate, ...]
    nonce: str | None = None
    api_version: int | None = None

    @classmethod
    def from_json(cls, data: bytes | str) -> IasEvidence:
        bundle = JsonObject("ias evidence", data, max_size=MAX_BUNDLE).obj
        fields: dict[str, Any] = {}
        for name in ("report", "signature", "certificates"):
            value = bundle.get(name)
            if not isinstance(value, str):
                raise MalformedMessage("ias evidence", name, 0, "missing or not a string")
            fields[name] = value
        try:
            signature = base64.b64decode(fields["signature"], validate=True)
        except (binascii.Error, ValueError):
            raise MalformedMessage("ias evidence", "signature", 0, "not base64") from None
        chain = load_chain_text(fields["certificates"].encode(), "ias evidence certificates")
        nonce, version = bundle.get("nonce"), bundle.get("api_version")
        if nonce is not None and not isinstance(nonce, str):
            raise MalformedMessage("ias evidence", "nonce", 0, "not a string")
        if version is not None and type(version) is not int:
            raise MalformedMessage("ias evidence", "api_version", 0, "not an integer")
        return cls(fields["report"].encode(), signature, tuple(chain), nonce, version)


EvidenceInput = bytes | DcapQuote | IasEvidence


def default_cache_path() -> Path:
    """Where the default collateral cache lives: ``$SGXRA_CACHE_DIR`` or ``$XDG_CACHE_HOME/sgxra`` (``~/.cache``)."""
    base = os.environ.get("SGXRA_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "sgxra")
    return Path(base) / "collateral.sqlite"


_default: list[CollateralCache] = []  # one cache per process, made on first use
_default_lock = threading.Lock()


def _default_fetcher() -> CollateralCache:
    from sgxra.pcs.client import PcsClient

    with _default_lock:
        if not _default:
            path = default_cache_path()
            path.parent.mkdir(parents=True, exist_ok=True)
            _default.append(CollateralCache(path, PcsClient().fetch))
        return _default[0]


def _parse(evidence: EvidenceInput) -> DcapQuote | IasEvidence:
    if isinstance(evidence, (DcapQuote, IasEvidence)):
        return evidence
    if not isinstance(evidence, bytes):
        raise TypeError("evidence is quote bytes, a DcapQuote or an IasEvidence")
    if evidence.lstrip()[:1] == b"{":
        return IasEvidence.from_json(evidence)
    if len(evidence) >= 2 and int.from_bytes(evidence[:2], "little") in (1, 2):
        raise MalformedMessage("quote", "version", 0, "an EPID quote is verified by IAS: give the IAS report "
                                                      "(report, signature, certificates) instead")
    return DcapQuote.parse(evidence)


def dcap_result(quote: DcapQuote, *, at: datetime, collateral: Collateral | None, fetcher: CollateralFetcher | None,
                verifier: DcapVerifier, envelope: Envelope | None = None) -> DcapResult:
    """``quote`` verified by ``verifier`` against ``collateral``, or else what ``fetcher`` gives for its key."""
    if collateral is None:
        if fetcher is None:
            raise VerificationError("a DCAP quote needs collateral (or a fetcher to ask for it)")
        key = collateral_key(quote)
        collateral = fetcher.get(key, now=at) if isinstance(fetcher, CollateralCache) else fetcher(key)
    verdict = verifier.verify(quote, collateral, at=at)
    return DcapResult(verdict, at, simulated=verifier.simulated, envelope=envelope)


def ias_result(report: AttestationReport, *, at: datetime, root: x509.Certificate,
               envelope: Envelope | None = None) -> IasResult:
    """A verified report (signed under ``root``) as a result; a quote IAS found forged is not evidence."""
    if report.isv_enclave_quote_status is QuoteStatus.SIGNATURE_INVALID:
        raise VerificationError("IAS: the quote's EPID signature is invalid")
    return IasResult(report, at, simulated=root != intel_ias_report_signing_root(), envelope=envelope)


def verify(
    evidence: EvidenceInput, *, collateral: Collateral | None = None, fetcher: CollateralFetcher | None = None,
    policy: Policy | None = None, at: datetime | None = None, root: x509.Certificate | None = None,
) -> DcapResult | IasResult:
    # The docstring is OneCall.__call__'s (sgxra/one_call.py): help(sgxra.verify) shows it without importing this module.
    at = at or datetime.now(timezone.utc)
    if at.tzinfo is None:
        raise ValueError("verification time must be timezone-aware")
    parsed = _parse(evidence)
    result: DcapResult | IasResult
    if isinstance(parsed, IasEvidence):
        ias_root = root or intel_ias_report_signing_root()
        report = verify_report(parsed.body, parsed.signature, chain=parsed.chain, at=at, root=ias_root,
                               api_version=parsed.api_version, nonce=parsed.nonce)
        result = ias_result(report, at=at, root=ias_root)
    else:
        if collateral is None and fetcher is None:
            fetcher = _default_fetcher()
        result = dcap_result(parsed, at=at, collateral=collateral, fetcher=fetcher,
                             verifier=DcapVerifier(root, cache=False))
    return policy.apply(result) if policy is not None else result


async def averify(
    evidence: EvidenceInput, *, collateral: Collateral | None = None, fetcher: CollateralFetcher | None = None,
    policy: Policy | None = None, at: datetime | None = None, root: x509.Certificate | None = None,
) -> DcapResult | IasResult:
    """:func:`verify` for asyncio: runs in a worker thread, so fetching and checking never block the loop."""
    return await asyncio.to_thread(verify, evidence, collateral=collateral, fetcher=fetcher, policy=policy, at=at,
                                   root=root)


verify.__doc__ = OneCall.__call__.__doc__
