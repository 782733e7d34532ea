"""xdrpp's ``namespace NAME { ... }`` blocks, flattened into one module.

xdrpp turns a namespace into a C++ namespace; xdrgen turns a whole ``.x``
file into one Python module, so a file's names share one scope.  This pass
runs before the resolver and rewrites the file so that the resolver sees no
namespace at all:

- a name keeps its spelling when the file defines it once (Stellar wraps
  every file in ``namespace stellar``: nothing changes);
- a name that the file defines in several namespaces gets its namespaces as
  a prefix, outermost first (``testns::RED`` -> ``testns_RED``), at its
  definition and at every use;
- references follow C++ lookup: an unqualified name is looked up in the
  enclosing namespace, then in each outer one; ``::name`` starts at the top;
  ``ns::name`` is a qualified name; ``Enum::MEMBER`` names an enum's member.
  A qualified name that the file does not define is taken to come from an
  imported file, by its last part.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from . import ir
from .errors import XdrgenError
from .naming import namespaced_name

Scope = tuple[str, ...]


def flatten(spec: ir.Specification) -> ir.Specification:
    """The specification with namespaces resolved into plain names."""
    if not _uses_namespaces(spec):
        return spec
    table = _Names(spec)
    definitions = tuple(table.rewrite(d) for d in spec.definitions)
    return dataclasses.replace(spec, definitions=definitions)


def _uses_namespaces(spec: ir.Specification) -> bool:
    if any(d.namespace for d in spec.definitions):
        return True
    return any(
        "::" in (node.name or "")
        for node in ir.iter_nodes(spec.definitions)
        if isinstance(node, (ir.Value, ir.TypeSpec))
    )


class _Names:
    """Every name the file defines, by namespace, and its flat spelling."""

    def __init__(self, spec: ir.Specification) -> None:
        self.declared: dict[tuple[Scope, str], ir.Location] = {}
        self.enum_members: dict[tuple[Scope, str], set[str]] = {}
        for definition in spec.definitions:
            self._declare_definition(definition)
        spellings: dict[str, list[Scope]] = {}
        for scope, name in self.declared:
            spellings.setdefault(name, []).append(scope)
        self.flat: dict[tuple[Scope, str], str] = {}
        taken: dict[str, tuple[Scope, str]] = {}
        for (scope, name), location in self.declared.items():
            flat = name if len(spellings[name]) == 1 else namespaced_name(scope, name)
            clash = taken.get(flat)
            if clash is not None:
                raise XdrgenError(
                    location,
                    f"'{'::'.join((*scope, name))}' and "
                    f"'{'::'.join(clash[0] + (clash[1],))}' would both be "
                    f"'{flat}' in the file's one Python module",
                    self.declared[clash],
                )
            taken[flat] = (scope, name)
            self.flat[(scope, name)] = flat

    # ---- declarations
    def _declare(self, scope: Scope, name: str, location: ir.Location) -> None:
        # A name declared twice in one namespace is the resolver's duplicate
        # definition error; the first declaration keeps the location.
        self.declared.setdefault((scope, name), location)

    def _declare_definition(self, definition: ir.Definition) -> None:
        scope = definition.namespace
        self._declare(scope, definition.name, definition.location)
        if isinstance(definition, ir.EnumDef):
            members = {m.name for m in definition.body.members}
            self.enum_members[(scope, definition.name)] = members
        if isinstance(definition, ir.ProgramDef):
            for version in definition.versions:
                self._declare(scope, version.name, version.location)
                for procedure in version.procedures:
                    self._declare(scope, procedure.name, procedure.location)
        for node in ir.iter_nodes(definition):
            if isinstance(node, ir.EnumMember):  # C++ puts them in the enum's scope
                self._declare(scope, node.name, node.location)

    # ---- lookups
    def lookup(self, name: str, scope: Scope) -> str:
        """The flat spelling of ``name`` used in namespace ``scope``."""
        parts = tuple(name.removeprefix("::").split("::"))
        scopes = [()] if name.startswith("::") else [scope[:i] for i in range(len(scope), -1, -1)]
        for outer in scopes:
            found = self._find(outer, parts)
            if found is not None:
                return found
        return parts[-1]  # not this file's: an imported name

    def _find(self, outer: Scope, parts: tuple[str, ...]) -> str | None:
        path, last = outer + parts[:-1], parts[-1]
        if (path, last) in self.flat:
            return self.flat[(path, last)]
        # Enum::MEMBER: the member is declared in the enum's own namespace
        if path and last in self.enum_members.get((path[:-1], path[-1]), ()):
            return self.flat[(path[:-1], last)]
        return None

    # ---- rewriting
    def rewrite(self, definition: ir.Definition) -> ir.Definition:
        scope = definition.namespace

        def visit(node: Any) -> Any:
            if isinstance(node, (ir.Value, ir.TypeSpec)) and node.name is not None:
                return dataclasses.replace(node, name=self.lookup(node.name, scope))
            if isinstance(node, (ir.EnumMember, ir.VersionDef, ir.ProcedureDef)):
                return dataclasses.replace(node, name=self.flat[(scope, node.name)])
            return node

        rebuilt: ir.Definition = ir.rebuild(definition, visit)
        return dataclasses.replace(rebuilt, name=self.flat[(scope, definition.name)])
