"""Verdicts of sgxra and of a reference verifier on the same case, and their comparison.

A verdict is "refused" or "accepted with a TCB status". sgxra is LOOSER when it
accepts what the reference refuses or accepts with another status; STRICTER
when it refuses what the reference accepts, which is allowed only where a
table of (case-name pattern, reason) says why.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone

from cryptography import x509

from mutations import Case, all_mutations, base_case, light_mutations, real_sets
from sgxra.errors import SgxRaError
from sgxra.verify.dcap import verify_dcap_quote
from sgxra.verify.trust import intel_sgx_root_ca
from sgxra.wire.collateral import Collateral

AGREE, STRICTER, LOOSER = "agree", "stricter", "looser"


@dataclass(frozen=True)
class Verdict:
    status: str | None  # None: refused
    detail: str = ""
    crash: bool = False  # sgxra raised something other than an SgxRaError

    def __str__(self) -> str:
        what = "refused" if self.status is None else f"accepted {self.status}"
        return f"{what} ({self.detail})" if self.detail else what


def sgxra_verdict(case: Case) -> Verdict:
    try:
        collateral = Collateral.from_json(case.collateral_json())
        root = x509.load_der_x509_certificate(case.root_der)
        verdict = verify_dcap_quote(case.quote, collateral, at=datetime.fromtimestamp(case.at, timezone.utc), root=root)
    except SgxRaError as e:
        return Verdict(None, f"{type(e).__name__}: {e}")
    except Exception as e:  # noqa: BLE001 - a foreign exception is itself a finding
        return Verdict(None, f"{type(e).__name__}: {e}", crash=True)
    return Verdict(verdict.status.value, ",".join(verdict.advisory_ids))


def dcap_qvl_verdict(case: Case) -> Verdict:
    import dcap_qvl

    try:
        collateral = dcap_qvl.QuoteCollateralV3.from_json(case.collateral_json())
        report = dcap_qvl.verify_with_root_ca(case.quote, collateral, case.root_der, case.at)
    except Exception as e:  # noqa: BLE001 - dcap-qvl refuses by raising
        return Verdict(None, str(e).splitlines()[0] if str(e) else type(e).__name__)
    return Verdict(str(report.status), ",".join(report.advisory_ids))


def outcome(ours: Verdict, theirs: Verdict) -> str:
    if ours.status is not None and ours.status != theirs.status:
        return LOOSER
    if ours.status is None and theirs.status is not None:
        return STRICTER
    return AGREE


def _key(case: Case, ours: Verdict) -> str:
    """What table patterns match: the case id, then " | " and sgxra's verdict detail (for patterns on the error)."""
    return f"{case.id} | {ours.detail}"


def _matches(case: Case, ours: Verdict, pattern: str) -> bool:
    return fnmatch.fnmatchcase(case.id, pattern) or fnmatch.fnmatchcase(_key(case, ours), pattern)


def reason_for(case: Case, ours: Verdict, documented: Mapping[str, str]) -> str | None:
    return next((reason for pattern, reason in documented.items() if _matches(case, ours, pattern)), None)


Row = tuple[Case, Verdict, Verdict, str]


def matching(rows: Iterable[Row], patterns: Iterable[str]) -> list[Row]:
    patterns = list(patterns)
    return [row for row in rows if any(_matches(row[0], row[1], p) for p in patterns)]


@dataclass
class Comparison:
    reference: str
    documented: Mapping[str, str]
    rows: list[Row] = field(default_factory=list)

    def add(self, case: Case, ours: Verdict, theirs: Verdict) -> None:
        self.rows.append((case, ours, theirs, outcome(ours, theirs)))

    def of(self, kind: str) -> list[Row]:
        return [row for row in self.rows if row[3] == kind]

    @property
    def looser(self) -> list[Row]:
        return self.of(LOOSER)

    @property
    def undocumented_stricter(self) -> list[Row]:
        return [row for row in self.of(STRICTER) if reason_for(row[0], row[1], self.documented) is None]

    @property
    def crashes(self) -> list[Row]:
        return [row for row in self.rows if row[1].crash]

    def unexpected_looser(self, *allowed: Mapping[str, str]) -> list[Row]:
        return [row for row in self.looser if not matching([row], [p for table in allowed for p in table])]

    def counts(self) -> dict[str, int]:
        both_accept = sum(1 for _, ours, theirs, _k in self.rows if ours.status is not None and theirs.status is not None)
        return {"cases": len(self.rows), "agree": len(self.of(AGREE)), "stricter": len(self.of(STRICTER)),
                "looser": len(self.looser), "both_accept": both_accept, "sgxra_crashes": len(self.crashes)}

    def stricter_by_reason(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for case, ours, *_ in self.of(STRICTER):
            out.setdefault(reason_for(case, ours, self.documented) or "UNDOCUMENTED", []).append(case.id)
        return out

    def summary(self) -> str:
        lines = [f"{self.reference}: " + ", ".join(f"{k} {v}" for k, v in self.counts().items())]
        for reason, names in self.stricter_by_reason().items():
            lines.append(f"  stricter x{len(names)} ({reason}): {', '.join(names[:6])}{' ...' if len(names) > 6 else ''}")
        for case, ours, theirs, _ in self.looser + self.crashes:
            lines.append(f"  LOOSER/CRASH {case.id}: sgxra {ours}; {self.reference} {theirs}")
        return "\n".join(lines)


def compare(
    cases: Iterable[Case], reference: str, oracle: Callable[[Case], Verdict], documented: Mapping[str, str],
    *, workers: int = 1,
) -> Comparison:
    """Run sgxra and the reference on every case (the reference on ``workers`` threads)."""
    cases = list(cases)
    result = Comparison(reference, documented)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for case, theirs in zip(cases, pool.map(oracle, cases), strict=True):
            result.add(case, sgxra_verdict(case), theirs)
    return result


# Where sgxra refuses what a reference accepts, on purpose. Patterns match case ids (fnmatch). Entries that say
# "Intel refuses too" are stricter than dcap-qvl only; the others are stricter than Intel's QVL, with the security
# reason.
DELIBERATELY_STRICTER = {
    "*:quote.cert_data_size/*": "the signature data's declared length and the sizes of its parts must agree (a "
        "shorter certification data size leaves bytes inside the signature data that no part owns). Intel reads "
        "each part by its own size and ignores the rest; sgxra refuses framing that two parsers can read two ways, "
        "so what it verified is what any other reader of the same bytes sees",
    "*:quote.sig_data_len/* | *unexpected trailing bytes*": "as quote.cert_data_size: a longer declared signature "
        "data length (inside a padded quote) leaves bytes no part owns",
    "*:quote.qe_cert_data_header/*": "v4/v5 QE certification data must have type 6; dcap-qvl ignores the type "
        "(Intel refuses too)",
    "real.tdx_v5_td15ex_* | *unknown body type 4*": "body type 4 (TD 1.5 'ex') is no format Intel's QVL knows "
        "(Intel refuses too; dcap-qvl accepts)",
    "*:time/window-start*": "collateral is not valid before it was issued (see *.thisUpdate)",
    "*:time/*.thisUpdate*": "a CRL is not valid before its thisUpdate, nor a TCB info / QE identity before its "
        "issueDate, as a certificate is not before its notBefore (Intel checks that one). Intel checks only the "
        "end of these windows: collateral dated after the verification time would be applied to a moment it says "
        "nothing about (a TCB status or revocation list from a later evaluation judging an earlier attestation), "
        "and it means the verifier's clock or the collateral source is wrong",
    "*:time/*.issueDate*": "as *.thisUpdate: collateral is not valid before its issueDate",
    "sim:crl/pck-crl-not-yet-valid": "as *.thisUpdate (dcap-qvl does not check it)",
    "sim:tcb_info/issueDate=*": "as *.thisUpdate: a TCB info is not valid before its issueDate",
    "*:quote.cert_data.root/*": "the quote's PCK chain must end in the pinned root, byte for byte: sgxra trusts "
        "exactly one certificate, and a different one in the root position (Intel accepts one altered only in its "
        "self-signature) is not it; genuine quotes carry Intel's root unchanged (dcap-qvl ignores the carried root)",
    "*:quote.pck_chain/without-root": "the PCK chain must be exactly leaf, PCK CA, root (dcap-qvl supplies the "
        "root from its trust anchor; Intel refuses too)",
    "*:quote.pck_chain/*-twice": "the PCK chain must be exactly leaf, PCK CA, root, each once (Intel refuses too)",
    "*:quote.pck_chain/vt-for-newline": "PEM read as OpenSSL reads it (Intel refuses too; dcap-qvl accepts)",
    "*:collateral.*_issuer_chain/vt-for-newline": "PEM read as OpenSSL reads it (Intel refuses the TCB and QE "
        "chains too; the PCK CRL issuer chain: see collateral.pck_crl_issuer_chain)",
    "*:collateral.pck_crl_issuer_chain/*": "sgxra verifies the collateral on its own, before and apart from any "
        "quote (and keeps it by content for the next quote), so the PCK CRL is authenticated by the issuer chain the "
        "collateral carries: the CA named as the CRL's issuer, found in that chain, must have signed it and chain to "
        "the pinned root; with a chain that does not, the CRL is unauthenticated. Intel's CLI (which takes no such "
        "chain) and dcap-qvl check the CRL against the quote's PCK CA instead",
    "sim:crl_chain/*": "as collateral.pck_crl_issuer_chain: the chain given is verified and the CRL under it",
    "*:collateral.[tq]*_issuer_chain/*-twice": "the TCB signing chain is the signing certificate and the root, "
        "once each (Intel refuses too)",
    "*:collateral.[tq]*_issuer_chain/without-root": "the TCB signing chain is the signing certificate and the root "
        "(Intel refuses too; dcap-qvl supplies the root)",
    "*:collateral.*crl/trailing-byte": "a CRL must be exactly its DER: the appended byte is outside the signature; "
        "sgxra accepts no unauthenticated bytes inside signed collateral, so every reader of the collateral it "
        "passed sees only signed content (OpenSSL's d2i, so Intel, ignores trailing bytes)",
    "sim:identity/pce-id-mismatch": "PCE-ID of the PCK and the TCB info must match (Intel refuses too)",
    "sim:tcb_info/pceId.changed": "PCE-ID of the PCK and the TCB info must match (Intel refuses too)",
    "sim:tcb_info/version*": "the TCB levels must have the layout of the declared version (Intel refuses too)",
    "sim:tcb_info/tcbType*": "tcbType must be 0, the only type Intel defines (Intel refuses too)",
    "sim:signer/*": "TCB info and QE identity are signed by Intel's TCB signing certificate only, issued by the "
        "root (Intel refuses too; dcap-qvl takes any certificate under the root)",
    "sim:*/pretty-printed": "the signature covers the compact re-serialisation of the JSON, as Intel verifies it, "
        "so signing the pretty-printed text does not verify (Intel refuses too; dcap-qvl verifies the text)",
    "sim:qe_identity/attributes*": "the QE identity's attributes are compared unmasked on the identity's side, as "
        "Intel does (Intel refuses too)",
    "sim:quote/qe_report.binding-upper-half-set": "the QE report data is SHA-256(attestation key || QE auth data) "
        "followed by 32 zero bytes; Intel compares the first 32 bytes only. sgxra requires the zeros: a QE report "
        "whose upper half is not zero was not written by a QE following the format, and report data that "
        "carries unchecked bytes under the PCK signature is room for a second, unverified payload",
    "*:quote.cert_data.* | *Inner and outer signature algorithms do not match*": "a certificate's outer "
        "signature algorithm, which its signature does not cover, must equal the signed one (RFC 5280 4.1.1.2): "
        "pyca checks the signature with the outer one, so accepting a mismatch would let whoever relays the "
        "quote choose the algorithm (a weaker hash, say) its signature is checked with. Intel's QVL ignores the "
        "outer one",
    "*:quote.cert_data.* | *field 'signature_algorithm'*": "as Inner and outer signature algorithms: an outer "
        "signature algorithm sgxra does not know is not checked against the signed one, so it is refused",
    "*:quote.cert_data.*.newline/*": "PEM read as OpenSSL reads it: a byte flipped in a line end (Intel refuses "
        "too; dcap-qvl accepts a vertical tab there)",
}

# Where sgxra is looser than dcap-qvl and Intel's QVL agrees with sgxra (Intel wins).
INTEL_SIDES_WITH_SGXRA = {
    "sim:tcb_status/Revoked": "Intel reports TCB status Revoked as a status (dcap-qvl refuses); the policy refuses it",
    "sim:qe_levels/qe-revoked": "Intel reports QE status Revoked as a status (dcap-qvl refuses)",
    "sim:qe_levels/qe-config-needed": "Intel converges a QE status other than UpToDate/Revoked as OutOfDate "
                                      "(dcap-qvl: UpToDate)",
    "*:time/*.nextUpdate+0": "Intel accepts collateral at exactly its nextUpdate (dcap-qvl: exclusive)",
    "sim:quote/body.debug": "dcap-qvl refuses a debug enclave; Intel's QVL reports the quote (sgxra's policy decides)",
    "sim:quote/auth_data.*": "dcap-qvl accepts only 32 bytes of QE auth data; Intel's QVL takes any length",
    "*:time/window-end+0": "Intel accepts collateral at exactly its nextUpdate (dcap-qvl: exclusive)",
    "real.tdx_v5_td15_90c06f_alibaba:*": "dcap-qvl refuses a TD 1.5 quote whose MRSERVICETD is set ('Invalid MR "
                                         "service TD'); Intel's QVL accepts it (OutOfDate), as sgxra does",
    "real.tdx_v4_00806f050000_azure_*": "dcap-qvl refuses a TD without SEPT_VE_DISABLE; Intel's QVL accepts it (a "
                                        "TD attribute for the relying party's policy, sgxra's [tdx] rules), as sgxra",
    "*:collateral.*/pretty-printed": "Intel verifies signed JSON over its compact re-serialisation, so whitespace "
                                     "is harmless; dcap-qvl verifies the text as given",
    "*:collateral.*/trailing-space": "as pretty-printed",
    "*:collateral.*_issuer_chain/reversed": "Intel takes the TCB signing chain's two certificates in either order",
    "*:*/leaf-sig-unused-bits": "Intel accepts a certificate whose signature BIT STRING declares unused bits "
                                "(dcap-qvl refuses it; pyca refuses it too when the signature's last bit is set)",
}

# Open findings (DIFF-FINDINGS.md): each is an xfail(strict) test until it is fixed. None is open now; a new
# finding goes here with its DIFF-FINDINGS number until src/ fixes it.
KNOWN_LOOSER_INTEL: dict[str, str] = {}
KNOWN_LOOSER_DCAP_QVL: dict[str, str] = {}
KNOWN_CRASHES: dict[str, str] = {}

SEED = 20261129


def real_cases(*, seed: int = SEED, per_region: int = 3, crl_flips: int = 4, light: bool = True) -> list[Case]:
    """Mutations of every real set present (mutations.real_sets): the seeded sample of all_mutations for the
    first (the shared SGX quote), and for the others too unless ``light`` (then mutations.light_mutations)."""
    cases: list[Case] = []
    for i, (source, quote, collateral_json, at) in enumerate(real_sets()):
        base = base_case(source, "baseline", quote, collateral_json, at, intel_sgx_root_ca())
        if i and light:
            cases += light_mutations(base)
        else:
            cases += all_mutations(base, seed, per_region=per_region, crl_flips=crl_flips)
    return cases


def open_findings(*tables: Mapping[str, str]) -> list[str]:
    """The patterns of open findings (one xfail test each)."""
    return sorted({p for table in tables for p in table})


def expect_findings(comparison: Comparison, pattern: str) -> None:
    """One open finding: fails while a case matching ``pattern`` is still looser (or crashes) or none matches."""
    rows = matching(comparison.rows, [pattern])
    if not rows:  # not an AssertionError: the xfail marker must not swallow it
        raise LookupError(f"no case matches {pattern!r}: the finding's table entry is stale")
    bad = [row for row in rows if row[3] == LOOSER or row[1].crash]
    assert not bad, "\n".join(f"{c.id}: sgxra {o}; {comparison.reference} {t}" for c, o, t, _ in bad)
