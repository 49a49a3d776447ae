"""The step guard the sans-IO state machines share: a step runs only in its state, and a failed step
leaves the session failed for good."""

from __future__ import annotations

import enum
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Generic, TypeVar

from sgxra.errors import LocalProtocolError, UnexpectedMessage

S = TypeVar("S", bound=enum.Enum)


class StepMachine(Generic[S]):
    """``state`` starts at ``start``; any error in a step moves it to ``failed`` and keeps the error."""

    def __init__(self, start: S, failed: S) -> None:
        self.state = start
        self.error: BaseException | None = None
        self._failed = failed

    def _fail(self, error: BaseException) -> None:
        """Fail for good (a machine holding keys also forgets them here)."""
        self.state, self.error = self._failed, error

    @contextmanager
    def _step(self, allowed: S, what: str, *, remote: bool) -> Iterator[None]:
        """``remote``: ``what`` is a message from the peer (out of turn: UnexpectedMessage), else a local call."""
        if self.state is self._failed:
            raise LocalProtocolError(f"session already failed: {self.error}")
        if self.state is not allowed:
            error = (UnexpectedMessage(f"{what} is not expected in state {self.state.value}") if remote
                     else LocalProtocolError(f"{what} is not allowed in state {self.state.value}"))
            self._fail(error)
            raise error
        try:
            yield
        except BaseException as e:
            self._fail(e)
            raise
