"""Which SQLSTATE failures a retry can help with (PostgreSQL and Redshift share the codes).

A SQLSTATE is five characters; its first two are the class (PostgreSQL, Appendix A "PostgreSQL
Error Codes": https://www.postgresql.org/docs/current/errcodes-appendix.html; Redshift reports
PostgreSQL's codes). Classes that describe what is asked for, not the moment it is asked, are
terminal: a retry gets the same answer. Everything else (connection loss, timeouts, lock waits,
lack of resources, a server shutting down) is transient.
"""

from __future__ import annotations

__all__ = [
    "TERMINAL_LOGIN_MESSAGES",
    "TERMINAL_SQLSTATE_CLASSES",
    "is_transient_login_failure",
    "is_transient_sqlstate",
]

#: SQLSTATE class -> what it means; a failure in one of these classes is not retried.
TERMINAL_SQLSTATE_CLASSES: dict[str, str] = {
    "0A": "feature not supported",
    "22": "data exception",
    "28": "invalid authorization specification (wrong user or password)",
    "3D": "invalid catalog name (the database does not exist)",
    "3F": "invalid schema name (the schema does not exist)",
    "42": "syntax error or access rule violation (permission denied, undefined table or column)",
}


def is_transient_sqlstate(code: str | None) -> bool:
    """Return whether a failure with SQLSTATE ``code`` may succeed when retried.

    :param code: the five-character SQLSTATE, or None when the driver gave none (transient:
        a network failure has no SQLSTATE).
    """
    if not code:
        return True
    return str(code)[:2].upper() not in TERMINAL_SQLSTATE_CLASSES


#: What the server says when it refuses a login for good. A failure at connect often reaches the
#: client without a SQLSTATE (libpq reports the server's FATAL message as text), so these are
#: matched on the message: a wrong password, a missing database or role, no CONNECT privilege.
TERMINAL_LOGIN_MESSAGES = (
    "password authentication failed",
    "permission denied",
    "no pg_hba.conf entry",
    "does not exist",
    "is not permitted to log in",
)


def is_transient_login_failure(message: str) -> bool:
    """Return whether a failure to connect (reported without a SQLSTATE) may succeed when retried.

    :param message: the driver's message.
    """
    text = message.lower()
    return not any(m in text for m in TERMINAL_LOGIN_MESSAGES)
