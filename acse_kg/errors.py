"""The one base class of the registry's errors.

Why one: the CLI turns any :class:`AcseError` into a one-line message with
exit status 2, and the server into a problem-details answer, without knowing
every module's exceptions. Modules subclass it (and a builtin that says what
kind of error it is, ``ValueError`` or ``LookupError``), so callers that
catch the builtin keep working.
"""

from __future__ import annotations


class AcseError(Exception):
    """Something the registry refuses or cannot do; the message says what and why, on one line."""
