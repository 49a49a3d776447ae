"""Fake trees replaying Gramine's /dev/attestation and Linux's configfs-tsm, errors included.

Each fake is a DeviceFiles: the backends under test make exactly the calls they would make on the real
files, and get the answers (and errno values) the real implementations give; see the backends' docstrings
for the sources.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from sgxra.sim.enclave import EnclaveIdentity

GRAMINE_ROOT = Path("/fake/dev/attestation")
TSM_ROOT = Path("/fake/sys/kernel/config/tsm/report")


def _err(code: int, path: Path) -> OSError:
    return OSError(code, os.strerror(code), str(path))


def _bounded(data: bytes, limit: int, path: Path) -> bytes:
    if len(data) > limit:  # what OsFiles.read does past its limit
        raise _err(errno.EFBIG, path)
    return data


@dataclass
class FakeGramine:
    """/dev/attestation of an enclave whose quotes come from ``quote`` (a simulated QE by default)."""

    quote: Callable[[bytes], bytes]
    root: Path = GRAMINE_ROOT
    present: bool = True
    attestation_type: str = "dcap"
    quote_fails: bool = False  # the quoting enclave / AESM fails: EACCES
    short_write: bool = False  # a write that stops early (Gramine would pad the rest with zeros)
    stale: bool = False  # the quote is over other report data than the last written
    pause: float = 0.0  # seconds after each write, so other threads run between a write and the quote
    user_report_data: bytes = bytes(64)
    target_info: bytes = bytes(512)
    identity: EnclaveIdentity = field(default_factory=EnclaveIdentity)
    quotes: int = 0

    def _name(self, path: Path) -> str:
        if not self.present or path.parent != self.root:
            raise _err(errno.ENOENT, path)
        return path.name

    def read(self, path: Path, limit: int) -> bytes:
        name = self._name(path)
        if name == "attestation_type":
            return _bounded(self.attestation_type.encode(), limit, path)
        if name == "quote":
            if self.attestation_type == "none":
                raise _err(errno.ENOENT, path)  # Gramine adds no quote file then
            if self.quote_fails:
                raise _err(errno.EACCES, path)
            self.quotes += 1
            data = bytes(64) if self.stale else self.user_report_data
            return _bounded(self.quote(data), limit, path)
        if name == "my_target_info":
            return _bounded(hashlib.sha512(self.identity.mr_enclave).digest() * 8, limit, path)
        if name == "report":  # body || key id || MAC: only the layout matters to the backend
            body = self.identity.report_body(bytes(64) if self.stale else self.user_report_data).to_bytes()
            return _bounded(body + bytes(32) + hashlib.sha256(self.target_info + body).digest()[:16], limit, path)
        if name in ("user_report_data", "target_info"):
            return _bounded(getattr(self, name), limit, path)
        raise _err(errno.ENOENT, path)

    def write(self, path: Path, data: bytes) -> int:
        name = self._name(path)
        if name not in ("user_report_data", "target_info"):
            raise _err(errno.EACCES, path)
        size = 64 if name == "user_report_data" else 512
        if self.short_write:
            data = data[: len(data) // 2]
        setattr(self, name, data[:size].ljust(size, b"\0"))  # Gramine's update_buffer: pad or truncate
        time.sleep(self.pause)
        return len(data)

    def mkdir(self, path: Path) -> None:
        raise _err(errno.EPERM, path)

    def rmdir(self, path: Path) -> None:
        raise _err(errno.EPERM, path)


@dataclass
class TsmEntry:
    inblob: bytes | None = None
    generation: int = 0
    privlevel: int = 0


@dataclass
class FakeTsm:
    """/sys/kernel/config/tsm/report with ``provider`` registered, its TDX quotes from ``quote``."""

    quote: Callable[[bytes], bytes]
    root: Path = TSM_ROOT
    mounted: bool = True
    provider: str | None = "tdx_guest"  # None: no TSM driver registered
    privlevel_floor: int | None = None  # None: the provider has no privilege levels (TDX)
    busy: bool = False  # an earlier GetQuote is still in flight
    outblob_error: int | None = None  # ETIMEDOUT, EIO, ...
    meddler: Callable[[FakeTsm, Path], None] | None = None  # runs between inblob and outblob
    outblob_override: bytes | None = None
    entries: dict[str, TsmEntry] = field(default_factory=dict)
    removed: list[str] = field(default_factory=list)

    def _entry(self, path: Path) -> tuple[TsmEntry, str]:
        if not self.mounted or path.parent.parent != self.root or path.parent.name not in self.entries:
            raise _err(errno.ENOENT, path)
        attributes = {"inblob", "outblob", "auxblob", "provider", "generation"}
        if self.privlevel_floor is not None:
            attributes |= {"privlevel", "privlevel_floor"}
        if path.name not in attributes:
            raise _err(errno.ENOENT, path)
        return self.entries[path.parent.name], path.name

    def mkdir(self, path: Path) -> None:
        if not self.mounted or path.parent != self.root:
            raise _err(errno.ENOENT, path)
        if self.provider is None:
            raise _err(errno.ENXIO, path)
        if path.name in self.entries:
            raise _err(errno.EEXIST, path)
        self.entries[path.name] = TsmEntry()

    def rmdir(self, path: Path) -> None:
        if path.parent != self.root or self.entries.pop(path.name, None) is None:
            raise _err(errno.ENOENT, path)
        self.removed.append(path.name)

    def write(self, path: Path, data: bytes) -> int:
        entry, name = self._entry(path)
        if name == "inblob":
            if len(data) > 64:
                raise _err(errno.EFBIG, path)  # past the attribute's cb_max_size
            entry.inblob = data
        elif name == "privlevel":
            value = int(data)
            if self.privlevel_floor is not None and not self.privlevel_floor <= value <= 3:
                raise _err(errno.EINVAL, path)
            entry.privlevel = value
        else:
            raise _err(errno.EACCES, path)
        entry.generation += 1
        if name == "inblob" and self.meddler is not None:
            meddler, self.meddler = self.meddler, None  # another process writes once
            meddler(self, path.parent)
        return len(data)

    def read(self, path: Path, limit: int) -> bytes:
        entry, name = self._entry(path)
        if name == "provider":
            return f"{self.provider}\n".encode()
        if name == "generation":
            return f"{entry.generation}\n".encode()
        if name == "privlevel_floor":
            return f"{self.privlevel_floor}\n".encode()
        if name != "outblob":
            raise _err(errno.EACCES, path)
        if entry.inblob is None:
            raise _err(errno.EINVAL, path)  # no inblob written yet
        if self.busy:
            raise _err(errno.EBUSY, path)
        if self.outblob_error is not None:
            raise _err(self.outblob_error, path)
        if len(entry.inblob) != 64:
            raise _err(errno.EINVAL, path)  # tdx_guest: TDX_REPORTDATA_LEN
        if self.outblob_override is not None:
            return _bounded(self.outblob_override, limit, path)
        return _bounded(self.quote(entry.inblob), limit, path)



@contextmanager
def fifo_gramine_tree(root: Path, quote: Callable[[bytes], bytes]) -> Iterator[Path]:
    """A real /dev/attestation tree for another process: ``quote`` is a FIFO that, each time it is opened,
    yields a quote over what ``user_report_data`` holds then (as Gramine makes the quote when it is read)."""
    root.mkdir()
    (root / "attestation_type").write_text("dcap")
    (root / "user_report_data").write_bytes(bytes(64))
    os.mkfifo(root / "quote")
    stop = threading.Event()

    def reader_gone(path: Path) -> bool:
        try:
            os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))
        except OSError as e:
            return e.errno == errno.ENXIO  # no reader has the FIFO open
        return False

    def serve() -> None:
        path = root / "quote"
        while not stop.is_set():
            fd = os.open(path, os.O_WRONLY)  # blocks until a reader opens the file
            try:
                if not stop.is_set():
                    with contextlib.suppress(BrokenPipeError):
                        os.write(fd, quote((root / "user_report_data").read_bytes()))
            finally:
                os.close(fd)
            while not stop.is_set() and not reader_gone(path):  # one quote per open, as a file read to EOF
                time.sleep(0.005)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield root
    finally:
        stop.set()
        os.close(os.open(root / "quote", os.O_RDONLY | os.O_NONBLOCK))  # releases a writer waiting to open
        thread.join(timeout=10)
