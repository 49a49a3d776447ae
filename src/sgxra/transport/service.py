"""The service provider behind every transport: msg0||msg1 in, msg2 out; msg3 in, msg4 out.

It drives the sans-IO state machine, keeps the state between msg2 and msg3 in
a :class:`SessionStore` (so another replica can finish the session), asks the
right verifier for the quote in msg3 (EPID via IAS, ECDSA locally) and seals
the secret into msg4 only for a trusted enclave.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal, Protocol

from sgxra.errors import ServiceError, SgxRaError, UnknownSession, VerificationError
from sgxra.protocol.evidence import Evidence
from sgxra.protocol.msg4 import seal_msg4
from sgxra.protocol.service_provider import AttestationOutcome, EvidenceNeeded, ServiceProviderSession, SpConfig
from sgxra.protocol.state import SpPendingState
from sgxra.transport.metrics import SpMetrics, current_session
from sgxra.transport.store import MemoryStore, SessionStore
from sgxra.wire.quote import EpidQuote

log = logging.getLogger("sgxra.sp")


class AsyncVerifier(Protocol):
    def verify_quote(self, quote: bytes) -> Awaitable[Evidence]: ...


class SigRlSource(Protocol):
    def get_sigrl(self, gid: int) -> Awaitable[bytes]: ...


class SyncVerifier(Protocol):
    def verify_quote(self, quote: bytes) -> Evidence: ...


@dataclass(frozen=True)
class ServiceConfig:
    sp: SpConfig
    msg4_form: Literal["authenticated", "sample"] = "authenticated"
    secret: bytes | None = None
    session_ttl: float = 60.0  # seconds a session may wait between msg2 and msg3
    # Seconds a group's SigRL is reused. Safe: IAS answers SIGRL_VERSION_MISMATCH for a quote
    # made against an outdated SigRL, and policy refuses that status. 0 fetches it every time.
    sigrl_ttl: float = 30.0


@dataclass(frozen=True)
class Finished:
    msg4: bytes
    outcome: AttestationOutcome
    evidence: Literal["epid", "ecdsa"]


class AttestationService:
    def __init__(
        self,
        config: ServiceConfig,
        store: SessionStore,
        *,
        epid: AsyncVerifier | None = None,
        sigrl: SigRlSource | None = None,
        ecdsa: SyncVerifier | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        metrics: SpMetrics | None = None,
    ) -> None:
        if epid is None and ecdsa is None:
            raise ValueError("a service provider needs an EPID (IAS) or an ECDSA (DCAP) verifier")
        if config.msg4_form == "sample" and config.secret is not None:
            raise ValueError("the sample's msg4 has no room for a secret; use the authenticated msg4")
        self.config = config
        self.store = store
        self.epid = epid
        self.sigrl = sigrl
        self.ecdsa = ecdsa
        self._monotonic = monotonic
        self._sigrls: dict[int, tuple[float, bytes]] = {}
        self.metrics = metrics or SpMetrics()

    def exposition(self) -> bytes:
        """The metrics in Prometheus' text format."""
        if isinstance(self.store, MemoryStore):
            self.metrics.pending.set(len(self.store))
        return self.metrics.exposition()

    async def start(self, msg0_msg1: bytes) -> tuple[str, bytes]:
        """Process msg0||msg1; return the new session's id and msg2."""
        session_id = secrets.token_urlsafe(18)
        current_session.set(session_id)
        with self._counting_errors():
            sp = ServiceProviderSession(self.config.sp)
            need = sp.receive_msg0_msg1(msg0_msg1)
            msg2 = sp.send_msg2(await self._sigrl_for(need.gid))
            await self.store.put(session_id, sp.pending.to_json(), self.config.session_ttl)
        log.info("session %s: msg1 from EPID group %08x, msg2 sent", session_id, need.gid)
        if log.isEnabledFor(logging.DEBUG):
            log.debug("session %s: msg2 %s", session_id, msg2.hex())
        return session_id, msg2

    async def _sigrl_for(self, gid: int) -> bytes:
        if not gid or self.sigrl is None:  # ECDSA platforms announce EPID group 0 and have no SigRL
            return b""
        cached = self._sigrls.get(gid)
        now = self._monotonic()
        if cached is not None and now < cached[0]:
            return cached[1]
        with self.metrics.timed("ias"):
            sig_rl = await self.sigrl.get_sigrl(gid)
        if self.config.sigrl_ttl > 0:
            if len(self._sigrls) > 10_000:  # bounded: groups are few, but ids come from clients
                self._sigrls.clear()
            self._sigrls[gid] = (now + self.config.sigrl_ttl, sig_rl)
        return sig_rl

    async def finish(self, session_id: str, msg3: bytes) -> Finished:
        """Process msg3 for a session started here or on any replica sharing the store."""
        current_session.set(session_id)
        with self._counting_errors():
            finished = await self._finish(session_id, msg3)
        outcome = finished.outcome
        self.metrics.attestations.labels(outcome.msg4.status.name, outcome.reason_code.name, finished.evidence).inc()
        return finished

    @contextmanager
    def _counting_errors(self) -> Iterator[None]:
        try:
            yield
        except SgxRaError as e:
            self.metrics.session_errors.labels(type(e).__name__).inc()
            raise

    async def _finish(self, session_id: str, msg3: bytes) -> Finished:
        unknown = UnknownSession(f"no pending session {session_id!r} (unknown, finished or expired)")
        pending = await self.store.get(session_id)
        if pending is None:
            raise unknown
        sp = ServiceProviderSession.resume(self.config.sp, SpPendingState.from_json(pending.state))
        # g_a and the MAC are checked before the session is claimed: a forged msg3 leaves it pending,
        # and of two authentic msg3 racing, only the one that claims it goes on.
        need = sp.receive_msg3(msg3)
        if not await self.store.claim(session_id, pending):
            raise unknown
        evidence_type: Literal["epid", "ecdsa"] = "epid" if isinstance(need.parsed, EpidQuote) else "ecdsa"
        try:
            evidence = await self._verify(need)
        except ServiceError as e:
            log.warning("session %s: attestation service failed: %s", session_id, e)
            outcome = sp.service_unavailable(e)
        except SgxRaError as e:  # not genuine, or malformed inside (a PCK certificate that does not parse)
            outcome = sp.refuse_evidence(e)
        except Exception:  # a verifier bug must not leave the client without msg4: fail closed, and say so
            log.exception("session %s: the verifier failed unexpectedly", session_id)
            outcome = sp.refuse_evidence(VerificationError("the verifier failed unexpectedly on this quote"))
        else:
            outcome = sp.receive_evidence(evidence)
        log.info("session %s: %s (%s)", session_id, outcome.msg4.status.name, outcome.reason)
        if log.isEnabledFor(logging.DEBUG):
            sk, mk = sp.keys
            log.debug("session %s: SK %s MK %s (debug logging shows session keys)", session_id, sk.hex(), mk.hex())
        return Finished(self._msg4(sp, outcome), outcome, evidence_type)

    async def _verify(self, need: EvidenceNeeded) -> Evidence:
        quote = need.quote
        if isinstance(need.parsed, EpidQuote):
            if self.epid is None:
                raise VerificationError("this service provider does not accept EPID quotes (no IAS configured)")
            with self.metrics.timed("ias"):
                return await self.epid.verify_quote(quote)
        if self.ecdsa is None:
            raise VerificationError("this service provider does not accept ECDSA quotes (no DCAP configured)")
        # Off the event loop: collateral may have to be fetched, and verification is CPU work.
        return await asyncio.to_thread(self.ecdsa.verify_quote, quote)

    def _msg4(self, sp: ServiceProviderSession, outcome: AttestationOutcome) -> bytes:
        if self.config.msg4_form == "sample":
            return outcome.msg4.to_bytes()
        sk, mk = sp.keys
        return seal_msg4(
            outcome.msg4.status, outcome.reason_code, outcome.msg4.platform_info_blob, sk=sk, mk=mk,
            secret=self.config.secret if outcome.trusted else None,
        )
