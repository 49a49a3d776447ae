"""Trust anchors read once, CRL signatures checked over the bytes received: judged exactly as before.

A copy of the pinned root in evidence is the pinned root object only when its DER is the root's byte for
byte; any other copy is read, checked and judged as any certificate. A CRL's signature is checked over its
TBSCertList as received, and is refused when its outer algorithm differs from the signed one, as pyca's
``is_signature_valid`` refuses it.
"""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID
from hypothesis import given
from hypothesis import strategies as st

from dcap_env import NOW, PKI
from mutations import pem_block
from sgxra.errors import CertificateChainError, MalformedMessage, SignatureInvalid
from sgxra.verify.dcap import DcapVerifier
from sgxra.verify.pki import check_crl, crl_signed_by, load_crl, load_pem_chain, verify_chain, verify_tcb_signer
from sgxra.verify.trust import intel_sgx_root_ca
from sgxra.wire import certificates, der
from sgxra.wire.dcap_quote import DcapQuote
from sgxra.wire.memo import clear_parse_memos
from vectors_env import SGX_AT as REAL_AT
from vectors_env import RealSgx

ECDSA = {"sha256": (der.sequence(der.encode_oid("1.2.840.10045.4.3.2")), hashes.SHA256()),
         "sha384": (der.sequence(der.encode_oid("1.2.840.10045.4.3.3")), hashes.SHA384())}


@pytest.fixture(scope="module")
def real(real_sgx: RealSgx) -> tuple[dict[str, str], bytes]:
    return json.loads(real_sgx.collateral_text), real_sgx.quote


# --- the pinned root, met in evidence ------------------------------------------------------------------------

def test_every_exact_copy_of_the_pinned_root_is_the_root(real: tuple[dict[str, str], bytes]) -> None:
    collateral, quote = real
    root = DcapVerifier().root  # a verifier takes its root as the anchor (the pinned one by default)
    assert root == intel_sgx_root_ca()
    clear_parse_memos()  # the anchors are configuration, not a memo of evidence: clearing keeps them
    chains = [collateral["tcb_info_issuer_chain"].encode(), collateral["pck_crl_issuer_chain"].encode(),
              DcapQuote.parse(quote).pck_chain_pem]
    for chain in chains:
        assert load_pem_chain(chain)[-1] is root


@pytest.mark.parametrize(("width", "end"), [(64, b"\n"), (64, b"\r\n"), (76, b"\n")])
def test_a_copy_of_the_root_written_otherwise_is_the_root(width: int, end: bytes) -> None:
    """Known by its text as pyca writes it, or else by its DER: both give the root."""
    root = intel_sgx_root_ca()
    text = base64.b64encode(root.public_bytes(Encoding.DER))
    lines = b"".join(text[i : i + width] + end for i in range(0, len(text), width))
    clear_parse_memos()
    assert load_pem_chain(b"-----BEGIN CERTIFICATE-----" + end + lines + b"-----END CERTIFICATE-----" + end)[0] is root


def _root_copy_one_byte_off(where: str) -> bytes:
    data = bytearray(intel_sgx_root_ca().public_bytes(Encoding.DER))
    if where == "signature":
        data[-1] ^= 1  # still well formed; the root's own signature is never what trust rests on
    else:  # the root names itself: the first "Intel SGX Root CA" is its issuer, the second its subject
        cn = b"Intel SGX Root CA"
        at = data.find(cn) if where == "issuer" else data.find(cn, data.find(cn) + 1)
        data[at] = 0xFF  # no longer UTF-8
    return bytes(data)


def test_a_root_copy_one_byte_off_is_read_and_judged_as_any_certificate(real: tuple[dict[str, str], bytes]) -> None:
    clear_parse_memos()
    root = intel_sgx_root_ca()
    leaf_block = pem_block(load_pem_chain(real[0]["tcb_info_issuer_chain"].encode())[0].public_bytes(Encoding.DER))
    chain = load_pem_chain(leaf_block + pem_block(_root_copy_one_byte_off("signature")))
    assert chain[1] is not root and chain[1] != root
    with pytest.raises(CertificateChainError, match="not issued directly by the root"):
        verify_tcb_signer(chain, root, at=REAL_AT, what="TCB info")


@pytest.mark.parametrize("where", ["issuer", "subject"])
def test_a_root_copy_whose_name_does_not_decode_is_refused_typed(where: str) -> None:
    clear_parse_memos()
    with pytest.raises(MalformedMessage, match=f"certificate 0: field '{where}'"):
        load_pem_chain(pem_block(_root_copy_one_byte_off(where)))


def test_a_root_copy_still_meets_the_pem_rules() -> None:
    lines = pem_block(intel_sgx_root_ca().public_bytes(Encoding.DER)).split(b"\n")
    lines[1] = lines[1][:10] + b"\x0b" + lines[1][10:]  # a vertical tab inside a line of the block
    clear_parse_memos()
    with pytest.raises(MalformedMessage, match="OpenSSL refuses"):
        load_pem_chain(b"\n".join(lines))


def _defective_anchor() -> x509.Certificate:
    data = bytearray(PKI.root.public_bytes(Encoding.DER))
    data[data.find(b"SIMULATED")] = 0xFF  # the issuer no longer decodes; pyca reads names lazily, so it loads
    return x509.load_der_x509_certificate(bytes(data))


def test_a_defective_anchor_is_not_taken() -> None:
    anchor = _defective_anchor()
    assert certificates.trust_certificate(anchor) is anchor
    data = anchor.public_bytes(Encoding.DER)
    assert data not in certificates._TRUSTED
    clear_parse_memos()
    with pytest.raises(MalformedMessage, match="field 'issuer'"):
        load_pem_chain(pem_block(data))


def test_anchors_are_bounded_and_a_dropped_one_is_read_again() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "anchor")])
    anchors = [x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
               .serial_number(serial).not_valid_before(NOW - timedelta(days=1)).not_valid_after(NOW + timedelta(days=1))
               .sign(key, hashes.SHA256()) for serial in range(1, certificates.MAX_TRUSTED + 2)]
    for anchor in anchors:
        certificates.trust_certificate(anchor)
    assert len(certificates._TRUSTED) == len(certificates._TRUSTED_IDS) == certificates.MAX_TRUSTED
    clear_parse_memos()
    first, last = (load_pem_chain(pem_block(a.public_bytes(Encoding.DER)))[0] for a in (anchors[0], anchors[-1]))
    assert last is anchors[-1]
    assert first is not anchors[0] and first == anchors[0]
    for root in (intel_sgx_root_ca(), PKI.root):  # other tests' anchors again
        certificates.trust_certificate(root)


def test_one_anchor_serves_every_object_of_its_der() -> None:
    root = intel_sgx_root_ca()
    again = x509.load_der_x509_certificate(root.public_bytes(Encoding.DER))
    assert certificates.trust_certificate(again) is root
    assert DcapVerifier(again).root is root


def test_a_certificate_not_read_here_is_checked_before_it_is_judged() -> None:
    """A certificate handed to the chain checks straight from pyca has its parts decoded there: a defect is typed."""
    with pytest.raises(MalformedMessage, match="field 'issuer'"):
        verify_chain([_defective_anchor()], PKI.root, at=NOW)


# --- CRL signatures ------------------------------------------------------------------------------------------

def _crl_fields() -> list[bytes]:
    """The fields of the root's CRL's TBSCertList."""
    data = PKI.crl(PKI.root, PKI.root_key, [], NOW - timedelta(days=1), timedelta(days=30))
    tbs = der.read_all(der.read_one(data, 0, "CRL", 0)[0].value, "CRL")[0]
    return [der.encode(f.tag, f.value) for f in der.read_all(tbs.value, "CRL")]


def _crl_der(signed: str, outer: str) -> bytes:
    """The root's CRL naming the ``signed`` algorithm inside, ``outer`` outside, signed with the outer's hash."""
    fields = _crl_fields()
    fields[1] = ECDSA[signed][0]
    tbs = der.sequence(*fields)
    signature = der.encode(0x03, b"\x00" + PKI.root_key.sign(tbs, ec.ECDSA(ECDSA[outer][1])))
    return der.sequence(tbs, ECDSA[outer][0], signature)


@pytest.mark.parametrize(("signed", "outer"), [("sha256", "sha256"), ("sha384", "sha384"), ("sha256", "sha384"),
                                               ("sha384", "sha256")])
def test_crl_outer_algorithm_must_be_the_signed_one(signed: str, outer: str) -> None:
    """The signature holds under the outer algorithm in every case: a mismatch alone refuses it (recent pyca
    already refuses such a CRL when loading it; the signature check does not rely on that)."""
    data = _crl_der(signed, outer)
    assert certificates._crl_facts(data, "CRL").same_algorithm is (signed == outer)
    try:
        crl = load_crl(data, "root CA CRL")
    except MalformedMessage:
        assert signed != outer
        return
    assert crl_signed_by(crl, PKI.root) is crl.is_signature_valid(PKI.root.public_key()) is (signed == outer)
    if signed == outer:
        check_crl(crl, PKI.root, at=NOW, what="root CA CRL")
    else:
        with pytest.raises(SignatureInvalid, match="does not verify"):
            check_crl(crl, PKI.root, at=NOW, what="root CA CRL")


@pytest.mark.parametrize("form", ["der", "hex"])
def test_a_crl_with_trailing_bytes_is_refused(form: str, real: tuple[dict[str, str], bytes]) -> None:
    data = bytes.fromhex(real[0]["root_ca_crl"]) + b"\x00"
    clear_parse_memos()
    with pytest.raises(MalformedMessage, match="root CA CRL"):
        load_crl(data if form == "der" else data.hex().encode(), "root CA CRL")


def test_the_real_root_ca_crl_verifies_as_pyca_verifies_it(real: tuple[dict[str, str], bytes]) -> None:
    clear_parse_memos()
    crl = load_crl(real[0]["root_ca_crl"].encode(), "root CA CRL")
    root = intel_sgx_root_ca()
    assert crl_signed_by(crl, root) and crl.is_signature_valid(root.public_key())
    check_crl(crl, root, at=REAL_AT, what="root CA CRL")


_CRL_DER = PKI.crl(PKI.root, PKI.root_key, [7, 9], NOW - timedelta(days=1), timedelta(days=30))


@given(st.integers(0, len(_CRL_DER) - 1), st.integers(1, 255))
def test_crl_signatures_judged_as_pyca_judges_them(position: int, flip: int) -> None:
    """Any one byte changed: when the CRL still loads, its signature is judged as pyca's is_signature_valid."""
    data = bytearray(_CRL_DER)
    data[position] ^= flip
    try:
        crl = load_crl(bytes(data), "CRL")
    except MalformedMessage:
        return
    assert crl_signed_by(crl, PKI.root) is crl.is_signature_valid(PKI.root.public_key())
