"""A simulated ECDSA quoting enclave producing version-3 DCAP quotes with the real layout."""

from __future__ import annotations

import hashlib
import os

from cryptography.hazmat.primitives.asymmetric import ec

from sgxra.sim.dcap_pki import SIM_QE_MRSIGNER, SIM_QE_PROD_ID, SimIntelPki, pem, raw_signature
from sgxra.wire.dcap_quote import (
    ATT_KEY_TYPE_ECDSA_P256,
    BODY_TYPE_SGX,
    CERT_TYPE_PCK_CHAIN,
    INTEL_QE_VENDOR_ID,
    TEE_TYPE_SGX,
    CertificationData,
    DcapQuote,
    QeReportCertificationData,
    QuoteHeader,
)
from sgxra.wire.pck_extension import PckExtension, SgxType
from sgxra.wire.quote import QuoteSignType
from sgxra.wire.report_body import Attributes, ReportBody
from sgxra.wire.td_report import TdReport

SIM_QE_MRENCLAVE = hashlib.sha256(b"sgxra simulated ECDSA quoting enclave").digest()
DEFAULT_FMSPC = bytes.fromhex("00906EA10000")
DEFAULT_COMPONENTS = (11, 11, 2, 2, 255, 1, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0)


class SimPckPlatform:
    """What the SGX QE and the TD QE share: a PCK certificate (from the simulated PKI) and an attestation key.

    ``fmspc`` and ``components`` default to the platform kind's own (the class attributes below).
    """

    qe_mrenclave = SIM_QE_MRENCLAVE
    qe_prod_id = SIM_QE_PROD_ID
    default_fmspc = DEFAULT_FMSPC
    default_components = DEFAULT_COMPONENTS

    def __init__(self, pki: SimIntelPki, *, fmspc: bytes | None = None, components: tuple[int, ...] | None = None,
                 pcesvn: int = 13, ca: str = "processor", qe_svn: int = 8) -> None:
        fmspc = self.default_fmspc if fmspc is None else fmspc
        components = self.default_components if components is None else components
        self.pki = pki
        self.ca = ca
        self.qe_svn = qe_svn
        self.pcesvn = pcesvn
        self.pck_key = ec.generate_private_key(ec.SECP256R1())
        self.extension = PckExtension(
            ppid=os.urandom(16), tcb_components=components, pcesvn=pcesvn, cpusvn=bytes(components),
            pce_id=b"\x00\x00", fmspc=fmspc, sgx_type=SgxType.Standard,
        )
        self.pck_certificate = pki.pck_certificate(self.extension, self.pck_key.public_key(), ca)
        self.attestation_key = ec.generate_private_key(ec.SECP256R1())

    def _quote(self, header: QuoteHeader, body_type: int, body: ReportBody | TdReport) -> bytes:
        """The signed quote: the QE report binds the attestation key, the PCK key signs the QE report."""
        numbers = self.attestation_key.public_key().public_numbers()
        attestation_key = numbers.x.to_bytes(32, "big") + numbers.y.to_bytes(32, "big")
        auth_data = os.urandom(32)
        qe_report = ReportBody.build(
            mr_enclave=self.qe_mrenclave, mr_signer=SIM_QE_MRSIGNER, isv_prod_id=self.qe_prod_id,
            isv_svn=self.qe_svn, attributes=Attributes(0x11, 0xE7),
            report_data=hashlib.sha256(attestation_key + auth_data).digest() + bytes(32),
        )
        chain = pem(self.pck_certificate, self.pki.cas[self.ca], self.pki.root).encode()
        qe = QeReportCertificationData(
            qe_report, raw_signature(self.pck_key, qe_report.to_bytes()), auth_data,
            CertificationData(CERT_TYPE_PCK_CHAIN, chain),
        )
        unsigned = DcapQuote(header, body_type, body, bytes(64), attestation_key, qe)
        signature = raw_signature(self.attestation_key, unsigned.signed_bytes())
        return DcapQuote(header, body_type, body, signature, attestation_key, qe).to_bytes()


class SimEcdsaQuotingEnclave(SimPckPlatform):
    """One simulated SGX platform's QE, quoting enclave reports in version-3 quotes."""

    @property
    def gid(self) -> bytes:
        """ECDSA quotes have no EPID group; msg1 carries zeros."""
        return bytes(4)

    def get_quote(self, report_body: ReportBody, quote_type: QuoteSignType, spid: bytes, sig_rl: bytes = b"") -> bytes:
        """A v3 quote of ``report_body`` (SPID, quote type and SigRL are EPID notions and unused)."""
        header = QuoteHeader(3, ATT_KEY_TYPE_ECDSA_P256, TEE_TYPE_SGX, self.qe_svn, self.pcesvn,
                             INTEL_QE_VENDOR_ID, bytes(20))
        return self._quote(header, BODY_TYPE_SGX, report_body)
