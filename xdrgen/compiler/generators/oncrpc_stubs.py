"""What the ONC RPC stub templates need about a file's ``program`` blocks.

Every version of every RFC 5531 ``program`` block written in the file
(libvirt's programs, derived from its naming convention, have stubs of
their own) becomes a :class:`VersionStub`: the stem of its classes
(``MOUNT_V3`` -> ``MountV3``) and, per procedure, the method
(``MOUNTPROC3_MNT`` -> ``mountproc3_mnt``), the arguments (named after
their types), their type hints, and the codecs of
:mod:`xdrgen.runtime.oncrpc` that encode them: a base type's codec object
(``oncrpc.UINT``, ``oncrpc.String()``), a typedef's codec object from the
types module (``DirpathCodec``), or the class of a struct, union or enum.
Numbers are spelled as the constants the types module defines.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ... import __version__
from .. import ir
from ..errors import XdrgenError
from ..naming import argument_names, module_name, procedure_method, typedef_codec, version_stem
from ..resolve import Protocol
from . import layout
from .python_client import StubModel
from .python_module import docstring
from .render import render

# The runtime's codec of each base type a procedure may take or return.
_BASE_CODECS = {
    ir.Builtin.INT: "oncrpc.INT",
    ir.Builtin.CHAR: "oncrpc.INT",
    ir.Builtin.SHORT: "oncrpc.INT",
    ir.Builtin.LONG: "oncrpc.INT",
    ir.Builtin.UNSIGNED_INT: "oncrpc.UINT",
    ir.Builtin.UNSIGNED_CHAR: "oncrpc.UINT",
    ir.Builtin.UNSIGNED_SHORT: "oncrpc.UINT",
    ir.Builtin.UNSIGNED_LONG: "oncrpc.UINT",
    ir.Builtin.HYPER: "oncrpc.HYPER",
    ir.Builtin.UNSIGNED_HYPER: "oncrpc.UHYPER",
    ir.Builtin.FLOAT: "oncrpc.FLOAT",
    ir.Builtin.DOUBLE: "oncrpc.DOUBLE",
    ir.Builtin.BOOL: "oncrpc.BOOL",
    ir.Builtin.STRING: "oncrpc.String()",  # rpcgen's xdr_wrapstring: no bound
    ir.Builtin.QUADRUPLE: 'oncrpc.FixedOpaque(16, "quadruple")',  # its 16 bytes, as in types
}

#: What the client module re-exports from the runtime: the credential and
#: every error a call can raise.
CLIENT_EXPORTS = (
    "AuthError",
    "AuthStat",
    "AuthSys",
    "ConnectionClosed",
    "GarbageArguments",
    "ProcedureUnavailable",
    "ProgramMismatch",
    "ProgramNotRegistered",
    "ProgramUnavailable",
    "RpcError",
    "RpcMismatch",
    "RpcSystemError",
    "RpcTimeout",
)
#: ... and the server module: what a handler sees and raises, and the servers.
SERVER_EXPORTS = tuple(sorted((*CLIENT_EXPORTS, "Call", "Server", "ServerThread")))


@dataclass(frozen=True)
class Argument:
    name: str
    hint: str
    codec: str


@dataclass(frozen=True)
class ProcedureStub:
    name: str  # as the .x file spells it
    number: str  # its constant (or the number, if the constant says otherwise)
    method: str
    arguments: tuple[Argument, ...]
    result_hint: str  # "None" for void
    result_codec: str | None
    doc: str
    number_value: int

    @property
    def is_null(self) -> bool:
        """Procedure 0 taking and returning nothing: the ping every server
        answers (the runtime does, while the handler leaves it alone)."""
        return self.number_value == 0 and not self.arguments and self.result_codec is None

    @property
    def codecs(self) -> str:
        """The argument codecs as a tuple expression."""
        codecs = [a.codec for a in self.arguments]
        return f"({codecs[0]},)" if len(codecs) == 1 else f"({', '.join(codecs)})"


@dataclass(frozen=True)
class VersionStub:
    stem: str
    program_name: str
    program: str  # the program number's constant
    program_number: int
    version_name: str
    version: str  # the version number's constant
    version_number: int
    doc: str
    procedures: tuple[ProcedureStub, ...]

    @property
    def example(self) -> ProcedureStub:
        """A procedure to show in the server module's docstring."""
        return next((p for p in self.procedures if p.arguments), self.procedures[0])

    @property
    def title(self) -> str:
        """``program ``P`` (0x...) version ``V`` (n)`` for docstrings."""
        return (
            f"program ``{self.program_name}`` ({self.program_number:#010x})\n"
            f"version ``{self.version_name}`` ({self.version_number})"
        )


class OncRpcModel(StubModel):
    """The versions of the file's ``program`` blocks, and the names the stub
    modules import from the types modules."""

    def __init__(self, protocol: Protocol, package: str | None) -> None:
        super().__init__(protocol, package)
        self.programs = [p for p in protocol.programs if not p.derived]
        self._stems: dict[str, ir.Location] = {}
        self._codecs: dict[str, set[str]] = {}  # module -> typedef codecs used
        self.versions = [self._version(p, v) for p in self.programs for v in p.versions]

    # ---- numbers and types
    def _number(self, value: ir.Value, name: str) -> str:
        """The constant ``name`` if the types module holds this number under
        it (a procedure that two versions number differently holds the first
        version's), else the number."""
        if self.protocol.constants.get(name) == value.number:
            return self.constant(name)
        return str(value.number)

    def _typedef_codec(self, name: str) -> str:
        codec = typedef_codec(name)
        owner = self.protocol.owner.get(name, self.protocol.path)
        self._codecs.setdefault(module_name(owner), set()).add(codec)
        return codec

    def _argument(self, spec: ir.TypeSpec, context: str) -> tuple[str, str]:
        """(hint, codec) of an argument or result type."""
        if spec.builtin is not None:
            codec = _BASE_CODECS.get(spec.builtin)
            if codec is None:
                raise XdrgenError(spec.location, f"'{spec.builtin.value}' cannot be a procedure's argument or result")
            if spec.builtin is ir.Builtin.STRING:
                return "str", codec
            return self.shapes.type_shape(spec, context).hint, codec
        if spec.name is None:
            raise XdrgenError(spec.location, "a procedure's argument or result must be a named type")
        shape = self.shapes.type_shape(spec, context)
        self._use(shape)
        if isinstance(self.protocol.types[spec.name], ir.TypedefDef):
            return shape.hint, self._typedef_codec(spec.name)
        codec = shape.cls or shape.enum  # a struct, union or enum class is its own codec
        assert codec is not None
        return shape.hint, codec

    # ---- programs
    def _procedure(self, procedure: ir.ProcedureDef) -> ProcedureStub:
        method = procedure_method(procedure.name)
        names = argument_names([spec.name for spec in procedure.arguments])
        arguments = []
        for name, spec in zip(names, procedure.arguments):
            hint, codec = self._argument(spec, method)
            arguments.append(Argument(name, hint, codec))
        result_hint, result_codec = "None", None
        if procedure.result is not None:
            result_hint, result_codec = self._argument(procedure.result, method)
        number = procedure.number.number
        return ProcedureStub(
            name=procedure.name,
            number=self._number(procedure.number, procedure.name),
            method=method,
            arguments=tuple(arguments),
            result_hint=result_hint,
            result_codec=result_codec,
            doc=docstring(procedure.doc, f"``{procedure.name}`` (procedure {number})."),
            number_value=number,
        )

    def _version(self, program: ir.ProgramDef, version: ir.VersionDef) -> VersionStub:
        stem = version_stem(version.name)
        previous = self._stems.setdefault(stem, version.location)
        if previous is not version.location:
            raise XdrgenError(version.location, f"the classes of version '{version.name}' would be named '{stem}...' twice", previous)
        procedures = tuple(self._procedure(p) for p in version.procedures)
        methods: dict[str, ir.Location] = {}
        for stub, procedure in zip(procedures, version.procedures):
            first = methods.setdefault(stub.method, procedure.location)
            if first is not procedure.location:
                raise XdrgenError(procedure.location, f"two procedures of '{version.name}' would be the method '{stub.method}'", first)
        notes = "\n\n".join(text for text in (program.doc, version.doc) if text)
        return VersionStub(
            stem=stem,
            program_name=program.name,
            program=self._number(program.number, program.name),
            program_number=program.number.number,
            version_name=version.name,
            version=self._number(version.number, version.name),
            version_number=version.number.number,
            doc=notes,
            procedures=procedures,
        )

    # ---- modules
    def stub_imports(self, codecs: bool) -> list[tuple[str, list[str]]]:
        """(module, names) to import from the types modules: constants and
        the classes of type hints, and with ``codecs`` the typedefs' codecs
        (the client module's procedure tables use them)."""
        if not codecs:
            return self.imports()
        wanted = {module: set(names) for module, names in self.imports()}
        for module, names in self._codecs.items():
            wanted.setdefault(self.module_path(module), set()).update(names)
        return [(module, sorted(names)) for module, names in sorted(wanted.items())]

    def module_path(self, module: str) -> str:
        return f"{self.package}.{module}" if self.package else module

    def render_module(
        self, header: str, blocks: list[str], classes: list[str], exports: tuple[str, ...], codecs: bool
    ) -> str:
        """A stub module: its header (imports, the re-exports of ``exports``
        that no imported name hides, ``__all__``), then ``blocks``, which
        define ``classes``."""
        imports = self.stub_imports(codecs)
        imported = {name for _, names in imports for name in names}
        for name in classes:
            if name in imported:
                raise XdrgenError(self.programs[0].location, f"the stub class '{name}' would hide the type of that name")
        reexports = [name for name in exports if name not in imported]
        text = render(
            header,
            source=Path(self.protocol.path).name,
            version=__version__,
            imports=imports,
            reexports=reexports,
            exported=sorted([*classes, *reexports]),
            versions=self.versions,
            own_client=self.module_path(module_name(self.protocol.path) + "_client"),
            tables=", ".join(f"{v.stem}Procedures" for v in self.versions),
        )
        return layout.join_module(layout.fit_block(text), (layout.fit_block(b) for b in blocks))
