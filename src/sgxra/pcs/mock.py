"""A PCS-compatible mock serving simulated collateral with Intel's paths and headers (API v4).

Collateral is generated per request from a :class:`CollateralSpec` per FMSPC,
issued at the mock's clock, so tests can make it expire, revoke certificates
or change TCB levels while it runs. SGX specs are served under
``/sgx/certification/v4``, TDX specs (``tee="tdx"``) under ``/tdx/certification/v4``
(TCB info and the TD QE identity; CRLs are SGX-side only, as at PCS). TCB info and QE identity carry the TCB
evaluation data number the request chose (``update`` or ``tcbEvaluationDataNumber``);
numbers the mock does not hold are 404, as at PCS. ``pck_certs`` lists the PCK
certificates ``pckcerts`` serves per encrypted PPID.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from fastapi import FastAPI, Response

from sgxra.mockfaults import TransportFaults
from sgxra.pcs.client import escaped_pem, pck_ca_type, pck_tcbm, signed_answer
from sgxra.sim.collateral_json import TCB_EVALUATION_DATA_NUMBER, Tee
from sgxra.sim.dcap_pki import CollateralSpec, SimIntelPki, pem
from sgxra.wire.collateral import Collateral
from sgxra.wire.pck_extension import PckExtension

PREFIX = "/sgx/certification/v4"
TDX_PREFIX = "/tdx/certification/v4"


class NotServed(Exception):
    """The request names something the mock does not hold (a 404) or cannot read (a 400)."""

    def __init__(self, status: int) -> None:
        self.status = status


@dataclass
class Evaluations:
    """The TCB evaluation data sets the mock holds; mutable while it runs."""

    standard: int = TCB_EVALUATION_DATA_NUMBER
    early: int = TCB_EVALUATION_DATA_NUMBER
    available: set[int] = field(default_factory=lambda: {TCB_EVALUATION_DATA_NUMBER})

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
    """A PCS-compatible service over a SIMULATED Intel PKI: SGX and TDX collateral by FMSPC."""
    def __init__(self, pki: SimIntelPki, specs: dict[bytes, CollateralSpec], clock: Callable[[], datetime],
                 tdx_specs: dict[bytes, CollateralSpec] | None = None) -> None:
        self.pki = pki
        self.specs = specs  # SGX collateral by FMSPC; may be changed while running
        self.tdx_specs = tdx_specs if tdx_specs is not None else {}  # TDX collateral by FMSPC
        self.clock = clock
        self.requests: dict[str, int] = {}
        self.faults = TransportFaults()  # may be changed while running
        self.evaluations = Evaluations()
        self.pck_certs: dict[str, list[x509.Certificate]] = {}  # by encrypted PPID (upper-case hex): every TCB level's

    def _collateral(self, spec: CollateralSpec, number: int | None = None) -> Collateral:
        self.pki.now = self.clock()
        return self.pki.collateral(spec if number is None else _numbered(spec, number))

    def _specs(self, tee: Tee) -> dict[bytes, CollateralSpec]:
        return self.specs if tee == "sgx" else self.tdx_specs

    def _spec(self, tee: Tee, fmspc: str) -> CollateralSpec:
        try:
            spec = self._specs(tee).get(bytes.fromhex(fmspc)) if len(fmspc) == 12 else None
        except ValueError:
            spec = None
        if spec is None or spec.tee != tee:
            raise NotServed(404)
        return spec

    def _any_spec(self, tee: Tee | None = None, ca: str | None = None) -> CollateralSpec:
        """Any spec of this TEE (None: either), re-issued under the ``ca`` PCK CA if given."""
        for spec in [*self.specs.values(), *self.tdx_specs.values()]:
            if tee in (None, spec.tee):
                return spec if ca in (None, spec.ca) else replace(spec, ca=ca)
        raise NotServed(404)


def _numbered(spec: CollateralSpec, number: int) -> CollateralSpec:
    """The spec with TCB info and QE identity saying they belong to evaluation data set ``number``."""
    extra = dict(spec.extra)
    for part in ("tcb_info", "qe_identity"):
        extra[part] = {"tcbEvaluationDataNumber": number} | dict(extra.get(part, {}))
    return replace(spec, extra=extra)


def _signed(member: str, text: str, signature: bytes, header: str, chain: str) -> Response:
    return Response(signed_answer(member, text, signature), media_type="application/json",
                    headers={header: escaped_pem(chain)})


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
            der = mock._collateral(mock._any_spec(ca=ca)).pck_crl
            body = der if encoding == "der" else x509.load_der_x509_crl(der).public_bytes(serialization.Encoding.PEM)
            return Response(body, headers={"SGX-PCK-CRL-Issuer-Chain": escaped_pem(pem(mock.pki.cas[ca], mock.pki.root))})
        return await answer("pckcrl", build)

    @app.get(f"{PREFIX}/rootcacrl")
    async def root_ca_crl() -> Response:
        def build() -> Response:
            return Response(mock._collateral(mock._any_spec()).root_ca_crl.hex())  # PCCS serves hex
        return await answer("rootcacrl", build)

    @app.get(f"{PREFIX}/pckcerts")
    async def pckcerts(encrypted_ppid: str, pceid: str) -> Response:
        def build() -> Response:
            certs = mock.pck_certs.get(encrypted_ppid.upper(), [])
            extensions = [PckExtension.from_certificate(cert) for cert in certs]
            if not certs or extensions[0].pce_id.hex().upper() != pceid.upper():
                raise NotServed(404)
            ca = pck_ca_type(certs[0])
            listing = [{"tcb": {f"sgxtcbcomp{i + 1:02d}svn": svn for i, svn in enumerate(e.tcb_components)}
                        | {"pcesvn": e.pcesvn}, "tcbm": pck_tcbm(e),
                        "cert": escaped_pem(pem(cert))} for cert, e in zip(certs, extensions, strict=True)]
            return Response(json.dumps(listing), media_type="application/json", headers={
                "SGX-PCK-Certificate-Issuer-Chain": escaped_pem(pem(mock.pki.cas[ca], mock.pki.root)),
                "SGX-FMSPC": extensions[0].fmspc.hex().upper(), "SGX-PCK-Certificate-CA-Type": ca})
        return await answer("pckcerts", build)

    _tee_routes(app, mock, answer, "sgx", PREFIX)
    _tee_routes(app, mock, answer, "tdx", TDX_PREFIX)
    return app


Answer = Callable[[str, Callable[[], Response]], Awaitable[Response]]


def _tee_routes(app: FastAPI, mock: MockPcs, answer: Answer, tee: Tee, prefix: str) -> None:
    """TCB info and QE identity of one TEE (request counts under "tcb", "qe/identity"; "tdx/..." for TDX)."""
    name = "" if tee == "sgx" else f"{tee}/"

    @app.get(f"{prefix}/tcb")
    async def tcb(fmspc: str, update: str | None = None, tcbEvaluationDataNumber: str | None = None) -> Response:  # noqa: N803
        def build() -> Response:
            number = mock.evaluations.choose(update, tcbEvaluationDataNumber)
            collateral = mock._collateral(mock._spec(tee, fmspc), number)
            return _signed("tcbInfo", collateral.tcb_info, collateral.tcb_info_signature, "TCB-Info-Issuer-Chain",
                           collateral.tcb_info_issuer_chain)
        return await answer(f"{name}tcb", build)

    @app.get(f"{prefix}/qe/identity")
    async def qe_identity(update: str | None = None, tcbEvaluationDataNumber: str | None = None) -> Response:  # noqa: N803
        def build() -> Response:
            number = mock.evaluations.choose(update, tcbEvaluationDataNumber)
            collateral = mock._collateral(mock._any_spec(tee), number)
            return _signed("enclaveIdentity", collateral.qe_identity, collateral.qe_identity_signature,
                           "SGX-Enclave-Identity-Issuer-Chain", collateral.qe_identity_issuer_chain)
        return await answer(f"{name}qe/identity", build)
