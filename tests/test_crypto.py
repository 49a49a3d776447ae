from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import cmac
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers import algorithms

from sgxra import crypto
from sgxra.errors import BadMac, BadSignature, InvalidPoint, MalformedMessage

P = 0xFFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFF


def le_point(x: int, y: int) -> bytes:
    return x.to_bytes(32, "little") + y.to_bytes(32, "little")


def valid_point() -> bytes:
    return crypto.public_key_to_point(ec.generate_private_key(ec.SECP256R1()).public_key())


def test_aes_cmac_matches_rfc4493_example_2() -> None:
    key = bytes.fromhex("2b7e151628aed2a6abf7158809cf4f3c")
    msg = bytes.fromhex("6bc1bee22e409f96e93d7e117393172a")
    assert crypto.aes_cmac(key, msg).hex() == "070a16b46b4d4144f79bdd9dd04a287c"


def test_kdf_uses_the_sdk_label_layout() -> None:
    shared = bytes(range(32))
    keys = crypto.derive_session_keys(shared)

    def cmac_of(key: bytes, data: bytes) -> bytes:
        c = cmac.CMAC(algorithms.AES(key))
        c.update(data)
        return c.finalize()

    kdk = cmac_of(bytes(16), shared)
    assert keys.kdk == kdk
    assert keys.smk == cmac_of(kdk, b"\x01SMK\x00\x80\x00")
    assert keys.sk == cmac_of(kdk, b"\x01SK\x00\x80\x00")
    assert keys.mk == cmac_of(kdk, b"\x01MK\x00\x80\x00")
    assert keys.vk == cmac_of(kdk, b"\x01VK\x00\x80\x00")
    assert len({keys.smk, keys.sk, keys.mk, keys.vk}) == 4
    assert "redacted" in repr(keys) and keys.sk.hex() not in repr(keys)


def test_ecdh_agrees_and_is_little_endian() -> None:
    a, b = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    x_ab = crypto.ecdh_shared_x_le(a, crypto.public_key_to_point(b.public_key()), "g_b")
    x_ba = crypto.ecdh_shared_x_le(b, crypto.public_key_to_point(a.public_key()), "g_a")
    assert x_ab == x_ba
    assert x_ab[::-1] == a.exchange(ec.ECDH(), b.public_key())


@pytest.mark.parametrize(
    ("point", "reason"),
    [
        (bytes(64), "infinity"),
        (le_point(1, 1), "not on the P-256 curve"),
        (le_point(P, 5), "not reduced"),
        (b"\x01" * 63, "64 bytes"),
    ],
)
def test_invalid_points_are_refused(point: bytes, reason: str) -> None:
    with pytest.raises(InvalidPoint, match=reason) as info:
        crypto.point_to_public_key(point, "g_a")
    assert info.value.field == "g_a"


def test_point_with_y_flipped_is_off_curve() -> None:
    point = valid_point()
    y = int.from_bytes(point[32:], "little")
    with pytest.raises(InvalidPoint, match="not on the P-256 curve"):
        crypto.point_to_public_key(point[:32] + ((y + 1) % P).to_bytes(32, "little"))


def test_ecdh_refuses_an_off_curve_peer() -> None:
    with pytest.raises(InvalidPoint):
        crypto.ecdh_shared_x_le(ec.generate_private_key(ec.SECP256R1()), le_point(3, 7), "g_b")


def test_msg2_signature_round_trip_and_tamper() -> None:
    sp = ec.generate_private_key(ec.SECP256R1())
    g_a, g_b = valid_point(), valid_point()
    sig = crypto.sign_gb_ga(sp, g_b, g_a)
    public = crypto.public_key_to_point(sp.public_key())
    crypto.verify_gb_ga(public, g_b, g_a, sig)
    with pytest.raises(BadSignature):
        crypto.verify_gb_ga(public, g_a, g_b, sig)
    with pytest.raises(BadSignature, match="out of range"):
        crypto.verify_gb_ga(public, g_b, g_a, bytes(64))


def test_verify_cmac_refuses_a_wrong_tag() -> None:
    key = bytes(16)
    tag = crypto.aes_cmac(key, b"data")
    crypto.verify_cmac(key, b"data", tag, "test")
    with pytest.raises(BadMac, match="test"):
        crypto.verify_cmac(key, b"data", bytes(16), "test")


def test_private_key_scalar_bounds() -> None:
    with pytest.raises(MalformedMessage, match="out of range"):
        crypto.private_key_from_le(bytes(32))
    with pytest.raises(MalformedMessage, match="32 bytes"):
        crypto.private_key_from_le(bytes(31))


def test_report_data_binding_layout() -> None:
    binding = crypto.report_data_binding(b"a" * 64, b"b" * 64, b"v" * 16)
    assert len(binding) == 64 and binding[32:] == bytes(32)
