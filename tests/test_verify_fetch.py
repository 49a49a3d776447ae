"""The one call without collateral: fetched through a CollateralCache (library) or from a PCCS (CLI, loopback)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives.serialization import Encoding

import sgxra
from dcap_env import NOW, PKI, quote, spec
from servers import ServerThread
from sgxra.api import default_cache_path
from sgxra.cli.main import main
from sgxra.errors import MalformedMessage
from sgxra.pcs.cache import CollateralCache
from sgxra.pcs.key import CollateralKey
from sgxra.pcs.mock import MockPcs, create_app
from sgxra.sim.dcap_qe import DEFAULT_FMSPC
from sgxra.sim.enclave import EnclaveIdentity
from sgxra.wire.collateral import Collateral
from sgxra.wire.quote import QUOTE_BODY_SIZE

SPEC = spec(issued=NOW)  # pinned: the PCS mock moves the shared PKI's clock


def test_library_fetches_once_through_the_cache(tmp_path: Path) -> None:
    asked: list[CollateralKey] = []

    def fetch(key: CollateralKey) -> Collateral:
        asked.append(key)
        return PKI.collateral(SPEC)

    cache = CollateralCache(tmp_path / "c.sqlite", fetch)
    try:
        first = sgxra.verify(quote(), fetcher=cache, at=NOW, root=PKI.root)
        second = sgxra.verify(quote(), fetcher=cache, at=NOW, root=PKI.root)
    finally:
        cache.close()
    assert first.status == second.status == "UpToDate" and first.simulated
    assert asked == [CollateralKey(DEFAULT_FMSPC, "processor", "SGX")] and cache.hits == 1


def test_cli_fetches_from_a_pccs_then_answers_from_its_cache(tmp_path: Path) -> None:
    quote_file, root = tmp_path / "quote.bin", tmp_path / "root.pem"
    quote_file.write_bytes(quote())
    root.write_bytes(PKI.root.public_bytes(Encoding.PEM))
    args = ["verify", str(quote_file), "--root", str(root), "--at", NOW.isoformat(), "--json"]
    env = {"SGXRA_CACHE_DIR": str(tmp_path / "cache")}
    with ServerThread(create_app(MockPcs(PKI, {DEFAULT_FMSPC: SPEC}, lambda: NOW))) as server:
        run = CliRunner(env=env).invoke(main, [*args, "--pccs", server.url])
        url = server.url
    assert run.exit_code == 0, run.output
    assert json.loads(run.output)["status"] == "UpToDate" and json.loads(run.output)["simulated"] is True
    again = CliRunner(env=env).invoke(main, [*args, "--pccs", url])  # the server is gone: the cache answers
    assert again.exit_code == 0, again.output


def test_default_cache_path_follows_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SGXRA_CACHE_DIR", str(tmp_path))
    assert default_cache_path() == tmp_path / "collateral.sqlite"
    monkeypatch.delenv("SGXRA_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_path() == tmp_path / "xdg" / "sgxra" / "collateral.sqlite"


def test_an_epid_quote_alone_is_refused_with_what_to_give_instead() -> None:
    epid = (2).to_bytes(2, "little") + bytes(46) + EnclaveIdentity().report_body(bytes(64)).to_bytes()
    assert len(epid) == QUOTE_BODY_SIZE
    with pytest.raises(MalformedMessage, match="give the IAS report"):
        sgxra.verify(epid, collateral=PKI.collateral(SPEC), at=NOW)
    with pytest.raises(TypeError):
        sgxra.verify("not bytes", at=NOW)  # type: ignore[arg-type]
    with pytest.raises(MalformedMessage, match="ias evidence"):
        sgxra.verify(b'{"report": 1}', at=NOW)
