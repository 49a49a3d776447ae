"""The lean DCAP parsers judge exactly as the plain readings they replace, and their memos never serve a stale result.

Each lean step is held against a straightforward reference (line by line, field by field, the hook that
refuses repeated members) on generated inputs, and the real quote and collateral still verify.
"""

from __future__ import annotations

import dataclasses
import json
import re
from datetime import datetime, timezone
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID
from hypothesis import given
from hypothesis import strategies as st

from sgxra.errors import CertificateChainError, MalformedMessage, SgxRaError, SignatureInvalid
from sgxra.verify import pki
from sgxra.verify.dcap import DcapVerifier, verify_dcap_quote
from sgxra.verify.pki import common_name
from sgxra.wire import certificates, der, pck_extension
from sgxra.wire._json import JsonObject
from sgxra.wire.collateral import Collateral, QeIdentity, TcbInfo, read_signed
from sgxra.wire.dcap_quote import DcapQuote
from sgxra.wire.memo import Memo, clear_parse_memos
from sgxra.wire.pck_extension import SGX_EXTENSION_OID, PckExtension
from signed_json_reference import signed_bytes
from vectors_env import SGX_AT as AT
from vectors_env import RealSgx


@pytest.fixture(scope="module")
def real(real_sgx: RealSgx) -> tuple[bytes, str]:
    return real_sgx.quote, real_sgx.collateral_text


# --- PEM lines: found by their dashes, checked block by block; the reference reads every line --------------

def _reference_pem_lines(pem: bytes) -> list[bytes] | int:
    """Line by line, as the reader was before: the certificate blocks, or the offset of the first refusal."""
    inside, offset, start, blocks = False, 0, 0, []
    for line in pem.split(b"\n"):
        text = line.rstrip(bytes(range(0x21)))
        if b"-----" in text:
            if not (text.startswith((b"-----BEGIN ", b"-----END ")) and text.endswith(b"-----")):
                return offset
            if inside and text in (b"-----END CERTIFICATE-----", b"-----END X509 CERTIFICATE-----"):
                blocks.append(pem[start:offset])
            inside = text.startswith(b"-----BEGIN ")
            start = offset + len(line) + 1
        elif inside and (stray := text.translate(None, certificates._PEM_DATA_BYTES)):
            return offset + text.index(stray[:1])
        offset += len(line) + 1
    return blocks


_PEM_PIECES = st.sampled_from([
    b"-----BEGIN CERTIFICATE-----", b"-----END CERTIFICATE-----", b"-----BEGIN X509 CERTIFICATE-----",
    b"-----END X509 CERTIFICATE-----", b"-----BEGIN OTHER-----", b"-----END OTHER-----", b"MIIBkTCB+w==",
    b"abc/+9", b"\n", b"\r\n", b" ", b"\t", b"\x0b", b"\x0c", b"\x00", b"-----", b"x-----y", b"#", b"\xff", b"",
])


@given(st.lists(_PEM_PIECES, max_size=24))
def test_pem_lines_judged_as_line_by_line(pieces: list[bytes]) -> None:
    pem = b"".join(pieces)
    expected = _reference_pem_lines(pem)
    if isinstance(expected, int):
        with pytest.raises(MalformedMessage) as refused:
            certificates._check_pem_lines(pem, "chain")
        assert refused.value.offset == expected
    else:
        assert certificates._check_pem_lines(pem, "chain") == expected


def _block(cert: x509.Certificate) -> bytes:
    """The body of ``cert``'s PEM block (base64 lines), as the memo of blocks keys it."""
    return cert.public_bytes(Encoding.PEM).split(b"-----\n", 1)[1].rsplit(b"-----END", 1)[0]


def test_a_remembered_block_serves_only_the_same_certificate(real: tuple[bytes, str]) -> None:
    clear_parse_memos()
    leaf, ca, _ = DcapQuote.parse(real[0]).pck_chain()
    block = _block(leaf)
    certificates._CERTS.put(block, ca)  # as if this block had held the PCK CA certificate
    assert certificates._checked(leaf, block, "chain") is leaf  # another certificate: checked itself, not swapped
    fresh = x509.load_der_x509_certificate(leaf.public_bytes(Encoding.DER))
    assert certificates._checked(fresh, block, "chain") is leaf  # the same certificate: the one checked before


def test_text_that_pyca_reads_otherwise_cannot_make_a_block_serve_another_certificate(real: tuple[bytes, str]) -> None:
    """Boundary lines that the line checks and pyca split differently: the blocks the line checks found hold
    one certificate (the PCK CA) while pyca read others. No block may then serve what pyca read for it."""
    clear_parse_memos()
    collateral = Collateral.from_json(real[1])
    ca = x509.load_pem_x509_certificates(collateral.pck_crl_issuer_chain.encode())[0]
    signer, root = x509.load_pem_x509_certificates(collateral.tcb_info_issuer_chain.encode())
    odd = b"-----BEGIN FOO----- -----END FOO-----\n" + _block(ca) + b"-----END CERTIFICATE-----\n"
    text = (odd + b"-----BEGIN CERTIFICATE-----\n" + _block(signer) + b"-----END CERTIFICATE----------BEGIN "
            b"CERTIFICATE-----\n" + _block(root) + b"-----END CERTIFICATE-----\n" + odd)
    assert [c.subject for c in x509.load_pem_x509_certificates(text)] == [signer.subject, root.subject]
    assert [c.subject for c in pki.load_pem_chain(text)] == [signer.subject, root.subject]
    assert pki.load_pem_chain(ca.public_bytes(Encoding.PEM)) == [ca]


def test_names_read_from_the_block_are_the_certificates(real: tuple[bytes, str]) -> None:
    clear_parse_memos()
    chain = DcapQuote.parse(real[0]).pck_chain()
    for cert in chain:
        assert certificates.certificate_names(cert) == certificates._der_names(cert.public_bytes(Encoding.DER))
        assert certificates.certificate_names(cert).tbs == cert.tbs_certificate_bytes
    assert [common_name(c) for c in chain] == [
        c.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value for c in chain]


# --- Signed JSON: read once; compact text taken as is, any other text re-read refusing repeats --------------

_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-10**20, 10**20) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner, max_size=4),
    max_leaves=12,
)


@given(st.dictionaries(st.text(max_size=4), _JSON, max_size=5), st.booleans(), st.booleans(), st.booleans())
def test_signed_json_read_as_the_hook_reads_it(obj: dict[str, Any], spaced: bool, ascii_only: bool,
                                               repeat: bool) -> None:
    clear_parse_memos()
    text = json.dumps(obj, ensure_ascii=ascii_only, separators=(", ", ": ") if spaced else (",", ":"))
    if repeat and obj:
        key = json.dumps(next(iter(obj)), ensure_ascii=ascii_only)
        text = text[:-1] + f",{key}:1}}"  # the first member's name once more
    expected = signed_bytes(text)
    if expected is None:
        with pytest.raises(MalformedMessage):
            read_signed(text, "tcb_info")
        return
    signed, parsed = read_signed(text, "tcb_info")
    assert signed == expected and parsed == json.loads(text)


@pytest.mark.parametrize("text", ["[" * 100_000, '{"a":' * 100_000, '{"a":"\\ud800"}'])
def test_signed_json_that_python_cannot_hold_is_malformed_not_a_crash(text: str) -> None:
    with pytest.raises(MalformedMessage):
        read_signed(text, "tcb_info")
    with pytest.raises(MalformedMessage):
        TcbInfo.parse(text)


def test_deeply_nested_collateral_is_refused_with_a_typed_error(real: tuple[bytes, str]) -> None:
    collateral = dataclasses.replace(Collateral.from_json(real[1]), tcb_info="[" * 100_000)
    with pytest.raises(SgxRaError):
        verify_dcap_quote(real[0], collateral, at=AT)


def test_typed_collateral_remembered_per_text_only_when_it_parses(real: tuple[bytes, str]) -> None:
    clear_parse_memos()
    collateral = Collateral.from_json(real[1])
    assert TcbInfo.parse(collateral.tcb_info) is TcbInfo.parse(collateral.tcb_info)
    assert QeIdentity.parse(collateral.qe_identity) == QeIdentity._parse(JsonObject("qe_identity", collateral.qe_identity))
    broken = collateral.tcb_info.replace('"tcbType":0', '"tcbType":1')
    for _ in range(2):  # a refusal is not remembered as anything
        with pytest.raises(MalformedMessage, match="tcbType"):
            TcbInfo.parse(broken)


# --- PCK extension by offsets, against the reading by copied TLVs --------------------------------------------

def _reference_extension(data: bytes) -> dict[str, Any]:
    """Every member by dotted OID, read with der.read_all (copies), as a plain dict of values."""
    def members(body: bytes) -> dict[str, der.Tlv]:
        found: dict[str, der.Tlv] = {}
        for item in der.read_all(body, "ref"):
            oid, value = der.read_all(der.expect(item, der.SEQUENCE, "ref", "m"), "ref")
            name = der.decode_oid(der.expect(oid, der.OID, "ref", "o"), "ref", 0)
            if name in found:
                raise MalformedMessage("ref", name, 0, "twice")
            found[name] = value
        return found
    (outer,) = der.read_all(data, "ref")
    top = members(der.expect(outer, der.SEQUENCE, "ref", "root"))
    tcb = members(der.expect(top[f"{SGX_EXTENSION_OID}.2"], der.SEQUENCE, "ref", "tcb"))
    return {"fmspc": top[f"{SGX_EXTENSION_OID}.4"].value, "pce_id": top[f"{SGX_EXTENSION_OID}.3"].value,
            "ppid": top[f"{SGX_EXTENSION_OID}.1"].value, "cpusvn": tcb[f"{SGX_EXTENSION_OID}.2.18"].value,
            "components": tuple(int.from_bytes(tcb[f"{SGX_EXTENSION_OID}.2.{i}"].value, "big") for i in range(1, 17)),
            "pcesvn": int.from_bytes(tcb[f"{SGX_EXTENSION_OID}.2.17"].value, "big")}


@pytest.fixture(scope="module")
def extension(real: tuple[bytes, str]) -> bytes:
    leaf = DcapQuote.parse(real[0]).pck_chain()[0]
    value = leaf.extensions.get_extension_for_oid(x509.ObjectIdentifier(SGX_EXTENSION_OID)).value
    assert isinstance(value, x509.UnrecognizedExtension)
    return value.value


@given(st.data())
def test_pck_extension_by_offsets_agrees_with_copied_tlvs(extension: bytes, data: st.DataObject) -> None:
    raw = bytearray(extension)
    for _ in range(data.draw(st.integers(0, 3))):
        raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    raw = raw[: data.draw(st.integers(0, len(raw)))] if data.draw(st.booleans()) else raw
    try:
        parsed = PckExtension.parse(bytes(raw))
    except MalformedMessage:
        return  # refusals are stricter than the reference's (types, sizes); what is accepted must agree
    reference = _reference_extension(bytes(raw))
    assert (parsed.fmspc, parsed.pce_id, parsed.ppid, parsed.cpusvn, parsed.tcb_components, parsed.pcesvn) == (
        reference["fmspc"], reference["pce_id"], reference["ppid"], reference["cpusvn"], reference["components"],
        reference["pcesvn"])


def _by_members(data: bytes, monkeypatch: pytest.MonkeyPatch) -> PckExtension | str:
    """The extension read member by member (the canonical-components step switched off), or the refusal."""
    with monkeypatch.context() as patched:
        patched.setattr(pck_extension, "_canonical_components", lambda *_: None)
        try:
            return PckExtension._parse(data)
        except MalformedMessage as e:
            return str(e)


def _as_read(data: bytes) -> PckExtension | str:
    try:
        return PckExtension._parse(data)
    except MalformedMessage as e:
        return str(e)


@given(svns=st.lists(st.integers(0, 255), min_size=16, max_size=16), pcesvn=st.integers(0, 0xFFFF),
       data=st.data())
def test_canonical_components_read_as_member_by_member(extension: bytes, svns: list[int], pcesvn: int,
                                                       data: st.DataObject) -> None:
    """The one-step reading of Intel's component encoding gives what the member walk gives, or the same refusal,
    also once a byte is changed (a component repeated or reordered, a size changed, a long form, a truncation)."""
    built = dataclasses.replace(PckExtension._parse(extension), tcb_components=tuple(svns), pcesvn=pcesvn).to_der()
    raw = bytearray(data.draw(st.sampled_from([built, extension])))
    for _ in range(data.draw(st.integers(0, 2))):
        raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    with pytest.MonkeyPatch.context() as monkeypatch:
        assert _as_read(bytes(raw)) == _by_members(bytes(raw), monkeypatch)


def test_canonical_components_are_taken_for_the_real_certificate(extension: bytes) -> None:
    tag, start, end = der.span(extension, 0, len(extension), "x")
    members = pck_extension._members(extension, tag, start, end, "x")
    tcb = members[pck_extension._KEYS[f"{SGX_EXTENSION_OID}.2"]]
    assert pck_extension._canonical_components(extension, *tcb) is not None
    # A repeated component after the sixteen is not taken in one step: the member walk refuses it.
    repeated = extension.replace(bytes.fromhex("3010060b2a864886f84d010d0102110201"), bytes.fromhex(
        "3010060b2a864886f84d010d0102010201"), 1)
    assert repeated != extension
    with pytest.raises(MalformedMessage, match="appears twice"):
        PckExtension._parse(repeated)
    # A repeat followed by a malformed member: the member walk's first defect (the repeat), as without the step.
    cpusvn = repeated.index(bytes.fromhex("301f060b2a864886f84d010d0102120410"))
    extra = bytes.fromhex("301f060b2a864886f84d010d010212020100040d") + bytes(13)  # same size, a third element
    with pytest.raises(MalformedMessage, match="appears twice"):
        PckExtension._parse(repeated[:cpusvn] + extra + repeated[cpusvn + len(extra):])


# --- Quote: signed regions sliced from the input, never stale after a change ---------------------------------

def test_signed_regions_are_the_input_and_a_changed_quote_is_re_serialised(real: tuple[bytes, str]) -> None:
    quote = DcapQuote.parse(real[0])
    assert quote.signed_bytes() == real[0][: len(quote.signed_bytes())]
    assert quote.qe.qe_report_bytes() == quote.qe.qe_report.to_bytes()
    built = dataclasses.replace(quote)  # built anew: no remembered bytes, the same serialisation
    assert built.signed_bytes() == quote.signed_bytes() and built.qe.qe_report_bytes() == quote.qe.qe_report_bytes()
    body = dataclasses.replace(quote.body, report_data=b"\x01" * 64)
    tampered = dataclasses.replace(quote, body=body)
    assert tampered.signed_bytes() != quote.signed_bytes()
    with pytest.raises(SignatureInvalid, match="quote signature"):
        verify_dcap_quote(tampered, Collateral.from_json(real[1]), at=AT)
    report = dataclasses.replace(quote.qe.qe_report, isv_svn=quote.qe.qe_report.isv_svn + 1)
    with pytest.raises(SignatureInvalid, match="QE report signature"):
        verify_dcap_quote(dataclasses.replace(quote, qe=dataclasses.replace(quote.qe, qe_report=report)),
                          Collateral.from_json(real[1]), at=AT)


def test_verdict_the_same_cold_remembered_and_cached(real: tuple[bytes, str]) -> None:
    clear_parse_memos()
    cold = verify_dcap_quote(real[0], Collateral.from_json(real[1]), at=AT)
    remembered = verify_dcap_quote(real[0], Collateral.from_json(real[1]), at=AT)  # parse memos filled
    verifier = DcapVerifier()
    cached = [verifier.verify(real[0], Collateral.from_json(real[1]), at=AT) for _ in range(2)][-1]
    assert cold == remembered == cached
    assert cold.pck_crl_number == remembered.pck_crl_number and cold.root_key_id == cached.root_key_id


def test_memos_are_bounded_and_keep_no_oversized_input() -> None:
    memo: Memo[bytes, int] = Memo(3, largest=8)
    for i in range(5):
        assert memo.put(bytes([i]), i) == i
    assert len(memo) == 3 and memo.get(b"\x00") is None and memo.get(b"\x04") == 4  # the oldest went first
    assert memo.put(b"x" * 9, 9) == 9 and memo.get(b"x" * 9) is None  # returned, not kept
    clear_parse_memos()
    assert len(memo) == 0


def _pyca_chain(pem: bytes) -> list[bytes] | str:
    """What pyca's own PEM reader makes of ``pem``: each certificate's DER, or that it refused."""
    try:
        return [c.public_bytes(Encoding.DER) for c in x509.load_pem_x509_certificates(pem)]
    except ValueError:
        return "refused"


def _plain_variants(pem: bytes) -> dict[str, bytes]:
    """The real chain and texts around the plain form: CRLF, other line lengths, a stray last bit, other labels."""
    last_data = pem.index(b"\n-----END")  # the first certificate's data ends there
    pad = len(pem[:last_data]) - len(pem[:last_data].rstrip(b"="))
    alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    last = last_data - pad - 1
    assert pad  # so the last data character carries unused low bits
    stray = pem[:last] + alphabet[alphabet.index(pem[last]) ^ 1 :][:1] + pem[last + 1 :]
    return {
        "as sent": pem,
        "crlf": pem.replace(b"\n", b"\r\n"),
        "one data line": re.sub(rb"(?<=[A-Za-z0-9+/=])\n(?=[A-Za-z0-9+/=])", b"", pem),
        "blank lines between": pem.replace(b"-----END CERTIFICATE-----\n", b"-----END CERTIFICATE-----\n\n\n"),
        "stray bits": stray,
        "x509 label": pem.replace(b" CERTIFICATE-----", b" X509 CERTIFICATE-----"),
        "space in data": pem.replace(b"\n", b" \n", 3),
        "no newline at end": pem.rstrip(b"\n"),
    }


def test_plain_blocks_read_as_pyca_reads_them(real: tuple[bytes, str]) -> None:
    pem = DcapQuote.parse(real[0]).pck_chain_pem.rstrip(b"\x00")
    plain_seen = 0
    for name, text in _plain_variants(pem).items():
        clear_parse_memos()
        expected = _pyca_chain(text)
        plain = certificates._plain_blocks(text)
        if plain is not None:  # read here, not by pyca: the same certificates, passing the line checks it skips
            plain_seen += 1
            # a block known by its text (the pinned root's, as pyca writes it) gives its certificate
            assert [read if isinstance(read, bytes) else read.public_bytes(Encoding.DER) for _, read in plain] \
                == expected, name
            assert certificates._check_pem_lines(text, "c") == [block for block, _ in plain], name
        try:
            got: list[bytes] | str = [c.public_bytes(Encoding.DER) for c in certificates.checked_pem_chain(text, "c")]
        except MalformedMessage:
            got = "refused"
        assert got == expected, name
    assert plain_seen == 5  # as sent, CRLF, one data line, blank lines between, no newline at the end


@given(st.lists(_PEM_PIECES, max_size=24))
def test_plain_text_passes_the_line_checks(pieces: list[bytes]) -> None:
    pem = b"".join(pieces)
    plain = certificates._plain_blocks(pem)
    if plain is not None:
        assert certificates._check_pem_lines(pem, "chain") == [block for block, _ in plain]


def _issued(subject: str, issuer: str, key: Any, signer: Any, algorithm: Any) -> x509.Certificate:
    def name(cn: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    start = datetime(2024, 1, 1, tzinfo=timezone.utc)
    return (x509.CertificateBuilder().subject_name(name(subject)).issuer_name(name(issuer)).public_key(key.public_key())
            .serial_number(7).not_valid_before(start).not_valid_after(start.replace(year=2030))
            .sign(signer, algorithm))


def _outer_algorithm(cert: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> x509.Certificate:
    """``cert``'s TBSCertificate (naming ecdsa-with-SHA256) signed with SHA-384 under an outer ecdsa-with-SHA384:
    a valid signature, algorithms that disagree."""
    tbs = cert.tbs_certificate_bytes
    sha384 = der.sequence(der.encode_oid("1.2.840.10045.4.3.3"))
    signature = key.sign(tbs, ec.ECDSA(hashes.SHA384()))
    return x509.load_der_x509_certificate(der.sequence(tbs, sha384, der.encode(0x03, b"\x00" + signature)))


def test_certificate_signatures_judged_as_pyca_judges_them() -> None:
    parent_key, other_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    parent = _issued("CA", "CA", parent_key, parent_key, hashes.SHA256())
    rsa_parent = _issued("CA", "CA", rsa_key, rsa_key, hashes.SHA256())
    cases = {
        "valid": (_issued("leaf", "CA", other_key, parent_key, hashes.SHA256()), parent),
        "valid, SHA-384": (_issued("leaf", "CA", other_key, parent_key, hashes.SHA384()), parent),
        "another issuer named": (_issued("leaf", "Other CA", other_key, parent_key, hashes.SHA256()), parent),
        "another key signed": (_issued("leaf", "CA", other_key, other_key, hashes.SHA256()), parent),
        "RSA parent": (_issued("leaf", "CA", other_key, rsa_key, hashes.SHA256()), rsa_parent),
        "RSA parent, EC signature": (_issued("leaf", "CA", other_key, parent_key, hashes.SHA256()), rsa_parent),
        "inner SHA-256, outer SHA-384, signed with SHA-384": (
            _outer_algorithm(_issued("leaf", "CA", other_key, parent_key, hashes.SHA256()), parent_key), parent),
    }
    for name, (child, issuer) in cases.items():
        clear_parse_memos()
        try:
            child.verify_directly_issued_by(issuer)
            expected = True
        except Exception:  # noqa: BLE001 -- any refusal of pyca's is the reference here
            expected = False
        try:
            pki._check_issued_by(child, issuer, issuer)
            got = True
        except CertificateChainError:
            got = False
        assert got == expected, name
        assert expected == (name.startswith("valid") or name == "RSA parent"), name  # the cases say what they are
