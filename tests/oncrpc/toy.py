"""A small RPC program written the way the generator will write stubs for
a ``.x`` file's ``program`` block (types, procedures, clients, handler),
so that the tests exercise -- and mypy --strict checks -- the runtime API
that generated code uses.

    program TOY_PROGRAM {
        version TOY_V2 { ...procedures... } = 2;
        version TOY_V3 { ...the same... } = 3;
    } = 0x3B9ACA01;
"""

from __future__ import annotations

import asyncio
import struct
from dataclasses import dataclass
from typing import Self

from xdrgen.runtime import xdr
from xdrgen.runtime.oncrpc import (
    BOOL,
    INT,
    UINT,
    AsyncClient,
    AuthError,
    AuthStat,
    AuthSys,
    Call,
    Client,
    GarbageArguments,
    Handler,
    Opaque,
    Procedure,
    ProcedureUnavailable,
    ProgramUnavailable,
    RpcSystemError,
    String,
    unimplemented,
)

TOY_PROGRAM = 0x3B9ACA01
TOY_V2 = 2
TOY_V3 = 3

# typedefs
NAME = String(1024, "name")
BLOB = Opaque(name="blob")

_S_III = struct.Struct(">III")


@dataclass(slots=True)
class Identity(xdr.XdrStruct):
    """``struct identity { unsigned flavor; unsigned uid; string machine<255>; }``"""

    flavor: int
    uid: int
    gids: int
    machine: str

    def pack_into(self, out: bytearray) -> None:
        try:
            out += _S_III.pack(self.flavor, self.uid, self.gids)
        except struct.error:
            xdr.pack_failed_fields("Identity", len(out), self, "flavor uid gids", ">III")
        xdr.pack_string(out, self.machine, 255, "Identity.machine")

    @classmethod
    def unpack_from(cls, data: xdr.Buffer, offset: int = 0) -> tuple[Self, int]:
        try:
            flavor, uid, gids = _S_III.unpack_from(data, offset)
        except struct.error:
            xdr.truncated("Identity", offset, data)
        machine, offset = String(255, "Identity.machine").unpack_from(data, offset + 12)
        return cls(flavor, uid, gids, machine), offset


TOYPROC_NULL = Procedure(0, "TOYPROC_NULL", "toyproc_null")
TOYPROC_ECHO = Procedure(1, "TOYPROC_ECHO", "toyproc_echo", (NAME,), NAME)
TOYPROC_ADD = Procedure(2, "TOYPROC_ADD", "toyproc_add", (INT, INT), INT)
TOYPROC_WHOAMI = Procedure(3, "TOYPROC_WHOAMI", "toyproc_whoami", (), Identity)
TOYPROC_SLEEP = Procedure(4, "TOYPROC_SLEEP", "toyproc_sleep", (UINT,), BOOL)
TOYPROC_FAIL = Procedure(5, "TOYPROC_FAIL", "toyproc_fail", (UINT,))
TOYPROC_BLOB = Procedure(6, "TOYPROC_BLOB", "toyproc_blob", (UINT,), BLOB)
TOYPROC_SINK = Procedure(7, "TOYPROC_SINK", "toyproc_sink", (BLOB,), UINT)
TOYPROC_UNIMPLEMENTED = Procedure(8, "TOYPROC_UNIMPLEMENTED", "toyproc_unimplemented")

PROCEDURES = {
    p.number: p
    for p in (
        TOYPROC_NULL,
        TOYPROC_ECHO,
        TOYPROC_ADD,
        TOYPROC_WHOAMI,
        TOYPROC_SLEEP,
        TOYPROC_FAIL,
        TOYPROC_BLOB,
        TOYPROC_SINK,
        TOYPROC_UNIMPLEMENTED,
    )
}


class ToyV3Client(Client):
    PROGRAM = TOY_PROGRAM
    VERSION = TOY_V3

    def toyproc_null(self) -> None:
        return self._call(TOYPROC_NULL)

    def toyproc_echo(self, name: str) -> str:
        return self._call(TOYPROC_ECHO, name)

    def toyproc_add(self, a: int, b: int) -> int:
        return self._call(TOYPROC_ADD, a, b)

    def toyproc_whoami(self) -> Identity:
        return self._call(TOYPROC_WHOAMI)

    def toyproc_sleep(self, milliseconds: int) -> bool:
        return self._call(TOYPROC_SLEEP, milliseconds)

    def toyproc_fail(self, how: int) -> None:
        return self._call(TOYPROC_FAIL, how)

    def toyproc_blob(self, size: int) -> bytes:
        return self._call(TOYPROC_BLOB, size)

    def toyproc_sink(self, data: bytes) -> int:
        return self._call(TOYPROC_SINK, data)

    def toyproc_unimplemented(self) -> None:
        return self._call(TOYPROC_UNIMPLEMENTED)


class ToyV2Client(ToyV3Client):
    VERSION = TOY_V2


class ToyV3AsyncClient(AsyncClient):
    PROGRAM = TOY_PROGRAM
    VERSION = TOY_V3

    async def toyproc_null(self) -> None:
        return await self._call(TOYPROC_NULL)

    async def toyproc_add(self, a: int, b: int) -> int:
        return await self._call(TOYPROC_ADD, a, b)

    async def toyproc_whoami(self) -> Identity:
        return await self._call(TOYPROC_WHOAMI)

    async def toyproc_sleep(self, milliseconds: int) -> bool:
        return await self._call(TOYPROC_SLEEP, milliseconds)

    async def toyproc_blob(self, size: int) -> bytes:
        return await self._call(TOYPROC_BLOB, size)


class ToyV3Handler(Handler):
    """What the generator emits: every procedure unimplemented."""

    PROGRAM = TOY_PROGRAM
    VERSION = TOY_V3
    PROCEDURES = PROCEDURES

    @unimplemented
    async def toyproc_null(self, call: Call) -> None:
        pass

    @unimplemented
    async def toyproc_echo(self, call: Call, name: str) -> str:
        raise ProcedureUnavailable

    @unimplemented
    async def toyproc_add(self, call: Call, a: int, b: int) -> int:
        raise ProcedureUnavailable

    @unimplemented
    async def toyproc_whoami(self, call: Call) -> Identity:
        raise ProcedureUnavailable

    @unimplemented
    async def toyproc_sleep(self, call: Call, milliseconds: int) -> bool:
        raise ProcedureUnavailable

    @unimplemented
    async def toyproc_fail(self, call: Call, how: int) -> None:
        raise ProcedureUnavailable

    @unimplemented
    async def toyproc_blob(self, call: Call, size: int) -> bytes:
        raise ProcedureUnavailable

    @unimplemented
    async def toyproc_sink(self, call: Call, data: bytes) -> int:
        raise ProcedureUnavailable

    @unimplemented
    async def toyproc_unimplemented(self, call: Call) -> None:
        raise ProcedureUnavailable


class ToyV2Handler(ToyV3Handler):
    VERSION = TOY_V2


# ---- what a user writes ------------------------------------------------------

FAILURES: dict[int, Exception] = {
    1: ProgramUnavailable(),
    2: ProcedureUnavailable(),
    3: GarbageArguments(),
    4: RpcSystemError(),
    5: AuthError(AuthStat.AUTH_TOOWEAK),
    6: ValueError("a bug in the handler"),
}


class Toy(ToyV3Handler):
    """Implements everything but TOYPROC_UNIMPLEMENTED (and NULL, which the
    server answers)."""

    async def toyproc_echo(self, call: Call, name: str) -> str:
        return name.upper()

    async def toyproc_add(self, call: Call, a: int, b: int) -> int:
        return a + b

    async def toyproc_whoami(self, call: Call) -> Identity:
        cred = call.cred
        if isinstance(cred, AuthSys):
            return Identity(cred.flavor, cred.uid, len(cred.gids), cred.machinename)
        return Identity(0, 0, 0, f"{call.transport} {call.peer[0]}")

    async def toyproc_sleep(self, call: Call, milliseconds: int) -> bool:
        await asyncio.sleep(milliseconds / 1000)
        return True

    async def toyproc_fail(self, call: Call, how: int) -> None:
        if how == 7:
            return "not void"  # type: ignore[return-value]  # an unencodable result
        raise FAILURES[how]

    async def toyproc_blob(self, call: Call, size: int) -> bytes:
        return bytes(range(256)) * (size // 256) + bytes(size % 256)

    async def toyproc_sink(self, call: Call, data: bytes) -> int:
        return len(data)


class ToyV2(ToyV2Handler, Toy):
    VERSION = TOY_V2
