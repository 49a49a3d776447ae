"""Is a DCAP (ECDSA) quote genuine, and what is its platform's TCB status?

No network: collateral is an input, time is a parameter. The order follows
Intel's quote verification library: every input read first (the quote with its
PCK chain, then each collateral item), then judged: collateral (root CA CRL,
issuer chains, signatures, dates), the PCK chain and its revocation, the QE
report signed by the PCK key, the QE report's binding of the attestation key,
the quote's signature by that key, the QE identity, then the TCB level. Where
a rule is unclear, Intel's QVL is the judge.

Every certificate must hold its role, not merely chain to the root: TCB info
and QE identity are signed only by Intel's TCB signing certificate (issued
directly by the root); the PCK CRL comes from the PCK CA that the PCK
certificate names, found in its issuer chain by name and signature (sources
differ in what that chain holds); the root CA CRL comes from the root.

``DcapVerifier`` can remember collateral and PCK chains it has verified, keyed
on their content: a result is reused only while the verification time stays
inside the window in which every certificate, CRL and signed JSON it depended
on is valid.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple, TypeVar

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from sgxra.errors import (
    CertificateChainError,
    CertificateExpired,
    CollateralExpired,
    MalformedMessage,
    SignatureInvalid,
    VerificationError,
)
from sgxra.verify import tcb
from sgxra.verify.collateral_facts import IssueDates, Span, cert_spans, crl_number, crl_span, root_key_id
from sgxra.verify.pki import (
    PCK_LEAF_CN_PHRASE,
    ChainMemo,
    check_crl,
    check_crl_current,
    check_not_revoked,
    common_name,
    crl_names_issuer_of,
    find_crl_issuer,
    load_crl,
    load_pem_chain,
    outside,
    verify_chain,
    verify_tcb_signer,
)
from sgxra.verify.trust import intel_sgx_root_ca
from sgxra.verify.validity import validity_advice
from sgxra.wire.certificates import same_certificate, trust_certificate
from sgxra.wire.collateral import Collateral, QeIdentity, TcbInfo, TcbStatus, read_signed
from sgxra.wire.dcap_quote import INTEL_QE_VENDOR_ID, DcapQuote
from sgxra.wire.pck_extension import PckExtension
from sgxra.wire.report_body import ReportBody
from sgxra.wire.td_report import TdReport

_P256_N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
_ECDSA_SHA256 = ec.ECDSA(hashes.SHA256())
K = TypeVar("K")
J = TypeVar("J", "VerifiedCollateral", "VerifiedPck")
PCK_CA_TYPES = {"Intel SGX PCK Processor CA": "processor", "Intel SGX PCK Platform CA": "platform"}


@dataclass(frozen=True)
class Window:
    """The times at which everything a result depended on is valid."""

    not_before: datetime
    not_after: datetime

    def holds(self, at: datetime) -> bool:
        return self.not_before <= at <= self.not_after

    def within(self, other: Window) -> Window:
        return Window(max(self.not_before, other.not_before), min(self.not_after, other.not_after))


def _window(spans: Sequence[Span]) -> Window:
    """Where every span holds."""
    return Window(max(start for start, _ in spans), min(end for _, end in spans))


@dataclass(frozen=True)
class VerifiedCollateral:
    """Collateral whose every signature, chain, CRL and date was checked at one time."""
    tcb_info: TcbInfo
    qe_identity: QeIdentity
    root_ca_crl: x509.CertificateRevocationList
    pck_crl: x509.CertificateRevocationList
    pck_ca: x509.Certificate  # the issuer of the PCK CRL
    window: Window
    dates: IssueDates  # over every collateral item, as Intel's supplemental data counts them
    qe_identity_dates: IssueDates  # the QE identity and its issuer chain (Intel's qe_iden_* dates)
    root_key_id: bytes
    pck_crl_number: int
    root_ca_crl_number: int


@dataclass(frozen=True)
class VerifiedPck:
    """A quote's PCK chain, checked to the pinned root and against the PCK CRL."""
    leaf: x509.Certificate
    extension: PckExtension
    ca_type: str  # "processor" or "platform"
    window: Window
    dates: IssueDates


@dataclass(frozen=True)
class DcapVerdict:
    """A genuine quote and what Intel's collateral says about its platform."""

    status: TcbStatus
    advisory_ids: tuple[str, ...]
    platform_status: TcbStatus
    qe_status: TcbStatus
    tdx_module_status: TcbStatus | None
    quote: DcapQuote
    pck: PckExtension
    ca_type: str
    tcb_date: str
    tcb_evaluation_data_number: int  # the TCB info's
    collateral_expiry: datetime  # the earliest time anything it depended on expires
    dates: IssueDates  # earliest / latest issue and earliest expiration over collateral and PCK chain
    # When the oldest of TCB info, QE identity and PCK CRL was issued: what PCS reissues (the root CA CRL,
    # issued about yearly, would make every collateral look old; its nextUpdate is checked all the same).
    collateral_issued: datetime
    qe_identity_dates: IssueDates
    qe_tcb_date: str | None  # the matched QE identity level's tcbDate
    qe_tcb_evaluation_data_number: int
    pck_crl_number: int
    root_ca_crl_number: int
    root_key_id: bytes

    @property
    def report_body(self) -> ReportBody | TdReport:
        return self.quote.body


def verify_p256(key: ec.EllipticCurvePublicKey, raw_signature: bytes, data: bytes, what: str) -> None:
    """ECDSA-P256-SHA256 with Intel's raw big-endian r || s signature."""
    if len(raw_signature) != 64:
        raise SignatureInvalid(f"{what}: signature must be 64 bytes, got {len(raw_signature)}")
    r, s = int.from_bytes(raw_signature[:32], "big"), int.from_bytes(raw_signature[32:], "big")
    if not (0 < r < _P256_N and 0 < s < _P256_N):
        raise SignatureInvalid(f"{what}: signature out of range")
    try:
        key.verify(encode_dss_signature(r, s), data, _ECDSA_SHA256)
    except InvalidSignature:
        raise SignatureInvalid(f"{what} does not verify") from None


def ec_public_key(cert: x509.Certificate, what: str) -> ec.EllipticCurvePublicKey:
    key = cert.public_key()
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
        raise CertificateChainError(f"{what} does not hold a P-256 key")
    return key


def raw_point_key(raw: bytes) -> ec.EllipticCurvePublicKey:
    try:
        return ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), b"\x04" + raw)
    except ValueError:
        raise SignatureInvalid("the quote's attestation key is not a valid P-256 point") from None


def _dated(what: str, issue: datetime, next_update: datetime, at: datetime) -> None:
    problem = outside(what, at, issue, next_update)
    if problem:
        raise CollateralExpired(f"{problem} (issueDate .. nextUpdate)")


class ReadCollateral(NamedTuple):
    """Collateral as read: every item parsed (strictly, with typed errors), nothing judged yet."""
    root_crl: x509.CertificateRevocationList
    issuer_chains: dict[str, list[x509.Certificate]]  # by PEM text: TCB info and QE identity usually share one
    tcb_info: TcbInfo
    tcb_info_signed: bytes  # what the TCB info signature covers
    qe_identity: QeIdentity
    qe_identity_signed: bytes
    crl_pool: list[x509.Certificate]  # the PCK CRL issuer chain
    pck_crl: x509.CertificateRevocationList


def read_collateral(collateral: Collateral) -> ReadCollateral:
    """Every item of ``collateral`` read, as Intel's QVL parses its inputs before verifying any (reading them
    together, before the judging, also keeps each kind of work together: ~5% faster cold)."""
    root_crl = load_crl(collateral.root_ca_crl, "root CA CRL")
    chains: dict[str, list[x509.Certificate]] = {}
    for what, pem in (("TCB info", collateral.tcb_info_issuer_chain), ("QE identity", collateral.qe_identity_issuer_chain)):
        if pem not in chains:
            chains[pem] = load_pem_chain(pem.encode(), f"{what} issuer chain")
    tcb_signed, tcb_object = read_signed(collateral.tcb_info, "TCB info", TcbInfo)
    qe_signed, qe_object = read_signed(collateral.qe_identity, "QE identity", QeIdentity)
    return ReadCollateral(
        root_crl, chains, TcbInfo.parse(collateral.tcb_info, tcb_object), tcb_signed,
        QeIdentity.parse(collateral.qe_identity, qe_object), qe_signed,
        load_pem_chain(collateral.pck_crl_issuer_chain.encode(), "PCK CRL issuer chain"),
        load_crl(collateral.pck_crl, "PCK CRL"),
    )


def verify_collateral(
    collateral: Collateral, root: x509.Certificate, at: datetime, memo: ChainMemo | None = None
) -> VerifiedCollateral:
    """Every signature, chain, CRL and date of the collateral, at time ``at``."""
    memo = memo or ChainMemo()
    read = read_collateral(collateral)
    root_crl, tcb_info, qe_identity, pck_crl = read.root_crl, read.tcb_info, read.qe_identity, read.pck_crl
    check_crl(root_crl, root, at=at, what="root CA CRL")
    # Validity windows: of everything the result depends on (``valid``), and of every item as Intel's
    # supplemental data counts them (``dated``: the signing chains and the PCK CRL's whole issuer chain).
    valid: list[Span] = [crl_span(root_crl), *cert_spans([root])]
    dated: list[Span] = [valid[0]]
    signed: dict[str, tuple[str, bytes, bytes]] = {
        "TCB info": (collateral.tcb_info_issuer_chain, collateral.tcb_info_signature, read.tcb_info_signed),
        "QE identity": (collateral.qe_identity_issuer_chain, collateral.qe_identity_signature, read.qe_identity_signed),
    }
    signers: dict[str, tuple[x509.Certificate, list[Span]]] = {}  # each issuer chain's signer, judged once
    for what, (chain_pem, signature, signed_json) in signed.items():
        if chain_pem not in signers:
            chain = read.issuer_chains[chain_pem]
            signer = verify_tcb_signer(chain, root, at=at, what=what, memo=memo)
            check_not_revoked(signer, root_crl, f"{what} signing certificate")
            signers[chain_pem] = signer, cert_spans(chain)
            valid += signers[chain_pem][1]
            dated += signers[chain_pem][1]
        leaf = signers[chain_pem][0]
        verify_p256(ec_public_key(leaf, f"{what} signing certificate"), signature, signed_json, f"{what} signature")
    _dated("TCB info", tcb_info.issue_date, tcb_info.next_update, at)
    _dated("QE identity", qe_identity.issue_date, qe_identity.next_update, at)
    tcb_span, qe_span = (tcb_info.issue_date, tcb_info.next_update), (qe_identity.issue_date, qe_identity.next_update)
    qe_identity_dated = [*signers[collateral.qe_identity_issuer_chain][1], qe_span]

    pck_ca, crl_path = find_crl_issuer(pck_crl, read.crl_pool, root, at=at, what="PCK CRL", memo=memo)
    check_crl_current(pck_crl, at=at, what="PCK CRL")
    for ca in crl_path:
        check_not_revoked(ca, root_crl, "PCK CA certificate")
    pck_crl_span = crl_span(pck_crl)
    valid += [tcb_span, qe_span, *cert_spans(crl_path), pck_crl_span]
    dated += [tcb_span, qe_span, *cert_spans(read.crl_pool), pck_crl_span]
    return VerifiedCollateral(tcb_info, qe_identity, root_crl, pck_crl, pck_ca, _window(valid),
                              IssueDates.of_spans(dated), IssueDates.of_spans(qe_identity_dated),
                              root_key_id(root), crl_number(pck_crl), crl_number(root_crl))


def verify_pck_chain(
    chain_pem: bytes, trusted: VerifiedCollateral, root: x509.Certificate, at: datetime,
    memo: ChainMemo | None = None,
) -> VerifiedPck:
    """The quote's PCK chain: to the pinned root, same root, issuer of the PCK CRL, nothing revoked."""
    chain = load_pem_chain(chain_pem, "PCK certificate chain")  # its NUL ending (a C string) stripped there
    if len(chain) != 3:
        raise CertificateChainError(f"PCK chain must be leaf, PCK CA and root; got {len(chain)} certificates")
    if not same_certificate(chain[2], root):
        raise CertificateChainError("the root carried in the quote is not the pinned root (Intel SGX Root CA)")
    leaf = verify_chain(chain, root, at=at, memo=memo)
    intermediate = chain[1]
    ca_type = pck_roles(leaf, intermediate)
    check_not_revoked(intermediate, trusted.root_ca_crl, "PCK CA certificate")
    # The PCK CRL must come from the CA the PCK certificate names as its issuer (Intel compares the names).
    same_ca = crl_names_issuer_of(trusted.pck_crl, leaf) and (same_certificate(intermediate, trusted.pck_ca) or (
        intermediate.subject == trusted.pck_ca.subject and intermediate.public_key() == trusted.pck_ca.public_key()
    ))
    if not same_ca:
        raise CertificateChainError("the PCK CRL is not from the CA that issued this PCK certificate")
    check_not_revoked(leaf, trusted.pck_crl, "PCK certificate")
    spans = cert_spans(chain)
    return VerifiedPck(leaf, PckExtension.from_certificate(leaf), ca_type, _window(spans), IssueDates.of_spans(spans))


def check_quote(quote: DcapQuote, pck: VerifiedPck, trusted: VerifiedCollateral) -> DcapVerdict:
    """The quote's own signatures and its TCB, given verified collateral and PCK."""
    if not hmac.compare_digest(quote.header.qe_vendor_id, INTEL_QE_VENDOR_ID):
        raise VerificationError(f"QE vendor {quote.header.qe_vendor_id.hex()} is not Intel's")
    qe = quote.qe
    verify_p256(ec_public_key(pck.leaf, "PCK certificate"), qe.qe_report_signature, qe.qe_report_bytes(), "QE report signature")
    binding = hashlib.sha256(quote.attestation_key + qe.qe_auth_data).digest() + bytes(32)
    if not hmac.compare_digest(qe.qe_report.report_data, binding):
        raise VerificationError("QE report data does not bind the attestation key and QE auth data")
    verify_p256(raw_point_key(quote.attestation_key), quote.isv_signature, quote.signed_bytes(), "quote signature")

    identity = trusted.qe_identity
    expected_id = "TD_QE" if quote.is_tdx else "QE"
    if identity.id != expected_id:
        raise VerificationError(f"QE identity is for {identity.id}, the quote needs {expected_id}")
    report = qe.qe_report
    if not hmac.compare_digest(report.mr_signer, identity.mrsigner):
        raise VerificationError("QE identity mismatch: MRSIGNER")
    if report.isv_prod_id != identity.isvprodid:
        raise VerificationError(f"QE identity mismatch: product id {report.isv_prod_id}, expected {identity.isvprodid}")
    # As Intel: the report's masked value must equal the identity's value as given (not masked).
    if report.misc_select & identity.miscselect_mask != identity.miscselect:
        raise VerificationError("QE identity mismatch: MISCSELECT")
    attributes = int.from_bytes(report.attributes.to_bytes(), "big") & int.from_bytes(identity.attributes_mask, "big")
    if attributes != int.from_bytes(identity.attributes, "big"):  # both 16 bytes (the parser holds them to it)
        raise VerificationError("QE identity mismatch: attributes")
    qe_level = tcb.match_module_level(identity.tcb_levels, report.isv_svn, "QE")

    info = trusted.tcb_info
    if info.id != ("TDX" if quote.is_tdx else "SGX"):
        raise VerificationError(f"TCB info is for {info.id}, not for this quote")
    if not hmac.compare_digest(info.fmspc, pck.extension.fmspc):
        raise VerificationError(f"FMSPC mismatch: PCK has {pck.extension.fmspc.hex()}, TCB info {info.fmspc.hex()}")
    if not hmac.compare_digest(info.pce_id, pck.extension.pce_id):
        raise VerificationError("PCE-ID mismatch between the PCK certificate and the TCB info")
    td = quote.body if isinstance(quote.body, TdReport) else None
    platform = tcb.evaluate_platform(info, pck.extension.tcb_components, pck.extension.pcesvn, td, qe_level.status)
    status = tcb.converge(platform.status, tcb.qe_effective(qe_level.status))
    module_level = platform.module_level
    level = platform.level
    advisories = tcb.merge_advisories(
        level.advisory_ids, qe_level.advisory_ids, module_level.advisory_ids if module_level else ()
    )
    window = trusted.window.within(pck.window)
    return DcapVerdict(
        status=status, advisory_ids=advisories, platform_status=platform.status, qe_status=qe_level.status,
        tdx_module_status=module_level.status if module_level else None, quote=quote, pck=pck.extension,
        ca_type=pck.ca_type, tcb_date=level.tcb_date, tcb_evaluation_data_number=info.tcb_evaluation_data_number,
        collateral_expiry=window.not_after, dates=trusted.dates.merge(pck.dates),
        collateral_issued=min(info.issue_date, identity.issue_date, trusted.pck_crl.last_update_utc),
        qe_identity_dates=trusted.qe_identity_dates, qe_tcb_date=qe_level.tcb_date,
        qe_tcb_evaluation_data_number=identity.tcb_evaluation_data_number,
        pck_crl_number=trusted.pck_crl_number, root_ca_crl_number=trusted.root_ca_crl_number,
        root_key_id=trusted.root_key_id,
    )


class DcapVerifier:
    """Verifies DCAP quotes against a pinned root, optionally remembering verified collateral."""

    def __init__(self, root: x509.Certificate | None = None, *, cache: bool = True, max_entries: int = 256) -> None:
        self.root = trust_certificate(root or intel_sgx_root_ca())
        # Evidence under any root but Intel's is simulation, and its results say so.
        self.simulated = self.root != intel_sgx_root_ca()
        self.cache = cache
        self.max_entries = max_entries
        self._collateral: dict[Collateral, VerifiedCollateral] = {}
        # Keyed on content (the collateral, not its id(): ids are reused once an object is freed,
        # which would serve a PCK judged against an older CRL).
        self._pck: dict[tuple[bytes, Collateral], VerifiedPck] = {}

    def verify(self, quote: bytes | DcapQuote, collateral: Collateral, *, at: datetime) -> DcapVerdict:
        if at.tzinfo is None:
            raise ValueError("verification time must be timezone-aware")
        parsed = quote if isinstance(quote, DcapQuote) else DcapQuote.parse(quote)
        chain_pem = parsed.pck_chain_pem  # the quote read whole, its PCK chain too, before anything is judged
        memo = ChainMemo()
        try:
            trusted = self._judged(self._collateral, collateral, at,
                                   lambda: verify_collateral(collateral, self.root, at, memo))
            # Keyed with the collateral too: revocation was judged against its CRLs.
            pck = self._judged(self._pck, (chain_pem, collateral), at,
                               lambda: verify_pck_chain(chain_pem, trusted, self.root, at, memo))
        except (CollateralExpired, CertificateExpired) as e:
            raise type(e)(f"{e}. {validity_advice(collateral, chain_pem)}") from None
        return check_quote(parsed, pck, trusted)

    def _judged(self, table: dict[K, J], key: K, at: datetime, judge: Callable[[], J]) -> J:
        """What ``judge`` found for ``key``: remembered (with a cache) and reused only while ``at`` is inside its window."""
        cached = table.get(key) if self.cache else None
        if cached is not None and cached.window.holds(at):
            return cached
        judged = judge()
        if self.cache:
            if len(table) >= self.max_entries:
                table.pop(next(iter(table)))
            table[key] = judged
        return judged


def verify_dcap_quote(
    quote: bytes | DcapQuote, collateral: Collateral, *, at: datetime, root: x509.Certificate | None = None
) -> DcapVerdict:
    """Verify one quote from scratch (no caching)."""
    return DcapVerifier(root, cache=False).verify(quote, collateral, at=at)


def pck_fmspc_and_ca(quote: DcapQuote) -> tuple[bytes, str]:
    """FMSPC and CA type from the quote's (not yet verified) PCK certificate, to pick collateral."""
    chain = quote.pck_chain()
    if len(chain) < 2:
        raise MalformedMessage("PCK certificate chain", "<pem>", 0, "needs the PCK leaf and its CA")
    ca_type = pck_ca_type(chain[1])
    return PckExtension.from_certificate(chain[0]).fmspc, ca_type


def pck_roles(leaf: x509.Certificate, ca: x509.Certificate) -> str:
    """Refuse unless ``leaf`` is a PCK certificate and ``ca`` a PCK CA, by their common names; the CA's type."""
    if PCK_LEAF_CN_PHRASE not in common_name(leaf):
        raise CertificateChainError(f"PCK certificate {leaf.subject.rfc4514_string()} is not a PCK certificate")
    return pck_ca_type(ca)


def pck_ca_type(ca: x509.Certificate) -> str:
    """"processor" or "platform", by the PCK CA's common name."""
    ca_type = PCK_CA_TYPES.get(common_name(ca))
    if ca_type is None:
        raise CertificateChainError(f"PCK issuer {ca.subject.rfc4514_string()} is not a PCK CA")
    return ca_type
