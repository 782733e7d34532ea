"""Credentials and verifiers (RFC 5531 sections 8-9 and appendix A).

A client sends an :class:`Auth`: :data:`AUTH_NONE`, an :class:`AuthSys`
(``AuthSys.local()`` describes this process), or a :class:`RawAuth` with
any flavor and body.  A server decodes what arrives into the same classes
(``call.cred``).
"""

from __future__ import annotations

import enum
import os
import socket
import struct
import time
from dataclasses import dataclass
from typing import ClassVar

from .. import xdr
from ..xdr import Buffer, XdrError

MAX_AUTH_BYTES = 400  # the bound of opaque_auth's body
MAX_MACHINE_NAME = 255
MAX_GIDS = 16

_FLAVOR_LENGTH = struct.Struct(">II")
_AUTHSYS_IDS = struct.Struct(">III")  # uid, gid, gids count


class AuthFlavor(enum.IntEnum):
    AUTH_NONE = 0
    AUTH_SYS = 1
    AUTH_SHORT = 2
    AUTH_DH = 3
    RPCSEC_GSS = 6


class AuthStat(enum.IntEnum):
    AUTH_OK = 0
    AUTH_BADCRED = 1  # bad credential (seal broken)
    AUTH_REJECTEDCRED = 2  # client must begin new session
    AUTH_BADVERF = 3  # bad verifier (seal broken)
    AUTH_REJECTEDVERF = 4  # verifier expired or replayed
    AUTH_TOOWEAK = 5  # rejected for security reasons
    AUTH_INVALIDRESP = 6  # bogus response verifier
    AUTH_FAILED = 7  # reason unknown
    AUTH_KERB_GENERIC = 8
    AUTH_TIMEEXPIRE = 9
    AUTH_TKT_FILE = 10
    AUTH_DECODE = 11
    AUTH_NET_ADDR = 12
    RPCSEC_GSS_CREDPROBLEM = 13
    RPCSEC_GSS_CTXPROBLEM = 14


@dataclass(frozen=True, slots=True)
class OpaqueAuth:
    """``struct opaque_auth``: a flavor and up to 400 bytes of body."""

    flavor: int
    body: bytes = b""

    def pack_into(self, out: bytearray) -> None:
        length = len(self.body)
        if length > MAX_AUTH_BYTES:
            xdr.too_long("opaque_auth.body", len(out), length, MAX_AUTH_BYTES)
        try:
            out += _FLAVOR_LENGTH.pack(self.flavor, length)
        except struct.error:
            xdr.bad_value("opaque_auth.flavor", len(out), "auth flavor", self.flavor)
        out += self.body
        out += xdr.ZEROS[-length & 3]

    @classmethod
    def unpack_from(cls, data: Buffer, offset: int = 0) -> tuple[OpaqueAuth, int]:
        try:
            flavor, length = _FLAVOR_LENGTH.unpack_from(data, offset)
        except struct.error:
            xdr.truncated("opaque_auth", offset, data)
        if length > MAX_AUTH_BYTES:
            xdr.too_long("opaque_auth.body", offset + 4, length, MAX_AUTH_BYTES)
        body, end = xdr.unpack_fixed_opaque(data, offset + 8, length, "opaque_auth.body")
        return cls(flavor, body), end


NULL_AUTH = OpaqueAuth(AuthFlavor.AUTH_NONE)


class Auth:
    """What a client puts in each call: a credential and a verifier."""

    __slots__ = ()

    @property
    def credential(self) -> OpaqueAuth:
        raise NotImplementedError

    @property
    def verifier(self) -> OpaqueAuth:
        return NULL_AUTH

    def encode(self) -> bytes:
        """The credential and the verifier as they follow the call header."""
        out = bytearray()
        self.credential.pack_into(out)
        self.verifier.pack_into(out)
        return bytes(out)


class AuthNone(Auth):
    """AUTH_NONE: no credential."""

    __slots__ = ()
    flavor: ClassVar[int] = AuthFlavor.AUTH_NONE

    @property
    def credential(self) -> OpaqueAuth:
        return NULL_AUTH

    def __eq__(self, other: object) -> bool:
        return isinstance(other, AuthNone)

    def __hash__(self) -> int:
        return hash(AuthNone)

    def __repr__(self) -> str:
        return "AUTH_NONE"


AUTH_NONE = AuthNone()


@dataclass(frozen=True, slots=True)
class AuthSys(Auth):
    """AUTH_SYS (``struct authsys_parms``): who the caller says it is."""

    flavor: ClassVar[int] = AuthFlavor.AUTH_SYS

    stamp: int
    machinename: str
    uid: int
    gid: int
    gids: tuple[int, ...] = ()

    @classmethod
    def local(cls, machinename: str | None = None) -> AuthSys:
        """This process's ids (the first 16 supplementary groups) and host
        name, with the current time as the stamp."""
        name = machinename if machinename is not None else socket.gethostname()
        raw = name.encode("utf-8", "surrogateescape")[:MAX_MACHINE_NAME]
        return cls(
            int(time.time()) & xdr.MAX_UINT,
            raw.decode("utf-8", "surrogateescape"),
            os.getuid(),
            os.getgid(),
            tuple(os.getgroups()[:MAX_GIDS]),
        )

    @property
    def credential(self) -> OpaqueAuth:
        return OpaqueAuth(AuthFlavor.AUTH_SYS, self.encode_body())

    def encode_body(self) -> bytes:
        # The machine name is bytes on the wire; surrogateescape carries
        # names that are not UTF-8 through decode and encode unchanged.
        name = self.machinename.encode("utf-8", "surrogateescape")
        if len(name) > MAX_MACHINE_NAME:
            xdr.too_long("authsys_parms.machinename", 4, len(name), MAX_MACHINE_NAME)
        if len(self.gids) > MAX_GIDS:
            xdr.too_long("authsys_parms.gids", 0, len(self.gids), MAX_GIDS)
        out = bytearray()
        try:
            out += xdr.U32.pack(self.stamp)
            out += xdr.U32.pack(len(name))
            out += name
            out += xdr.ZEROS[-len(name) & 3]
            out += _AUTHSYS_IDS.pack(self.uid, self.gid, len(self.gids))
            out += struct.pack(f">{len(self.gids)}I", *self.gids)
        except struct.error as error:
            raise XdrError(f"cannot encode {self!r}: {error}", path="authsys_parms") from None
        return bytes(out)

    @classmethod
    def decode_body(cls, body: Buffer) -> AuthSys:
        """Decode an AUTH_SYS credential's body, which it must fill exactly."""
        path = "authsys_parms"
        stamp = xdr.unpack_u32(body, 0, path + ".stamp")
        length = xdr.unpack_u32(body, 4, path + ".machinename")
        if length > MAX_MACHINE_NAME:
            xdr.too_long(path + ".machinename", 4, length, MAX_MACHINE_NAME)
        raw, offset = xdr.unpack_fixed_opaque(body, 8, length, path + ".machinename")
        try:
            uid, gid, count = _AUTHSYS_IDS.unpack_from(body, offset)
        except struct.error:
            xdr.truncated(path, offset, body)
        if count > MAX_GIDS:
            xdr.too_long(path + ".gids", offset + 8, count, MAX_GIDS)
        gids, end = xdr.unpack_array(body, offset + 12, "I", count, 4, path + ".gids")
        if end != len(body):
            xdr.trailing(path, end, body)
        return cls(stamp, raw.decode("utf-8", "surrogateescape"), uid, gid, gids)


@dataclass(frozen=True, slots=True)
class RawAuth(Auth):
    """Any credential and verifier, sent as they are (other flavors, or a
    server's AUTH_SHORT handle)."""

    credential: OpaqueAuth  # a field where Auth has a property
    verifier: OpaqueAuth = NULL_AUTH
