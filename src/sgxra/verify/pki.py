"""X.509 chain checks to a pinned root at an explicit time.

Done by hand rather than with ``cryptography.x509.verification``: Intel's
chains are short and fixed, carry no names to match, and need rules (key
usage per role, CRLs) that the web-PKI verifier does not express. Each
signature is judged as pyca's ``verify_directly_issued_by`` (certificates)
and ``is_signature_valid`` (CRLs) judge it, over the signed bytes as received.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Sequence
from datetime import datetime
from typing import Literal

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import SignatureAlgorithmOID

from sgxra.errors import (
    CertificateChainError,
    CertificateExpired,
    CertificateRevoked,
    CollateralExpired,
    MalformedMessage,
    SignatureInvalid,
)
from sgxra.wire import der
from sgxra.wire.certificates import (
    MAX_CHAIN_LENGTH,
    MAX_CHAIN_PEM,
    PYCA_ERRORS,
    certificate_facts,
    certificate_names,
    checked_crl,
    checked_pem_chain,
    crl_facts,
    same_certificate,
)
from sgxra.wire.memo import Memo

LeafUsage = Literal["digital_signature", "crl_sign"]
MAX_CRL_SIZE = 4 * 1024 * 1024
TCB_SIGNING_CN = "Intel SGX TCB Signing"
PCK_LEAF_CN_PHRASE = "SGX PCK Certificate"


def load_pem_chain(pem: bytes, what: str = "certificate chain") -> list[x509.Certificate]:
    """PEM certificates, leaf first, bounded, read as strictly as OpenSSL reads them, every part decoded."""
    return list(checked_pem_chain(pem, what))


def load_pem_certificate(pem: bytes, what: str) -> x509.Certificate:
    """Exactly one PEM certificate (a root to trust, say)."""
    certs = load_pem_chain(pem, what)
    if len(certs) != 1:
        raise MalformedMessage(what, "<pem>", 0, f"expected one certificate, found {len(certs)}")
    return certs[0]


def load_urlencoded_chain(header: str, what: str = "certificate chain header") -> list[x509.Certificate]:
    """A chain from a URL-encoded PEM header value (percent-decoding only: '+' stays '+')."""
    if len(header) > 3 * MAX_CHAIN_PEM:
        raise MalformedMessage(what, "<header>", 0, "too long")
    return load_pem_chain(urllib.parse.unquote(header).encode("ascii", "replace"), what)


def load_chain_text(data: bytes, what: str) -> list[x509.Certificate]:
    """A PEM chain, or the same URL-encoded as IAS sends it (X-IASReport-Signing-Certificate)."""
    if b"-----BEGIN CERTIFICATE-----" in data:
        return load_pem_chain(data, what)
    return load_urlencoded_chain(data.decode("ascii", "replace").strip(), what)


def _name(cert: x509.Certificate) -> str:
    return cert.subject.rfc4514_string() or f"serial {cert.serial_number:x}"


def iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def outside(what: str, at: datetime, start: datetime, end: datetime) -> str | None:
    """None when ``start <= at <= end`` (both ends valid, as Intel's QVL), else what is wrong, naming the window."""
    if start <= at <= end:
        return None
    return f"{what} is {'expired' if at > end else 'not yet valid'} at {iso(at)}: valid {iso(start)} .. {iso(end)}"


def check_validity(cert: x509.Certificate, at: datetime) -> None:
    facts = certificate_facts(cert)
    if not facts.not_before <= at <= facts.not_after:
        raise CertificateExpired(
            f"certificate expired or not yet valid at {iso(at)}: {_name(cert)} is valid "
            f"{iso(facts.not_before)} .. {iso(facts.not_after)}"
        )


def _extension(cert: x509.Certificate, ext_type: type[x509.ExtensionType]) -> x509.ExtensionType | None:
    """The extension of that type (pyca refuses a repeated one), from the table made when the certificate
    was read: pyca's own lookup walks every extension with an ABC isinstance each time."""
    return certificate_facts(cert).extensions.get(ext_type)


def common_name(cert: x509.Certificate) -> str:
    """The subject's first common name, its bytes read as UTF-8 (as Intel reads them: a BMPString is not text)."""
    subject = certificate_names(cert).subject
    known = _COMMON_NAMES.get(subject)
    return known if known is not None else _COMMON_NAMES.put(subject, _first_cn(subject))


_COMMON_NAMES: Memo[bytes, str] = Memo(256)  # by the subject's DER


def _first_cn(name: bytes) -> str:
    """Name ::= SEQUENCE OF SET OF SEQUENCE { OID, value }, walked by offsets."""
    _, pos, end = der.span(name, 0, len(name), "certificate")
    while pos < end:
        _, item, rdn_end = der.span(name, pos, end, "certificate")
        pos = rdn_end
        while item < rdn_end:
            _, attribute, item = der.span(name, item, rdn_end, "certificate")
            _, oid_start, oid_end = der.span(name, attribute, item, "certificate")
            if name[oid_start:oid_end] == _CN_OID:
                _, value_start, value_end = der.span(name, oid_end, item, "certificate")
                return name[value_start:value_end].decode("utf-8", "replace")
    return ""


_CN_OID = bytes((0x55, 0x04, 0x03))


def issued_by_name(child: x509.Certificate, parent: x509.Certificate) -> bool:
    """``child`` names ``parent`` as its issuer: their DER names equal (the usual case, no name decoded),
    or pyca's decoded names equal."""
    return certificate_names(child).issuer == certificate_names(parent).subject or child.issuer == parent.subject


def _issued_crl(cert: x509.Certificate, crl: x509.CertificateRevocationList) -> bool:
    """``crl`` names ``cert`` as its issuer (compared as :func:`issued_by_name` compares)."""
    return crl_facts(crl).issuer == certificate_names(cert).subject or crl.issuer == cert.subject


def crl_names_issuer_of(crl: x509.CertificateRevocationList, cert: x509.Certificate) -> bool:
    """``crl`` comes from the CA that ``cert`` names as its issuer (by name, compared as :func:`issued_by_name`)."""
    return crl_facts(crl).issuer == certificate_names(cert).issuer or crl.issuer == cert.issuer


def _check_issued_by(child: x509.Certificate, parent: x509.Certificate, root: x509.Certificate) -> None:
    try:
        _verify_issued_by(child, parent)
    except (ValueError, TypeError, UnsupportedAlgorithm, InvalidSignature) as e:
        where = "chain does not lead to the pinned root: " if parent is root else ""
        raise CertificateChainError(
            f"{where}{_name(child)} is not validly signed by {_name(parent)}: {e or 'bad signature'}"
        ) from None


def _verify_issued_by(child: x509.Certificate, parent: x509.Certificate) -> None:
    """pyca's ``verify_directly_issued_by``, for an ECDSA signature by an EC key done as its parts: the names
    compared as DER, the signature checked with the parent's key that pyca keeps (pyca re-reads the key
    from its DER at every call, ~15 us). Any other algorithm goes to pyca."""
    key = parent.public_key()
    ecdsa = _ECDSA.get(child.signature_algorithm_oid)
    if not isinstance(key, ec.EllipticCurvePublicKey) or ecdsa is None:
        child.verify_directly_issued_by(parent)
        return
    if not issued_by_name(child, parent):
        raise ValueError("issuer name does not match the parent's subject")
    names = certificate_names(child)
    if not names.same_algorithm:
        raise ValueError("inner and outer signature algorithms do not match")
    key.verify(child.signature, names.tbs, ecdsa)


# ECDSA by its signature algorithm's OID, each made once (pyca builds a new hash object at every access).
_ECDSA = {
    SignatureAlgorithmOID.ECDSA_WITH_SHA256: ec.ECDSA(hashes.SHA256()),
    SignatureAlgorithmOID.ECDSA_WITH_SHA384: ec.ECDSA(hashes.SHA384()),
    SignatureAlgorithmOID.ECDSA_WITH_SHA512: ec.ECDSA(hashes.SHA512()),
}


def _check_ca(cert: x509.Certificate, below: int) -> None:
    """A CA certificate that signs ``below`` intermediate CAs under it."""
    constraints = _extension(cert, x509.BasicConstraints)
    if not isinstance(constraints, x509.BasicConstraints) or not constraints.ca:
        raise CertificateChainError(f"{_name(cert)} is not a CA but issued a certificate")
    if constraints.path_length is not None and below > constraints.path_length:
        raise CertificateChainError(f"{_name(cert)} path length {constraints.path_length} exceeded")
    usage = _extension(cert, x509.KeyUsage)
    if isinstance(usage, x509.KeyUsage) and not usage.key_cert_sign:
        raise CertificateChainError(f"{_name(cert)} may not sign certificates (key usage)")


def _check_leaf(cert: x509.Certificate, usage_needed: LeafUsage) -> None:
    usage = _extension(cert, x509.KeyUsage)
    if usage_needed == "crl_sign":
        if not isinstance(usage, x509.KeyUsage) or not usage.crl_sign:
            raise CertificateChainError(f"{_name(cert)} is not allowed to sign CRLs (key usage lacks cRLSign)")
        constraints = _extension(cert, x509.BasicConstraints)
        if not isinstance(constraints, x509.BasicConstraints) or not constraints.ca:
            raise CertificateChainError(f"CRL issuer {_name(cert)} is not a CA certificate")
        return
    constraints = _extension(cert, x509.BasicConstraints)
    if isinstance(constraints, x509.BasicConstraints) and constraints.ca:
        raise CertificateChainError(f"signing certificate {_name(cert)} is a CA certificate")
    if not isinstance(usage, x509.KeyUsage) or not usage.digital_signature:
        raise CertificateChainError(f"{_name(cert)} is not allowed to sign (key usage lacks digitalSignature)")


class ChainMemo:
    """What one verification already checked, so chains sharing CAs are not checked twice.

    Intel's collateral repeats certificates (the TCB signing chain twice, the
    PCK CA in the CRL chain and in the quote; read once, they are the same
    objects); each signature costs ~0.1 ms. Keyed on the objects' identity
    (hashing a certificate re-encodes it), which the memo keeps alive.
    """

    def __init__(self) -> None:
        self.signatures: set[tuple[int, int]] = set()
        self.cas: set[tuple[int, int]] = set()
        self._held: list[x509.Certificate] = []

    def signed(self, child: x509.Certificate, parent: x509.Certificate) -> bool:
        return (id(child), id(parent)) in self.signatures

    def add_signed(self, child: x509.Certificate, parent: x509.Certificate) -> None:
        self._held += (child, parent)
        self.signatures.add((id(child), id(parent)))

    def ca_checked(self, cert: x509.Certificate, below: int) -> bool:
        return (id(cert), below) in self.cas

    def add_ca(self, cert: x509.Certificate, below: int) -> None:
        self._held.append(cert)
        self.cas.add((id(cert), below))


def verify_chain(
    chain: Sequence[x509.Certificate],
    root: x509.Certificate,
    *,
    at: datetime,
    leaf_usage: LeafUsage = "digital_signature",
    memo: ChainMemo | None = None,
) -> x509.Certificate:
    """Check ``chain`` (leaf first) leads to ``root`` at time ``at``; return the leaf.

    The chain may or may not end with the root itself; a chain that ends at
    another self-signed certificate is refused, as is any chain whose top is
    not signed by ``root``. ``leaf_usage`` is what the leaf is for: signing
    data, or signing CRLs (a CA). ``memo`` lets one verification skip a
    signature it already checked in another chain (Intel's chains share CAs).
    """
    if not chain:
        raise CertificateChainError("no signing certificate was given")
    if len(chain) > MAX_CHAIN_LENGTH:
        raise CertificateChainError(f"chain of {len(chain)} certificates is too long")
    path = list(chain)
    if same_certificate(path[-1], root):
        path.pop()
    if not path:
        raise CertificateChainError("the chain holds only the root, no signing certificate")
    if root in path:
        raise CertificateChainError("the root appears inside the chain")
    for cert in [*path, root]:
        check_validity(cert, at)
    _check_leaf(path[0], leaf_usage)
    memo = memo or ChainMemo()
    parents = [*path[1:], root]
    for depth, (child, parent) in enumerate(zip(path, parents, strict=True)):
        if not memo.signed(child, parent):
            _check_issued_by(child, parent, root)
            memo.add_signed(child, parent)
        if not memo.ca_checked(parent, depth):
            _check_ca(parent, below=depth)
            memo.add_ca(parent, depth)
    return path[0]


def verify_tcb_signer(
    chain: Sequence[x509.Certificate], root: x509.Certificate, *, at: datetime, what: str,
    memo: ChainMemo | None = None,
) -> x509.Certificate:
    """Intel's TCB signing certificate, the only signer of TCB info and QE identity: issued directly by
    the root, not a CA, subject CN "Intel SGX TCB Signing", digitalSignature usage. Any other
    certificate under the root (a PCK leaf, say) could otherwise vouch for any TCB. The chain is
    that certificate and the root, once each, in either order (as Intel's QVL takes it)."""
    signers = [c for c in chain if not same_certificate(c, root)]
    if len(signers) > 1:
        raise CertificateChainError(f"{what} signer {_name(signers[0])} is not issued directly by the root")
    if len(chain) != 2 or not signers:
        raise CertificateChainError(f"{what} issuer chain must be the TCB signing certificate and the root, "
                                    f"once each ({len(chain)} certificates given)")
    leaf = verify_chain([signers[0], root], root, at=at, memo=memo)  # not a CA, digitalSignature
    if common_name(leaf) != TCB_SIGNING_CN:
        raise CertificateChainError(f"{what} signer {_name(leaf)} is not Intel's TCB signing certificate "
                                    f"(CN {TCB_SIGNING_CN!r})")
    return leaf


def find_crl_issuer(
    crl: x509.CertificateRevocationList, pool: Sequence[x509.Certificate], root: x509.Certificate, *,
    at: datetime, what: str, memo: ChainMemo | None = None,
) -> tuple[x509.Certificate, list[x509.Certificate]]:
    """The CA in ``pool`` that issued ``crl``, found by the CRL's issuer name and signature, not by
    position (some sources send the whole PCK chain), and its path to ``root``, checked."""
    failure: CertificateChainError | None = None
    for cert in pool:
        if same_certificate(cert, root) or not _issued_crl(cert, crl) or not crl_signed_by(crl, cert):
            continue
        path = _path_to(root, cert, pool)
        try:
            verify_chain(path, root, at=at, leaf_usage="crl_sign", memo=memo)
        except CertificateChainError as e:  # another certificate of that name and key may chain (first reason kept)
            failure = failure or e
            continue
        return cert, path
    if failure is not None:
        raise failure
    raise SignatureInvalid(f"{what}: no certificate in its issuer chain is named {crl.issuer.rfc4514_string()} "
                           "and signed it")


def _path_to(root: x509.Certificate, cert: x509.Certificate, pool: Sequence[x509.Certificate]) -> list[x509.Certificate]:
    """``cert`` and its issuers from ``pool``, by name, up to the one the root issued (signatures checked later)."""
    path = [cert]
    while not issued_by_name(path[-1], root) and len(path) <= MAX_CHAIN_LENGTH:
        parent = next((c for c in pool if issued_by_name(path[-1], c) and c not in path
                       and not same_certificate(c, root)), None)
        if parent is None:
            break
        path.append(parent)
    return path


def load_crl(data: bytes, what: str) -> x509.CertificateRevocationList:
    """A CRL given as DER, PEM or hex of DER (PCCS serves hex); remembered per input, as read (not judged)."""
    if len(data) > MAX_CRL_SIZE:
        raise MalformedMessage(what, "<crl>", 0, f"larger than {MAX_CRL_SIZE} bytes")
    known = _CRLS.get(data)
    return known if known is not None else _CRLS.put(data, _read_crl(data, what))


_CRLS: Memo[bytes, x509.CertificateRevocationList] = Memo(32, largest=64 * 1024)


def _read_crl(data: bytes, what: str) -> x509.CertificateRevocationList:
    stripped = data.strip()
    try:
        if stripped.startswith(b"-----BEGIN"):
            crl = x509.load_pem_x509_crl(stripped)
            encoded = crl.public_bytes(Encoding.DER)
        else:
            hexed = stripped and not stripped.translate(None, b"0123456789abcdefABCDEF")
            encoded = bytes.fromhex(stripped.decode()) if hexed else data
            crl = x509.load_der_x509_crl(encoded)
        # pyca decodes these lazily; a defect must surface here, typed, not deep inside a check.
        checked_crl(crl, encoded, what)
        _ = (crl.last_update_utc, crl.next_update_utc, crl.extensions, crl.signature_hash_algorithm)
        signature = crl.signature
    except PYCA_ERRORS as e:
        raise MalformedMessage(what, "<crl>", 0, f"not a usable CRL: {type(e).__name__}: {e}") from None
    # The signature BIT STRING ends the DER; pyca drops its unused-bits count, which DER (and Intel) require to be 0.
    unused_at = len(encoded) - len(signature) - 1
    if encoded[unused_at]:
        raise MalformedMessage(what, "signatureValue", unused_at, f"BIT STRING declares {encoded[unused_at]} unused bits")
    return crl


def check_crl(crl: x509.CertificateRevocationList, issuer: x509.Certificate, *, at: datetime, what: str) -> None:
    """The CRL names ``issuer``, is signed by it and is current at ``at``."""
    if not _issued_crl(issuer, crl):
        raise SignatureInvalid(f"{what} is issued by {crl.issuer.rfc4514_string()}, not by {_name(issuer)}")
    if not crl_signed_by(crl, issuer):
        raise SignatureInvalid(f"{what} (not signed by {_name(issuer)}) does not verify")
    check_crl_current(crl, at=at, what=what)


def crl_signed_by(crl: x509.CertificateRevocationList, issuer: x509.Certificate) -> bool:
    """pyca's ``is_signature_valid`` with ``issuer``'s key (EC or RSA), for an ECDSA signature by an EC key done
    as its parts: the outer signature algorithm must be byte for byte the signed one, and the signature is
    checked over the TBSCertList as received (pyca re-encodes it at every call). Anything else goes to pyca."""
    key = issuer.public_key()
    ecdsa = _ECDSA.get(crl.signature_algorithm_oid)
    if not isinstance(key, ec.EllipticCurvePublicKey) or ecdsa is None:
        return isinstance(key, (ec.EllipticCurvePublicKey, rsa.RSAPublicKey)) and crl.is_signature_valid(key)
    facts = crl_facts(crl)
    if not facts.same_algorithm:
        return False
    try:
        key.verify(crl.signature, facts.tbs, ecdsa)
    except InvalidSignature:
        return False
    return True


def check_crl_current(crl: x509.CertificateRevocationList, *, at: datetime, what: str) -> None:
    """The CRL is current at ``at`` (up to and including its nextUpdate, as Intel's QVL)."""
    next_update = crl.next_update_utc
    if next_update is None:
        raise CollateralExpired(f"{what} has no nextUpdate")
    problem = outside(what, at, crl.last_update_utc, next_update)
    if problem:
        raise CollateralExpired(problem)


def check_not_revoked(cert: x509.Certificate, crl: x509.CertificateRevocationList, what: str) -> None:
    try:
        entry = crl.get_revoked_certificate_by_serial_number(cert.serial_number)
    except PYCA_ERRORS as e:  # revoked entries are decoded lazily
        raise MalformedMessage("CRL", "revoked_certificates", 0, f"{type(e).__name__}: {e}") from None
    if entry is not None:
        raise CertificateRevoked(f"{what} {_name(cert)} (serial {cert.serial_number:x}) is revoked")
