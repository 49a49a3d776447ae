"""The HTTP/JSON API, and replicas sharing a real redis-server."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from sgxra.errors import ServiceError
from sgxra.transport.background import UvicornThread
from sgxra.transport.client import attest_http
from sgxra.transport.store import MemoryStore
from sp_env import SECRET, client, http_sp, mock_ias, redis_server


@pytest.fixture(scope="module")
def ias() -> Iterator[UvicornThread]:
    with mock_ias() as server:
        yield server


def test_http_end_to_end(ias: UvicornThread) -> None:
    with http_sp(ias.url) as sp:
        verdict = attest_http(client(), sp.url)
        spec = httpx.get(sp.url + "/openapi.json").json()
    assert verdict.trusted and verdict.secret == SECRET and verdict.authenticated
    assert "/v1/attestations" in spec["paths"] and "/v1/attestations/{session_id}/msg3" in spec["paths"]


def test_http_errors_are_clear(ias: UvicornThread) -> None:
    with http_sp(ias.url, max_message=4096) as sp, httpx.Client(base_url=sp.url) as http:
        assert http.post("/v1/attestations", json={"msg0_msg1": "zz"}).status_code == 422
        assert http.post("/v1/attestations", json={"msg0_msg1": "abc"}).status_code == 422
        short = http.post("/v1/attestations", json={"msg0_msg1": "00" * 10})
        assert short.status_code == 400 and short.json()["error"] == "MalformedMessage"
        assert http.post("/v1/attestations", content=b"{" * 20000,
                         headers={"content-type": "application/json"}).status_code == 413
        unknown = http.post("/v1/attestations/nope/msg3", json={"msg3": "00"})
        assert unknown.status_code == 404 and unknown.json()["error"] == "UnknownSession"
        # A msg3 replayed into its finished session finds nothing.
        session = client()
        started = http.post("/v1/attestations", json={"msg0_msg1": session.start().hex()}).json()
        msg3 = session.receive_msg2(bytes.fromhex(started["msg2"])).hex()
        url = f"/v1/attestations/{started['session_id']}/msg3"
        assert http.post(url, json={"msg3": msg3}).status_code == 200
        assert http.post(url, json={"msg3": msg3}).status_code == 404
        # The server still serves well-formed sessions.
        assert attest_http(client(), sp.url).trusted


def test_bad_msg3_is_a_400_not_a_crash(ias: UvicornThread) -> None:
    with http_sp(ias.url) as sp, httpx.Client(base_url=sp.url) as http:
        session = client()
        started = http.post("/v1/attestations", json={"msg0_msg1": session.start().hex()}).json()
        msg3 = bytearray(session.receive_msg2(bytes.fromhex(started["msg2"])))
        msg3[0] ^= 1
        answer = http.post(f"/v1/attestations/{started['session_id']}/msg3", json={"msg3": msg3.hex()})
        assert answer.status_code == 400 and answer.json()["error"] == "BadMac"


def test_two_replicas_share_sessions_through_redis(ias: UvicornThread, tmp_path: Path) -> None:
    with redis_server(tmp_path) as (url, _), http_sp(ias.url, url) as a, http_sp(ias.url, url) as b:
        session = client()
        started = httpx.post(a.url + "/v1/attestations", json={"msg0_msg1": session.start().hex()}).json()
        msg3 = session.receive_msg2(bytes.fromhex(started["msg2"]))
        done = httpx.post(f"{b.url}/v1/attestations/{started['session_id']}/msg3", json={"msg3": msg3.hex()})
        assert done.status_code == 200, done.text
        verdict = session.receive_msg4(bytes.fromhex(done.json()["msg4"]))
        assert verdict.trusted and verdict.secret == SECRET


def test_replica_restarted_between_msg2_and_msg3(ias: UvicornThread, tmp_path: Path) -> None:
    with redis_server(tmp_path) as (url, _):
        session = client()
        with http_sp(ias.url, url) as first:
            started = httpx.post(first.url + "/v1/attestations", json={"msg0_msg1": session.start().hex()}).json()
        msg3 = session.receive_msg2(bytes.fromhex(started["msg2"]))
        with http_sp(ias.url, url) as restarted:
            done = httpx.post(f"{restarted.url}/v1/attestations/{started['session_id']}/msg3",
                              json={"msg3": msg3.hex()})
        assert done.status_code == 200 and session.receive_msg4(bytes.fromhex(done.json()["msg4"])).trusted


def test_memory_store_does_not_share_between_replicas(ias: UvicornThread) -> None:
    with http_sp(ias.url) as a, http_sp(ias.url) as b:
        session = client()
        started = httpx.post(a.url + "/v1/attestations", json={"msg0_msg1": session.start().hex()}).json()
        msg3 = session.receive_msg2(bytes.fromhex(started["msg2"]))
        done = httpx.post(f"{b.url}/v1/attestations/{started['session_id']}/msg3", json={"msg3": msg3.hex()})
        assert done.status_code == 404


def test_redis_down_gives_503_then_recovers(ias: UvicornThread, tmp_path: Path) -> None:
    with redis_server(tmp_path) as (url, proc), http_sp(ias.url, url) as sp:
        assert attest_http(client(), sp.url).trusted
        proc.kill()
        proc.wait()
        with pytest.raises(ServiceError, match="HTTP 503") as info:
            attest_http(client(), sp.url)
        assert "Redis session store unavailable" in str(info.value)
        with redis_server(tmp_path, port=int(url.rsplit(":", 1)[1].split("/")[0])):
            assert attest_http(client(), sp.url).trusted


def test_memory_store_reclaims_expired_sessions() -> None:
    clock = [0.0]
    store = MemoryStore(max_entries=3, clock=lambda: clock[0])

    async def scenario() -> None:
        for i in range(3):
            await store.put(str(i), "state", ttl=10)
        clock[0] = 11
        await store.put("new", "state", ttl=10)  # full, but the expired ones are reclaimed
        assert len(store) == 1 and await store.get("0") is None
        pending = await store.get("new")
        assert pending is not None and pending.state == "state" and await store.claim("new", pending)
        assert await store.get("new") is None and not await store.claim("new", pending)

    asyncio.run(scenario())
