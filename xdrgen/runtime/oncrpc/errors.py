"""The errors of ONC RPC calls, one class per way a call can fail.

A client raises them for the server's error replies and for what goes
wrong on the way (timeouts, a connection that ends); a server handler may
raise them too, and the server answers with the matching reply.  Bytes
that do not decode raise :class:`xdrgen.runtime.xdr.XdrError` instead.
"""

from __future__ import annotations

from .auth import AuthStat


class RpcError(Exception):
    """Base of every error of an ONC RPC call."""


class ProgramUnavailable(RpcError):
    """PROG_UNAVAIL: the server does not serve this program."""


class ProgramNotRegistered(ProgramUnavailable):
    """rpcbind knows no port for this program and version (and transport)."""


class ProgramMismatch(RpcError):
    """PROG_MISMATCH: the server serves the program, in versions ``low`` to
    ``high`` only."""

    def __init__(self, low: int, high: int, message: str = "") -> None:
        self.low = low
        self.high = high
        super().__init__(message or f"program version unavailable (the server has versions {low} to {high})")


class ProcedureUnavailable(RpcError):
    """PROC_UNAVAIL: the program has no such procedure (or does not
    implement it)."""


class GarbageArguments(RpcError):
    """GARBAGE_ARGS: the server could not decode the arguments."""


class RpcSystemError(RpcError):
    """SYSTEM_ERR: the server failed while running the procedure."""


class AuthError(RpcError):
    """MSG_DENIED with AUTH_ERROR: the server refused the credentials
    (``stat`` says why)."""

    def __init__(self, stat: AuthStat | int, message: str = "") -> None:
        self.stat = _auth_stat(stat)
        super().__init__(message or f"authentication error: {self.stat.name if isinstance(self.stat, AuthStat) else self.stat}")


class RpcMismatch(RpcError):
    """MSG_DENIED with RPC_MISMATCH: the server speaks RPC versions ``low``
    to ``high``, not 2."""

    def __init__(self, low: int, high: int, message: str = "") -> None:
        self.low = low
        self.high = high
        super().__init__(message or f"RPC version mismatch (the server has versions {low} to {high})")


class RpcTimeout(RpcError, TimeoutError):
    """No reply came within the call's timeout."""


class ConnectionClosed(RpcError, ConnectionError):
    """The connection ended (or could not be used) before the reply came."""


def copy_error(error: ConnectionClosed) -> ConnectionClosed:
    """A fresh copy of an error several calls share, so that each raise
    gets its own traceback."""
    copy = ConnectionClosed(*error.args)
    copy.__cause__ = error.__cause__
    return copy


def connection_error(exc: BaseException) -> ConnectionClosed:
    """What a connection's failure (``exc``) means to the calls on it."""
    if isinstance(exc, ConnectionClosed):
        return exc
    error = ConnectionClosed(f"the connection failed: {exc}")
    error.__cause__ = exc
    return error


def connection_refused(exc: OSError) -> ConnectionClosed:
    """An ICMP "port unreachable" that came back for a datagram."""
    error = ConnectionClosed(f"connection refused (nothing listens at the server's port): {exc}")
    error.__cause__ = exc
    return error


def _auth_stat(value: AuthStat | int) -> AuthStat | int:
    try:
        return AuthStat(value)
    except ValueError:
        return value  # a status newer than this module: keep the number
