"""A call being served, and the table a connection dispatches calls by."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from xdrgen.runtime.dispatch import Procedure

if TYPE_CHECKING:
    from .connection import Client
    from .streams import ServerStream

#: a program's callable procedures: number -> (entry, bound handler method)
CallTable = dict[int, tuple[Procedure, Callable[..., Awaitable[Any]]]]


@dataclass(slots=True, eq=False)
class Call:
    """One call being served: what a handler method gets besides its args."""

    client: Client
    prog: int
    vers: int
    proc: int
    serial: int
    procedure: Procedure
    #: the data stream of a ``@readstream``/``@writestream`` procedure
    stream: ServerStream | None = None
    #: set by a handler to close the connection once the reply is sent
    #: (what libvirtd does after CONNECT_CLOSE)
    close_after_reply: bool = False
    #: the file descriptors the call brought (a CALL_WITH_FDS), in order;
    #: the server closes them once the handler is done, unless it took
    #: them (:meth:`take_fds`)
    fds: list[int] = field(default_factory=list)

    def take_fds(self) -> list[int]:
        """The call's descriptors, from now on the handler's to close."""
        fds, self.fds = self.fds, []
        return fds
