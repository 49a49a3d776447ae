"""TDX TD report bodies: TD 1.0 (584 bytes) and TD 1.5 (648 bytes)."""

from __future__ import annotations

import struct
from dataclasses import dataclass, fields

from sgxra.wire._codec import Reader, check_len

TD10_SIZE = 584
TD15_SIZE = 648
_TD10_FIELDS = (
    ("tee_tcb_svn", 16), ("mr_seam", 48), ("mr_signer_seam", 48), ("seam_attributes", 8), ("td_attributes", 8),
    ("xfam", 8), ("mr_td", 48), ("mr_config_id", 48), ("mr_owner", 48), ("mr_owner_config", 48),
    ("rtmr0", 48), ("rtmr1", 48), ("rtmr2", 48), ("rtmr3", 48), ("report_data", 64),
)
_TD15_EXTRA = (("tee_tcb_svn2", 16), ("mr_servicetd", 48))
_TD10_LAYOUT = struct.Struct("".join(f"{n}s" for _, n in _TD10_FIELDS))
_TD15_LAYOUT = struct.Struct("".join(f"{n}s" for _, n in _TD10_FIELDS + _TD15_EXTRA))


@dataclass(frozen=True)
class TdReport:
    """A TD report body; ``tee_tcb_svn2`` and ``mr_servicetd`` only in TD 1.5 (else None)."""

    tee_tcb_svn: bytes
    mr_seam: bytes
    mr_signer_seam: bytes
    seam_attributes: bytes
    td_attributes: bytes
    xfam: bytes
    mr_td: bytes
    mr_config_id: bytes
    mr_owner: bytes
    mr_owner_config: bytes
    rtmr0: bytes
    rtmr1: bytes
    rtmr2: bytes
    rtmr3: bytes
    report_data: bytes
    tee_tcb_svn2: bytes | None = None
    mr_servicetd: bytes | None = None

    def __post_init__(self) -> None:
        for name, size in _TD10_FIELDS:
            check_len("td_report", name, getattr(self, name), size)
        extras = [getattr(self, name) for name, _ in _TD15_EXTRA]
        if any(e is None for e in extras) and any(e is not None for e in extras):
            check_len("td_report", "tee_tcb_svn2", b"", 16)  # both or neither
        for (name, size), value in zip(_TD15_EXTRA, extras, strict=True):
            if value is not None:
                check_len("td_report", name, value, size)

    @property
    def size(self) -> int:
        return TD10_SIZE if self.tee_tcb_svn2 is None else TD15_SIZE

    @classmethod
    def read(cls, r: Reader, size: int) -> TdReport:
        td15 = size == TD15_SIZE
        if r.remaining < size:  # cut short: taken field by field, so the error names the field cut off
            for name, n in _TD10_FIELDS + (_TD15_EXTRA if td15 else ()):
                r.take(name, n)
        return cls(*(_TD15_LAYOUT if td15 else _TD10_LAYOUT).unpack(r.take("td_report", size)))

    def to_bytes(self) -> bytes:
        return b"".join(v for v in (getattr(self, f.name) for f in fields(self)) if v is not None)
