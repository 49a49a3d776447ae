"""Simulated EREPORT / EGETKEY(REPORT): per-platform report keys, so a REPORT's MAC can be
checked only by its target enclave on the platform that made it.

How the simulation derives a report key (real hardware derives it inside the CPU from its
fuse key; nothing here is Intel's):

    report_key = KBKDF-CMAC-AES128 (NIST SP 800-108, counter mode, counter before the fixed input)
                 key     = the platform's 16-byte secret (the "fuse key"; random per SimReportPlatform)
                 label   = b"sgxra sim REPORT key"
                 context = key_name (u16 = 3, REPORT) || target MRENCLAVE (32) || target ATTRIBUTES (16)
                           || target MISCSELECT (u32) || target CONFIGSVN (u16) || target CONFIGID (64)
                           || the platform's CPUSVN (16) || owner epoch (16) || key_id (32)

As in the SDK's simulation mode (``_EREPORT`` in sdk/simulation/tinst), the MAC is
AES-CMAC(report_key, body[0:384]); key_id and mac are not covered, but key_id feeds the key,
so changing it changes the key. The key id is per platform "boot": 16 random bytes, then zeros.
"""

from __future__ import annotations

import hmac
import os
from dataclasses import dataclass, field, replace

from cryptography.hazmat.primitives.ciphers import algorithms
from cryptography.hazmat.primitives.kdf.kbkdf import KBKDFCMAC, CounterLocation, Mode

from sgxra import crypto
from sgxra.errors import ReportMacMismatch
from sgxra.sim.enclave import EnclaveIdentity
from sgxra.wire._codec import check_len, u16, u32
from sgxra.wire.local_report import Report, TargetInfo
from sgxra.wire.report_body import ReportBody

DEFAULT_IDENTITY = EnclaveIdentity()
KEYNAME_REPORT = 3  # SGX_KEYSELECT_REPORT
_LABEL = b"sgxra sim REPORT key"


@dataclass(frozen=True, repr=False)
class SimReportPlatform:
    """One simulated SGX platform: its secret, CPUSVN, owner epoch and the key id of this "boot"."""

    secret: bytes = field(default_factory=lambda: os.urandom(16))
    cpu_svn: bytes = bytes(16)
    owner_epoch: bytes = bytes(16)
    key_id: bytes = field(default_factory=lambda: os.urandom(16) + bytes(16))

    def __post_init__(self) -> None:
        check_len("sim_platform", "secret", self.secret, 16)
        check_len("sim_platform", "cpu_svn", self.cpu_svn, 16)
        check_len("sim_platform", "owner_epoch", self.owner_epoch, 16)
        check_len("sim_platform", "key_id", self.key_id, 32)

    def __repr__(self) -> str:
        return f"SimReportPlatform(key_id={self.key_id[:16].hex()}, secret=<redacted>)"

    def report_key(self, target: TargetInfo, key_id: bytes) -> bytes:
        """EGETKEY(REPORT) for the enclave ``target`` describes, with ``key_id``."""
        check_len("report", "key_id", key_id, 32)
        context = b"".join((u16(KEYNAME_REPORT), target.mr_enclave, target.attributes.to_bytes(),
                            u32(target.misc_select), u16(target.config_svn), target.config_id, self.cpu_svn,
                            self.owner_epoch, key_id))
        kdf = KBKDFCMAC(algorithms.AES, Mode.CounterMode, 16, 4, 4, CounterLocation.BeforeFixed, _LABEL, context, None)
        return kdf.derive(self.secret)

    def ereport(self, body: ReportBody, target: TargetInfo) -> Report:
        """EREPORT: ``body`` (with this platform's CPUSVN) MACed under ``target``'s report key."""
        body = _with_cpu_svn(body, self.cpu_svn)
        return Report(body, self.key_id, crypto.aes_cmac(self.report_key(target, self.key_id), body.to_bytes()))

    def verify_report(self, report: Report, me: TargetInfo) -> None:
        """sgx_verify_report run by the enclave ``me`` describes: only a REPORT targeted at it, made here, passes."""
        expected = crypto.aes_cmac(self.report_key(me, report.key_id), report.body.to_bytes())
        if not hmac.compare_digest(expected, report.mac):
            raise ReportMacMismatch("REPORT MAC does not verify under this enclave's report key (altered, "
                                    "targeted at another enclave, or made on another platform)")


def _with_cpu_svn(body: ReportBody, cpu_svn: bytes) -> ReportBody:
    return replace(body, cpu_svn=cpu_svn)


class SimLocalEnclave:
    """A simulated enclave on a platform: sgx_self_target, sgx_create_report and sgx_verify_report."""

    def __init__(self, platform: SimReportPlatform, identity: EnclaveIdentity = DEFAULT_IDENTITY) -> None:
        self.platform = platform
        self.identity = identity
        self._self_body = _with_cpu_svn(identity.report_body(bytes(64)), platform.cpu_svn)

    @property
    def body(self) -> ReportBody:
        """This enclave's own report body (report_data zero)."""
        return self._self_body

    def target_info(self) -> TargetInfo:
        return TargetInfo.from_report_body(self._self_body)

    def create_report(self, target: TargetInfo, report_data: bytes) -> Report:
        check_len("report", "report_data", report_data, 64)
        return self.platform.ereport(self.identity.report_body(report_data), target)

    def verify_report(self, report: Report) -> None:
        self.platform.verify_report(report, self.target_info())
