"""A PCS-compatible mock serving simulated collateral with Intel's paths and headers (API v4).

Collateral is generated per request from a :class:`CollateralSpec` per FMSPC,
issued at the mock's clock, so tests can make it expire, revoke certificates
or change TCB levels while it runs. TCB info and QE identity carry the TCB
evaluation data number the request chose (``update`` or ``tcbEvaluationDataNumber``);
numbers the mock does not hold are 404, as at PCS.
"""

from __future__ import annotations

import secrets
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from fastapi import FastAPI, Response

from sgxra.mockfaults import TransportFaults
from sgxra.sim.dcap_pki import CollateralSpec, SimIntelPki, pem
from sgxra.wire.collateral import Collateral

PREFIX = "/sgx/certification/v4"


class NotServed(Exception):
    """The request names something the mock does not hold (a 404) or cannot read (a 400)."""

    def __init__(self, status: int) -> None:
        self.status = status


@dataclass
class Evaluations:
    """The TCB evaluation data sets the mock holds; mutable while it runs."""

    standard: int = 17
    early: int = 17
    available: set[int] = field(default_factory=lambda: {17})

    def choose(self, update: str | None, number: str | None) -> int:
        if number is not None:
            if not number.isdigit() or len(number) > 10:
                raise NotServed(400)
            if int(number) not in self.available:
                raise NotServed(404)
            return int(number)
        if update not in (None, "standard", "early"):
            raise NotServed(400)
        return self.early if update == "early" else self.standard


class MockPcs:
    def __init__(self, pki: SimIntelPki, specs: dict[bytes, CollateralSpec], clock: Callable[[], datetime]) -> None:
        self.pki = pki
        self.specs = specs  # by FMSPC; may be changed while running
        self.clock = clock
        self.requests: dict[str, int] = {}
        self.faults = TransportFaults()  # may be changed while running
        self.evaluations = Evaluations()

    def _collateral(self, spec: CollateralSpec, number: int | None = None) -> Collateral:
        self.pki.now = self.clock()
        return self.pki.collateral(spec if number is None else _numbered(spec, number))

    def _spec(self, fmspc: str) -> CollateralSpec:
        try:
            spec = self.specs.get(bytes.fromhex(fmspc)) if len(fmspc) == 12 else None
        except ValueError:
            spec = None
        if spec is None:
            raise NotServed(404)
        return spec

    def _any_spec(self, ca: str) -> CollateralSpec:
        for spec in self.specs.values():
            return spec if spec.ca == ca else replace(spec, ca=ca)
        raise NotServed(404)


def _numbered(spec: CollateralSpec, number: int) -> CollateralSpec:
    """The spec with TCB info and QE identity saying they belong to evaluation data set ``number``."""
    extra = dict(spec.extra)
    for part in ("tcb_info", "qe_identity"):
        extra[part] = {"tcbEvaluationDataNumber": number} | dict(extra.get(part, {}))
    return replace(spec, extra=extra)


def _quoted(chain: str) -> str:
    return urllib.parse.quote(chain, safe="")


def _signed(member: str, text: str, signature: bytes, chain_header: str, chain: str) -> Response:
    body = '{"' + member + '":' + text + ',"signature":"' + signature.hex() + '"}'
    return Response(body, media_type="application/json", headers={chain_header: _quoted(chain)})


def create_app(mock: MockPcs) -> FastAPI:
    app = FastAPI(title="sgxra mock PCS (SIMULATED)", docs_url=None, redoc_url=None)

    async def answer(path: str, build: Callable[[], Response]) -> Response:
        mock.requests[path] = mock.requests.get(path, 0) + 1
        faulty = await mock.faults.gate()
        if faulty is not None:
            return faulty
        try:
            response = build()
        except NotServed as e:
            response = Response(status_code=e.status)
        response.headers["Request-ID"] = secrets.token_hex(16)
        return response

    @app.get(f"{PREFIX}/pckcrl")
    async def pckcrl(ca: str, encoding: str = "pem") -> Response:
        def build() -> Response:
            if ca not in ("processor", "platform"):
                raise NotServed(400)
            der = mock._collateral(mock._any_spec(ca)).pck_crl
            body = der if encoding == "der" else x509.load_der_x509_crl(der).public_bytes(serialization.Encoding.PEM)
            return Response(body, headers={"SGX-PCK-CRL-Issuer-Chain": _quoted(pem(mock.pki.cas[ca], mock.pki.root))})
        return await answer("pckcrl", build)

    @app.get(f"{PREFIX}/tcb")
    async def tcb(fmspc: str, update: str | None = None, tcbEvaluationDataNumber: str | None = None) -> Response:  # noqa: N803
        def build() -> Response:
            number = mock.evaluations.choose(update, tcbEvaluationDataNumber)
            collateral = mock._collateral(mock._spec(fmspc), number)
            return _signed("tcbInfo", collateral.tcb_info, collateral.tcb_info_signature, "TCB-Info-Issuer-Chain",
                           collateral.tcb_info_issuer_chain)
        return await answer("tcb", build)

    @app.get(f"{PREFIX}/qe/identity")
    async def qe_identity(update: str | None = None, tcbEvaluationDataNumber: str | None = None) -> Response:  # noqa: N803
        def build() -> Response:
            number = mock.evaluations.choose(update, tcbEvaluationDataNumber)
            collateral = mock._collateral(mock._any_spec("processor"), number)
            return _signed("enclaveIdentity", collateral.qe_identity, collateral.qe_identity_signature,
                           "SGX-Enclave-Identity-Issuer-Chain", collateral.qe_identity_issuer_chain)
        return await answer("qe/identity", build)

    @app.get(f"{PREFIX}/rootcacrl")
    async def root_ca_crl() -> Response:
        def build() -> Response:
            return Response(mock._collateral(mock._any_spec("processor")).root_ca_crl.hex())  # PCCS serves hex
        return await answer("rootcacrl", build)

    return app
