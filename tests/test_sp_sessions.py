"""Session integrity: a forged msg3 cannot cancel a session, racing msg3s finish it once, and sessions
sealed at rest in Redis (issue 11, points 2 and 5)."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from sgxra.errors import BadMac, KeyMismatch, StoreUnavailable, UnknownSession
from sgxra.protocol.state import SpPendingState
from sgxra.transport.background import UvicornThread
from sgxra.transport.service import AttestationService, Finished
from sgxra.transport.store import (
    KEY_PREFIX,
    MemoryStore,
    SessionStateRefused,
    SessionStore,
    StateSealer,
    StoreConfigError,
)
from sp_env import SECRET, STORE_SEALER, client, make_service, mock_ias, redis_server, redis_store

OTHER_KEY = hashlib.sha256(b"another store key").digest()


@pytest.fixture(scope="module")
def ias() -> Iterator[UvicornThread]:
    with mock_ias() as server:
        yield server


@pytest.fixture(params=["memory", "redis"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str | None]:
    if request.param == "memory":
        yield None
    else:
        with redis_server(tmp_path) as (url, _):
            yield url


async def service_on(ias_url: str, url: str | None, sealer: StateSealer = STORE_SEALER) -> AttestationService:
    store: SessionStore = redis_store(url, sealer) if url else MemoryStore()
    service, _ = await make_service(ias_url, store=store)
    return service


def test_forged_msg3_leaves_the_session_to_the_honest_one(ias: UvicornThread, store_url: str | None) -> None:
    async def scenario() -> None:
        service = await service_on(ias.url, store_url)
        session = client()
        session_id, msg2 = await service.start(session.start())
        msg3 = session.receive_msg2(msg2)
        bad_mac = bytearray(msg3)
        bad_mac[0] ^= 1
        with pytest.raises(BadMac):
            await service.finish(session_id, bytes(bad_mac))
        other_g_a = bytearray(msg3)
        other_g_a[16] ^= 1  # g_a follows the 16-byte MAC
        with pytest.raises(KeyMismatch):
            await service.finish(session_id, bytes(other_g_a))
        done = await service.finish(session_id, msg3)
        verdict = session.receive_msg4(done.msg4)
        assert verdict.trusted and verdict.secret == SECRET
        with pytest.raises(UnknownSession):  # and only once
            await service.finish(session_id, msg3)
        await service.store.close()

    asyncio.run(scenario())


def test_racing_honest_msg3s_finish_the_session_once(ias: UvicornThread, store_url: str | None) -> None:
    async def scenario() -> list[Finished | BaseException]:
        service = await service_on(ias.url, store_url)
        session = client()
        session_id, msg2 = await service.start(session.start())
        msg3 = session.receive_msg2(msg2)
        results = await asyncio.gather(*(service.finish(session_id, msg3) for _ in range(8)), return_exceptions=True)
        await service.store.close()
        return results

    results = asyncio.run(scenario())
    won = [r for r in results if isinstance(r, Finished)]
    assert len(won) == 1 and won[0].outcome.trusted
    assert all(isinstance(r, UnknownSession) for r in results if not isinstance(r, Finished))


def raw_redis(url: str) -> redis.Redis:
    return redis.Redis.from_url(url)


def test_redis_holds_sealed_state_and_refuses_altered_or_moved_entries(ias: UvicornThread, tmp_path: Path) -> None:
    with redis_server(tmp_path) as (url, _):
        raw = raw_redis(url)

        async def scenario() -> None:
            service = await service_on(ias.url, url)
            first, second = client(), client()
            first_id, first_msg2 = await service.start(first.start())
            second_id, second_msg2 = await service.start(second.start())
            stored = raw.get(KEY_PREFIX + first_id)
            assert isinstance(stored, bytes)
            state = SpPendingState.from_json(STORE_SEALER.open(first_id, stored.decode()))
            for secret in (state.sk, state.mk, state.smk, state.vk):
                assert secret not in stored and secret.hex().encode() not in stored
                assert secret.hex().upper().encode() not in stored
            # Moved: the first session's entry under the second's id does not open there.
            raw.set(KEY_PREFIX + second_id, stored, px=60_000)
            with pytest.raises(SessionStateRefused):
                await service.finish(second_id, second.receive_msg2(second_msg2))
            # Altered: one flipped character of the sealed value.
            altered = bytearray(stored)
            altered[-5] = ord("A") if altered[-5] != ord("A") else ord("B")
            raw.set(KEY_PREFIX + first_id, bytes(altered), px=60_000)
            msg3 = first.receive_msg2(first_msg2)
            with pytest.raises(SessionStateRefused):
                await service.finish(first_id, msg3)
            # Put back as it was, it opens and finishes.
            raw.set(KEY_PREFIX + first_id, stored, px=60_000)
            assert (await service.finish(first_id, msg3)).outcome.trusted
            await service.store.close()

        asyncio.run(scenario())


def test_replicas_share_a_store_key_and_rotate_it(ias: UvicornThread, tmp_path: Path) -> None:
    old = STORE_SEALER
    rotated = StateSealer({"k2": OTHER_KEY, "k1": hashlib.sha256(b"sp test store key").digest()})
    stranger = StateSealer({"k1": OTHER_KEY})
    with redis_server(tmp_path) as (url, _):
        async def scenario() -> None:
            first, second, third = [await service_on(ias.url, url, s) for s in (old, rotated, stranger)]
            # Started on a replica sealing under k1; finished on one that seals under k2 but still opens k1.
            session = client()
            session_id, msg2 = await first.start(session.start())
            done = await second.finish(session_id, session.receive_msg2(msg2))
            assert session.receive_msg4(done.msg4).secret == SECRET
            # A replica whose k1 is another key refuses the entry rather than trusting it.
            session = client()
            session_id, msg2 = await first.start(session.start())
            with pytest.raises(SessionStateRefused):
                await third.finish(session_id, session.receive_msg2(msg2))
            # An entry sealed under k2 is refused by a replica that does not know k2.
            session = client()
            session_id, msg2 = await second.start(session.start())
            assert raw_redis(url).get(KEY_PREFIX + session_id).startswith(b"s1.k2.")  # type: ignore[union-attr]
            with pytest.raises(SessionStateRefused, match="unknown store key 'k2'"):
                await first.finish(session_id, session.receive_msg2(msg2))
            for service in (first, second, third):
                await service.store.close()

        asyncio.run(scenario())


def test_redis_with_a_password(ias: UvicornThread, tmp_path: Path) -> None:
    with redis_server(tmp_path, password="s3cret-pass") as (url, _):
        assert ":s3cret-pass@" in url

        async def scenario() -> None:
            service = await service_on(ias.url, url)
            session = client()
            session_id, msg2 = await service.start(session.start())
            assert (await service.finish(session_id, session.receive_msg2(msg2))).outcome.trusted
            await service.store.close()
            wrong = await service_on(ias.url, url.replace("s3cret-pass", "wrong"))
            with pytest.raises(StoreUnavailable):
                await wrong.start(client().start())
            await wrong.store.close()

        asyncio.run(scenario())


def test_store_urls_and_keys_are_checked() -> None:
    assert redis_store("rediss://:pw@127.0.0.1:6380/0").uses_tls
    assert not redis_store("redis://127.0.0.1:6379/0").uses_tls
    with pytest.raises(StoreConfigError, match="rediss://"):
        redis_store("http://127.0.0.1:6379/0")
    key = "ab" * 32
    assert StateSealer.parse(f"new:{key}, old:{'cd' * 32}", "env").key_id == "new"
    for bad, message in ((f"k1:{key[:-2]}", "64-hex"), (f"k1:{key} k1:{key}", "twice"), ("", "64-hex"),
                         (f"bad.id:{key}", "letters")):
        with pytest.raises(StoreConfigError, match=message):
            StateSealer.parse(bad, "test")
