"""TDX quotes (and other confidential guests' reports) from Linux's configfs-tsm.

The ABI, from the kernel's Documentation/ABI/testing/configfs-tsm (configfs-tsm-report in later kernels)
and its implementation (drivers/virt/coco/tsm.c, drivers/virt/coco/tdx-guest/tdx-guest.c), in torvalds/linux:

- ``mkdir /sys/kernel/config/tsm/report/$name`` makes a report instance with its attributes; ENXIO when no
  provider (TSM driver) is registered; ``rmdir`` removes it. One instance per request avoids conflicts.
- ``inblob`` (WO): up to 64 bytes (TSM_INBLOB_MAX; more is EFBIG). A configfs binary attribute is handed to
  the driver when the file is closed, and configfs ignores the driver's answer then (an EBUSY is silent).
- ``outblob`` (RO): the report made from ``inblob``; EINVAL before any ``inblob``, and from ``tdx_guest``
  unless ``inblob`` is exactly 64 bytes (TDX_REPORTDATA_LEN); EBUSY while an earlier quote request is still
  with the host; ETIMEDOUT, EINTR, EIO from the quote request; EFBIG over the kernel's maximum (32 KiB);
  ENOTTY once the provider is gone.
- ``provider`` (RO): the format of ``outblob``, e.g. ``tdx_guest`` (an Intel TDX quote) or ``sev_guest``,
  with a newline. TDX platforms with DICE-based attestation return a CWT instead, told by a size over 8 KiB.
- ``generation`` (RO, decimal and a newline): counts writes to ``inblob`` and the options. Userspace reads it
  before writing and checks after reading ``outblob`` that it moved by exactly its own writes; anything else
  is a concurrent writer (or a write the kernel refused with EBUSY, silently, at close).
- ``privlevel`` (WO, only where the provider has privilege levels, like SEV-SNP's VMPL): from
  ``privlevel_floor`` (RO) up to TSM_PRIVLEVEL_MAX (3); counts as a write.
"""

from __future__ import annotations

import errno
import os
import secrets
from pathlib import Path

from sgxra.backends.base import (
    BackendBusy,
    BackendError,
    BackendUnavailable,
    DeviceFiles,
    OsFiles,
    ProviderMismatch,
    check_binding,
    check_report_data,
)
from sgxra.errors import MalformedMessage

DEFAULT_ROOT = Path("/sys/kernel/config/tsm/report")
OUTBLOB_MAX = 32 * 1024  # TSM_OUTBLOB_MAX
PRIVLEVEL_MAX = 3
CWT_THRESHOLD = 8 * 1024
TDX_PROVIDER = "tdx_guest"

_MESSAGES = {
    errno.ENXIO: "no TSM provider is registered (not a confidential guest, or its driver is not loaded)",
    errno.ENOTTY: "the TSM provider went away",
    errno.EBUSY: "busy: an earlier quote request is still with the host",
    errno.ETIMEDOUT: "the quote request timed out",
    errno.EINTR: "the quote request was interrupted",
    errno.EIO: "the host's quote service failed (GetQuote)",
    errno.EFBIG: "the report exceeds the kernel's maximum size",
    errno.EINVAL: "the provider refused the request (tdx_guest needs exactly 64 bytes of inblob)",
}


class TsmReport:
    """configfs-tsm report instances under ``root``; ``provider`` is the evidence format expected."""

    name = "tsm"

    def __init__(self, root: Path = DEFAULT_ROOT, files: DeviceFiles | None = None, *,
                 provider: str = TDX_PROVIDER, privlevel: int | None = None) -> None:
        if privlevel is not None and not 0 <= privlevel <= PRIVLEVEL_MAX:
            raise MalformedMessage("tsm options", "privlevel", 0, f"{privlevel} is outside 0..{PRIVLEVEL_MAX}")
        self.root = root
        self.files = files or OsFiles()
        self.provider = provider
        self.privlevel = privlevel

    def _error(self, path: Path, e: OSError, doing: str) -> BackendError:
        if e.errno == errno.ENOENT and path.parent == self.root:
            return BackendUnavailable(self.name, "no configfs-tsm report directory (configfs not mounted, or a "
                                                 "kernel before 6.7)", path=path, err=e.errno)
        if e.errno == errno.ENOENT:
            return BackendError(self.name, f"{doing}: the provider has no {path.name} attribute", path=path,
                                err=e.errno)
        if e.errno in (errno.ENXIO, errno.ENOTTY):
            return BackendUnavailable(self.name, _MESSAGES[e.errno], path=path, err=e.errno)
        if e.errno == errno.EBUSY:
            return BackendBusy(self.name, _MESSAGES[e.errno], path=path, err=e.errno)
        reason = _MESSAGES.get(e.errno or 0, e.strerror or "failed")
        return BackendError(self.name, f"{doing}: {reason}", path=path, err=e.errno)

    def _read(self, path: Path, limit: int, doing: str) -> bytes:
        try:
            return self.files.read(path, limit)
        except OSError as e:
            raise self._error(path, e, doing) from e

    def _write(self, path: Path, data: bytes, doing: str) -> None:
        try:
            written = self.files.write(path, data)
        except OSError as e:
            raise self._error(path, e, doing) from e
        if written != len(data):
            raise BackendError(self.name, f"{doing}: wrote {written} of {len(data)} bytes", path=path)

    def _number(self, path: Path) -> int:
        text = self._read(path, 32, f"reading {path.name}").decode("ascii", "replace").strip()
        if not text.isdigit():
            raise BackendError(self.name, f"{path.name} is not a number: {text!r}", path=path)
        return int(text)

    def report(self, inblob: bytes) -> bytes:
        """``outblob`` for ``inblob`` (64 bytes) from a fresh report instance, removed afterwards."""
        check_report_data(inblob)
        entry = self.root / f"sgxra-{os.getpid()}-{secrets.token_hex(6)}"
        try:
            self.files.mkdir(entry)
        except OSError as e:
            raise self._error(entry, e, "creating a report") from e
        try:
            return self._generate(entry, inblob)
        finally:
            try:
                self.files.rmdir(entry)
            except OSError:
                pass  # the report is made (or its error raised); a leftover instance holds no secret

    def _generate(self, entry: Path, inblob: bytes) -> bytes:
        provider = self._read(entry / "provider", 64, "reading provider").decode("ascii", "replace").strip()
        if provider != self.provider:
            raise ProviderMismatch(self.name, f"provider is {provider!r}, expected {self.provider!r}",
                                   path=entry / "provider")
        before = self._number(entry / "generation")
        writes = 1
        if self.privlevel is not None:
            floor = self._number(entry / "privlevel_floor")
            if self.privlevel < floor:
                raise BackendError(self.name, f"privlevel {self.privlevel} is below the floor {floor}",
                                   path=entry / "privlevel_floor")
            self._write(entry / "privlevel", f"{self.privlevel}\n".encode(), "writing privlevel")
            writes += 1
        self._write(entry / "inblob", inblob, "writing inblob")
        outblob = self._read(entry / "outblob", OUTBLOB_MAX, "reading outblob")
        after = self._number(entry / "generation")
        if after != before + writes:
            raise BackendBusy(self.name, f"generation went from {before} to {after} over our {writes} write(s): "
                                         "another writer changed the request, or the kernel refused a write",
                              path=entry / "generation")
        if not outblob:
            raise BackendError(self.name, "empty outblob", path=entry / "outblob")
        return outblob

    def quote(self, report_data: bytes) -> bytes:
        """A TDX quote over ``report_data`` (provider ``tdx_guest``), checked to carry it."""
        if self.provider != TDX_PROVIDER:
            raise ProviderMismatch(self.name, f"quotes are read from {TDX_PROVIDER!r} only, not {self.provider!r}")
        outblob = self.report(report_data)
        if len(outblob) > CWT_THRESHOLD:
            raise BackendError(self.name, f"a {len(outblob)}-byte outblob is a DICE-based CBOR Web Token, which "
                                          "sgxra does not read")
        return check_binding(self.name, outblob, report_data)

    def epid_group(self) -> bytes:
        return bytes(4)
