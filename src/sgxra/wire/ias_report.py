"""The Attestation Verification Report body IAS returns, as a typed value.

Parsing only: whether the report is genuine is ``sgxra.verify.ias``'s job.
"""

from __future__ import annotations

import base64
import enum
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from sgxra.errors import MalformedMessage
from sgxra.wire._json import JsonObject
from sgxra.wire.platform_info import PlatformInfoBlob
from sgxra.wire.quote import QUOTE_BODY_SIZE, EpidQuote

MAX_REPORT_SIZE = 64 * 1024
# IAS API v2 reports carry no "version" field; such a report is version 2.
UNVERSIONED_API = 2
TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%S.%f"
STRUCT = "ias_report"


class QuoteStatus(enum.Enum):
    """An IAS report's isvEnclaveQuoteStatus."""
    OK = "OK"
    SIGNATURE_INVALID = "SIGNATURE_INVALID"
    GROUP_REVOKED = "GROUP_REVOKED"
    SIGNATURE_REVOKED = "SIGNATURE_REVOKED"
    KEY_REVOKED = "KEY_REVOKED"
    SIGRL_VERSION_MISMATCH = "SIGRL_VERSION_MISMATCH"
    GROUP_OUT_OF_DATE = "GROUP_OUT_OF_DATE"
    CONFIGURATION_NEEDED = "CONFIGURATION_NEEDED"
    SW_HARDENING_NEEDED = "SW_HARDENING_NEEDED"
    CONFIGURATION_AND_SW_HARDENING_NEEDED = "CONFIGURATION_AND_SW_HARDENING_NEEDED"


# Statuses whose meaning is "see the advisories": IAS names at least one with them.
ADVISORY_STATUSES = frozenset({QuoteStatus.SW_HARDENING_NEEDED.value, QuoteStatus.CONFIGURATION_AND_SW_HARDENING_NEEDED.value})


@dataclass(frozen=True)
class AttestationReport:
    """An IAS Attestation Verification Report, parsed (its signature is checked elsewhere)."""
    id: str
    timestamp: datetime  # UTC, aware
    version: int  # the "version" field, or UNVERSIONED_API when the report has none
    declares_version: bool  # False for API v2 reports, which can never match a required version
    isv_enclave_quote_status: QuoteStatus
    isv_enclave_quote_body: bytes  # the quote's first 432 bytes
    revocation_reason: int | None
    pse_manifest_status: str | None
    pse_manifest_hash: str | None
    platform_info_blob: PlatformInfoBlob | None
    nonce: str | None
    epid_pseudonym: bytes | None
    advisory_url: str | None
    advisory_ids: tuple[str, ...]
    tcb_evaluation_data_number: int | None
    quote: EpidQuote  # the echoed header and report body, parsed (its signature is empty)

    @property
    def status(self) -> str:
        return self.isv_enclave_quote_status.value

    @classmethod
    def parse(cls, body: bytes) -> AttestationReport:
        if len(body) > MAX_REPORT_SIZE:
            raise MalformedMessage(STRUCT, "<body>", 0, f"{len(body)} bytes exceeds {MAX_REPORT_SIZE}")
        f = JsonObject(STRUCT, body, max_size=MAX_REPORT_SIZE)
        status_text = f.text("isvEnclaveQuoteStatus")
        try:
            status = QuoteStatus(status_text)
        except ValueError:
            raise MalformedMessage(STRUCT, "isvEnclaveQuoteStatus", 0, f"unknown status {status_text!r}") from None
        quote_body = f.base64("isvEnclaveQuoteBody", required=True) or b""
        if len(quote_body) != QUOTE_BODY_SIZE:
            raise MalformedMessage(STRUCT, "isvEnclaveQuoteBody", 0, f"must be {QUOTE_BODY_SIZE} bytes, got {len(quote_body)}")
        pib_hex = f.optional_text("platformInfoBlob")
        advisory_ids = f.obj.get("advisoryIDs", [])
        if not isinstance(advisory_ids, list) or not all(isinstance(a, str) and len(a) < 64 for a in advisory_ids):
            raise MalformedMessage(STRUCT, "advisoryIDs", 0, "must be a list of short strings")
        version = f.integer("version") if "version" in f.obj else None  # "version": null is refused
        return cls(
            id=f.text("id"),
            timestamp=_parse_timestamp(f.text("timestamp")),
            version=UNVERSIONED_API if version is None else version,
            declares_version=version is not None,
            isv_enclave_quote_status=status,
            isv_enclave_quote_body=quote_body,
            revocation_reason=f.optional_integer("revocationReason"),
            pse_manifest_status=f.optional_text("pseManifestStatus"),
            pse_manifest_hash=f.optional_text("pseManifestHash"),
            platform_info_blob=PlatformInfoBlob.parse_tlv_hex(pib_hex) if pib_hex is not None else None,
            nonce=f.optional_text("nonce"),
            epid_pseudonym=f.base64("epidPseudonym", required=False),
            advisory_url=f.optional_text("advisoryURL"),
            advisory_ids=tuple(advisory_ids),
            tcb_evaluation_data_number=f.optional_integer("tcbEvaluationDataNumber"),
            quote=EpidQuote.parse(quote_body + bytes(4)),  # the echoed header and body must themselves parse
        )

    def to_json_dict(self) -> dict[str, Any]:
        """Every field, with the report's own names, plus ``status``."""
        return {
            "status": self.status,
            "id": self.id,
            "timestamp": self.timestamp.strftime(TIMESTAMP_FORMAT),
            "version": self.version,
            "isvEnclaveQuoteStatus": self.status,
            "isvEnclaveQuoteBody": base64.b64encode(self.isv_enclave_quote_body).decode(),
            "revocationReason": self.revocation_reason,
            "pseManifestStatus": self.pse_manifest_status,
            "pseManifestHash": self.pse_manifest_hash,
            "platformInfoBlob": self.platform_info_blob.to_tlv_hex() if self.platform_info_blob else None,
            "nonce": self.nonce,
            "epidPseudonym": base64.b64encode(self.epid_pseudonym).decode() if self.epid_pseudonym else None,
            "advisoryURL": self.advisory_url,
            "advisoryIDs": list(self.advisory_ids),
            "tcbEvaluationDataNumber": self.tcb_evaluation_data_number,
        }


def _parse_timestamp(text: str) -> datetime:
    """IAS timestamps: ``YYYY-MM-DDThh:mm:ss.ffffff`` in UTC with no zone."""
    try:
        return datetime.strptime(text, TIMESTAMP_FORMAT).replace(tzinfo=timezone.utc)
    except ValueError:
        raise MalformedMessage(STRUCT, "timestamp", 0, f"{text!r} is not YYYY-MM-DDThh:mm:ss.ffffff") from None
