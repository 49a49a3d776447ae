"""Supplemental-data fields of real quotes, against what dcap-qvl computes for the same inputs.

Expected values: dcap-qvl 0.7.0 (the PyPI package of Phala-Network/dcap-qvl), ``QuoteVerifier().verify_with_policy(
quote, collateral, t, QuotePolicy.claims_only(t))``, its QuoteClaims fields earliest/latest_issue_date,
earliest_expiration_date, qe_iden_*_date, platform.tcb_date_tag, pck_crl_num, root_ca_crl_num,
tcb.eval_data_number, qe.tcb_eval_data_number, qe.tcb_level.tcbDate, pck.sgx_type and the three configuration
flags, recorded on 2026-11-30 for the four real sets below (the SGX quote of ../shared/vectors, the three TDX quotes of
tests/data). dcap-qvl and Intel's QvE compute these the same way (min / max over the collateral items).
"""

from __future__ import annotations

import struct
from datetime import datetime, timezone
from pathlib import Path

import pytest

import sgxra
from sgxra.verify.result import DcapResult
from sgxra.wire.collateral import Collateral
from vectors_env import SGX_AT_UNIX, SGX_COLLATERAL, SGX_QUOTE, VECTORS

DATA = Path(__file__).parent / "data"
# name: (quote, collateral, verify time, earliest issue, latest issue, earliest expiration, qe earliest issue,
#        qe latest issue, qe earliest expiration, tcb_date_tag, evaluation number, sgx_type, (dynamic, cached, smt))
CASES = {
    "sgx_v3 (vectors)": (SGX_QUOTE, SGX_COLLATERAL, SGX_AT_UNIX,
                         1526899510, 1750330571, 1752919278, 1526899510, 1750327278, 1752919278, 1710288000, 17, 0,
                         (None, None, None)),
    "tdx_v5 go-tdx-guest": (DATA / "real/tdx_v5_td15_90c06f_gotdxguest.bin",
                            DATA / "real/tdx_v5_td15_90c06f_gotdxguest.collateral.json",
                            1789052566, 1526899510, 1789051437, 1791640586, 1526899510, 1789050902, 1791642902,
                            1755043200, 20, 1, (True, True, True)),
    "tdx_v4 ata": (DATA / "real/tdx_v4_00806f050000_ata.bin", DATA / "real/tdx_v4_00806f050000_ata.collateral.json",
                   1789139978, 1526899510, 1789137901, 1791640586, 1526899510, 1789137901, 1791729901, 1755043200, 20, 1,
                   (True, False, True)),
    "tdx_v4 dcap-qvl": (DATA / "real/tdx_v4_b0c06f_dcapqvl.bin", DATA / "dcap-qvl/tdx_quote_collateral.json", 1752000000,
                        1526899510, 1750329147, 1752919235, 1526899510, 1750329147, 1752921147, 1710288000, 17, 1,
                        (True, True, True)),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_dates_numbers_and_flags_match_dcap_qvl(case: str) -> None:
    (quote, collateral, at, earliest, latest, expiration, qe_earliest, qe_latest, qe_expiration, tcb_date, number,
     sgx_type, flags) = CASES[case]
    if quote == SGX_QUOTE and not VECTORS.is_dir():
        pytest.skip("the real SGX quote lives in ../shared/vectors")
    raw = quote.read_bytes()
    if quote.name == "tdx_v4_b0c06f_dcapqvl.bin":  # 70 zero bytes after the signature data, which Intel ignores
        raw = raw[: 636 + int.from_bytes(raw[632:636], "little")]
    result = sgxra.verify(raw, collateral=Collateral.from_json(collateral.read_text()),
                          at=datetime.fromtimestamp(at, timezone.utc))
    assert isinstance(result, DcapResult)
    data = result.to_supplemental()
    # sgx_ql_qv_supplemental_t offsets: ATTESTATION-NOTES.md section 2.2.
    assert struct.unpack_from("<qqqq", data, 8) == (earliest, latest, expiration, tcb_date)
    assert struct.unpack_from("<III", data, 40) == (1, 1, number)  # pck_crl_num, root_ca_crl_num, tcb_eval_ref_num
    assert struct.unpack_from("<qqq", data, 496) == (qe_earliest, qe_latest, qe_expiration)
    assert data[140] == sgx_type
    assert struct.unpack_from("<III", data, 160) == tuple(2 if f is None else int(f) for f in flags)
    plain = result.to_dict()
    assert (plain["dynamic_platform"], plain["cached_keys"], plain["smt_enabled"]) == flags
