"""The C preprocessor pass that rpcgen runs before parsing, reduced to what .x
files use: ``#include``, ``#define``/``#undef``, ``#if``/``#ifdef``/``#ifndef``/
``#elif``/``#else``/``#endif``, ``#error``, ``#pragma``; plus rpcgen's own
``%`` pass-through lines.

Every line keeps its number: directive lines, ``%`` lines and lines of false
branches become empty, so the grammar reports positions in the original file.
Macros are not expanded in the text; a ``#define`` with an integer value
becomes a constant for the resolver instead.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from .errors import XdrgenError
from .ir import Location, PassThrough

_DIRECTIVE = re.compile(r"\s*#\s*([A-Za-z_]*)\s*(.*)$")
_INCLUDE = re.compile(r'["<]([^">]+)[">]\s*$')
_DEFINE = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)(\(.*?\))?\s*(.*)$")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class Include:
    """A ``#include`` line: the file's text goes where the line was."""

    target: str
    location: Location


@dataclass
class Preprocessed:
    text: str
    passthrough: list[PassThrough] = field(default_factory=list)
    includes: list[Include] = field(default_factory=list)
    defines: dict[str, tuple[str, Location]] = field(default_factory=dict)
    header_defines: dict[str, tuple[int, Location]] = field(default_factory=dict)
    #: every %-line, whatever branch it is in: rpcgen -h defines RPC_HDR, so
    #: the header gets the %#include lines of ``#ifdef RPC_HDR`` branches
    header_lines: list[PassThrough] = field(default_factory=list)


@dataclass
class _Branch:
    location: Location
    outer_active: bool
    taken: bool  # some branch of this #if chain was already true
    active: bool
    seen_else: bool = False


def _strip_comments(text: str, in_comment: bool) -> tuple[str, bool]:
    """Remove C comments from one line; return it and whether a block comment
    is still open at its end."""
    out: list[str] = []
    i = 0
    while i < len(text):
        if in_comment:
            end = text.find("*/", i)
            if end < 0:
                return "".join(out), True
            i = end + 2
            in_comment = False
            out.append(" ")
        elif text.startswith("/*", i):
            in_comment = True
            i += 2
        elif text.startswith("//", i):
            break
        else:
            out.append(text[i])
            i += 1
    return "".join(out), in_comment


def preprocess(
    text: str, path: str, defines: dict[str, str] | None = None
) -> Preprocessed:
    """Run the preprocessor over one file; ``defines`` are the -D symbols."""
    result = Preprocessed(text="")
    symbols: dict[str, str] = dict(defines or {})
    stack: list[_Branch] = []
    lines_out: list[str] = []
    in_comment = False

    for number, line in enumerate(text.split("\n"), start=1):
        active = not stack or stack[-1].active
        starts_in_comment = in_comment
        code, in_comment = _strip_comments(line, in_comment)
        match = None if starts_in_comment else _DIRECTIVE.match(code)
        if match is not None:
            column = line.index("#") + 1
            location = Location(path, number, column)
            _directive(match, location, symbols, stack, result, active)
            lines_out.append("")
            continue
        if not starts_in_comment and line.startswith("%"):
            in_comment = False  # comment markers in a %-line are C text
            _header_define(line[1:], Location(path, number, 1), result)
            if active:
                result.passthrough.append(
                    PassThrough(line[1:], Location(path, number, 1))
                )
            result.header_lines.append(PassThrough(line[1:], Location(path, number, 1)))
            lines_out.append("")
            continue
        lines_out.append(line if active else "")

    if stack:
        raise XdrgenError(
            stack[-1].location, "unterminated conditional: expected '#endif'"
        )
    result.text = "\n".join(lines_out)
    return result


def _header_define(text: str, location: Location, result: Preprocessed) -> None:
    """``%#define NAME VALUE`` puts a constant into rpcgen's C header, which
    every generated C file includes, whatever ``#ifdef RPC_HDR`` branch the
    line sits in.  Its integer value is kept for the resolver."""
    match = _DIRECTIVE.match(text)
    if match is None or match.group(1) != "define":
        return
    parts = _DEFINE.match(match.group(2).strip())
    if parts is None or parts.group(2) is not None or not parts.group(3):
        return
    symbols = {name: str(value) for name, (value, _) in result.header_defines.items()}
    try:
        value = evaluate(parts.group(3).split("/*")[0], symbols, location, strict=True)
    except XdrgenError:
        return
    result.header_defines[parts.group(1)] = (value, location)


def _directive(
    match: re.Match[str],
    location: Location,
    symbols: dict[str, str],
    stack: list[_Branch],
    result: Preprocessed,
    active: bool,
) -> None:
    name, rest = match.group(1), match.group(2).strip()
    if name in ("if", "ifdef", "ifndef"):
        if not active:
            stack.append(_Branch(location, False, True, False))
            return
        if name == "if":
            truth = evaluate(rest, symbols, location) != 0
        else:
            word = _NAME.fullmatch(rest)
            if word is None:
                raise XdrgenError(location, f"expected a macro name after '#{name}'")
            truth = (rest in symbols) == (name == "ifdef")
        stack.append(_Branch(location, True, truth, truth))
    elif name in ("elif", "else"):
        if not stack:
            raise XdrgenError(location, f"'#{name}' without '#if'")
        branch = stack[-1]
        if branch.seen_else:
            raise XdrgenError(location, f"'#{name}' after '#else'")
        if name == "else":
            branch.seen_else = True
            truth = True
        else:
            truth = (
                branch.outer_active
                and not branch.taken
                and evaluate(rest, symbols, location) != 0
            )
        branch.active = branch.outer_active and not branch.taken and truth
        branch.taken = branch.taken or branch.active
    elif name == "endif":
        if not stack:
            raise XdrgenError(location, "'#endif' without '#if'")
        stack.pop()
    elif not active:
        return  # other directives in a false branch are skipped, as cpp does
    elif name == "define":
        parts = _DEFINE.match(rest)
        if parts is None:
            raise XdrgenError(location, "expected a macro name after '#define'")
        symbols[parts.group(1)] = parts.group(3) or "1"
        if parts.group(2) is None:
            result.defines[parts.group(1)] = (parts.group(3), location)
    elif name == "undef":
        symbols.pop(rest, None)
        result.defines.pop(rest, None)
    elif name == "include":
        target = _INCLUDE.match(rest)
        if target is None:
            raise XdrgenError(location, "expected \"FILE\" or <FILE> after '#include'")
        result.includes.append(Include(target.group(1), location))
    elif name == "error":
        raise XdrgenError(location, f"#error {rest}")
    elif name in ("pragma", "line", "ident", ""):
        return
    else:
        raise XdrgenError(
            location,
            f"unknown preprocessor directive '#{name}': expected one of include, "
            "define, undef, if, ifdef, ifndef, elif, else, endif, error, pragma",
        )


_TOKEN = re.compile(
    r"\s*(?:(?P<num>0[xX][0-9a-fA-F]+|\d+)[uUlL]*|(?P<name>[A-Za-z_]\w*)"
    r"|(?P<op>&&|\|\||==|!=|<=|>=|<<|>>|[-+*/%()!<>~&|^]))"
)


def evaluate(
    expression: str, symbols: dict[str, str], location: Location, strict: bool = False
) -> int:
    """Evaluate a ``#if`` expression: ``defined``, integers, macros (their
    integer value; 0 when undefined or not an integer, or an error when
    ``strict``), C operators."""
    tokens: list[tuple[str, str]] = []
    pos = 0
    expression = expression.strip()
    while pos < len(expression):
        match = _TOKEN.match(expression, pos)
        if match is None or match.end() == pos:
            raise XdrgenError(location, f"cannot read '#if' expression {expression!r}")
        kind = match.lastgroup or "op"
        tokens.append((kind, match.group(kind)))
        pos = match.end()
        while pos < len(expression) and expression[pos].isspace():
            pos += 1
    if not tokens:
        raise XdrgenError(location, "expected an expression after '#if'")
    parser = _IfParser(tokens, symbols, location, strict)
    value = parser.expression(0)
    if parser.pos != len(tokens):
        raise XdrgenError(
            location, f"unexpected {tokens[parser.pos][1]!r} in '#if' expression"
        )
    return value


_BINARY: dict[str, tuple[int, Callable[[int, int], int]]] = {
    "||": (1, lambda a, b: int(bool(a) or bool(b))),
    "&&": (2, lambda a, b: int(bool(a) and bool(b))),
    "|": (3, lambda a, b: a | b),
    "^": (4, lambda a, b: a ^ b),
    "&": (5, lambda a, b: a & b),
    "==": (6, lambda a, b: int(a == b)),
    "!=": (6, lambda a, b: int(a != b)),
    "<": (7, lambda a, b: int(a < b)),
    ">": (7, lambda a, b: int(a > b)),
    "<=": (7, lambda a, b: int(a <= b)),
    ">=": (7, lambda a, b: int(a >= b)),
    "<<": (8, lambda a, b: a << b),
    ">>": (8, lambda a, b: a >> b),
    "+": (9, lambda a, b: a + b),
    "-": (9, lambda a, b: a - b),
    "*": (10, lambda a, b: a * b),
    "/": (10, lambda a, b: a // b if b else 0),
    "%": (10, lambda a, b: a % b if b else 0),
}


class _IfParser:
    """Precedence climbing over the tokens of one ``#if`` line."""

    def __init__(
        self,
        tokens: list[tuple[str, str]],
        symbols: dict[str, str],
        location: Location,
        strict: bool,
    ) -> None:
        self.strict = strict
        self.tokens = tokens
        self.symbols = symbols
        self.location = location
        self.pos = 0

    def _next(self) -> tuple[str, str]:
        if self.pos >= len(self.tokens):
            raise XdrgenError(self.location, "unexpected end of '#if' expression")
        token = self.tokens[self.pos]
        self.pos += 1
        return token

    def _peek(self) -> str | None:
        return self.tokens[self.pos][1] if self.pos < len(self.tokens) else None

    def expression(self, min_precedence: int) -> int:
        left = self.unary()
        while True:
            op = self._peek()
            if op not in _BINARY:
                return left
            precedence, apply = _BINARY[op]
            if precedence < min_precedence:
                return left
            self.pos += 1
            left = apply(left, self.expression(precedence + 1))

    def unary(self) -> int:
        kind, text = self._next()
        if text == "!":
            return int(not self.unary())
        if text == "-":
            return -self.unary()
        if text == "~":
            return ~self.unary()
        if text == "(":
            value = self.expression(0)
            if self._next()[1] != ")":
                raise XdrgenError(self.location, "expected ')' in '#if' expression")
            return value
        if kind == "num":
            return int(text, 0)
        if kind == "name":
            if text == "defined":
                parens = self._peek() == "("
                if parens:
                    self.pos += 1
                kind, name = self._next()
                if kind != "name":
                    raise XdrgenError(self.location, "expected a name after 'defined'")
                if parens and self._next()[1] != ")":
                    raise XdrgenError(self.location, "expected ')' after 'defined(NAME'")
                return int(name in self.symbols)
            try:
                return int(self.symbols[text], 0)
            except (KeyError, ValueError):
                if self.strict:
                    raise XdrgenError(
                        self.location, f"'{text}' has no integer value"
                    ) from None
                return 0
        raise XdrgenError(self.location, f"unexpected {text!r} in '#if' expression")
