"""The PCCS stores: SQLite and a real PostgreSQL server behave alike; two replicas share one database."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from dcap_env import NOW, PKI, spec
from pccs_env import Clock, postgres_server, service, upstream_for
from servers import ServerThread
from sgxra.cli.main import main
from sgxra.errors import StoreUnavailable
from sgxra.pccs.api import create_app
from sgxra.pccs.items import Item
from sgxra.pccs.service import Evaluation, Mode
from sgxra.pccs.store import PostgresStore, SqliteStore, Store, open_store
from sgxra.pcs.mock import MockPcs
from sgxra.pcs.mock import create_app as mock_app
from sgxra.sim.dcap_pki import pem
from sgxra.sim.dcap_qe import DEFAULT_FMSPC
from vectors_env import DCAP, SGX_COLLATERAL

TCB = f"/sgx/certification/v4/tcb?fmspc={DEFAULT_FMSPC.hex().upper()}"


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    with postgres_server() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "sqlite":
        opened: Store = SqliteStore(tmp_path / "s.sqlite")
    else:
        opened = PostgresStore(request.getfixturevalue("pg_url"))
        opened._run("DELETE FROM pccs_items")  # type: ignore[attr-defined]
        opened._run("DELETE FROM pccs_platforms")  # type: ignore[attr-defined]
    yield opened
    opened.close()


def _item(variant: str = "standard", number: int | None = 17, issued: int = 100, body: bytes = b"{}") -> Item:
    return Item("tcb", "SGX/00A067110000", variant, body, "chain", issued, issued + 50, issued, number, "{}")


def test_items_are_stored_replaced_and_found_by_number(store: Store) -> None:
    store.put(_item())
    store.put(_item("early", 18))
    assert store.get("tcb", "SGX/00A067110000", "standard") == _item()
    store.put(_item(issued=200, body=b"\x00\xff binary"))
    assert store.get("tcb", "SGX/00A067110000", "standard") == _item(issued=200, body=b"\x00\xff binary")
    found = store.find_number("tcb", "SGX/00A067110000", 18)
    assert found is not None and found.variant == "early"
    assert store.find_number("tcb", "SGX/00A067110000", 19) is None
    assert [i.variant for i in store.variants("tcb", "SGX/00A067110000")] == ["early", "standard"]
    assert len(store.items()) == 2 and store.get("tcb", "SGX/00A067110000", "numbered") is None


def test_registrations_are_listed_and_taken(store: Store) -> None:
    store.register("AA", "0000", {"qe_id": "AA", "pce_id": "0000"}, 1)
    store.register("AA", "0000", {"qe_id": "AA", "pce_id": "0000", "cpu_svn": "01" * 16}, 2)  # replaced
    store.register("BB", "0000", {"qe_id": "BB", "pce_id": "0000"}, 3)
    assert [p["qe_id"] for p in store.platforms(take=False)] == ["AA", "BB"]
    assert store.platforms(take=True)[0]["cpu_svn"] == "01" * 16
    assert store.platforms(take=False) == []


def test_taking_registrations_loses_none_registered_meanwhile(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """A platform registering again (on another replica) while an admin takes the queue is handed over or kept."""
    store.register("AA", "0000", {"qe_id": "AA", "pce_id": "0000"}, 1)
    run = store._run  # type: ignore[attr-defined]

    def then_register_again(sql: str, params: Sequence[object] = ()) -> list[object]:
        rows: list[object] = run(sql, params)
        if not params:  # the statement that takes the queue: another replica registers right after it
            monkeypatch.setattr(store, "_run", run)
            store.register("AA", "0000", {"qe_id": "AA", "pce_id": "0000", "cpu_svn": "02" * 16}, 2)
        return rows

    monkeypatch.setattr(store, "_run", then_register_again)
    taken = store.platforms(take=True)
    kept = store.platforms(take=False)
    assert [p.get("cpu_svn") for p in taken + kept] == [None, "02" * 16]


def test_replicas_on_one_postgresql_database_serve_the_same_collateral(pg_url: str, tmp_path: Path) -> None:
    """Replica A fetches from PCS; replica B, whose upstream is down, serves the same bytes from the database."""
    clock = Clock(NOW)
    mock = MockPcs(PKI, {DEFAULT_FMSPC: spec(validity=timedelta(hours=3))}, clock)
    stores = [PostgresStore(pg_url), PostgresStore(pg_url)]
    stores[0]._run("DELETE FROM pccs_items")  # type: ignore[attr-defined]
    with ServerThread(mock_app(mock)) as pcs:
        a = service(tmp_path, Mode.LAZY, PKI.root, clock, upstream=upstream_for(pcs.url), store=stores[0])
        b = service(tmp_path, Mode.LAZY, PKI.root, clock, upstream=upstream_for("http://127.0.0.1:9"), store=stores[1])
        with ServerThread(create_app(a)) as replica_a, ServerThread(create_app(b)) as replica_b:
            from_a = httpx.get(replica_a.url + TCB)
            from_b = httpx.get(replica_b.url + TCB)
    assert from_a.status_code == from_b.status_code == 200 and from_a.content == from_b.content
    assert mock.requests == {"tcb": 1} and (a.fetches, b.fetches) == (1, 0)
    for opened in stores:
        opened.close()


@pytest.mark.skipif(not DCAP.is_dir(), reason=f"the real DCAP vectors are not at {DCAP}")
@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_cli_imports_reports_status_and_exports(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    runner = CliRunner()
    if kind == "sqlite":
        db = f"sqlite:///{tmp_path / 'pccs.sqlite'}"
    else:
        db = request.getfixturevalue("pg_url")
        PostgresStore(db)._run("DELETE FROM pccs_items")  # type: ignore[attr-defined]
    imported = runner.invoke(main, ["pccs", "import", str(DCAP), "--db", db])
    assert imported.exit_code == 0, imported.output
    status = runner.invoke(main, ["pccs", "status", "--db", db])
    assert "tcb          SGX/00A067110000" in status.output and "EXPIRED" in status.output
    listed = json.loads(runner.invoke(main, ["pccs", "status", "--db", db, "--json"]).output)
    assert {(row["kind"], row["next_update"]) for row in listed} == {
        ("rootcacrl", "2026-04-03T11:21:57+00:00"), ("pckcrl", "2025-07-19T10:23:18+00:00"),
        ("tcb", "2025-07-19T10:56:11+00:00"), ("qeidentity", "2025-07-19T10:01:18+00:00")}
    exported = runner.invoke(main, ["pccs", "export", "--db", db])
    assert exported.exit_code == 0 and '"format": "sgxra-pccs-items/1"' in exported.output
    # The export re-imports (verified again) into a fresh SQLite store, item for item.
    (tmp_path / "export.json").write_text(exported.output)
    again = runner.invoke(main, ["pccs", "import", str(tmp_path / "export.json"), "--db", str(tmp_path / "copy.sqlite")])
    assert again.exit_code == 0, again.output
    assert SqliteStore(tmp_path / "copy.sqlite").items() == open_store(db).items()


def test_schema_creation_by_replicas_starting_together(pg_url: str) -> None:
    errors: list[Exception] = []

    def start() -> None:
        try:
            PostgresStore(pg_url).close()
        except StoreUnavailable as e:
            errors.append(e)
    threads = [threading.Thread(target=start) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []


def test_an_unreachable_database_is_a_clear_error() -> None:
    with pytest.raises(StoreUnavailable, match=r"PostgreSQL store postgresql://u:\*\*\*@127.0.0.1:9/db"):
        PostgresStore("postgresql://u:secret@127.0.0.1:9/db", connect_timeout=2)
    with pytest.raises(StoreUnavailable, match="unknown database URL scheme"):
        open_store("mysql://x/y")


@pytest.mark.skipif(not DCAP.is_dir(), reason=f"the real DCAP vectors are not at {DCAP}")
def test_import_refuses_what_does_not_verify(tmp_path: Path) -> None:
    pccs = service(tmp_path, Mode.OFFLINE, PKI.root, Clock(NOW))  # the simulated root, not Intel's
    result = CliRunner().invoke(main, ["pccs", "import", str(SGX_COLLATERAL),
                                       "--db", str(tmp_path / "pccs.sqlite"), "--root", str(_root_file(tmp_path))])
    assert result.exit_code != 0 and "does not verify under the pinned root" in result.output
    assert pccs.store.items() == []


def _root_file(tmp_path: Path) -> Path:
    path = tmp_path / "sim-root.pem"
    path.write_text(pem(PKI.root))
    return path


def test_what_another_replica_stores_is_served_within_seconds(tmp_path: Path) -> None:
    """Fresh items are answered from memory, but for ten seconds at most: the shared store is read again then."""
    clock = Clock(NOW)
    pccs = service(tmp_path, Mode.OFFLINE, PKI.root, clock)
    start = int(NOW.timestamp())
    item = Item("qeidentity", "SGX", "standard", b"first", "chain", start, start + 86400, start, 17, "{}")
    pccs.store.put(item)
    assert pccs.qe_identity("SGX", Evaluation()).item.body == b"first"
    pccs.store.put(replace(item, body=b"second"))  # as another replica (or `sgxra pccs import`) would
    assert pccs.qe_identity("SGX", Evaluation()).item.body == b"first"
    clock.now = NOW + timedelta(seconds=10)
    assert pccs.qe_identity("SGX", Evaluation()).item.body == b"second"
