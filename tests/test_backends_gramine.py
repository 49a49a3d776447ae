"""The Gramine backend against fake /dev/attestation trees: quotes, local reports, and each error path."""

from __future__ import annotations

import errno
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

import sgxra
from backends_env import GRAMINE_ROOT, FakeGramine
from dcap_env import NOW, PKI, spec
from sgxra.backends import BackendBusy, BackendError, BackendUnavailable, GramineAttestation
from sgxra.backends.base import quoted_report_data
from sgxra.backends.sim import SimQuoteSource
from sgxra.errors import MalformedMessage
from sgxra.sim import SimPlatform, SimQuotingEnclave
from sgxra.sim.enclave import EnclaveIdentity
from sgxra.wire.quote import EpidQuote, QuoteSignType

SOURCE = SimQuoteSource(PKI)
DATA = bytes(range(64))


def fake(**changes: object) -> FakeGramine:
    return FakeGramine(SOURCE.quote, **changes)  # type: ignore[arg-type]


def test_quote_is_over_the_written_report_data_and_verifies() -> None:
    tree = fake()
    quote = GramineAttestation(GRAMINE_ROOT, tree).quote(DATA)
    assert tree.user_report_data == DATA and tree.quotes == 1
    assert quoted_report_data(quote) == DATA
    result = sgxra.verify(quote, collateral=PKI.collateral(spec()), at=NOW, root=PKI.root)
    assert result.simulated and result.status == "UpToDate"


@pytest.mark.parametrize(("changes", "error", "code", "message"), [
    ({"present": False}, BackendUnavailable, errno.ENOENT, "not running under Gramine"),
    ({"attestation_type": "none"}, BackendUnavailable, None, "remote attestation is off"),
    ({"quote_fails": True}, BackendError, errno.EACCES, "quoting failed"),
    ({"short_write": True}, BackendError, None, "wrote 32 of 64 bytes"),
    ({"stale": True}, BackendBusy, None, "other report data"),
    ({"attestation_type": "tdx"}, BackendError, None, "unknown attestation type 'tdx'"),
])
def test_each_error_is_typed_and_named(changes: dict[str, object], error: type[BackendError], code: int | None,
                                       message: str) -> None:
    with pytest.raises(error, match=message) as raised:
        GramineAttestation(GRAMINE_ROOT, fake(**changes)).quote(DATA)
    assert type(raised.value) is error and raised.value.errno == code and raised.value.backend == "gramine"


def test_quote_file_absent_although_attestation_is_on() -> None:
    tree = fake()
    tree.read = lambda path, limit: (  # type: ignore[method-assign]
        b"dcap" if path.name == "attestation_type" else (_ for _ in ()).throw(FileNotFoundError(2, "x", str(path))))
    with pytest.raises(BackendUnavailable, match="no quote file") as raised:
        GramineAttestation(GRAMINE_ROOT, tree).quote(DATA)
    assert raised.value.errno == errno.ENOENT


@pytest.mark.parametrize("size", [0, 32, 63, 65, 128])
def test_report_data_of_another_size_is_refused_before_the_device_is_touched(size: int) -> None:
    tree = fake(user_report_data=b"\x07" * 64)
    with pytest.raises(MalformedMessage, match=f"exactly 64 bytes, {size} given"):
        GramineAttestation(GRAMINE_ROOT, tree).quote(bytes(size))
    assert tree.user_report_data == b"\x07" * 64 and tree.quotes == 0


def test_an_oversized_quote_is_refused() -> None:
    with pytest.raises(BackendError, match="quoting failed") as raised:
        GramineAttestation(GRAMINE_ROOT, FakeGramine(lambda data: bytes(8193))).quote(DATA)
    assert raised.value.errno == errno.EFBIG


def test_epid_platform_announces_its_group_and_its_linkability_must_match() -> None:
    qe = SimQuotingEnclave(SimPlatform.from_seed(b"gramine epid"))
    tree = FakeGramine(lambda data: qe.get_quote(EnclaveIdentity().report_body(data), QuoteSignType.LINKABLE,
                                                 bytes(16)), attestation_type="epid")
    backend = GramineAttestation(GRAMINE_ROOT, tree)
    assert backend.epid_group() == qe.gid and tree.quotes == 1
    assert EpidQuote.parse(backend.quote(DATA)).report_body.report_data == DATA
    assert GramineAttestation(GRAMINE_ROOT, fake()).epid_group() == bytes(4)


def test_local_report_for_a_target() -> None:
    tree = fake()
    backend = GramineAttestation(GRAMINE_ROOT, tree)
    mine = backend.my_target_info()
    assert len(mine) == 512
    report = backend.report(mine, DATA)
    assert len(report) == 432 and report[320:384] == DATA and tree.target_info == mine
    with pytest.raises(MalformedMessage, match="exactly 512 bytes, 511 given"):
        backend.report(mine[:511], DATA)
    with pytest.raises(BackendBusy, match="other report data"):
        GramineAttestation(GRAMINE_ROOT, fake(stale=True)).report(mine, DATA)
    with pytest.raises(BackendUnavailable):
        GramineAttestation(GRAMINE_ROOT, fake(present=False)).my_target_info()


def test_real_files_in_a_directory(tmp_path: Path) -> None:
    """OsFiles on a real tree: the quote file holds a quote over one report data only."""
    (tmp_path / "attestation_type").write_bytes(b"dcap")
    (tmp_path / "user_report_data").write_bytes(bytes(64))
    (tmp_path / "quote").write_bytes(SOURCE.quote(DATA))
    backend = GramineAttestation(tmp_path)
    assert quoted_report_data(backend.quote(DATA)) == DATA
    other = b"\x01" * 64
    with pytest.raises(BackendBusy, match="other report data"):
        backend.quote(other)
    assert (tmp_path / "user_report_data").read_bytes() == other  # written through the real file
    (tmp_path / "quote").write_bytes(bytes(8193))
    with pytest.raises(BackendError, match="quoting failed") as too_big:
        backend.quote(DATA)
    assert too_big.value.errno == errno.EFBIG  # reads are bounded: at most Gramine's QUOTE_MAX_SIZE
    with pytest.raises(BackendUnavailable, match="not running under Gramine") as raised:
        GramineAttestation(tmp_path / "missing").quote(DATA)
    assert raised.value.errno == errno.ENOENT


def test_threads_sharing_the_pseudo_files_each_get_their_own_quote() -> None:
    """Gramine does not serialise threads on /dev/attestation; the backend does."""
    backend = GramineAttestation(GRAMINE_ROOT, fake(pause=0.01))
    wanted = [bytes([i]) * 64 for i in range(8)]
    with ThreadPoolExecutor(8) as pool:
        quotes = list(pool.map(backend.quote, wanted))
    assert [quoted_report_data(q) for q in quotes] == wanted
