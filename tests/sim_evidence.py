"""Simulated evidence that stays signed after a semantic change, for the differential tests.

The real set cannot be re-signed, so every mutation of its signed JSON or CRLs
is refused by everyone. Here a simulated PKI re-signs each change, so the
verifiers must judge its meaning: TCB levels and their order, QE identity
fields, who signed what, revocation, CRL issuers.

They use sgxra's simulated PKI as it is: its certificates and CRLs have the
profile of Intel's, so Intel's QVL and dcap-qvl accept its baseline.
"""

from __future__ import annotations

import hashlib
import json
import struct
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from mutations import Case, _json_member_mutations, base_case, quote_layout, time_mutations, unique
from sgxra.sim.dcap_pki import CollateralSpec, SimIntelPki, SimQeLevel, SimTcbLevel, pem, raw_signature
from sgxra.sim.dcap_pki import _name as sim_name
from sgxra.sim.dcap_qe import DEFAULT_COMPONENTS, DEFAULT_FMSPC, SimEcdsaQuotingEnclave
from sgxra.sim.enclave import EnclaveIdentity
from sgxra.wire.collateral import Collateral, TcbStatus
from sgxra.wire.quote import QuoteSignType

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=timezone.utc)


def _level(status: TcbStatus, *advisories: str, components: tuple[int, ...] = DEFAULT_COMPONENTS,
           pcesvn: int = 13) -> SimTcbLevel:
    return SimTcbLevel(components, pcesvn, status, advisories)


def _spec(*levels: SimTcbLevel, **changes: object) -> CollateralSpec:
    fields: dict[str, object] = {"fmspc": DEFAULT_FMSPC, "tcb_levels": levels or (_level(TcbStatus.UpToDate),)}
    return CollateralSpec(**(fields | changes))  # type: ignore[arg-type]


class SimWorld:
    """One simulated PKI and platform, and the baseline case built from them."""

    def __init__(self) -> None:
        self.pki = SimIntelPki(NOW)
        self.qe = SimEcdsaQuotingEnclave(self.pki)
        self.quote = self.qe.get_quote(EnclaveIdentity().report_body(bytes(64)), QuoteSignType.UNLINKABLE, bytes(16))
        self.at = int(NOW.timestamp())

    def case(self, name: str, spec: CollateralSpec | None = None, quote: bytes | None = None) -> Case:
        collateral = self.pki.collateral(spec or _spec())
        return base_case("sim", name, quote or self.quote, collateral.to_json(), self.at, self.pki.root)

    def resigned(self, name: str, collateral: Collateral, *, tcb_key: ec.EllipticCurvePrivateKey | None = None,
                 tcb_chain: str | None = None, qe_key: ec.EllipticCurvePrivateKey | None = None,
                 qe_chain: str | None = None, **fields: str) -> Case:
        """``collateral`` with some fields replaced and TCB info / QE identity signed by the given keys."""
        tcb_info = fields.pop("tcb_info", collateral.tcb_info)
        qe_identity = fields.pop("qe_identity", collateral.qe_identity)
        base = json.loads(collateral.to_json()) | {
            "tcb_info": tcb_info, "qe_identity": qe_identity,
            "tcb_info_signature": raw_signature(tcb_key or self.pki.tcb_key, tcb_info.encode()).hex(),
            "qe_identity_signature": raw_signature(qe_key or self.pki.tcb_key, qe_identity.encode()).hex(),
        }
        if tcb_chain is not None:
            base["tcb_info_issuer_chain"] = tcb_chain
        if qe_chain is not None:
            base["qe_identity_issuer_chain"] = qe_chain
        return Case("sim", name, self.quote, base | fields, self.at, self.pki.root.public_bytes(serialization.Encoding.DER))


def tcb_cases(world: SimWorld) -> Iterator[Case]:
    for status in TcbStatus:
        yield world.case(f"tcb_status/{status.value}", _spec(_level(status, "INTEL-SA-00001")))
    lower = tuple(max(c - 1, 0) for c in DEFAULT_COMPONENTS)
    higher = tuple(c + 1 for c in DEFAULT_COMPONENTS)
    ups = _level(TcbStatus.UpToDate)
    old = _level(TcbStatus.OutOfDate, "INTEL-SA-00002", components=lower, pcesvn=12)
    variants = {
        "ordered": (ups, old),
        "lower-level-first": (old, ups),
        "none-met": (_level(TcbStatus.UpToDate, components=higher),),
        "pcesvn-not-met": (_level(TcbStatus.UpToDate, pcesvn=14), old),
        "one-component-higher": (_level(TcbStatus.UpToDate, components=(12,) + DEFAULT_COMPONENTS[1:]), old),
        "empty": (),
    }
    for name, levels in variants.items():
        spec = _spec(*levels) if levels else _spec(ups)
        if not levels:
            spec.tcb_levels = ()
        yield world.case(f"tcb_levels/{name}", spec)
    qe_variants = {
        "qe-out-of-date": (SimQeLevel(9, TcbStatus.UpToDate), SimQeLevel(6, TcbStatus.OutOfDate, ("INTEL-SA-00615",))),
        "qe-revoked": (SimQeLevel(9, TcbStatus.UpToDate), SimQeLevel(6, TcbStatus.Revoked)),
        "qe-below-all": (SimQeLevel(9, TcbStatus.UpToDate),),
        "qe-lower-first": (SimQeLevel(6, TcbStatus.OutOfDate), SimQeLevel(8, TcbStatus.UpToDate)),
        "qe-config-needed": (SimQeLevel(8, TcbStatus.ConfigurationNeeded),),
    }
    for name, qe_levels in qe_variants.items():
        yield world.case(f"qe_levels/{name}", _spec(qe_levels=qe_levels))
    for name, platform in (("config", TcbStatus.ConfigurationNeeded), ("swh", TcbStatus.SWHardeningNeeded)):
        yield world.case(f"qe_levels/qe-out-of-date-platform-{name}",
                         _spec(_level(platform), qe_levels=(SimQeLevel(6, TcbStatus.OutOfDate),)))
    yield world.case("identity/fmspc-mismatch", _spec(fmspc=b"\x00\x90\x6e\xa1\x00\x01"))
    yield world.case("identity/pce-id-mismatch", _spec(pce_id=b"\x01\x00"))
    yield world.case("identity/qe-mrsigner-mismatch", _spec(qe_mrsigner=bytes(32)))
    yield world.case("identity/qe-prodid-mismatch", _spec(qe_prod_id=2))


def _tcb_signer(world: SimWorld, common_name: str, issuer: x509.Certificate, issuer_key: ec.EllipticCurvePrivateKey,
                ) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    return key, world.pki._certificate(sim_name(common_name), key.public_key(), issuer_key, issuer)


def signer_cases(world: SimWorld) -> Iterator[Case]:
    """TCB info and QE identity signed by certificates other than the TCB signing one (all chain to the root)."""
    pki = world.pki
    collateral = pki.collateral(_spec())
    ca = pki.cas["processor"]
    root_key, root = pki.root_key, pki.root
    other_key, other = _tcb_signer(world, "sgxra other signer", root, root_key)
    named_key, named = _tcb_signer(world, "Intel SGX TCB Signing", ca, pki.ca_keys["processor"])
    signers = {
        "pck-leaf": (world.qe.pck_key, pem(world.qe.pck_certificate, ca, root)),
        "pck-ca": (pki.ca_keys["processor"], pem(ca, root)),
        "root": (root_key, pem(root)),
        "other-leaf-under-root": (other_key, pem(other, root)),
        "tcb-signing-name-under-pck-ca": (named_key, pem(named, ca, root)),
    }
    for name, (key, chain) in signers.items():
        yield world.resigned(f"signer/tcb-info-by-{name}", collateral, tcb_key=key, tcb_chain=chain)
        yield world.resigned(f"signer/qe-identity-by-{name}", collateral, qe_key=key, qe_chain=chain)
    yield world.resigned("signer/baseline-resigned", collateral)


def crl_cases(world: SimWorld) -> Iterator[Case]:
    """Revocation and who issued each CRL (the issuer named in the CRL, the one signing it, the one in the chain)."""
    pki, qe = world.pki, world.qe
    yield world.case("revoked/pck-leaf", _spec(revoked_pck_serials=[qe.pck_certificate.serial_number]))
    yield world.case("revoked/pck-ca", _spec(revoked_ca_serials=[pki.cas["processor"].serial_number]))
    yield world.case("revoked/tcb-signing", _spec(revoked_ca_serials=[pki.tcb_signing.serial_number]))
    yield world.case("revoked/other-serial", _spec(revoked_pck_serials=[12345], revoked_ca_serials=[67890]))
    collateral = json.loads(pki.collateral(_spec()).to_json())
    ca, platform, root = pki.cas["processor"], pki.cas["platform"], pki.root
    issued, validity = NOW, timedelta(days=30)
    by = {
        "pck-crl-named-platform-signed-processor": pki.crl(platform, pki.ca_keys["processor"], [], issued, validity),
        "pck-crl-from-platform-ca": pki.crl(platform, pki.ca_keys["platform"], [], issued, validity),
        "pck-crl-named-processor-signed-platform": pki.crl(ca, pki.ca_keys["platform"], [], issued, validity),
        "pck-crl-by-root": pki.crl(root, pki.root_key, [], issued, validity),
        "pck-crl-stale": pki.crl(ca, pki.ca_keys["processor"], [], issued - timedelta(days=40), validity),
        "pck-crl-not-yet-valid": pki.crl(ca, pki.ca_keys["processor"], [], issued + timedelta(hours=1), validity),
    }
    for name, crl in by.items():
        yield _with(world, f"crl/{name}", collateral, pck_crl=crl.hex())
    chains = {
        "root-first": pem(root, ca),
        "platform-ca": pem(platform, root),
        "platform-then-processor": pem(platform, ca, root),
        "processor-then-platform": pem(ca, platform, root),
        "root-only": pem(root),
    }
    for name, chain in chains.items():
        yield _with(world, f"crl_chain/{name}", collateral, pck_crl_issuer_chain=chain)
    yield _with(world, "crl_chain/platform-ca-and-its-crl", collateral, pck_crl_issuer_chain=pem(platform, root),
                pck_crl=by["pck-crl-from-platform-ca"].hex())
    root_crls = {
        "by-processor-ca": pki.crl(root, pki.ca_keys["processor"], [], issued, validity),
        "named-processor-signed-root": pki.crl(ca, root_key := pki.root_key, [], issued, validity),
        "stale": pki.crl(root, root_key, [], issued - timedelta(days=40), validity),
        "revokes-processor-named-by-ca": pki.crl(ca, root_key, [ca.serial_number], issued, validity),
    }
    for name, crl in root_crls.items():
        yield _with(world, f"root_crl/{name}", collateral, root_ca_crl=crl.hex())


def _with(world: SimWorld, name: str, collateral: dict[str, str], **fields: str) -> Case:
    return Case("sim", name, world.quote, collateral | fields, world.at, world.pki.root.public_bytes(serialization.Encoding.DER))


def resigned_json_cases(world: SimWorld) -> Iterator[Case]:
    """Every member of TCB info and QE identity changed, removed or moved, then re-signed with the TCB signing key."""
    collateral = world.pki.collateral(_spec())
    for field in ("tcb_info", "qe_identity"):
        obj = json.loads(getattr(collateral, field))
        for how, new in _json_member_mutations(obj):
            text = json.dumps(new, separators=(",", ":"))
            yield world.resigned(f"{field}/{how}", collateral, **{field: text})
        extra = obj | {"unknownMember": 1}
        yield world.resigned(f"{field}/unknown-member", collateral, **{field: json.dumps(extra, separators=(",", ":"))})
        yield world.resigned(f"{field}/pretty-printed", collateral, **{field: json.dumps(obj, indent=1)})
    info = json.loads(collateral.tcb_info)
    for key, value in (("id", "TDX"), ("version", 2), ("tcbType", 1), ("fmspc", "00906ea10000"),
                       ("nextUpdate", info["issueDate"]), ("issueDate", info["nextUpdate"])):
        yield world.resigned(f"tcb_info/{key}={value}", collateral,
                             tcb_info=json.dumps(info | {key: value}, separators=(",", ":")))
    identity = json.loads(collateral.qe_identity)
    for key, value in (("id", "TD_QE"), ("id", "QVE"), ("version", 1), ("miscselect", "00000001"),
                       ("attributes", "00" * 16), ("attributesMask", "00" * 16), ("mrsigner", identity["mrsigner"].lower())):
        yield world.resigned(f"qe_identity/{key}={value}", collateral,
                             qe_identity=json.dumps(identity | {key: value}, separators=(",", ":")))


def sim_cases(world: SimWorld, *, with_times: bool = True) -> list[Case]:
    cases = [world.case("baseline")]
    cases += tcb_cases(world)
    cases += signer_cases(world)
    cases += crl_cases(world)
    cases += resigned_json_cases(world)
    cases += quote_cases(world)
    if with_times:
        cases += time_mutations(cases[0])
    return unique(cases)


# ---- simulated quotes changed and re-signed -----------------------------------------------------------------------

_REPORT = {"cpusvn": (0, 16), "miscselect": (16, 20), "attributes": (48, 64), "mrsigner": (128, 160),
           "isvprodid": (256, 258), "isvsvn": (258, 260), "report_data": (320, 384)}


def _region(q: bytes, name: str) -> tuple[int, int]:
    if name == "auth_data":  # may be empty, and empty regions are not listed
        _a, at = _region(q, "auth_data_size")
        return at, at + struct.unpack_from("<H", q, at - 2)[0]
    return next((a, b) for n, a, b in quote_layout(q).regions if n == name)


def _put(q: bytes, name: str, value: bytes, within: tuple[int, int] | None = None) -> bytes:
    a, b = _region(q, name)
    if within:
        a, b = a + within[0], a + within[1]
    if len(value) != b - a:
        raise ValueError(f"{name}: {len(value)} bytes for a {b - a}-byte field")
    return q[:a] + value + q[b:]


def resign(world: SimWorld, q: bytes, *, pck_key: ec.EllipticCurvePrivateKey | None = None,
           attestation_key: ec.EllipticCurvePrivateKey | None = None, bind: bool = True) -> bytes:
    """Bind the QE report to the quote's attestation key and auth data (if ``bind``), sign it with the PCK key,
    then sign header and body with the attestation key."""
    if bind:
        ak, auth = q[slice(*_region(q, "attestation_key"))], q[slice(*_region(q, "auth_data"))]
        q = _put(q, "qe_report", hashlib.sha256(ak + auth).digest() + bytes(32), _REPORT["report_data"])
    q = _put(q, "qe_report_signature", raw_signature(pck_key or world.qe.pck_key, q[slice(*_region(q, "qe_report"))]))
    return _put(q, "signature", raw_signature(attestation_key or world.qe.attestation_key, q[:_region(q, "sig_data_len")[0]]))


def with_auth_data(q: bytes, auth: bytes) -> bytes:
    """Other QE auth data, its size and the signature data size adjusted (signatures to be redone)."""
    a, b = _region(q, "auth_data")
    out = bytearray(q[:a - 2] + struct.pack("<H", len(auth)) + auth + q[b:])
    sig_at = _region(q, "sig_data_len")[0]
    struct.pack_into("<I", out, sig_at, struct.unpack_from("<I", out, sig_at)[0] + len(auth) - (b - a))
    return bytes(out)


def _key_bytes(key: ec.EllipticCurvePrivateKey) -> bytes:
    numbers = key.public_key().public_numbers()
    return numbers.x.to_bytes(32, "big") + numbers.y.to_bytes(32, "big")


def quote_cases(world: SimWorld) -> Iterator[Case]:
    """The simulated quote with one field changed and everything re-signed, so only the field's meaning is judged."""
    q = world.quote
    base = world.case("quote/resigned")
    header = {"qe_vendor_id": ("header.qe_vendor_id", bytes(16)), "qe_svn": ("header.qe_svn", b"\x09\x00"),
              "pce_svn": ("header.pce_svn", b"\x0e\x00"), "user_data": ("header.user_data", b"\x01" * 20),
              "att_key_type-3": ("header.att_key_type", b"\x03\x00")}
    changes: dict[str, bytes] = {"resigned": resign(world, q)}
    for name, (region, value) in header.items():
        changes[f"header.{name}"] = resign(world, _put(q, region, value))
    changes["body.report_data"] = resign(world, _put(q, "body", b"\x07" * 64, _REPORT["report_data"]))
    changes["body.debug"] = resign(world, _put(q, "body", b"\x13" + bytes(15), _REPORT["attributes"]))
    qe_fields = {"isvsvn-6": ("isvsvn", b"\x06\x00"), "isvsvn-5": ("isvsvn", b"\x05\x00"),
                 "isvsvn-9": ("isvsvn", b"\x09\x00"), "mrsigner": ("mrsigner", bytes(32)),
                 "isvprodid-2": ("isvprodid", b"\x02\x00"), "debug": ("attributes", b"\x13" + bytes(7) + b"\xe7" + bytes(7)),
                 "attributes-unmasked-bits": ("attributes", b"\x11" + bytes(7) + b"\xff" * 8),
                 "miscselect": ("miscselect", b"\x01\x00\x00\x00"), "cpusvn": ("cpusvn", b"\x05" * 16)}
    for name, (field, value) in qe_fields.items():
        changes[f"qe_report.{name}"] = resign(world, _put(q, "qe_report", value, _REPORT[field]))
    ak, auth = q[slice(*_region(q, "attestation_key"))], q[slice(*_region(q, "auth_data"))]
    bad_binding = {"ak-only": hashlib.sha256(ak).digest() + bytes(32),
                   "upper-half-set": hashlib.sha256(ak + auth).digest() + b"\x01" * 32}
    for name, report_data in bad_binding.items():
        changes[f"qe_report.binding-{name}"] = resign(world, _put(q, "qe_report", report_data, _REPORT["report_data"]),
                                                      bind=False)
    for name, auth_data in (("empty", b""), ("64-bytes", b"\x5a" * 64)):
        changes[f"auth_data.{name}"] = resign(world, with_auth_data(q, auth_data))
    other = ec.generate_private_key(ec.SECP256R1())
    changes["qe_report.signed-by-other-key"] = resign(world, q, pck_key=other)
    changes["signature.by-other-key"] = resign(world, q, attestation_key=other)
    changes["attestation_key.other-rebound"] = resign(world, _put(q, "attestation_key", _key_bytes(other)),
                                                      attestation_key=other)
    changes["attestation_key.other-not-rebound"] = resign(world, _put(q, "attestation_key", _key_bytes(other)),
                                                          attestation_key=other, bind=False)
    for name, new in changes.items():
        yield base.mutated(f"quote/{name}", quote=new)
