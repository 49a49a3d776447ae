"""A simulated Intel DCAP PKI: root, PCK CAs, PCK certificates, TCB signing, CRLs, signed collateral.

Certificates and CRLs follow the profile of Intel's (so that Intel's own
verification library accepts them under the simulated root): subject
attributes CN, O, L, ST, C in that order; extensions authority key identifier,
CRL distribution points, subject key identifier, key usage (critical),
basic constraints (critical), in that order, plus the SGX extension in PCK
certificates; the root's path length 1, the CAs' 0; CRLs of version 2 with
a CRL number and the issuer's key identifier, all signed with ECDSA-SHA256.
The common names are Intel's, except the root's; the organisation, locality,
state and country mark the simulation, the CRL distribution points lie in the
reserved ``.invalid`` domain, and the root is generated, so nothing here
verifies under Intel's pinned root.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID

from sgxra.sim.collateral_json import (
    DEFAULT_QE_LEVELS,
    DEFAULT_TDX_MODULES,
    SIM_QE_ATTRIBUTES,
    SIM_QE_ATTRIBUTES_MASK,
    SIM_QE_MRSIGNER,
    SIM_QE_PROD_ID,
    SIM_TD_QE_PROD_ID,
    SIM_TDX_MODULE_MRSIGNER,
    CollateralSpec,
    SimQeLevel,
    SimTcbLevel,
    SimTdxModule,
    qe_identity_json,
    tcb_info_json,
)
from sgxra.wire.collateral import Collateral
from sgxra.wire.pck_extension import SGX_EXTENSION_OID, PckExtension

__all__ = [  # the collateral model is re-exported: callers import it from here
    "DEFAULT_QE_LEVELS", "DEFAULT_TDX_MODULES", "SIM_QE_ATTRIBUTES", "SIM_QE_ATTRIBUTES_MASK", "SIM_QE_MRSIGNER",
    "SIM_QE_PROD_ID", "SIM_TDX_MODULE_MRSIGNER", "SIM_TD_QE_PROD_ID", "CollateralSpec", "SimIntelPki", "SimQeLevel",
    "SimTcbLevel", "SimTdxModule", "pem", "raw_signature",
]

# Subjects follow Intel's attribute order (CN, O, L, ST, C) and keep Intel's common names, which
# verifiers (sgxra's and Intel's) use to tell the certificates' roles apart; O, L, ST and C mark the
# simulation instead, and the generated root is what really keeps it apart from Intel's pinned one.
ORG = "sgxra simulation (not Intel)"
LOCALITY, STATE, COUNTRY = "Simulation", "SIM", "ZZ"  # ZZ: an ISO 3166 code assigned to no country
ROOT_NAME = "sgxra SIMULATED SGX Root CA"
CA_NAMES = {"processor": "Intel SGX PCK Processor CA", "platform": "Intel SGX PCK Platform CA"}
# Where Intel's certificates point for their CRLs; the simulation points into the reserved .invalid domain.
CRL_BASE = "https://pcs.sgxra-simulation.invalid"
ROOT_CRL_URL = f"{CRL_BASE}/IntelSGXRootCA.der"


def pck_crl_url(ca: str) -> str:
    return f"{CRL_BASE}/sgx/certification/v4/pckcrl?ca={ca}&encoding=der"


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORG),
                      x509.NameAttribute(NameOID.LOCALITY_NAME, LOCALITY),
                      x509.NameAttribute(NameOID.STATE_OR_PROVINCE_NAME, STATE),
                      x509.NameAttribute(NameOID.COUNTRY_NAME, COUNTRY)])


def _usage(*, ca: bool) -> x509.KeyUsage:
    """CAs: certificate and CRL signing; leaves (PCK, TCB signing): digital signature and non-repudiation."""
    return x509.KeyUsage(digital_signature=not ca, content_commitment=not ca, key_encipherment=False,
                         data_encipherment=False, key_agreement=False, key_cert_sign=ca, crl_sign=ca,
                         encipher_only=False, decipher_only=False)


def raw_signature(key: ec.EllipticCurvePrivateKey, data: bytes) -> bytes:
    """ECDSA-P256-SHA256 as Intel encodes it: r || s, 32 bytes each, big-endian."""
    r, s = decode_dss_signature(key.sign(data, ec.ECDSA(hashes.SHA256())))
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def pem(*certs: x509.Certificate) -> str:
    return "".join(c.public_bytes(serialization.Encoding.PEM).decode() for c in certs)


_STATE_FILES = ("root", "processor", "platform", "tcb")


class SimIntelPki:
    """Generated keys and certificates standing in for Intel's DCAP PKI."""

    def __init__(self, now: datetime, *, lifetime: timedelta = timedelta(days=3650)) -> None:
        self.now = now
        self._start, self._end = now - timedelta(days=1), now + lifetime
        self.root_key = ec.generate_private_key(ec.SECP256R1())
        self.root = self._certificate(_name(ROOT_NAME), self.root_key.public_key(), self.root_key, None, ca_path=1)
        self.ca_keys = {kind: ec.generate_private_key(ec.SECP256R1()) for kind in CA_NAMES}
        self.cas = {kind: self._certificate(_name(CA_NAMES[kind]), self.ca_keys[kind].public_key(), self.root_key,
                                            self.root, ca_path=0) for kind in CA_NAMES}
        self.tcb_key = ec.generate_private_key(ec.SECP256R1())
        self.tcb_signing = self._certificate(_name("Intel SGX TCB Signing"), self.tcb_key.public_key(),
                                             self.root_key, self.root)

    @classmethod
    def load_or_create(cls, state_dir: Path, now: datetime) -> SimIntelPki:
        """The PKI kept in ``state_dir`` (so a PCS mock and clients agree), made on first use."""
        paths = {n: (state_dir / f"sim-{n}.pem", state_dir / f"sim-{n}.key") for n in _STATE_FILES}
        pki = cls.__new__(cls)
        if not all(c.exists() and k.exists() for c, k in paths.values()):
            pki = cls(now)
            state_dir.mkdir(parents=True, exist_ok=True)
            for name, (cert, key) in zip(_STATE_FILES, pki._parts(), strict=True):
                paths[name][0].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
                paths[name][1].touch(mode=0o600)
                paths[name][1].write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                             serialization.NoEncryption()))
            return pki
        loaded = {}
        for name, (cert_path, key_path) in paths.items():
            private = serialization.load_pem_private_key(key_path.read_bytes(), None)
            if not isinstance(private, ec.EllipticCurvePrivateKey):
                raise ValueError(f"{key_path} is not an EC key")
            loaded[name] = (x509.load_pem_x509_certificate(cert_path.read_bytes()), private)
        pki.now = now
        pki.root, pki.root_key = loaded["root"]
        pki._start, pki._end = pki.root.not_valid_before_utc, pki.root.not_valid_after_utc
        pki.cas = {kind: loaded[kind][0] for kind in CA_NAMES}
        pki.ca_keys = {kind: loaded[kind][1] for kind in CA_NAMES}
        pki.tcb_signing, pki.tcb_key = loaded["tcb"]
        return pki

    def _parts(self) -> list[tuple[x509.Certificate, ec.EllipticCurvePrivateKey]]:
        return [(self.root, self.root_key), (self.cas["processor"], self.ca_keys["processor"]),
                (self.cas["platform"], self.ca_keys["platform"]), (self.tcb_signing, self.tcb_key)]

    def _certificate(
        self, subject: x509.Name, public_key: ec.EllipticCurvePublicKey, issuer_key: ec.EllipticCurvePrivateKey,
        issuer: x509.Certificate | None, *, ca_path: int | None = None, crl_url: str = ROOT_CRL_URL,
        extra: x509.ExtensionType | None = None,
    ) -> x509.Certificate:
        """A certificate with Intel's extensions, in Intel's order and criticality (see the module doc)."""
        ski = x509.SubjectKeyIdentifier.from_public_key(public_key)
        aki = x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key())
        cdp = x509.CRLDistributionPoints([x509.DistributionPoint(
            [x509.UniformResourceIdentifier(crl_url)], None, None, None)])
        builder = (
            x509.CertificateBuilder().subject_name(subject)
            .issuer_name(issuer.subject if issuer else subject).public_key(public_key)
            .serial_number(x509.random_serial_number()).not_valid_before(self._start).not_valid_after(self._end)
            .add_extension(aki, critical=False).add_extension(cdp, critical=False).add_extension(ski, critical=False)
            .add_extension(_usage(ca=ca_path is not None), critical=True)
            .add_extension(x509.BasicConstraints(ca=ca_path is not None, path_length=ca_path), critical=True)
        )
        if extra is not None:
            builder = builder.add_extension(extra, critical=False)
        return builder.sign(issuer_key, hashes.SHA256())

    def pck_certificate(self, extension: PckExtension, public_key: ec.EllipticCurvePublicKey,
                        ca: str = "processor") -> x509.Certificate:
        """A PCK leaf carrying the SGX extension, issued by the processor or platform CA."""
        sgx = x509.UnrecognizedExtension(x509.ObjectIdentifier(SGX_EXTENSION_OID), extension.to_der())
        return self._certificate(_name("Intel SGX PCK Certificate"), public_key, self.ca_keys[ca], self.cas[ca],
                                 crl_url=pck_crl_url(ca), extra=sgx)

    def crl(self, issuer: x509.Certificate, key: ec.EllipticCurvePrivateKey, revoked: Iterable[int],
            issued: datetime, validity: timedelta) -> bytes:
        """A CRL as Intel's: version 2, CRL number 1 and the issuer's key identifier, ECDSA-SHA256."""
        aki = x509.AuthorityKeyIdentifier.from_issuer_public_key(key.public_key())
        builder = (x509.CertificateRevocationListBuilder().issuer_name(issuer.subject)
                   .last_update(issued).next_update(issued + validity)
                   .add_extension(x509.CRLNumber(1), critical=False).add_extension(aki, critical=False))
        for serial in revoked:
            builder = builder.add_revoked_certificate(
                x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(issued).build())
        return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)

    def tcb_info_json(self, spec: CollateralSpec) -> str:
        return tcb_info_json(spec, self.now)

    def qe_identity_json(self, spec: CollateralSpec) -> str:
        return qe_identity_json(spec, self.now)

    def collateral(self, spec: CollateralSpec) -> Collateral:
        issued = spec.issued or self.now
        tcb_info, qe_identity = self.tcb_info_json(spec), self.qe_identity_json(spec)
        signing_chain = pem(self.tcb_signing, self.root)
        return Collateral(
            pck_crl_issuer_chain=pem(self.cas[spec.ca], self.root),
            root_ca_crl=self.crl(self.root, self.root_key, spec.revoked_ca_serials, issued, spec.validity),
            pck_crl=self.crl(self.cas[spec.ca], self.ca_keys[spec.ca], spec.revoked_pck_serials, issued,
                             spec.validity),
            tcb_info_issuer_chain=signing_chain, tcb_info=tcb_info,
            tcb_info_signature=raw_signature(self.tcb_key, tcb_info.encode()),
            qe_identity_issuer_chain=signing_chain, qe_identity=qe_identity,
            qe_identity_signature=raw_signature(self.tcb_key, qe_identity.encode()),
        )
