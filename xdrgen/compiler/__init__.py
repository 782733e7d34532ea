"""The compiler: .x files in, Python modules out.

The stages, each a module: ``preprocess`` (the C preprocessor subset rpcgen
runs) -> ``parser`` (Lark grammar -> ``ir``, frozen dataclasses) ->
``resolve`` (constants, types, imports, checks; ``libvirt_programs`` derives
libvirt's programs) -> ``generators/`` (one module per output) -> ``project``
(a package of files, ``[tool.xdrgen]``), driven by ``cli`` and
``build_hook``.  Its third-party dependencies come with the ``[compiler]``
extra; :func:`missing_dependency` turns their absence into advice.
"""

from __future__ import annotations

from .. import COMPILER_INSTALL

#: What the compiler needs beyond the runtime (the ``[compiler]`` extra).
DEPENDENCIES = ("lark", "jinja2", "black")


def missing_dependency(error: ImportError) -> str | None:
    """The advice for an ImportError of one of :data:`DEPENDENCIES`, else None."""
    name = (getattr(error, "name", None) or "").partition(".")[0]
    if name not in DEPENDENCIES:
        return None
    return (
        f"xdrgen: error: the compiler needs {name!r}, which is not installed; "
        f"install the compiler's dependencies with: {COMPILER_INSTALL}"
    )
