"""Hypothesis strategies for every wire structure."""

from __future__ import annotations

from hypothesis import strategies as st

from sgxra.wire import (
    AttestationStatus,
    Attributes,
    EpidQuote,
    Msg0,
    Msg0Msg1,
    Msg1,
    Msg2,
    Msg3,
    Msg4,
    PlatformInfoBlob,
    QuoteSignType,
    ReportBody,
)


def blob(size: int) -> st.SearchStrategy[bytes]:
    return st.binary(min_size=size, max_size=size)


def uint(bits: int) -> st.SearchStrategy[int]:
    return st.integers(min_value=0, max_value=(1 << bits) - 1)


attributes = st.builds(Attributes, flags=uint(64), xfrm=uint(64))
report_bodies = st.builds(
    ReportBody,
    cpu_svn=blob(16), misc_select=uint(32), reserved1=blob(12), isv_ext_prod_id=blob(16), attributes=attributes,
    mr_enclave=blob(32), reserved2=blob(32), mr_signer=blob(32), reserved3=blob(32), config_id=blob(64),
    isv_prod_id=uint(16), isv_svn=uint(16), config_svn=uint(16), reserved4=blob(42), isv_family_id=blob(16),
    report_data=blob(64),
)
quotes = st.builds(
    EpidQuote,
    version=st.sampled_from([1, 2]), sign_type=st.sampled_from(QuoteSignType), epid_group_id=blob(4),
    qe_svn=uint(16), pce_svn=uint(16), xeid=uint(32), basename=blob(32), report_body=report_bodies,
    signature=st.binary(max_size=800),
)
pibs = st.builds(
    PlatformInfoBlob,
    sgx_epid_group_flags=uint(8), sgx_tcb_evaluation_flags=uint(16), pse_evaluation_flags=uint(16),
    latest_equivalent_tcb_psvn=blob(18), latest_pse_isvsvn=uint(16), latest_psda_svn=blob(4), xeid=uint(32),
    gid=uint(32), signature=blob(64),
)
msg0s = st.builds(Msg0, extended_epid_group_id=uint(32))
msg1s = st.builds(Msg1, g_a=blob(64), gid=blob(4))
msg0msg1s = st.builds(Msg0Msg1, msg0=msg0s, msg1=msg1s)
msg2s = st.builds(
    Msg2, g_b=blob(64), spid=blob(16), quote_type=st.sampled_from(QuoteSignType), kdf_id=uint(16),
    sign_gb_ga=blob(64), mac=blob(16), sig_rl=st.binary(max_size=600),
)
msg3s = st.builds(Msg3, mac=blob(16), g_a=blob(64), ps_sec_prop=blob(256), quote=quotes.map(lambda q: q.to_bytes()))
msg4s = st.builds(Msg4, status=st.sampled_from(AttestationStatus), platform_info_blob=pibs)

STRUCTURES = {
    "report_body": (ReportBody, report_bodies),
    "quote": (EpidQuote, quotes),
    "platform_info_blob": (PlatformInfoBlob, pibs),
    "msg0": (Msg0, msg0s),
    "msg1": (Msg1, msg1s),
    "msg0msg1": (Msg0Msg1, msg0msg1s),
    "msg2": (Msg2, msg2s),
    "msg3": (Msg3, msg3s),
    "msg4": (Msg4, msg4s),
}
