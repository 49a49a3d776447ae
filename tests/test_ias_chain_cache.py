"""The IAS signing chain's verification is cached per chain and root; the report signature never is."""

from __future__ import annotations

import base64
import json
import urllib.parse
from collections.abc import Sequence
from datetime import datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from ias_env import PKI, now, quote_from
from sgxra.errors import CertificateChainError, CertificateExpired, SignatureInvalid
from sgxra.ias import client
from sgxra.ias.mock import MockIas
from sgxra.ias.mock_config import MockIasConfig, MockPlatform
from sgxra.ias.mock_pki import MockIasPki
from sgxra.verify import ias as verify_ias
from sgxra.verify.ias import SigningChainCache, verify_report
from sgxra.verify.pki import load_urlencoded_chain
from sgxra.wire.memo import clear_parse_memos

T0 = now()
QUOTE = quote_from("p")


def signed_report(pki: MockIasPki) -> tuple[bytes, bytes, list[x509.Certificate]]:
    """A report from the mock IAS signed under ``pki``: body, signature, chain."""
    mock = MockIas(MockIasConfig(platforms=(MockPlatform("p"),)), pki, lambda: T0)
    answer = mock.report(5, json.dumps({"isvEnclaveQuote": base64.b64encode(QUOTE).decode()}).encode())
    assert answer.status == 200
    signature = base64.b64decode(answer.headers["X-IASReport-Signature"])
    return answer.body, signature, load_urlencoded_chain(answer.headers["X-IASReport-Signing-Certificate"])


@pytest.fixture
def chain_checks(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts full chain verifications (cache misses)."""
    calls: list[int] = []
    real = verify_ias.verify_chain

    def counting(chain: Sequence[x509.Certificate], root: x509.Certificate, *, at: datetime) -> x509.Certificate:
        calls.append(1)
        return real(chain, root, at=at)

    monkeypatch.setattr(verify_ias, "verify_chain", counting)
    return calls


def test_hit_skips_the_chain_but_still_checks_every_report_signature(chain_checks: list[int]) -> None:
    cache = SigningChainCache()
    body, signature, chain = signed_report(PKI)
    for _ in range(3):
        assert verify_report(body, signature, chain=chain, at=T0, root=PKI.root, chain_cache=cache).status == "OK"
    assert len(chain_checks) == 1 and len(cache) == 1
    with pytest.raises(SignatureInvalid, match="does not verify"):
        verify_report(body, bytes([signature[0] ^ 1]) + signature[1:], chain=chain, at=T0, root=PKI.root,
                      chain_cache=cache)
    with pytest.raises(SignatureInvalid, match="does not verify"):
        verify_report(body.replace(b'"OK"', b'"Ok"'), signature, chain=chain, at=T0, root=PKI.root, chain_cache=cache)
    assert len(chain_checks) == 1  # both refusals came from the cached path


def test_cached_chain_is_refused_outside_its_validity_window() -> None:
    cache = SigningChainCache()
    body, signature, chain = signed_report(PKI)
    verify_report(body, signature, chain=chain, at=T0, root=PKI.root, chain_cache=cache)
    after_end = PKI.leaf.not_valid_after_utc + timedelta(seconds=1)
    before_start = PKI.leaf.not_valid_before_utc - timedelta(seconds=1)
    for at in (after_end, before_start):
        with pytest.raises(CertificateExpired, match="expired or not yet valid"):
            verify_report(body, signature, chain=chain, at=at, root=PKI.root, chain_cache=cache)


def _certificate(subject: str, issuer: str, key: rsa.RSAPrivateKey, signer: rsa.RSAPrivateKey, *, ca: bool,
                 days: int) -> x509.Certificate:
    usage = {"digital_signature": not ca, "content_commitment": False, "key_encipherment": False,
             "data_encipherment": False, "key_agreement": False, "key_cert_sign": ca, "crl_sign": ca,
             "encipher_only": False, "decipher_only": False}
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(T0 - timedelta(days=1)).not_valid_after(T0 + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=0 if ca else None), critical=True)
        .add_extension(x509.KeyUsage(**usage), critical=True)
        .sign(signer, hashes.SHA256())
    )


def test_the_roots_window_counts_too() -> None:
    """A root that expires before its leaf ends the cached entry's use with it."""
    root_key, leaf_key = (rsa.generate_private_key(public_exponent=65537, key_size=2048) for _ in range(2))
    root = _certificate("short-lived root", "short-lived root", root_key, root_key, ca=True, days=2)
    leaf = _certificate("signer", "short-lived root", leaf_key, root_key, ca=False, days=30)
    body = b'{"id":"1"}'
    signature = leaf_key.sign(body, padding.PKCS1v15(), hashes.SHA256())
    cache = SigningChainCache()
    assert cache.signing_key([leaf], root, T0).public_numbers() == leaf_key.public_key().public_numbers()
    with pytest.raises(CertificateExpired, match="short-lived root"):
        verify_report(body, signature, chain=[leaf], at=T0 + timedelta(days=3), root=root, chain_cache=cache)


def test_entries_are_per_root(chain_checks: list[int]) -> None:
    cache = SigningChainCache()
    body, signature, chain = signed_report(PKI)
    verify_report(body, signature, chain=chain, at=T0, root=PKI.root, chain_cache=cache)
    other = MockIasPki.generate(T0)
    with pytest.raises(CertificateChainError):
        verify_report(body, signature, chain=chain, at=T0, root=other.root, chain_cache=cache)
    assert len(chain_checks) == 2 and len(cache) == 1


def test_an_equal_chain_parsed_anew_is_verified_anew(chain_checks: list[int]) -> None:
    """Entries are found by the certificate objects: the client hands over the same ones for the same header."""
    cache = SigningChainCache()
    body, signature, chain = signed_report(PKI)
    verify_report(body, signature, chain=chain, at=T0, root=PKI.root, chain_cache=cache)
    clear_parse_memos()  # the PEM memo would hand back the very same objects
    again = load_urlencoded_chain(urllib.parse.quote(PKI.chain_pem.decode(), safe=""))
    assert again == chain and again[0] is not chain[0]
    verify_report(body, signature, chain=again, at=T0, root=PKI.root, chain_cache=cache)
    assert len(chain_checks) == 2 and len(cache) == 2


def test_bounded_least_recently_used_goes_first(chain_checks: list[int]) -> None:
    cache = SigningChainCache(max_entries=2)
    reports = [signed_report(pki) for pki in (PKI, MockIasPki.generate(T0), MockIasPki.generate(T0))]
    roots = [chain[-1] for _, _, chain in reports]

    def verify(i: int) -> None:
        body, signature, chain = reports[i]
        verify_report(body, signature, chain=chain, at=T0, root=roots[i], chain_cache=cache)

    for i in (0, 1, 0, 2):  # 0 used again after 1: 1 is the least recently used when 2 comes
        verify(i)
    assert len(cache) == 2 and len(chain_checks) == 3
    verify(0)
    assert len(chain_checks) == 3  # still cached
    verify(1)
    assert len(chain_checks) == 4 and len(cache) == 2  # evicted, verified afresh


def test_a_cache_holds_at_least_one_entry() -> None:
    with pytest.raises(ValueError, match="at least one"):
        SigningChainCache(max_entries=0)


def test_header_parsing_is_reused_per_exact_value() -> None:
    header = urllib.parse.quote(PKI.chain_pem.decode(), safe="")
    first = client._chain_from_header(header)
    assert client._chain_from_header(header) is first
    assert client._chain_from_header(header.replace("%0A", "%0a")) is not first  # another exact value: parsed anew
