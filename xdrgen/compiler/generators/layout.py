"""Generated code laid out as black lays it out, without running black.

The generators write one logical line per statement; this module wraps the
ones longer than black's 88 columns the way black does for the few forms
generated code uses (calls, assignments and returns of calls, ``if`` headers
ending in a call, ``def`` signatures, ``from ... import``), and spells
docstrings, numbers and bytes as black would.  Running black over the result
changes nothing (a test proves it on every shipped protocol); black's own
speed (about 1,000 lines a second) is what this saves.

A top-level block with a line outside those forms is handed to black itself
(:func:`black_format`), so unusual input still comes out right, only slower.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

LINE_LENGTH = 88
INDENT = "    "

# ---- literals -----------------------------------------------------------------


def integer_literal(text: str) -> str:
    """A C integer literal of a .x file in Python's spelling, as black writes
    it: hexadecimal digits in upper case, ``0755`` as ``0o755``."""
    sign, digits = ("-", text[1:]) if text.startswith("-") else ("", text)
    if digits[:2] in ("0x", "0X"):
        return f"{sign}0x{digits[2:].upper()}"
    if len(digits) > 1 and digits.startswith("0"):
        return f"{sign}0o{digits[1:]}"
    return text


def bytes_literal(data: bytes) -> str:
    """``b"\\x00\\x00\\x00\\x01"``: wire bytes, every one as a hex escape."""
    return 'b"' + "".join(f"\\x{byte:02x}" for byte in data) + '"'


def string_literal(text: str) -> str:
    """A str literal as black writes it: in double quotes unless the text
    holds a double quote and no single one."""
    literal = repr(text)
    if literal.startswith("'") and '"' not in text:
        literal = '"' + literal[1:-1].replace("\\'", "'") + '"'
    return literal


def docstring(text: str, indent: str) -> str:
    """The docstring statement (with its quotes) for ``text``, as black
    prints it at ``indent``: lines re-indented and stripped of trailing
    blanks, the closing quotes on a line of their own when they would not
    fit."""
    text = text.replace("\\", "\\\\").replace('"""', '\\"\\"\\"')
    lines = [_expand_leading_tabs(line) for line in text.split("\n")]
    if len(lines) == 1:
        body = lines[0].strip()
    else:
        margin = min(
            (len(line) - len(line.lstrip()) for line in lines[1:] if line.strip()),
            default=0,
        )
        out = [lines[0].strip()]
        for number, line in enumerate(lines[1:], start=1):
            stripped = line[margin:].rstrip()
            if stripped or number == len(lines) - 1:
                out.append(indent + stripped)
            else:
                out.append("")
        body = "\n".join(out)
    if body:
        if body[0] == '"':
            body = " " + body
        if body[-1] == '"':
            body += " "
    else:
        body = " "
    last = body.split("\n")[-1]
    if "\n" in body and len(last) + 3 > LINE_LENGTH and not body.endswith("\n" + indent):
        return f'"""{body}\n{indent}"""'
    return f'"""{body}"""'


def _expand_leading_tabs(line: str) -> str:
    stripped = line.lstrip()
    if not stripped or stripped == line:
        return line
    return line[: len(line) - len(stripped)].expandtabs(4) + stripped


def comment_lines(text: str | None, indent: str = "", marker: str = "#:") -> list[str]:
    """``#:`` comment lines (Sphinx's attribute documentation) for ``text``."""
    if not text:
        return []
    lines = text.strip().split("\n")
    return [f"{indent}{marker} {line.rstrip()}".rstrip() for line in lines]


# ---- tokens ---------------------------------------------------------------------

_TOKEN = re.compile(
    r"""
    (?P<string>[rbfRBF]{0,2}"(?:[^"\\]|\\.)*")
  | (?P<name>[A-Za-z_][A-Za-z_0-9]*)
  | (?P<number>0[xXoO][0-9A-Fa-f]+|\d+(?:\.\d*)?)
  | (?P<op>->|\*\*|//|==|!=|<=|>=|\+=|-=|\*=|:=|<<|>>|\.\.\.|[-+*/%&|^~<>=.,:;@()\[\]{}])
  | (?P<space>\s+)
    """,
    re.VERBOSE,
)
_OPENING = "([{"
_CLOSING = ")]}"
# Tokens that make an expression split at them (black's "delimiters"); a
# line whose wrapping would depend on them is left to black.
_DELIMITERS = frozenset(
    "+ - * / // % & | ^ << >> ** < > <= >= == != and or in is if else for lambda".split()
)
_UNARY = frozenset("+ - ~".split())  # also signs, which are no delimiters
_KEYWORD_STATEMENTS = ("return ", "if ", "elif ", "while ", "del ")


class _Line:
    """One logical line of code: its tokens (text, start, end) and, for
    each bracket, the index of its partner."""

    def __init__(self, code: str) -> None:
        self.code = code
        self.tokens: list[tuple[str, int, int]] = []
        position = 0
        while position < len(code):
            match = _TOKEN.match(code, position)
            if match is None:
                raise _Unsupported(code)
            if match.lastgroup != "space":
                self.tokens.append((match.group(), match.start(), match.end()))
            position = match.end()
        self.partner: dict[int, int] = {}
        stack: list[int] = []
        for index, (text, _, _) in enumerate(self.tokens):
            if text in _OPENING:
                stack.append(index)
            elif text in _CLOSING:
                if not stack:
                    raise _Unsupported(code)
                self.partner[index] = stack[-1]
                self.partner[stack.pop()] = index
        if stack:
            raise _Unsupported(code)

    def text(self, first: int, last: int) -> str:
        """The source of tokens ``first`` to ``last`` (inclusive)."""
        if first > last:
            return ""
        return self.code[self.tokens[first][1] : self.tokens[last][2]]

    def top_level(self, first: int, last: int) -> Iterable[int]:
        """Indexes of tokens between ``first`` and ``last`` that are not
        inside brackets."""
        index = first
        while index <= last:
            yield index
            if self.tokens[index][0] in _OPENING:
                index = self.partner[index]
            index += 1


_TYPE_IGNORE = re.compile(r"  # type: ignore(\[[\w, -]+\])?$")


class _Unsupported(Exception):
    """A line this module does not lay out itself (black will)."""


# ---- fitting lines --------------------------------------------------------------


def fit(line: str) -> list[str]:
    """``line`` (indentation + one logical line) as black would print it;
    raises :class:`_Unsupported` for forms it does not know."""
    code = line.lstrip(" ")
    indent = line[: len(line) - len(code)]
    if len(line) <= LINE_LENGTH or _TYPE_IGNORE.search(code):
        return [line]  # black does not split a line that ends in a type: ignore
    if code.startswith(("def ", "async def ")):
        return _split_def(indent, code)
    if code.startswith("from ") and " import " in code:
        return _split_import(indent, code)
    if code.startswith(("class ", "@", "#", '"')):
        raise _Unsupported(code)
    return _split_statement(indent, code)


def _split_import(indent: str, code: str) -> list[str]:
    head, _, names = code.partition(" import ")
    items = [item.strip() for item in names.strip("()").split(",") if item.strip()]
    return [f"{indent}{head} import ("] + [f"{indent}{INDENT}{item}," for item in items] + [f"{indent})"]


def _split_def(indent: str, code: str) -> list[str]:
    """black's left-hand split: at the parameters' brackets."""
    line = _Line(code)
    opening = next(i for i, token in enumerate(line.tokens) if token[0] == "(")
    closing = line.partner[opening]
    head = line.text(0, opening)
    tail = line.text(closing, len(line.tokens) - 1)
    params = _items(line, opening + 1, closing - 1)
    lines = [indent + head]
    inner = indent + INDENT
    body = ", ".join(params)
    if len(params) > 1 and len(inner + body) <= LINE_LENGTH:
        lines.append(inner + body)
    else:
        for param in params:  # a lone parameter gets black's trailing comma too
            lines.extend(_fit_item(inner, param + ","))
    if len(indent + tail) > LINE_LENGTH:
        raise _Unsupported(code)
    lines.append(indent + tail)
    return lines


def _items(line: _Line, first: int, last: int) -> list[str]:
    """The comma-separated items between two token indexes."""
    items = []
    start = first
    for index in line.top_level(first, last):
        if line.tokens[index][0] == ",":
            items.append(line.text(start, index - 1))
            start = index + 1
    if start <= last:
        items.append(line.text(start, last))
    return items


def _split_statement(indent: str, code: str) -> list[str]:
    """black's right-hand split of a statement that ends with a bracketed
    trailer (a call or subscript) or a display: at that bracket pair.  The
    value of an assignment, ``return`` or ``if`` sits in black's invisible
    parentheses: when splitting at the last bracket leaves a first line that
    is too long, black makes them visible instead (``x = (`` ... ``)``)."""
    line = _Line(code)
    value = _value_start(line, code)
    last = len(line.tokens) - 1
    end = last
    while end >= 0 and line.tokens[end][0] in (":", ","):
        end -= 1
    if end >= 0 and line.tokens[end][0] in _CLOSING:
        opening = line.partner[end]
        _check_expression(line, code, value or 0, opening)
        split = _split_at(line, indent, opening, end)
        if len(split[0]) <= LINE_LENGTH:
            return split
    elif value is not None:
        _check_expression(line, code, value, end + 1)
    else:
        raise _Unsupported(code)
    if value is None:
        raise _Unsupported(code)
    # the invisible parentheses around the value, made visible
    head = line.text(0, value - 1) + " ("
    tail = ")" + line.text(end + 1, last)
    inner = _fit_item(indent + INDENT, line.text(value, end))
    lines = [indent + head, *inner, indent + tail]
    if all(len(text) <= LINE_LENGTH for text in (lines[0], lines[-1])):
        return lines
    return _split_targets(line, indent, code, value)


def _split_targets(line: _Line, indent: str, code: str, value: int) -> list[str]:
    """``a, b, c = f(x)`` whose targets alone are too long: black puts the
    targets in parentheses, one per line."""
    equal = value - 1
    targets = _items(line, 0, equal - 1)
    if line.tokens[equal][0] != "=" or len(targets) < 2:
        raise _Unsupported(code)
    if any(text in _OPENING for text, _, _ in line.tokens[:equal]):
        raise _Unsupported(code)
    tail = indent + ") = " + line.text(value, len(line.tokens) - 1)
    if len(tail) > LINE_LENGTH:
        raise _Unsupported(code)
    return [indent + "(", *(f"{indent}{INDENT}{target}," for target in targets), tail]


def _value_start(line: _Line, code: str) -> int | None:
    """Where the expression in black's invisible parentheses starts: after
    the last top-level ``=`` (or augmented assignment) or the statement's
    keyword; None for an expression statement."""
    start = None
    for prefix in _KEYWORD_STATEMENTS:
        if code.startswith(prefix):
            start = 1
    for index in line.top_level(start or 0, len(line.tokens) - 1):
        if line.tokens[index][0] in ("=", "+=", "-=", "|=", "&="):
            start = index + 1
    return start


def _split_at(line: _Line, indent: str, opening: int, end: int) -> list[str]:
    """Head (up to ``opening``), body, tail (from ``end``), the body one line
    if it fits, else one item per line with a trailing comma."""
    head = line.text(0, opening)
    tail = line.text(end, len(line.tokens) - 1)
    items = _items(line, opening + 1, end - 1)
    display = opening == 0 or line.tokens[opening - 1][0] in ("=", "(", ",", "return", ":", "in")
    lines = [indent + head]
    inner = indent + INDENT
    body = line.text(opening + 1, end - 1)
    if body and not (display and len(items) > 1) and len(inner + body) <= LINE_LENGTH:
        lines.append(inner + body)
    elif len(items) > 1:
        for item in items:
            lines.extend(_fit_item(inner, item + ","))
    elif items:
        lines.extend(_fit_item(inner, body))
    lines.append(indent + tail)
    return lines


def _check_expression(line: _Line, code: str, start: int, opening: int) -> None:
    """What precedes the split bracket (in the value) must not hold a
    delimiter black would split at first (an operator, ``and``/``or``, a
    comma) nor another call (``f(a).g(b)``, which black weighs differently)."""
    previous = None
    for index in line.top_level(start, opening - 1):
        text = line.tokens[index][0]
        sign = text in _UNARY and (previous is None or previous in _DELIMITERS or previous in _OPENING)
        if (text in _DELIMITERS and not sign) or text == "," or text in _CLOSING:
            raise _Unsupported(code)
        if text in _OPENING and index != opening:
            raise _Unsupported(code)
        previous = text


def _fit_item(indent: str, item: str) -> list[str]:
    """One exploded item (with its trailing comma, if any), split further
    when it is still too long; what black cannot split (a string, a dotted
    name) stays as it is."""
    if len(indent + item) <= LINE_LENGTH:
        return [indent + item]
    tokens = [text for text, _, _ in _Line(item).tokens]
    if not any(t in _OPENING or t in _DELIMITERS for t in tokens):
        return [indent + item]
    return _split_statement(indent, item)


# ---- blocks -----------------------------------------------------------------------


def fit_lines(lines: Iterable[str]) -> list[str]:
    """Every line fitted; docstrings and comments are copied as they are.
    Raises :class:`_Unsupported` when a line is beyond this module."""
    out: list[str] = []
    in_string = False
    for line in lines:
        stripped = line.strip()
        if in_string:
            out.append(line)
            if stripped.endswith('"""'):
                in_string = False
            continue
        if stripped.startswith('"""'):
            out.append(line)
            in_string = not (len(stripped) >= 6 and stripped.endswith('"""'))
            continue
        if stripped.startswith("#") or not stripped:
            out.append(line)
            continue
        out.extend(fit(line))
    return out


def black_format(code: str) -> str:
    """black's output for a top-level block (the fallback)."""
    from .formatting import format_code

    return format_code(code)


def fit_block(block: str, fallback: Callable[[str], str] | None = None) -> str:
    """A top-level block laid out as black would (through black itself if a
    line is of a form this module does not handle)."""
    try:
        return "\n".join(fit_lines(block.split("\n")))
    except _Unsupported:
        return (fallback or black_format)(block).rstrip("\n")


def join_module(header: str, blocks: Iterable[str]) -> str:
    """A module: the header, then top-level blocks two blank lines apart
    (one between the imports and a first block that is neither a class nor
    a function, as black has it)."""
    parts = [block.strip("\n") for block in blocks if block.strip()]
    header = header.strip("\n")
    text = header
    if parts:
        first = next(line for line in parts[0].split("\n") if not line.startswith("#"))
        after_imports = header.split("\n")[-1].startswith(("from ", "import ", ")"))
        plain = not first.startswith(("class ", "def ", "async def ", "@"))
        text += ("\n\n" if after_imports and plain else "\n\n\n") + "\n\n\n".join(parts)
    return text + "\n"
