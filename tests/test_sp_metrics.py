"""Prometheus metrics on /metrics after a few sessions, and JSON-lines logs with the session id (issue 11,
point 7)."""

from __future__ import annotations

import json
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from loopback import free_port, wait_for_port
from sgxra.transport.background import UvicornThread
from sgxra.transport.client import attest_http
from sp_env import SGXRA, client, http_sp, mock_ias
from test_sp_program import client_args, workdir  # noqa: F401 - workdir is a fixture


@pytest.fixture(scope="module")
def ias() -> Iterator[UvicornThread]:
    with mock_ias() as server:
        yield server


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def value(scraped: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float:
    return scraped.get((name, frozenset(labels.items())), 0.0)


def test_metrics_count_sessions_verdicts_errors_and_refusals(ias: UvicornThread) -> None:
    with http_sp(ias.url, max_message=4096) as sp, httpx.Client(base_url=sp.url) as http:
        assert attest_http(client(), sp.url).trusted and attest_http(client(), sp.url).trusted
        assert not attest_http(client("out-of-date"), sp.url).trusted
        session = client()  # a forged msg3: an error, and the session stays pending
        started = http.post("/v1/attestations", json={"msg0_msg1": session.start().hex()}).json()
        forged = bytearray(session.receive_msg2(bytes.fromhex(started["msg2"])))
        forged[0] ^= 1
        assert http.post(f"/v1/attestations/{started['session_id']}/msg3", json={"msg3": forged.hex()}).status_code == 400
        assert http.post("/v1/attestations", content=b"{" * 20000).status_code == 413
        assert http.post("/v1/attestations", json={"msg0_msg1": "00" * 10}).status_code == 400
        answer = http.get("/metrics")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/plain")
    scraped = samples(answer.text)
    assert value(scraped, "sgxra_attestations_total", verdict="Trusted", reason_code="NONE", evidence="epid") == 2
    assert value(scraped, "sgxra_attestations_total", verdict="NotTrusted_ItsComplicated",
                 reason_code="PLATFORM_UPDATE_NEEDED", evidence="epid") == 1
    assert value(scraped, "sgxra_session_errors_total", error="BadMac") == 1
    assert value(scraped, "sgxra_session_errors_total", error="MalformedMessage") == 1
    assert value(scraped, "sgxra_refusals_total", limit="body_size") == 1
    assert value(scraped, "sgxra_attestation_service_request_seconds_count", service="ias") >= 3  # 3 reports
    assert value(scraped, "sgxra_attestation_service_errors_total", service="ias") == 0
    assert value(scraped, "sgxra_sessions_pending") == 1  # the forged msg3's session
    assert value(scraped, "sgxra_sessions_in_flight", transport="http") == 1  # the scrape itself


def test_metrics_port_and_json_logs_of_a_tcp_only_sp(workdir: Path) -> None:  # noqa: F811
    port, metrics_port = free_port(), free_port()
    sp = subprocess.Popen([*SGXRA, "sp", "--settings", str(workdir / "settings.toml"), "--port", str(port),
                           "--metrics-port", str(metrics_port), "--log-json"],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for_port(metrics_port, sp)
        tcp = subprocess.run(client_args(workdir, "--port", str(port)), capture_output=True, text=True, timeout=60)
        assert tcp.returncode == 0, tcp.stderr
        scraped = samples(httpx.get(f"http://127.0.0.1:{metrics_port}/metrics").text)
        assert httpx.get(f"http://127.0.0.1:{metrics_port}/v1/attestations").status_code in (404, 405)
    finally:
        sp.send_signal(signal.SIGTERM)
        sp.communicate(timeout=30)
    assert value(scraped, "sgxra_attestations_total", verdict="Trusted", reason_code="NONE", evidence="epid") == 1
    assert value(scraped, "sgxra_sessions_in_flight", transport="tcp") == 0
    lines = [json.loads(line) for line in (workdir / "sp.log").read_text().splitlines()]
    assert all(set(line) >= {"time", "level", "logger", "message", "session_id"} for line in lines)
    session_lines = [line for line in lines if line["session_id"]]
    ids = {line["session_id"] for line in session_lines}
    assert len(ids) == 1 and len(session_lines) >= 2  # msg2 sent, then the verdict, under one session id
    assert any("Trusted (trusted)" in line["message"] for line in session_lines)
