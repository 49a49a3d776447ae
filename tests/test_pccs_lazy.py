"""LAZY and REQ modes in front of the PCS mock, over real HTTP on loopback, with a test clock."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx
from cryptography import x509

from dcap_env import NOW, PKI, QE, spec
from pccs_env import ADMIN_TOKEN, USER_TOKEN, Clock, service, sha512, upstream_for
from servers import ServerThread
from sgxra.pccs.api import create_app
from sgxra.pccs.guard import Tokens
from sgxra.pccs.service import Evaluation, Mode, PccsService
from sgxra.pcs.mock import MockPcs
from sgxra.pcs.mock import create_app as mock_app
from sgxra.sim.dcap_pki import SimIntelPki
from sgxra.sim.dcap_qe import DEFAULT_FMSPC

FMSPC = DEFAULT_FMSPC.hex().upper()
V4 = "/sgx/certification/v4"
TCB = f"{V4}/tcb?fmspc={FMSPC}"
PPID = "AB" * 384


@dataclass
class Setup:
    """The PCS mock (``pcs``, serving ``mock`` at ``clock``) and a PCCS in front of it (``service`` at ``url``)."""

    clock: Clock
    mock: MockPcs
    pcs: ServerThread
    service: PccsService
    url: str

    def get(self, route: str, **params: str) -> httpx.Response:
        return httpx.get(self.url + route, params=params or None)  # empty params would drop the route's own query


@contextmanager
def in_front_of_mock(tmp_path: Path, mode: Mode = Mode.LAZY, root: x509.Certificate = PKI.root,
                     **options: object) -> Iterator[Setup]:
    clock = Clock(NOW)
    mock = MockPcs(PKI, {DEFAULT_FMSPC: spec(validity=timedelta(hours=3))}, clock)
    mock.pck_certs[PPID] = [QE.pck_certificate]
    with ServerThread(mock_app(mock)) as pcs:
        pccs = service(tmp_path, mode, root, clock, upstream=upstream_for(pcs.url), **options)
        with ServerThread(create_app(pccs, Tokens(sha512(ADMIN_TOKEN), sha512(USER_TOKEN)))) as server:
            yield Setup(clock, mock, pcs, pccs, server.url)


def _pckcert_params() -> dict[str, str]:
    ext = QE.extension
    return {"qeid": "11" * 16, "cpusvn": ext.cpusvn.hex(), "pcesvn": ext.pcesvn.to_bytes(2, "little").hex(),
            "pceid": ext.pce_id.hex(), "encrypted_ppid": PPID}


def test_lazy_fetches_once_refreshes_at_next_update_and_serves_through_an_outage(tmp_path: Path) -> None:
    with in_front_of_mock(tmp_path, refresh_margin=timedelta(hours=1)) as s:
        first = s.get(TCB)
        assert first.status_code == 200 and s.mock.requests == {"tcb": 1}
        second = s.get(TCB)
        assert second.content == first.content and s.mock.requests == {"tcb": 1}  # from the store
        assert second.headers["Cache-Control"] == f"max-age={2 * 3600}"  # up to the refresh time
        # Two hours on, an hour before its nextUpdate, the item is due and fetched anew.
        s.clock.now = NOW + timedelta(hours=2)
        third = s.get(TCB)
        assert third.status_code == 200 and s.mock.requests == {"tcb": 2}
        assert json.loads(third.content)["tcbInfo"]["issueDate"] == "2026-11-27T14:00:00Z"
        s.pcs.__exit__(None, None, None)  # PCS goes down (leaving the block stops it again: harmless)
        down = s.get(TCB)
        assert down.status_code == 200 and down.content == third.content and "Warning" not in down.headers
        # Past the refresh time with PCS down: still valid, served with word of the failed refresh.
        s.clock.now = NOW + timedelta(hours=4, minutes=30)
        stale = s.get(TCB)
        assert stale.status_code == 200 and stale.headers["Warning"].startswith('111 sgxra "refresh failed')
        assert "SGXRA-Collateral-Expired" not in stale.headers
        # Past its nextUpdate: served only with the expiry in a header.
        s.clock.now = NOW + timedelta(hours=5, seconds=1)
        expired = s.get(TCB)
        assert expired.status_code == 200 and expired.headers["SGXRA-Collateral-Expired"] == "2026-11-27T17:00:00+00:00"
        assert expired.headers["Warning"].startswith("110 sgxra")
        # Something never cached cannot be served while PCS is down: 502, not a puzzling 404.
        missing = s.get(f"{V4}/qe/identity")
        assert missing.status_code == 502 and json.loads(missing.text)["error"] == "PCS access failure"


def test_every_collateral_route_fetches_on_a_miss_and_serves_from_the_store(tmp_path: Path) -> None:
    routes = [TCB, f"{V4}/qe/identity?update=standard", f"{V4}/pckcrl?ca=processor", f"{V4}/rootcacrl",
              "/sgx/certification/v3/pckcrl?ca=processor&encoding=der"]
    with in_front_of_mock(tmp_path) as s:
        for _ in range(2):
            assert [s.get(route).status_code for route in routes] == [200] * len(routes)
    assert s.mock.requests == {"tcb": 1, "qe/identity": 1, "pckcrl": 1, "rootcacrl": 1}


def test_lazy_fetches_pck_certificates_with_the_encrypted_ppid(tmp_path: Path) -> None:
    with in_front_of_mock(tmp_path) as s:
        answers = [s.get(f"{V4}/pckcert", **_pckcert_params()) for _ in range(2)]
        no_ppid = s.get(f"{V4}/pckcert", **_pckcert_params() | {"qeid": "22" * 16, "encrypted_ppid": "0" * 768})
        unknown = s.get(f"{V4}/pckcert", **_pckcert_params() | {"qeid": "33" * 16, "encrypted_ppid": "CD" * 384})
    assert [a.status_code for a in answers] == [200, 200] and s.mock.requests == {"pckcerts": 2}
    assert answers[0].headers["SGX-FMSPC"] == FMSPC and answers[0].headers["SGX-PCK-Certificate-CA-Type"] == "processor"
    assert no_ppid.status_code == 404 and "encrypted PPID" in json.loads(no_ppid.text)["detail"]
    assert unknown.status_code == 461 and json.loads(unknown.text)["error"] == "platform unknown"


def test_collateral_not_signed_under_the_pinned_root_is_refused_and_not_stored(tmp_path: Path) -> None:
    with in_front_of_mock(tmp_path, root=SimIntelPki(NOW).root) as s:
        answer = s.get(TCB)
    assert answer.status_code == 502 and json.loads(answer.text)["error"] == "integrity error"
    assert s.service.store.items() == []


def test_scheduled_refresh_follows_next_update(tmp_path: Path) -> None:
    with in_front_of_mock(tmp_path, refresh_margin=timedelta(minutes=30)) as s:
        s.service.tcb("SGX", FMSPC, Evaluation())
        assert s.service.refresh_due() == ([], NOW + timedelta(hours=2, minutes=30))
        s.clock.now = NOW + timedelta(hours=2, minutes=30)
        done, next_due = s.service.refresh_due()
    assert done == [f"tcb SGX/{FMSPC} standard"] and next_due is None and s.mock.requests == {"tcb": 2}


def test_admin_refresh_refetches_everything_cached(tmp_path: Path) -> None:
    with in_front_of_mock(tmp_path) as s:
        s.get(TCB)
        s.get(f"{V4}/pckcrl", ca="platform")
        refreshed = httpx.post(f"{s.url}{V4}/refresh", headers={"admin-token": ADMIN_TOKEN})
    assert refreshed.status_code == 200
    assert sorted(json.loads(refreshed.text)["refreshed"]) == ["pckcrl platform", f"tcb SGX/{FMSPC} standard"]
    assert s.mock.requests == {"tcb": 2, "pckcrl": 2}


def test_req_mode_fetches_at_registration_and_a_runtime_miss_says_so(tmp_path: Path) -> None:
    with in_front_of_mock(tmp_path, Mode.REQ) as s:
        miss = s.get(TCB)
        body = {"qe_id": "11" * 16, "pce_id": QE.extension.pce_id.hex(), "enc_ppid": PPID}
        registered = httpx.post(f"{s.url}{V4}/platforms", json=body, headers={"user-token": USER_TOKEN})
        fetched = dict(s.mock.requests)
        hits = [s.get(TCB), s.get(f"{V4}/pckcert", **_pckcert_params())]
    assert miss.status_code == 404 and "register the platform" in json.loads(miss.text)["remedy"]
    assert registered.status_code == 200, registered.text
    # Everything the platform needs (the mock has no QvE identity: that one is logged and skipped).
    assert fetched == {"pckcerts": 1, "tcb": 1, "qe/identity": 1, "pckcrl": 1, "rootcacrl": 1}
    assert [h.status_code for h in hits] == [200, 200] and s.mock.requests == fetched


def test_without_a_margin_an_item_is_refetched_exactly_at_its_next_update(tmp_path: Path) -> None:
    with in_front_of_mock(tmp_path, refresh_margin=timedelta(0)) as s:
        first = s.get(TCB)
        s.clock.now = NOW + timedelta(hours=3) - timedelta(seconds=1)
        assert s.get(TCB).content == first.content and s.mock.requests == {"tcb": 1}
        s.clock.now = NOW + timedelta(hours=3)  # the nextUpdate of the TCB info
        refetched = s.get(TCB)
    assert s.mock.requests == {"tcb": 2} and refetched.content != first.content
    assert "Warning" not in refetched.headers
