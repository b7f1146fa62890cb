"""One error type for everything a user can get wrong.

The CLI turns a ``QCompileError`` into one message and a non-zero exit code, and
guarantees nothing half-written is left in the output folder. Code raising it names
the node or tensor at fault and says what to do.
"""

from __future__ import annotations


class QCompileError(Exception):
    """A problem with the user's input (model, data, options), not a bug in qcompile."""

    exit_code = 1


class UnsupportedModelError(QCompileError):
    """The model uses operators or features qcompile cannot compile (exit code 2)."""

    exit_code = 2


class VerificationError(QCompileError):
    """Generated code and the reference disagree (exit code 3)."""

    exit_code = 3
