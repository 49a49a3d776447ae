"""The Attestation Verification Report body IAS returns, as a typed value.

Parsing only: whether the report is genuine is ``sgxra.verify.ias``'s job.
"""

from __future__ import annotations

import base64
import binascii
import enum
import json
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from sgxra.errors import MalformedMessage
from sgxra.wire.platform_info import PlatformInfoBlob
from sgxra.wire.quote import QUOTE_BODY_SIZE, EpidQuote

MAX_REPORT_SIZE = 64 * 1024
TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%S.%f"
STRUCT = "ias_report"


class QuoteStatus(enum.Enum):
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


@dataclass(frozen=True)
class AttestationReport:
    id: str
    timestamp: datetime  # UTC, aware
    version: int
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

    @property
    def status(self) -> str:
        return self.isv_enclave_quote_status.value

    @property
    def quote(self) -> EpidQuote:
        """The quote header and report body IAS echoed (without the signature)."""
        return EpidQuote.parse(self.isv_enclave_quote_body + bytes(4))

    @classmethod
    def parse(cls, body: bytes) -> AttestationReport:
        if len(body) > MAX_REPORT_SIZE:
            raise MalformedMessage(STRUCT, "<body>", 0, f"{len(body)} bytes exceeds {MAX_REPORT_SIZE}")
        try:
            obj = json.loads(body)
        except (ValueError, UnicodeDecodeError) as e:
            raise MalformedMessage(STRUCT, "<body>", 0, f"not JSON: {e}") from None
        if not isinstance(obj, dict):
            raise MalformedMessage(STRUCT, "<body>", 0, "not a JSON object")
        f = _Fields(obj)
        status_text = f.required_str("isvEnclaveQuoteStatus")
        try:
            status = QuoteStatus(status_text)
        except ValueError:
            raise MalformedMessage(STRUCT, "isvEnclaveQuoteStatus", 0, f"unknown status {status_text!r}") from None
        quote_body = f.base64("isvEnclaveQuoteBody", required=True) or b""
        if len(quote_body) != QUOTE_BODY_SIZE:
            raise MalformedMessage(STRUCT, "isvEnclaveQuoteBody", 0, f"must be {QUOTE_BODY_SIZE} bytes, got {len(quote_body)}")
        pib_hex = f.optional_str("platformInfoBlob")
        advisory_ids = obj.get("advisoryIDs", [])
        if not isinstance(advisory_ids, list) or not all(isinstance(a, str) and len(a) < 64 for a in advisory_ids):
            raise MalformedMessage(STRUCT, "advisoryIDs", 0, "must be a list of short strings")
        EpidQuote.parse(quote_body + bytes(4))  # the echoed header and body must themselves parse
        return cls(
            id=f.required_str("id"),
            timestamp=_parse_timestamp(f.required_str("timestamp")),
            version=f.required_int("version"),
            isv_enclave_quote_status=status,
            isv_enclave_quote_body=quote_body,
            revocation_reason=f.optional_int("revocationReason"),
            pse_manifest_status=f.optional_str("pseManifestStatus"),
            pse_manifest_hash=f.optional_str("pseManifestHash"),
            platform_info_blob=PlatformInfoBlob.parse_tlv_hex(pib_hex) if pib_hex is not None else None,
            nonce=f.optional_str("nonce"),
            epid_pseudonym=f.base64("epidPseudonym", required=False),
            advisory_url=f.optional_str("advisoryURL"),
            advisory_ids=tuple(advisory_ids),
            tcb_evaluation_data_number=f.optional_int("tcbEvaluationDataNumber"),
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


class _Fields:
    """Typed access to the report's JSON members, each error naming the member."""

    def __init__(self, obj: dict[str, Any]) -> None:
        self.obj = obj

    def optional_str(self, name: str) -> str | None:
        value = self.obj.get(name)
        if value is not None and not isinstance(value, str):
            raise MalformedMessage(STRUCT, name, 0, f"must be a string, got {type(value).__name__}")
        return value

    def required_str(self, name: str) -> str:
        value = self.optional_str(name)
        if value is None:
            raise MalformedMessage(STRUCT, name, 0, "is missing")
        return value

    def optional_int(self, name: str) -> int | None:
        value = self.obj.get(name)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
            raise MalformedMessage(STRUCT, name, 0, f"must be an integer, got {type(value).__name__}")
        return value

    def required_int(self, name: str) -> int:
        value = self.optional_int(name)
        if value is None:
            raise MalformedMessage(STRUCT, name, 0, "is missing")
        return value

    def base64(self, name: str, *, required: bool) -> bytes | None:
        text = self.required_str(name) if required else self.optional_str(name)
        if text is None:
            return None
        try:
            return base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raise MalformedMessage(STRUCT, name, 0, "not base64") from None
