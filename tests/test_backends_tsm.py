"""The configfs-tsm backend against a fake report tree: TDX quotes, and each error path of the ABI."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

import sgxra
from backends_env import TSM_ROOT, FakeTsm
from sgxra.backends import BackendBusy, BackendError, BackendUnavailable, ProviderMismatch, TsmReport
from sgxra.backends.base import quoted_report_data
from sgxra.backends.sim import SimQuoteSource
from sgxra.errors import MalformedMessage
from sgxra.wire.dcap_quote import TEE_TYPE_TDX, DcapQuote
from tdx_env import NOW, PKI, tdx_spec

SOURCE = SimQuoteSource(PKI, tdx=True)
DATA = bytes(range(64, 128))


def fake(**changes: object) -> FakeTsm:
    return FakeTsm(SOURCE.quote, **changes)  # type: ignore[arg-type]


def test_tdx_quote_from_a_fresh_instance_that_is_removed() -> None:
    tree = fake()
    quote = TsmReport(TSM_ROOT, tree).quote(DATA)
    parsed = DcapQuote.parse(quote)
    assert parsed.header.tee_type == TEE_TYPE_TDX and parsed.body.report_data == DATA
    assert not tree.entries and len(tree.removed) == 1 and tree.removed[0].startswith("sgxra-")
    result = sgxra.verify(quote, collateral=PKI.collateral(tdx_spec()), at=NOW, root=PKI.root)
    assert result.simulated and result.status == "UpToDate"


def _rewrite(data: bytes):  # type: ignore[no-untyped-def]
    def meddle(tree: FakeTsm, entry: Path) -> None:
        tree.write(entry / "inblob", data)
    return meddle


@pytest.mark.parametrize(("changes", "error", "code", "message"), [
    ({"mounted": False}, BackendUnavailable, errno.ENOENT, "no configfs-tsm report directory"),
    ({"provider": None}, BackendUnavailable, errno.ENXIO, "no TSM provider is registered"),
    ({"provider": "sev_guest"}, ProviderMismatch, None, "provider is 'sev_guest', expected 'tdx_guest'"),
    ({"busy": True}, BackendBusy, errno.EBUSY, "an earlier quote request is still with the host"),
    ({"outblob_error": errno.ETIMEDOUT}, BackendError, errno.ETIMEDOUT, "timed out"),
    ({"outblob_error": errno.EIO}, BackendError, errno.EIO, "GetQuote"),
    ({"outblob_error": errno.EINTR}, BackendError, errno.EINTR, "interrupted"),
    ({"outblob_error": errno.ENOTTY}, BackendUnavailable, errno.ENOTTY, "went away"),
    ({"meddler": _rewrite(bytes(64))}, BackendBusy, None, "generation went from 0 to 2 over our 1 write"),
    ({"meddler": _rewrite(DATA)}, BackendBusy, None, "generation went from 0 to 2"),  # same data, still a writer
    ({"outblob_override": bytes(9000)}, BackendError, None, "CBOR Web Token"),
    ({"outblob_override": b""}, BackendError, None, "empty outblob"),
    ({"outblob_override": bytes(40000)}, BackendError, errno.EFBIG, "maximum size"),
])
def test_each_error_is_typed_and_the_instance_removed(changes: dict[str, object], error: type[BackendError],
                                                      code: int | None, message: str) -> None:
    tree = fake(**changes)
    with pytest.raises(error, match=message) as raised:
        TsmReport(TSM_ROOT, tree).quote(DATA)
    assert type(raised.value) is error and raised.value.errno == code and raised.value.backend == "tsm"
    assert not tree.entries


def test_a_quote_over_other_report_data_is_refused() -> None:
    with pytest.raises(BackendBusy, match="other report data"):
        TsmReport(TSM_ROOT, fake(outblob_override=SOURCE.quote(bytes(64)))).quote(DATA)


@pytest.mark.parametrize("size", [0, 16, 63, 65])
def test_report_data_of_another_size_is_refused_before_any_instance_is_made(size: int) -> None:
    tree = fake()
    with pytest.raises(MalformedMessage, match=f"exactly 64 bytes, {size} given"):
        TsmReport(TSM_ROOT, tree).quote(bytes(size))
    assert not tree.entries and not tree.removed


def test_the_fake_replays_the_kernel_on_wrong_sizes() -> None:
    """What a writer that is not sgxra meets: EFBIG past 64 bytes, EINVAL from tdx_guest under 64."""
    tree = fake()
    entry = TSM_ROOT / "other"
    tree.mkdir(entry)
    with pytest.raises(OSError) as too_big:
        tree.write(entry / "inblob", bytes(65))
    tree.write(entry / "inblob", bytes(32))
    with pytest.raises(OSError) as short:
        tree.read(entry / "outblob", 1 << 15)
    assert too_big.value.errno == errno.EFBIG and short.value.errno == errno.EINVAL
    fresh = TSM_ROOT / "fresh"
    tree.mkdir(fresh)
    with pytest.raises(OSError) as unwritten:
        tree.read(fresh / "outblob", 1 << 15)
    assert unwritten.value.errno == errno.EINVAL


def test_privlevel_where_the_provider_has_levels() -> None:
    tree = fake(privlevel_floor=1)
    assert quoted_report_data(TsmReport(TSM_ROOT, tree, privlevel=2).quote(DATA)) == DATA  # two writes counted
    with pytest.raises(BackendError, match="below the floor 1"):
        TsmReport(TSM_ROOT, fake(privlevel_floor=1), privlevel=0).quote(DATA)
    with pytest.raises(BackendError, match="no privlevel_floor attribute") as raised:
        TsmReport(TSM_ROOT, fake(), privlevel=1).quote(DATA)  # TDX has no privilege levels
    assert raised.value.errno == errno.ENOENT
    with pytest.raises(MalformedMessage, match="outside 0..3"):
        TsmReport(TSM_ROOT, tree, privlevel=4)


def test_quotes_are_read_from_tdx_guest_only() -> None:
    with pytest.raises(ProviderMismatch, match="from 'tdx_guest' only"):
        TsmReport(TSM_ROOT, fake(provider="sev_guest"), provider="sev_guest").quote(DATA)
    report = TsmReport(TSM_ROOT, fake(provider="sev_guest", outblob_override=b"\x01" * 1184), provider="sev_guest")
    assert report.report(DATA) == b"\x01" * 1184  # the raw report of another provider is still available


def test_real_directory_without_configfs(tmp_path: Path) -> None:
    with pytest.raises(BackendUnavailable, match="no configfs-tsm report directory") as raised:
        TsmReport(tmp_path / "missing").quote(DATA)
    assert raised.value.errno == errno.ENOENT
    with pytest.raises(BackendError, match="the provider has no provider attribute"):
        TsmReport(tmp_path).quote(DATA)  # a plain directory: mkdir makes no attributes
    assert not list(tmp_path.iterdir())  # the instance was removed
