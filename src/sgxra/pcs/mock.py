"""A PCS-compatible mock serving simulated collateral with Intel's paths and headers (API v4).

Collateral is generated per request from a :class:`CollateralSpec` per FMSPC,
issued at the mock's clock, so tests can make it expire, revoke certificates
or change TCB levels while it runs.
"""

from __future__ import annotations

import secrets
import urllib.parse
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from fastapi import FastAPI, Response

from sgxra.mockfaults import TransportFaults
from sgxra.sim.dcap_pki import CollateralSpec, SimIntelPki, pem
from sgxra.wire.collateral import Collateral

PREFIX = "/sgx/certification/v4"


class MockPcs:
    def __init__(self, pki: SimIntelPki, specs: dict[bytes, CollateralSpec], clock: Callable[[], datetime]) -> None:
        self.pki = pki
        self.specs = specs  # by FMSPC; may be changed while running
        self.clock = clock
        self.requests: dict[str, int] = {}
        self.faults = TransportFaults()  # may be changed while running

    def _collateral(self, fmspc: bytes, ca: str) -> Collateral:
        spec = self.specs[fmspc]
        self.pki.now = self.clock()
        return self.pki.collateral(spec if spec.ca == ca else _with_ca(spec, ca))

    def _any_spec(self, ca: str) -> CollateralSpec:
        for spec in self.specs.values():
            return spec if spec.ca == ca else _with_ca(spec, ca)
        raise KeyError("no FMSPC configured")


def _with_ca(spec: CollateralSpec, ca: str) -> CollateralSpec:
    return replace(spec, ca=ca)


def _quoted(chain: str) -> str:
    return urllib.parse.quote(chain, safe="")


def create_app(mock: MockPcs) -> FastAPI:
    app = FastAPI(title="sgxra mock PCS (SIMULATED)", docs_url=None, redoc_url=None)

    async def answer(path: str, build: Callable[[], Response]) -> Response:
        mock.requests[path] = mock.requests.get(path, 0) + 1
        faulty = await mock.faults.gate()
        if faulty is not None:
            return faulty
        response = build()
        response.headers["Request-ID"] = secrets.token_hex(16)
        return response

    @app.get(f"{PREFIX}/pckcrl")
    async def pckcrl(ca: str, encoding: str = "pem") -> Response:
        def build() -> Response:
            if ca not in ("processor", "platform"):
                return Response(status_code=400)
            spec = mock._any_spec(ca)
            mock.pki.now = mock.clock()
            der = mock.pki.collateral(spec).pck_crl
            body = der if encoding == "der" else x509.load_der_x509_crl(der).public_bytes(serialization.Encoding.PEM)
            return Response(body, headers={"SGX-PCK-CRL-Issuer-Chain": _quoted(pem(mock.pki.cas[ca], mock.pki.root))})
        return await answer("pckcrl", build)

    @app.get(f"{PREFIX}/tcb")
    async def tcb(fmspc: str) -> Response:
        def build() -> Response:
            try:
                key = bytes.fromhex(fmspc)
                collateral = mock._collateral(key, mock.specs[key].ca)
            except (ValueError, KeyError):
                return Response(status_code=404)
            body = '{"tcbInfo":' + collateral.tcb_info + ',"signature":"' + collateral.tcb_info_signature.hex() + '"}'
            return Response(body, media_type="application/json",
                            headers={"TCB-Info-Issuer-Chain": _quoted(collateral.tcb_info_issuer_chain)})
        return await answer("tcb", build)

    @app.get(f"{PREFIX}/qe/identity")
    async def qe_identity() -> Response:
        def build() -> Response:
            mock.pki.now = mock.clock()
            collateral = mock.pki.collateral(mock._any_spec("processor"))
            body = ('{"enclaveIdentity":' + collateral.qe_identity + ',"signature":"'
                    + collateral.qe_identity_signature.hex() + '"}')
            return Response(body, media_type="application/json",
                            headers={"SGX-Enclave-Identity-Issuer-Chain": _quoted(collateral.qe_identity_issuer_chain)})
        return await answer("qe/identity", build)

    @app.get(f"{PREFIX}/rootcacrl")
    async def root_ca_crl() -> Response:
        def build() -> Response:
            mock.pki.now = mock.clock()
            return Response(mock.pki.collateral(mock._any_spec("processor")).root_ca_crl.hex())  # PCCS serves hex
        return await answer("rootcacrl", build)

    return app
