"""An IAS-compatible mock: same paths, headers, status codes and report format.

It verifies simulated EPID quotes (``sgxra.sim.epid``) against the platforms
its configuration registers and signs reports with its own SIMULATED chain.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from fastapi import FastAPI, Request, Response

from sgxra.errors import SgxRaError
from sgxra.ias.client import API_VERSIONS, MAX_NONCE_LENGTH
from sgxra.ias.mock_config import MockIasConfig, MockPlatform
from sgxra.ias.mock_pki import MockIasPki
from sgxra.mockfaults import TransportFaults
from sgxra.sim.epid import SimEpidRegistry, SimEpidVerifier, SimPlatform, SimSignature
from sgxra.wire.ias_report import TIMESTAMP_FORMAT, QuoteStatus
from sgxra.wire.messages import MAX_QUOTE_SIZE
from sgxra.wire.platform_info import (
    EpidGroupFlags,
    PlatformInfoBlob,
    TcbEvaluationFlags,
)
from sgxra.wire.quote import EpidQuote

MAX_REQUEST_BODY = MAX_QUOTE_SIZE * 2
ADVISORY_URL = "https://security-center.intel.com"
_PIB_FLAGS: dict[QuoteStatus, tuple[int, int]] = {
    QuoteStatus.GROUP_OUT_OF_DATE: (EpidGroupFlags.QE_EPID_GROUP_OUT_OF_DATE, TcbEvaluationFlags.QUOTE_CPUSVN_OUT_OF_DATE),
    QuoteStatus.GROUP_REVOKED: (EpidGroupFlags.QE_EPID_GROUP_REVOKED, 0),
    QuoteStatus.CONFIGURATION_NEEDED: (0, TcbEvaluationFlags.PLATFORM_CONFIGURATION_NEEDED),
    QuoteStatus.CONFIGURATION_AND_SW_HARDENING_NEEDED: (0, TcbEvaluationFlags.PLATFORM_CONFIGURATION_NEEDED),
    QuoteStatus.SW_HARDENING_NEEDED: (0, 0),
}


@dataclass
class ReportFaults:
    """Reports that are wrong on purpose (each a verifier must refuse)."""

    bad_signature: bool = False
    foreign_pki: MockIasPki | None = None  # sign under another root's chain
    backdate: float = 0.0  # seconds to age the timestamp by
    status: str | None = None  # e.g. an unknown status string
    version: int | None = None  # e.g. a downgraded API version
    header_advisories: tuple[str, ...] = ()  # extra Advisory-IDs in the (unsigned) headers only


@dataclass
class Answer:
    """What the IAS mock sends back for one request."""
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


class MockIas:
    """The mock's behaviour, independent of HTTP (the FastAPI app wraps it)."""

    def __init__(self, config: MockIasConfig, pki: MockIasPki, clock: Callable[[], datetime]) -> None:
        self.config = config
        self.pki = pki
        self.clock = clock
        # Faults may be changed while the mock runs.
        self.faults = TransportFaults(delay=config.delay, unavailable=config.unavailable,
                                      server_error=config.server_error, drop=config.drop)
        self.report_faults = ReportFaults()
        self.requests = 0
        registry = SimEpidRegistry()
        self.platforms: dict[tuple[int, bytes], MockPlatform] = {}
        for p in config.platforms:
            sim = SimPlatform.from_seed(p.seed.encode(), p.gid)
            registry.register(sim)
            self.platforms[(p.gid, sim.platform_id)] = p
        self.verifier = SimEpidVerifier(registry)
        self.groups = {g.gid: g for g in config.groups}
        self.known_gids = frozenset(self.groups) | {p.gid for p in config.platforms}

    def authorized(self, key: str | None) -> bool:
        return key is not None and any(hmac.compare_digest(key.encode(), k.encode()) for k in self.config.subscription_keys)

    def gate(self, version: int, key: str | None) -> Answer | None:
        """The answer that stops a request before its handler, if any."""
        self.requests += 1
        if version not in API_VERSIONS:
            return Answer(404)
        if not self.authorized(key):
            return Answer(401)
        return None

    def sigrl(self, gid_text: str) -> Answer:
        try:
            gid = int(gid_text, 16) if len(gid_text) == 8 else -1
        except ValueError:
            gid = -1
        if gid < 0:
            return Answer(400)
        if gid not in self.known_gids:  # IAS: 404, the GID is not a valid EPID group
            return Answer(404, _unknown_group(gid))
        group = self.groups.get(gid)
        return Answer(200, base64.b64encode(group.sigrl) if group else b"")

    def report(self, version: int, body: bytes) -> Answer:
        request = _parse_report_request(body)
        if request is None:
            return Answer(400)
        quote_bytes, nonce = request
        try:
            quote = EpidQuote.parse(quote_bytes)
        except SgxRaError:
            return Answer(400)
        if quote.gid not in self.known_gids:
            return Answer(400, _unknown_group(quote.gid))
        faults = self.report_faults
        judged = self._judge(quote)
        if faults.status is not None:
            judged["isvEnclaveQuoteStatus"] = faults.status
        timestamp = self.clock() - timedelta(seconds=faults.backdate)
        headers = _advisory_headers(judged, version, faults.header_advisories)
        report = {"id": str(secrets.randbelow(10**38)), "timestamp": timestamp.strftime(TIMESTAMP_FORMAT),
                  "version": faults.version or version, **judged}
        if nonce is not None:
            report["nonce"] = nonce
        if version >= 5:
            report["tcbEvaluationDataNumber"] = 16
        raw = json.dumps(report, separators=(",", ":")).encode()
        pki = faults.foreign_pki or self.pki
        signature = pki.leaf_key.sign(raw, padding.PKCS1v15(), hashes.SHA256())
        if faults.bad_signature:
            signature = bytes([signature[0] ^ 1]) + signature[1:]
        return Answer(200, raw, {
            "X-IASReport-Signature": base64.b64encode(signature).decode(),
            "X-IASReport-Signing-Certificate": pki.chain_header,
            "Content-Type": "application/json",
            **headers,
        })

    def _judge(self, quote: EpidQuote) -> dict[str, Any]:
        fields: dict[str, Any] = {"isvEnclaveQuoteBody": base64.b64encode(quote.body_bytes()).decode()}
        try:
            evidence = self.verifier.verify_parsed(quote)
            platform = self.platforms[(quote.gid, SimSignature.parse(quote.signature).platform_id)]
        except SgxRaError:
            return {"isvEnclaveQuoteStatus": QuoteStatus.SIGNATURE_INVALID.value, **fields}
        group = self.groups.get(quote.gid)
        status = QuoteStatus.GROUP_REVOKED if group and group.revoked else platform.status
        fields["isvEnclaveQuoteStatus"] = status.value
        if status in (QuoteStatus.GROUP_REVOKED, QuoteStatus.KEY_REVOKED, QuoteStatus.SIGNATURE_REVOKED):
            fields["revocationReason"] = platform.revocation_reason if platform.revocation_reason is not None else 1
        if status in _PIB_FLAGS:
            fields["platformInfoBlob"] = self._pib(status, quote).to_tlv_hex()
        if evidence.epid_pseudonym is not None:
            fields["epidPseudonym"] = base64.b64encode(evidence.epid_pseudonym).decode()
        if platform.advisories:
            fields["advisoryURL"] = ADVISORY_URL
            fields["advisoryIDs"] = list(platform.advisories)
        return fields

    def _pib(self, status: QuoteStatus, quote: EpidQuote) -> PlatformInfoBlob:
        group_flags, tcb_flags = _PIB_FLAGS[status]
        unsigned = PlatformInfoBlob(
            sgx_epid_group_flags=int(group_flags), sgx_tcb_evaluation_flags=int(tcb_flags), pse_evaluation_flags=0,
            latest_equivalent_tcb_psvn=bytes(16) + (quote.pce_svn + 1).to_bytes(2, "big"), latest_pse_isvsvn=0,
            latest_psda_svn=bytes(4), xeid=quote.xeid, gid=quote.gid, signature=bytes(64),
        )
        r, s = decode_dss_signature(self.pki.pib_key.sign(unsigned.to_bytes()[:-64], ec.ECDSA(hashes.SHA256())))
        return PlatformInfoBlob.parse(unsigned.to_bytes()[:-64] + r.to_bytes(32, "little") + s.to_bytes(32, "little"))


def _unknown_group(gid: int) -> bytes:
    return f"EPID group {gid:08x} is not known to this mock IAS: register a platform or group with that gid".encode()


def _advisory_headers(judged: dict[str, Any], version: int, extra: tuple[str, ...]) -> dict[str, str]:
    """API v3 sends advisories as Advisory-IDs/Advisory-URL headers, outside the signed body (v4+ keeps them in it)."""
    ids: list[str] = list(extra)
    if version < 4 and "advisoryIDs" in judged:
        ids = [*judged.pop("advisoryIDs"), *ids]
        judged.pop("advisoryURL", None)
    return {"Advisory-IDs": ",".join(ids), "Advisory-URL": ADVISORY_URL} if ids else {}


def _parse_report_request(body: bytes) -> tuple[bytes, str | None] | None:
    """(quote, nonce) from the JSON request, or None for a 400."""
    try:
        obj = json.loads(body)
        quote = base64.b64decode(obj["isvEnclaveQuote"], validate=True)
    except (ValueError, KeyError, TypeError, binascii.Error):
        return None
    nonce = obj.get("nonce")
    if nonce is not None and (not isinstance(nonce, str) or len(nonce) > MAX_NONCE_LENGTH):
        return None
    return quote, nonce


def create_app(mock: MockIas) -> FastAPI:
    app = FastAPI(title="sgxra mock IAS (SIMULATED)", docs_url=None, redoc_url=None)

    async def answer(request: Request, version: int, handler: Callable[[], Answer]) -> Response:
        faulty = await mock.faults.gate()
        if faulty is not None:
            mock.requests += 1
            return faulty
        result = mock.gate(version, request.headers.get("ocp-apim-subscription-key")) or handler()
        headers = {"Request-ID": secrets.token_hex(16), **result.headers}
        return Response(result.body, status_code=result.status, headers=headers)

    @app.get("/attestation/v{version}/sigrl/{gid}")
    async def sigrl(version: int, gid: str, request: Request) -> Response:
        return await answer(request, version, lambda: mock.sigrl(gid))

    @app.post("/attestation/v{version}/report")
    async def report(version: int, request: Request) -> Response:
        declared = request.headers.get("content-length", "0")
        if not declared.isdigit() or int(declared) > MAX_REQUEST_BODY:
            return Response(status_code=413)
        body = await request.body()
        return await answer(request, version, lambda: mock.report(version, body))

    return app
