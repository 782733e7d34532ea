"""Server dispatch tables and handler base classes, one per RPC program version.

For every libvirt-style program of a ``.x`` file the generated
``<name>_server.py`` holds a class such as ``RemoteHandler``:

- ``PROCEDURES``: procedure number -> :class:`xdrgen.runtime.dispatch.Procedure`
  (name, handler method, argument and result classes, ``kind`` "call" or
  "event", stream direction, priority and every ``@key: value`` annotation);
- one ``async`` method per callable procedure, typed with its ``_args`` and
  ``_ret`` classes (``server.WithFds[...]`` when the reply carries file
  descriptors), whose default answers like libvirtd does for a procedure
  it has no dispatcher for (``VIR_ERR_RPC`` "unknown procedure: N");
- one ``send_<event>()`` method per event procedure, which sends the typed
  message to a client as an RPC ``MESSAGE``.

The server (:mod:`libvirt_rpc.server`, which re-exports the table types)
reads the table to decode calls, call the handler and encode the reply.
The per-procedure facts come from the same :class:`StubModel` as the client
stubs, so both sides agree on names and types.
"""

from __future__ import annotations

from dataclasses import dataclass

from .. import ir
from ..resolve import Protocol
from ..naming import method_name, program_stem
from .python_client import Method, StubModel, doc_text, render_stubs
from .python_module import docstring
from .render import render


@dataclass(frozen=True)
class Handler:
    """One procedure as the server template sees it."""

    method: Method
    kind: str  # "call" or "event"
    priority: str  # libvirt's @priority, "low" when absent (as gendispatch.pl)
    annotations: tuple[tuple[str, str], ...]

    @property
    def doc(self) -> str:
        """The handler method's docstring: the procedure's, then what its
        stream or file descriptors ask of the handler."""
        m = self.method
        notes = [m.doc]
        if m.stream:
            notes.append(f"A ``@{m.stream}stream`` procedure: ``call.stream`` carries its data\nafter the reply.")
        if m.sends_fds:
            notes.append(
                "The call brings file descriptors: ``call.fds`` (closed once the\n"
                "handler is done, unless it takes them with ``call.take_fds()``)."
            )
        if m.receives_fds:
            notes.append(
                "The reply carries file descriptors: return\n"
                "``server.WithFds(result, fds)`` (the server closes them once sent)."
            )
        return "\n\n\n".join(notes)


@dataclass(frozen=True)
class ServerProgram:
    name: str
    stem: str
    number: int
    version: int
    version_name: str
    handlers: tuple[Handler, ...]

    @property
    def calls(self) -> tuple[Handler, ...]:
        return tuple(h for h in self.handlers if h.kind == "call")

    @property
    def events(self) -> tuple[Handler, ...]:
        return tuple(h for h in self.handlers if h.kind == "event")


class ServerModel(StubModel):
    """:class:`StubModel` plus what only the server needs: every version,
    event payloads as handler entries, priorities and raw annotations."""

    def handler(self, procedure: ir.ProcedureDef) -> Handler:
        annotations = tuple((a.key, a.value) for a in procedure.annotations)
        priority = procedure.annotation("priority") or "low"
        if procedure.message is not None:
            number = procedure.number.number
            method = Method(
                name=method_name(procedure.name),
                number=number,
                procedure=self.constant(procedure.name),
                doc=docstring(
                    doc_text(procedure),
                    f"Send event ``{procedure.name}`` (procedure {number}) to ``client``.",
                ),
                args=self._struct(procedure.message),
                result=None,
                parameters=(),
                stream=None,
            )
            return Handler(method, "event", priority, annotations)
        return Handler(self.method(procedure), "call", priority, annotations)

    def server_programs(self) -> list[ServerProgram]:
        out = []
        for program in self.programs:
            stem = program_stem(program.name)
            for index, version in enumerate(program.versions):
                # A second version of a program gets its number in the class name.
                suffix = "" if index == 0 else f"V{version.number.number}"
                out.append(
                    ServerProgram(
                        name=self.constant(program.name),
                        stem=stem + suffix,
                        number=program.number.number,
                        version=version.number.number,
                        version_name=self.constant(version.name),
                        handlers=tuple(self.handler(p) for p in version.procedures),
                    )
                )
        return out


def generate_server(protocol: Protocol, package: str | None = None) -> str | None:
    """The ``<name>_server.py`` module for a protocol with programs, or None."""
    model = ServerModel(protocol, package)
    if not model.programs:
        return None
    blocks = [render("python/server/program.j2", program=p) for p in model.server_programs()]
    return render_stubs("python/server/header.j2", protocol, model, blocks)
