"""Typed parameters (``virTypedParameter``) as the procedures send and take
them, with the checks and the wire rules of libvirt's helpers."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from libvirt_rpc import remote_protocol as rp

from ..errors import ErrorDomain
from ..errors import ErrorNumber as E
from ..server import rpc_error

INT, UINT, LLONG, ULLONG, DOUBLE, BOOLEAN, STRING = range(1, 8)
_TYPE_NAMES = {INT: "int", UINT: "uint", LLONG: "llong", ULLONG: "ullong", DOUBLE: "double",
               BOOLEAN: "boolean", STRING: "string"}  # fmt: skip
_ARMS: dict[int, type[rp.RemoteTypedParamValue]] = {
    INT: rp.RemoteTypedParamValueI,
    UINT: rp.RemoteTypedParamValueUi,
    LLONG: rp.RemoteTypedParamValueL,
    ULLONG: rp.RemoteTypedParamValueUl,
    DOUBLE: rp.RemoteTypedParamValueD,
    BOOLEAN: rp.RemoteTypedParamValueB,
    STRING: rp.RemoteTypedParamValueS,
}

_KINDS = {arm: kind for kind, arm in _ARMS.items()}


def kind_of(p: rp.RemoteTypedParam) -> int:
    """A parameter's type (one of the constants above)."""
    return _KINDS[type(p.value)]


#: The flag a client sets when it can take string parameters.
STRING_OKAY = 1 << 2

Value = int | float | str


def param(field: str, kind: int, value: Value) -> rp.RemoteTypedParam:
    """One parameter; ``kind`` is one of the type constants above."""
    return rp.RemoteTypedParam(field, _ARMS[kind](value))  # type: ignore[call-arg]


def serialize(params: Iterable[rp.RemoteTypedParam], flags: int) -> list[rp.RemoteTypedParam]:
    """What virTypedParamsSerialize puts on the wire: strings only for a
    client that said it takes them."""
    return [p for p in params if flags & STRING_OKAY or kind_of(p) != STRING]


_ATTRIBUTES = {INT: "i", UINT: "ui", LLONG: "l", ULLONG: "ul", DOUBLE: "d", BOOLEAN: "b", STRING: "s"}


def value_of(p: rp.RemoteTypedParam) -> Value:
    """The Python value a parameter carries."""
    value: Value = getattr(p.value, _ATTRIBUTES[kind_of(p)])
    return value


def validate(params: Iterable[rp.RemoteTypedParam], allowed: Mapping[str, int]) -> dict[str, Value]:
    """virTypedParamsValidate: every field known and of its type; the
    parameters as a dict (the last of a repeated field wins)."""
    out: dict[str, Value] = {}
    for p in params:
        kind = allowed.get(p.field)
        if kind is None:
            raise rpc_error(
                E.VIR_ERR_ARGUMENT_UNSUPPORTED,
                f"parameter '{p.field}' not supported",
                domain=ErrorDomain.VIR_FROM_NONE,
            )
        if kind_of(p) != kind:
            got = _TYPE_NAMES[kind_of(p)]
            raise rpc_error(
                E.VIR_ERR_INVALID_ARG,
                f"invalid type '{got}' for parameter '{p.field}', expected '{_TYPE_NAMES[kind]}'",
                domain=ErrorDomain.VIR_FROM_NONE,
            )
        out[p.field] = value_of(p)
    return out
