"""Generating a whole package of modules, as configured by ``[tool.xdrgen]``.

The same code serves ``xdrgen generate``, ``xdrgen check`` and the build hook::

    [tool.xdrgen]
    inputs = ["protocols/libvirt/*.x"]      # globs, relative to pyproject.toml
    output = "generated"                     # the package goes in output/package/
    package = "libvirt_rpc"
    include-dirs = ["protocols/libvirt"]
    defines = { VIR_UUID_BUFLEN = 16 }
    package-init = false    # the package's __init__.py is hand-written elsewhere

    imports = ["nfs/nfs_prot.x"]   # .x files whose names the inputs may use

    [tool.xdrgen.type-map]  # XDR types of names that no .x file defines
    uid_t = "unsigned int"
"""

from __future__ import annotations

import difflib
import keyword
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import __version__
from .errors import XdrgenError
from .ir import Location
from .naming import module_name

if TYPE_CHECKING:
    from .resolve import Protocol

# The generators (lark, jinja2, black) are imported when files are generated,
# so that reading the configuration works without the compiler's extra and
# the build hook can say what to install.


@dataclass(frozen=True)
class Target:
    """What to generate: one package from a list of .x files."""

    inputs: tuple[Path, ...]
    package: str | None
    include_dirs: tuple[str, ...] = ()
    defines: Mapping[str, str] = field(default_factory=dict)
    #: NAME -> XDR type for names no .x file defines (:mod:`.type_map`)
    type_map: Mapping[str, str] = field(default_factory=dict)
    #: .x files whose names every input may use (``--import``)
    imports: tuple[Path, ...] = ()
    output: Path | None = None  # directory that receives the package directory
    #: write the package's ``__init__.py``; false when a hand-written one
    #: (kept in another directory of the same package) takes its place
    package_init: bool = True

    @property
    def package_dir(self) -> Path:
        assert self.output is not None
        if self.package is None:
            return self.output
        return self.output.joinpath(*self.package.split("."))


def load_config(pyproject: Path) -> Target:
    """Read ``[tool.xdrgen]`` from a pyproject.toml; paths are relative to it."""
    config = read_xdrgen_table(pyproject)
    if not config:
        raise config_error(pyproject, "[tool.xdrgen]: missing table")
    return target_from_table(pyproject, config)


def read_xdrgen_table(pyproject: Path) -> dict[str, Any]:
    """The ``[tool.xdrgen]`` table of a pyproject.toml ({} when absent)."""
    try:
        data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except OSError as error:
        raise config_error(pyproject, f"cannot read: {error.strerror}") from None
    except tomllib.TOMLDecodeError as error:
        raise config_error(pyproject, f"invalid TOML: {error}") from None
    table = data.get("tool", {}).get("xdrgen", {})
    if not isinstance(table, dict):
        raise config_error(pyproject, "[tool.xdrgen] must be a table")
    return table


def target_from_table(pyproject: Path, config: Mapping[str, Any]) -> Target:
    """A Target from a ``[tool.xdrgen]``-shaped table (paths relative to the
    pyproject.toml it came from); the build hook passes tables merged with
    its own options."""
    root = pyproject.parent
    inputs: list[Path] = []
    for pattern in _strings(pyproject, config, "inputs"):
        matches = sorted(root.glob(pattern))
        if not matches:
            raise config_error(pyproject, f"[tool.xdrgen]: no file matches input {pattern!r}")
        inputs.extend(matches)
    if not inputs:
        raise config_error(pyproject, "[tool.xdrgen]: 'inputs' lists no .x file")
    package = config.get("package")
    if package is not None and not isinstance(package, str):
        raise config_error(pyproject, "[tool.xdrgen]: 'package' must be a string")
    if package is not None and not is_package_name(package):
        raise config_error(pyproject, f"[tool.xdrgen]: {package_name_problem(package)}")
    output = config.get("output", ".")
    if not isinstance(output, str):
        raise config_error(pyproject, "[tool.xdrgen]: 'output' must be a string")
    package_init = config.get("package-init", True)
    if not isinstance(package_init, bool):
        raise config_error(pyproject, "[tool.xdrgen]: 'package-init' must be true or false")
    return Target(
        inputs=tuple(inputs),
        package=package,
        include_dirs=tuple(str(root / d) for d in _strings(pyproject, config, "include-dirs")),
        defines={str(k): str(v) for k, v in _table(pyproject, config, "defines").items()},
        type_map=_type_map(pyproject, config),
        imports=tuple(root / item for item in _strings(pyproject, config, "imports")),
        output=root / output,
        package_init=package_init,
    )


def _strings(pyproject: Path, config: Mapping[str, Any], key: str) -> list[str]:
    value = config.get(key, [])
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise config_error(pyproject, f"[tool.xdrgen]: {key!r} must be a list of strings")
    return value


def _table(pyproject: Path, config: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = config.get(key, {})
    if not isinstance(value, dict):
        raise config_error(pyproject, f"[tool.xdrgen]: {key!r} must be a table")
    return value


def _type_map(pyproject: Path, config: Mapping[str, Any]) -> dict[str, str]:
    table = _table(pyproject, config, "type-map")
    for name, value in table.items():
        if not isinstance(value, str):
            raise config_error(
                pyproject,
                f"[tool.xdrgen.type-map]: {name} must be an XDR type in a string, "
                f"such as \"unsigned int\"",
            )
    return dict(table)


def is_package_name(name: str) -> bool:
    """A dotted name of Python identifiers (``libvirt_rpc``, ``a.b``)."""
    return all(part.isidentifier() and not keyword.iskeyword(part) for part in name.split("."))


def package_name_problem(name: str) -> str:
    return (
        f"package {name!r} is not a Python package name: use identifiers "
        f"separated by dots, such as {module_name(name.replace('.', '_'))!r}"
    )


def config_error(pyproject: Path, message: str) -> XdrgenError:
    """An error about the configuration file, located at its start."""
    return XdrgenError(Location(str(pyproject), 0, 0), message)


#: What generating one input takes, step by step (for a progress display).
STEPS_PER_INPUT = 4


def generate_files(target: Target, step: Callable[[str], None] | None = None) -> dict[str, str]:
    """File name (relative to the package directory) -> generated text.
    ``step(label)`` is called as each of the :data:`STEPS_PER_INPUT` steps
    of each input starts."""
    from .generators.oncrpc_client import generate_oncrpc_client
    from .generators.oncrpc_server import generate_oncrpc_server
    from .generators.python_client import generate_client
    from .generators.python_module import generate_python
    from .generators.python_server import generate_server
    from .resolve import load

    files: dict[str, str] = {}
    protocols: list[Protocol] = []
    sources: dict[str, Path] = {}
    loaded: dict[str, Protocol] = {}  # a file several inputs import is read once
    report = step or (lambda label: None)
    for path in target.inputs:
        report(f"{path.name}: reading")
        protocol = load(
            path,
            include_dirs=target.include_dirs,
            defines=target.defines,
            type_map=target.type_map,
            imports=target.imports,
            cache=loaded,
        )
        _claim_module(sources, protocol.name, path)
        protocols.append(protocol)
        report(f"{path.name}: types")
        files[f"{protocol.name}.py"] = generate_python(protocol, target.package)
        # Client stubs and server classes, for files that define RPC programs:
        # libvirt's (derived from its naming convention) or RFC 5531 ``program``
        # blocks -- a file has one kind or the other; each generator returns
        # None when there is nothing for it.
        for suffix, generators in (
            ("client", (generate_client, generate_oncrpc_client)),
            ("server", (generate_server, generate_oncrpc_server)),
        ):
            report(f"{path.name}: {suffix} stubs")
            for generator in generators:
                text = generator(protocol, target.package)
                if text is not None:
                    files[f"{protocol.name}_{suffix}.py"] = text
    if target.package is not None:
        if target.package_init:
            files["__init__.py"] = package_init(target, protocols)
        files["py.typed"] = ""  # PEP 561: the modules carry type hints
    return files


def _claim_module(sources: dict[str, Path], name: str, path: Path) -> None:
    """Two inputs whose file names give one module name are an error."""
    other = sources.setdefault(name, path)
    if other.resolve() != path.resolve():
        raise XdrgenError(
            Location(str(path), 0, 0),
            f"'{path.name}' and '{other.name}' would both be the module '{name}'",
        )


def package_init(target: Target, protocols: list[Protocol]) -> str:
    from .generators.layout import fit_block, join_module
    from .generators.render import render

    text = render(
        "python/package/init.j2",
        package=target.package,
        version=__version__,
        modules=[(p.name, Path(p.path).name) for p in protocols],
    )
    return join_module(fit_block(text), [])


def write_files(directory: Path, files: Mapping[str, str]) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in sorted(files.items()):
        path = directory / name
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


GENERATED_MARKER = "Generated by xdrgen"


def check_files(directory: Path, files: Mapping[str, str]) -> str:
    """A unified diff between the committed files and fresh output ("" when
    they are equal); generated files that no input produces any more count
    as differences too."""
    diffs: list[str] = []
    for name, text in sorted(files.items()):
        path = directory / name
        old = path.read_text(encoding="utf-8") if path.exists() else ""
        if old != text:
            diffs.extend(
                difflib.unified_diff(
                    old.splitlines(keepends=True),
                    text.splitlines(keepends=True),
                    fromfile=f"{path} (committed)",
                    tofile=f"{path} (generated now)",
                )
            )
    if directory.is_dir():
        for path in sorted(directory.glob("*.py")):  # stale generated modules
            if path.name not in files and GENERATED_MARKER in path.read_text(encoding="utf-8"):
                diffs.append(f"--- {path} (committed)\n+++ {path} (no longer generated)\n")
    return "".join(diffs)
