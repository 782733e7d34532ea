"""The ``xdrgen`` command line."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING
from pathlib import Path

from .. import __version__
from . import missing_dependency
from .errors import XdrgenError

if TYPE_CHECKING:
    from .project import Target


def _add_front_end_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-I",
        dest="include_dirs",
        metavar="DIR",
        action="append",
        default=[],
        help="look for included/imported .x files in DIR (after the file's own directory)",
    )
    parser.add_argument(
        "-D",
        dest="defines",
        metavar="NAME[=VALUE]",
        action="append",
        default=[],
        help="define a preprocessor symbol; an integer VALUE is also a constant",
    )
    parser.add_argument(
        "--type",
        dest="type_map",
        metavar="NAME=XDRTYPE",
        action="append",
        default=[],
        help='the XDR type of a name no .x file defines, e.g. --type u_int32="unsigned int"',
    )
    parser.add_argument(
        "--import",
        dest="imports",
        metavar="FILE.x",
        action="append",
        default=[],
        help="use the types and constants of FILE.x, as if the file had "
        '%%#include "FILE.h" (names a C header has that another .x file defines)',
    )


def _add_settings_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        metavar="PYPROJECT",
        help="also take include-dirs, defines, type-map and imports from [tool.xdrgen] "
        "of PYPROJECT (options given here come after them)",
    )


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="xdrgen",
        description="Code generator for XDR (RFC 4506) and ONC RPC (RFC 5531) .x files.",
        epilog="An argument @FILE reads further arguments from FILE, one per line.",
        fromfile_prefix_chars="@",
    )
    parser.add_argument("--version", action="version", version=f"xdrgen {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    parse = commands.add_parser(
        "parse", help="parse and resolve a .x file; --json prints the resolved IR"
    )
    parse.add_argument("file", metavar="FILE.x")
    _add_front_end_options(parse)
    _add_settings_option(parse)
    parse.add_argument("--json", action="store_true", help="print the resolved IR as JSON")

    structs = commands.add_parser(
        "structs", help="print the C struct layout in the format of libvirt's *-structs files"
    )
    structs.add_argument("file", metavar="FILE.x")
    _add_front_end_options(structs)
    _add_settings_option(structs)
    structs.add_argument("-o", dest="output", metavar="OUT", help="write to OUT instead of stdout")

    generate = commands.add_parser(
        "generate",
        help="write one Python module per .x file; without files, what [tool.xdrgen] lists",
    )
    generate.add_argument("files", metavar="FILE.x", nargs="*")
    _add_front_end_options(generate)
    generate.add_argument(
        "-o",
        dest="output",
        metavar="DIR",
        help="directory for the modules (with --package, for the package's directory)",
    )
    generate.add_argument(
        "--package",
        metavar="NAME",
        help="the modules' package: written to DIR/NAME/ with an __init__.py; imports "
        "between modules use it",
    )
    generate.add_argument(
        "--config",
        metavar="PYPROJECT",
        default="pyproject.toml",
        help="where [tool.xdrgen] is read from when no FILE.x is given",
    )

    check = commands.add_parser(
        "check",
        help="regenerate what [tool.xdrgen] lists; exit 1 with a diff if the files differ",
    )
    check.add_argument("--config", metavar="PYPROJECT", default="pyproject.toml")
    return parser


def _load(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from .project import Target, load_config
    from .resolve import load, parse_defines
    from .type_map import parse_type_options

    # [tool.xdrgen] of --config first (no settings without it), then the options
    settings = load_config(Path(args.config)) if args.config else Target(inputs=(), package=None)
    return load(
        args.file,
        include_dirs=settings.include_dirs + tuple(args.include_dirs),
        defines={**settings.defines, **parse_defines(args.defines)},
        type_map={**settings.type_map, **parse_type_options(args.type_map)},
        imports=(*settings.imports, *args.imports),
    )


def _write(text: str, output: str | None) -> None:
    if output is None:
        sys.stdout.write(text)
    else:
        Path(output).write_text(text, encoding="utf-8")


def _run(args: argparse.Namespace) -> int:
    if args.command == "parse":
        protocol = _load(args)
        if args.json:
            from .generators.ir_json import protocol_json

            _write(json.dumps(protocol_json(protocol), indent=2) + "\n", None)
        return 0
    if args.command == "structs":
        from .generators.structs import generate_structs

        _write(generate_structs(_load(args)), args.output)
        return 0
    if args.command == "generate":
        return _generate(args)
    if args.command == "check":
        return _check(args)
    raise AssertionError(args.command)


def _generate(args: argparse.Namespace) -> int:
    from .project import Target, is_package_name, load_config, package_name_problem, write_files
    from .resolve import parse_defines
    from .type_map import parse_type_options

    if args.files:
        if args.output is None:
            print("xdrgen generate: error: -o DIR is required with FILE.x arguments", file=sys.stderr)
            return 2
        if args.package is not None and not is_package_name(args.package):
            print(f"xdrgen generate: error: {package_name_problem(args.package)}", file=sys.stderr)
            return 2
        target = Target(
            inputs=tuple(Path(f) for f in args.files),
            package=args.package,
            include_dirs=tuple(args.include_dirs),
            defines=parse_defines(args.defines),
            type_map=parse_type_options(args.type_map),
            imports=tuple(Path(item) for item in args.imports),
            output=Path(args.output),
        )
        # With --package the package is a directory in DIR, as with [tool.xdrgen]
        directory = target.package_dir
    else:
        target = load_config(Path(args.config))
        if args.output:
            target = dataclasses.replace(target, output=Path(args.output))
        directory = target.package_dir
    for path in write_files(directory, _generate_files(target)):
        print(path)
    return 0


def _generate_files(target: Target) -> dict[str, str]:
    """``generate_files``, with a progress line on a terminal when it takes
    over a second."""
    from .progress import Progress
    from .project import STEPS_PER_INPUT, generate_files

    with Progress(STEPS_PER_INPUT * len(target.inputs)) as progress:
        return generate_files(target, progress.step)


def _check(args: argparse.Namespace) -> int:
    from .project import check_files, load_config

    target = load_config(Path(args.config))
    diff = check_files(target.package_dir, _generate_files(target))
    if diff:
        sys.stdout.write(diff)
        print(
            f"xdrgen check: {target.package_dir} differs from what the generator "
            "produces now; run `xdrgen generate`",
            file=sys.stderr,
        )
        return 1
    print(f"xdrgen check: {target.package_dir} is up to date")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _build_parser().parse_args(argv)
    try:
        return _run(args)
    except XdrgenError as error:
        print(error.format(), file=sys.stderr)
        return 1
    except OSError as error:
        print(f"xdrgen: error: {error}", file=sys.stderr)
        return 1
    except ImportError as error:
        advice = missing_dependency(error)
        if advice is None:
            raise
        print(advice, file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
