"""The PCCS API's guards: tokens, TLS, parameters on every route, bounded requests, Request-ID, clear refusals."""

from __future__ import annotations

import ipaddress
import json
import os
import re
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from cryptography import x509

from dcap_env import NOW, PKI
from loopback import free_port, self_signed
from pccs_env import ADMIN_TOKEN, USER_TOKEN, Clock, running, service, sha512
from servers import ServerThread
from sgxra.cli.main import main
from sgxra.pccs.api import create_app
from sgxra.pccs.guard import MAX_BODY, MAX_URL, Tokens
from sgxra.pccs.service import Mode
from sgxra.verify.trust import intel_sgx_root_ca
from vectors_env import DCAP, SGX_COLLATERAL

ADMIN, USER = {"admin-token": ADMIN_TOKEN}, {"user-token": USER_TOKEN}
V4, V3, TDX = "/sgx/certification/v4", "/sgx/certification/v3", "/tdx/certification/v4"
PCKCERT = {"qeid": "AB" * 16, "cpusvn": "00" * 16, "pcesvn": "0D00", "pceid": "0000"}


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    pccs = service(tmp_path_factory.mktemp("api"), Mode.OFFLINE, PKI.root, Clock(NOW))
    with ServerThread(create_app(pccs, Tokens(sha512(ADMIN_TOKEN), sha512(USER_TOKEN)))) as server:
        yield server.url


def _refusal(answer: httpx.Response, status: int) -> dict[str, str]:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/json"
    body: dict[str, str] = json.loads(answer.text)
    assert body["status"] == status
    return body


# Tokens.

@pytest.mark.parametrize(("method", "route", "admitted"), [
    ("GET", f"{V4}/platforms", 200),
    ("GET", f"{V4}/refresh", 400),  # admitted, then refused: an offline PCCS has nothing to refresh from
    ("POST", f"{V3}/refresh", 400),
    ("PUT", f"{V4}/platformcollateral", 400),  # admitted, then refused: "{}" is no collateral
])
def test_admin_routes_refuse_a_missing_or_wrong_admin_token(url: str, method: str, route: str, admitted: int) -> None:
    missing = httpx.request(method, url + route, content=b"{}")
    assert "missing or wrong admin-token" in _refusal(missing, 401)["detail"]
    wrong = httpx.request(method, url + route, content=b"{}", headers={"admin-token": "admin-secreT"})
    assert "missing or wrong admin-token" in _refusal(wrong, 401)["detail"]
    user_for_admin = httpx.request(method, url + route, content=b"{}", headers={"admin-token": USER_TOKEN})
    _refusal(user_for_admin, 401)
    right = httpx.request(method, url + route, content=b"{}", headers=ADMIN)
    assert right.status_code == admitted, right.text


def test_registration_needs_the_user_token_and_the_admin_takes_the_queue(url: str) -> None:
    body = {"qe_id": "AB" * 16, "pce_id": "0000", "cpu_svn": "01" * 16, "pce_svn": "0D00"}
    _refusal(httpx.post(f"{url}{V4}/platforms", json=body), 401)
    _refusal(httpx.post(f"{url}{V4}/platforms", json=body, headers={"user-token": "nope"}), 401)
    assert httpx.post(f"{url}{V4}/platforms", json=body, headers=USER).status_code == 200
    listed = httpx.get(f"{url}{V4}/platforms", headers=ADMIN)
    assert listed.headers["platform-count"] == "1" and json.loads(listed.text)[0]["qe_id"] == "AB" * 16
    taken = httpx.get(f"{url}{V4}/platforms", params={"source": "reg"}, headers=ADMIN)
    assert taken.headers["platform-count"] == "1"
    assert httpx.get(f"{url}{V4}/platforms", headers=ADMIN).headers["platform-count"] == "0"


def test_without_configured_tokens_admin_and_registration_are_refused(tmp_path: Path) -> None:
    pccs = service(tmp_path, Mode.OFFLINE, PKI.root, Clock(NOW))
    with ServerThread(create_app(pccs)) as server:
        admin = httpx.get(f"{server.url}{V4}/platforms", headers=ADMIN)
        user = httpx.post(f"{server.url}{V4}/platforms", json={"qe_id": "AB", "pce_id": "0000"}, headers=USER)
    assert "--admin-token-file" in _refusal(admin, 401)["remedy"]
    assert "--user-token-file" in _refusal(user, 401)["remedy"]


def test_token_files_hold_sha512_hashes(tmp_path: Path) -> None:
    assert Tokens.check_hash(sha512(ADMIN_TOKEN).upper() + "\n", "f") == sha512(ADMIN_TOKEN)
    with pytest.raises(ValueError, match="SHA-512"):
        Tokens.check_hash(ADMIN_TOKEN, "--admin-token-file")


# Parameters, route by route.

BAD = [
    (f"{V4}/tcb", {"fmspc": "00A06711000"}, "'fmspc' must be 12 hex digits"),
    (f"{V4}/tcb", {"fmspc": "00A06711000G"}, "'fmspc' must be 12 hex digits"),
    (f"{V3}/tcb", {}, "'fmspc' is missing"),
    (f"{V4}/tcb", {"fmspc": "00A067110000", "update": "late"}, "'update' must be one of standard, early"),
    (f"{V4}/tcb", {"fmspc": "00A067110000", "tcbEvaluationDataNumber": "-1"}, "must be a u32"),
    (f"{V4}/tcb", {"fmspc": "00A067110000", "tcbEvaluationDataNumber": "4294967296"}, "must be a u32"),
    (f"{V4}/tcb", {"fmspc": "00A067110000", "update": "early", "tcbEvaluationDataNumber": "17"}, "not both"),
    (f"{V4}/tcb", {"fmspc": "00A067110000", "fmspcs": "1"}, "unknown parameter 'fmspcs'"),
    (f"{V4}/tcb", [("fmspc", "00A067110000"), ("fmspc", "00A067110000")], "given more than once"),
    (f"{TDX}/tcb", {"fmspc": "B0C06F"}, "'fmspc' must be 12 hex digits"),
    (f"{V4}/qe/identity", {"update": "all"}, "'update' must be one of"),
    (f"{TDX}/qe/identity", {"tcbEvaluationDataNumber": "x"}, "must be a u32"),
    (f"{V3}/qve/identity", {"update": ""}, "'update' must be one of"),
    (f"{V4}/pckcrl", {}, "'ca' is missing"),
    (f"{V4}/pckcrl", {"ca": "root"}, "'ca' must be one of processor, platform"),
    (f"{V3}/pckcrl", {"ca": "processor", "encoding": "pem"}, "'encoding' must be one of der"),
    (f"{V4}/rootcacrl", {"ca": "processor"}, "unknown parameter 'ca'"),
    (f"{V4}/crl", {}, "'uri' must be an https URL"),
    (f"{V4}/crl", {"uri": "http://certificates.trustedservices.intel.com/IntelSGXRootCA.der"}, "https URL"),
    (f"{V4}/crl", {"uri": "https://x/" + "a" * 2048}, "at most 2048"),
    (f"{V4}/pckcert", PCKCERT | {"qeid": ""}, "'qeid' must be up to 260 hex digits"),
    (f"{V4}/pckcert", PCKCERT | {"qeid": "A" * 262}, "'qeid' must be up to 260 hex digits"),
    (f"{V4}/pckcert", {k: v for k, v in PCKCERT.items() if k != "pceid"}, "'pceid' is missing"),
    (f"{V4}/pckcert", PCKCERT | {"cpusvn": "0" * 31}, "'cpusvn' must be 32 hex digits"),
    (f"{V4}/pckcert", PCKCERT | {"pcesvn": "0X00"}, "'pcesvn' must be 4 hex digits"),
    (f"{V3}/pckcert", PCKCERT | {"pceid": "000"}, "'pceid' must be 4 hex digits"),
    (f"{V4}/pckcert", PCKCERT | {"encrypted_ppid": "00" * 383}, "'encrypted_ppid' must be 768 hex digits"),
]


@pytest.mark.parametrize(("route", "params", "message"), BAD, ids=[f"{r}:{m}" for r, _, m in BAD])
def test_bad_parameters_are_a_400_that_names_them(url: str, route: str, params: object, message: str) -> None:
    answer = httpx.get(url + route, params=params)  # type: ignore[arg-type]
    body = _refusal(answer, 400)
    assert message in body["detail"] and body["error"] == "invalid request"


BAD_ADMIN = [
    ("GET", f"{V4}/platforms", {"source": "all"}, b"", "'source' must be reg or reg_na"),
    ("GET", f"{V4}/refresh", {"type": "everything"}, b"", "'type' must be one of certs"),
    ("PUT", f"{V4}/platformcollateral", {}, b"not json", "the body is not JSON"),
    ("PUT", f"{V3}/platformcollateral", {}, b'{"tcb_info": "x"}', "not nine-field collateral JSON"),
]


@pytest.mark.parametrize(("method", "route", "params", "body", "message"), BAD_ADMIN,
                         ids=[f"{r}:{m}" for _, r, _, _, m in BAD_ADMIN])
def test_bad_admin_requests_are_a_400(url: str, method: str, route: str, params: dict[str, str], body: bytes,
                                      message: str) -> None:
    answer = httpx.request(method, url + route, params=params, content=body, headers=ADMIN)
    assert message in _refusal(answer, 400)["detail"]


@pytest.mark.parametrize(("body", "message"), [
    (b"[1]", "not a JSON object"),
    (b'{"qe_id": "AB"}', "member 'pce_id' is missing"),
    (b'{"qe_id": "AB", "pce_id": "00000"}', "member 'pce_id' must be 4..4 hex digits"),
    (b'{"qe_id": "AB", "pce_id": "0000", "enc_ppid": "00"}', "member 'enc_ppid' must be 768..768 hex digits"),
    (b'{"qe_id": "AB", "pce_id": "0000", "fmspc": "00"}', "unknown member 'fmspc'"),
])
def test_bad_registrations_are_a_400(url: str, body: bytes, message: str) -> None:
    answer = httpx.post(f"{url}{V4}/platforms", content=body, headers=USER)
    assert message in _refusal(answer, 400)["detail"]


def test_offline_misses_say_how_to_fill_the_cache(url: str) -> None:
    body = _refusal(httpx.get(f"{url}{TDX}/tcb", params={"fmspc": "B0C06F000000"}), 404)
    assert body["detail"] == "no TDX TCB info for FMSPC B0C06F000000 is cached"
    assert "sgxra pccs import" in body["remedy"]
    assert "not https://x/y" in _refusal(httpx.get(f"{url}{V4}/crl", params={"uri": "https://x/y"}), 404)["detail"]


def test_a_store_that_fails_is_a_503(tmp_path: Path) -> None:
    pccs = service(tmp_path, Mode.OFFLINE, PKI.root, Clock(NOW))
    with ServerThread(create_app(pccs)) as server:
        pccs.store.close()
        answer = httpx.get(f"{server.url}{V4}/qe/identity")
    assert "--db" in _refusal(answer, 503)["remedy"]


# Bounded requests.

def test_an_oversized_url_is_refused(url: str) -> None:
    answer = httpx.get(f"{url}{V4}/tcb", params={"fmspc": "0" * MAX_URL})
    assert "exceeds 4096 bytes" in _refusal(answer, 414)["detail"]


def test_an_oversized_body_is_refused_before_it_is_read(url: str) -> None:
    answer = httpx.post(f"{url}{V4}/platforms", content=b"x" * (MAX_BODY + 1), headers=USER)
    assert f"exceeds {MAX_BODY} bytes" in _refusal(answer, 413)["detail"]


def test_a_chunked_body_is_refused(url: str) -> None:
    answer = httpx.post(f"{url}{V4}/platforms", content=iter([b"{}"]), headers=USER)
    assert "Content-Length" in _refusal(answer, 411)["detail"]


def test_a_slow_body_is_refused_before_any_route_runs(tmp_path: Path) -> None:
    pccs = service(tmp_path, Mode.OFFLINE, PKI.root, Clock(NOW))
    with ServerThread(create_app(pccs, Tokens(user_hash=sha512(USER_TOKEN)), body_timeout=0.5)) as server:
        port = int(server.url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=10) as slow:
            slow.sendall(b"POST " + V4.encode() + b"/platforms HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n"
                         b"user-token: " + USER_TOKEN.encode() + b"\r\n\r\n{")
            started = time.monotonic()
            answer = b""
            while chunk := slow.recv(4096):  # the server closes the connection after its refusal
                answer += chunk
            waited = time.monotonic() - started
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 408 ") and waited < 5
        assert json.loads(body) == {"status": 408, "error": "invalid request", "detail": "body not received within 0.5 s"}
        assert httpx.get(f"{server.url}{V4}/platforms", headers={"admin-token": "x"}).status_code == 401  # still serving


def test_unknown_routes_and_methods_are_json_refusals(url: str) -> None:
    assert "/sgx/certification/v4" in _refusal(httpx.get(f"{url}/sgx/certification/v2/tcb"), 404)["remedy"]
    assert "DELETE is not allowed" in _refusal(httpx.delete(f"{url}{V4}/tcb"), 405)["detail"]


def test_request_id_is_echoed_or_made(url: str) -> None:
    echoed = httpx.get(f"{url}{V4}/rootcacrl", headers={"Request-ID": "abc-123"})
    assert echoed.headers["Request-ID"] == "abc-123"
    made = httpx.get(f"{url}{V4}/rootcacrl", headers={"Request-ID": "bad id;" + "x" * 100})
    # The refused value is replaced by a fresh uuid4 hex (it may contain "bad" by chance, so test its shape).
    assert re.fullmatch(r"[0-9a-f]{32}", made.headers["Request-ID"])
    assert len(httpx.get(f"{url}/nowhere").headers["Request-ID"]) == 32


# TLS and where plain HTTP may listen (through the real command).

def _tls_files(tmp_path: Path) -> tuple[Path, Path]:
    return self_signed(tmp_path, x509.IPAddress(ipaddress.ip_address("127.0.0.1")))


def test_serve_speaks_tls_with_the_given_certificate(tmp_path: Path) -> None:
    cert, key = _tls_files(tmp_path)
    port = free_port()
    command = [sys.executable, "-m", "sgxra", "pccs", "serve", "--mode", "offline", "--db", str(tmp_path / "p.sqlite"),
               "--port", str(port), "--tls-cert", str(cert), "--tls-key", str(key)]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=os.environ.copy())
    try:
        base = f"https://127.0.0.1:{port}{V4}"
        trusted = ssl.create_default_context(cafile=str(cert))
        answer = _wait_for(lambda: httpx.get(f"{base}/rootcacrl", verify=trusted))
        assert "no root CA CRL is cached" in _refusal(answer, 404)["detail"]
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            httpx.get(f"{base}/rootcacrl")  # the default trust store does not know this certificate
        with pytest.raises(httpx.HTTPError):
            httpx.get(f"http://127.0.0.1:{port}{V4}/rootcacrl")  # no plain HTTP on the TLS port
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_serve_closes_a_connection_that_sends_no_request_in_time(tmp_path: Path) -> None:
    port = free_port()
    command = [sys.executable, "-m", "sgxra", "pccs", "serve", "--mode", "offline", "--db", str(tmp_path / "p.sqlite"),
               "--port", str(port), "--request-timeout", "0.5"]
    with running(command, tmp_path / "pccs.log", f"http://127.0.0.1:{port}"):
        with socket.create_connection(("127.0.0.1", port), timeout=10) as silent:
            started = time.monotonic()
            assert silent.recv(10) == b""  # closed by the server, not by our 10 s timeout
            assert time.monotonic() - started < 5
        assert httpx.get(f"http://127.0.0.1:{port}{V4}/rootcacrl").status_code == 404  # still serving


@pytest.mark.parametrize(("options", "message"), [
    (["--host", "0.0.0.0"], "needs --insecure-http"),
    (["--host", "10.1.2.3", "--tls-key", "{key}"], "--tls-cert and --tls-key go together"),
])
def test_serve_refuses_plain_http_beyond_loopback(tmp_path: Path, options: list[str], message: str) -> None:
    _, key = _tls_files(tmp_path)
    result = CliRunner().invoke(main, ["pccs", "serve", "--mode", "offline", "--db", str(tmp_path / "p.sqlite"),
                                       *(o.format(key=key) for o in options)])
    assert result.exit_code == 2 and message in result.output


def _wait_for(request: object) -> httpx.Response:
    deadline = time.monotonic() + 20
    while True:
        try:
            return request()  # type: ignore[operator,no-any-return]
        except httpx.ConnectError as e:
            if "CERTIFICATE" in str(e) or time.monotonic() > deadline:
                raise
            time.sleep(0.1)


@pytest.mark.skipif(not DCAP.is_dir(), reason=f"the real DCAP vectors are not at {DCAP}")
def test_platformcollateral_imports_verified_collateral(tmp_path: Path) -> None:
    pccs = service(tmp_path, Mode.OFFLINE, intel_sgx_root_ca(), Clock(NOW))
    bundle = SGX_COLLATERAL.read_bytes()
    with ServerThread(create_app(pccs, Tokens(sha512(ADMIN_TOKEN)))) as server:
        stored = httpx.put(f"{server.url}{V4}/platformcollateral", content=bundle, headers=ADMIN)
        tcb = httpx.get(f"{server.url}{V4}/tcb", params={"fmspc": "00A067110000"})
        forged = bundle.replace(b'"tcb_info_signature": "9a', b'"tcb_info_signature": "9b')
        refused = httpx.put(f"{server.url}{V3}/platformcollateral", content=forged, headers=ADMIN)
    assert stored.status_code == 200 and "tcb SGX/00A067110000 (standard)" in json.loads(stored.text)["stored"]
    assert tcb.status_code == 200 and tcb.headers["SGXRA-Collateral-Expired"] == "2025-07-19T10:56:11+00:00"
    assert forged != bundle
    assert "does not verify under the pinned root" in _refusal(refused, 400)["detail"]
