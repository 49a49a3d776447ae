"""Policy only: takes verified evidence, returns every violation."""

from sgxra.validate.policy import Policy

__all__ = ["Policy"]
