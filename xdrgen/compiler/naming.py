"""Every rule that turns an XDR name into a Python name, in one place.

- types: CapWords classes (``remote_domain_get_info_ret`` ->
  ``RemoteDomainGetInfoRet``); constants and enum members keep their names;
- fields keep their XDR names, with a trailing ``_`` for Python keywords,
  the generated methods' names and names the class's hints use, and one
  leading ``_`` for two (which Python would mangle); decoders' locals avoid
  the methods' own, the module's names and the builtins they call;
- modules are named after their ``.x`` file, made a valid lower-case name;
- procedures become lower-case methods (``REMOTE_PROC_DOMAIN_GET_INFO`` ->
  ``domain_get_info``), programs the CapWords stem of their classes
  (``REMOTE_PROGRAM`` -> ``Remote``);
- typedef codec functions use the snake_case name (``pack_remote_string``),
  the typedef's codec object its class name (``RemoteStringCodec``);
- list decoders are private, named after their element class
  (``_unpack_RemoteNonnullDomain_list``); so are the base classes that
  structs with the same fields share, named after the fields
  (``_DomFlags``);
- xdrpp names that a file defines in several namespaces get their
  namespaces as a prefix (``testns::RED`` -> ``testns_RED``).

:class:`ModuleNames` applies these rules to a whole module at once, so that
every name it binds is a valid Python name and none is bound twice: names
the module's code needs (``struct``, ``xdr``, the typing names, the builtins
it calls) and the names it may import come first; constants and enum members
keep their XDR names and types their CapWords names (a clash, which only
unusual spellings make, gets a ``_`` or a number); the names derived from
them — union arm classes, inline types' classes, enum member tables — take
what is left: one that is taken gets its kind as a suffix (``Arm``,
``Type``) and, if need be, a number.
"""

from __future__ import annotations

import keyword
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from . import ir

if TYPE_CHECKING:
    from .resolve import Protocol

# Names generated methods use for their own locals and arguments (a linked
# list decodes with `heads`, `more` and `node`; a union keeps its
# discriminant in `_disc`).
RESERVED_LOCALS = frozenset(
    {"data", "offset", "cls", "self", "out", "xdr", "struct", "size", "heads", "more", "node", "_disc", "_decode"}
)
# Names of the methods every generated class has.
RESERVED_ATTRIBUTES = frozenset(
    {"encode", "decode", "pack_into", "unpack_from", "unpack_arm"}
)


def class_name(name: str) -> str:
    """CapWords from a C name: ``remote_domain_get_info_ret`` ->
    ``RemoteDomainGetInfoRet``, ``virNetMessageHeader`` -> ``VirNetMessageHeader``."""
    parts = [p for p in name.split("_") if p]
    text = "".join(p[0].upper() + p[1:] for p in parts)
    return text or "Unnamed"


def field_name(name: str) -> str:
    """A field keeps its XDR name; Python keywords and the generated methods'
    names get a trailing underscore, and a name with two leading underscores
    keeps one (in a class, Python would mangle ``__x`` into ``_Class__x``)."""
    if name.startswith("__") and not name.endswith("__"):
        name = "_" + name.lstrip("_")
    if keyword.iskeyword(name) or name in RESERVED_ATTRIBUTES:
        return name + "_"
    return name


def local_name(name: str, module_names: Iterable[str] = ()) -> str:
    """The local variable that holds a field while decoding: not one of the
    methods' own, nor a name of the module or a builtin that its code uses
    (a local ``bytes`` would hide the builtin from the whole method)."""
    name = field_name(name)
    taken = set(module_names)
    while name in RESERVED_LOCALS or name in FRAME_NAMES or name in taken:
        name += "_"
    return name


def module_name(path: str) -> str:
    """The module a ``.x`` file becomes: its file name without ``.x``, in
    lower case, with every character that cannot be in a Python name made
    ``_`` (``Stellar-types.x`` -> ``stellar_types``, ``cli1-xdr.x`` ->
    ``cli1_xdr``); a leading digit or a keyword gets a ``_`` more."""
    name = re.sub(r"\W", "_", Path(path).stem.lower(), flags=re.ASCII) or "_"
    if name[0].isdigit():
        name = "_" + name
    return name + "_" if keyword.iskeyword(name) else name


def namespaced_name(scope: tuple[str, ...], name: str) -> str:
    """An xdrpp name that the file defines in more than one namespace, made
    one name of the file's one module: ``("testns",), "RED"`` -> ``testns_RED``."""
    return "_".join((*scope, name))


def snake_case(name: str) -> str:
    name = re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name)
    return name.lower()


def method_name(procedure: str) -> str:
    """``REMOTE_PROC_DOMAIN_GET_INFO`` -> ``domain_get_info``;
    ``NFSPROC_GETATTR`` -> ``getattr``."""
    for marker in ("_PROC_", "PROC_"):
        if marker in procedure:
            return procedure.split(marker, 1)[1].lower()
    return procedure.lower()


def parameter_name(name: str) -> str:
    name = field_name(name)
    return "self_" if name == "self" else name


def program_stem(program_name: str) -> str:
    """The CapWords stem of a program's classes (``REMOTE_PROGRAM`` -> ``Remote``)."""
    return class_name(program_name.removesuffix("_PROGRAM").lower())


def typedef_function(role: str, typedef: str) -> str:
    """``pack_remote_string`` / ``unpack_remote_string`` for ``remote_string``."""
    return f"{role}_{snake_case(typedef)}"


def typedef_codec(typedef: str) -> str:
    """The typedef's codec object: ``RemoteStringCodec``."""
    return class_name(typedef) + "Codec"


def list_decoder_name(element_class: str) -> str:
    """The module's private decoder of a list of ``element_class`` values."""
    return f"_unpack_{element_class}_list"


def shared_struct_name(fields: list[str]) -> str:
    """The private base class of structs whose fields are ``fields``:
    ``["dom", "flags"]`` -> ``_DomFlags``."""
    return "_" + "".join(class_name(name) for name in fields)


# ---- ONC RPC stubs of ``program`` blocks ---------------------------------------

# Attributes of the runtime's client and handler bases that a procedure's
# method must not replace (``connect`` -> ``connect_``).
RESERVED_STUB_METHODS = frozenset({"connect", "close", "channel"})
# Names an argument must not take: the method's own (``self``, the handler's
# ``call``), the runtime module the bodies use, and the builtins that type
# hints spell.
RESERVED_ARGUMENTS = frozenset(
    {"self", "call", "oncrpc", "int", "str", "bytes", "bool", "float", "list", "object", "type"}
)


def version_stem(version: str) -> str:
    """The stem of a program version's classes: ``MOUNT_V3`` -> ``MountV3``
    (``MountV3Client``, ``MountV3AsyncClient``, ``MountV3Handler``)."""
    return class_name(version.lower())


def procedure_method(procedure: str) -> str:
    """A procedure's method, its name in lower case: ``MOUNTPROC3_MNT`` ->
    ``mountproc3_mnt``; keywords and the bases' own methods get a ``_``."""
    name = procedure.lower()
    if keyword.iskeyword(name) or name in RESERVED_STUB_METHODS:
        return name + "_"
    return name


def argument_names(types: list[str | None]) -> list[str]:
    """Names for a procedure's arguments, which a .x file does not name:
    each after its type in snake case (``dirpath``, ``READ3args`` ->
    ``read3args``), ``arg`` for a base type (None); a name that repeats is
    numbered (``arg1``, ``arg2``)."""
    names = []
    for type_name in types:
        name = "arg" if type_name is None else snake_case(type_name)
        if keyword.iskeyword(name) or name in RESERVED_ARGUMENTS:
            name += "_"
        names.append(name)
    counts = {name: names.count(name) for name in names}
    seen: dict[str, int] = {}
    out = []
    for name in names:
        if counts[name] > 1:
            seen[name] = seen.get(name, 0) + 1
            name = f"{name}{seen[name]}"
        out.append(name)
    return out


def arm_stem(decl: ir.Declaration, labels: tuple[ir.Value, ...] | None) -> str:
    """What a union arm's class adds to the union's name: the arm's field
    (``Value``), else its first case label (``CaseOk``), else ``Default``."""
    if labels is None:
        return "Default"
    if decl.kind is not ir.DeclKind.VOID and decl.name:
        return class_name(decl.name)
    if labels[0].name is not None:
        return class_name(labels[0].name.lower())
    value = labels[0].number
    return f"Case{value}" if value >= 0 else f"CaseMinus{-value}"


def members_table(enum_class: str) -> str:
    """The module's private value -> member table of an enum class."""
    return f"_{enum_class}_MEMBERS"


# ---- one module's names ---------------------------------------------------------

#: Names every generated types module binds or uses besides its own: the
#: modules and typing names it imports and the builtins its code calls or
#: its type aliases use.  A name of the .x file never takes one of them.
FRAME_NAMES = frozenset(
    {
        "annotations", "struct", "xdr",
        "Any", "ClassVar", "Final", "Literal", "Self", "TypeAlias",
        "bool", "bytes", "dict", "float", "int", "isinstance", "len", "list",
        "object", "range", "reversed", "str", "tuple", "type",
    }
)  # fmt: skip

#: Names that generated classes use in their annotations (``data:
#: xdr.Buffer``, ``-> tuple[Self, int]``, ``value: bytes``): a class
#: attribute of that name would hide it from the type checker.
HINT_NAMES = frozenset(
    {"xdr", "Any", "ClassVar", "Final", "Literal", "Self", "TypeAlias",
     "bool", "bytes", "float", "int", "list", "object", "str", "tuple"}
)  # fmt: skip

Arm = tuple[ir.Declaration, "tuple[ir.Value, ...] | None"]


def union_arms(body: ir.UnionBody) -> list[Arm]:
    """A union's arms in order, the default (labels None) last."""
    arms: list[Arm] = [(arm.declaration, arm.labels) for arm in body.arms]
    if body.default is not None:
        arms.append((body.default, None))
    return arms


class Namespace:
    """The names bound in one module: :meth:`claim` gives a wanted name, or
    the first free variant of it (``kind`` appended, then numbers)."""

    def __init__(self, taken: Iterable[str] = ()) -> None:
        self.taken = set(taken)

    def __contains__(self, name: str) -> bool:
        return name in self.taken

    def claim(self, wanted: str, kind: str = "") -> str:
        if keyword.iskeyword(wanted):
            wanted += "_"
        for candidate in _variants(wanted, kind):
            if candidate not in self.taken and not keyword.iskeyword(candidate):
                self.taken.add(candidate)
                return candidate
        raise AssertionError("unreachable")  # pragma: no cover

    def copy(self) -> Namespace:
        return Namespace(self.taken)


def _variants(wanted: str, kind: str) -> Iterator[str]:
    """``wanted``, ``wanted + kind``, then numbered: ``SCErrorCodeArm2``."""
    yield wanted
    stem = wanted + kind
    if kind:
        yield stem
    number = 2
    while True:
        yield f"{stem}{number}"
        number += 1


class ModuleNames:
    """Every Python name of the module a resolved protocol becomes, given
    once: classes of its types (named and inline), union arm classes, enum
    member tables, typedef functions and codecs, constants; and, for the
    names it uses from the modules it imports, which module and name."""

    def __init__(self, protocol: Protocol) -> None:
        self.module = module_name(protocol.path)
        self.namespace = Namespace(FRAME_NAMES)
        #: XDR type -> (module, class), own and imported
        self.classes: dict[str, tuple[str, str]] = {}
        #: typedef -> (module, (pack function, unpack function, codec))
        self.functions: dict[str, tuple[str, tuple[str, str, str]]] = {}
        #: XDR constant -> (module, Python name), own and imported
        self.constants: dict[str, tuple[str, str]] = {}
        #: where an inline body starts -> (module, class)
        self.inline: dict[ir.Location, tuple[str, str]] = {}
        #: enum class -> (module, value -> member table)
        self.members: dict[str, tuple[str, str]] = {}
        #: union class -> its arm classes, default last (those of imported
        #: modules too, though this module never imports them)
        self.arms: dict[str, tuple[str, ...]] = {}
        #: struct class -> its attributes; arm class -> the discriminant's
        #: and the arm value's (if any) (imported modules' too)
        self.fields: dict[str, tuple[str, ...]] = {}
        self._bodies: list[tuple[str, ir.StructBody | ir.UnionBody]] = []
        self._imported(protocol)
        own = [d for d in protocol.spec.definitions if _is_own_type(protocol, d)]
        for name in _own_constants(protocol):
            self.constants[name] = (self.module, self.namespace.claim(field_name(name), "_"))
        for definition in own:
            self.classes[definition.name] = (self.module, self.namespace.claim(class_name(definition.name)))
        for definition in own:
            if isinstance(definition, ir.TypedefDef):
                functions = (
                    self.namespace.claim(typedef_function("pack", definition.name)),
                    self.namespace.claim(typedef_function("unpack", definition.name)),
                    self.namespace.claim(typedef_codec(definition.name)),
                )
                self.functions[definition.name] = (self.module, functions)
        for definition in own:
            cls = self.classes[definition.name][1]
            if isinstance(definition, ir.TypedefDef):
                self._declaration(definition.declaration, cls)
            elif isinstance(definition, (ir.EnumDef, ir.StructDef, ir.UnionDef)):
                self._body(cls, definition.body)
        # attributes last: they avoid the names of every class
        types = {cls for _, cls in (*self.classes.values(), *self.inline.values())}
        types.update(arm for arms in self.arms.values() for arm in arms)
        for cls, body in self._bodies:
            if isinstance(body, ir.StructBody):
                self.fields[cls] = _attributes([d.name or "" for d in body.fields], types)
            else:
                for (decl, _), arm in zip(union_arms(body), self.arms[cls]):
                    names = [body.discriminant.name or ""] + ([decl.name or ""] if decl.name else [])
                    self.fields[arm] = _attributes(names, types)

    def _imported(self, protocol: Protocol) -> None:
        """The names of the modules this one imports: they may be imported
        under these names, so the module's own take others."""
        modules: dict[str, ModuleNames] = {}
        for imported in _imports(protocol):
            names = imported.names
            modules.setdefault(names.module, names)
            for table in ("classes", "functions", "inline", "members"):
                for key, value in getattr(names, table).items():
                    if value[0] == names.module:
                        getattr(self, table).setdefault(key, value)
            for union, arms in names.arms.items():
                self.arms.setdefault(union, arms)
            for cls, fields in names.fields.items():
                self.fields.setdefault(cls, fields)
        for name, module in imported_constant_modules(protocol).items():
            self.constants[name] = modules[module].constants[name]
        for _, name in (*self.classes.values(), *self.members.values(), *self.constants.values()):
            self.namespace.taken.add(name)
        for _, functions in self.functions.values():
            self.namespace.taken.update(functions)

    # ---- derived names
    def _declaration(self, decl: ir.Declaration, context: str) -> None:
        body = decl.type.inline
        if body is None or decl.type.location in self.inline:
            return
        cls = self.namespace.claim(context, "Type")
        self.inline[decl.type.location] = (self.module, cls)
        self._body(cls, body)

    def _body(self, cls: str, body: ir.EnumBody | ir.StructBody | ir.UnionBody) -> None:
        if isinstance(body, ir.EnumBody):
            self.members[cls] = (self.module, self.namespace.claim(members_table(cls)))
            return
        self._bodies.append((cls, body))
        if isinstance(body, ir.StructBody):
            for decl in body.fields:
                self._declaration(decl, cls + class_name(decl.name or ""))
        else:
            discriminant = body.discriminant
            self._declaration(discriminant, cls + class_name(discriminant.name or ""))
            arms = []
            within: set[str] = set()  # arm names of this union, before clashes
            for decl, labels in union_arms(body):
                stem = arm_stem(decl, labels)
                wanted, number = cls + stem, 2
                while wanted in within:
                    wanted, number = f"{cls}{stem}{number}", number + 1
                within.add(wanted)
                arm = self.namespace.claim(wanted, "Arm")
                arms.append(arm)
                self._declaration(decl, arm + "Value")
            self.arms[cls] = tuple(arms)

    # ---- lookups
    def local(self, name: str) -> str:
        """The decoder local of the field ``name``."""
        return local_name(name, self.namespace.taken)

    def own(self, entry: tuple[str, str]) -> bool:
        return entry[0] == self.module


def _attributes(names: list[str], types: set[str]) -> tuple[str, ...]:
    """The attributes of one class, for its fields' XDR names: the field
    name, with a ``_`` more for a name that the class's annotations use
    (a builtin, a class) or that an earlier field took."""
    out: list[str] = []
    for name in names:
        attribute = field_name(name)
        while attribute in HINT_NAMES or attribute in types or attribute in out:
            attribute += "_"
        out.append(attribute)
    return tuple(out)


def _is_own_type(protocol: Protocol, definition: ir.Definition) -> bool:
    return (
        isinstance(definition, (ir.EnumDef, ir.StructDef, ir.UnionDef, ir.TypedefDef))
        and protocol.types.get(definition.name) is definition
        and protocol.owner.get(definition.name) == protocol.path
    )


def _imports(protocol: Protocol) -> list[Protocol]:
    """The protocols a protocol imports, directly or not, nearest first."""
    out: list[Protocol] = []
    pending = list(protocol.imports)
    while pending:
        imported = pending.pop(0)
        if all(imported is not seen for seen in out):
            out.append(imported)
            pending.extend(imported.imports)
    return out


def module_constants(protocol: Protocol) -> set[str]:
    """The constants a protocol's own module defines: ``const``s, program,
    version and procedure numbers, enum members, ``#define``s, the ``-D``
    values and ONC RPC's own constants (``TRUE``, ``AUTH_SYS``) it uses
    (those it imports are another module's)."""
    imported: set[str] = set()
    for item in protocol.imports:
        imported.update(item.constants)
    return (set(protocol.constants) - imported) | set(protocol.externals)


def imported_constant_modules(protocol: Protocol) -> dict[str, str]:
    """Constant name -> the module that defines it, for the constants of the
    files this one imports (and the files those import)."""
    own = module_constants(protocol)
    out: dict[str, str] = {}
    for imported in _imports(protocol):
        for name in module_constants(imported) - own:
            out.setdefault(name, module_name(imported.path))
    return out


def _own_constants(protocol: Protocol) -> list[str]:
    """The module's constants (string constants too): those the .x file
    defines at the top level in its order, then the others (members of
    inline enums, ``#define``s, ``-D`` values, ONC RPC's) sorted."""
    own = module_constants(protocol) | {
        d.name for d in protocol.spec.definitions if isinstance(d, ir.ConstDef)
    }
    ordered: dict[str, None] = {}
    for definition in protocol.spec.definitions:
        if isinstance(definition, ir.ConstDef):
            names = [definition.name]
        elif isinstance(definition, ir.EnumDef):
            names = [member.name for member in definition.body.members]
        elif isinstance(definition, ir.ProgramDef):
            names = [definition.name]
            for version in definition.versions:
                names += [version.name, *(procedure.name for procedure in version.procedures)]
        else:
            continue
        ordered.update((name, None) for name in names if name in own)
    return [*ordered, *sorted(own - set(ordered))]
