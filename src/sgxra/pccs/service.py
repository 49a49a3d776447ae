"""The PCCS's behaviour, apart from HTTP: cache modes, refresh at nextUpdate, verification before storing.

Modes (as Intel's PCCS): LAZY fetches a missing or due item from upstream (Intel's
PCS or another PCCS) on request; REQ fetches when a platform registers and
refreshes what it holds, but a runtime miss is a 404; OFFLINE never contacts
upstream and serves what was imported. Items are refreshed by their own
``nextUpdate`` (``refresh_margin`` before it), never by a fixed age. Nothing is
stored before it verifies under the pinned root; an item past its nextUpdate
is served only with :attr:`Served.warning` set (the API turns it into headers)
and a log line.
"""

from __future__ import annotations

import enum
import logging
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cryptography import x509

from sgxra.errors import SgxRaError
from sgxra.pccs.items import (
    PCK_CERT,
    PCK_CRL,
    QE,
    QVE,
    ROOT_CRL,
    ROOT_KEY,
    STANDARD,
    TCB,
    Item,
    answer_item,
    crl_item,
    crl_of,
    pck_cert_item,
    tcb_key,
    utc,
)
from sgxra.pccs.store import Store
from sgxra.pccs.trust import verify_item
from sgxra.pcs.cache import KeyLocks
from sgxra.pcs.client import PcsClient
from sgxra.pcs.key import CollateralKey, evaluation_query

log = logging.getLogger(__name__)
ZERO_PPID = "0" * 768
LOG_EVERY = timedelta(minutes=1)
MEMO_TTL = timedelta(seconds=10)
MEMO_MAX = 4096
_memo_only: ContextVar[bool] = ContextVar("pccs_memo_only", default=False)


class NotMemoized(Exception):
    """Raised under :func:`memo_only` when an answer needs the store or upstream (the caller retries in a thread)."""


@contextmanager
def memo_only() -> Iterator[None]:
    """Answer from memory only, raising :class:`NotMemoized` otherwise: safe to run on an event loop."""
    token = _memo_only.set(True)
    try:
        yield
    finally:
        _memo_only.reset(token)
ItemKey = tuple[str, str, str]


class Mode(enum.Enum):
    LAZY = "lazy"
    REQ = "req"
    OFFLINE = "offline"


class PccsRefusal(SgxRaError):
    """A request the PCCS cannot answer: its HTTP status, what is wrong and what to do about it."""

    def __init__(self, status: int, error: str, detail: str, remedy: str = "") -> None:
        self.status, self.error, self.detail, self.remedy = status, error, detail, remedy
        super().__init__(f"{error}: {detail}" + (f" ({remedy})" if remedy else ""))


@dataclass(frozen=True)
class Served:
    item: Item
    warning: str | None = None  # set when the item is past its nextUpdate or its refresh failed

    @property
    def expired_at(self) -> datetime:
        return utc(self.item.next_update)


@dataclass(frozen=True)
class Evaluation:
    """Which TCB evaluation data set: ``update`` (standard/early) or an explicit ``number``."""

    update: str = STANDARD
    number: int | None = None

    @property
    def variant(self) -> str:
        return str(self.number) if self.number is not None else self.update

    def query(self) -> str:
        return evaluation_query(self.update, self.number)


class PccsService:
    def __init__(
        self, store: Store, mode: Mode, root: x509.Certificate, *, clock: Callable[[], datetime],
        upstream: PcsClient | None = None, refresh_margin: timedelta = timedelta(hours=1),
        retry_failed_after: timedelta = timedelta(minutes=1),
    ) -> None:
        if mode is not Mode.OFFLINE and upstream is None:
            raise ValueError(f"{mode.value} mode needs an upstream PCS or PCCS")
        self.store, self.mode, self.root, self.clock = store, mode, root, clock
        self.upstream = upstream if mode is not Mode.OFFLINE else None
        self.refresh_margin = refresh_margin
        self.retry_failed_after = retry_failed_after
        self.fetches = 0
        self._locks = KeyLocks[ItemKey]()
        self._guard = threading.Lock()
        self._failed_until: dict[ItemKey, datetime] = {}
        self._logged_until: dict[ItemKey, datetime] = {}
        self._memo: dict[ItemKey, tuple[Item, datetime]] = {}

    # The getters behind the routes.

    def tcb(self, tee: str, fmspc: str, evaluation: Evaluation) -> Served:
        return self._serve(TCB, tcb_key(tee, fmspc), evaluation, f"{tee} TCB info for FMSPC {fmspc}")

    def qe_identity(self, tee: str, evaluation: Evaluation) -> Served:
        return self._serve(QE, tee, evaluation, f"{tee} QE identity")

    def qve_identity(self, evaluation: Evaluation) -> Served:
        return self._serve(QVE, "SGX", evaluation, "QvE identity")

    def pck_crl(self, ca: str) -> Served:
        return self._serve(PCK_CRL, ca, None, f"PCK CRL of the {ca} CA")

    def root_ca_crl(self) -> Served:
        return self._serve(ROOT_CRL, ROOT_KEY, None, "root CA CRL")

    def pck_cert(self, qeid: str, cpusvn: str, pcesvn: str, pceid: str, encrypted_ppid: str | None) -> Served:
        """The platform's PCK certificate for its raw TCB (CPUSVN, PCESVN little-endian hex)."""
        if _memo_only.get():
            raise NotMemoized(qeid)
        key = f"{qeid}/{pceid}"
        chosen = _select_pck_cert(self.store.variants(PCK_CERT, key), cpusvn, pcesvn)
        if chosen is not None:
            return self._flagged(chosen)
        what = f"PCK certificate of platform QEID {qeid} PCE-ID {pceid} at CPUSVN {cpusvn} PCESVN {pcesvn}"
        if self.mode is not Mode.LAZY or self.upstream is None:
            raise self._missing(what, registered=True)
        if not encrypted_ppid or encrypted_ppid == ZERO_PPID:
            raise PccsRefusal(404, "no cache data", f"no {what} is cached, and without an encrypted PPID (the request "
                              "sent none, or zeros) it cannot be fetched from PCS",
                              "register the platform (POST /platforms with enc_ppid) or import its PCK certificates")
        self._fetch_pck_certs(qeid, pceid, encrypted_ppid)
        chosen = _select_pck_cert(self.store.variants(PCK_CERT, key), cpusvn, pcesvn)
        if chosen is None:
            raise PccsRefusal(462, "certificates unavailable for this TCB", f"PCS has no {what}",
                              "the platform's TCB is below every level PCS certifies: update it and register again")
        return self._flagged(chosen)

    def register(self, platform: dict[str, Any]) -> None:
        """``POST /platforms``: REQ and LAZY fetch the platform's certificates and collateral now; OFFLINE queues."""
        qe_id, pce_id = platform["qe_id"], platform["pce_id"]
        self.store.register(qe_id, pce_id, platform, self._now())
        if self.mode is Mode.OFFLINE or self.upstream is None:
            return
        ppid = platform.get("enc_ppid") or ""
        if not ppid or ppid == ZERO_PPID:
            raise PccsRefusal(400, "invalid request", "a registration without enc_ppid cannot be fetched from PCS in "
                              f"{self.mode.value} mode", "send enc_ppid, or run the service in offline mode")
        items = self._fetch_pck_certs(qe_id, pce_id, ppid)
        fmspc, ca = items[0].meta_value("fmspc"), items[0].meta_value("ca")
        self.refresh_items([(TCB, tcb_key("SGX", fmspc), STANDARD), (QE, "SGX", STANDARD), (QVE, "SGX", STANDARD),
                            (PCK_CRL, ca, ""), (ROOT_CRL, ROOT_KEY, "")])

    # Refresh.

    def refresh_due(self) -> tuple[list[str], datetime | None]:
        """Refetch every item due (``refresh_margin`` before its nextUpdate); return their labels and the next due time."""
        if self.upstream is None:
            return [], None
        now = self.clock()
        due: list[Item] = []
        later: list[datetime] = []
        for item in self._refreshable():
            refresh_at = utc(item.next_update) - self.refresh_margin
            if now >= refresh_at:
                due.append(item)
            else:
                later.append(refresh_at)
        done = self.refresh_items([(i.kind, i.key, i.variant) for i in due])
        return done, min(later, default=None)

    def refresh_all(self) -> list[str]:
        """Refetch every refreshable item now (the admin ``refresh``)."""
        return self.refresh_items([(i.kind, i.key, i.variant) for i in self._refreshable()])

    def _refreshable(self) -> list[Item]:
        """Every stored item but PCK certificates: they have no nextUpdate; a new TCB means a new registration."""
        return [item for item in self.store.items() if item.kind != PCK_CERT]

    def refresh_items(self, keys: Iterable[ItemKey]) -> list[str]:
        """Refetch these items now (the admin ``refresh`` and registration); failures are logged and skipped."""
        if self.upstream is None:
            raise PccsRefusal(400, "invalid request", "an offline PCCS never contacts PCS",
                              "import fresh collateral with `sgxra pccs import`")
        done = []
        for kind, key, variant in keys:
            try:
                self._fetch_store((kind, key, variant), self._refetcher(kind, key, variant), f"{kind} {key}")
                done.append(f"{kind} {key} {variant}".strip())
            except PccsRefusal as e:
                log.warning("refreshing %s %s %s failed: %s", kind, key, variant, e)
        return done

    def _refetcher(self, kind: str, key: str, variant: str) -> Callable[[PcsClient], list[Item]]:
        """How to fetch item ``kind``/``key``/``variant`` from upstream (misses, refreshes and registration)."""
        evaluation = Evaluation(number=int(variant)) if variant.isdigit() else Evaluation(variant or STANDARD)
        if kind == TCB:
            tee, fmspc = key.split("/")
            tcb = CollateralKey(bytes.fromhex(fmspc), "processor", tee, evaluation.update, evaluation.number)
            return lambda c: [answer_item(TCB, key, variant, c.fetch_tcb_info(tcb), now=self._now())]
        if kind == QE:
            return lambda c: [answer_item(QE, key, variant, c.fetch_qe_identity(key, evaluation.query()), now=self._now())]
        if kind == QVE:
            return lambda c: [answer_item(QVE, key, variant, c.fetch_qve_identity(evaluation.query()), now=self._now())]
        if kind == PCK_CRL:
            return lambda c: [crl_item(PCK_CRL, key, *c.fetch_pck_crl(key), now=self._now())]
        if kind == ROOT_CRL:
            return lambda c: [crl_item(ROOT_CRL, key, c.fetch_root_ca_crl(), "", now=self._now())]
        raise PccsRefusal(400, "invalid request", f"items of kind {kind!r} are not refreshed")

    # Import, export, status.

    def import_items(self, items: Iterable[Item]) -> list[str]:
        """Verify and store each item; the newest copy of a CRL or an identity wins."""
        stored = []
        with self._guard:
            self._memo.clear()
        root_crl = self._current_root_crl()
        for item in sorted(items, key=lambda i: i.kind != ROOT_CRL):  # the root CRL first: it vets the others
            existing = self.store.get(item.kind, item.key, item.variant)
            if existing is not None and existing.issued > item.issued:
                continue
            self._verify(item, root_crl)
            self.store.put(item)
            if item.kind == ROOT_CRL:
                root_crl = crl_of(item)
            stored.append(item.label)
        return stored

    def status(self) -> list[dict[str, Any]]:
        now = self.clock().timestamp()
        return [{"kind": i.kind, "key": i.key, "variant": i.variant, "issued": utc(i.issued).isoformat(),
                 "next_update": utc(i.next_update).isoformat(), "fetched_at": utc(i.fetched_at).isoformat(),
                 "tcb_evaluation_data_number": i.number, "expired": now > i.next_update} for i in self.store.items()]

    # The machinery.

    def _now(self) -> int:
        return int(self.clock().timestamp())

    def _current_root_crl(self) -> x509.CertificateRevocationList | None:
        item = self.store.get(ROOT_CRL, ROOT_KEY, "")
        return crl_of(item) if item is not None else None

    def _verify(self, item: Item, root_crl: x509.CertificateRevocationList | None) -> None:
        try:
            verify_item(item, self.root, self.clock(), None if item.kind == ROOT_CRL else root_crl)
        except SgxRaError as e:
            log.error("refusing %s: it does not verify under the pinned root: %s", item.label, e)
            raise PccsRefusal(502 if self.upstream else 400, "integrity error",
                              f"{item.label} does not verify under the pinned root: {e}",
                              "check the upstream URL and the --root option") from e

    def _lookup(self, kind: str, key: str, evaluation: Evaluation | None) -> Item | None:
        variant = evaluation.variant if evaluation else ""
        item = self.store.get(kind, key, variant)
        if item is None and evaluation is not None and evaluation.number is not None:
            item = self.store.find_number(kind, key, evaluation.number)
        return item

    def _serve(self, kind: str, key: str, evaluation: Evaluation | None, what: str) -> Served:
        ident = (kind, key, evaluation.variant if evaluation else "")
        now = self.clock()
        memo = self._memo.get(ident)
        if memo is not None and now < memo[1]:
            return Served(memo[0])
        if _memo_only.get():
            raise NotMemoized(ident)
        item = self._lookup(kind, key, evaluation)
        if item is not None and now < utc(item.next_update) - self.refresh_margin:
            return self._fresh(ident, item, now)
        refetch = self.upstream is not None and (self.mode is Mode.LAZY or item is not None)
        if not refetch or (item is not None and now < self._failed_until.get(ident, now)):
            if item is None:
                raise self._missing(what, registered=False)
            return self._flagged(item)
        # A still-valid copy is served while another thread refreshes it; a miss waits for that fetch.
        usable = item is not None and now < utc(item.next_update)
        fetch = self._refetcher(*ident)
        with self._locks(ident, wait=not usable) as held:
            if not held and item is not None:
                return self._flagged(item)
            latest = self._lookup(kind, key, evaluation)
            if latest is not None and now < utc(latest.next_update) - self.refresh_margin:
                return self._fresh(ident, latest, now)
            try:
                return self._fresh(ident, self._fetch_store(ident, fetch, what, locked=True)[0], now)
            except PccsRefusal as e:
                if item is None:
                    raise
                with self._guard:
                    self._failed_until[ident] = now + self.retry_failed_after
                log.warning("refreshing %s failed (%s); serving the cached copy", what, e)
                return self._flagged(item, refresh_failed=str(e))

    def _fresh(self, ident: ItemKey, item: Item, now: datetime) -> Served:
        """Serve a fresh item, remembered in memory until it is due (at most ``MEMO_TTL``: replicas and imports
        write the shared store too)."""
        with self._guard:
            if len(self._memo) >= MEMO_MAX:
                self._memo.clear()
            self._memo[ident] = (item, min(utc(item.next_update) - self.refresh_margin, now + MEMO_TTL))
        return Served(item)

    def _fetch_store(self, ident: ItemKey, fetch: Callable[[PcsClient], list[Item]], what: str, *,
                     locked: bool = False) -> list[Item]:
        if self.upstream is None:
            raise self._missing(what, registered=False)
        if not locked:
            with self._locks(ident, wait=True):
                return self._fetch_store(ident, fetch, what, locked=True)
        try:
            items = fetch(self.upstream)
        except SgxRaError as e:
            log.warning("fetching %s from upstream failed: %s", what, e)
            status = getattr(e, "status_code", None)
            if status == 404:
                raise PccsRefusal(404, "no cache data", f"upstream has no {what}: {e}",
                                  "check the FMSPC or platform; PCS knows only registered platforms") from e
            raise PccsRefusal(502, "PCS access failure", f"{what} is not cached and upstream failed: {e}",
                              "check the upstream URL, API key and network; the error above says which") from e
        root_crl = self._current_root_crl()
        for item in items:
            self._verify(item, root_crl)
        for item in items:
            self.store.put(item)
        with self._guard:
            self.fetches += 1
            self._failed_until.pop(ident, None)
        log.info("fetched and stored %s", ", ".join(i.label for i in items))
        return items

    def _fetch_pck_certs(self, qeid: str, pceid: str, encrypted_ppid: str) -> list[Item]:
        key = f"{qeid}/{pceid}"
        try:
            return self._fetch_store(("pckcerts", key, ""), lambda client: self._pck_cert_items(
                client, qeid, pceid, encrypted_ppid), f"PCK certificates of platform {key}")
        except PccsRefusal as e:
            if e.status != 404:
                raise
            raise PccsRefusal(461, "platform unknown", f"PCS does not know platform QEID {qeid} PCE-ID {pceid}",
                              "register the platform with Intel (multi-package platforms: MPA registration), "
                              "then ask again") from e

    def _pck_cert_items(self, client: PcsClient, qeid: str, pceid: str, encrypted_ppid: str) -> list[Item]:
        answer = client.fetch_pck_certs(encrypted_ppid, pceid)
        if not answer.certs:
            raise PccsRefusal(462, "certificates unavailable for this TCB",
                              f"PCS has no PCK certificate for platform {qeid}/{pceid} at any TCB level")
        return [pck_cert_item(qeid, pceid, tcbm, cert, answer.chain, now=self._now()) for tcbm, cert in answer.certs]

    def _flagged(self, item: Item, refresh_failed: str | None = None) -> Served:
        """The item, with a warning (headers and log) when it is past its nextUpdate."""
        if self.clock().timestamp() <= item.next_update:
            return Served(item, f"refresh failed, serving the cached copy: {refresh_failed}" if refresh_failed else None)
        warning = f"{item.label} expired at {utc(item.next_update).isoformat()} (its nextUpdate)"
        now, ident = self.clock(), (item.kind, item.key, item.variant)
        with self._guard:  # once a minute per item: an offline PCCS may serve an expired item on every request
            quiet = now < self._logged_until.get(ident, now)
            if not quiet:
                self._logged_until[ident] = now + LOG_EVERY
        if not quiet:
            log.warning("serving %s: %s", warning, "refresh failed" if refresh_failed else f"{self.mode.value} mode")
        return Served(item, warning)

    def _missing(self, what: str, *, registered: bool) -> PccsRefusal:
        remedies = {
            Mode.OFFLINE: "this PCCS is offline: import the collateral with `sgxra pccs import` "
                          "(e.g. a file `sgxra collateral fetch` wrote)",
            Mode.REQ: "this PCCS fetches at registration only: register the platform (POST /platforms), "
                      "or ask an admin to `refresh`",
            Mode.LAZY: "this PCCS fetches on a miss but has no upstream answer",
        }
        detail = f"no {what} is cached"
        if registered and self.mode is not Mode.LAZY:
            detail += " for this platform"
        return PccsRefusal(404, "no cache data", detail, remedies[self.mode])


def _select_pck_cert(certs: list[Item], cpusvn: str, pcesvn: str) -> Item | None:
    """The certificate for exactly this TCB, else the highest one the raw TCB meets.

    Intel's PCKCertSelection orders levels by the TCB info; here a level is met when each
    of the 16 component SVNs and the PCESVN are at most the platform's, and the highest
    met (by component sum, then PCESVN) is chosen.
    """
    tcbm = (cpusvn + pcesvn).upper()
    for item in certs:
        if item.variant == tcbm:
            return item
    raw = bytes.fromhex(cpusvn)
    raw_pcesvn = int.from_bytes(bytes.fromhex(pcesvn), "little")
    best: tuple[tuple[int, int], Item] | None = None
    for item in certs:
        variant = bytes.fromhex(item.variant)
        components, cert_pcesvn = variant[:16], int.from_bytes(variant[16:], "little")
        if all(c <= r for c, r in zip(components, raw, strict=True)) and cert_pcesvn <= raw_pcesvn:
            rank = (sum(components), cert_pcesvn)
            if best is None or rank > best[0]:
                best = (rank, item)
    return best[1] if best else None

