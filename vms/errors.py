"""Refusals that clients can say in their own language: an English message plus a code and parameters.

The message is for logs, the CLI and API clients reading ``detail``; the dashboard words
``code`` with ``params`` from its locale files (``problem.<slug>.<code>``), so an operator
never reads English inside Vietnamese.
"""

from __future__ import annotations


class CodedError(ValueError):
    """A ValueError with ``code`` (a short kebab-case name of the reason) and ``params``
    (plain values the translated sentence needs: numbers, names, never secrets)."""

    def __init__(self, message: str, code: str, **params: object) -> None:
        super().__init__(message)
        self.code = code
        self.params = params

    def problem_params(self) -> dict[str, object]:
        """What an API problem carries: ``{"reason": code, **params}``."""
        return {"reason": self.code, **self.params}
