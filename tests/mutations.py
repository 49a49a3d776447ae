"""Mutations of DCAP evidence (quote bytes and the nine-field collateral) for differential tests.

A :class:`Case` is what every verifier under comparison gets: quote bytes, the
collateral in dcap-qvl's nine-field JSON form (kept as a dict of strings so a
mutation can make any field invalid), a verification time and the root to trust.
Generators are deterministic: the sample ones take a seed, the full ones
enumerate. Mutations of signed bytes are expected to be refused by everyone;
the ones that stay signed (other signature encodings, the PCK chain, which no
signature covers, time boundaries, and re-signed simulated collateral) are the
ones that tell verifiers apart.
"""

from __future__ import annotations

import base64
import json
import random
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from vectors_env import SGX_AT_UNIX, SGX_COLLATERAL, SGX_QUOTE

P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
PEM_BEGIN = b"-----BEGIN CERTIFICATE-----"
PEM_END = b"-----END CERTIFICATE-----"
CHAIN_FIELDS = ("pck_crl_issuer_chain", "tcb_info_issuer_chain", "qe_identity_issuer_chain")
CRL_FIELDS = ("root_ca_crl", "pck_crl")
SIGNED_JSON = {"tcb_info": "tcb_info_signature", "qe_identity": "qe_identity_signature"}


@dataclass(frozen=True)
class Case:
    source: str  # the evidence mutated: "real.<set>" or "sim"
    name: str  # family/detail: the family names what was mutated, the detail how
    quote: bytes
    collateral: dict[str, str]
    at: int
    root_der: bytes

    @property
    def id(self) -> str:
        return f"{self.source}:{self.name}"

    def collateral_json(self) -> str:
        return json.dumps(self.collateral)

    def mutated(self, name: str, **changes: object) -> Case:
        return replace(self, name=name, **changes)  # type: ignore[arg-type]


def base_case(source: str, name: str, quote: bytes, collateral_json: str, at: int, root: x509.Certificate) -> Case:
    return Case(source, name, quote, dict(json.loads(collateral_json)), at, root.public_bytes(Encoding.DER))


# ---- quote layout -------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class QuoteLayout:
    """Byte regions of a v3/v4/v5 ECDSA quote and where its length fields are."""

    regions: list[tuple[str, int, int]]
    sig_len_at: int
    cert_size_at: int
    cert_at: int
    cert_size: int


def quote_layout(q: bytes) -> QuoteLayout:
    version, tee_type = struct.unpack_from("<H", q, 0)[0], struct.unpack_from("<I", q, 4)[0]
    regions = [("header.version", 0, 2), ("header.att_key_type", 2, 4), ("header.tee_type", 4, 8),
               ("header.qe_svn", 8, 10), ("header.pce_svn", 10, 12), ("header.qe_vendor_id", 12, 28),
               ("header.user_data", 28, 48)]
    off = 48
    if version == 5:
        size = struct.unpack_from("<I", q, off + 2)[0]
        regions.append(("body_descriptor", off, off + 6))
        off += 6
    else:
        size = 584 if tee_type == 0x81 else 384
    regions.append(("body", off, off + size))
    off += size
    sig_len_at = off
    regions += [("sig_data_len", off, off + 4), ("signature", off + 4, off + 68), ("attestation_key", off + 68, off + 132)]
    off += 132
    if version != 3:
        regions.append(("qe_cert_data_header", off, off + 6))
        off += 6
    auth_size = struct.unpack_from("<H", q, off + 448)[0]
    regions += [("qe_report", off, off + 384), ("qe_report_signature", off + 384, off + 448),
                ("auth_data_size", off + 448, off + 450), ("auth_data", off + 450, off + 450 + auth_size)]
    off += 450 + auth_size
    cert_size = struct.unpack_from("<I", q, off + 2)[0]
    regions += [("cert_data_type", off, off + 2), ("cert_data_size", off + 2, off + 6)]
    cert_at = off + 6
    starts = [i for i in range(cert_at, cert_at + cert_size) if q.startswith(PEM_BEGIN, i)] + [cert_at + cert_size]
    names = ("cert_data.pck_leaf", "cert_data.pck_ca", "cert_data.root")
    regions += [(names[min(i, 2)] if i < 3 else f"cert_data.extra{i}", a, b)
                for i, (a, b) in enumerate(zip(starts, starts[1:], strict=False)) if b > a]
    return QuoteLayout([r for r in regions if r[2] > r[1]], sig_len_at, off + 2, cert_at, cert_size)


def pck_chain(q: bytes) -> bytes:
    layout = quote_layout(q)
    return q[layout.cert_at:layout.cert_at + layout.cert_size]


def with_pck_chain(q: bytes, chain: bytes) -> bytes:
    """The quote with other certification data, its size fields adjusted (no signature covers them)."""
    layout = quote_layout(q)
    delta = len(chain) - layout.cert_size
    out = bytearray(q[:layout.cert_at] + chain + q[layout.cert_at + layout.cert_size:])
    struct.pack_into("<I", out, layout.cert_size_at, len(chain))
    sig_len = struct.unpack_from("<I", out, layout.sig_len_at)[0]
    struct.pack_into("<I", out, layout.sig_len_at, sig_len + delta)
    if struct.unpack_from("<H", q, 0)[0] != 3:  # v4/v5: the QE certification data's own size
        outer = layout.sig_len_at + 4 + 128 + 2
        struct.pack_into("<I", out, outer, struct.unpack_from("<I", out, outer)[0] + delta)
    return bytes(out)


def split_pem(chain: bytes | str) -> list[bytes]:
    data = chain.encode() if isinstance(chain, str) else chain
    out, pos = [], 0
    while (start := data.find(PEM_BEGIN, pos)) >= 0:
        end = data.find(PEM_END, start)
        if end < 0:
            break
        pos = end + len(PEM_END)
        out.append(data[start:pos] + b"\n")
    return out


def garble_uri(cert_pem: bytes) -> bytes:
    """The certificate with a non-ASCII byte in its CRL distribution point URI (its signature no longer holds)."""
    if not cert_pem:
        return cert_pem
    der = bytearray(x509.load_pem_x509_certificate(cert_pem).public_bytes(Encoding.DER))
    at = der.find(b"://")
    if at >= 0:
        der[at + 3] = 0xFF
    return pem_block(bytes(der))


def pem_block(der: bytes) -> bytes:
    """One certificate's DER as a PEM block, 64 base64 characters a line (whatever the DER holds)."""
    body = base64.encodebytes(der).replace(b"\n", b"")
    return PEM_BEGIN + b"\n" + b"\n".join(body[i:i + 64] for i in range(0, len(body), 64)) + b"\n" + PEM_END + b"\n"


def _set_unused_bits(der: bytes, signature: bytes) -> bytes:
    """The signature BIT STRING (last in the DER) declaring one unused bit; the signed bytes are unchanged."""
    at = len(der) - len(signature) - 1
    if der[at] != 0:
        raise ValueError("the signature BIT STRING is not where expected")
    return der[:at] + b"\x01" + der[at + 1:]


def unused_bits(cert_pem: bytes) -> bytes:
    if not cert_pem:
        return cert_pem
    cert = x509.load_pem_x509_certificate(cert_pem)
    return pem_block(_set_unused_bits(cert.public_bytes(Encoding.DER), cert.signature))


def _crl_unused_bits(der: bytes) -> bytes:
    return _set_unused_bits(der, x509.load_der_x509_crl(der).signature)


def malleate(signature: bytes) -> bytes:
    """The other valid ECDSA signature of the same message: (r, n - s)."""
    s = int.from_bytes(signature[32:], "big")
    return signature[:32] + ((P256_ORDER - s) % P256_ORDER).to_bytes(32, "big")


# ---- quote mutations ----------------------------------------------------------------------------------------------

def flip(case: Case, pos: int, mask: int = 0x01, region: str = "") -> Case:
    q = bytearray(case.quote)
    q[pos] ^= mask
    return case.mutated(f"quote.{region or 'byte'}/flip@{pos}^{mask:02x}", quote=bytes(q))


def region_of(layout: QuoteLayout, q: bytes, pos: int) -> str:
    """The region holding byte ``pos``; a newline inside a PEM certificate gets its own suffix."""
    region = next((name for name, a, b in layout.regions if a <= pos < b), "trailing")
    return region + ".newline" if region.startswith("cert_data.") and q[pos] == 0x0A else region


def every_byte_flip(case: Case) -> Iterator[Case]:
    """Every byte of the quote with its lowest bit flipped (the long run)."""
    layout = quote_layout(case.quote)
    for pos in range(len(case.quote)):
        yield flip(case, pos, 0x01, region_of(layout, case.quote, pos))


def sampled_flips(case: Case, rng: random.Random, per_region: int) -> Iterator[Case]:
    """Per region: its first and last byte, and ``per_region`` random ones, each with a random bit flipped."""
    layout = quote_layout(case.quote)
    for _name, a, b in layout.regions:
        picks = sorted({a, b - 1} | {rng.randrange(a, b) for _ in range(per_region)})
        for pos in picks:
            yield flip(case, pos, 1 << rng.randrange(8), region_of(layout, case.quote, pos))


def structural_quote_mutations(case: Case) -> Iterator[Case]:
    """Length fields, truncation, padding, other signature encodings and PCK chains no signature covers."""
    q = case.quote
    layout = quote_layout(q)
    for name, a, _b in layout.regions:
        yield case.mutated(f"quote.truncate/at-{name}", quote=q[:a])
    yield case.mutated("quote.truncate/last-byte", quote=q[:-1])
    yield case.mutated("quote.pad/zeros-16", quote=q + bytes(16))
    yield case.mutated("quote.pad/zeros-1", quote=q + bytes(1))
    yield case.mutated("quote.pad/garbage-16", quote=q + b"\xa5" * 16)
    for field, at, fmt in (("sig_data_len", layout.sig_len_at, "<I"), ("cert_data_size", layout.cert_size_at, "<I")):
        value = struct.unpack_from(fmt, q, at)[0]
        for delta in (-1, 1, 0x10000):
            out = bytearray(q)
            struct.pack_into(fmt, out, at, (value + delta) % 2**32)
            yield case.mutated(f"quote.{field}/{delta:+d}", quote=bytes(out))
    auth_at = next(a for name, a, _ in layout.regions if name == "auth_data_size")
    for delta in (-1, 1):
        out = bytearray(q)
        struct.pack_into("<H", out, auth_at, struct.unpack_from("<H", q, auth_at)[0] + delta)
        yield case.mutated(f"quote.auth_data_size/{delta:+d}", quote=bytes(out))
    for name, _a, _b in layout.regions:
        if name in ("signature", "qe_report_signature"):
            a = next(r[1] for r in layout.regions if r[0] == name)
            sig = q[a:a + 64]
            for how, new in (("high-s", malleate(sig)), ("r-s-swapped", sig[32:] + sig[:32]), ("zero", bytes(64))):
                yield case.mutated(f"quote.{name}/{how}", quote=q[:a] + new + q[a + 64:])
    yield from pck_chain_mutations(case)


def pck_chain_mutations(case: Case) -> Iterator[Case]:
    chain = pck_chain(case.quote)
    certs = split_pem(chain)
    leaf, ca, root = (certs + [b"", b"", b""])[:3]
    variants = {
        "without-root": leaf + ca,
        "leaf-only": leaf,
        "reordered": ca + leaf + root,
        "root-first": root + leaf + ca,
        "root-twice": leaf + ca + root + root,
        "ca-twice": leaf + ca + ca + root,
        "crlf": chain.replace(b"\n", b"\r\n"),
        "no-newlines-between": chain.replace(b"-----\n-----", b"----------"),
        "trailing-nul": chain + b"\x00",
        "trailing-text": chain + b"trailing text\n",
        "leading-text": b"leading text\n" + chain,
        "empty": b"",
        "not-pem": b"not a certificate",
        "pem-body-flip": chain.replace(b"MII", b"MIJ", 1),
        "ca-extension-garbled": leaf + garble_uri(ca) + root,
        "vt-for-newline": chain.replace(b"\n", b"\x0b", 1),
        "leaf-sig-unused-bits": unused_bits(leaf) + ca + root,
        "leaf-extension-garbled": garble_uri(leaf) + ca + root,
    }
    for name, new in variants.items():
        yield case.mutated(f"quote.pck_chain/{name}", quote=with_pck_chain(case.quote, new))
    tcb_chain = split_pem(case.collateral["tcb_info_issuer_chain"])
    if tcb_chain:
        yield case.mutated("quote.pck_chain/tcb-signing-as-leaf",
                           quote=with_pck_chain(case.quote, tcb_chain[0] + ca + root))
        yield case.mutated("quote.pck_chain/tcb-signing-as-ca",
                           quote=with_pck_chain(case.quote, leaf + tcb_chain[0] + root))
    other = [c for c in split_pem(case.collateral["pck_crl_issuer_chain"]) if c != ca and c != root]
    if other:
        yield case.mutated("quote.pck_chain/other-ca", quote=with_pck_chain(case.quote, leaf + other[0] + root))


# ---- collateral mutations -----------------------------------------------------------------------------------------

def _set(case: Case, name: str, **fields: str) -> Case:
    return case.mutated(name, collateral=case.collateral | fields)


def _without(case: Case, name: str, field: str) -> Case:
    return case.mutated(name, collateral={k: v for k, v in case.collateral.items() if k != field})


def _crl_flip_name(der: bytes, field: str, pos: int, suffix: str) -> str:
    """A flip of the signature BIT STRING's unused-bits count is named apart: it leaves the signed bytes intact."""
    unused_at = len(der) - len(x509.load_der_x509_crl(der).signature) - 1
    return f"collateral.{field}/{'sig-unused-bits-' if pos == unused_at else ''}flip@{pos}{suffix}"


def crl_mutations(case: Case, rng: random.Random, flips: int) -> Iterator[Case]:
    for field in CRL_FIELDS:
        der = bytes.fromhex(case.collateral[field])
        picks = sorted({0, len(der) // 2, len(der) - 1} | {rng.randrange(len(der)) for _ in range(flips)})
        for pos in picks:
            out = bytearray(der)
            out[pos] ^= 1 << rng.randrange(8)
            yield _set(case, _crl_flip_name(der, field, pos, ""), **{field: out.hex()})
        other = "pck_crl" if field == "root_ca_crl" else "root_ca_crl"
        yield from (
            _set(case, f"collateral.{field}/truncated", **{field: der[:-1].hex()}),
            _set(case, f"collateral.{field}/trailing-byte", **{field: (der + b"\x00").hex()}),
            _set(case, f"collateral.{field}/empty", **{field: ""}),
            _set(case, f"collateral.{field}/odd-hex", **{field: der.hex()[:-1]}),
            _set(case, f"collateral.{field}/not-hex", **{field: "zz" + der.hex()[2:]}),
            _set(case, f"collateral.{field}/uppercase-hex", **{field: der.hex().upper()}),
            _set(case, f"collateral.{field}/the-other-crl", **{field: case.collateral[other]}),
            _set(case, f"collateral.{field}/sig-unused-bits", **{field: _crl_unused_bits(der).hex()}),
            _without(case, f"collateral.{field}/missing", field),
        )


def chain_mutations(case: Case) -> Iterator[Case]:
    for field in CHAIN_FIELDS:
        text = case.collateral[field]
        certs = [c.decode() for c in split_pem(text)]
        others = {f: case.collateral[f] for f in CHAIN_FIELDS if case.collateral[f] != text}
        variants = {
            "without-leaf": "".join(certs[1:]),
            "without-root": "".join(certs[:-1]),
            "reversed": "".join(reversed(certs)),
            "leaf-twice": certs[0] + "".join(certs),
            "root-twice": "".join(certs) + certs[-1],
            "crlf": text.replace("\n", "\r\n"),
            "trailing-text": text + "trailing text\n",
            "empty": "",
            "not-pem": "not a certificate chain",
            "body-flip": text.replace("MII", "MIJ", 1),
            "vt-for-newline": text.replace("\n", "\x0b", 1),
            "leaf-sig-unused-bits": unused_bits(certs[0].encode()).decode() + "".join(certs[1:]),
        }
        for other_field, other_text in others.items():
            variants[f"as-{other_field}"] = other_text
        for name, new in variants.items():
            yield _set(case, f"collateral.{field}/{name}", **{field: new})
        yield _without(case, f"collateral.{field}/missing", field)


def _json_member_mutations(obj: dict[str, object]) -> Iterator[tuple[str, dict[str, object]]]:
    """Each member changed, removed and moved last; each TCB level's status changed and the level removed."""
    for key, value in obj.items():
        changed: object
        if isinstance(value, bool):
            changed = not value
        elif isinstance(value, int):
            changed = value + 1
        elif isinstance(value, str):
            changed = value[:-1] + ("0" if value[-1:] != "0" else "1")
        elif isinstance(value, list):
            changed = value[1:]
        else:
            changed = None
        yield f"{key}.changed", obj | {key: changed}
        yield f"{key}.removed", {k: v for k, v in obj.items() if k != key}
        yield f"{key}.moved-last", {k: v for k, v in obj.items() if k != key} | {key: value}
    levels = obj.get("tcbLevels")
    if isinstance(levels, list):
        for i, level in enumerate(levels):
            if isinstance(level, dict):
                up = dict(level) | {"tcbStatus": "UpToDate"}
                yield f"tcbLevels[{i}].status-UpToDate", obj | {"tcbLevels": levels[:i] + [up] + levels[i + 1:]}
                yield f"tcbLevels[{i}].removed", obj | {"tcbLevels": levels[:i] + levels[i + 1:]}


def signed_json_mutations(case: Case, dump: Callable[[object], str] | None = None) -> Iterator[Case]:
    """Mutations of TCB info and QE identity text (re-signed when ``dump`` comes with a signer: see sim cases)."""
    for field, sig_field in SIGNED_JSON.items():
        text = case.collateral[field]
        obj = json.loads(text)
        for how, new in _json_member_mutations(obj):
            yield _set(case, f"collateral.{field}/{how}", **{field: json.dumps(new, separators=(",", ":"))})
        sig = bytes.fromhex(case.collateral[sig_field])
        yield from (
            _set(case, f"collateral.{field}/pretty-printed", **{field: json.dumps(obj, indent=1)}),
            _set(case, f"collateral.{field}/trailing-space", **{field: text + " "}),
            _set(case, f"collateral.{field}/not-json", **{field: "not json"}),
            _set(case, f"collateral.{field}/empty", **{field: ""}),
            _without(case, f"collateral.{field}/missing", field),
            _set(case, f"collateral.{sig_field}/flip-r", **{sig_field: (bytes([sig[0] ^ 1]) + sig[1:]).hex()}),
            _set(case, f"collateral.{sig_field}/flip-s", **{sig_field: (sig[:63] + bytes([sig[63] ^ 1])).hex()}),
            _set(case, f"collateral.{sig_field}/high-s", **{sig_field: malleate(sig).hex()}),
            _set(case, f"collateral.{sig_field}/r-s-swapped", **{sig_field: (sig[32:] + sig[:32]).hex()}),
            _set(case, f"collateral.{sig_field}/uppercase-hex", **{sig_field: sig.hex().upper()}),
            _set(case, f"collateral.{sig_field}/truncated", **{sig_field: sig[:-1].hex()}),
            _set(case, f"collateral.{sig_field}/extended", **{sig_field: (sig + b"\x00").hex()}),
            _set(case, f"collateral.{sig_field}/zero", **{sig_field: bytes(64).hex()}),
            _set(case, f"collateral.{sig_field}/der-encoded", **{sig_field: _der_signature(sig).hex()}),
            _set(case, f"collateral.{sig_field}/swapped-with-other",
                 **{sig_field: case.collateral[[s for s in SIGNED_JSON.values() if s != sig_field][0]]}),
            _without(case, f"collateral.{sig_field}/missing", sig_field),
        )


def _der_signature(raw: bytes) -> bytes:
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

    return encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))


# ---- times --------------------------------------------------------------------------------------------------------

def _epoch(value: datetime) -> int:
    return int(value.replace(tzinfo=value.tzinfo or timezone.utc).timestamp())


def time_boundaries(case: Case) -> list[tuple[str, int]]:
    """Every date the verdict depends on: CRL updates, signed JSON dates, certificate validity."""
    c = case.collateral
    out: list[tuple[str, int]] = []
    for field in CRL_FIELDS:
        crl = x509.load_der_x509_crl(bytes.fromhex(c[field]))
        out.append((f"{field}.thisUpdate", _epoch(crl.last_update_utc)))
        if crl.next_update_utc:
            out.append((f"{field}.nextUpdate", _epoch(crl.next_update_utc)))
    for field in SIGNED_JSON:
        obj = json.loads(c[field])
        for key in ("issueDate", "nextUpdate"):
            out.append((f"{field}.{key}", _epoch(datetime.fromisoformat(obj[key].replace("Z", "+00:00")))))
    chains = {f: c[f].encode() for f in CHAIN_FIELDS} | {"pck_chain": pck_chain(case.quote)}
    seen: set[bytes] = set()
    for field, pem in chains.items():
        for i, cert_pem in enumerate(split_pem(pem)):
            if cert_pem in seen:
                continue
            seen.add(cert_pem)
            cert = x509.load_pem_x509_certificate(cert_pem)
            out.append((f"{field}[{i}].notBefore", _epoch(cert.not_valid_before_utc)))
            out.append((f"{field}[{i}].notAfter", _epoch(cert.not_valid_after_utc)))
    return out


def time_mutations(case: Case) -> Iterator[Case]:
    for name, t in time_boundaries(case):
        for delta in (-1, 0, 1):
            yield case.mutated(f"time/{name}{delta:+d}", at=t + delta)
    yield case.mutated("time/epoch", at=0)


def collateral_mutations(case: Case, rng: random.Random, crl_flips: int) -> Iterator[Case]:
    yield from crl_mutations(case, rng, crl_flips)
    yield from chain_mutations(case)
    yield from signed_json_mutations(case)


def all_mutations(case: Case, seed: int, *, per_region: int, crl_flips: int) -> list[Case]:
    """The sample of ``make test``: the case itself, sampled flips, structural, collateral and time mutations."""
    rng = random.Random(seed)
    cases = [case]
    cases += sampled_flips(case, rng, per_region)
    cases += structural_quote_mutations(case)
    cases += collateral_mutations(case, rng, crl_flips)
    cases += time_mutations(case)
    return unique(cases)


def unique(cases: list[Case]) -> list[Case]:
    ids = [c.id for c in cases]
    if len(set(ids)) != len(ids):
        raise ValueError(f"duplicate case ids: {sorted({i for i in ids if ids.count(i) > 1})}")
    return cases


# ---- real evidence ------------------------------------------------------------------------------------------------

REAL_DIR = Path(__file__).resolve().parent / "data" / "real"


def real_sets() -> list[tuple[str, bytes, str, int]]:
    """(source, quote, collateral JSON, time) of every real set present: the shared SGX quote and tests/data/real.

    tests/data/real/manifest.json names each set's quote and collateral files, the
    time to verify at and the provenance (PROVENANCE.md there describes each set).
    """
    out = []
    if SGX_QUOTE.is_file():
        out.append(("real.sgx_v3", SGX_QUOTE.read_bytes(), SGX_COLLATERAL.read_text(), SGX_AT_UNIX))
    manifest = REAL_DIR / "manifest.json"
    for name, entry in (json.loads(manifest.read_text()) if manifest.is_file() else {}).items():
        out.append((f"real.{name}", (REAL_DIR / entry["quote"]).read_bytes(),
                    (REAL_DIR / entry["collateral"]).read_text(), int(entry["at"])))
    return out


def light_mutations(case: Case) -> list[Case]:
    """A few cases per further real set: itself, a byte of each signed or signing part flipped, the window's edges."""
    layout = quote_layout(case.quote)
    kept = ("body", "signature", "attestation_key", "qe_report", "qe_report_signature", "auth_data")
    cases = [case] + [flip(case, a, 0x01, name) for name, a, _b in layout.regions if name in kept]
    bounds = time_boundaries(case)
    start = max(t for name, t in bounds if name.endswith(("thisUpdate", "issueDate", "notBefore")))
    end = min(t for name, t in bounds if name.endswith(("nextUpdate", "notAfter")))
    cases += [case.mutated(f"time/window-{edge}{d:+d}", at=t + d) for edge, t in (("start", start), ("end", end))
              for d in (-1, 0, 1)]
    return unique(cases)


def every_crl_byte_flip(case: Case) -> Iterator[Case]:
    """Every byte of both CRLs with its lowest bit flipped (the long run)."""
    for field in CRL_FIELDS:
        der = bytes.fromhex(case.collateral[field])
        for pos in range(len(der)):
            out = bytearray(der)
            out[pos] ^= 0x01
            yield _set(case, _crl_flip_name(der, field, pos, "^01"), **{field: out.hex()})


def signed_text_flips(case: Case, rng: random.Random, count: int) -> Iterator[Case]:
    """``count`` random characters of each signed JSON text, and of each signature's hex, changed."""
    for field in (*SIGNED_JSON, *SIGNED_JSON.values()):
        text = case.collateral[field]
        for pos in sorted({rng.randrange(len(text)) for _ in range(count)}):
            new = "0" if text[pos] != "0" else "1"
            yield _set(case, f"collateral.{field}/char@{pos}", **{field: text[:pos] + new + text[pos + 1:]})
