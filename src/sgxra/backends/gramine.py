"""Quotes and local reports from Gramine's ``/dev/attestation`` pseudo-filesystem (SGX hardware).

The ABI, from Gramine's documentation (Documentation/attestation.rst, "Low-level /dev/attestation
interface") and its implementation (libos/src/fs/dev/attestation.c), both in gramineproject/gramine:

- ``attestation_type`` (read): ``none``, ``epid`` or ``dcap`` (the manifest's ``sgx.remote_attestation``),
  without a newline.
- ``user_report_data`` (read/write): 64 bytes on SGX. Gramine pads a shorter write with zeros and truncates a
  longer one without an error, so we write exactly 64 bytes in one write and check the count.
- ``quote`` (read): the quote over the last ``user_report_data``, from the quoting enclave (AESM / DCAP
  library); absent when ``attestation_type`` is ``none`` (ENOENT); EACCES when quoting fails; at most 8192
  bytes (QUOTE_MAX_SIZE).
- ``my_target_info`` (read, 512 bytes), ``target_info`` (read/write, 512 bytes) and ``report`` (read: the
  432-byte EREPORT for ``target_info`` over ``user_report_data``), for local attestation.
- The files exist only when the host is Linux-SGX (no ``/dev/attestation`` otherwise: ENOENT). They are
  process-local, and Gramine does not serialise threads using them: a lock here does.
"""

from __future__ import annotations

import errno
import threading
from pathlib import Path

from sgxra.backends.base import (
    BackendBusy,
    BackendError,
    BackendUnavailable,
    DeviceFiles,
    OsFiles,
    check_binding,
    check_report_data,
)
from sgxra.errors import MalformedMessage
from sgxra.wire.quote import EpidQuote
from sgxra.wire.report_body import REPORT_BODY_SIZE

DEFAULT_ROOT = Path("/dev/attestation")
QUOTE_MAX_SIZE = 8192
TARGET_INFO_SIZE = 512
REPORT_SIZE = 432  # body 384 || key id 32 || MAC 16
ATTESTATION_TYPES = ("none", "epid", "dcap")
_REPORT_DATA_OFFSET = 320


class GramineAttestation:
    """``/dev/attestation`` under ``root`` (the real one by default)."""

    name = "gramine"

    def __init__(self, root: Path = DEFAULT_ROOT, files: DeviceFiles | None = None) -> None:
        self.root = root
        self.files = files or OsFiles()
        self._lock = threading.Lock()

    def _error(self, path: Path, e: OSError, doing: str) -> BackendError:
        if e.errno == errno.ENOENT and path.name != "quote":
            return BackendUnavailable(self.name, f"no {path.name}: not running under Gramine on SGX", path=path,
                                      err=e.errno)
        if e.errno == errno.ENOENT:
            return BackendUnavailable(self.name, "no quote file: remote attestation is off "
                                                 "(sgx.remote_attestation = \"none\")", path=path, err=e.errno)
        if e.errno == errno.EACCES:
            return BackendError(self.name, f"{doing} failed (Gramine reports EACCES when the quoting enclave, "
                                           "AESM or the DCAP library fails)", path=path, err=e.errno)
        return BackendError(self.name, f"{doing} failed: {e.strerror}", path=path, err=e.errno)

    def _read(self, name: str, limit: int, doing: str) -> bytes:
        path = self.root / name
        try:
            return self.files.read(path, limit)
        except OSError as e:
            raise self._error(path, e, doing) from e

    def _write(self, name: str, data: bytes) -> None:
        path = self.root / name
        try:
            written = self.files.write(path, data)
        except OSError as e:
            raise self._error(path, e, f"writing {name}") from e
        if written != len(data):  # Gramine would quote the rest as zeros
            raise BackendError(self.name, f"wrote {written} of {len(data)} bytes", path=path)

    def attestation_type(self) -> str:
        value = self._read("attestation_type", 16, "reading the attestation type").decode("ascii", "replace")
        if value.strip() not in ATTESTATION_TYPES:
            raise BackendError(self.name, f"unknown attestation type {value!r}", path=self.root / "attestation_type")
        return value.strip()

    def quote(self, report_data: bytes) -> bytes:
        check_report_data(report_data)
        with self._lock:
            kind = self.attestation_type()
            if kind == "none":
                raise BackendUnavailable(self.name, "remote attestation is off (sgx.remote_attestation = \"none\")",
                                         path=self.root / "attestation_type")
            self._write("user_report_data", report_data)
            quote = self._read("quote", QUOTE_MAX_SIZE, "quoting")
        if not quote:
            raise BackendError(self.name, "empty quote", path=self.root / "quote")
        return check_binding(self.name, quote, report_data, self.root / "quote")

    def epid_group(self) -> bytes:
        """Zeros for DCAP; for EPID Gramine does not expose the group, so a first quote tells it."""
        if self.attestation_type() != "epid":
            return bytes(4)
        quote = EpidQuote.parse(self.quote(bytes(64)))
        return quote.epid_group_id

    def my_target_info(self) -> bytes:
        """This enclave's TARGETINFO, for a peer enclave to make a report this one can check."""
        with self._lock:
            info = self._read("my_target_info", TARGET_INFO_SIZE, "reading my_target_info")
        if len(info) != TARGET_INFO_SIZE:
            raise MalformedMessage("target info", "my_target_info", 0,
                                   f"{len(info)} bytes, TARGETINFO is {TARGET_INFO_SIZE}")
        return info

    def report(self, target_info: bytes, report_data: bytes) -> bytes:
        """An EREPORT (432 bytes) for the enclave ``target_info`` describes, over ``report_data``."""
        check_report_data(report_data)
        if len(target_info) != TARGET_INFO_SIZE:
            raise MalformedMessage("target info", "target_info", 0,
                                   f"must be exactly {TARGET_INFO_SIZE} bytes, {len(target_info)} given")
        with self._lock:
            self._write("target_info", target_info)
            self._write("user_report_data", report_data)
            report = self._read("report", REPORT_SIZE, "making a report")
        if len(report) != REPORT_SIZE:
            raise MalformedMessage("report", "report", 0, f"{len(report)} bytes, a REPORT is {REPORT_SIZE}")
        if report[_REPORT_DATA_OFFSET:REPORT_BODY_SIZE] != report_data:
            raise BackendBusy(self.name, "the report carries other report data than was written",
                              path=self.root / "report")
        return report

