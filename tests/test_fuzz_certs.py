"""Fuzzing the certificates inside a quote, not only its bytes: every defect is a typed error.

Hypothesis builds PCK chains with chosen defects (repeated extensions, unknown
signature algorithms, mutated DER re-signed so the signature still holds,
names that do not decode, RSA / P-384 / Ed25519 keys, a mutated SGX extension,
garbage in the value of a standard extension), puts them in a simulated quote and checks that
verification raises nothing but SgxRaError subclasses and that ``inspect``
shows the quote whatever its certificates hold. Then one quote with a
defective PCK certificate goes to a real service provider on each transport
(TCP hex lines, stdio, HTTP) and must get an authenticated msg4 NotTrusted,
reason NOT_GENUINE.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import threading
from collections.abc import Callable
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtensionOID
from hypothesis import given
from hypothesis import strategies as st

from dcap_env import NOW, PKI, QE, spec
from dcap_env import quote as sim_quote
from mutations import pem_block
from sgxra.cli.describe import DESCRIBERS
from sgxra.errors import MalformedMessage, SgxRaError
from sgxra.pcs.verifier import DcapQuoteVerifier
from sgxra.protocol.client import ClientSession, ClientVerdict
from sgxra.protocol.service_provider import SpConfig
from sgxra.sim import SimEnclave
from sgxra.sim.dcap_qe import SimEcdsaQuotingEnclave
from sgxra.transport.background import LoopThread, UvicornThread
from sgxra.transport.client import attest_http, attest_stdio, attest_tcp
from sgxra.transport.http import create_app
from sgxra.transport.lines import TcpLineServer
from sgxra.transport.service import AttestationService, ServiceConfig
from sgxra.transport.stdio import serve_stdio
from sgxra.transport.store import MemoryStore
from sgxra.verify.dcap import DcapVerifier, verify_dcap_quote
from sgxra.wire import der
from sgxra.wire.dcap_quote import CertificationData, DcapQuote
from sgxra.wire.msg4_auth import ReasonCode
from sgxra.wire.pck_extension import SGX_EXTENSION_OID
from sp_env import DEFAULT_POLICY, IDENTITY, SECRET, SP_KEY, SP_PUBLIC, SPID
from test_fuzz import mutated

# pyca warns (and does not fail) on names of odd lengths and on non-positive serial numbers.
pytestmark = [pytest.mark.filterwarnings("ignore:Attribute's length:UserWarning"),
              pytest.mark.filterwarnings("ignore:Parsed a serial number")]
COLLATERAL = PKI.collateral(spec())
BASE = DcapQuote.parse(sim_quote())
CHAIN = [QE.pck_certificate, PKI.cas["processor"], PKI.root]
SIGNERS = [PKI.ca_keys["processor"], PKI.root_key, PKI.root_key]  # who signs each position
OTHER_KEYS = {
    "rsa-2048": rsa.generate_private_key(65537, 2048),
    "p-384": ec.generate_private_key(ec.SECP384R1()),
    "ed25519": ed25519.Ed25519PrivateKey.generate(),
    "secp256k1": ec.generate_private_key(ec.SECP256K1()),
}
STRANGE_ALGORITHMS = [
    "1.2.840.113549.1.1.4",  # md5WithRSAEncryption
    "1.2.840.10040.4.3",  # dsa-with-sha1
    "1.2.840.10045.4.1",  # ecdsa-with-SHA1
    "1.2.840.113549.1.1.10",  # RSASSA-PSS, here without its parameters
    "1.3.101.113",  # Ed448
    "1.2.156.10197.1.501",  # SM2 with SM3
    "1.2.840.10045.4.3.3",  # ecdsa-with-SHA384 (known, but not what signed it)
]
STANDARD_EXTENSIONS = [
    ExtensionOID.BASIC_CONSTRAINTS, ExtensionOID.KEY_USAGE, ExtensionOID.SUBJECT_KEY_IDENTIFIER,
    ExtensionOID.AUTHORITY_KEY_IDENTIFIER, ExtensionOID.SUBJECT_ALTERNATIVE_NAME,
    ExtensionOID.CRL_DISTRIBUTION_POINTS, ExtensionOID.EXTENDED_KEY_USAGE, ExtensionOID.NAME_CONSTRAINTS,
    ExtensionOID.CERTIFICATE_POLICIES, ExtensionOID.AUTHORITY_INFORMATION_ACCESS,
]


# -- building certificates by hand --------------------------------------------


def tlv(item: der.Tlv) -> bytes:
    return der.encode(item.tag, item.value)


def parts(cert: x509.Certificate) -> tuple[list[bytes], bytes]:
    """The TBS members (each a whole TLV) and the outer signature algorithm."""
    outer = der.read_all(cert.public_bytes(serialization.Encoding.DER), "cert")[0]
    tbs, algorithm, _ = der.read_all(outer.value, "cert")
    return [tlv(t) for t in der.read_all(tbs.value, "cert")], tlv(algorithm)


def signed(members: list[bytes], algorithm: bytes, key: ec.EllipticCurvePrivateKey) -> bytes:
    """A certificate of these TBS members, signed for real by ``key`` (so defects pass the signature check)."""
    tbs = der.sequence(*members)
    return der.sequence(tbs, algorithm, der.encode(0x03, b"\x00" + key.sign(tbs, ec.ECDSA(hashes.SHA256()))))


def quote_with_chain(chain_pem: bytes, base: DcapQuote = BASE) -> bytes:
    qe = dataclasses.replace(base.qe, certification_data=CertificationData(5, chain_pem))
    return dataclasses.replace(base, qe=qe).to_bytes()


def chain_with(position: int, cert_der: bytes) -> bytes:
    ders = [c.public_bytes(serialization.Encoding.DER) for c in CHAIN]
    ders[position] = cert_der
    return b"".join(pem_block(d) for d in ders)


def extensions_of(members: list[bytes]) -> list[bytes]:
    explicit = der.read_all(members[-1], "cert")[0]
    return [tlv(e) for e in der.read_all(der.read_all(explicit.value, "cert")[0].value, "cert")]


def with_extensions(members: list[bytes], extensions: list[bytes]) -> list[bytes]:
    return [*members[:-1], der.encode(0xA3, der.sequence(*extensions))]


def leaf_builder(public_key: Any, extensions: list[x509.ExtensionType]) -> x509.CertificateBuilder:
    leaf = QE.pck_certificate
    builder = (x509.CertificateBuilder().subject_name(leaf.subject).issuer_name(leaf.issuer).public_key(public_key)
               .serial_number(leaf.serial_number).not_valid_before(leaf.not_valid_before_utc)
               .not_valid_after(leaf.not_valid_after_utc))
    for ext in extensions:
        builder = builder.add_extension(ext, critical=False)
    return builder


def leaf_extensions(replace: dict[str, x509.ExtensionType]) -> list[x509.ExtensionType]:
    """The PCK leaf's extensions, some replaced by OID (dotted), others added."""
    current = {e.oid.dotted_string: e.value for e in QE.pck_certificate.extensions}
    return list((current | replace).values())


# -- defects ------------------------------------------------------------------

Defect = tuple[bytes, bool]  # the chain's PEM, and whether verification must refuse it
positions = st.sampled_from([0, 1, 2])  # leaf, PCK CA, root


@st.composite
def duplicate_extension(draw: st.DrawFn) -> Defect:
    position = draw(positions)
    members, algorithm = parts(CHAIN[position])
    extensions = extensions_of(members)
    repeated = draw(st.sampled_from(extensions))
    extensions.insert(draw(st.integers(0, len(extensions))), repeated)
    return chain_with(position, signed(with_extensions(members, extensions), algorithm, SIGNERS[position])), True


@st.composite
def unknown_signature_algorithm(draw: st.DrawFn) -> Defect:
    position = draw(positions)
    members, _ = parts(CHAIN[position])
    oid = draw(st.one_of(st.sampled_from(STRANGE_ALGORITHMS),
                         st.lists(st.integers(0, 2**32), min_size=1, max_size=6).map(
                             lambda arcs: "1.3.6.1.4.1." + ".".join(map(str, arcs)))))
    algorithm = der.sequence(der.encode_oid(oid), *([der.encode(0x05, b"")] if draw(st.booleans()) else []))
    where = draw(st.sampled_from(["both", "inner", "outer"]))
    members[2] = algorithm if where != "outer" else members[2]
    outer = algorithm if where != "inner" else members[2]
    return chain_with(position, signed(members, outer, SIGNERS[position])), True


@st.composite
def mutated_certificate(draw: st.DrawFn) -> Defect:
    """Truncated or mutated DER: the whole certificate, or one TBS member re-signed so the signature holds."""
    position = draw(positions)
    members, algorithm = parts(CHAIN[position])
    if draw(st.booleans()):
        return chain_with(position, draw(mutated(der.sequence(der.sequence(*members), algorithm)))), False
    index = draw(st.integers(0, len(members) - 1))
    members[index] = draw(mutated(members[index]))
    return chain_with(position, signed(members, algorithm, SIGNERS[position])), False


@st.composite
def foreign_key(draw: st.DrawFn) -> Defect:
    """A PCK leaf (or CA) holding an RSA, P-384, Ed25519 or secp256k1 key, properly signed by its issuer."""
    key = OTHER_KEYS[draw(st.sampled_from(sorted(OTHER_KEYS)))].public_key()
    if draw(st.booleans()):
        cert = leaf_builder(key, leaf_extensions({})).sign(SIGNERS[0], hashes.SHA256())
        return chain_with(0, cert.public_bytes(serialization.Encoding.DER)), True
    ca = PKI.cas["processor"]
    builder = (x509.CertificateBuilder().subject_name(ca.subject).issuer_name(ca.issuer).public_key(key)
               .serial_number(ca.serial_number).not_valid_before(ca.not_valid_before_utc)
               .not_valid_after(ca.not_valid_after_utc))
    for ext in ca.extensions:
        builder = builder.add_extension(ext.value, ext.critical)
    return chain_with(1, builder.sign(SIGNERS[1], hashes.SHA256()).public_bytes(serialization.Encoding.DER)), True


@st.composite
def mutated_sgx_extension(draw: st.DrawFn) -> Defect:
    """The PCK's own key (so the QE report still verifies) with a mutated SGX extension."""
    value = QE.pck_certificate.extensions.get_extension_for_oid(x509.ObjectIdentifier(SGX_EXTENSION_OID)).value
    assert isinstance(value, x509.UnrecognizedExtension)
    bad = x509.UnrecognizedExtension(value.oid, draw(mutated(value.value)))
    cert = leaf_builder(QE.pck_key.public_key(), leaf_extensions({SGX_EXTENSION_OID: bad}))
    return chain_with(0, cert.sign(SIGNERS[0], hashes.SHA256()).public_bytes(serialization.Encoding.DER)), False


@st.composite
def garbage_in_standard_extension(draw: st.DrawFn) -> Defect:
    oid = draw(st.sampled_from(STANDARD_EXTENSIONS))
    value = draw(st.one_of(st.binary(max_size=40), st.sampled_from([b"", b"\x30\x00", b"\x05\x00", b"\x30\x03\x01\x01"])))
    garbage = x509.UnrecognizedExtension(oid, value)
    cert = leaf_builder(QE.pck_key.public_key(), leaf_extensions({oid.dotted_string: garbage}))
    return chain_with(0, cert.sign(SIGNERS[0], hashes.SHA256()).public_bytes(serialization.Encoding.DER)), False


@st.composite
def malformed_name(draw: st.DrawFn) -> Defect:
    """A subject or issuer whose string does not decode (bad UTF-8, odd BMPString, ...), re-signed."""
    position = draw(positions)
    members, algorithm = parts(CHAIN[position])
    tag = draw(st.sampled_from([0x0C, 0x1E, 0x1C, 0x13, 0x16, 0x14, 0x1A, 0x04]))
    value = der.encode(tag, draw(st.binary(max_size=9)))
    attribute = der.sequence(der.encode_oid(draw(st.sampled_from(["2.5.4.3", "2.5.4.6", "2.5.4.10", "1.2.3.4"]))), value)
    members[draw(st.sampled_from([3, 5]))] = der.sequence(der.encode(0x31, attribute))  # issuer or subject
    return chain_with(position, signed(members, algorithm, SIGNERS[position])), False


DEFECTS: dict[str, Callable[[], st.SearchStrategy[Defect]]] = {
    "malformed-name": malformed_name,
    "duplicate-extension": duplicate_extension,
    "unknown-signature-algorithm": unknown_signature_algorithm,
    "mutated-der": mutated_certificate,
    "foreign-key": foreign_key,
    "mutated-sgx-extension": mutated_sgx_extension,
    "garbage-in-standard-extension": garbage_in_standard_extension,
}


def verification_outcome(quote: bytes) -> SgxRaError | None:
    """Verify as the CLI and as the service provider do; only SgxRaError may come out, and both must agree."""
    errors: list[SgxRaError | None] = []
    sp_verifier = DcapQuoteVerifier(lambda key: COLLATERAL, clock=lambda: NOW, verifier=DcapVerifier(PKI.root))
    for verify in (lambda: verify_dcap_quote(quote, COLLATERAL, at=NOW, root=PKI.root),
                   lambda: sp_verifier.verify_quote(quote)):
        try:
            verify()
            errors.append(None)
        except SgxRaError as e:
            assert str(e)
            errors.append(e)
    assert (errors[0] is None) == (errors[1] is None), errors
    return errors[0]


@pytest.mark.parametrize("defect", DEFECTS)
def test_defective_certificates_give_typed_errors(defect: str) -> None:
    @given(DEFECTS[defect]())
    def check(case: Defect) -> None:
        chain_pem, must_fail = case
        quote = quote_with_chain(chain_pem)
        described = DESCRIBERS["quote"](quote)  # inspecting never fails on what the certificates hold
        assert described["certification_data"]["type"] == 5
        error = verification_outcome(quote)
        assert error is not None or not must_fail, "a defective PCK chain was accepted"

    check()


def test_each_defect_is_named_clearly() -> None:
    """One example of each family, with the message a user sees."""
    members, algorithm = parts(CHAIN[0])
    extensions = extensions_of(members)
    duplicated = signed(with_extensions(members, [*extensions, extensions[-1]]), algorithm, SIGNERS[0])
    with pytest.raises(MalformedMessage, match="certificate 0: field 'extensions'.*DuplicateExtension"):
        verify_dcap_quote(quote_with_chain(chain_with(0, duplicated)), COLLATERAL, at=NOW, root=PKI.root)
    members[2] = der.sequence(der.encode_oid("1.2.3.4"))
    unknown = signed(members, members[2], SIGNERS[0])
    with pytest.raises(MalformedMessage, match="field 'signature_algorithm'.*not recognized"):
        verify_dcap_quote(quote_with_chain(chain_with(0, unknown)), COLLATERAL, at=NOW, root=PKI.root)
    for position in (0, 1):  # a negative serial number, re-signed: pyca's CRL lookup would raise ValueError
        members, algorithm = parts(CHAIN[position])
        members[1] = der.encode(der.INTEGER, b"\x80")
        negative = signed(members, algorithm, SIGNERS[position])
        with pytest.raises(MalformedMessage, match=f"certificate {position}: field 'serial_number'.*not positive"):
            verify_dcap_quote(quote_with_chain(chain_with(position, negative)), COLLATERAL, at=NOW, root=PKI.root)
    rsa_leaf = leaf_builder(OTHER_KEYS["rsa-2048"].public_key(), leaf_extensions({})).sign(SIGNERS[0], hashes.SHA256())
    with pytest.raises(SgxRaError, match="P-256"):
        verify_dcap_quote(quote_with_chain(chain_with(0, rsa_leaf.public_bytes(serialization.Encoding.DER))),
                          COLLATERAL, at=NOW, root=PKI.root)


# -- one defective quote on each transport ------------------------------------


def _defective_leaf(qe: SimEcdsaQuotingEnclave) -> bytes:
    members, algorithm = parts(qe.pck_certificate)
    extensions = extensions_of(members)
    return signed(with_extensions(members, [*extensions, extensions[-1]]), algorithm, SIGNERS[0])


class DefectiveQe(SimEcdsaQuotingEnclave):
    """A genuine simulated QE whose quotes carry its PCK certificate with the SGX extension twice."""

    def get_quote(self, *args: Any, **kwargs: Any) -> bytes:
        quote = DcapQuote.parse(super().get_quote(*args, **kwargs))
        return quote_with_chain(chain_with(0, _defective_leaf(self)), quote)


DEFECTIVE_QE = DefectiveQe(PKI)


def client() -> ClientSession:
    return ClientSession(SimEnclave(DEFECTIVE_QE, IDENTITY, SP_PUBLIC))


def service() -> AttestationService:
    verifier = DcapQuoteVerifier(lambda key: COLLATERAL, clock=lambda: NOW, verifier=DcapVerifier(PKI.root))
    return AttestationService(ServiceConfig(SpConfig(SP_KEY, SPID, DEFAULT_POLICY), secret=SECRET), MemoryStore(),
                              ecdsa=verifier)


def assert_not_genuine(verdict: ClientVerdict, log: str) -> None:
    assert verdict.reason is ReasonCode.NOT_GENUINE and not verdict.trusted
    assert verdict.authenticated and verdict.secret is None
    # Refused for the reason, typed: not through the service's last-resort catch of a verifier bug.
    assert "field 'extensions'" in log and "DuplicateExtension" in log and "failed unexpectedly" not in log


def test_tcp_answers_not_genuine(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO", logger="sgxra.sp")
    with LoopThread() as loop:
        async def start() -> tuple[TcpLineServer, int]:
            server = TcpLineServer(service())
            (_, port), *_ = await server.start(["127.0.0.1"], 0)
            return server, port

        server, port = loop.run(start())
        verdict = asyncio.run(attest_tcp(client(), "127.0.0.1", port, timeout=15))
        loop.run(server.shutdown())
    assert_not_genuine(verdict, caplog.text)


def test_stdio_answers_not_genuine(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO", logger="sgxra.sp")
    to_sp, to_client = os.pipe(), os.pipe()
    sp_in, sp_out = os.fdopen(to_sp[0], "rb"), os.fdopen(to_client[1], "wb")
    client_in, client_out = os.fdopen(to_client[0], "rb"), os.fdopen(to_sp[1], "wb")
    failures: list[int] = []

    async def serve() -> int:
        return await serve_stdio(service(), sp_in, sp_out)

    sp = threading.Thread(target=lambda: failures.append(asyncio.run(serve())))
    sp.start()
    try:
        verdict = attest_stdio(client(), client_in, client_out)
    finally:
        client_out.close()  # end of input: the service provider stops
        sp.join(timeout=15)
        for stream in (sp_in, sp_out, client_in):
            stream.close()
    assert_not_genuine(verdict, caplog.text)
    assert failures == [0]  # refused with msg4, not a failed session


def test_http_answers_not_genuine(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO", logger="sgxra.sp")
    with LoopThread() as loop:
        async def build() -> AttestationService:
            return service()

        with UvicornThread(create_app(loop.run(build()))) as server:
            verdict = attest_http(client(), server.url)
    assert_not_genuine(verdict, caplog.text)


def _collateral_defects(cert: x509.Certificate, signer: ec.EllipticCurvePrivateKey) -> dict[str, bytes]:
    """The defects that used to escape from collateral chains as pyca exceptions, each re-signed."""
    members, algorithm = parts(cert)
    extensions = extensions_of(members)
    negative, bad_name = list(members), list(members)
    negative[1] = der.encode(der.INTEGER, b"\x80")
    bad_name[5] = der.sequence(der.encode(0x31, der.sequence(der.encode_oid("2.5.4.3"), der.encode(0x0C, b"\xff\xfe"))))
    return {
        "duplicate-extension": signed(with_extensions(members, [*extensions, extensions[-1]]), algorithm, signer),
        "negative-serial": signed(negative, algorithm, signer),
        "bad-utf8-subject": signed(bad_name, algorithm, signer),
    }


@pytest.mark.parametrize("defect", ["duplicate-extension", "negative-serial", "bad-utf8-subject"])
@pytest.mark.parametrize("role", ["tcb_info_issuer_chain", "qe_identity_issuer_chain", "pck_crl_issuer_chain"])
def test_defective_certificates_in_collateral_give_typed_errors(role: str, defect: str) -> None:
    """The collateral's chains are read as strictly as the quote's: a defect is a MalformedMessage naming the part."""
    cert = PKI.cas["processor"] if role == "pck_crl_issuer_chain" else PKI.tcb_signing
    cert_der = _collateral_defects(cert, PKI.root_key)[defect]
    chain = (pem_block(cert_der) + pem_block(PKI.root.public_bytes(serialization.Encoding.DER))).decode()
    collateral = dataclasses.replace(COLLATERAL, **{role: chain})
    with pytest.raises(MalformedMessage, match="certificate 0: field '"):
        verify_dcap_quote(sim_quote(), collateral, at=NOW, root=PKI.root)
