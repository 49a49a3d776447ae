"""What simulated collateral says: TCB levels, QE and TDX module identities, as Intel's signed JSON.

Member order and versions follow Intel's PCS answers (SGX: TCB info v3 with id
"SGX", QE identity v2 with id "QE"; TDX: TCB info v3 with id "TDX", its
``tdxModule`` and ``tdxModuleIdentities`` before ``tcbLevels``, each level's
``tdxtcbcomponents`` after ``pcesvn``, QE identity with id "TD_QE"), so that
Intel's own verification library reads it as it reads Intel's.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from sgxra.wire.collateral import TcbStatus

ISO = "%Y-%m-%dT%H:%M:%SZ"
TCB_DATE = "2024-03-13T00:00:00Z"
TCB_EVALUATION_DATA_NUMBER = 17
SIM_QE_MRSIGNER = bytes.fromhex("5e1f0c7ab1a2e3d4c5b6a7988776655443322110ffeeddccbbaa998877665544")
SIM_QE_PROD_ID = 1  # Intel's SGX QE is product 1 ...
SIM_TD_QE_PROD_ID = 2  # ... and its TD QE product 2
SIM_QE_ATTRIBUTES = bytes.fromhex("11000000000000000000000000000000")
SIM_QE_ATTRIBUTES_MASK = bytes.fromhex("FBFFFFFFFFFFFFFF0000000000000000")
# Intel's TDX module signer is all zeros; the simulated module has its own, so it cannot pass for Intel's.
SIM_TDX_MODULE_MRSIGNER = hashlib.sha384(b"sgxra simulated TDX module signer").digest()

Tee = Literal["sgx", "tdx"]


@dataclass(frozen=True)
class SimTcbLevel:
    """One platform TCB level; ``tdx_components`` (the TEE TCB SVN it needs) only in TDX TCB info."""

    components: tuple[int, ...]
    pcesvn: int
    status: TcbStatus
    advisory_ids: tuple[str, ...] = ()
    tcb_date: str = TCB_DATE
    tdx_components: tuple[int, ...] | None = None

    def to_json(self, tee: Tee = "sgx") -> dict[str, Any]:
        tcb: dict[str, Any] = {"sgxtcbcomponents": _svns(self.components), "pcesvn": self.pcesvn}
        if tee == "tdx":
            if self.tdx_components is None:
                raise ValueError("a TDX TCB level needs tdx_components")
            tcb["tdxtcbcomponents"] = _svns(self.tdx_components)
        return _level(tcb, self.tcb_date, self.status, self.advisory_ids)


@dataclass(frozen=True)
class SimQeLevel:
    """One TCB level of an enclave identity (QE, TD QE, TDX module): its ISVSVN and status."""

    isvsvn: int
    status: TcbStatus
    advisory_ids: tuple[str, ...] = ()
    tcb_date: str = TCB_DATE

    def to_json(self) -> dict[str, Any]:
        return _level({"isvsvn": self.isvsvn}, self.tcb_date, self.status, self.advisory_ids)


@dataclass(frozen=True)
class SimTdxModule:
    """A TDX module identity ``TDX_<major>``; its levels are matched against the module SVN (tee_tcb_svn[0])."""

    major: int
    levels: tuple[SimQeLevel, ...]
    mrsigner: bytes = SIM_TDX_MODULE_MRSIGNER
    attributes: bytes = bytes(8)
    attributes_mask: bytes = b"\xff" * 8

    def identity_json(self) -> dict[str, Any]:
        return {"mrsigner": self.mrsigner.hex().upper(), "attributes": self.attributes.hex().upper(),
                "attributesMask": self.attributes_mask.hex().upper()}

    def to_json(self) -> dict[str, Any]:
        return ({"id": f"TDX_{self.major:02d}"} | self.identity_json()
                | {"tcbLevels": [level.to_json() for level in self.levels]})


DEFAULT_QE_LEVELS = (SimQeLevel(8, TcbStatus.UpToDate), SimQeLevel(6, TcbStatus.OutOfDate, ("INTEL-SA-00615",)))
DEFAULT_TDX_MODULES = (
    SimTdxModule(3, (SimQeLevel(3, TcbStatus.UpToDate),)),
    SimTdxModule(1, (SimQeLevel(4, TcbStatus.UpToDate), SimQeLevel(2, TcbStatus.OutOfDate, ("INTEL-SA-00837",)))),
)


@dataclass
class CollateralSpec:
    """What a simulated collateral bundle says; every field can be bent to make a test fail on purpose.

    ``tee`` picks SGX or TDX collateral; for TDX every TCB level needs
    ``tdx_components`` and ``tdx_modules`` lists the module identities.
    ``qe_prod_id`` defaults to Intel's product of the QE for that TEE.
    """

    fmspc: bytes
    ca: str = "processor"
    tcb_levels: Sequence[SimTcbLevel] = ()
    qe_levels: Sequence[SimQeLevel] = DEFAULT_QE_LEVELS
    qe_mrsigner: bytes = SIM_QE_MRSIGNER
    qe_prod_id: int | None = None
    pce_id: bytes = b"\x00\x00"
    revoked_pck_serials: Iterable[int] = ()
    revoked_ca_serials: Iterable[int] = ()
    issued: datetime | None = None  # defaults to the PKI's "now"
    validity: timedelta = timedelta(days=30)
    extra: dict[str, Any] = field(default_factory=dict)
    tee: Tee = "sgx"
    tdx_modules: Sequence[SimTdxModule] = DEFAULT_TDX_MODULES


def _svns(svns: Iterable[int]) -> list[dict[str, int]]:
    return [{"svn": svn} for svn in svns]


def _level(tcb: dict[str, Any], date: str, status: TcbStatus, advisories: tuple[str, ...]) -> dict[str, Any]:
    level = {"tcb": tcb, "tcbDate": date, "tcbStatus": status.value}
    return level | {"advisoryIDs": list(advisories)} if advisories else level


def _header(tcb_id: str, version: int, spec: CollateralSpec, now: datetime) -> dict[str, Any]:
    issued = spec.issued or now
    return {"id": tcb_id, "version": version, "issueDate": issued.strftime(ISO),
            "nextUpdate": (issued + spec.validity).strftime(ISO)}


def tcb_info_json(spec: CollateralSpec, now: datetime) -> str:
    """The TCB info text that gets signed (Intel's member order; TDX adds the module identities)."""
    obj = _header(spec.tee.upper(), 3, spec, now) | {
        # Intel's PCS writes the FMSPC upper-case in SGX TCB info and lower-case in TDX TCB info.
        "fmspc": spec.fmspc.hex().upper() if spec.tee == "sgx" else spec.fmspc.hex(),
        "pceId": spec.pce_id.hex().upper(), "tcbType": 0, "tcbEvaluationDataNumber": TCB_EVALUATION_DATA_NUMBER,
    }
    if spec.tee == "tdx":
        base = spec.tdx_modules[0] if spec.tdx_modules else SimTdxModule(0, ())
        obj |= {"tdxModule": base.identity_json(), "tdxModuleIdentities": [m.to_json() for m in spec.tdx_modules]}
    obj["tcbLevels"] = [level.to_json(spec.tee) for level in spec.tcb_levels]
    return json.dumps(obj | spec.extra.get("tcb_info", {}), separators=(",", ":"))


def qe_identity_json(spec: CollateralSpec, now: datetime) -> str:
    """The QE identity text that gets signed (id "QE" for SGX, "TD_QE" for TDX)."""
    default_prod_id = SIM_QE_PROD_ID if spec.tee == "sgx" else SIM_TD_QE_PROD_ID
    obj = _header("QE" if spec.tee == "sgx" else "TD_QE", 2, spec, now) | {
        "tcbEvaluationDataNumber": TCB_EVALUATION_DATA_NUMBER,
        "miscselect": "00000000", "miscselectMask": "FFFFFFFF",
        "attributes": SIM_QE_ATTRIBUTES.hex().upper(), "attributesMask": SIM_QE_ATTRIBUTES_MASK.hex().upper(),
        "mrsigner": spec.qe_mrsigner.hex().upper(),
        "isvprodid": default_prod_id if spec.qe_prod_id is None else spec.qe_prod_id,
        "tcbLevels": [level.to_json() for level in spec.qe_levels],
    }
    return json.dumps(obj | spec.extra.get("qe_identity", {}), separators=(",", ":"))
