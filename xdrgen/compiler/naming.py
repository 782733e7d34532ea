"""Every rule that turns an XDR name into a Python name, in one place.

- types: CapWords classes (``remote_domain_get_info_ret`` ->
  ``RemoteDomainGetInfoRet``); constants and enum members keep their names;
- fields keep their XDR names, with a trailing ``_`` for Python keywords and
  the generated methods' names; decoders' locals avoid the methods' own;
- modules are named after their ``.x`` file, made a valid lower-case name;
- procedures become lower-case methods (``REMOTE_PROC_DOMAIN_GET_INFO`` ->
  ``domain_get_info``), programs the CapWords stem of their classes
  (``REMOTE_PROGRAM`` -> ``Remote``);
- typedef codec functions use the snake_case name (``pack_remote_string``),
  the typedef's codec object its class name (``RemoteStringCodec``);
- list decoders are private, named after their element class
  (``_unpack_RemoteNonnullDomain_list``); so are the base classes that
  structs with the same fields share, named after the fields
  (``_DomFlags``).
"""

from __future__ import annotations

import keyword
import re
from pathlib import Path

# Names generated methods use for their own locals and arguments (a linked
# list decodes with `heads`, `more` and `node`; a union keeps its
# discriminant in `_disc`).
RESERVED_LOCALS = frozenset(
    {"data", "offset", "cls", "self", "out", "xdr", "struct", "size", "heads", "more", "node", "_disc"}
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
    names get a trailing underscore."""
    if keyword.iskeyword(name) or name in RESERVED_ATTRIBUTES:
        return name + "_"
    return name


def local_name(name: str) -> str:
    """The local variable that holds a field while decoding."""
    name = field_name(name)
    return name + "_" if name in RESERVED_LOCALS else name


def module_name(path: str) -> str:
    """The module a ``.x`` file becomes: its file name without ``.x``, in
    lower case, with every character that cannot be in a Python name made
    ``_`` (``Stellar-types.x`` -> ``stellar_types``, ``cli1-xdr.x`` ->
    ``cli1_xdr``); a leading digit or a keyword gets a ``_`` more."""
    name = re.sub(r"\W", "_", Path(path).stem.lower(), flags=re.ASCII) or "_"
    if name[0].isdigit():
        name = "_" + name
    return name + "_" if keyword.iskeyword(name) else name


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
