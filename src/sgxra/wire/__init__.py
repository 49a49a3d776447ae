"""Bytes to typed, frozen structures and back. No trust decisions, no I/O."""

from sgxra.wire.messages import (
    AttestationStatus,
    Msg0,
    Msg0Msg1,
    Msg1,
    Msg2,
    Msg3,
    Msg4,
)
from sgxra.wire.platform_info import PlatformInfoBlob
from sgxra.wire.quote import EpidQuote, QuoteSignType
from sgxra.wire.report_body import AttributeFlags, Attributes, ReportBody

__all__ = [
    "AttestationStatus",
    "AttributeFlags",
    "Attributes",
    "EpidQuote",
    "Msg0",
    "Msg0Msg1",
    "Msg1",
    "Msg2",
    "Msg3",
    "Msg4",
    "PlatformInfoBlob",
    "QuoteSignType",
    "ReportBody",
]
