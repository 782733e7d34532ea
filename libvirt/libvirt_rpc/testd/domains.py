"""Domain procedures: listing and looking up domains, inspecting them,
defining, starting, stopping, suspending and resuming them, and the
registrations for their events."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from libvirt_rpc import remote_protocol as rp

from ..errors import ErrorDomain
from ..errors import ErrorNumber as E
from ..server import Call, rpc_error
from .base import ProceduresBase, c_string
from .model import (
    DEFINED_ADDED,
    DEFINED_UPDATED,
    EVENT_DEFINED,
    EVENT_RESUMED,
    EVENT_SUSPENDED,
    EVENT_UNDEFINED,
    FROM_TEST,
    PAUSED,
    PAUSED_USER,
    RESUMED_UNPAUSED,
    RUNNING,
    RUNNING_UNPAUSED,
    SHUTOFF,
    SHUTOFF_DESTROYED,
    SUSPENDED_PAUSED,
    UNDEFINED_REMOVED,
    Domain,
)
from .xml import parse_domain_xml

VIR_DOMAIN_EVENT_ID_LAST = 27  # libvirt 9.0.0

VIR_DOMAIN_XML_INACTIVE = 2

# virConnectListAllDomainsFlags: groups of alternatives; a group filters only
# when one of its flags is given.
_LIST_GROUPS: tuple[tuple[tuple[int, Any], ...], ...] = (
    ((1, lambda d: d.active), (2, lambda d: not d.active)),
    ((4, lambda d: d.persistent), (8, lambda d: not d.persistent)),
    (
        (16, lambda d: d.state == RUNNING),
        (32, lambda d: d.state == PAUSED),
        (64, lambda d: d.state == SHUTOFF),
        (128, lambda d: d.state not in (RUNNING, PAUSED, SHUTOFF)),
    ),
    ((256, lambda d: False), (512, lambda d: True)),  # managed save
    ((1024, lambda d: d.autostart), (2048, lambda d: not d.autostart)),
    ((4096, lambda d: False), (8192, lambda d: True)),  # snapshots
    ((16384, lambda d: False), (32768, lambda d: True)),  # checkpoints
)

SCREENSHOT = Path("/usr/share/libvirt/test-screenshot.png")


class DomainProcedures(ProceduresBase):
    def _domain(self, call: Call, handle: rp.RemoteNonnullDomain) -> Domain:
        """The domain a call's handle names, on an open connection."""
        self._open(call)
        return self.hv.of(handle)

    # -- events -----------------------------------------------------------

    async def connect_domain_event_callback_register_any(
        self, call: Call, args: rp.RemoteConnectDomainEventCallbackRegisterAnyArgs
    ) -> rp.RemoteConnectDomainEventCallbackRegisterAnyRet:
        self._open(call)
        if not 0 <= args.eventID < VIR_DOMAIN_EVENT_ID_LAST:
            raise rpc_error(E.VIR_ERR_INTERNAL_ERROR, f"unsupported event ID {args.eventID}")
        uuid = args.dom.uuid if args.dom is not None else None
        callback_id = self.hv.register(call.client, args.eventID, uuid)
        return rp.RemoteConnectDomainEventCallbackRegisterAnyRet(callback_id)

    async def connect_domain_event_callback_deregister_any(
        self, call: Call, args: rp.RemoteConnectDomainEventCallbackDeregisterAnyArgs
    ) -> None:
        self._open(call)
        self.hv.deregister(call.client, args.callbackID)

    # -- listing and lookup -----------------------------------------------

    def _list(self, flags: int) -> list[Domain]:
        out = []
        for domain in self.hv.domains.values():
            for group in _LIST_GROUPS:
                tests = [test for flag, test in group if flags & flag]
                if tests and not any(test(domain) for test in tests):
                    break
            else:
                out.append(domain)
        return out

    async def connect_list_all_domains(
        self, call: Call, args: rp.RemoteConnectListAllDomainsArgs
    ) -> rp.RemoteConnectListAllDomainsRet:
        self._open(call)
        domains = self._list(args.flags)
        handles = [d.handle() for d in domains] if args.need_results else []
        return rp.RemoteConnectListAllDomainsRet(handles, len(domains))

    async def connect_num_of_domains(self, call: Call) -> rp.RemoteConnectNumOfDomainsRet:
        self._open(call)
        return rp.RemoteConnectNumOfDomainsRet(len(self._list(1)))

    async def connect_list_domains(
        self, call: Call, args: rp.RemoteConnectListDomainsArgs
    ) -> rp.RemoteConnectListDomainsRet:
        self._open(call)
        return rp.RemoteConnectListDomainsRet([d.id for d in self._list(1)][: args.maxids])

    async def connect_num_of_defined_domains(
        self, call: Call
    ) -> rp.RemoteConnectNumOfDefinedDomainsRet:
        self._open(call)
        return rp.RemoteConnectNumOfDefinedDomainsRet(len(self._list(2)))

    async def connect_list_defined_domains(
        self, call: Call, args: rp.RemoteConnectListDefinedDomainsArgs
    ) -> rp.RemoteConnectListDefinedDomainsRet:
        self._open(call)
        return rp.RemoteConnectListDefinedDomainsRet([d.name for d in self._list(2)][: args.maxnames])

    async def domain_lookup_by_name(
        self, call: Call, args: rp.RemoteDomainLookupByNameArgs
    ) -> rp.RemoteDomainLookupByNameRet:
        self._open(call)
        return rp.RemoteDomainLookupByNameRet(self.hv.by_name(args.name).handle())

    async def domain_lookup_by_uuid(
        self, call: Call, args: rp.RemoteDomainLookupByUuidArgs
    ) -> rp.RemoteDomainLookupByUuidRet:
        self._open(call)
        return rp.RemoteDomainLookupByUuidRet(self.hv.by_uuid(args.uuid).handle())

    async def domain_lookup_by_id(
        self, call: Call, args: rp.RemoteDomainLookupByIdArgs
    ) -> rp.RemoteDomainLookupByIdRet:
        self._open(call)
        return rp.RemoteDomainLookupByIdRet(self.hv.by_id(args.id).handle())

    # -- inspecting a domain ----------------------------------------------

    async def domain_get_info(
        self, call: Call, args: rp.RemoteDomainGetInfoArgs
    ) -> rp.RemoteDomainGetInfoRet:
        d = self._domain(call, args.dom)
        # The test driver reports the time of day as CPU time.
        return rp.RemoteDomainGetInfoRet(d.state, d.max_memory, d.memory, d.vcpus, time.time_ns())

    async def domain_get_state(
        self, call: Call, args: rp.RemoteDomainGetStateArgs
    ) -> rp.RemoteDomainGetStateRet:
        d = self._domain(call, args.dom)
        return rp.RemoteDomainGetStateRet(d.state, d.reason)

    async def domain_get_os_type(
        self, call: Call, args: rp.RemoteDomainGetOsTypeArgs
    ) -> rp.RemoteDomainGetOsTypeRet:
        self._domain(call, args.dom)
        return rp.RemoteDomainGetOsTypeRet("linux")  # what the test driver answers

    async def domain_get_max_memory(
        self, call: Call, args: rp.RemoteDomainGetMaxMemoryArgs
    ) -> rp.RemoteDomainGetMaxMemoryRet:
        return rp.RemoteDomainGetMaxMemoryRet(self._domain(call, args.dom).max_memory)

    async def domain_get_xml_desc(
        self, call: Call, args: rp.RemoteDomainGetXmlDescArgs
    ) -> rp.RemoteDomainGetXmlDescRet:
        d = self._domain(call, args.dom)
        return rp.RemoteDomainGetXmlDescRet(d.xml(inactive=bool(args.flags & VIR_DOMAIN_XML_INACTIVE)))

    async def domain_is_active(
        self, call: Call, args: rp.RemoteDomainIsActiveArgs
    ) -> rp.RemoteDomainIsActiveRet:
        return rp.RemoteDomainIsActiveRet(int(self._domain(call, args.dom).active))

    async def domain_is_persistent(
        self, call: Call, args: rp.RemoteDomainIsPersistentArgs
    ) -> rp.RemoteDomainIsPersistentRet:
        return rp.RemoteDomainIsPersistentRet(int(self._domain(call, args.dom).persistent))

    async def domain_is_updated(
        self, call: Call, args: rp.RemoteDomainIsUpdatedArgs
    ) -> rp.RemoteDomainIsUpdatedRet:
        self._domain(call, args.dom)
        return rp.RemoteDomainIsUpdatedRet(0)

    async def domain_get_autostart(
        self, call: Call, args: rp.RemoteDomainGetAutostartArgs
    ) -> rp.RemoteDomainGetAutostartRet:
        return rp.RemoteDomainGetAutostartRet(int(self._domain(call, args.dom).autostart))

    async def domain_set_autostart(self, call: Call, args: rp.RemoteDomainSetAutostartArgs) -> None:
        self._writable(call, "virDomainSetAutostart")
        self.hv.of(args.dom).autostart = bool(args.autostart)

    async def domain_has_managed_save_image(
        self, call: Call, args: rp.RemoteDomainHasManagedSaveImageArgs
    ) -> rp.RemoteDomainHasManagedSaveImageRet:
        self._domain(call, args.dom)
        return rp.RemoteDomainHasManagedSaveImageRet(0)

    async def domain_snapshot_num(
        self, call: Call, args: rp.RemoteDomainSnapshotNumArgs
    ) -> rp.RemoteDomainSnapshotNumRet:
        self._domain(call, args.dom)
        return rp.RemoteDomainSnapshotNumRet(0)

    async def domain_get_security_label(
        self, call: Call, args: rp.RemoteDomainGetSecurityLabelArgs
    ) -> rp.RemoteDomainGetSecurityLabelRet:
        d = self._domain(call, args.dom)
        if d.active:
            return rp.RemoteDomainGetSecurityLabelRet(c_string("libvirt-test"), 1)
        return rp.RemoteDomainGetSecurityLabelRet(c_string(""), 0)

    async def domain_get_messages(
        self, call: Call, args: rp.RemoteDomainGetMessagesArgs
    ) -> rp.RemoteDomainGetMessagesRet:
        self._domain(call, args.dom)
        return rp.RemoteDomainGetMessagesRet([])

    async def domain_screenshot(
        self, call: Call, args: rp.RemoteDomainScreenshotArgs
    ) -> rp.RemoteDomainScreenshotRet:
        d = self._domain(call, args.dom)
        if not d.active:
            raise rpc_error(
                E.VIR_ERR_OPERATION_INVALID, "domain is not running", domain=FROM_TEST
            )
        try:
            data = SCREENSHOT.read_bytes()
        except OSError as error:
            raise rpc_error(
                E.VIR_ERR_SYSTEM_ERROR,
                f"Unable to open {SCREENSHOT}: {error.strerror}",
                domain=FROM_TEST,
            ) from None
        stream = call.stream
        assert stream is not None

        async def transfer() -> None:
            await stream.send(data)
            await stream.finish()

        stream.run(transfer())
        return rp.RemoteDomainScreenshotRet("image/png")

    # -- changing a domain --------------------------------------------------

    def _define(self, xml: str) -> rp.RemoteNonnullDomain:
        new = parse_domain_xml(xml)
        old = self.hv.domains.get(new.name)
        if old is None:
            for other in self.hv.domains.values():
                if other.uuid == new.uuid:
                    raise rpc_error(
                        E.VIR_ERR_OPERATION_FAILED,
                        f"domain '{other.name}' is already defined with uuid {other.uuid_str}",
                        domain=ErrorDomain.VIR_FROM_DOMAIN,
                    )
            self.hv.add(new)
            self.hv.emit(new, EVENT_DEFINED, DEFINED_ADDED)
            return new.handle()
        if old.uuid != new.uuid:
            raise rpc_error(
                E.VIR_ERR_OPERATION_FAILED,
                f"domain '{old.name}' already exists with uuid {old.uuid_str}",
                domain=ErrorDomain.VIR_FROM_DOMAIN,
            )
        # Same domain: the new definition replaces the old one; a running
        # domain keeps its runtime state.
        new.id, new.state, new.reason, new.autostart = old.id, old.state, old.reason, old.autostart
        new.persistent = True
        self.hv.add(new)
        self.hv.emit(new, EVENT_DEFINED, DEFINED_UPDATED)
        return new.handle()

    async def domain_define_xml(
        self, call: Call, args: rp.RemoteDomainDefineXmlArgs
    ) -> rp.RemoteDomainDefineXmlRet:
        self._writable(call, "virDomainDefineXML")
        return rp.RemoteDomainDefineXmlRet(self._define(args.xml))

    async def domain_define_xml_flags(
        self, call: Call, args: rp.RemoteDomainDefineXmlFlagsArgs
    ) -> rp.RemoteDomainDefineXmlFlagsRet:
        self._writable(call, "virDomainDefineXMLFlags")
        return rp.RemoteDomainDefineXmlFlagsRet(self._define(args.xml))

    def _undefine(self, handle: rp.RemoteNonnullDomain) -> None:
        d = self.hv.of(handle)
        if not d.persistent:
            raise rpc_error(
                E.VIR_ERR_OPERATION_INVALID, "cannot undefine transient domain", domain=FROM_TEST
            )
        self.hv.emit(d, EVENT_UNDEFINED, UNDEFINED_REMOVED)
        if d.active:
            d.persistent = False
        else:
            del self.hv.domains[d.name]

    async def domain_undefine(self, call: Call, args: rp.RemoteDomainUndefineArgs) -> None:
        self._writable(call, "virDomainUndefine")
        self._undefine(args.dom)

    async def domain_undefine_flags(
        self, call: Call, args: rp.RemoteDomainUndefineFlagsArgs
    ) -> None:
        self._writable(call, "virDomainUndefineFlags")
        self._undefine(args.dom)

    def _create(self, handle: rp.RemoteNonnullDomain) -> Domain:
        d = self.hv.of(handle)
        if d.state != SHUTOFF:
            raise rpc_error(
                E.VIR_ERR_OPERATION_INVALID,
                f"Domain '{d.name}' is already running",
                domain=FROM_TEST,
            )
        self.hv.start(d)
        return d

    async def domain_create(self, call: Call, args: rp.RemoteDomainCreateArgs) -> None:
        self._writable(call, "virDomainCreate")
        self._create(args.dom)

    async def domain_create_with_flags(
        self, call: Call, args: rp.RemoteDomainCreateWithFlagsArgs
    ) -> rp.RemoteDomainCreateWithFlagsRet:
        self._writable(call, "virDomainCreateWithFlags")
        return rp.RemoteDomainCreateWithFlagsRet(self._create(args.dom).handle())

    def _destroy(self, handle: rp.RemoteNonnullDomain) -> None:
        d = self.hv.of(handle)
        if not d.active:
            raise rpc_error(
                E.VIR_ERR_OPERATION_INVALID, "domain is not running", domain=FROM_TEST
            )
        self.hv.stop(d, SHUTOFF_DESTROYED)

    async def domain_destroy(self, call: Call, args: rp.RemoteDomainDestroyArgs) -> None:
        self._writable(call, "virDomainDestroy")
        self._destroy(args.dom)

    async def domain_destroy_flags(
        self, call: Call, args: rp.RemoteDomainDestroyFlagsArgs
    ) -> None:
        self._writable(call, "virDomainDestroyFlags")
        self._destroy(args.dom)

    async def domain_suspend(self, call: Call, args: rp.RemoteDomainSuspendArgs) -> None:
        self._writable(call, "virDomainSuspend")
        d = self.hv.of(args.dom)
        if d.state in (SHUTOFF, PAUSED):
            raise rpc_error(E.VIR_ERR_INTERNAL_ERROR, f"domain '{d.name}' not running", domain=FROM_TEST)
        d.state, d.reason = PAUSED, PAUSED_USER
        self.hv.emit(d, EVENT_SUSPENDED, SUSPENDED_PAUSED)

    async def domain_resume(self, call: Call, args: rp.RemoteDomainResumeArgs) -> None:
        self._writable(call, "virDomainResume")
        d = self.hv.of(args.dom)
        if d.state != PAUSED:
            raise rpc_error(E.VIR_ERR_INTERNAL_ERROR, f"domain '{d.name}' not paused", domain=FROM_TEST)
        d.state, d.reason = RUNNING, RUNNING_UNPAUSED
        self.hv.emit(d, EVENT_RESUMED, RESUMED_UNPAUSED)
