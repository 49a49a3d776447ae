"""What every quote source offers, the files it talks through, and its errors.

A backend turns 64 bytes of report data into a quote: a simulated quoting
enclave (``sim``), Gramine's ``/dev/attestation`` (``gramine``) or Linux's
configfs-tsm (``tsm``). The hardware backends speak to their ABI through
:class:`DeviceFiles` rooted at a directory given as a parameter, so tests
replay each ABI, errors included, in a fake tree.
"""

from __future__ import annotations

import errno
import hmac
import os
from pathlib import Path
from typing import Protocol

from sgxra.errors import MalformedMessage, SgxRaError
from sgxra.sim.enclave import InProcessEnclave
from sgxra.wire.any_quote import parse_quote, report_data_of
from sgxra.wire.dcap_quote import DcapQuote
from sgxra.wire.messages import Msg2
from sgxra.wire.quote import EpidQuote

REPORT_DATA_SIZE = 64


class BackendError(SgxRaError):
    """The TEE's quote interface failed or answered something unusable.

    ``backend`` names it, ``path`` the file involved and ``errno`` the OS error, when there was one.
    """

    def __init__(self, backend: str, message: str, *, path: Path | None = None, err: int | None = None) -> None:
        self.backend = backend
        self.path = path
        self.errno = err
        where = f" ({path}{', ' + errno.errorcode.get(err, str(err)) if err is not None else ''})" if path else ""
        super().__init__(f"{backend}: {message}{where}")


class BackendUnavailable(BackendError):
    """The interface is not there: not inside Gramine/SGX, configfs-tsm not mounted, no provider, attestation off."""


class BackendBusy(BackendError):
    """Someone else used the interface at the same time (configfs-tsm generation changed, EBUSY)."""


class ProviderMismatch(BackendError):
    """The interface produces another kind of evidence than asked (e.g. ``sev_guest`` for ``tdx_guest``)."""


class QuoteSource(Protocol):
    """Where quotes come from."""

    name: str

    def quote(self, report_data: bytes) -> bytes:
        """A quote whose report data is exactly ``report_data`` (64 bytes); checked before it is returned."""
        ...

    def epid_group(self) -> bytes:
        """msg1's EPID group id: zeros for ECDSA (DCAP) quotes."""
        ...


def check_report_data(report_data: bytes) -> bytes:
    if len(report_data) != REPORT_DATA_SIZE:
        raise MalformedMessage("report data", "report_data", 0,
                               f"must be exactly {REPORT_DATA_SIZE} bytes, {len(report_data)} given")
    return report_data


def quoted_report_data(quote: bytes) -> bytes:
    """The report data a quote (EPID, SGX DCAP or TDX) carries."""
    return report_data_of(parse_quote(quote))


def check_binding(backend: str, quote: bytes, report_data: bytes, path: Path | None = None) -> bytes:
    """Refuse a quote over other report data: stale, or another writer's (the interfaces are not atomic)."""
    if not hmac.compare_digest(quoted_report_data(quote), report_data):
        raise BackendBusy(backend, "the quote carries other report data than was written (a concurrent writer, "
                                   "or a stale quote)", path=path)
    return quote


class DeviceFiles(Protocol):
    """The file operations the ABIs are made of; each call is one system call's worth."""

    def read(self, path: Path, limit: int) -> bytes:
        """The whole file (open, read to EOF, close); more than ``limit`` bytes is an error."""
        ...

    def write(self, path: Path, data: bytes) -> int:
        """Open an existing file, write ``data`` with one write(), close; the count written."""
        ...

    def mkdir(self, path: Path) -> None: ...

    def rmdir(self, path: Path) -> None: ...


class OsFiles:
    """The real files (``/dev/attestation``, ``/sys/kernel/config/tsm``), by plain system calls.

    Writes go through one ``write`` without ``O_CREAT`` or ``O_TRUNC``: the pseudo-files exist or the
    interface is absent, and configfs hands a binary attribute's buffer to the driver at close.
    """

    def read(self, path: Path, limit: int) -> bytes:
        fd = os.open(path, os.O_RDONLY)
        try:
            chunks, size = [], 0
            while chunk := os.read(fd, limit + 1 - size):
                chunks.append(chunk)
                size += len(chunk)
                if size > limit:
                    raise OSError(errno.EFBIG, f"more than {limit} bytes", str(path))
            return b"".join(chunks)
        finally:
            os.close(fd)

    def write(self, path: Path, data: bytes) -> int:
        fd = os.open(path, os.O_WRONLY)
        try:
            return os.write(fd, data)
        finally:
            os.close(fd)

    def mkdir(self, path: Path) -> None:
        os.mkdir(path)

    def rmdir(self, path: Path) -> None:
        os.rmdir(path)


class BackendEnclave(InProcessEnclave):
    """The msg0..msg4 client's enclave side in this process, its quotes from ``source``.

    Under Gramine the whole Python process is the enclave, so the key exchange here runs inside it;
    the quote binds the session as the SDK's does (SHA-256(g_a || g_b || VK) || 32 zero bytes).
    """

    def __init__(self, source: QuoteSource, sp_public_key_le: bytes) -> None:
        super().__init__(sp_public_key_le)
        self.source = source

    @property
    def gid(self) -> bytes:
        return self.source.epid_group()

    def quote(self, report_data: bytes, msg2: Msg2) -> bytes:
        quote = self.source.quote(report_data)
        parsed: EpidQuote | DcapQuote = parse_quote(quote)
        if isinstance(parsed, EpidQuote) and parsed.sign_type != msg2.quote_type:
            raise BackendError(self.source.name, f"the service provider asks for {msg2.quote_type.name.lower()} "
                                                 f"quotes, this platform makes {parsed.sign_type.name.lower()} ones "
                                                 "(Gramine takes it from sgx.ra_client_linkable)")
        return quote
