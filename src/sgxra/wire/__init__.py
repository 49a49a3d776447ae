"""Bytes to typed, frozen structures and back. No trust decisions, no I/O."""

from typing import TYPE_CHECKING

from sgxra._lazy import lazy_exports

# Imported on first use: `sgxra.wire.der` alone does not load every message parser.
_EXPORTS = {
    "AttestationStatus": "sgxra.wire.messages",
    "Msg0": "sgxra.wire.messages",
    "Msg0Msg1": "sgxra.wire.messages",
    "Msg1": "sgxra.wire.messages",
    "Msg2": "sgxra.wire.messages",
    "Msg3": "sgxra.wire.messages",
    "Msg4": "sgxra.wire.messages",
    "PlatformInfoBlob": "sgxra.wire.platform_info",
    "EpidQuote": "sgxra.wire.quote",
    "QuoteSignType": "sgxra.wire.quote",
    "AttributeFlags": "sgxra.wire.report_body",
    "Attributes": "sgxra.wire.report_body",
    "ReportBody": "sgxra.wire.report_body",
}

if TYPE_CHECKING:
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
else:
    __getattr__, __dir__ = lazy_exports(globals(), _EXPORTS)

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
