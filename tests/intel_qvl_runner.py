"""Intel's Quote Verification Library (../shared/tools/intel-qvl) as an in-process oracle.

The tool's qvl-verify.py is loaded as a module and its own helpers lay out the
CLI's input files and read the CLI's step results; only AttestationApp runs as
a subprocess (~20 ms instead of ~180 ms with a Python start per case), so calls
can run on threads. Its rules are the tool's: the PCK chain comes from the
quote, the PCK CRL is checked against the quote's PCK CA, the verdict is a TCB
status only when all four steps pass.
"""

from __future__ import annotations

import binascii
import importlib.util
import json
import subprocess
import tempfile
from functools import cache
from pathlib import Path
from types import ModuleType

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from differential import Verdict
from mutations import Case

QVL_DIR = Path(__file__).resolve().parents[2] / "shared" / "tools" / "intel-qvl"
APP = QVL_DIR / "AttestationApp"


@cache
def _tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location("qvl_verify", QVL_DIR / "qvl-verify.py")
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {QVL_DIR / 'qvl-verify.py'}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@cache
def unavailable_reason() -> str | None:
    """None when Intel's QVL runs here, else why not (the differential tests skip with it)."""
    if not (QVL_DIR / "qvl-verify.py").is_file() or not APP.is_file():
        return f"Intel's QVL is not at {QVL_DIR} (it lives in ../shared/tools/intel-qvl)"
    try:
        probe = subprocess.run([str(APP), "--help"], capture_output=True, timeout=30)
        _tool()
    except (OSError, subprocess.TimeoutExpired, ImportError, SyntaxError) as e:
        return f"Intel's QVL does not run here: {e}"
    if b"error while loading shared libraries" in probe.stderr + probe.stdout:
        return f"Intel's QVL does not run here: {probe.stderr.decode(errors='replace').strip()}"
    return None


def _inputs(case: Case) -> dict[str, bytes]:
    """The CLI's files, as the tool builds them; raises when the case cannot be given to Intel's library at all."""
    tool = _tool()
    *_rest, pck_pem, note = tool.quote_layout(case.quote)
    pck = tool.split_pems(pck_pem or b"")
    if not pck:
        raise ValueError(note or "no PCK certificate chain in the quote")
    c = case.collateral
    root_pem = x509.load_der_x509_certificate(case.root_der).public_bytes(Encoding.PEM)
    return {
        "quote.dat": case.quote,
        "pckCert.pem": pck[0].encode(),
        "pckSignChain.pem": "".join(pck[1:]).encode(),
        "rootCaCrl.der": binascii.unhexlify(c["root_ca_crl"]),
        "intermediateCaCrl.der": binascii.unhexlify(c["pck_crl"]),
        "tcbInfo.json": ('{"tcbInfo":%s,"signature":"%s"}' % (c["tcb_info"], c["tcb_info_signature"])).encode(),
        "tcbSignChain.pem": c["tcb_info_issuer_chain"].encode(),
        "qeSignChain.pem": c["qe_identity_issuer_chain"].encode(),
        "qeIdentity.json": ('{"enclaveIdentity":%s,"signature":"%s"}' % (c["qe_identity"], c["qe_identity_signature"])).encode(),
        "trustedRootCaCert.pem": root_pem,
    }


def intel_verdict(case: Case) -> Verdict:
    tool = _tool()
    try:
        files = _inputs(case)
    except (ValueError, KeyError, TypeError, binascii.Error, IndexError, UnicodeError) as e:
        return Verdict(None, f"not an input Intel's library can take: {type(e).__name__}: {e}")
    except tool.struct.error as e:
        return Verdict(None, f"not an input Intel's library can take: quote layout: {e}")
    with tempfile.TemporaryDirectory(prefix="sgxra-qvl-") as d:
        for name, content in files.items():
            Path(d, name).write_bytes(content)
        _rc, out = tool.run_app(str(APP), d, case.at, str(Path(d, "tcbSignChain.pem")))
        steps = tool.parse_steps(out)
        # The CLI takes one signing chain; a second run judges the QE identity under its own. Compared as text,
        # not whitespace-normalised as the tool does, or a QE chain differing in whitespace is never parsed.
        if case.collateral["qe_identity_issuer_chain"] != case.collateral["tcb_info_issuer_chain"]:
            _rc, out2 = tool.run_app(str(APP), d, case.at, str(Path(d, "qeSignChain.pem")))
            steps["QeIdentity"] = tool.parse_steps(out2).get("QeIdentity", "MISSING")
    need = ("PCK certificate chain", "TCB info", "QeIdentity", "Quote")
    if any(step not in steps for step in need):
        return Verdict(None, f"CLI gave no verdict for every step: {json.dumps(steps)}")
    failed = {k: v for k, v in steps.items() if v != "STATUS_OK" and k != "Quote"}
    if failed or steps["Quote"] not in tool.TCB_MAP:
        return Verdict(None, ", ".join(f"{k}: {v}" for k, v in (failed or {"Quote": steps["Quote"]}).items()))
    return Verdict(tool.TCB_MAP[steps["Quote"]])
