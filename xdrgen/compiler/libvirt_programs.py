"""libvirt's .x files declare no ``program`` block.  Their programs follow a
naming convention instead, which this module turns into the same IR as an
RFC 5531 program:

- ``const P_PROGRAM = number;`` and ``const P_PROTOCOL_VERSION = n;`` (or
  ``P_PROGRAM_VERSION``),
- ``enum x_procedure { P_PROC_FOO = n, ... }`` (or ``enum xProcedure``), each
  member documented with ``/** @generate: ... */`` annotations,
- types ``x_foo_args``, ``x_foo_ret`` and, for events, ``x_foo_msg`` (or the
  CamelCase ``xFooArgs`` / ``xFooRet`` / ``xFooMsg``).

Which procedures pass file descriptors beside their messages the files do
not say: libvirt's C client knows it by hand.  :data:`FD_PROCEDURES` holds
that knowledge as data, and each procedure it names gets the annotation
``@fds: in`` (the call sends descriptors: ``CALL_WITH_FDS``), ``out`` (the
reply brings them: ``REPLY_WITH_FDS``) or ``both``, as if its doc comment
said so.  A ``.x`` file of one's own can write that annotation itself; an
annotation in the file wins over the table.
"""

from __future__ import annotations

from collections.abc import Mapping

from . import ir

FDS = "fds"  # the annotation's key
FD_DIRECTIONS = ("in", "out", "both")

#: program -> procedure -> how its descriptors travel, from libvirt 9.0.0's
#: hand-written client calls: ``callFull`` with ``fdin``/``fdout`` in
#: src/remote/remote_driver.c (the remote, qemu and lxc programs) and
#: ``virNetClientProgramCall`` with ``outfd`` in src/logging/log_manager.c.
FD_PROCEDURES: Mapping[str, Mapping[str, str]] = {
    "REMOTE_PROGRAM": {
        "REMOTE_PROC_DOMAIN_OPEN_GRAPHICS": "in",  # virDomainOpenGraphics: the socket to attach
        "REMOTE_PROC_DOMAIN_CREATE_XML_WITH_FILES": "in",
        "REMOTE_PROC_DOMAIN_CREATE_WITH_FILES": "in",
        "REMOTE_PROC_DOMAIN_OPEN_GRAPHICS_FD": "out",  # virDomainOpenGraphicsFD: one socket back
        "REMOTE_PROC_DOMAIN_FD_ASSOCIATE": "in",
    },
    "QEMU_PROGRAM": {"QEMU_PROC_DOMAIN_MONITOR_COMMAND_WITH_FILES": "both"},
    "LXC_PROGRAM": {"LXC_PROC_DOMAIN_OPEN_NAMESPACE": "out"},  # one per namespace
    "VIR_LOG_MANAGER_PROTOCOL_PROGRAM": {"VIR_LOG_MANAGER_PROTOCOL_PROC_DOMAIN_OPEN_LOG_FILE": "out"},
}


def _with_fds(annotations: tuple[ir.Annotation, ...], direction: str | None) -> tuple[ir.Annotation, ...]:
    """A procedure's annotations with the table's ``@fds`` unless it has one."""
    if direction is None or any(a.key == FDS for a in annotations):
        return annotations
    return (*annotations, ir.Annotation(FDS, direction))


def _normal(name: str) -> str:
    return name.replace("_", "").lower()


def _procedure_enum_prefix(name: str) -> str | None:
    for suffix in ("_procedure", "Procedure"):
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return None


def _member_prefix(members: tuple[ir.EnumMember, ...]) -> str | None:
    prefixes = {m.name.partition("_PROC_")[0] for m in members if "_PROC_" in m.name}
    return prefixes.pop() if len(prefixes) == 1 else None


def _value(name: str, location: ir.Location, number: int) -> ir.Value:
    return ir.Value(name, location, name=name, resolved=number)


def derive_programs(
    spec: ir.Specification,
    types: Mapping[str, ir.TypeDefinition],
    constants: Mapping[str, int],
) -> tuple[ir.ProgramDef, ...]:
    consts = {d.name: d for d in spec.definitions if isinstance(d, ir.ConstDef)}
    by_normal = {_normal(name): name for name in types}
    programs = []
    for definition in spec.definitions:
        if not isinstance(definition, ir.EnumDef):
            continue
        type_prefix = _procedure_enum_prefix(definition.name)
        const_prefix = _member_prefix(definition.body.members)
        if type_prefix is None or const_prefix is None:
            continue
        program = consts.get(f"{const_prefix}_PROGRAM")
        version = consts.get(f"{const_prefix}_PROTOCOL_VERSION") or consts.get(
            f"{const_prefix}_PROGRAM_VERSION"
        )
        if program is None or version is None:
            continue
        procedures = []
        fd_table = FD_PROCEDURES.get(program.name, {})
        for member in definition.body.members:
            short = member.name.partition("_PROC_")[2]

            def find(suffix: str) -> ir.TypeSpec | None:
                name = by_normal.get(_normal(f"{type_prefix}_{short}_{suffix}"))
                return None if name is None else ir.TypeSpec(member.location, name=name)

            args = find("args")
            procedures.append(
                ir.ProcedureDef(
                    name=member.name,
                    number=_value(member.name, member.location, constants[member.name]),
                    arguments=(args,) if args is not None else (),
                    result=find("ret"),
                    location=member.location,
                    doc=member.doc,
                    annotations=_with_fds(member.annotations, fd_table.get(member.name)),
                    message=find("msg"),
                )
            )
        version_def = ir.VersionDef(
            name=version.name,
            number=_value(version.name, version.location, constants[version.name]),
            procedures=tuple(procedures),
            location=version.location,
        )
        programs.append(
            ir.ProgramDef(
                name=program.name,
                number=_value(program.name, program.location, constants[program.name]),
                versions=(version_def,),
                location=program.location,
                doc=program.doc,
                derived=True,
            )
        )
    return tuple(programs)
