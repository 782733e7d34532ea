"""Domain checkpoints: taken of a running domain without snapshots (a
bitmap per disk), listed, described and deleted, as the test driver keeps
them (metadata only)."""

from __future__ import annotations

import time

from libvirt_rpc import remote_protocol as rp

from ...errors import ErrorDomain
from ...errors import ErrorNumber as E
from ...server import Call
from .. import moments
from ..base import ProceduresBase, check_flags, driver_error
from ..model import Checkpoint, Domain
from ..registry import ObjectKind, register
from ..xml.checkpoint import format_checkpoint_xml, parse_checkpoint_xml

FROM_CHECKPOINT = ErrorDomain.VIR_FROM_DOMAIN_CHECKPOINT

CREATE_REDEFINE, CREATE_QUIESCE = 1, 2
XML_SECURE, XML_NO_DOMAIN, XML_SIZE = 1, 2, 4
# virDomainCheckpointListFlags (ROOTS for a domain's list is DESCENDANTS for a checkpoint's)
ROOTS = DESCENDANTS = 1
_TOPOLOGICAL, _LEAVES, _NO_LEAVES = 2, 4, 8
DELETE_CHILDREN, DELETE_METADATA_ONLY, DELETE_CHILDREN_ONLY = 1, 2, 4


def _filter(d: Domain, found: list[Checkpoint], flags: int) -> list[Checkpoint]:
    return moments.by_leaves(d.checkpoints, found, bool(flags & _LEAVES), bool(flags & _NO_LEAVES))


class CheckpointProcedures(ProceduresBase):
    def _checkpoint(self, call: Call, handle: rp.RemoteNonnullDomainCheckpoint) -> tuple[Domain, Checkpoint]:
        d = self._domain(call, handle.dom)
        return d, moments.named(d.checkpoints, handle.name, "checkpoint")

    @staticmethod
    def _checkpoint_handle(d: Domain, checkpoint: Checkpoint) -> rp.RemoteNonnullDomainCheckpoint:
        return rp.RemoteNonnullDomainCheckpoint(checkpoint.name, d.handle())

    async def domain_checkpoint_create_xml(
        self, call: Call, args: rp.RemoteDomainCheckpointCreateXmlArgs
    ) -> rp.RemoteDomainCheckpointCreateXmlRet:
        self._writable(call, "virDomainCheckpointCreateXML", FROM_CHECKPOINT)
        check_flags(args.flags, CREATE_REDEFINE | CREATE_QUIESCE, "testDomainCheckpointCreateXML")
        d = self.hv.of(args.dom)
        if d.snapshots:
            raise driver_error(
                E.VIR_ERR_OPERATION_UNSUPPORTED, "cannot create checkpoint while snapshot exists"
            )
        if not d.active:
            raise driver_error(
                E.VIR_ERR_OPERATION_UNSUPPORTED, "cannot create checkpoint for inactive domain"
            )
        name, description = parse_checkpoint_xml(args.xml_desc)
        now = int(time.time())
        name = name or str(now)
        if name in d.checkpoints:
            raise driver_error(E.VIR_ERR_OPERATION_FAILED, f"domain moment {name} already exists")
        disks = [(dev, "bitmap" if hard else "no") for dev, hard in d.definition.disk_targets()]
        checkpoint = Checkpoint(name, description, now, d.current_checkpoint, d.definition.copy(), disks)
        d.checkpoints[name] = checkpoint
        d.current_checkpoint = name
        return rp.RemoteDomainCheckpointCreateXmlRet(self._checkpoint_handle(d, checkpoint))

    async def domain_checkpoint_get_xml_desc(
        self, call: Call, args: rp.RemoteDomainCheckpointGetXmlDescArgs
    ) -> rp.RemoteDomainCheckpointGetXmlDescRet:
        self._open(call)
        check_flags(args.flags, XML_SECURE | XML_NO_DOMAIN | XML_SIZE, "testDomainCheckpointGetXMLDesc")
        d, checkpoint = self._checkpoint(call, args.checkpoint)
        if args.flags & XML_SIZE and not d.active:
            raise driver_error(E.VIR_ERR_OPERATION_INVALID, "domain is not running")
        xml = format_checkpoint_xml(checkpoint, with_domain=not args.flags & XML_NO_DOMAIN)
        return rp.RemoteDomainCheckpointGetXmlDescRet(xml)

    async def domain_list_all_checkpoints(
        self, call: Call, args: rp.RemoteDomainListAllCheckpointsArgs
    ) -> rp.RemoteDomainListAllCheckpointsRet:
        self._open(call)
        check_flags(args.flags, ROOTS | _TOPOLOGICAL | _LEAVES | _NO_LEAVES, "testDomainListAllCheckpoints")
        d = self._domain(call, args.dom)
        tree = moments.children if args.flags & ROOTS else moments.descendants
        found = _filter(d, tree(d.checkpoints, None), args.flags)
        handles = [self._checkpoint_handle(d, c) for c in found] if args.need_results else []
        return rp.RemoteDomainListAllCheckpointsRet(handles, len(found))

    async def domain_checkpoint_list_all_children(
        self, call: Call, args: rp.RemoteDomainCheckpointListAllChildrenArgs
    ) -> rp.RemoteDomainCheckpointListAllChildrenRet:
        self._open(call)
        check_flags(
            args.flags,
            DESCENDANTS | _TOPOLOGICAL | _LEAVES | _NO_LEAVES,
            "testDomainCheckpointListAllChildren",
        )
        d, checkpoint = self._checkpoint(call, args.checkpoint)
        tree = moments.descendants if args.flags & DESCENDANTS else moments.children
        found = _filter(d, tree(d.checkpoints, checkpoint.name), args.flags)
        handles = [self._checkpoint_handle(d, c) for c in found] if args.need_results else []
        return rp.RemoteDomainCheckpointListAllChildrenRet(handles, len(found))

    async def domain_checkpoint_lookup_by_name(
        self, call: Call, args: rp.RemoteDomainCheckpointLookupByNameArgs
    ) -> rp.RemoteDomainCheckpointLookupByNameRet:
        self._open(call)
        check_flags(args.flags, 0, "testDomainCheckpointLookupByName")
        d = self._domain(call, args.dom)
        return rp.RemoteDomainCheckpointLookupByNameRet(
            self._checkpoint_handle(d, moments.named(d.checkpoints, args.name, "checkpoint"))
        )

    async def domain_checkpoint_get_parent(
        self, call: Call, args: rp.RemoteDomainCheckpointGetParentArgs
    ) -> rp.RemoteDomainCheckpointGetParentRet:
        self._open(call)
        check_flags(args.flags, 0, "testDomainCheckpointGetParent")
        d, checkpoint = self._checkpoint(call, args.checkpoint)
        parent = moments.parent(d.checkpoints, checkpoint, "checkpoint")
        return rp.RemoteDomainCheckpointGetParentRet(self._checkpoint_handle(d, parent))

    async def domain_checkpoint_delete(self, call: Call, args: rp.RemoteDomainCheckpointDeleteArgs) -> None:
        self._writable(call, "virDomainCheckpointDelete", FROM_CHECKPOINT)
        check_flags(
            args.flags,
            DELETE_CHILDREN | DELETE_METADATA_ONLY | DELETE_CHILDREN_ONLY,
            "testDomainCheckpointDelete",
        )
        d, checkpoint = self._checkpoint(call, args.checkpoint)
        d.current_checkpoint = moments.delete(
            d.checkpoints,
            checkpoint,
            d.current_checkpoint,
            with_children=bool(args.flags & DELETE_CHILDREN),
            children_only=bool(args.flags & DELETE_CHILDREN_ONLY),
        )


register(ObjectKind("checkpoints", CheckpointProcedures))
