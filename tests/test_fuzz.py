"""Fuzzing every parser with random and mutated inputs: anything but an SgxRaError is a bug.

Seeds are real evidence where we have it (Intel's DCAP quote and collateral, IAS
reports, the sample's session) and simulated messages otherwise. Budget: the
hypothesis profile (`make test` small, `make fuzz` large).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dcap_env import PKI as DCAP_PKI
from dcap_env import quote as dcap_quote
from dcap_env import spec
from sgxra.errors import SgxRaError
from sgxra.protocol.msg4 import seal_msg4
from sgxra.protocol.state import SpPendingState
from sgxra.transport.lines import decode_line, encode_line
from sgxra.verify.pki import load_crl, load_pem_chain, load_urlencoded_chain
from sgxra.wire.any_quote import parse_quote
from sgxra.wire.collateral import Collateral, QeIdentity, TcbInfo, signed_member
from sgxra.wire.dcap_quote import DcapQuote
from sgxra.wire.ias_report import AttestationReport
from sgxra.wire.messages import AttestationStatus, Msg0Msg1, Msg2, Msg3, Msg4
from sgxra.wire.msg4_auth import AuthenticatedMsg4, ReasonCode
from sgxra.wire.pck_extension import PckExtension
from sgxra.wire.platform_info import PlatformInfoBlob
from sgxra.wire.quote import QuoteSignType
from vectors_env import SGX_COLLATERAL, SGX_QUOTE, VECTORS


def _seeds() -> dict[str, bytes]:
    collateral = DCAP_PKI.collateral(spec())
    sim_quote = dcap_quote()
    seeds = {
        "dcap_quote": sim_quote,
        "collateral": collateral.to_json().encode(),
        "tcb_info": collateral.tcb_info.encode(),
        "qe_identity": collateral.qe_identity.encode(),
        "crl": collateral.pck_crl,
        "pem_chain": collateral.tcb_info_issuer_chain.encode(),
        "pck_extension": PckExtension.from_certificate(
            load_pem_chain(DcapQuote.parse(sim_quote).pck_chain_pem)[0]).to_der(),
        "msg4_auth": seal_msg4(AttestationStatus.Trusted, ReasonCode.NONE, PlatformInfoBlob.empty(), sk=bytes(16),
                               mk=bytes(16), secret=b"secret"),
        "pib_tlv": PlatformInfoBlob.empty().to_tlv(),
        "hex_line": encode_line(sim_quote),
        "pending": SpPendingState(bytes(64), bytes(64), bytes(4), bytes(16), QuoteSignType.UNLINKABLE,
                                  bytes(16), bytes(16), bytes(16), bytes(16)).to_json().encode(),
        "signed_member": ('{"tcbInfo":' + collateral.tcb_info + ',"signature":"' + collateral.tcb_info_signature.hex()
                          + '"}').encode(),
    }
    if VECTORS.is_dir():  # real evidence, where the shared vectors are present
        session = json.loads((VECTORS / "ra-sample" / "readme_session.json").read_text())
        seeds |= {
            "real_dcap_quote": SGX_QUOTE.read_bytes(),
            "real_collateral": SGX_COLLATERAL.read_bytes(),
            "real_ias_report": (VECTORS / "ias" / "avr_v4_sw_hardening_needed.json").read_bytes(),
            "real_chain_header": (VECTORS / "ias" / "signing_chain_urlencoded.txt").read_bytes(),
            "msg0msg1": bytes.fromhex(session["msg0_msg1_hex"]),
            "msg2": bytes.fromhex(session["msg2_hex"]),
            "msg3": bytes.fromhex(session["msg3_hex"]),
            "epid_quote": bytes.fromhex(session["msg3_hex"])[336:],
            "msg4": bytes.fromhex(session["msg4_hex"]),
        }
    return seeds


SEEDS = _seeds()


def _text(parse: Callable[[str], Any]) -> Callable[[bytes], Any]:
    return lambda data: parse(data.decode("utf-8", "replace"))


PARSERS: dict[str, tuple[Callable[[bytes], Any], list[str]]] = {
    "quote": (parse_quote, ["dcap_quote", "real_dcap_quote", "epid_quote"]),
    "collateral": (Collateral.from_json, ["collateral", "real_collateral"]),
    "tcb_info": (_text(TcbInfo.parse), ["tcb_info"]),
    "qe_identity": (_text(QeIdentity.parse), ["qe_identity"]),
    "crl": (lambda d: load_crl(d, "crl"), ["crl"]),
    "pem_chain": (lambda d: load_pem_chain(d, "chain"), ["pem_chain"]),
    "chain_header": (_text(load_urlencoded_chain), ["real_chain_header", "pem_chain"]),
    "pck_extension": (PckExtension.parse, ["pck_extension"]),
    "msg4_auth": (AuthenticatedMsg4.parse, ["msg4_auth"]),
    "pib_tlv": (PlatformInfoBlob.parse_tlv, ["pib_tlv"]),
    "pending_state": (SpPendingState.from_json, ["pending"]),
    "ias_report": (AttestationReport.parse, ["real_ias_report"]),
    "signed_member": (_text(lambda t: signed_member(t, "tcbInfo", "answer")), ["signed_member"]),
    "msg0msg1": (Msg0Msg1.parse, ["msg0msg1"]),
    "msg2": (Msg2.parse, ["msg2"]),
    "msg3": (Msg3.parse, ["msg3"]),
    "msg4": (Msg4.parse, ["msg4"]),
    "hex_line": (lambda d: decode_line(d, "line"), ["hex_line"]),
}


@st.composite
def mutated(draw: st.DrawFn, seed: bytes) -> bytes:
    """A seed with a few random edits: byte flips, insertions, deletions, truncation, splices."""
    data = bytearray(seed)
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "insert", "delete", "truncate", "duplicate"]))
        at = draw(st.integers(0, max(0, len(data) - 1)))
        if kind == "flip" and data:
            data[at] ^= draw(st.integers(1, 255))
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif kind == "delete" and data:
            del data[at : at + draw(st.integers(1, 16))]
        elif kind == "truncate":
            del data[at:]
        elif kind == "duplicate" and data:
            data[at:at] = data[at : at + draw(st.integers(1, 64))]
    return bytes(data)


def _call(parse: Callable[[bytes], Any], data: bytes) -> None:
    try:
        parse(data)
    except SgxRaError:
        pass


@pytest.mark.parametrize("name", sorted(PARSERS))
@given(data=st.data())
def test_mutated_seeds_raise_only_sgxra_errors(name: str, data: st.DataObject) -> None:
    parse, seed_names = PARSERS[name]
    available = [SEEDS[s] for s in seed_names if s in SEEDS]
    if not available:
        pytest.skip(f"no seed for {name}: the real vectors in ../shared are absent")
    _call(parse, data.draw(st.sampled_from(available).flatmap(mutated)))


@pytest.mark.parametrize("name", sorted(PARSERS))
@given(raw=st.binary(max_size=4096))
def test_random_bytes_raise_only_sgxra_errors(name: str, raw: bytes) -> None:
    _call(PARSERS[name][0], raw)


def test_every_seed_parses() -> None:
    for parse, seed_names in PARSERS.values():
        for seed in seed_names:
            if seed in SEEDS:
                parse(SEEDS[seed])  # the unmutated seed is valid: the fuzzing starts from real structure
