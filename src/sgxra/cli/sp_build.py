"""Turn ``SpSettings`` into a running service provider's parts."""

from __future__ import annotations

import logging
import logging.handlers
import queue
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ec

from sgxra.cli.inputs import read_certificate
from sgxra.cli.keys import is_sample_key, load_sp_key, load_token_key
from sgxra.cli.sp_settings import SettingsError, SpSettings
from sgxra.crypto import private_key_from_le
from sgxra.ias import AsyncIasClient, AsyncIasVerifier, IasSettings
from sgxra.pcs import CollateralCache, PcsClient, PcsSettings
from sgxra.pcs.key import CollateralKey
from sgxra.pcs.verifier import DcapQuoteVerifier
from sgxra.protocol.service_provider import SpConfig
from sgxra.sim.sample_keys import SAMPLE_SP_PRIVATE_KEY_LE
from sgxra.transport.metrics import JsonLinesFormatter, SessionIdFilter, SpMetrics
from sgxra.transport.service import AttestationService, ServiceConfig
from sgxra.transport.store import MemoryStore, RedisStore, SessionStore, StateSealer
from sgxra.validate import Policy
from sgxra.validate.policy_file import DEFAULT_REPORT_MAX_AGE, PolicyFile, load_policy
from sgxra.verify.dcap import DcapVerifier
from sgxra.wire.collateral import Collateral
from sgxra.wire.quote import QuoteSignType

log = logging.getLogger("sgxra.sp")


def now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass
class Built:
    service: AttestationService
    token_key: ec.EllipticCurvePrivateKey | None = None  # signs trusted verdicts on the HTTP API
    closers: list[Callable[[], Awaitable[None]]] = field(default_factory=list)

    async def close(self) -> None:
        for close in reversed(self.closers):
            await close()


def configure_logging(settings: SpSettings) -> logging.handlers.QueueListener:
    """Logs to the file and stderr from a thread of their own: a slow or full log sink (a stderr
    pipe nobody reads) must not stall the event loop, and with it every session."""
    level = logging.DEBUG if settings.debug else logging.INFO if settings.verbose else logging.WARNING
    logger = logging.getLogger("sgxra")
    logger.setLevel(level)
    formatter = JsonLinesFormatter() if settings.log_json else \
        logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    sinks: list[logging.Handler] = [logging.StreamHandler(sys.stderr), logging.FileHandler(settings.log_file)]
    for handler in sinks:
        handler.setFormatter(formatter)
    records: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
    queued = logging.handlers.QueueHandler(records)
    queued.addFilter(SessionIdFilter())  # here, in the session's own context, not in the listener's thread
    logger.addHandler(queued)
    listener = logging.handlers.QueueListener(records, *sinks)
    listener.start()
    if settings.debug:
        log.warning("debug logging is on: session keys will be written to the log; never use it in production")
    return listener


def sp_config(settings: SpSettings, policy_file: PolicyFile | None) -> SpConfig:
    if settings.insecure_sample_key:
        key = private_key_from_le(SAMPLE_SP_PRIVATE_KEY_LE)
        log.warning("using Intel's published sample key: anyone can impersonate this service provider")
    elif settings.key_file:
        key = load_sp_key(Path(settings.key_file))
        if is_sample_key(key):
            raise SettingsError(f"{settings.key_file} holds Intel's published sample key; anyone can impersonate a "
                                "service provider using it (pass --insecure-sample-key to use it anyway)")
    else:
        raise SettingsError("no service provider key: create one with `sgxra keygen -o sp.key` and pass --key")
    if policy_file is not None:
        policy = policy_file.policy
    else:
        policy = Policy()
        log.warning("no policy file: every enclave will be refused (a policy must name MRSIGNER or MRENCLAVE)")
    quote_type = QuoteSignType.LINKABLE if settings.linkable else QuoteSignType.UNLINKABLE
    return SpConfig(signing_key=key, spid=settings.spid_bytes, policy=policy, quote_type=quote_type)


def build(settings: SpSettings) -> Built:
    """Everything but the listening sockets; call inside the event loop that will use it."""
    policy_file = load_policy(Path(settings.policy_file)) if settings.policy_file else None
    config = sp_config(settings, policy_file)
    store: SessionStore = MemoryStore()
    if settings.redis_url:
        store = RedisStore(settings.redis_url, sealer=StateSealer.load(settings.store_key_file))
    built_closers: list[Callable[[], Awaitable[None]]] = [store.close]
    metrics = SpMetrics()
    epid = sigrl = None
    primary, secondary = settings.ias_keys()
    if primary or secondary:
        max_age = policy_file.policy.max_report_age if policy_file is not None else DEFAULT_REPORT_MAX_AGE
        client = AsyncIasClient(IasSettings(base_url=settings.ias_base_url, api_version=settings.ias_api_version,
                                            primary_key=primary, secondary_key=secondary))
        epid = AsyncIasVerifier(client, clock=now, root=read_certificate(settings.ias_root),
                                max_age=max_age)
        sigrl = client
        built_closers.append(client.aclose)
    ecdsa = None
    if settings.pccs_url:
        pcs = PcsClient(PcsSettings(base_url=settings.pccs_url))
        Path(settings.collateral_cache).parent.mkdir(parents=True, exist_ok=True)
        def fetch(key: CollateralKey) -> Collateral:
            with metrics.timed("pcs"):
                return pcs.fetch(key)

        cache = CollateralCache(settings.collateral_cache, fetch)
        ecdsa = DcapQuoteVerifier(lambda key: cache.get(key, now=now()), clock=now,
                                  verifier=DcapVerifier(read_certificate(settings.dcap_root)))
    if epid is None and ecdsa is None:
        raise SettingsError("no verifier: configure IAS subscription keys (EPID) or a PCCS URL (DCAP), or both")
    secret = Path(settings.secret_file).read_bytes() if settings.secret_file else None
    token_key = load_token_key(settings.token_key_file) if settings.token_key_file else None
    service_config = ServiceConfig(sp=config, msg4_form="sample" if settings.msg4 == "sample" else "authenticated",
                                   secret=secret, session_ttl=settings.session_ttl)
    service = AttestationService(service_config, store, epid=epid, sigrl=sigrl, ecdsa=ecdsa, metrics=metrics)
    return Built(service, token_key, built_closers)
