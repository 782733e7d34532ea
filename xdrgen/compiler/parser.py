"""Parse one .x file into a :class:`~xdrgen.compiler.ir.Specification`.

The grammar is ``grammars/xdr.lark`` (LALR).  Comments are skipped by the
grammar and read separately here, to attach doc comments and libvirt's
``@key: value`` annotations to the node that follows them.
"""

from __future__ import annotations

import codecs
import dataclasses
import functools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lark
from lark import Lark, Token, Transformer, v_args

from . import ir
from .errors import XdrgenError
from .preprocess import preprocess
from .resources import grammar_path

_COMMENT = re.compile(r"/\*.*?\*/|//[^\n]*", re.DOTALL)
_ANNOTATION = re.compile(r"^@([A-Za-z_][\w-]*)\s*:\s*(.*?)\s*$")
_HEADER_INCLUDE = re.compile(r'^\s*#\s*include\s*["<]([^">]+)\.h[">]')

# Readable names for the grammar's terminals, for "expected ..." messages.
_TERMINAL_NAMES = {
    "IDENT": "identifier",
    "INTEGER": "integer",
    "SEMICOLON": "';'",
    "LBRACE": "'{'",
    "RBRACE": "'}'",
    "LPAR": "'('",
    "RPAR": "')'",
    "LSQB": "'['",
    "RSQB": "']'",
    "LESSTHAN": "'<'",
    "MORETHAN": "'>'",
    "EQUAL": "'='",
    "COMMA": "','",
    "COLON": "':'",
    "STAR": "'*'",
    "MINUS": "'-'",
}


@functools.cache
def _grammar() -> Lark:
    """The compiled LALR parser; built once, it keeps no per-parse state."""
    return Lark(
        grammar_path().read_text(encoding="utf-8"),
        parser="lalr",
        propagate_positions=True,
        maybe_placeholders=False,
    )


@dataclass(frozen=True)
class _Comment:
    start_line: int
    end_line: int
    end_column: int
    start_column: int
    text: str
    is_doc: bool  # "/**" style
    own_line: bool  # nothing but white space before it on its first line


def _clean_comment(raw: str) -> str:
    if raw.startswith("//"):
        return raw[2:].strip()
    body = raw[2:-2]
    if body.startswith("*"):
        body = body[1:]
    lines = []
    for line in body.split("\n"):
        line = line.strip()
        if line.startswith("*"):
            line = line[1:].strip() if line != "*" else ""
        lines.append(line)
    while lines and not lines[0]:
        lines.pop(0)
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines)


def _scan_comments(text: str) -> list[_Comment]:
    comments: list[_Comment] = []
    line_starts = [0]
    for index, char in enumerate(text):
        if char == "\n":
            line_starts.append(index + 1)

    def position(offset: int) -> tuple[int, int]:
        lo, hi = 0, len(line_starts) - 1
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if line_starts[mid] <= offset:
                lo = mid
            else:
                hi = mid - 1
        return lo + 1, offset - line_starts[lo] + 1

    for match in _COMMENT.finditer(text):
        start_line, start_column = position(match.start())
        end_line, end_column = position(match.end() - 1)
        raw = match.group(0)
        line_start = line_starts[start_line - 1]
        own_line = not text[line_start : match.start()].strip()
        comment = _Comment(
            start_line,
            end_line,
            end_column,
            start_column,
            _clean_comment(raw),
            raw.startswith("/**") and raw != "/**/",
            own_line,
        )
        previous = comments[-1] if comments else None
        if (
            raw.startswith("//")
            and own_line
            and previous is not None
            and previous.own_line
            and previous.end_line == start_line - 1
            and _is_line_comment(text, previous, line_starts)
        ):
            # consecutive // lines are one comment (xdrpp files write
            # their doc comments so)
            comment = dataclasses.replace(
                previous,
                end_line=end_line,
                end_column=end_column,
                text=f"{previous.text}\n{comment.text}",
            )
            comments[-1] = comment
            continue
        comments.append(comment)
    return comments


def _is_line_comment(text: str, comment: _Comment, line_starts: list[int]) -> bool:
    """Whether ``comment`` is made of ``//`` lines."""
    start = line_starts[comment.start_line - 1] + comment.start_column - 1
    return text.startswith("//", start)


class _Docs:
    """Finds the comment that documents a node starting at a given line."""

    def __init__(self, comments: list[_Comment]) -> None:
        self.by_end_line: dict[int, _Comment] = {}
        self.by_start_line: dict[int, _Comment] = {}
        for comment in comments:
            self.by_end_line[comment.end_line] = comment
            self.by_start_line.setdefault(comment.start_line, comment)

    def leading(self, line: int, column: int) -> _Comment | None:
        same_line = self.by_end_line.get(line)
        if same_line is not None and same_line.end_column < column:
            return same_line
        above = self.by_end_line.get(line - 1)
        return above if above is not None and above.own_line else None

    def trailing(self, line: int, column: int) -> _Comment | None:
        comment = self.by_start_line.get(line)
        if comment is not None and comment.start_column > column:
            return comment
        return None

    def doc(
        self, line: int, column: int, end_line: int | None = None
    ) -> tuple[str | None, tuple[ir.Annotation, ...]]:
        comment = self.leading(line, column)
        if comment is None and end_line is not None:
            comment = self.trailing(end_line, 0 if end_line != line else column)
        if comment is None:
            return None, ()
        return split_annotations(comment.text, comment.is_doc)


def split_annotations(
    text: str, is_doc: bool
) -> tuple[str | None, tuple[ir.Annotation, ...]]:
    """Split a libvirt doc comment into free text and ``@key: value`` lines."""
    if not is_doc:
        return (text or None), ()
    annotations = []
    rest = []
    for line in text.split("\n"):
        match = _ANNOTATION.match(line)
        if match:
            annotations.append(ir.Annotation(match.group(1), match.group(2)))
        else:
            rest.append(line)
    doc = "\n".join(rest).strip()
    return (doc or None), tuple(annotations)


@v_args(meta=True)
class _Builder(Transformer):  # type: ignore[type-arg]
    """Turns the parse tree into IR nodes."""

    def __init__(self, path: str, docs: _Docs, lines: list[str]) -> None:
        super().__init__()
        self.path = path
        self.docs = docs
        self.lines = lines

    def _loc(self, meta: lark.tree.Meta) -> ir.Location:
        return ir.Location(self.path, meta.line, meta.column)

    def _tok_loc(self, token: Token) -> ir.Location:
        return ir.Location(self.path, token.line or 0, token.column or 0)

    def _doc(self, meta: lark.tree.Meta) -> tuple[str | None, tuple[ir.Annotation, ...]]:
        return self.docs.doc(meta.line, meta.column, meta.end_line)

    # ---- values
    def literal(self, meta, children):  # type: ignore[no-untyped-def]
        (token,) = children
        return ir.Value(str(token), self._loc(meta), literal=_integer(token))

    def negative_literal(self, meta, children):  # type: ignore[no-untyped-def]
        (token,) = children
        return ir.Value(f"-{token}", self._loc(meta), literal=-_integer(token))

    def reference(self, meta, children):  # type: ignore[no-untyped-def]
        (token,) = children
        return ir.Value(str(token), self._loc(meta), name=str(token))

    def name(self, meta, children):  # type: ignore[no-untyped-def]
        return children[0]  # an identifier, or an xdrpp ns::name

    # ---- type specifiers
    def _builtin(
        self, meta: lark.tree.Meta, children: list[Token], signed: ir.Builtin, unsigned: ir.Builtin
    ) -> ir.TypeSpec:
        kind = unsigned if len(children) == 2 else signed
        return ir.TypeSpec(self._loc(meta), builtin=kind)

    def builtin_int(self, meta, children):  # type: ignore[no-untyped-def]
        return self._builtin(meta, children, ir.Builtin.INT, ir.Builtin.UNSIGNED_INT)

    def builtin_hyper(self, meta, children):  # type: ignore[no-untyped-def]
        return self._builtin(
            meta, children, ir.Builtin.HYPER, ir.Builtin.UNSIGNED_HYPER
        )

    def builtin_char(self, meta, children):  # type: ignore[no-untyped-def]
        return self._builtin(meta, children, ir.Builtin.CHAR, ir.Builtin.UNSIGNED_CHAR)

    def builtin_short(self, meta, children):  # type: ignore[no-untyped-def]
        return self._builtin(
            meta, children, ir.Builtin.SHORT, ir.Builtin.UNSIGNED_SHORT
        )

    def builtin_long(self, meta, children):  # type: ignore[no-untyped-def]
        return self._builtin(meta, children, ir.Builtin.LONG, ir.Builtin.UNSIGNED_LONG)

    def builtin_unsigned(self, meta, children):  # type: ignore[no-untyped-def]
        return ir.TypeSpec(self._loc(meta), builtin=ir.Builtin.UNSIGNED_INT)

    def builtin(self, meta, children):  # type: ignore[no-untyped-def]
        (token,) = children
        return ir.TypeSpec(self._loc(meta), builtin=ir.Builtin(str(token)))

    def inline_enum(self, meta, children):  # type: ignore[no-untyped-def]
        return ir.TypeSpec(self._loc(meta), inline=children[0])

    inline_struct = inline_enum
    inline_union = inline_enum

    def tagged_reference(self, meta, children):  # type: ignore[no-untyped-def]
        (token,) = children
        tag = self._source_word(meta)
        return ir.TypeSpec(self._loc(meta), name=str(token), tag=tag)

    def _source_word(self, meta: lark.tree.Meta) -> str:
        # The tag keyword is an anonymous token that the tree drops; it is
        # recovered from the source text at the node's position.
        line = self.lines[meta.line - 1]
        return line[meta.column - 1 :].split()[0].split("{")[0]

    def type_reference(self, meta, children):  # type: ignore[no-untyped-def]
        (token,) = children
        return ir.TypeSpec(self._loc(meta), name=str(token))

    # ---- declarations
    def _decl(
        self,
        meta: lark.tree.Meta,
        children: list[object],
        kind: ir.DeclKind,
        bound: ir.Value | None = None,
    ) -> ir.Declaration:
        type_part, name = children[0], children[1]
        if isinstance(type_part, Token):  # opaque / string keyword
            type_part = ir.TypeSpec(
                self._tok_loc(type_part), builtin=ir.Builtin(str(type_part))
            )
        assert isinstance(type_part, ir.TypeSpec)
        doc, _ = self.docs.doc(meta.line, meta.column, meta.end_line)
        return ir.Declaration(
            str(name), type_part, kind, self._loc(meta), bound=bound, doc=doc
        )

    def plain_decl(self, meta, children):  # type: ignore[no-untyped-def]
        return self._decl(meta, children, ir.DeclKind.PLAIN)

    def fixed_array_decl(self, meta, children):  # type: ignore[no-untyped-def]
        return self._decl(meta, children, ir.DeclKind.FIXED_ARRAY, children[2])

    def var_array_decl(self, meta, children):  # type: ignore[no-untyped-def]
        bound = children[2] if len(children) > 2 else None
        return self._decl(meta, children, ir.DeclKind.VAR_ARRAY, bound)

    def optional_decl(self, meta, children):  # type: ignore[no-untyped-def]
        return self._decl(meta, children, ir.DeclKind.OPTIONAL)

    def void_decl(self, meta, children):  # type: ignore[no-untyped-def]
        return ir.Declaration(
            None,
            ir.TypeSpec(self._loc(meta), builtin=ir.Builtin.VOID),
            ir.DeclKind.VOID,
            self._loc(meta),
        )

    # ---- bodies
    def enum_member(self, meta, children):  # type: ignore[no-untyped-def]
        doc, annotations = self.docs.doc(meta.line, meta.column, meta.end_line)
        value = children[1] if len(children) > 1 else None
        return ir.EnumMember(
            str(children[0]), value, self._loc(meta), doc, annotations
        )

    def enum_body(self, meta, children):  # type: ignore[no-untyped-def]
        return ir.EnumBody(tuple(children))

    def struct_body(self, meta, children):  # type: ignore[no-untyped-def]
        return ir.StructBody(tuple(children))

    def case_label(self, meta, children):  # type: ignore[no-untyped-def]
        return children[0]

    def case_arm(self, meta, children):  # type: ignore[no-untyped-def]
        return ir.UnionArm(tuple(children[:-1]), children[-1], self._loc(meta))

    def default_arm(self, meta, children):  # type: ignore[no-untyped-def]
        return ("default", children[0])

    def union_body(self, meta, children):  # type: ignore[no-untyped-def]
        discriminant, *rest = children
        default = None
        if rest and isinstance(rest[-1], tuple):
            default = rest.pop()[1]
        return ir.UnionBody(discriminant, tuple(rest), default)

    # ---- definitions
    def constant_def(self, meta, children):  # type: ignore[no-untyped-def]
        doc, _ = self._doc(meta)
        return ir.ConstDef(str(children[0]), children[1], self._loc(meta), doc)

    def string_constant_def(self, meta, children):  # type: ignore[no-untyped-def]
        name, literal = children
        value = ir.Value(str(literal), self._tok_loc(literal), string=_c_string(literal))
        doc, _ = self._doc(meta)
        return ir.ConstDef(str(name), value, self._loc(meta), doc)

    def namespace_def(self, meta, children):  # type: ignore[no-untyped-def]
        name, *definitions = children
        return [
            item
            if isinstance(item, ir.Pragma)
            else dataclasses.replace(item, namespace=(str(name), *item.namespace))
            for item in _flatten(definitions)
        ]

    def pragma_def(self, meta, children):  # type: ignore[no-untyped-def]
        return ir.Pragma(tuple(str(word) for word in children), self._loc(meta))

    def typedef_def(self, meta, children):  # type: ignore[no-untyped-def]
        decl = children[0]
        doc, _ = self._doc(meta)
        if decl.name is None:
            raise XdrgenError(self._loc(meta), "expected a name in typedef, got 'void'")
        return ir.TypedefDef(decl.name, decl, self._loc(meta), doc)

    def enum_def(self, meta, children):  # type: ignore[no-untyped-def]
        doc, _ = self._doc(meta)
        return ir.EnumDef(str(children[0]), children[1], self._loc(meta), doc)

    def struct_def(self, meta, children):  # type: ignore[no-untyped-def]
        doc, _ = self._doc(meta)
        return ir.StructDef(str(children[0]), children[1], self._loc(meta), doc)

    def union_def(self, meta, children):  # type: ignore[no-untyped-def]
        doc, _ = self._doc(meta)
        return ir.UnionDef(str(children[0]), children[1], self._loc(meta), doc)

    def proc_type(self, meta, children):  # type: ignore[no-untyped-def]
        # ``string<N>`` as an argument is rpcgen's xdr_wrapstring: the bound
        # is not checked, so it is not kept.
        item = children[0]
        if isinstance(item, Token):
            if str(item) == "void":
                return None
            return ir.TypeSpec(self._tok_loc(item), builtin=ir.Builtin.STRING)
        return item

    def procedure_def(self, meta, children):  # type: ignore[no-untyped-def]
        result, name, *arguments, number = children
        doc, annotations = self._doc(meta)
        args = tuple(a for a in arguments if a is not None)
        return ir.ProcedureDef(
            str(name), number, args, result, self._loc(meta), doc, annotations
        )

    def version_def(self, meta, children):  # type: ignore[no-untyped-def]
        name, *procedures, number = children
        doc, _ = self._doc(meta)
        return ir.VersionDef(
            str(name), number, tuple(procedures), self._loc(meta), doc
        )

    def program_def(self, meta, children):  # type: ignore[no-untyped-def]
        name, *versions, number = children
        doc, _ = self._doc(meta)
        return ir.ProgramDef(str(name), number, tuple(versions), self._loc(meta), doc)

    def start(self, meta, children):  # type: ignore[no-untyped-def]
        return _flatten(children)


def _flatten(items: list[Any]) -> list[Any]:
    """Definitions with the lists that namespace blocks return spliced in."""
    out: list[Any] = []
    for item in items:
        out.extend(item if isinstance(item, list) else [item])
    return out


def _c_string(token: Token) -> str:
    """The text of a C string literal (its escapes decoded)."""
    return codecs.decode(str(token)[1:-1], "unicode_escape")


def _integer(token: Token) -> int:
    text = str(token)
    if len(text) > 1 and text[0] == "0" and text[1] not in "xX":
        return int(text, 8)
    return int(text, 0)


def _expected(names: set[str]) -> str:
    readable = sorted(
        _TERMINAL_NAMES.get(name, f"'{name.lower()}'")
        for name in names
        if not name.startswith("__")
    )
    if not readable:
        return "end of input"
    if len(readable) > 8:
        readable = readable[:8] + ["..."]
    return ", ".join(readable)


def _syntax_error(error: lark.exceptions.UnexpectedInput, path: str) -> XdrgenError:
    location = ir.Location(path, error.line, error.column)
    if isinstance(error, lark.exceptions.UnexpectedToken):
        if error.token.type == "$END":
            got = "end of file"
        else:
            got = repr(str(error.token))
        return XdrgenError(
            location, f"unexpected {got}: expected {_expected(error.expected)}"
        )
    if isinstance(error, lark.exceptions.UnexpectedCharacters):
        return XdrgenError(
            location,
            f"unexpected character {error.char!r}: expected "
            f"{_expected(error.allowed or set())}",
        )
    return XdrgenError(location, "unexpected end of file")


def parse_text(
    text: str,
    path: str = "<string>",
    *,
    defines: dict[str, str] | None = None,
    include_dirs: tuple[str, ...] = (),
    _stack: tuple[str, ...] = (),
) -> ir.Specification:
    """Parse the text of one .x file (``path`` is used for locations and to
    find ``#include``d files)."""
    pre = preprocess(text, path, defines)
    comments = _scan_comments(pre.text)
    builder = _Builder(path, _Docs(comments), pre.text.split("\n"))
    try:
        tree = _grammar().parse(pre.text)
    except lark.exceptions.UnexpectedInput as error:
        raise _syntax_error(error, path) from None
    try:
        nodes: list[ir.Definition | ir.Pragma] = builder.transform(tree)
    except lark.exceptions.VisitError as error:
        if isinstance(error.orig_exc, XdrgenError):
            raise error.orig_exc from None
        raise
    definitions = [node for node in nodes if not isinstance(node, ir.Pragma)]
    pragmas = [node for node in nodes if isinstance(node, ir.Pragma)]

    passthrough = list(pre.passthrough)
    includes: list[str] = []
    for include in pre.includes:
        found = find_file(include.target, path, include_dirs)
        if found is None:
            raise XdrgenError(
                include.location,
                f"cannot find include file '{include.target}' "
                f"(searched {', '.join(search_dirs(path, include_dirs))})",
            )
        if str(found) in _stack or str(found) == path:
            raise XdrgenError(include.location, f"'{include.target}' includes itself")
        nested = parse_file(
            found,
            defines=defines,
            include_dirs=include_dirs,
            _stack=(*_stack, path),
        )
        line = include.location.line
        position = next(
            (i for i, d in enumerate(definitions) if d.location.line > line),
            len(definitions),
        )
        definitions[position:position] = nested.definitions
        passthrough.extend(nested.passthrough)
        includes.append(nested.path)
        includes.extend(nested.includes)

    imports = []
    for item in pre.header_lines:
        match = _HEADER_INCLUDE.match(item.text)
        if match is None:
            continue
        candidate = _header_source(match.group(1), path, include_dirs)
        if candidate is not None and str(candidate) != path:
            imports.append(ir.Import(f"{match.group(1)}.h", str(candidate), item.location))

    defines_out = [
        (name, value, location)
        for name, (value, location) in pre.header_defines.items()
        if name not in pre.defines
    ]
    for name, (value, location) in pre.defines.items():
        try:
            defines_out.append((name, _integer(Token("INTEGER", value.strip())), location))
        except ValueError:
            continue

    first = comments[0] if comments else None
    file_doc = first.text if first is not None and first.start_line <= 2 else None
    return ir.Specification(
        path=path,
        definitions=tuple(definitions),
        passthrough=tuple(passthrough),
        imports=tuple(imports),
        defines=tuple(defines_out),
        doc=file_doc or None,
        includes=tuple(includes),
        pragmas=tuple(pragmas),
    )


def _header_source(stem: str, path: str, include_dirs: tuple[str, ...]) -> Path | None:
    """The .x file behind ``%#include "stem.h"``: ``stem.x`` on the include
    path, else the file of that name alone (Stellar's ``"xdr/Stellar-types.h"``
    is generated from ``Stellar-types.x`` into an ``xdr/`` directory)."""
    found = find_file(f"{stem}.x", path, include_dirs)
    if found is None and "/" in stem:
        found = find_file(f"{Path(stem).name}.x", path, include_dirs)
    return found


def search_dirs(path: str, include_dirs: tuple[str, ...]) -> list[str]:
    """Where includes are looked for: the including file's directory, then
    the -I directories, in order."""
    return [str(Path(path).parent), *include_dirs]


def find_file(name: str, path: str, include_dirs: tuple[str, ...]) -> Path | None:
    for directory in search_dirs(path, include_dirs):
        candidate = Path(directory) / name
        if candidate.is_file():
            return candidate
    return None


def parse_file(
    path: str | Path,
    *,
    defines: dict[str, str] | None = None,
    include_dirs: tuple[str, ...] = (),
    _stack: tuple[str, ...] = (),
) -> ir.Specification:
    """Read and parse a .x file."""
    path = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise XdrgenError(
            ir.Location(path, 0, 0), f"cannot read file: {error.strerror}"
        ) from None
    return parse_text(
        text, path, defines=defines, include_dirs=include_dirs, _stack=_stack
    )
