"""What picks one collateral bundle: FMSPC, PCK CA type, TEE type and the TCB evaluation data set."""

from __future__ import annotations

from dataclasses import dataclass

CA_TYPES = ("processor", "platform")
TEE_TYPES = ("SGX", "TDX")
UPDATE_TYPES = ("standard", "early")
MAX_EVALUATION_DATA_NUMBER = 0xFFFFFFFF


@dataclass(frozen=True)
class CollateralKey:
    """One cache entry and one set of PCS requests.

    ``tcb_evaluation_data_number``, when given, names the TCB evaluation data
    set outright and ``update`` is then not sent (PCS v4 ignores it beside a number).
    """

    fmspc: bytes
    ca: str
    tee: str = "SGX"
    update: str = "standard"
    tcb_evaluation_data_number: int | None = None

    def __post_init__(self) -> None:
        if len(self.fmspc) != 6:
            raise ValueError(f"an FMSPC is 6 bytes, not {len(self.fmspc)}")
        if self.ca not in CA_TYPES:
            raise ValueError(f"PCK CA type {self.ca!r} is not one of {CA_TYPES}")
        if self.tee not in TEE_TYPES:
            raise ValueError(f"TEE type {self.tee!r} is not one of {TEE_TYPES}")
        check_evaluation(self.update, self.tcb_evaluation_data_number)

    def evaluation_query(self) -> str:
        """The query parameter choosing the TCB evaluation data set."""
        return evaluation_query(self.update, self.tcb_evaluation_data_number)

    def label(self) -> str:
        """For logs and errors: every part of the key."""
        return f"{self.tee} FMSPC {self.fmspc.hex().upper()} {self.ca} CA {self.evaluation_query()}"


def evaluation_query(update: str, number: int | None) -> str:
    """The query parameter choosing a TCB evaluation data set: the number when given, else the update type."""
    return f"tcbEvaluationDataNumber={number}" if number is not None else f"update={update}"


def check_evaluation(update: str, number: int | None) -> None:
    if update not in UPDATE_TYPES:
        raise ValueError(f"update type {update!r} is not one of {UPDATE_TYPES}")
    if number is not None and (type(number) is not int or not 0 <= number <= MAX_EVALUATION_DATA_NUMBER):
        raise ValueError(f"TCB evaluation data number {number!r} is not a u32")
