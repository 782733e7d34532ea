"""Saving a domain to a file, restoring it, and core dumps, in the test
driver's file format: the magic "TestGuestMagic" with its NUL, the length
of the domain XML as a native int, the XML.  The daemon writes and reads
the files itself, as libvirtd does."""

from __future__ import annotations

import os
import struct

from libvirt_rpc import remote_protocol as rp

from ...errors import ErrorNumber as E
from ...server import Call
from ..base import ProceduresBase, check_flags, driver_error, not_running, system_error
from ..model import Domain, DomainDef
from ..registry import ObjectKind, register
from ..xml.domain import format_domain_xml, parse_domain_def

MAGIC = b"TestGuestMagic\0"
_LENGTH = struct.Struct("=i")
MAX_METADATA = 8192

SHUTOFF_SAVED, SHUTOFF_CRASHED = 5, 3
STOPPED_SAVED, STOPPED_CRASHED = 4, 2
RUNNING_RESTORED, STARTED_RESTORED = 3, 2
DUMP_CRASH = 1
SAVE_RUNNING, SAVE_PAUSED = 2, 4
DUMP_FORMAT_RAW = 0


def _create(path: str, error: str) -> int:
    """Open ``path`` for writing as the test driver does (0600)."""
    try:
        return os.open(path, os.O_CREAT | os.O_TRUNC | os.O_WRONLY, 0o600)
    except OSError as failure:
        raise system_error(error, failure.errno or 0) from None


def write_image(path: str, definition: DomainDef, id: int, name: str) -> None:
    xml = format_domain_xml(definition, id).encode()
    fd = _create(path, f"saving domain '{name}' to '{path}': open failed")
    try:
        os.write(fd, MAGIC + _LENGTH.pack(len(xml)) + xml)
    except OSError as failure:
        os.unlink(path)
        raise system_error(f"saving domain '{name}' to '{path}': write failed", failure.errno or 0) from None
    finally:
        os.close(fd)


def read_image(path: str) -> DomainDef:
    """testDomainSaveImageOpen: the definition a save image holds."""
    try:
        with open(path, "rb") as image:
            data = image.read(len(MAGIC) + _LENGTH.size + MAX_METADATA)
    except OSError as failure:
        raise system_error(f"cannot read domain image '{path}'", failure.errno or 0) from None
    if len(data) < len(MAGIC):
        raise system_error(f"incomplete save header in '{path}'", 0)
    if data[: len(MAGIC)] != MAGIC:
        raise driver_error(E.VIR_ERR_INTERNAL_ERROR, "mismatched header magic")
    header = data[len(MAGIC) : len(MAGIC) + _LENGTH.size]
    if len(header) < _LENGTH.size:
        raise system_error(f"failed to read metadata length in '{path}'", 0)
    (length,) = _LENGTH.unpack(header)
    if not 1 <= length <= MAX_METADATA:
        raise driver_error(E.VIR_ERR_INTERNAL_ERROR, "length of metadata out of range")
    xml = data[len(MAGIC) + _LENGTH.size :][:length]
    if len(xml) < length:
        raise system_error(f"incomplete metadata in '{path}'", 0)
    return parse_domain_def(xml.decode())


class SaveProcedures(ProceduresBase):
    def _save(self, handle: rp.RemoteNonnullDomain, path: str, dxml: str | None, flags: int) -> None:
        check_flags(flags, 0, "testDomainSaveFlags")
        if dxml:
            raise driver_error(E.VIR_ERR_ARGUMENT_UNSUPPORTED, "xml modification unsupported")
        d = self.hv.of(handle)
        if not d.active:
            raise not_running()
        write_image(path, d.definition, d.id, d.name)
        self.hv.stop(d, SHUTOFF_SAVED, STOPPED_SAVED)

    async def domain_save(self, call: Call, args: rp.RemoteDomainSaveArgs) -> None:
        self._writable(call, "virDomainSave")
        self._save(args.dom, args.to, None, 0)

    async def domain_save_flags(self, call: Call, args: rp.RemoteDomainSaveFlagsArgs) -> None:
        self._writable(call, "virDomainSaveFlags")
        self._save(args.dom, args.to, args.dxml, args.flags)

    def _restore(self, path: str, dxml: str | None, flags: int) -> Domain:
        check_flags(flags, 0, "testDomainRestoreFlags")
        if dxml:
            raise driver_error(E.VIR_ERR_ARGUMENT_UNSUPPORTED, "xml modification unsupported")
        domain, _ = self.hv.assign(read_image(path), live=True)
        self.hv.start(domain, RUNNING_RESTORED, STARTED_RESTORED)
        return domain

    async def domain_restore(self, call: Call, args: rp.RemoteDomainRestoreArgs) -> None:
        self._writable(call, "virDomainRestore")
        self._restore(args.from_, None, 0)

    async def domain_restore_flags(self, call: Call, args: rp.RemoteDomainRestoreFlagsArgs) -> None:
        self._writable(call, "virDomainRestoreFlags")
        self._restore(args.from_, args.dxml, args.flags)

    async def domain_save_image_get_xml_desc(
        self, call: Call, args: rp.RemoteDomainSaveImageGetXmlDescArgs
    ) -> rp.RemoteDomainSaveImageGetXmlDescRet:
        conn = self._open(call)
        if conn.read_only and args.flags & 1:
            self._writable(call, "virDomainSaveImageGetXMLDesc")
        check_flags(args.flags, 1, "testDomainSaveImageGetXMLDesc")  # SECURE
        return rp.RemoteDomainSaveImageGetXmlDescRet(format_domain_xml(read_image(args.file)))

    async def domain_save_image_define_xml(
        self, call: Call, args: rp.RemoteDomainSaveImageDefineXmlArgs
    ) -> None:
        self._writable(call, "virDomainSaveImageDefineXML")
        check_flags(args.flags, SAVE_RUNNING | SAVE_PAUSED, "testDomainSaveImageDefineXML")
        read_image(args.file)
        definition = parse_domain_def(args.dxml)
        write_image(args.file, definition, -1, definition.name)

    def _core_dump(self, handle: rp.RemoteNonnullDomain, path: str, dumpformat: int, flags: int) -> None:
        check_flags(flags, DUMP_CRASH, "testDomainCoreDumpWithFormat")
        d = self.hv.of(handle)
        if not d.active:
            raise not_running()
        fd = _create(path, f"domain '{d.name}' coredump: failed to open {path}")
        try:
            os.write(fd, MAGIC)
        finally:
            os.close(fd)
        if dumpformat != DUMP_FORMAT_RAW:
            raise driver_error(
                E.VIR_ERR_OPERATION_UNSUPPORTED, "kdump-compressed format is not supported here"
            )
        if flags & DUMP_CRASH:
            self.hv.stop(d, SHUTOFF_CRASHED, STOPPED_CRASHED)

    async def domain_core_dump(self, call: Call, args: rp.RemoteDomainCoreDumpArgs) -> None:
        self._writable(call, "virDomainCoreDump")
        self._core_dump(args.dom, args.to, DUMP_FORMAT_RAW, args.flags)

    async def domain_core_dump_with_format(
        self, call: Call, args: rp.RemoteDomainCoreDumpWithFormatArgs
    ) -> None:
        self._writable(call, "virDomainCoreDumpWithFormat")
        self._core_dump(args.dom, args.to, args.dumpformat, args.flags)


register(ObjectKind("saves", SaveProcedures))
