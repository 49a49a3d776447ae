"""Verification results as values a program can act on: frozen, serializable, signable.

``DcapResult`` (an SGX or TDX quote verified against collateral) and
``IasResult`` (an IAS report whose signature and chain were verified) hold
what Intel's supplemental data holds, the evidence's own fields and, once a
policy judged them, its verdict with every violation. ``to_dict()`` gives
plain JSON values: bytes as lowercase hex, times as ISO-8601 UTC.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import struct
from abc import ABC, abstractmethod
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from sgxra.errors import MalformedMessage
from sgxra.protocol.evidence import Violation
from sgxra.verify.collateral_facts import IssueDates
from sgxra.verify.dcap import DcapVerdict
from sgxra.wire.collateral import TcbStatus
from sgxra.wire.ias_report import AttestationReport
from sgxra.wire.report_body import Attributes, ReportBody
from sgxra.wire.td_report import TdReport

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePrivateKey

# Intel's sgx_ql_qv_supplemental_t, version 3.3: sgx_qve_def.h (SUPPLEMENTAL_DATA_VERSION 3,
# SUPPLEMENTAL_V3_LATEST_MINOR_VERSION 3); offsets in ATTESTATION-NOTES.md section 2.2.
SUPPLEMENTAL_MAJOR, SUPPLEMENTAL_MINOR = 3, 3
SUPPLEMENTAL_SIZE = 536
SA_LIST_SIZE = 320
_SUPPLEMENTAL = struct.Struct("<HH4xqqqqIII48s16s16sH2sIB16s3xIII320s4xqqqqII")
# sgx_ql_qv_result_t values of a TCB status (sgx_qve_header.h), for qe_iden_status.
QV_RESULT = {
    TcbStatus.UpToDate: 0, TcbStatus.ConfigurationNeeded: 0xA001, TcbStatus.OutOfDate: 0xA002,
    TcbStatus.OutOfDateConfigurationNeeded: 0xA003, TcbStatus.Revoked: 0xA005, TcbStatus.SWHardeningNeeded: 0xA007,
    TcbStatus.ConfigurationAndSWHardeningNeeded: 0xA008, TcbStatus.TDRelaunchAdvised: 0xA009,
    TcbStatus.TDRelaunchAdvisedConfigurationNeeded: 0xA00A,
}
_UNDEFINED = 2  # Intel's PCK_FLAG_UNDEFINED for the three platform configuration flags


def iso(moment: datetime) -> str:
    """ISO-8601 in UTC with a Z."""
    return moment.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def plain(value: Any) -> Any:
    """A JSON value: bytes as lowercase hex, enums by value, times ISO-8601 UTC, dataclasses as dicts."""
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, enum.Enum):
        return value.value if isinstance(value.value, str) else value.name
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, Attributes):
        return {"flags": value.flags, "xfrm": value.xfrm, "debug": value.debug}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    return value


@dataclasses.dataclass(frozen=True)
class PolicyVerdict:
    """What a policy said about a result: accepted when there is no violation."""

    violations: tuple[Violation, ...]
    policy_id: str | None = None

    @property
    def accepted(self) -> bool:
        return not self.violations

    def to_dict(self) -> dict[str, Any]:
        return {"accepted": self.accepted, "policy_id": self.policy_id,
                "violations": [{"rule": v.rule, "message": v.message, "platform": v.platform} for v in self.violations]}


class Envelope(Protocol):
    """How the evidence reached the verifier (an RA-TLS certificate, say): facts a result carries beside it.

    ``to_dict`` appears under ``name`` (a key no result has) in the result's ``to_dict`` and as the
    ``sgxra_<name>`` claim of its token.
    """

    @property
    def name(self) -> str: ...

    def to_dict(self) -> dict[str, Any]: ...


class _Serializable(ABC):
    """``to_json`` and ``to_token`` over a result's ``to_dict``."""

    kind: ClassVar[str]  # "dcap" or "ias": to_dict's "kind", the token's sgxra_evidence
    policy: PolicyVerdict | None
    envelope: Envelope | None

    def _enveloped(self, out: dict[str, Any]) -> dict[str, Any]:
        return out | {self.envelope.name: self.envelope.to_dict()} if self.envelope is not None else out

    @abstractmethod
    def to_dict(self) -> dict[str, Any]:
        """The result as JSON-ready values (bytes as lowercase hex, times ISO-8601 UTC)."""

    def to_json(self, *, indent: int | None = None) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    @property
    def accepted(self) -> bool:
        """Genuine (every result is) and, when a policy judged it, accepted by that policy."""
        return self.policy is None or self.policy.accepted

    def to_token(self, key: EllipticCurvePrivateKey, *, nonce: str | None = None,
                 lifetime: timedelta = timedelta(minutes=5), at: datetime | None = None) -> str:
        """A JWT (ES256 for a P-256 key, ES384 for P-384) of this result with Intel Trust Authority's claim names."""
        from sgxra.verify.token import sign_result

        if not isinstance(self, (DcapResult, IasResult)):
            raise TypeError(f"{type(self).__name__} is not a verification result")
        return sign_result(self, key, nonce=nonce, lifetime=lifetime, at=at)


@dataclasses.dataclass(frozen=True)
class DcapResult(_Serializable):
    """A genuine DCAP quote (SGX or TDX), what Intel's collateral says of its platform, and any policy verdict.

    ``verdict`` holds the verification's findings; the properties below name
    them as Intel's supplemental data does. ``simulated`` is true when the
    quote chained to a root other than Intel's.
    """

    kind: ClassVar[str] = "dcap"
    verdict: DcapVerdict
    verified_at: datetime
    simulated: bool = False
    policy: PolicyVerdict | None = None
    envelope: Envelope | None = None

    def __post_init__(self) -> None:
        for date in (self.verdict.tcb_date, self.verdict.qe_tcb_date):
            if date is not None:
                _date(date)  # a result that cannot be serialized is refused when it is made

    @property
    def tee(self) -> str:
        return "TDX" if self.verdict.quote.is_tdx else "SGX"

    @property
    def status(self) -> str:
        return self.verdict.status.value

    @property
    def advisory_ids(self) -> tuple[str, ...]:
        return self.verdict.advisory_ids

    @property
    def tcb_date(self) -> datetime:
        """The matched TCB level's tcbDate (Intel's ``tcb_level_date_tag``)."""
        return _date(self.verdict.tcb_date)

    @property
    def tcb_evaluation_data_number(self) -> int:
        """The smaller of the TCB info's and the QE identity's numbers, as Intel's ``tcb_eval_ref_num``."""
        return min(self.verdict.tcb_evaluation_data_number, self.verdict.qe_tcb_evaluation_data_number)

    @property
    def collateral_issued(self) -> datetime:
        return self.verdict.collateral_issued

    @property
    def dates(self) -> IssueDates:
        return self.verdict.dates

    @property
    def body(self) -> ReportBody | TdReport:
        return self.verdict.quote.body

    def to_dict(self) -> dict[str, Any]:
        v, pck = self.verdict, self.verdict.pck
        config = pck.configuration
        qe_dates = v.qe_identity_dates
        body = self.body
        out: dict[str, Any] = {
            "kind": self.kind, "tee": self.tee, "quote_version": v.quote.version, "verified_at": iso(self.verified_at),
            "simulated": self.simulated, "status": self.status, "advisory_ids": list(v.advisory_ids),
            "platform_status": v.platform_status.value, "qe_status": v.qe_status.value,
            "tdx_module_status": v.tdx_module_status.value if v.tdx_module_status else None,
            "tcb_date": iso(self.tcb_date), "tcb_evaluation_data_number": self.tcb_evaluation_data_number,
            "earliest_issue_date": iso(v.dates.earliest_issue), "latest_issue_date": iso(v.dates.latest_issue),
            "earliest_expiration_date": iso(v.dates.earliest_expiration),
            "collateral_issued": iso(v.collateral_issued), "collateral_expiry": iso(v.collateral_expiry),
            "fmspc": pck.fmspc.hex(), "pck_ca": v.ca_type, "root_key_id": v.root_key_id.hex(),
            "pck_crl_number": v.pck_crl_number, "root_ca_crl_number": v.root_ca_crl_number,
            "pce_svn": pck.pcesvn, "pce_id": pck.pce_id.hex(), "cpu_svn": pck.cpusvn.hex(),
            "tee_tcb_svn": body.tee_tcb_svn.hex() if isinstance(body, TdReport) else None,
            "tee_type": 0x81 if v.quote.is_tdx else 0, "ppid": pck.ppid.hex(), "sgx_type": pck.sgx_type.name,
            "platform_instance_id": pck.platform_instance_id.hex() if pck.platform_instance_id else None,
            "dynamic_platform": config.dynamic_platform if config else None,
            "cached_keys": config.cached_keys if config else None,
            "smt_enabled": config.smt_enabled if config else None,
            "qe_identity": {
                "earliest_issue_date": iso(qe_dates.earliest_issue), "latest_issue_date": iso(qe_dates.latest_issue),
                "earliest_expiration_date": iso(qe_dates.earliest_expiration),
                "tcb_date": iso(_date(v.qe_tcb_date)) if v.qe_tcb_date else None,
                "tcb_evaluation_data_number": v.qe_tcb_evaluation_data_number, "status": v.qe_status.value,
            },
            "body": plain(body),
            "policy": self.policy.to_dict() if self.policy else None,
        }
        return self._enveloped(out)

    def to_supplemental(self) -> bytes:
        """Intel's ``sgx_ql_qv_supplemental_t``, version 3.3, 536 bytes, for C consumers.

        Filled as Intel's QvE fills them: version, the three collateral dates,
        tcb_level_date_tag, both CRL numbers, tcb_eval_ref_num, root_key_id,
        pck_ppid, tcb_cpusvn, tcb_pce_isvsvn, pce_id (its two bytes as the PCK
        certificate holds them), tee_type, sgx_type, platform_instance_id (zero
        when the PCK has none), the three configuration flags (2 = undefined
        when the PCK has none), sa_list (the matched level's advisory ids,
        comma-separated, NUL-terminated) and the qe_iden_* fields (dates of the
        QE identity and its issuer chain, its matched level's tcbDate, its
        evaluation data number, and its status as an ``sgx_ql_qv_result_t`` code).
        """
        v, pck = self.verdict, self.verdict.pck
        config = pck.configuration
        sa_list = ",".join(v.advisory_ids).encode("ascii")
        if len(sa_list) >= SA_LIST_SIZE:
            raise MalformedMessage("supplemental data", "sa_list", 172, f"{len(sa_list)} bytes of advisory ids do not "
                                   f"fit in {SA_LIST_SIZE} with the NUL")
        qe = v.qe_identity_dates
        qe_tcb_date = _seconds(_date(v.qe_tcb_date)) if v.qe_tcb_date else 0
        return _SUPPLEMENTAL.pack(
            SUPPLEMENTAL_MAJOR, SUPPLEMENTAL_MINOR,
            _seconds(v.dates.earliest_issue), _seconds(v.dates.latest_issue), _seconds(v.dates.earliest_expiration),
            _seconds(self.tcb_date), v.pck_crl_number, v.root_ca_crl_number, self.tcb_evaluation_data_number,
            v.root_key_id, pck.ppid, pck.cpusvn, pck.pcesvn, pck.pce_id, 0x81 if v.quote.is_tdx else 0,
            int(pck.sgx_type), pck.platform_instance_id or bytes(16),
            _flag(config.dynamic_platform if config else None), _flag(config.cached_keys if config else None),
            _flag(config.smt_enabled if config else None), sa_list,
            _seconds(qe.earliest_issue), _seconds(qe.latest_issue), _seconds(qe.earliest_expiration), qe_tcb_date,
            v.qe_tcb_evaluation_data_number, QV_RESULT[v.qe_status],
        )


@dataclasses.dataclass(frozen=True)
class IasResult(_Serializable):
    """A genuine IAS Attestation Verification Report (EPID), and any policy verdict.

    The report is Intel's statement at its timestamp: ``collateral_issued`` is
    that timestamp. IAS reports carry no TCB date and no supplemental data.
    """

    kind: ClassVar[str] = "ias"
    report: AttestationReport
    verified_at: datetime
    simulated: bool = False
    policy: PolicyVerdict | None = None
    envelope: Envelope | None = None

    @property
    def tee(self) -> str:
        return "SGX"

    @property
    def status(self) -> str:
        return self.report.status

    @property
    def advisory_ids(self) -> tuple[str, ...]:
        return self.report.advisory_ids

    @property
    def tcb_date(self) -> datetime | None:
        return None

    @property
    def tcb_evaluation_data_number(self) -> int | None:
        return self.report.tcb_evaluation_data_number

    @property
    def collateral_issued(self) -> datetime:
        return self.report.timestamp

    @property
    def body(self) -> ReportBody:
        return self.report.quote.report_body

    def to_dict(self) -> dict[str, Any]:
        r = self.report
        return self._enveloped({
            "kind": self.kind, "tee": "SGX", "verified_at": iso(self.verified_at), "simulated": self.simulated,
            "status": r.status, "advisory_ids": list(r.advisory_ids), "advisory_url": r.advisory_url,
            "tcb_evaluation_data_number": r.tcb_evaluation_data_number, "report_id": r.id,
            "timestamp": iso(r.timestamp), "report_version": r.version, "nonce": r.nonce,
            "epid_pseudonym": r.epid_pseudonym.hex() if r.epid_pseudonym else None,
            "platform_info_blob": r.platform_info_blob.to_tlv_hex().lower() if r.platform_info_blob else None,
            "revocation_reason": r.revocation_reason, "pse_manifest_status": r.pse_manifest_status,
            "epid_group_id": r.quote.epid_group_id.hex(),
            "body": plain(self.body),
            "policy": self.policy.to_dict() if self.policy else None,
        })


VerificationResult = DcapResult | IasResult


def _date(text: str) -> datetime:
    """A tcbDate of signed collateral (Intel writes ISO-8601 UTC); anything else is malformed collateral."""
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise MalformedMessage("tcb_info", "tcbDate", 0, f"{text[:40]!r} is not an ISO-8601 time") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def _seconds(moment: datetime) -> int:
    return int(moment.timestamp())


def _flag(value: bool | None) -> int:
    return _UNDEFINED if value is None else int(value)
