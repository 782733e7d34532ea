"""A hatchling build hook: generate the ``[tool.xdrgen]`` package at build time.

A project that keeps only its ``.x`` files under version control enables the
hook in its pyproject.toml::

    [build-system]
    requires = ["hatchling", "xdrgen-py[compiler]"]
    build-backend = "hatchling.build"

    [tool.hatch.build.hooks.xdrgen]

    [tool.xdrgen]
    inputs = ["proto/*.x"]
    package = "hello_proto"
    defines = { HELLO_NAME_MAX = 64 }

and every wheel (standard or editable) it builds carries the generated
package, produced by the same code as ``xdrgen generate``
(:func:`xdrgen.compiler.project.generate_files`).

Where the files go:

* without ``output`` in ``[tool.xdrgen]``, into a temporary directory that is
  mapped into the wheel with ``build_data["force_include"]`` and removed when
  the build ends; nothing is written into the project tree;
* with ``output``, into ``output/<package>/`` in the project tree, as
  ``xdrgen generate`` writes them (only changed files are rewritten), and from
  there into the wheel.

Only the generated files are mapped, one by one, at ``<package path>/<name>``
in the wheel, so stale modules in an ``output`` directory are not shipped.
The sdist target generates nothing (a wheel built from the sdist generates
again); it only makes sure the ``inputs``, the ``imports`` and the ``.x``
files directly in ``include-dirs`` are in the sdist, even when the sdist's
file selection is narrower than the default.

Options in ``[tool.hatch.build.hooks.xdrgen]`` (or a target's
``hooks.xdrgen`` table) override the keys of ``[tool.xdrgen]`` of the same
name (``inputs``, ``package``, ``include-dirs``, ``defines``, ``type-map``,
``imports``, ``output``, ``package-init``); paths are relative to the project root.  One more
option, ``runtime-dependency`` (default true), adds ``xdrgen-py>=VERSION`` (the
runtime alone, without the compiler's extra) to the wheel's dependencies
unless the project already lists xdrgen-py: generated code imports
:mod:`xdrgen.runtime`.

Errors in a ``.x`` file (or in the configuration) fail the build; the first
line on stderr is the CLI's ``FILE:LINE:COL: error: MESSAGE``.
"""

from __future__ import annotations

import atexit
import dataclasses
import shutil
import tempfile
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface
from hatchling.plugin import hookimpl

from .. import DISTRIBUTION, __version__
from . import missing_dependency
from .errors import XdrgenError
from .project import Target, config_error, read_xdrgen_table, target_from_table

#: Keys of ``[tool.xdrgen]`` that hook options may override.
TARGET_KEYS = frozenset(
    {"inputs", "package", "include-dirs", "defines", "type-map", "imports", "output", "package-init"}
)
#: Keys of the hook table that belong to the hook itself or to hatchling.
HOOK_KEYS = frozenset(
    {
        "runtime-dependency",
        "enable-by-default",
        "dependencies",
        "require-runtime-dependencies",
        "require-runtime-features",
    }
)


class XdrgenBuildError(Exception):
    """A build that failed because of a ``.x`` file or the configuration;
    the message is the ``FILE:LINE:COL: error: ...`` text."""


class XdrgenBuildHook(BuildHookInterface):  # type: ignore[type-arg]
    PLUGIN_NAME = "xdrgen"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._temporary: list[Path] = []

    # ---- hatchling's interface ------------------------------------------

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        try:
            target, output_given = self.target()
            if self.target_name == "sdist":
                self._include_sources(target, build_data)
            elif self.target_name == "wheel":
                self._generate(target, output_given, build_data)
        except XdrgenError as error:
            message = error.format()
            self.app.display_error(message)
            raise XdrgenBuildError(message) from None
        except ImportError as error:
            advice = missing_dependency(error)
            if advice is None:
                raise
            self.app.display_error(advice)
            raise XdrgenBuildError(advice) from None

    def finalize(self, version: str, build_data: dict[str, Any], artifact_path: str) -> None:
        self._cleanup()

    # ---- configuration --------------------------------------------------

    @property
    def pyproject(self) -> Path:
        return Path(self.root) / "pyproject.toml"

    def target(self) -> tuple[Target, bool]:
        """The Target that ``[tool.xdrgen]`` and the hook options describe,
        and whether they name an ``output`` directory."""
        pyproject = self.pyproject
        table = read_xdrgen_table(pyproject)
        unknown = sorted(set(self.config) - TARGET_KEYS - HOOK_KEYS)
        if unknown:
            raise config_error(
                pyproject,
                f"[tool.hatch.build.hooks.xdrgen]: unknown option(s) {', '.join(unknown)}",
            )
        merged = {**table, **{k: v for k, v in self.config.items() if k in TARGET_KEYS}}
        if not merged:
            raise config_error(pyproject, "[tool.xdrgen]: missing table")
        return target_from_table(pyproject, merged), "output" in merged

    # ---- wheel: generate -------------------------------------------------

    def _generate(self, target: Target, output_given: bool, build_data: dict[str, Any]) -> None:
        from .project import generate_files, write_files

        files = generate_files(target)
        if output_given:
            directory = target.package_dir
        else:
            temporary = Path(tempfile.mkdtemp(prefix="xdrgen-build-"))
            self._temporary.append(temporary)
            atexit.register(shutil.rmtree, temporary, ignore_errors=True)
            directory = dataclasses.replace(target, output=temporary).package_dir
        write_files(directory, files)

        prefix = "/".join(target.package.split(".")) + "/" if target.package else ""
        force_include = build_data.setdefault("force_include", {})
        for name in sorted(files):
            force_include[str(directory / name)] = prefix + name

        if self.config.get("runtime-dependency", True) and not self._depends_on_xdrgen():
            build_data.setdefault("dependencies", []).append(f"{DISTRIBUTION}>={__version__}")

        where = _relative(directory, Path(self.root)) if output_given else "the wheel only"
        self.app.display_info(
            f"xdrgen: generated {target.package or 'modules'} "
            f"({', '.join(sorted(files))}) from "
            f"{', '.join(_relative(p, Path(self.root)) for p in target.inputs)} into {where}"
        )

    def _depends_on_xdrgen(self) -> bool:
        from packaging.requirements import InvalidRequirement, Requirement
        from packaging.utils import canonicalize_name

        for text in self.metadata.core.dependencies:
            try:
                if canonicalize_name(Requirement(text).name) == DISTRIBUTION:
                    return True
            except InvalidRequirement:
                continue
        return False

    def _cleanup(self) -> None:
        while self._temporary:
            shutil.rmtree(self._temporary.pop(), ignore_errors=True)

    # ---- sdist: ship the sources ----------------------------------------

    def _include_sources(self, target: Target, build_data: dict[str, Any]) -> None:
        root = Path(self.root).resolve()
        sources = [*target.inputs, *target.imports]
        for directory in target.include_dirs:
            sources.extend(sorted(Path(directory).glob("*.x")))
        force_include = build_data.setdefault("force_include", {})
        for path in sources:
            resolved = path.resolve()
            if resolved.is_file() and resolved.is_relative_to(root):
                force_include[str(resolved)] = resolved.relative_to(root).as_posix()


def _relative(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)


@hookimpl
def hatch_register_build_hook() -> type[BuildHookInterface]:  # type: ignore[type-arg]
    return XdrgenBuildHook
