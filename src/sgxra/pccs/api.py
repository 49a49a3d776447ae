"""The PCCS REST API (Intel's paths, parameters, headers and status codes) over a :class:`PccsService`.

SGX routes under ``/sgx/certification/v3`` and ``/v4``, TDX ``tcb`` and
``qe/identity`` under ``/tdx/certification/v4``. v3 serves the same items as v4
with v3's header names. Request-ID, size bounds and parameter checks are in
:mod:`sgxra.pccs.guard`. Admin routes need the ``admin-token`` header,
registration the ``user-token`` header, each compared (as SHA-512 hex, as
Intel's PCCS stores them) in constant time; without a configured hash the
route is refused.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import urllib.parse
from collections.abc import Awaitable, Callable

from cryptography import x509
from fastapi import FastAPI, Request, Response
from starlette.concurrency import run_in_threadpool

from sgxra.errors import SgxRaError, StoreUnavailable
from sgxra.pccs.guard import MAX_BODY, REQUEST_TIMEOUT, Asgi, Guard, Params, Tokens, collateral_bodies, platform_body, refusal
from sgxra.pccs.items import from_collateral
from sgxra.pccs.service import NotMemoized, PccsRefusal, PccsService, Served, memo_only
from sgxra.pcs.client import escaped_pem

log = logging.getLogger(__name__)


def _answer(served: Served, body: bytes, media_type: str, headers: dict[str, str], now: float,
            margin: float) -> Response:
    headers = dict(headers)
    if served.warning:
        expired = now > served.item.next_update
        # 110: stale; 111: revalidation failed. The text may quote an upstream error: keep it a safe header value.
        text = "".join(c if " " <= c <= "~" and c != '"' else "'" for c in served.warning)[:300]
        headers["Warning"] = f'{110 if expired else 111} sgxra "{text}"'
        if expired:
            headers["SGXRA-Collateral-Expired"] = served.expired_at.isoformat()
    headers["Cache-Control"] = f"max-age={max(0, int(served.item.next_update - margin - now))}"
    return Response(body, media_type=media_type, headers=headers)


def create_app(service: PccsService, tokens: Tokens | None = None, *, max_body: int = MAX_BODY,
               body_timeout: float = REQUEST_TIMEOUT) -> Asgi:
    tokens = tokens or Tokens()
    app = FastAPI(title="sgxra PCCS", docs_url=None, redoc_url=None, openapi_url=None)
    margin = service.refresh_margin.total_seconds()

    def answer(served: Served, body: bytes, media_type: str, headers: dict[str, str]) -> Response:
        return _answer(served, body, media_type, headers, service.clock().timestamp(), margin)

    async def run(request: Request, build: Callable[[], Response], *, fast: bool = False) -> Response:
        """``build`` in a worker thread (it may read the store or fetch); ``fast`` routes first try memory alone,
        on the event loop."""
        try:
            if fast:
                try:
                    with memo_only():
                        return build()
                except NotMemoized:
                    pass
            return await run_in_threadpool(build)
        except PccsRefusal as e:
            if e.status >= 500:
                log.warning("%s %s: %s", request.method, request.url.path, e)
            return refusal(e.status, e.error, e.detail, e.remedy)
        except StoreUnavailable as e:
            log.error("%s %s: %s", request.method, request.url.path, e)
            return refusal(503, "unavailable", str(e), "check the database this PCCS was started with (--db)")
        except SgxRaError as e:  # a stored item that no longer reads, a store that is down
            log.error("%s %s: %s: %s", request.method, request.url.path, type(e).__name__, e)
            return refusal(500, "internal error", f"{type(e).__name__}: {e}")

    def need(request: Request, header: str, hashed: str | None) -> None:
        given = request.headers.get(header)
        if hashed is None:
            raise PccsRefusal(401, "unauthorized", f"this route needs the {header} header, and this PCCS has none "
                              "configured", f"start it with --{header}-file")
        digest = hashlib.sha512((given or "").encode("utf-8", "replace")).hexdigest()
        if given is None or not hmac.compare_digest(digest, hashed):
            raise PccsRefusal(401, "unauthorized", f"missing or wrong {header} header")

    for version in (3, 4):
        _sgx_routes(app, f"/sgx/certification/v{version}", version, service, tokens, run, answer, need, max_body)
    _tee_routes(app, "/tdx/certification/v4", "TDX", 4, service, run, answer)

    @app.exception_handler(404)
    async def not_found(request: Request, exc: Exception) -> Response:
        return refusal(404, "not found", f"no route {request.url.path}",
                        "routes live under /sgx/certification/v3, /sgx/certification/v4 and /tdx/certification/v4")

    @app.exception_handler(405)
    async def wrong_method(request: Request, exc: Exception) -> Response:
        return refusal(405, "invalid request", f"{request.method} is not allowed on {request.url.path}")

    return Guard(app, max_body, body_timeout)


Run = Callable[..., Awaitable[Response]]
AnswerFn = Callable[[Served, bytes, str, dict[str, str]], Response]
Need = Callable[[Request, str, str | None], None]


def _tee_routes(app: FastAPI, prefix: str, tee: str, version: int, service: PccsService, run: Run,
                answer: AnswerFn) -> None:
    tcb_header = "TCB-Info-Issuer-Chain" if version >= 4 else "SGX-TCB-Info-Issuer-Chain"

    @app.get(f"{prefix}/tcb")
    async def tcb(request: Request) -> Response:
        def build() -> Response:
            params = Params(request, ("fmspc", "update", "tcbEvaluationDataNumber"))
            served = service.tcb(tee, params.hex("fmspc", range(12, 13)), params.evaluation())
            return answer(served, served.item.body, "application/json", {tcb_header: escaped_pem(served.item.chain)})
        return await run(request, build, fast=True)

    @app.get(f"{prefix}/qe/identity")
    async def qe_identity(request: Request) -> Response:
        def build() -> Response:
            served = service.qe_identity(tee, Params(request, ("update", "tcbEvaluationDataNumber")).evaluation())
            return answer(served, served.item.body, "application/json",
                          {"SGX-Enclave-Identity-Issuer-Chain": escaped_pem(served.item.chain)})
        return await run(request, build, fast=True)


def _sgx_routes(app: FastAPI, prefix: str, version: int, service: PccsService, tokens: Tokens, run: Run,
                answer: AnswerFn, need: Need, max_body: int) -> None:
    _tee_routes(app, prefix, "SGX", version, service, run, answer)

    @app.get(f"{prefix}/qve/identity")
    async def qve_identity(request: Request) -> Response:
        def build() -> Response:
            served = service.qve_identity(Params(request, ("update", "tcbEvaluationDataNumber")).evaluation())
            return answer(served, served.item.body, "application/json",
                          {"SGX-Enclave-Identity-Issuer-Chain": escaped_pem(served.item.chain)})
        return await run(request, build, fast=True)

    @app.get(f"{prefix}/pckcrl")
    async def pckcrl(request: Request) -> Response:
        def build() -> Response:
            params = Params(request, ("ca", "encoding"))
            ca = params.choice("ca", ("processor", "platform"), None)
            if ca is None:
                raise PccsRefusal(400, "invalid request", "parameter 'ca' is missing", "ca=processor or ca=platform")
            der = params.choice("encoding", ("der",), None) == "der"
            served = service.pck_crl(ca)
            # As Intel's PCCS: DER when asked, else hex of the DER (under its PEM media type).
            body, media = (served.item.body, "application/pkix-crl") if der else (served.item.body.hex().encode(),
                                                                                   "application/x-pem-file")
            return answer(served, body, media, {"SGX-PCK-CRL-Issuer-Chain": escaped_pem(served.item.chain)})
        return await run(request, build, fast=True)

    @app.get(f"{prefix}/rootcacrl")
    async def rootcacrl(request: Request) -> Response:
        def build() -> Response:
            Params(request, ())
            served = service.root_ca_crl()
            # Intel's PCCS answers hex of the DER CRL here (QCNL's API 3.0 and dcap-qvl read it so).
            return answer(served, served.item.body.hex().encode(), "application/x-pem-file", {})
        return await run(request, build, fast=True)

    @app.get(f"{prefix}/crl")
    async def crl(request: Request) -> Response:
        def build() -> Response:
            uri = Params(request, ("uri",)).values.get("uri")
            if uri is None or len(uri) > 2048 or not uri.startswith("https://"):
                raise PccsRefusal(400, "invalid request", "parameter 'uri' must be an https URL of at most 2048 "
                                  "characters")
            served = service.root_ca_crl() if _is_root_crl_uri(uri, service) else service.pck_crl(_pck_crl_ca(uri))
            return answer(served, served.item.body, "application/pkix-crl", {})
        return await run(request, build, fast=True)

    @app.get(f"{prefix}/pckcert")
    async def pckcert(request: Request) -> Response:
        def build() -> Response:
            params = Params(request, ("qeid", "cpusvn", "pcesvn", "pceid", "encrypted_ppid"))
            served = service.pck_cert(
                params.hex("qeid", range(2, 261)), params.hex("cpusvn", range(32, 33)),
                params.hex("pcesvn", range(4, 5)), params.hex("pceid", range(4, 5)),
                params.optional_hex("encrypted_ppid", range(768, 769)))
            item = served.item
            return answer(served, item.body, "application/x-pem-file", {
                "SGX-TCBm": item.variant, "SGX-FMSPC": item.meta_value("fmspc"),
                "SGX-PCK-Certificate-CA-Type": item.meta_value("ca"),
                "SGX-PCK-Certificate-Issuer-Chain": escaped_pem(item.chain)})
        return await run(request, build)

    @app.post(f"{prefix}/platforms")
    async def register(request: Request) -> Response:
        body = await request.body()

        def build() -> Response:
            need(request, "user-token", tokens.user_hash)
            Params(request, ("update",)).choice("update", ("standard", "early", "all"), "standard")
            service.register(platform_body(body))
            return Response(status_code=200)
        return await run(request, build)

    @app.get(f"{prefix}/platforms")
    async def platforms(request: Request) -> Response:
        def build() -> Response:
            need(request, "admin-token", tokens.admin_hash)
            source = Params(request, ("source",)).values.get("source", "")
            if source not in ("", "reg", "reg_na"):
                raise PccsRefusal(400, "invalid request", "parameter 'source' must be reg or reg_na")
            listed = service.store.platforms(take=bool(source))
            return Response(json.dumps(listed), media_type="application/json",
                            headers={"platform-count": str(len(listed))})
        return await run(request, build)

    async def refresh(request: Request) -> Response:
        def build() -> Response:
            need(request, "admin-token", tokens.admin_hash)
            params = Params(request, ("type", "fmspc"))
            if params.choice("type", ("certs",), None) is not None:
                raise PccsRefusal(400, "invalid request", "type=certs (refreshing PCK certificates) is not supported",
                                  "register the platform again to refetch its certificates")
            fmspcs = params.values.get("fmspc")
            if fmspcs is not None:
                raise PccsRefusal(400, "invalid request", "'fmspc' is only meaningful with type=certs")
            done = service.refresh_all()
            return Response(json.dumps({"refreshed": done}), media_type="application/json")
        return await run(request, build)

    app.add_api_route(f"{prefix}/refresh", refresh, methods=["GET", "POST"])

    @app.put(f"{prefix}/platformcollateral")
    async def platform_collateral(request: Request) -> Response:
        body = await request.body()

        def build() -> Response:
            need(request, "admin-token", tokens.admin_hash)
            Params(request, ())
            now = int(service.clock().timestamp())
            items = [item for bundle in collateral_bodies(body) for item in from_collateral(bundle, now=now)]
            return Response(json.dumps({"stored": service.import_items(items)}), media_type="application/json")
        return await run(request, build)


def _is_root_crl_uri(uri: str, service: PccsService) -> bool:
    points = service.root.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    return any(isinstance(name, x509.UniformResourceIdentifier) and name.value == uri
               for point in points for name in point.full_name or ())


def _pck_crl_ca(uri: str) -> str:
    """Intel's PCK certificates point at ``.../pckcrl?ca=processor&encoding=der``: serve that CRL."""
    parts = urllib.parse.urlsplit(uri)
    ca = dict(urllib.parse.parse_qsl(parts.query)).get("ca", "").lower()
    if not parts.path.endswith("/pckcrl") or ca not in ("processor", "platform"):
        raise PccsRefusal(404, "no cache data", f"this PCCS serves the root CA CRL and the PCK CRLs, not {uri}",
                          "ask for the root certificate's CRL distribution point or a PCK CRL URL")
    return ca
