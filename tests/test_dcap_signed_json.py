"""What the signature over a TCB info or QE identity covers, as Intel's QVL reads it.

Intel's QVL verifies the signature over the compact re-serialisation of the
parsed object (members in their order), not over the text as it arrived:
whitespace added by a cache or proxy is harmless, a reordered or repeated
member breaks the signature. Each case is put to Intel's QVL too.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable
from datetime import datetime

import pytest

from dcap_env import NOW, PKI, spec
from dcap_env import quote as sim_quote
from intel_qvl import qvl_verify
from sgxra.errors import MalformedMessage, SgxRaError
from sgxra.sim.dcap_pki import raw_signature
from sgxra.verify.dcap import verify_dcap_quote
from sgxra.verify.trust import intel_sgx_root_ca
from sgxra.wire.collateral import Collateral, TcbStatus
from vectors_env import SGX_AT as AT
from vectors_env import RealSgx

REAL_STATUS = TcbStatus.ConfigurationAndSWHardeningNeeded.value


def _pretty(text: str) -> str:
    return json.dumps(json.loads(text), indent=2)


def _reordered(text: str) -> str:
    members = list(json.loads(text).items())
    return json.dumps(dict(members[1:] + members[:1]), separators=(",", ":"))


# (how the text is changed, Intel's verdict with the original signature)
EDITS: dict[str, tuple[Callable[[str], str], str]] = {
    "pretty-printed": (_pretty, REAL_STATUS),
    "space-after-a-colon": (lambda t: t.replace('"version":', '"version": ', 1), REAL_STATUS),
    "unicode-escape": (lambda t: re.sub(r'"id":"(.)', lambda m: f'"id":"\\u{ord(m[1]):04x}', t, count=1), REAL_STATUS),
    "member-moved": (_reordered, "Rejected"),
    "member-repeated": (lambda t: re.sub(r'("version":\d+,)', r"\1\1", t, count=1), "Rejected"),
}


def _sgxra(quote: bytes, collateral: Collateral, at: datetime, root: object = None) -> str:
    try:
        return verify_dcap_quote(quote, collateral, at=at, root=root).status.value  # type: ignore[arg-type]
    except SgxRaError:
        return "Rejected"


@pytest.mark.parametrize("member", ["tcb_info", "qe_identity"])
@pytest.mark.parametrize("edit", list(EDITS))
def test_real_signed_json_reformatted_is_judged_as_intel_does(real_sgx: RealSgx, member: str, edit: str) -> None:
    quote, collateral = real_sgx.quote, real_sgx.collateral
    change, expected = EDITS[edit]
    bent = dataclasses.replace(collateral, **{member: change(getattr(collateral, member))})
    assert getattr(bent, member) != getattr(collateral, member)
    assert qvl_verify(quote, bent, AT, intel_sgx_root_ca()).status == expected
    assert _sgxra(quote, bent, AT) == expected


def test_pretty_text_signed_as_it_stands_is_refused() -> None:
    """The converse: a signature over the pretty text itself is not Intel's form (Intel refuses it too)."""
    good = PKI.collateral(spec())
    pretty = _pretty(good.tcb_info)
    bent = dataclasses.replace(good, tcb_info=pretty, tcb_info_signature=raw_signature(PKI.tcb_key, pretty.encode()))
    assert qvl_verify(sim_quote(), bent, NOW, PKI.root).status == "Rejected"
    assert _sgxra(sim_quote(), bent, NOW, PKI.root) == "Rejected"


def test_repeated_member_is_named() -> None:
    good = PKI.collateral(spec())
    bent = dataclasses.replace(good, qe_identity=good.qe_identity.replace('"version":2,', '"version":2,"version":2,'))
    with pytest.raises(MalformedMessage, match="repeated"):
        verify_dcap_quote(sim_quote(), bent, at=NOW, root=PKI.root)


@pytest.mark.parametrize("member", ["qe_identity", "tcb_info"])
def test_signed_json_without_its_evaluation_data_number_is_refused(member: str) -> None:
    """tcbEvaluationDataNumber is a required member of both (Intel: ..._INFO_INVALID / ENCLAVE_IDENTITY_INVALID)."""
    good = PKI.collateral(spec())
    obj = json.loads(getattr(good, member))
    del obj["tcbEvaluationDataNumber"]
    text = json.dumps(obj, separators=(",", ":"))
    signature = {f"{member}_signature": raw_signature(PKI.tcb_key, text.encode())}
    bent = dataclasses.replace(good, **{member: text}, **signature)
    assert qvl_verify(sim_quote(), bent, NOW, PKI.root).status == "Rejected"
    with pytest.raises(MalformedMessage, match="tcbEvaluationDataNumber"):
        verify_dcap_quote(sim_quote(), bent, at=NOW, root=PKI.root)
