"""Storage pools and volumes: the test driver's "default-pool" (a running
100 GiB directory pool at /default-pool, no volumes) and the procedures on
pools and their volumes."""

from __future__ import annotations

import dataclasses
import uuid as uuidlib

from libvirt_rpc import remote_protocol as rp

from ...errors import ErrorDomain
from ...errors import ErrorNumber as E
from ...server import Call, rpc_error
from ..base import ProceduresBase, check_flags, driver_error
from ..listing import Defined, Groups, select
from ..registry import ObjectKind, by_name, register
from ..xml.storage import (
    VOLUME_TYPES,
    PoolDef,
    VolumeDef,
    format_pool_xml,
    format_volume_xml,
    parse_pool_xml,
    parse_volume_xml,
    pool_sources_xml,
)

FROM_STORAGE = ErrorDomain.VIR_FROM_STORAGE
DEFAULT_CAPACITY = 100 * 1024**3

# virStoragePoolState, virStorageVolType
POOL_INACTIVE, POOL_RUNNING = 0, 2
_VOLUME_TYPE_NUMBERS = {"file": 0, "block": 1, "dir": 2, "network": 3}

# virStoragePoolEventLifecycleType and the event IDs
EVENT_DEFINED, EVENT_UNDEFINED, EVENT_STARTED, EVENT_STOPPED, EVENT_CREATED, EVENT_DELETED = range(6)
EVENT_ID_LIFECYCLE, EVENT_ID_REFRESH = 0, 1
_EVENT_ID_LAST = 2

# The pool-type flags of virConnectListAllStoragePools, from 1 << 6.
_TYPE_FLAGS = ("dir", "fs", "netfs", "logical", "disk", "iscsi", "scsi", "mpath", "rbd",
               "sheepdog", "gluster", "zfs", "vstorage", "iscsi-direct")  # fmt: skip


@dataclasses.dataclass
class Pool(Defined):
    definition: PoolDef
    active: bool = False
    persistent: bool = True
    autostart: bool = False
    volumes: dict[str, VolumeDef] = dataclasses.field(default_factory=dict)

    def handle(self) -> rp.RemoteNonnullStoragePool:
        return rp.RemoteNonnullStoragePool(self.name, self.uuid)

    def volume_handle(self, volume: VolumeDef) -> rp.RemoteNonnullStorageVol:
        return rp.RemoteNonnullStorageVol(self.name, volume.name, volume.key)

    def set_default_size(self) -> None:
        """testStoragePoolObjSetDefaults: 100 GiB, nothing allocated."""
        self.definition.capacity = self.definition.available = DEFAULT_CAPACITY
        self.definition.allocation = 0


def default_pools() -> list[Pool]:
    definition = PoolDef(
        name="default-pool",
        uuid=uuidlib.UUID("dfe224cb-28fb-8dd0-c4b2-64eb3f0f4566").bytes,
        target_path="/default-pool",
    )
    pool = Pool(definition, active=True)
    pool.set_default_size()
    return [pool]


_LIST_GROUPS: Groups[Pool] = (
    ((1, lambda p: not p.active), (2, lambda p: p.active)),
    ((4, lambda p: p.persistent), (8, lambda p: not p.persistent)),
    ((16, lambda p: p.autostart), (32, lambda p: not p.autostart)),
    tuple(
        (1 << (6 + i), lambda p, kind=kind: p.definition.type == kind)  # type: ignore[misc]
        for i, kind in enumerate(_TYPE_FLAGS)
    ),
)


class StorageProcedures(ProceduresBase):
    # -- pools: lookup ----------------------------------------------------

    def _pool_named(self, name: str) -> Pool:
        pool = self.hv[POOLS].get(name)
        if pool is None:
            raise driver_error(E.VIR_ERR_NO_STORAGE_POOL, f"no storage pool with matching name '{name}'")
        return pool

    def _pool_with_uuid(self, uuid: bytes) -> Pool:
        for pool in self.hv[POOLS].values():
            if pool.uuid == uuid:
                return pool
        text = str(uuidlib.UUID(bytes=uuid)) if len(uuid) == 16 else "?"
        raise driver_error(E.VIR_ERR_NO_STORAGE_POOL, f"no storage pool with matching uuid '{text}'")

    def _pool(self, call: Call, handle: rp.RemoteNonnullStoragePool, active: bool | None = None) -> Pool:
        """The pool a handle names; ``active`` True/False: it must be
        running/stopped (testStoragePoolObjFind(In)ActiveByName)."""
        self._open(call)
        pool = self._pool_named(handle.name)
        if active is True and not pool.active:
            raise driver_error(E.VIR_ERR_OPERATION_INVALID, f"storage pool '{pool.name}' is not active")
        if active is False and pool.active:
            raise driver_error(E.VIR_ERR_OPERATION_INVALID, f"storage pool '{pool.name}' is active")
        return pool

    def _pools(self, call: Call, flags: int) -> list[Pool]:
        self._open(call)
        return select(sorted(self.hv[POOLS].values(), key=lambda p: p.name), flags, _LIST_GROUPS)

    async def connect_list_all_storage_pools(
        self, call: Call, args: rp.RemoteConnectListAllStoragePoolsArgs
    ) -> rp.RemoteConnectListAllStoragePoolsRet:
        pools = self._pools(call, args.flags)
        handles = [p.handle() for p in pools] if args.need_results else []
        return rp.RemoteConnectListAllStoragePoolsRet(handles, len(pools))

    async def connect_num_of_storage_pools(self, call: Call) -> rp.RemoteConnectNumOfStoragePoolsRet:
        return rp.RemoteConnectNumOfStoragePoolsRet(len(self._pools(call, 2)))

    async def connect_list_storage_pools(
        self, call: Call, args: rp.RemoteConnectListStoragePoolsArgs
    ) -> rp.RemoteConnectListStoragePoolsRet:
        return rp.RemoteConnectListStoragePoolsRet([p.name for p in self._pools(call, 2)][: args.maxnames])

    async def connect_num_of_defined_storage_pools(
        self, call: Call
    ) -> rp.RemoteConnectNumOfDefinedStoragePoolsRet:
        return rp.RemoteConnectNumOfDefinedStoragePoolsRet(len(self._pools(call, 1)))

    async def connect_list_defined_storage_pools(
        self, call: Call, args: rp.RemoteConnectListDefinedStoragePoolsArgs
    ) -> rp.RemoteConnectListDefinedStoragePoolsRet:
        names = [p.name for p in self._pools(call, 1)][: args.maxnames]
        return rp.RemoteConnectListDefinedStoragePoolsRet(names)

    async def storage_pool_lookup_by_name(
        self, call: Call, args: rp.RemoteStoragePoolLookupByNameArgs
    ) -> rp.RemoteStoragePoolLookupByNameRet:
        self._open(call)
        return rp.RemoteStoragePoolLookupByNameRet(self._pool_named(args.name).handle())

    async def storage_pool_lookup_by_uuid(
        self, call: Call, args: rp.RemoteStoragePoolLookupByUuidArgs
    ) -> rp.RemoteStoragePoolLookupByUuidRet:
        self._open(call)
        return rp.RemoteStoragePoolLookupByUuidRet(self._pool_with_uuid(args.uuid).handle())

    async def storage_pool_lookup_by_volume(
        self, call: Call, args: rp.RemoteStoragePoolLookupByVolumeArgs
    ) -> rp.RemoteStoragePoolLookupByVolumeRet:
        self._open(call)
        return rp.RemoteStoragePoolLookupByVolumeRet(self._pool_named(args.vol.pool).handle())

    # -- pools: inspecting ------------------------------------------------

    async def storage_pool_get_info(
        self, call: Call, args: rp.RemoteStoragePoolGetInfoArgs
    ) -> rp.RemoteStoragePoolGetInfoRet:
        pool = self._pool(call, args.pool)
        d = pool.definition
        state = POOL_RUNNING if pool.active else POOL_INACTIVE
        return rp.RemoteStoragePoolGetInfoRet(state, d.capacity, d.allocation, d.available)

    async def storage_pool_get_xml_desc(
        self, call: Call, args: rp.RemoteStoragePoolGetXmlDescArgs
    ) -> rp.RemoteStoragePoolGetXmlDescRet:
        self._open(call)
        check_flags(args.flags, 0, "testStoragePoolGetXMLDesc")
        return rp.RemoteStoragePoolGetXmlDescRet(format_pool_xml(self._pool(call, args.pool).definition))

    async def storage_pool_get_autostart(
        self, call: Call, args: rp.RemoteStoragePoolGetAutostartArgs
    ) -> rp.RemoteStoragePoolGetAutostartRet:
        pool = self._pool(call, args.pool)
        return rp.RemoteStoragePoolGetAutostartRet(int(pool.persistent and pool.autostart))

    async def storage_pool_set_autostart(
        self, call: Call, args: rp.RemoteStoragePoolSetAutostartArgs
    ) -> None:
        self._writable(call, "virStoragePoolSetAutostart", FROM_STORAGE)
        pool = self._pool(call, args.pool)
        if not pool.persistent:
            raise driver_error(E.VIR_ERR_INVALID_ARG, "pool has no config file")
        pool.autostart = bool(args.autostart)

    async def storage_pool_is_active(
        self, call: Call, args: rp.RemoteStoragePoolIsActiveArgs
    ) -> rp.RemoteStoragePoolIsActiveRet:
        self._open(call)
        return rp.RemoteStoragePoolIsActiveRet(int(self._pool_with_uuid(args.pool.uuid).active))

    async def storage_pool_is_persistent(
        self, call: Call, args: rp.RemoteStoragePoolIsPersistentArgs
    ) -> rp.RemoteStoragePoolIsPersistentRet:
        self._open(call)
        return rp.RemoteStoragePoolIsPersistentRet(int(self._pool_with_uuid(args.pool.uuid).persistent))

    async def connect_find_storage_pool_sources(
        self, call: Call, args: rp.RemoteConnectFindStoragePoolSourcesArgs
    ) -> rp.RemoteConnectFindStoragePoolSourcesRet:
        self._open(call)
        check_flags(args.flags, 0, "testConnectFindStoragePoolSources")
        if args.type not in VOLUME_TYPES:
            raise driver_error(E.VIR_ERR_INTERNAL_ERROR, f"unknown storage pool type {args.type}")
        host = None
        if args.srcSpec:
            source = parse_pool_xml(f"<pool type='{args.type}'><name>x</name>{args.srcSpec}</pool>").source
            host = next((e.get("name") for e in source if e.tag == "host"), None)
        if args.type == "netfs" and host is None:
            raise driver_error(E.VIR_ERR_INVALID_ARG, "hostname must be specified for netfs sources")
        xml = pool_sources_xml(args.type, host)
        if xml is None:
            raise driver_error(
                E.VIR_ERR_NO_SUPPORT, f"pool type '{args.type}' does not support source discovery"
            )
        return rp.RemoteConnectFindStoragePoolSourcesRet(xml)

    # -- pools: changing --------------------------------------------------

    def _add_pool(self, definition: PoolDef, check_active: bool) -> Pool:
        """virStoragePoolObjListAdd's duplicate checks, then the pool."""
        for other in self.hv[POOLS].values():
            if other.uuid == definition.uuid and other.name != definition.name:
                raise rpc_error(
                    E.VIR_ERR_OPERATION_FAILED,
                    f"pool '{other.name}' is already defined with uuid {other.definition.uuid_str}",
                    domain=FROM_STORAGE,
                )
            if other.name == definition.name and other.uuid != definition.uuid:
                raise rpc_error(
                    E.VIR_ERR_OPERATION_FAILED,
                    f"pool '{other.name}' already exists with uuid {other.definition.uuid_str}",
                    domain=FROM_STORAGE,
                )
            if (
                other.name != definition.name
                and definition.target_path is not None
                and (
                    other.definition.type == definition.type == "dir"
                    and other.definition.target_path == definition.target_path
                )
            ):
                raise rpc_error(
                    E.VIR_ERR_OPERATION_FAILED,
                    f"Storage source conflict with pool: '{other.name}'",
                    domain=FROM_STORAGE,
                )
        pool = self.hv[POOLS].get(definition.name)
        if pool is None:
            pool = Pool(definition)
            self.hv[POOLS][pool.name] = pool
        elif check_active and pool.active:
            raise rpc_error(
                E.VIR_ERR_OPERATION_INVALID, f"pool is already active as '{pool.name}'", domain=FROM_STORAGE
            )
        else:
            pool.definition = definition
        pool.set_default_size()
        return pool

    async def storage_pool_define_xml(
        self, call: Call, args: rp.RemoteStoragePoolDefineXmlArgs
    ) -> rp.RemoteStoragePoolDefineXmlRet:
        self._writable(call, "virStoragePoolDefineXML", FROM_STORAGE)
        check_flags(args.flags, 1, "testStoragePoolDefineXML")  # VALIDATE
        pool = self._add_pool(parse_pool_xml(args.xml), check_active=False)
        pool.persistent = True
        self._pool_event(pool, EVENT_DEFINED)
        return rp.RemoteStoragePoolDefineXmlRet(pool.handle())

    async def storage_pool_create_xml(
        self, call: Call, args: rp.RemoteStoragePoolCreateXmlArgs
    ) -> rp.RemoteStoragePoolCreateXmlRet:
        self._writable(call, "virStoragePoolCreateXML", FROM_STORAGE)
        check_flags(args.flags, 0, "testStoragePoolCreateXML")
        pool = self._add_pool(parse_pool_xml(args.xml), check_active=True)
        pool.persistent, pool.active = False, True
        self._pool_event(pool, EVENT_STARTED)
        return rp.RemoteStoragePoolCreateXmlRet(pool.handle())

    async def storage_pool_create(self, call: Call, args: rp.RemoteStoragePoolCreateArgs) -> None:
        self._writable(call, "virStoragePoolCreate", FROM_STORAGE)
        check_flags(args.flags, 0, "testStoragePoolCreate")
        pool = self._pool(call, args.pool, active=False)
        pool.active = True
        self._pool_event(pool, EVENT_STARTED)

    async def storage_pool_build(self, call: Call, args: rp.RemoteStoragePoolBuildArgs) -> None:
        self._writable(call, "virStoragePoolBuild", FROM_STORAGE)
        check_flags(args.flags, 0, "testStoragePoolBuild")
        self._pool_event(self._pool(call, args.pool, active=False), EVENT_CREATED)

    async def storage_pool_delete(self, call: Call, args: rp.RemoteStoragePoolDeleteArgs) -> None:
        self._writable(call, "virStoragePoolDelete", FROM_STORAGE)
        check_flags(args.flags, 0, "testStoragePoolDelete")
        self._pool_event(self._pool(call, args.pool, active=False), EVENT_DELETED)

    async def storage_pool_refresh(self, call: Call, args: rp.RemoteStoragePoolRefreshArgs) -> None:
        self._writable(call, "virStoragePoolRefresh", FROM_STORAGE)
        check_flags(args.flags, 0, "testStoragePoolRefresh")
        self._pool_event(self._pool(call, args.pool, active=True), None)

    async def storage_pool_destroy(self, call: Call, args: rp.RemoteStoragePoolDestroyArgs) -> None:
        self._writable(call, "virStoragePoolDestroy", FROM_STORAGE)
        pool = self._pool(call, args.pool, active=True)
        pool.active = False
        self._pool_event(pool, EVENT_STOPPED)
        if not pool.persistent:
            del self.hv[POOLS][pool.name]

    async def storage_pool_undefine(self, call: Call, args: rp.RemoteStoragePoolUndefineArgs) -> None:
        self._writable(call, "virStoragePoolUndefine", FROM_STORAGE)
        pool = self._pool(call, args.pool, active=False)
        self._pool_event(pool, EVENT_UNDEFINED)
        del self.hv[POOLS][pool.name]

    # -- volumes ----------------------------------------------------------

    def _volume(self, call: Call, handle: rp.RemoteNonnullStorageVol) -> tuple[Pool, VolumeDef]:
        pool = self._pool(call, rp.RemoteNonnullStoragePool(handle.pool, b""), active=True)
        volume = pool.volumes.get(handle.name)
        if volume is None:
            raise driver_error(E.VIR_ERR_NO_STORAGE_VOL, f"no storage vol with matching name '{handle.name}'")
        return pool, volume

    def _find_volume(self, what: str, value: str) -> rp.RemoteNonnullStorageVol:
        """A volume of a running pool by key or path."""
        for pool in self.hv[POOLS].values():
            for volume in pool.volumes.values() if pool.active else ():
                if getattr(volume, what) == value:
                    return pool.volume_handle(volume)
        raise driver_error(E.VIR_ERR_NO_STORAGE_VOL, f"no storage vol with matching {what} '{value}'")

    def _sorted_volumes(self, pool: Pool) -> list[VolumeDef]:
        return sorted(pool.volumes.values(), key=lambda v: v.name)

    async def storage_pool_num_of_volumes(
        self, call: Call, args: rp.RemoteStoragePoolNumOfVolumesArgs
    ) -> rp.RemoteStoragePoolNumOfVolumesRet:
        return rp.RemoteStoragePoolNumOfVolumesRet(len(self._pool(call, args.pool, active=True).volumes))

    async def storage_pool_list_volumes(
        self, call: Call, args: rp.RemoteStoragePoolListVolumesArgs
    ) -> rp.RemoteStoragePoolListVolumesRet:
        pool = self._pool(call, args.pool, active=True)
        return rp.RemoteStoragePoolListVolumesRet(
            [v.name for v in self._sorted_volumes(pool)][: args.maxnames]
        )

    async def storage_pool_list_all_volumes(
        self, call: Call, args: rp.RemoteStoragePoolListAllVolumesArgs
    ) -> rp.RemoteStoragePoolListAllVolumesRet:
        self._open(call)
        check_flags(args.flags, 0, "testStoragePoolListAllVolumes")
        pool = self._pool_with_uuid(args.pool.uuid)
        if not pool.active:
            raise driver_error(E.VIR_ERR_OPERATION_INVALID, "storage pool is not active")
        volumes = self._sorted_volumes(pool)
        handles = [pool.volume_handle(v) for v in volumes] if args.need_results else []
        return rp.RemoteStoragePoolListAllVolumesRet(handles, len(volumes))

    async def storage_vol_lookup_by_name(
        self, call: Call, args: rp.RemoteStorageVolLookupByNameArgs
    ) -> rp.RemoteStorageVolLookupByNameRet:
        pool = self._pool(call, args.pool, active=True)
        handle = rp.RemoteNonnullStorageVol(pool.name, args.name, "")
        return rp.RemoteStorageVolLookupByNameRet(pool.volume_handle(self._volume(call, handle)[1]))

    async def storage_vol_lookup_by_key(
        self, call: Call, args: rp.RemoteStorageVolLookupByKeyArgs
    ) -> rp.RemoteStorageVolLookupByKeyRet:
        self._open(call)
        return rp.RemoteStorageVolLookupByKeyRet(self._find_volume("key", args.key))

    async def storage_vol_lookup_by_path(
        self, call: Call, args: rp.RemoteStorageVolLookupByPathArgs
    ) -> rp.RemoteStorageVolLookupByPathRet:
        self._open(call)
        return rp.RemoteStorageVolLookupByPathRet(self._find_volume("path", args.path))

    async def storage_vol_get_info(
        self, call: Call, args: rp.RemoteStorageVolGetInfoArgs
    ) -> rp.RemoteStorageVolGetInfoRet:
        pool, volume = self._volume(call, args.vol)
        kind = _VOLUME_TYPE_NUMBERS[VOLUME_TYPES.get(pool.definition.type, "file")]
        return rp.RemoteStorageVolGetInfoRet(kind, volume.capacity, volume.allocation)

    async def storage_vol_get_xml_desc(
        self, call: Call, args: rp.RemoteStorageVolGetXmlDescArgs
    ) -> rp.RemoteStorageVolGetXmlDescRet:
        self._open(call)
        check_flags(args.flags, 0, "testStorageVolGetXMLDesc")
        pool, volume = self._volume(call, args.vol)
        return rp.RemoteStorageVolGetXmlDescRet(format_volume_xml(pool.definition, volume))

    async def storage_vol_get_path(
        self, call: Call, args: rp.RemoteStorageVolGetPathArgs
    ) -> rp.RemoteStorageVolGetPathRet:
        return rp.RemoteStorageVolGetPathRet(self._volume(call, args.vol)[1].path)

    def _create_volume(self, pool: Pool, xml: str) -> rp.RemoteNonnullStorageVol:
        volume = parse_volume_xml(xml, pool.definition)
        if volume.name in pool.volumes:
            raise driver_error(E.VIR_ERR_OPERATION_FAILED, "storage vol already exists")
        d = pool.definition
        if d.allocation + volume.allocation > d.capacity:
            raise driver_error(
                E.VIR_ERR_INTERNAL_ERROR, f"Not enough free space in pool for volume '{volume.name}'"
            )
        pool.volumes[volume.name] = volume
        d.allocation += volume.allocation
        d.available = d.capacity - d.allocation
        return pool.volume_handle(volume)

    async def storage_vol_create_xml(
        self, call: Call, args: rp.RemoteStorageVolCreateXmlArgs
    ) -> rp.RemoteStorageVolCreateXmlRet:
        self._writable(call, "virStorageVolCreateXML", FROM_STORAGE)
        check_flags(args.flags, 0, "testStorageVolCreateXML")
        pool = self._pool(call, args.pool, active=True)
        return rp.RemoteStorageVolCreateXmlRet(self._create_volume(pool, args.xml))

    async def storage_vol_create_xml_from(
        self, call: Call, args: rp.RemoteStorageVolCreateXmlFromArgs
    ) -> rp.RemoteStorageVolCreateXmlFromRet:
        self._writable(call, "virStorageVolCreateXMLFrom", FROM_STORAGE)
        check_flags(args.flags, 0, "testStorageVolCreateXMLFrom")
        pool = self._pool(call, args.pool, active=True)
        if args.clonevol.name not in pool.volumes:
            raise driver_error(
                E.VIR_ERR_NO_STORAGE_VOL, f"no storage vol with matching name '{args.clonevol.name}'"
            )
        return rp.RemoteStorageVolCreateXmlFromRet(self._create_volume(pool, args.xml))

    async def storage_vol_delete(self, call: Call, args: rp.RemoteStorageVolDeleteArgs) -> None:
        self._writable(call, "virStorageVolDelete", FROM_STORAGE)
        check_flags(args.flags, 0, "testStorageVolDelete")
        pool, volume = self._volume(call, args.vol)
        d = pool.definition
        d.allocation -= volume.allocation
        d.available = d.capacity - d.allocation
        del pool.volumes[volume.name]

    # -- events -----------------------------------------------------------

    async def connect_storage_pool_event_register_any(
        self, call: Call, args: rp.RemoteConnectStoragePoolEventRegisterAnyArgs
    ) -> rp.RemoteConnectStoragePoolEventRegisterAnyRet:
        key = args.pool.uuid if args.pool is not None else None
        return rp.RemoteConnectStoragePoolEventRegisterAnyRet(
            self._register_event(call, "storage_pool", args.eventID, _EVENT_ID_LAST, key)
        )

    async def connect_storage_pool_event_deregister_any(
        self, call: Call, args: rp.RemoteConnectStoragePoolEventDeregisterAnyArgs
    ) -> None:
        self._deregister_event(call, args.callbackID)

    def _pool_event(self, pool: Pool, event: int | None) -> None:
        """A lifecycle event, or (``event`` None) a refresh."""
        handle = pool.handle()
        if event is None:
            self.hv.notify(
                "storage_pool",
                pool.uuid,
                EVENT_ID_REFRESH,
                lambda client, callback_id: self.send_storage_pool_event_refresh(
                    client, rp.RemoteStoragePoolEventRefreshMsg(callback_id, handle)
                ),
            )
            return
        self.hv.notify(
            "storage_pool",
            pool.uuid,
            EVENT_ID_LIFECYCLE,
            lambda client, callback_id: self.send_storage_pool_event_lifecycle(
                client, rp.RemoteStoragePoolEventLifecycleMsg(callback_id, handle, event, 0)
            ),
        )


#: Its state: the pools (with their volumes) by name.
POOLS = register(ObjectKind("storage", StorageProcedures, by_name(default_pools)))
