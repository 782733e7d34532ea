"""What a server hands its code: the handler base class and the call.

A handler serves one version of one program.  Its class names them
(``PROGRAM``, ``VERSION``) and lists the procedures (``PROCEDURES``, number
to :class:`~.procedures.Procedure`); each procedure's ``method`` is an
``async def`` taking the :class:`Call` and the decoded arguments, and
returning the result (None for void).  A method may raise one of the
errors of :mod:`.errors` to answer with that error.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

from .auth import Auth, OpaqueAuth
from . import tracing
from .procedures import Procedure

F = TypeVar("F", bound=Callable[..., Any])

_UNIMPLEMENTED = "__oncrpc_unimplemented__"


@dataclass(slots=True)
class Call:
    """One call, as its handler sees it."""

    xid: int
    prog: int
    vers: int
    proc: int
    cred: Auth  # what the caller sent: AUTH_NONE or an AuthSys
    verf: OpaqueAuth
    peer: Any  # the caller's address, as the socket gives it
    transport: str  # "tcp" or "udp"


def unimplemented(method: F) -> F:
    """Mark a handler method as not implemented (generated base classes
    mark all theirs): until a subclass overrides it, the server answers
    PROC_UNAVAIL without calling it -- or, for procedure 0 (NULL), an empty
    success, as every RPC server does."""
    setattr(method, _UNIMPLEMENTED, True)
    return method


def is_unimplemented(method: Callable[..., Any]) -> bool:
    return bool(getattr(method, _UNIMPLEMENTED, False))


class Handler:
    """Base of the handler classes of program versions."""

    PROGRAM: ClassVar[int]
    VERSION: ClassVar[int]
    PROCEDURES: ClassVar[Mapping[int, Procedure[Any]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        tracing.register_class(cls)  # its program's names in trace lines
