"""Encode/decode throughput of the generated ``libvirt_rpc`` codecs.

Run from the repository root::

    python benchmarks/codec.py            # full run (about 30 s on 2 idle cores)
    python benchmarks/codec.py --quick    # short run (a few seconds; smoke test)

Three codecs are measured in the same run, on the same values and the same
bytes:

``generated``
    the dataclasses xdrgen generated (``encode()`` / ``decode()``).
``xdrlib``
    a hand-written codec on ``xdrlib3.Packer``/``Unpacker``, written the way a
    careful person writes one: string and array lengths checked against their
    bounds before reading, UTF-8 validated, enum and union discriminants
    checked, fixed opaque lengths checked, hyper ranges checked (xdrlib's
    ``pack_hyper`` silently wraps), trailing bytes rejected (``done()``).  It
    does not check that padding bytes are zero (xdrlib does not either); the
    generated codec does.
``reflection``
    a generic codec that walks a run-time schema (one descriptor per field,
    ``dataclasses.fields()``/``getattr``/``setattr``, dispatch on the field's
    kind for every field): what a tool without code generation does.

All three decode to, and encode from, the generated dataclasses, so the cost
of building the Python objects is the same for each; only the codec differs.
Before anything is timed, the script checks that the three encodings are
byte-for-byte identical and that each codec decodes them back to the original
value.

Timing: ``time.perf_counter`` around a loop of N calls, N calibrated so that one
loop takes about ``--min-time`` seconds; the codecs are interleaved (one loop
of each per round) and the best of ``--repeat`` rounds is kept.  The last line
says whether the target "generated decode >= 2x the xdrlib-style codec" holds
for each payload (the exit status does not depend on it).
"""

from __future__ import annotations

import checkout  # noqa: F401  (this checkout's xdrgen and libvirt_rpc first)

import argparse
import dataclasses
import platform
import random
import struct
import sys
import time
from collections.abc import Callable
from typing import Any

import xdrlib3

from libvirt_rpc import remote_protocol as rp
from libvirt_rpc import virnetprotocol as vn
from timing import best_interleaved  # this folder's

TARGET_DECODE_RATIO = 2.0

REMOTE_STRING_MAX = rp.REMOTE_STRING_MAX
REMOTE_DOMAIN_LIST_MAX = rp.REMOTE_DOMAIN_LIST_MAX
REMOTE_CONNECT_GET_ALL_DOMAIN_STATS_MAX = rp.REMOTE_CONNECT_GET_ALL_DOMAIN_STATS_MAX
VIR_UUID_BUFLEN = rp.VIR_UUID_BUFLEN

U32_MAX = 0xFFFFFFFF
I64_MIN, I64_MAX = -(1 << 63), (1 << 63) - 1
U64_MAX = (1 << 64) - 1


# =============================================================================
# Payloads
# =============================================================================


def make_header() -> vn.VirNetMessageHeader:
    return vn.VirNetMessageHeader(
        prog=rp.REMOTE_PROGRAM,
        vers=rp.REMOTE_PROTOCOL_VERSION,
        proc=16,  # REMOTE_PROC_DOMAIN_GET_INFO
        type=vn.VirNetMessageType.VIR_NET_REPLY,
        serial=123456,
        status=vn.VirNetMessageStatus.VIR_NET_OK,
    )


def make_get_info() -> rp.RemoteDomainGetInfoRet:
    return rp.RemoteDomainGetInfoRet(
        state=1,
        maxMem=8 * 1024 * 1024,
        memory=4 * 1024 * 1024,
        nrVirtCpu=4,
        cpuTime=123_456_789_012_345,
    )


def make_domain(rng: random.Random, index: int) -> rp.RemoteNonnullDomain:
    return rp.RemoteNonnullDomain(
        name=f"domain-{index}", uuid=rng.randbytes(16), id=index
    )


def make_list_all_domains(count: int = 1000) -> rp.RemoteConnectListAllDomainsRet:
    rng = random.Random(4506)
    return rp.RemoteConnectListAllDomainsRet(
        domains=[make_domain(rng, i) for i in range(count)], ret=count
    )


def make_typed_params(count: int = 50) -> rp.RemoteConnectGetAllDomainStatsRet:
    """One ``remote_domain_stats_record`` with ``count`` typed parameters
    cycling through all seven arms (``remote_domain_get_scheduler_parameters_ret``
    is bounded to 16 parameters, so the bulk-stats reply carries them)."""
    rng = random.Random(5531)
    arms: list[Callable[[int], tuple[str, rp.RemoteTypedParamValue]]] = [
        lambda i: (f"vcpu.{i}.state", rp.RemoteTypedParamValueI(rng.randint(-5, 5))),
        lambda i: (
            f"vcpu.{i}.wait",
            rp.RemoteTypedParamValueUi(rng.randrange(1 << 32)),
        ),
        lambda i: (
            f"block.{i}.errs",
            rp.RemoteTypedParamValueL(-rng.randrange(1 << 40)),
        ),
        lambda i: (
            f"block.{i}.rd.bytes",
            rp.RemoteTypedParamValueUl(rng.randrange(1 << 64)),
        ),
        lambda i: (f"cpu.{i}.load", rp.RemoteTypedParamValueD(rng.random() * 100.0)),
        lambda i: (f"net.{i}.active", rp.RemoteTypedParamValueB(i & 1)),
        lambda i: (
            f"block.{i}.path",
            rp.RemoteTypedParamValueS(f"/var/lib/libvirt/images/disk{i}.qcow2"),
        ),
    ]
    params = []
    for i in range(count):
        field, value = arms[i % len(arms)](i)
        params.append(rp.RemoteTypedParam(field=field, value=value))
    record = rp.RemoteDomainStatsRecord(dom=make_domain(rng, 7), params=params)
    return rp.RemoteConnectGetAllDomainStatsRet(retStats=[record])


# =============================================================================
# (b) hand-written xdrlib-style codec
# =============================================================================


class HandCodecError(ValueError):
    pass


def _x_pack_string(p: xdrlib3.Packer, s: str, maximum: int) -> None:
    raw = s.encode("utf-8")
    if len(raw) > maximum:
        raise HandCodecError(f"string of {len(raw)} bytes exceeds {maximum}")
    p.pack_string(raw)


def _x_unpack_string(u: xdrlib3.Unpacker, maximum: int) -> str:
    n = u.unpack_uint()
    if n > maximum:
        raise HandCodecError(f"string of {n} bytes exceeds {maximum}")
    return u.unpack_fopaque(n).decode("utf-8")


def _x_pack_hyper(p: xdrlib3.Packer, x: int) -> None:
    if not I64_MIN <= x <= I64_MAX:
        raise HandCodecError(f"{x} out of range for hyper")
    p.pack_hyper(x)


def _x_pack_uhyper(p: xdrlib3.Packer, x: int) -> None:
    if not 0 <= x <= U64_MAX:
        raise HandCodecError(f"{x} out of range for unsigned hyper")
    p.pack_uhyper(x)


# -- virNetMessageHeader


def x_pack_header(p: xdrlib3.Packer, h: vn.VirNetMessageHeader) -> None:
    p.pack_uint(h.prog)
    p.pack_uint(h.vers)
    p.pack_int(h.proc)
    p.pack_enum(vn.VirNetMessageType(h.type))
    p.pack_uint(h.serial)
    p.pack_enum(vn.VirNetMessageStatus(h.status))


def x_unpack_header(u: xdrlib3.Unpacker) -> vn.VirNetMessageHeader:
    prog = u.unpack_uint()
    vers = u.unpack_uint()
    proc = u.unpack_int()
    type_ = vn.VirNetMessageType(u.unpack_enum())
    serial = u.unpack_uint()
    status = vn.VirNetMessageStatus(u.unpack_enum())
    return vn.VirNetMessageHeader(prog, vers, proc, type_, serial, status)


# -- remote_domain_get_info_ret


def x_pack_get_info(p: xdrlib3.Packer, r: rp.RemoteDomainGetInfoRet) -> None:
    p.pack_uint(r.state)
    _x_pack_uhyper(p, r.maxMem)
    _x_pack_uhyper(p, r.memory)
    p.pack_uint(r.nrVirtCpu)
    _x_pack_uhyper(p, r.cpuTime)


def x_unpack_get_info(u: xdrlib3.Unpacker) -> rp.RemoteDomainGetInfoRet:
    state = u.unpack_uint()
    max_mem = u.unpack_uhyper()
    memory = u.unpack_uhyper()
    nr_virt_cpu = u.unpack_uint()
    cpu_time = u.unpack_uhyper()
    return rp.RemoteDomainGetInfoRet(state, max_mem, memory, nr_virt_cpu, cpu_time)


# -- remote_nonnull_domain / remote_connect_list_all_domains_ret


def x_pack_domain(p: xdrlib3.Packer, d: rp.RemoteNonnullDomain) -> None:
    _x_pack_string(p, d.name, REMOTE_STRING_MAX)
    if len(d.uuid) != VIR_UUID_BUFLEN:
        raise HandCodecError("uuid must be 16 bytes")
    p.pack_fopaque(VIR_UUID_BUFLEN, d.uuid)
    p.pack_int(d.id)


def x_unpack_domain(u: xdrlib3.Unpacker) -> rp.RemoteNonnullDomain:
    name = _x_unpack_string(u, REMOTE_STRING_MAX)
    uuid = u.unpack_fopaque(VIR_UUID_BUFLEN)
    id_ = u.unpack_int()
    return rp.RemoteNonnullDomain(name, uuid, id_)


def x_pack_list_all_domains(
    p: xdrlib3.Packer, r: rp.RemoteConnectListAllDomainsRet
) -> None:
    if len(r.domains) > REMOTE_DOMAIN_LIST_MAX:
        raise HandCodecError("too many domains")
    p.pack_array(r.domains, lambda d: x_pack_domain(p, d))
    p.pack_uint(r.ret)


def x_unpack_list_all_domains(
    u: xdrlib3.Unpacker,
) -> rp.RemoteConnectListAllDomainsRet:
    n = u.unpack_uint()
    if n > REMOTE_DOMAIN_LIST_MAX:
        raise HandCodecError("too many domains")
    domains = u.unpack_farray(n, lambda: x_unpack_domain(u))
    ret = u.unpack_uint()
    return rp.RemoteConnectListAllDomainsRet(domains, ret)


# -- remote_typed_param / remote_connect_get_all_domain_stats_ret


def x_pack_typed_param(p: xdrlib3.Packer, tp: rp.RemoteTypedParam) -> None:
    _x_pack_string(p, tp.field, REMOTE_STRING_MAX)
    v = tp.value
    if isinstance(v, rp.RemoteTypedParamValueI):
        p.pack_int(1)
        p.pack_int(v.i)
    elif isinstance(v, rp.RemoteTypedParamValueUi):
        p.pack_int(2)
        p.pack_uint(v.ui)
    elif isinstance(v, rp.RemoteTypedParamValueL):
        p.pack_int(3)
        _x_pack_hyper(p, v.l)
    elif isinstance(v, rp.RemoteTypedParamValueUl):
        p.pack_int(4)
        _x_pack_uhyper(p, v.ul)
    elif isinstance(v, rp.RemoteTypedParamValueD):
        p.pack_int(5)
        p.pack_double(v.d)
    elif isinstance(v, rp.RemoteTypedParamValueB):
        p.pack_int(6)
        p.pack_int(v.b)
    elif isinstance(v, rp.RemoteTypedParamValueS):
        p.pack_int(7)
        _x_pack_string(p, v.s, REMOTE_STRING_MAX)
    else:
        raise HandCodecError(f"bad typed param value {v!r}")


def x_unpack_typed_param(u: xdrlib3.Unpacker) -> rp.RemoteTypedParam:
    field = _x_unpack_string(u, REMOTE_STRING_MAX)
    kind = u.unpack_int()
    value: rp.RemoteTypedParamValue
    if kind == 1:
        value = rp.RemoteTypedParamValueI(u.unpack_int())
    elif kind == 2:
        value = rp.RemoteTypedParamValueUi(u.unpack_uint())
    elif kind == 3:
        value = rp.RemoteTypedParamValueL(u.unpack_hyper())
    elif kind == 4:
        value = rp.RemoteTypedParamValueUl(u.unpack_uhyper())
    elif kind == 5:
        value = rp.RemoteTypedParamValueD(u.unpack_double())
    elif kind == 6:
        value = rp.RemoteTypedParamValueB(u.unpack_int())
    elif kind == 7:
        value = rp.RemoteTypedParamValueS(_x_unpack_string(u, REMOTE_STRING_MAX))
    else:
        raise HandCodecError(f"bad typed param type {kind}")
    return rp.RemoteTypedParam(field, value)


def x_pack_stats_record(p: xdrlib3.Packer, r: rp.RemoteDomainStatsRecord) -> None:
    x_pack_domain(p, r.dom)
    if len(r.params) > REMOTE_CONNECT_GET_ALL_DOMAIN_STATS_MAX:
        raise HandCodecError("too many params")
    p.pack_array(r.params, lambda tp: x_pack_typed_param(p, tp))


def x_unpack_stats_record(u: xdrlib3.Unpacker) -> rp.RemoteDomainStatsRecord:
    dom = x_unpack_domain(u)
    n = u.unpack_uint()
    if n > REMOTE_CONNECT_GET_ALL_DOMAIN_STATS_MAX:
        raise HandCodecError("too many params")
    params = u.unpack_farray(n, lambda: x_unpack_typed_param(u))
    return rp.RemoteDomainStatsRecord(dom, params)


def x_pack_all_domain_stats(
    p: xdrlib3.Packer, r: rp.RemoteConnectGetAllDomainStatsRet
) -> None:
    if len(r.retStats) > REMOTE_DOMAIN_LIST_MAX:
        raise HandCodecError("too many records")
    p.pack_array(r.retStats, lambda rec: x_pack_stats_record(p, rec))


def x_unpack_all_domain_stats(
    u: xdrlib3.Unpacker,
) -> rp.RemoteConnectGetAllDomainStatsRet:
    n = u.unpack_uint()
    if n > REMOTE_DOMAIN_LIST_MAX:
        raise HandCodecError("too many records")
    return rp.RemoteConnectGetAllDomainStatsRet(
        u.unpack_farray(n, lambda: x_unpack_stats_record(u))
    )


def xdrlib_encoder(
    pack: Callable[[xdrlib3.Packer, Any], None],
) -> Callable[[Any], bytes]:
    def encode(value: Any) -> bytes:
        p = xdrlib3.Packer()
        pack(p, value)
        return p.get_buffer()

    return encode


def xdrlib_decoder(unpack: Callable[[xdrlib3.Unpacker], Any]) -> Callable[[bytes], Any]:
    def decode(data: bytes) -> Any:
        u = xdrlib3.Unpacker(data)
        value = unpack(u)
        u.done()
        return value

    return decode


# =============================================================================
# (c) reflection-based codec: a generic walker over a run-time schema
# =============================================================================

# A type descriptor is a tuple whose first item is the kind:
#   ("int",) ("uint",) ("hyper",) ("uhyper",) ("double",)
#   ("enum", EnumClass) ("string", max) ("fopaque", n)
#   ("array", max, element_descriptor) ("struct", cls) ("union", cls)
STRING = ("string", REMOTE_STRING_MAX)
UUID = ("fopaque", VIR_UUID_BUFLEN)

STRUCT_SCHEMA: dict[type, dict[str, tuple[Any, ...]]] = {
    vn.VirNetMessageHeader: {
        "prog": ("uint",),
        "vers": ("uint",),
        "proc": ("int",),
        "type": ("enum", vn.VirNetMessageType),
        "serial": ("uint",),
        "status": ("enum", vn.VirNetMessageStatus),
    },
    rp.RemoteDomainGetInfoRet: {
        "state": ("uint",),
        "maxMem": ("uhyper",),
        "memory": ("uhyper",),
        "nrVirtCpu": ("uint",),
        "cpuTime": ("uhyper",),
    },
    rp.RemoteNonnullDomain: {"name": STRING, "uuid": UUID, "id": ("int",)},
    rp.RemoteConnectListAllDomainsRet: {
        "domains": (
            "array",
            REMOTE_DOMAIN_LIST_MAX,
            ("struct", rp.RemoteNonnullDomain),
        ),
        "ret": ("uint",),
    },
    rp.RemoteTypedParam: {
        "field": STRING,
        "value": ("union", rp.RemoteTypedParamValue),
    },
    rp.RemoteDomainStatsRecord: {
        "dom": ("struct", rp.RemoteNonnullDomain),
        "params": (
            "array",
            REMOTE_CONNECT_GET_ALL_DOMAIN_STATS_MAX,
            ("struct", rp.RemoteTypedParam),
        ),
    },
    rp.RemoteConnectGetAllDomainStatsRet: {
        "retStats": (
            "array",
            REMOTE_DOMAIN_LIST_MAX,
            ("struct", rp.RemoteDomainStatsRecord),
        ),
    },
}

# union class -> (discriminant descriptor, {discriminant: (arm class, arm
# field descriptors)})
UNION_SCHEMA: dict[
    type, tuple[tuple[Any, ...], dict[int, tuple[Any, dict[str, Any]]]]
] = {
    rp.RemoteTypedParamValue: (
        ("int",),
        {
            1: (rp.RemoteTypedParamValueI, {"i": ("int",)}),
            2: (rp.RemoteTypedParamValueUi, {"ui": ("uint",)}),
            3: (rp.RemoteTypedParamValueL, {"l": ("hyper",)}),
            4: (rp.RemoteTypedParamValueUl, {"ul": ("uhyper",)}),
            5: (rp.RemoteTypedParamValueD, {"d": ("double",)}),
            6: (rp.RemoteTypedParamValueB, {"b": ("int",)}),
            7: (rp.RemoteTypedParamValueS, {"s": STRING}),
        },
    ),
}

_PRIMITIVE_FORMATS = {
    "int": ">i",
    "uint": ">I",
    "hyper": ">q",
    "uhyper": ">Q",
    "double": ">d",
    "enum": ">i",
}


class ReflectError(ValueError):
    pass


def reflect_pack(desc: tuple[Any, ...], value: Any, out: bytearray) -> None:
    kind = desc[0]
    if kind in ("int", "uint", "hyper", "uhyper", "double"):
        try:
            out += struct.pack(_PRIMITIVE_FORMATS[kind], value)
        except struct.error as error:
            raise ReflectError(str(error)) from None
    elif kind == "enum":
        out += struct.pack(">i", desc[1](value))
    elif kind == "string":
        raw = value.encode("utf-8")
        if len(raw) > desc[1]:
            raise ReflectError("string too long")
        out += struct.pack(">I", len(raw))
        out += raw
        out += b"\0" * (-len(raw) & 3)
    elif kind == "fopaque":
        if len(value) != desc[1]:
            raise ReflectError("wrong fixed opaque length")
        out += value
        out += b"\0" * (-desc[1] & 3)
    elif kind == "array":
        if len(value) > desc[1]:
            raise ReflectError("array too long")
        out += struct.pack(">I", len(value))
        for item in value:
            reflect_pack(desc[2], item, out)
    elif kind == "struct":
        schema = STRUCT_SCHEMA[desc[1]]
        for field in dataclasses.fields(value):
            reflect_pack(schema[field.name], getattr(value, field.name), out)
    elif kind == "union":
        disc_desc, arms = UNION_SCHEMA[desc[1]]
        for disc, (arm_cls, arm_fields) in arms.items():
            if type(value) is arm_cls:
                reflect_pack(disc_desc, disc, out)
                for field in dataclasses.fields(value):
                    reflect_pack(
                        arm_fields[field.name], getattr(value, field.name), out
                    )
                break
        else:
            raise ReflectError(f"no arm for {type(value).__name__}")
    else:
        raise ReflectError(f"unknown kind {kind}")


def reflect_unpack(desc: tuple[Any, ...], data: bytes, pos: int) -> tuple[Any, int]:
    kind = desc[0]
    if kind in ("int", "uint", "hyper", "uhyper", "double", "enum"):
        fmt = _PRIMITIVE_FORMATS[kind]
        size = struct.calcsize(fmt)
        if pos + size > len(data):
            raise ReflectError("truncated")
        (value,) = struct.unpack_from(fmt, data, pos)
        if kind == "enum":
            value = desc[1](value)
        return value, pos + size
    if kind == "string":
        (length,) = (
            struct.unpack_from(">I", data, pos) if pos + 4 <= len(data) else (-1,)
        )
        if length < 0:
            raise ReflectError("truncated")
        if length > desc[1]:
            raise ReflectError("string too long")
        start = pos + 4
        end = start + length
        if end > len(data):
            raise ReflectError("truncated")
        return data[start:end].decode("utf-8"), start + ((length + 3) & ~3)
    if kind == "fopaque":
        end = pos + desc[1]
        if end > len(data):
            raise ReflectError("truncated")
        return data[pos:end], pos + ((desc[1] + 3) & ~3)
    if kind == "array":
        count, pos = reflect_unpack(("uint",), data, pos)
        if count > desc[1]:
            raise ReflectError("array too long")
        items = []
        for _ in range(count):
            item, pos = reflect_unpack(desc[2], data, pos)
            items.append(item)
        return items, pos
    if kind == "struct":
        cls = desc[1]
        schema = STRUCT_SCHEMA[cls]
        obj = cls.__new__(cls)
        for field in dataclasses.fields(cls):
            value, pos = reflect_unpack(schema[field.name], data, pos)
            setattr(obj, field.name, value)
        return obj, pos
    if kind == "union":
        disc_desc, arms = UNION_SCHEMA[desc[1]]
        disc, pos = reflect_unpack(disc_desc, data, pos)
        if disc not in arms:
            raise ReflectError(f"bad discriminant {disc}")
        arm_cls, arm_fields = arms[disc]
        obj = arm_cls.__new__(arm_cls)
        for field in dataclasses.fields(arm_cls):
            value, pos = reflect_unpack(arm_fields[field.name], data, pos)
            setattr(obj, field.name, value)
        return obj, pos
    raise ReflectError(f"unknown kind {kind}")


def reflect_encoder(cls: type) -> Callable[[Any], bytes]:
    desc = ("struct", cls)

    def encode(value: Any) -> bytes:
        out = bytearray()
        reflect_pack(desc, value, out)
        return bytes(out)

    return encode


def reflect_decoder(cls: type) -> Callable[[bytes], Any]:
    desc = ("struct", cls)

    def decode(data: bytes) -> Any:
        value, pos = reflect_unpack(desc, data, 0)
        if pos != len(data):
            raise ReflectError("trailing bytes")
        return value

    return decode


# =============================================================================
# Harness
# =============================================================================

CODECS = ("generated", "xdrlib", "reflection")


@dataclasses.dataclass
class Payload:
    name: str
    value: Any
    encoders: dict[str, Callable[[Any], bytes]]
    decoders: dict[str, Callable[[bytes], Any]]
    data: bytes = b""


def make_payloads(domains: int, params: int) -> list[Payload]:
    def entry(name, value, cls, pack, unpack):
        return Payload(
            name,
            value,
            {
                "generated": cls.encode,
                "xdrlib": xdrlib_encoder(pack),
                "reflection": reflect_encoder(cls),
            },
            {
                "generated": cls.decode,
                "xdrlib": xdrlib_decoder(unpack),
                "reflection": reflect_decoder(cls),
            },
        )

    return [
        entry(
            "header",
            make_header(),
            vn.VirNetMessageHeader,
            x_pack_header,
            x_unpack_header,
        ),
        entry(
            "get_info",
            make_get_info(),
            rp.RemoteDomainGetInfoRet,
            x_pack_get_info,
            x_unpack_get_info,
        ),
        entry(
            f"list_all_domains[{domains}]",
            make_list_all_domains(domains),
            rp.RemoteConnectListAllDomainsRet,
            x_pack_list_all_domains,
            x_unpack_list_all_domains,
        ),
        entry(
            f"typed_params[{params}]",
            make_typed_params(params),
            rp.RemoteConnectGetAllDomainStatsRet,
            x_pack_all_domain_stats,
            x_unpack_all_domain_stats,
        ),
    ]


def check_agreement(payload: Payload) -> None:
    """Every codec must produce the same bytes and decode them back to the
    original value (also checked: types of the decoded fields)."""
    encodings = {name: enc(payload.value) for name, enc in payload.encoders.items()}
    reference = encodings["generated"]
    for name, data in encodings.items():
        if data != reference:
            raise AssertionError(
                f"{payload.name}: {name} encoding differs from generated "
                f"({len(data)} vs {len(reference)} bytes)"
            )
    for name, dec in payload.decoders.items():
        decoded = dec(reference)
        if decoded != payload.value or repr(decoded) != repr(payload.value):
            raise AssertionError(f"{payload.name}: {name} decode does not round-trip")
    payload.data = reference


def measure(
    payload: Payload, op: str, repeat: int, min_time: float
) -> dict[str, float]:
    """Best-of-``repeat`` seconds per call for each codec, interleaved."""
    if op == "encode":
        calls = {
            name: (lambda enc=enc, v=payload.value: enc(v))
            for name, enc in payload.encoders.items()
        }
    else:
        calls = {
            name: (lambda dec=dec, d=payload.data: dec(d))
            for name, dec in payload.decoders.items()
        }
    return best_interleaved(calls, repeat, min_time)


def fmt_rate(ops: float) -> str:
    return f"{ops:,.0f}"


def fmt_mb(ops: float, size: int) -> str:
    return f"{ops * size / 1e6:.1f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="short run (smoke test)")
    parser.add_argument("--repeat", type=int, help="rounds per measurement (best kept)")
    parser.add_argument("--min-time", type=float, help="seconds per timed loop")
    args = parser.parse_args(argv)

    repeat = args.repeat or (2 if args.quick else 7)
    min_time = args.min_time or (0.01 if args.quick else 0.15)
    domains, params = 1000, 50

    t0 = time.perf_counter()
    payloads = make_payloads(domains, params)
    for payload in payloads:
        check_agreement(payload)
    print(
        f"xdrgen codec benchmark: Python {platform.python_version()} "
        f"({platform.python_implementation()}), {platform.machine()}; "
        f"best of {repeat} x >= {min_time:g} s loops"
        + (" [--quick: numbers are rough]" if args.quick else "")
    )
    print("encodings identical across codecs, decoded values equal: OK")
    print()

    big = 1024  # bytes: MB/s shown from this size up
    header = (
        f"{'payload':<24}{'bytes':>7}  {'op':<6}"
        f"{'generated':>13}{'xdrlib':>13}{'reflection':>13}"
        f"{'gen/xdrlib':>12}{'gen/refl':>10}"
        f"{'MB/s gen':>10}{'xdrlib':>8}{'refl':>8}"
    )
    print("ops/s (best of repeats; higher is better)")
    print(header)
    print("-" * len(header))
    decode_ratios: dict[str, float] = {}
    for payload in payloads:
        size = len(payload.data)
        for op in ("encode", "decode"):
            best = measure(payload, op, repeat, min_time)
            ops = {name: 1.0 / best[name] for name in CODECS}
            vs_xdrlib = ops["generated"] / ops["xdrlib"]
            vs_reflect = ops["generated"] / ops["reflection"]
            if op == "decode":
                decode_ratios[payload.name] = vs_xdrlib
            mbs = (
                f"{fmt_mb(ops['generated'], size):>10}"
                f"{fmt_mb(ops['xdrlib'], size):>8}"
                f"{fmt_mb(ops['reflection'], size):>8}"
                if size >= big
                else f"{'-':>10}{'-':>8}{'-':>8}"
            )
            print(
                f"{payload.name:<24}{size:>7}  {op:<6}"
                f"{fmt_rate(ops['generated']):>13}{fmt_rate(ops['xdrlib']):>13}"
                f"{fmt_rate(ops['reflection']):>13}"
                f"{vs_xdrlib:>11.2f}x{vs_reflect:>9.2f}x{mbs}",
                flush=True,
            )
    print("-" * len(header))
    print(f"total time {time.perf_counter() - t0:.1f} s")
    verdicts = [
        f"{name} {'MET' if ratio >= TARGET_DECODE_RATIO else 'NOT MET'} ({ratio:.2f}x)"
        for name, ratio in decode_ratios.items()
    ]
    overall = all(r >= TARGET_DECODE_RATIO for r in decode_ratios.values())
    print(
        f"target generated decode >= {TARGET_DECODE_RATIO:g}x xdrlib-style: "
        + "; ".join(verdicts)
        + f" -> {'all met' if overall else 'NOT met for all payloads'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
