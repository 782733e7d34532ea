"""Client stubs: per RPC program a class with one method per procedure.

``REMOTE_PROC_DOMAIN_LOOKUP_BY_NAME`` becomes ``domain_lookup_by_name(*,
name: str) -> RemoteDomainLookupByNameRet``: keyword arguments are the fields
of the procedure's ``_args`` struct, the result its ``_ret`` dataclass (or
None).  Procedures annotated ``@readstream``/``@writestream`` return a data
stream; those annotated ``@fds`` (:mod:`..libvirt_programs`) pass file
descriptors: ``in``/``both`` take them as ``files=``, ``out``/``both``
return ``rpc.WithFds`` (the result and the descriptors); event procedures (``_msg``) are listed in ``EVENTS`` for the runtime
to decode.  Each program gets a blocking class and an asyncio class over the
channel protocols of :mod:`xdrgen.runtime.rpc`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ... import __version__
from .. import ir
from ..errors import XdrgenError
from ..libvirt_programs import FD_DIRECTIONS, FDS
from ..naming import class_name, method_name, parameter_name, program_stem
from ..resolve import Protocol
from . import layout
from .python_module import docstring
from .python_shapes import Shape, ShapeBuilder
from .render import render


@dataclass(frozen=True)
class Parameter:
    name: str
    attribute: str
    hint: str
    default: str | None = None  # flags default to 0, optional values to None


@dataclass(frozen=True)
class Method:
    name: str
    number: int
    procedure: str
    doc: str
    args: str | None  # class of the _args struct
    result: str | None  # class of the _ret struct
    parameters: tuple[Parameter, ...]
    stream: str | None  # "read" / "write"
    fds: str | None = None  # "in" / "out" / "both": how file descriptors travel

    @property
    def sends_fds(self) -> bool:
        """The call carries descriptors (client to server)."""
        return self.fds in ("in", "both")

    @property
    def receives_fds(self) -> bool:
        """The reply brings descriptors (server to client)."""
        return self.fds in ("out", "both")


class StubModel:
    """What the client and server templates need about a protocol's programs:
    methods, event tables and the names to import."""

    def __init__(self, protocol: Protocol, package: str | None) -> None:
        self.protocol = protocol
        self.package = package
        self.shapes = ShapeBuilder(protocol)
        self.local: set[str] = set()
        self.programs = [p for p in protocol.programs if p.derived]

    def _use(self, shape: Shape) -> None:
        for name in (shape.cls, shape.enum):
            if name is not None and not any(name in v for v in self.shapes.imported.values()):
                self.local.add(name)
        if shape.elem is not None:
            self._use(shape.elem)

    def _struct(self, spec: ir.TypeSpec | None) -> str | None:
        if spec is None:
            return None
        assert spec.name is not None
        shape = self.shapes.type_shape(spec, class_name(spec.name))
        self._use(shape)
        return shape.hint

    def method(self, procedure: ir.ProcedureDef) -> Method:
        args = None
        parameters = []
        if procedure.arguments:
            spec = procedure.arguments[0]
            args = self._struct(spec)
            assert spec.name is not None
            definition = self.protocol.types[spec.name]
            if isinstance(definition, ir.StructDef):
                attributes = self.protocol.names.fields[self.protocol.names.classes[spec.name][1]]
                for decl, attribute in zip(definition.body.fields, attributes):
                    assert decl.name is not None
                    shape = self.shapes.shape(decl)
                    self._use(shape)
                    parameters.append(
                        Parameter(
                            parameter_name(decl.name),
                            attribute,
                            shape.hint,
                            _default(decl.name, shape),
                        )
                    )
        stream = None
        if procedure.annotation("readstream") is not None:
            stream = "read"
        elif procedure.annotation("writestream") is not None:
            stream = "write"
        return Method(
            name=method_name(procedure.name),
            number=procedure.number.number,
            procedure=self.constant(procedure.name),
            doc=docstring(doc_text(procedure), f"``{procedure.name}`` (procedure {procedure.number.number})."),
            args=args,
            result=self._struct(procedure.result),
            parameters=tuple(parameters),
            stream=stream,
            fds=_fds(procedure, stream),
        )

    def constant(self, name: str) -> str:
        """A program, version or procedure number, by the name the types
        module defines it under (imported from there)."""
        python_name = self.protocol.names.constants[name][1]
        self.local.add(python_name)
        return python_name

    def program(self, program: ir.ProgramDef) -> dict[str, object]:
        version = program.versions[0]
        methods = []
        events = []
        for procedure in version.procedures:
            if procedure.message is not None:
                events.append(
                    (
                        self.constant(procedure.name),
                        method_name(procedure.name),
                        self._struct(procedure.message),
                    )
                )
            else:
                methods.append(self.method(procedure))
        return {
            "name": program.name,
            "stem": program_stem(program.name),
            "number": program.number.number,
            "program": self.constant(program.name),
            "version": version.number.number,
            "version_name": self.constant(version.name),
            "methods": methods,
            "events": events,
        }

    def imports(self) -> list[tuple[str, list[str]]]:
        own = self.protocol.name  # the types module
        out = []
        modules = dict(self.shapes.imported)
        modules.setdefault(own, set()).update(self.local)
        for module in sorted(modules):
            names = sorted(modules[module])
            if names:
                target = f"{self.package}.{module}" if self.package else module
                out.append((target, names))
        return out


def generate_client(protocol: Protocol, package: str | None = None) -> str | None:
    """The ``<name>_client.py`` module, or None when the file defines no
    libvirt-style program."""
    model = StubModel(protocol, package)
    if not model.programs:
        return None
    programs = [model.program(p) for p in model.programs]
    blocks = [
        render("python/client/program.j2", program=program, flavour=flavour)
        for program in programs
        for flavour in ("", "Async")
    ]
    return render_stubs("python/client/header.j2", protocol, model, blocks)


def render_stubs(header: str, protocol: Protocol, model: StubModel, blocks: list[str]) -> str:
    """A stub module (client or server): the header, then ``blocks``."""
    text = render(
        header,
        source=Path(protocol.path).name,
        version=__version__,
        imports=model.imports(),
    )
    return layout.join_module(layout.fit_block(text), (layout.fit_block(b) for b in blocks))


def _default(name: str, shape: Shape) -> str | None:
    """Arguments a caller may leave out, as in libvirt-python: ``flags``
    (0) and optional values (None)."""
    if name == "flags" and shape.kind == "numeric" and shape.enum is None and not shape.is_bool:
        return "0"
    if shape.kind == "optional":
        return "None"
    return None


def _fds(procedure: ir.ProcedureDef, stream: str | None) -> str | None:
    """How a procedure's file descriptors travel (its ``@fds``), checked
    (``stream``: the procedure's data stream, if any)."""
    direction = procedure.annotation(FDS)
    if direction is None:
        return None
    if direction not in FD_DIRECTIONS:
        raise XdrgenError(procedure.location, f"@{FDS}: {direction!r} is not one of {', '.join(FD_DIRECTIONS)}")
    if stream is not None:
        raise XdrgenError(procedure.location, f"@{FDS} cannot be combined with a data stream")
    return direction


def doc_text(procedure: ir.ProcedureDef) -> str:
    """A procedure's doc comment followed by its ``@key: value`` annotations."""
    notes = "\n".join(f"@{a.key}: {a.value}" for a in procedure.annotations)
    return "\n\n".join(part for part in (procedure.doc, notes) if part)
