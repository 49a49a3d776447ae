"""What ``sgxra pccs import`` reads: nine-field collateral JSON, quotes carrying a PCK chain, PCK certificates.

A quote (certification data type 5) brings its platform's PCK certificate:
the QE ID is the first 16 bytes of its header's user data (where Intel's QE
puts it), the TCBm the certificate's own CPUSVN and PCESVN.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from sgxra.errors import MalformedMessage
from sgxra.pccs.items import STANDARD, Item, from_collateral, import_json, pck_cert_item
from sgxra.pcs.client import pck_tcbm
from sgxra.verify.pki import load_pem_chain
from sgxra.wire.collateral import Collateral
from sgxra.wire.dcap_quote import DcapQuote
from sgxra.wire.pck_extension import PckExtension

MAX_IMPORT_FILE = 8 * 1024 * 1024
MAX_IMPORT_FILES = 4096


def pck_chain_items(chain_pem: bytes, qeid: str, *, now: int) -> list[Item]:
    """The PCK leaf of ``chain_pem`` (leaf, CA, root) for platform ``qeid``."""
    if not re.fullmatch(r"(?:[0-9A-Fa-f]{2}){1,130}", qeid):
        raise MalformedMessage("PCK certificate", "qeid", 0, "a QE ID is 2 to 260 hex digits")
    chain = load_pem_chain(chain_pem.rstrip(b"\x00"), "PCK certificate chain")
    if len(chain) < 2:
        raise MalformedMessage("PCK certificate chain", "<pem>", 0, "needs the PCK leaf and its CA")
    extension = PckExtension.from_certificate(chain[0])
    return [pck_cert_item(qeid, extension.pce_id.hex(), pck_tcbm(extension), _pem(chain[:1]), _pem(chain[1:]),
                          now=now)]


def _pem(certs: list[x509.Certificate]) -> str:
    return "".join(c.public_bytes(serialization.Encoding.PEM).decode() for c in certs)


def quote_items(raw: bytes, *, now: int) -> list[Item]:
    quote = DcapQuote.parse(raw)
    return pck_chain_items(quote.pck_chain_pem, quote.header.user_data[:16].hex(), now=now)


def file_items(path: Path, *, now: int, qeid: str | None = None, update: str = STANDARD) -> list[Item]:
    """One file: ``.json`` collateral (or a PCCS export), ``.pem`` a PCK chain (needs ``qeid``), anything else a quote."""
    if path.stat().st_size > MAX_IMPORT_FILE:
        raise MalformedMessage(str(path), "<file>", 0, f"larger than {MAX_IMPORT_FILE} bytes")
    data = path.read_bytes()
    if path.suffix == ".json":
        try:
            parsed = json.loads(data)
        except (ValueError, UnicodeDecodeError):
            raise MalformedMessage(str(path), "<json>", 0, "not JSON") from None
        if isinstance(parsed, dict) and "format" in parsed:
            return import_json(parsed)
        bundles = [Collateral.from_json(json.dumps(o)) for o in (parsed if isinstance(parsed, list) else [parsed])]
        return [item for bundle in bundles for item in from_collateral(bundle, variant=update, now=now)]
    if path.suffix == ".pem":
        if qeid is None:
            raise MalformedMessage(str(path), "qeid", 0, "a PCK certificate file needs --qeid (PCCS keys by QE ID)")
        return pck_chain_items(data, qeid, now=now)
    return quote_items(data, now=now)


def path_items(path: Path, *, now: int, qeid: str | None = None, update: str = STANDARD) -> list[Item]:
    """A file, or every ``*.json`` collateral file of a directory (other files there are left alone)."""
    if not path.is_dir():
        return file_items(path, now=now, qeid=qeid, update=update)
    files = sorted(p for p in path.glob("*.json") if p.is_file())[:MAX_IMPORT_FILES]
    return [item for file in files for item in file_items(file, now=now, update=update)]
