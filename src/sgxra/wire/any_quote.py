"""Telling an EPID quote (versions 1, 2) from a DCAP quote (versions 3, 4, 5) by its version."""

from __future__ import annotations

from sgxra.errors import MalformedMessage
from sgxra.wire.dcap_quote import DcapQuote
from sgxra.wire.quote import EpidQuote


def parse_quote(data: bytes) -> EpidQuote | DcapQuote:
    if len(data) < 2:
        raise MalformedMessage("quote", "version", 0, f"needs 2 bytes, {len(data)} given")
    version = int.from_bytes(data[:2], "little")
    if version in EpidQuote.VERSIONS:
        return EpidQuote.parse(data)
    if version in (3, 4, 5):
        return DcapQuote.parse(data)
    raise MalformedMessage("quote", "version", 0, f"unknown quote version {version}")


def report_data_of(quote: EpidQuote | DcapQuote) -> bytes:
    """The 64 bytes of report data a quote (EPID, SGX DCAP or TDX) carries."""
    return quote.report_body.report_data if isinstance(quote, EpidQuote) else quote.body.report_data
