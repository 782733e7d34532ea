"""Domain snapshots: taking them (the domain's definition and state, a
tree with a current snapshot), listing, describing, reverting to and
deleting them, as the test driver keeps them (metadata only)."""

from __future__ import annotations

import time

from libvirt_rpc import remote_protocol as rp

from ...errors import ErrorDomain
from ...errors import ErrorNumber as E
from ...server import Call
from .. import moments
from ..base import ProceduresBase, check_flags, driver_error
from ..model import EVENT_SUSPENDED, PAUSED, Domain, Snapshot
from ..registry import ObjectKind, register
from ..xml.snapshot import format_snapshot_xml, parse_snapshot_xml

FROM_SNAPSHOT = ErrorDomain.VIR_FROM_DOMAIN_SNAPSHOT
STATE_NAMES = ("nostate", "running", "blocked", "paused", "shutdown", "shutoff", "crashed", "pmsuspended")

# virDomainSnapshotCreateFlags
CREATE_REDEFINE, CREATE_CURRENT, CREATE_HALT = 1, 2, 8
_CREATE_FLAGS = (
    CREATE_REDEFINE | CREATE_CURRENT | CREATE_HALT | 64 | 128 | 256 | 512
)  # + QUIESCE, ATOMIC, LIVE, VALIDATE
# virDomainSnapshotListFlags (ROOTS for a domain's list is DESCENDANTS for a snapshot's)
ROOTS = DESCENDANTS = 1
_METADATA, _LEAVES, _NO_LEAVES, _NO_METADATA = 2, 4, 8, 16
_INACTIVE, _ACTIVE, _DISK_ONLY, _INTERNAL, _EXTERNAL, _TOPOLOGICAL = 32, 64, 128, 256, 512, 1024
_LIST_FLAGS = 2047
# virDomainSnapshotRevertFlags, virDomainSnapshotDeleteFlags
REVERT_RUNNING, REVERT_PAUSED, REVERT_FORCE = 1, 2, 4
DELETE_CHILDREN, DELETE_CHILDREN_ONLY = 1, 4

# what reverting does to the domain: reasons and event details "from snapshot"
SHUTOFF_FROM_SNAPSHOT, RUNNING_FROM_SNAPSHOT, PAUSED_FROM_SNAPSHOT = 7, 4, 7
STOPPED_FROM_SNAPSHOT, STARTED_FROM_SNAPSHOT, SUSPENDED_FROM_SNAPSHOT = 6, 3, 5


def _filter(d: Domain, snapshots: list[Snapshot], flags: int) -> list[Snapshot]:
    """virDomainSnapshotObjListFilter: leaves, metadata (all have it),
    state and location (all are internal)."""
    if flags & (_METADATA | _NO_METADATA) and not flags & _METADATA:
        return []
    if flags & (_INTERNAL | _EXTERNAL) and not flags & _INTERNAL:
        return []
    out = []
    for s in moments.by_leaves(d.snapshots, snapshots, bool(flags & _LEAVES), bool(flags & _NO_LEAVES)):
        states = flags & (_INACTIVE | _ACTIVE | _DISK_ONLY)
        if states and not (
            states & _INACTIVE
            and s.state == "shutoff"
            or states & _ACTIVE
            and s.state not in ("shutoff", "disk-snapshot")
            or states & _DISK_ONLY
            and s.state == "disk-snapshot"
        ):
            continue
        out.append(s)
    return out


class SnapshotProcedures(ProceduresBase):
    def _snapshot(self, call: Call, handle: rp.RemoteNonnullDomainSnapshot) -> tuple[Domain, Snapshot]:
        d = self._domain(call, handle.dom)
        return d, moments.named(d.snapshots, handle.name, "snapshot")

    @staticmethod
    def _handle(d: Domain, snapshot: Snapshot) -> rp.RemoteNonnullDomainSnapshot:
        return rp.RemoteNonnullDomainSnapshot(snapshot.name, d.handle())

    # -- taking one -------------------------------------------------------------

    async def domain_snapshot_create_xml(
        self, call: Call, args: rp.RemoteDomainSnapshotCreateXmlArgs
    ) -> rp.RemoteDomainSnapshotCreateXmlRet:
        self._writable(call, "virDomainSnapshotCreateXML", FROM_SNAPSHOT)
        check_flags(args.flags, _CREATE_FLAGS, "testDomainSnapshotCreateXML")
        d = self.hv.of(args.dom)
        if d.checkpoints:
            raise driver_error(
                E.VIR_ERR_OPERATION_UNSUPPORTED, "cannot create snapshot while checkpoint exists"
            )
        if not d.persistent and args.flags & CREATE_HALT:
            raise driver_error(E.VIR_ERR_OPERATION_INVALID, "cannot halt after transient domain snapshot")
        request = parse_snapshot_xml(args.xml_desc)
        now = int(time.time())
        name = request.name or str(now)
        redefine = bool(args.flags & CREATE_REDEFINE)
        if redefine and name in d.snapshots:  # e.g. `virsh snapshot-current NAME`
            snapshot = d.snapshots[name]
            snapshot.description = request.description
        else:
            if name in d.snapshots:
                raise driver_error(E.VIR_ERR_OPERATION_FAILED, f"domain moment {name} already exists")
            state = STATE_NAMES[d.state]
            disks = [(dev, "internal" if hard else "no") for dev, hard in d.definition.disk_targets()]
            snapshot = Snapshot(
                name=name,
                description=request.description,
                state=state,
                creation_time=now,
                parent=None if redefine else d.current_snapshot,
                domain=d.definition.copy(),
                memory="no" if state == "shutoff" else "internal",
                disks=disks,
            )
            d.snapshots[name] = snapshot
        if not redefine and args.flags & CREATE_HALT and d.active:
            self.hv.stop(d, SHUTOFF_FROM_SNAPSHOT, STOPPED_FROM_SNAPSHOT)
        if not redefine or args.flags & CREATE_CURRENT:
            d.current_snapshot = name
        return rp.RemoteDomainSnapshotCreateXmlRet(self._handle(d, snapshot))

    # -- listing ----------------------------------------------------------------

    def _snapshots(
        self, call: Call, handle: rp.RemoteNonnullDomain, flags: int
    ) -> tuple[Domain, list[Snapshot]]:
        self._open(call)
        check_flags(flags, _LIST_FLAGS, "testDomainListAllSnapshots")
        d = self._domain(call, handle)
        snapshots = (
            moments.children(d.snapshots, None) if flags & ROOTS else moments.descendants(d.snapshots, None)
        )
        return d, _filter(d, snapshots, flags)

    def _snapshot_children(
        self, call: Call, handle: rp.RemoteNonnullDomainSnapshot, flags: int
    ) -> tuple[Domain, list[Snapshot]]:
        self._open(call)
        check_flags(flags, _LIST_FLAGS, "testDomainSnapshotListAllChildren")
        d, snapshot = self._snapshot(call, handle)
        tree = moments.descendants if flags & DESCENDANTS else moments.children
        found = tree(d.snapshots, snapshot.name)
        return d, _filter(d, found, flags)

    async def domain_snapshot_num(
        self, call: Call, args: rp.RemoteDomainSnapshotNumArgs
    ) -> rp.RemoteDomainSnapshotNumRet:
        return rp.RemoteDomainSnapshotNumRet(len(self._snapshots(call, args.dom, args.flags)[1]))

    async def domain_snapshot_list_names(
        self, call: Call, args: rp.RemoteDomainSnapshotListNamesArgs
    ) -> rp.RemoteDomainSnapshotListNamesRet:
        snapshots = self._snapshots(call, args.dom, args.flags)[1]
        return rp.RemoteDomainSnapshotListNamesRet([s.name for s in snapshots][: args.maxnames])

    async def domain_list_all_snapshots(
        self, call: Call, args: rp.RemoteDomainListAllSnapshotsArgs
    ) -> rp.RemoteDomainListAllSnapshotsRet:
        d, snapshots = self._snapshots(call, args.dom, args.flags)
        handles = [self._handle(d, s) for s in snapshots] if args.need_results else []
        return rp.RemoteDomainListAllSnapshotsRet(handles, len(snapshots))

    async def domain_snapshot_num_children(
        self, call: Call, args: rp.RemoteDomainSnapshotNumChildrenArgs
    ) -> rp.RemoteDomainSnapshotNumChildrenRet:
        return rp.RemoteDomainSnapshotNumChildrenRet(
            len(self._snapshot_children(call, args.snap, args.flags)[1])
        )

    async def domain_snapshot_list_children_names(
        self, call: Call, args: rp.RemoteDomainSnapshotListChildrenNamesArgs
    ) -> rp.RemoteDomainSnapshotListChildrenNamesRet:
        snapshots = self._snapshot_children(call, args.snap, args.flags)[1]
        return rp.RemoteDomainSnapshotListChildrenNamesRet([s.name for s in snapshots][: args.maxnames])

    async def domain_snapshot_list_all_children(
        self, call: Call, args: rp.RemoteDomainSnapshotListAllChildrenArgs
    ) -> rp.RemoteDomainSnapshotListAllChildrenRet:
        d, snapshots = self._snapshot_children(call, args.snapshot, args.flags)
        handles = [self._handle(d, s) for s in snapshots] if args.need_results else []
        return rp.RemoteDomainSnapshotListAllChildrenRet(handles, len(snapshots))

    # -- one snapshot -------------------------------------------------------------

    async def domain_snapshot_lookup_by_name(
        self, call: Call, args: rp.RemoteDomainSnapshotLookupByNameArgs
    ) -> rp.RemoteDomainSnapshotLookupByNameRet:
        self._open(call)
        check_flags(args.flags, 0, "testDomainSnapshotLookupByName")
        d = self._domain(call, args.dom)
        return rp.RemoteDomainSnapshotLookupByNameRet(self._handle(d, moments.named(d.snapshots, args.name, "snapshot")))

    async def domain_has_current_snapshot(
        self, call: Call, args: rp.RemoteDomainHasCurrentSnapshotArgs
    ) -> rp.RemoteDomainHasCurrentSnapshotRet:
        self._open(call)
        check_flags(args.flags, 0, "testDomainHasCurrentSnapshot")
        return rp.RemoteDomainHasCurrentSnapshotRet(
            int(self._domain(call, args.dom).current_snapshot is not None)
        )

    async def domain_snapshot_current(
        self, call: Call, args: rp.RemoteDomainSnapshotCurrentArgs
    ) -> rp.RemoteDomainSnapshotCurrentRet:
        self._open(call)
        check_flags(args.flags, 0, "testDomainSnapshotCurrent")
        d = self._domain(call, args.dom)
        if d.current_snapshot is None:
            raise driver_error(E.VIR_ERR_NO_DOMAIN_SNAPSHOT, "the domain does not have a current snapshot")
        return rp.RemoteDomainSnapshotCurrentRet(self._handle(d, d.snapshots[d.current_snapshot]))

    async def domain_snapshot_get_parent(
        self, call: Call, args: rp.RemoteDomainSnapshotGetParentArgs
    ) -> rp.RemoteDomainSnapshotGetParentRet:
        self._open(call)
        check_flags(args.flags, 0, "testDomainSnapshotGetParent")
        d, snapshot = self._snapshot(call, args.snap)
        parent = moments.parent(d.snapshots, snapshot, "snapshot")
        return rp.RemoteDomainSnapshotGetParentRet(self._handle(d, parent))

    async def domain_snapshot_get_xml_desc(
        self, call: Call, args: rp.RemoteDomainSnapshotGetXmlDescArgs
    ) -> rp.RemoteDomainSnapshotGetXmlDescRet:
        self._open(call)
        check_flags(args.flags, 1, "testDomainSnapshotGetXMLDesc")  # SECURE
        return rp.RemoteDomainSnapshotGetXmlDescRet(format_snapshot_xml(self._snapshot(call, args.snap)[1]))

    async def domain_snapshot_is_current(
        self, call: Call, args: rp.RemoteDomainSnapshotIsCurrentArgs
    ) -> rp.RemoteDomainSnapshotIsCurrentRet:
        self._open(call)
        check_flags(args.flags, 0, "testDomainSnapshotIsCurrent")
        d, snapshot = self._snapshot(call, args.snap)
        return rp.RemoteDomainSnapshotIsCurrentRet(int(d.current_snapshot == snapshot.name))

    async def domain_snapshot_has_metadata(
        self, call: Call, args: rp.RemoteDomainSnapshotHasMetadataArgs
    ) -> rp.RemoteDomainSnapshotHasMetadataRet:
        self._open(call)
        check_flags(args.flags, 0, "testDomainSnapshotHasMetadata")
        self._snapshot(call, args.snap)
        return rp.RemoteDomainSnapshotHasMetadataRet(1)

    # -- reverting and deleting -------------------------------------------------

    async def domain_revert_to_snapshot(self, call: Call, args: rp.RemoteDomainRevertToSnapshotArgs) -> None:
        self._writable(call, "virDomainRevertToSnapshot", FROM_SNAPSHOT)
        check_flags(args.flags, REVERT_RUNNING | REVERT_PAUSED | REVERT_FORCE, "testDomainRevertToSnapshot")
        d, snapshot = self._snapshot(call, args.snap)
        runs = snapshot.state in ("running", "paused")
        start = args.flags & (REVERT_RUNNING | REVERT_PAUSED)
        if not d.persistent and not runs and not start:
            raise driver_error(
                E.VIR_ERR_OPERATION_INVALID,
                "transient domain needs to request run or pause to revert to inactive snapshot",
            )
        if not args.flags & REVERT_FORCE and d.active and not runs and start:
            raise driver_error(
                E.VIR_ERR_SNAPSHOT_REVERT_RISKY, "must respawn guest to start inactive snapshot"
            )
        d.current_snapshot = None
        if d.active:  # the test driver respawns the guest
            self.hv.stop(d, SHUTOFF_FROM_SNAPSHOT, STOPPED_FROM_SNAPSHOT)
        d.definition, d.next_definition = snapshot.domain.copy(), None
        if runs or start:
            self.hv.start(d, RUNNING_FROM_SNAPSHOT, STARTED_FROM_SNAPSHOT)
            paused = snapshot.state == "paused" or args.flags & REVERT_PAUSED
            if paused and not args.flags & REVERT_RUNNING:
                d.state, d.reason = PAUSED, PAUSED_FROM_SNAPSHOT
                self.hv.emit(d, EVENT_SUSPENDED, SUSPENDED_FROM_SNAPSHOT)
        d.current_snapshot = snapshot.name

    async def domain_snapshot_delete(self, call: Call, args: rp.RemoteDomainSnapshotDeleteArgs) -> None:
        self._writable(call, "virDomainSnapshotDelete", FROM_SNAPSHOT)
        check_flags(args.flags, DELETE_CHILDREN | DELETE_CHILDREN_ONLY, "testDomainSnapshotDelete")
        d, snapshot = self._snapshot(call, args.snap)
        d.current_snapshot = moments.delete(
            d.snapshots,
            snapshot,
            d.current_snapshot,
            with_children=bool(args.flags & DELETE_CHILDREN),
            children_only=bool(args.flags & DELETE_CHILDREN_ONLY),
        )


register(ObjectKind("snapshots", SnapshotProcedures))
