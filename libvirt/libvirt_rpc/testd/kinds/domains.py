"""Domain procedures: listing and looking up domains, their basic facts,
defining, creating, starting, stopping, suspending, resuming, shutting
down, rebooting, saving (managed), renaming, their title and description,
and the registrations for their events."""

from __future__ import annotations

import copy
import time
import xml.etree.ElementTree as ET
from pathlib import Path

from libvirt_rpc import remote_protocol as rp

from ...errors import ErrorDomain
from ...errors import ErrorNumber as E
from ...server import Call, rpc_error
from ..base import ProceduresBase, c_string, check_flags, driver_error, not_running
from ..listing import Groups, select
from ..model import (
    AFFECT_CONFIG,
    AFFECT_LIVE,
    DEFINED_ADDED,
    DEFINED_RENAMED,
    DEFINED_UPDATED,
    EVENT_DEFINED,
    EVENT_RESUMED,
    EVENT_SUSPENDED,
    EVENT_UNDEFINED,
    PAUSED,
    PAUSED_USER,
    RESUMED_UNPAUSED,
    RUNNING,
    RUNNING_BOOTED,
    RUNNING_UNPAUSED,
    SHUTOFF,
    SHUTOFF_DESTROYED,
    SHUTOFF_SAVED,
    SHUTOFF_SHUTDOWN,
    STOPPED_SAVED,
    STOPPED_SHUTDOWN,
    SUSPENDED_PAUSED,
    UNDEFINED_REMOVED,
    UNDEFINED_RENAMED,
    Domain,
)
from ..registry import ObjectKind, register
from ..xml.domain import libxml_text, parse_domain_def, without_namespaces

FROM_DOMAIN = ErrorDomain.VIR_FROM_DOMAIN
VIR_DOMAIN_EVENT_ID_LAST = 27  # libvirt 9.0.0

VIR_DOMAIN_XML_SECURE, VIR_DOMAIN_XML_INACTIVE = 1, 2
_XML_FLAGS = 0xF  # SECURE, INACTIVE, UPDATE_CPU, MIGRATABLE
_UNDEFINE_MANAGED_SAVE, _UNDEFINE_SNAPSHOTS_METADATA = 1, 2
# virDomainMetadataType
METADATA_DESCRIPTION, METADATA_TITLE, METADATA_ELEMENT = range(3)

# virConnectListAllDomainsFlags; the first three groups are
# virConnectGetAllDomainStats's too.
STATE_GROUPS: Groups[Domain] = (
    ((1, lambda d: d.active), (2, lambda d: not d.active)),
    ((4, lambda d: d.persistent), (8, lambda d: not d.persistent)),
    (
        (16, lambda d: d.state == RUNNING),
        (32, lambda d: d.state == PAUSED),
        (64, lambda d: d.state == SHUTOFF),
        (128, lambda d: d.state not in (RUNNING, PAUSED, SHUTOFF)),
    ),
)
_LIST_GROUPS: Groups[Domain] = STATE_GROUPS + (
    ((256, lambda d: d.managed_save), (512, lambda d: not d.managed_save)),
    ((1024, lambda d: d.autostart), (2048, lambda d: not d.autostart)),
    ((4096, lambda d: bool(d.snapshots)), (8192, lambda d: not d.snapshots)),
    ((16384, lambda d: bool(d.checkpoints)), (32768, lambda d: not d.checkpoints)),
)

SCREENSHOT = Path("/usr/share/libvirt/test-screenshot.png")

# virDomainLifecycle and virDomainLifecycleAction
LIFECYCLE_EVENTS = ("poweroff", "reboot", "crash")
LIFECYCLE_ACTIONS = (
    "destroy",
    "restart",
    "rename-restart",
    "preserve",
    "coredump-destroy",
    "coredump-restart",
)

# What a lifecycle action leaves a domain in (testDomainActionSetState):
# destroy and preserve stop it, restart and rename-restart keep it running.
_KEEPS_RUNNING = ("restart", "rename-restart")


class DomainProcedures(ProceduresBase):
    # -- events -----------------------------------------------------------

    async def connect_domain_event_callback_register_any(
        self, call: Call, args: rp.RemoteConnectDomainEventCallbackRegisterAnyArgs
    ) -> rp.RemoteConnectDomainEventCallbackRegisterAnyRet:
        uuid = args.dom.uuid if args.dom is not None else None
        callback_id = self._register_event(call, "domain", args.eventID, VIR_DOMAIN_EVENT_ID_LAST, uuid)
        return rp.RemoteConnectDomainEventCallbackRegisterAnyRet(callback_id)

    async def connect_domain_event_callback_deregister_any(
        self, call: Call, args: rp.RemoteConnectDomainEventCallbackDeregisterAnyArgs
    ) -> None:
        self._deregister_event(call, args.callbackID)

    # -- listing and lookup -----------------------------------------------

    def _domains_matching(self, flags: int) -> list[Domain]:
        return select(self.hv.domains.values(), flags, _LIST_GROUPS)

    async def connect_list_all_domains(
        self, call: Call, args: rp.RemoteConnectListAllDomainsArgs
    ) -> rp.RemoteConnectListAllDomainsRet:
        self._open(call)
        domains = self._domains_matching(args.flags)
        handles = [d.handle() for d in domains] if args.need_results else []
        return rp.RemoteConnectListAllDomainsRet(handles, len(domains))

    async def connect_num_of_domains(self, call: Call) -> rp.RemoteConnectNumOfDomainsRet:
        self._open(call)
        return rp.RemoteConnectNumOfDomainsRet(len(self._domains_matching(1)))

    async def connect_list_domains(
        self, call: Call, args: rp.RemoteConnectListDomainsArgs
    ) -> rp.RemoteConnectListDomainsRet:
        self._open(call)
        return rp.RemoteConnectListDomainsRet([d.id for d in self._domains_matching(1)][: args.maxids])

    async def connect_num_of_defined_domains(self, call: Call) -> rp.RemoteConnectNumOfDefinedDomainsRet:
        self._open(call)
        return rp.RemoteConnectNumOfDefinedDomainsRet(len(self._domains_matching(2)))

    async def connect_list_defined_domains(
        self, call: Call, args: rp.RemoteConnectListDefinedDomainsArgs
    ) -> rp.RemoteConnectListDefinedDomainsRet:
        self._open(call)
        return rp.RemoteConnectListDefinedDomainsRet(
            [d.name for d in self._domains_matching(2)][: args.maxnames]
        )

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
        self._open(call)
        check_flags(args.flags, _XML_FLAGS, "testDomainGetXMLDesc")
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
            raise not_running()
        try:
            data = SCREENSHOT.read_bytes()
        except OSError as error:
            raise driver_error(
                E.VIR_ERR_SYSTEM_ERROR, f"Unable to open {SCREENSHOT}: {error.strerror}"
            ) from None
        stream = call.stream
        assert stream is not None

        async def transfer() -> None:
            await stream.send(data)
            await stream.finish()

        stream.run(transfer())
        return rp.RemoteDomainScreenshotRet("image/png")

    # -- title and description ----------------------------------------------

    async def domain_get_metadata(
        self, call: Call, args: rp.RemoteDomainGetMetadataArgs
    ) -> rp.RemoteDomainGetMetadataRet:
        self._open(call)
        check_flags(args.flags, AFFECT_LIVE | AFFECT_CONFIG, "testDomainGetMetadata")
        definition = self._domain(call, args.dom).one_definition(args.flags)
        if args.type == METADATA_ELEMENT:
            found = [element for uri, _, element in definition.metadata or () if uri == args.uri]
            value = libxml_text(found[0]) if found else None
        else:
            value = definition.description if args.type == METADATA_DESCRIPTION else definition.title
        if value is None:
            raise rpc_error(
                E.VIR_ERR_NO_DOMAIN_METADATA, "Requested metadata element is not present", domain=FROM_DOMAIN
            )
        return rp.RemoteDomainGetMetadataRet(value)

    async def domain_set_metadata(self, call: Call, args: rp.RemoteDomainSetMetadataArgs) -> None:
        self._writable(call, "virDomainSetMetadata")
        check_flags(args.flags, AFFECT_LIVE | AFFECT_CONFIG, "testDomainSetMetadata")
        element = None
        if args.type == METADATA_ELEMENT and args.metadata:
            try:
                element = without_namespaces(ET.fromstring(args.metadata))
            except ET.ParseError:
                raise rpc_error(E.VIR_ERR_XML_ERROR, "(metadata_xml)", domain=FROM_DOMAIN) from None
        for definition in self.hv.of(args.dom).definitions(args.flags):
            if definition is None:
                continue
            if args.type == METADATA_ELEMENT:
                kept = [m for m in definition.metadata or () if m[0] != args.uri]
                if element is not None:
                    kept.append((args.uri or "", args.key or "", copy.deepcopy(element)))
                definition.metadata = kept
            else:
                field = "description" if args.type == METADATA_DESCRIPTION else "title"
                setattr(definition, field, args.metadata or None)

    # -- defining and creating ----------------------------------------------

    def _define(self, xml: str) -> rp.RemoteNonnullDomain:
        domain, existed = self.hv.assign(parse_domain_def(xml), live=False)
        domain.persistent = True
        self.hv.emit(domain, EVENT_DEFINED, DEFINED_UPDATED if existed else DEFINED_ADDED)
        return domain.handle()

    async def domain_define_xml(
        self, call: Call, args: rp.RemoteDomainDefineXmlArgs
    ) -> rp.RemoteDomainDefineXmlRet:
        self._writable(call, "virDomainDefineXML")
        return rp.RemoteDomainDefineXmlRet(self._define(args.xml))

    async def domain_define_xml_flags(
        self, call: Call, args: rp.RemoteDomainDefineXmlFlagsArgs
    ) -> rp.RemoteDomainDefineXmlFlagsRet:
        self._writable(call, "virDomainDefineXMLFlags")
        check_flags(args.flags, 1, "testDomainDefineXMLFlags")  # VALIDATE
        return rp.RemoteDomainDefineXmlFlagsRet(self._define(args.xml))

    def _create_xml(self, xml: str, flags: int) -> rp.RemoteNonnullDomain:
        check_flags(flags, 4, "testDomainCreateXML")  # VALIDATE
        domain, _ = self.hv.assign(parse_domain_def(xml), live=True)
        self.hv.start(domain, RUNNING_BOOTED)
        return domain.handle()

    async def domain_create_xml(
        self, call: Call, args: rp.RemoteDomainCreateXmlArgs
    ) -> rp.RemoteDomainCreateXmlRet:
        self._writable(call, "virDomainCreateXML")
        return rp.RemoteDomainCreateXmlRet(self._create_xml(args.xml_desc, args.flags))

    async def domain_create_xml_with_files(
        self, call: Call, args: rp.RemoteDomainCreateXmlWithFilesArgs
    ) -> rp.RemoteDomainCreateXmlWithFilesRet:
        # The test driver creates as without files; the descriptors (which
        # a QEMU guest would inherit) are closed after the call.
        self._writable(call, "virDomainCreateXMLWithFiles")
        return rp.RemoteDomainCreateXmlWithFilesRet(self._create_xml(args.xml_desc, args.flags))

    def _undefine(self, handle: rp.RemoteNonnullDomain, flags: int) -> None:
        check_flags(flags, _UNDEFINE_MANAGED_SAVE | _UNDEFINE_SNAPSHOTS_METADATA, "testDomainUndefineFlags")
        d = self.hv.of(handle)
        if d.managed_save and not flags & _UNDEFINE_MANAGED_SAVE:
            raise driver_error(
                E.VIR_ERR_OPERATION_INVALID, "Refusing to undefine while domain managed save image exists"
            )
        if not d.active and d.snapshots and not flags & _UNDEFINE_SNAPSHOTS_METADATA:
            raise driver_error(
                E.VIR_ERR_OPERATION_INVALID,
                f"cannot delete inactive domain with {len(d.snapshots)} snapshots",
            )
        self.hv.emit(d, EVENT_UNDEFINED, UNDEFINED_REMOVED)
        d.managed_save = False
        if d.active:
            d.persistent = False
        else:
            del self.hv.domains[d.name]

    async def domain_undefine(self, call: Call, args: rp.RemoteDomainUndefineArgs) -> None:
        self._writable(call, "virDomainUndefine")
        self._undefine(args.dom, 0)

    async def domain_undefine_flags(self, call: Call, args: rp.RemoteDomainUndefineFlagsArgs) -> None:
        self._writable(call, "virDomainUndefineFlags")
        self._undefine(args.dom, args.flags)

    async def domain_rename(self, call: Call, args: rp.RemoteDomainRenameArgs) -> rp.RemoteDomainRenameRet:
        self._writable(call, "virDomainRename")
        check_flags(args.flags, 0, "testDomainRename")
        d = self.hv.of(args.dom)
        new_name = args.new_name or ""
        if d.active:
            raise driver_error(E.VIR_ERR_OPERATION_INVALID, "cannot rename active domain")
        if not d.persistent:
            raise driver_error(E.VIR_ERR_OPERATION_INVALID, "cannot rename a transient domain")
        if d.state != SHUTOFF:
            raise driver_error(E.VIR_ERR_OPERATION_INVALID, "domain has to be shutoff before renaming")
        if new_name in self.hv.domains:
            raise rpc_error(
                E.VIR_ERR_OPERATION_INVALID,
                f"domain with name '{new_name}' already exists",
                domain=FROM_DOMAIN,
            )
        if "/" in new_name:
            raise driver_error(E.VIR_ERR_XML_ERROR, f"name {new_name} cannot contain '/'")
        self.hv.emit(d, EVENT_UNDEFINED, UNDEFINED_RENAMED)
        del self.hv.domains[d.name]
        d.definition.name = new_name
        self.hv.add(d)
        self.hv.emit(d, EVENT_DEFINED, DEFINED_RENAMED)
        return rp.RemoteDomainRenameRet(0)

    # -- starting and stopping ----------------------------------------------

    def _create(self, handle: rp.RemoteNonnullDomain, flags: int = 0) -> Domain:
        check_flags(flags, 0, "testDomainCreateWithFlags")
        d = self.hv.of(handle)
        if d.state != SHUTOFF:
            raise driver_error(E.VIR_ERR_INTERNAL_ERROR, f"Domain '{d.name}' is already running")
        self.hv.start(d)
        return d

    async def domain_create(self, call: Call, args: rp.RemoteDomainCreateArgs) -> None:
        self._writable(call, "virDomainCreate")
        self._create(args.dom)

    async def domain_create_with_flags(
        self, call: Call, args: rp.RemoteDomainCreateWithFlagsArgs
    ) -> rp.RemoteDomainCreateWithFlagsRet:
        self._writable(call, "virDomainCreateWithFlags")
        return rp.RemoteDomainCreateWithFlagsRet(self._create(args.dom, args.flags).handle())

    async def domain_create_with_files(
        self, call: Call, args: rp.RemoteDomainCreateWithFilesArgs
    ) -> rp.RemoteDomainCreateWithFilesRet:
        self._writable(call, "virDomainCreateWithFiles")  # (the descriptors: as above)
        return rp.RemoteDomainCreateWithFilesRet(self._create(args.dom, args.flags).handle())

    def _destroy(self, handle: rp.RemoteNonnullDomain) -> None:
        d = self.hv.of(handle)
        if not d.active:
            raise not_running()
        self.hv.stop(d, SHUTOFF_DESTROYED)

    async def domain_destroy(self, call: Call, args: rp.RemoteDomainDestroyArgs) -> None:
        self._writable(call, "virDomainDestroy")
        self._destroy(args.dom)

    async def domain_destroy_flags(self, call: Call, args: rp.RemoteDomainDestroyFlagsArgs) -> None:
        self._writable(call, "virDomainDestroyFlags")
        check_flags(args.flags, 1, "testDomainDestroyFlags")  # GRACEFUL
        self._destroy(args.dom)

    def _lifecycle_action(self, d: Domain, action: str) -> None:
        """What shutting down or rebooting does: the domain's on_poweroff or
        on_reboot action."""
        if action in _KEEPS_RUNNING:
            d.state, d.reason = RUNNING, RUNNING_BOOTED
        else:
            self.hv.stop(d, SHUTOFF_SHUTDOWN, STOPPED_SHUTDOWN)

    def _shutdown(self, handle: rp.RemoteNonnullDomain) -> None:
        d = self.hv.of(handle)
        if d.state == SHUTOFF:
            raise driver_error(E.VIR_ERR_INTERNAL_ERROR, f"domain '{d.name}' not running")
        self._lifecycle_action(d, d.definition.on_poweroff)

    async def domain_shutdown(self, call: Call, args: rp.RemoteDomainShutdownArgs) -> None:
        self._writable(call, "virDomainShutdown")
        self._shutdown(args.dom)

    async def domain_shutdown_flags(self, call: Call, args: rp.RemoteDomainShutdownFlagsArgs) -> None:
        self._writable(call, "virDomainShutdownFlags")
        check_flags(args.flags, 0, "testDomainShutdownFlags")
        self._shutdown(args.dom)

    async def domain_reboot(self, call: Call, args: rp.RemoteDomainRebootArgs) -> None:
        self._writable(call, "virDomainReboot")
        check_flags(args.flags, 0x3F, "testDomainReboot")
        d = self.hv.of(args.dom)
        if not d.active:
            raise not_running()
        self._lifecycle_action(d, d.definition.on_reboot)

    async def domain_reset(self, call: Call, args: rp.RemoteDomainResetArgs) -> None:
        self._writable(call, "virDomainReset")
        check_flags(args.flags, 0, "testDomainReset")
        if not self.hv.of(args.dom).active:
            raise not_running()

    async def domain_suspend(self, call: Call, args: rp.RemoteDomainSuspendArgs) -> None:
        self._writable(call, "virDomainSuspend")
        d = self.hv.of(args.dom)
        if d.state in (SHUTOFF, PAUSED):
            raise driver_error(E.VIR_ERR_INTERNAL_ERROR, f"domain '{d.name}' not running")
        d.state, d.reason = PAUSED, PAUSED_USER
        self.hv.emit(d, EVENT_SUSPENDED, SUSPENDED_PAUSED)

    async def domain_resume(self, call: Call, args: rp.RemoteDomainResumeArgs) -> None:
        self._writable(call, "virDomainResume")
        d = self.hv.of(args.dom)
        if d.state != PAUSED:
            raise driver_error(E.VIR_ERR_INTERNAL_ERROR, f"domain '{d.name}' not paused")
        d.state, d.reason = RUNNING, RUNNING_UNPAUSED
        self.hv.emit(d, EVENT_RESUMED, RESUMED_UNPAUSED)

    async def domain_set_lifecycle_action(
        self, call: Call, args: rp.RemoteDomainSetLifecycleActionArgs
    ) -> None:
        self._writable(call, "virDomainSetLifecycleAction")
        check_flags(args.flags, AFFECT_LIVE | AFFECT_CONFIG, "testDomainSetLifecycleAction")
        if not 0 <= args.type < len(LIFECYCLE_EVENTS) or not 0 <= args.action < len(LIFECYCLE_ACTIONS):
            raise rpc_error(E.VIR_ERR_INVALID_ARG, "unknown lifecycle type or action", domain=FROM_DOMAIN)
        event, action = LIFECYCLE_EVENTS[args.type], LIFECYCLE_ACTIONS[args.action]
        if event != "crash" and action.startswith("coredump"):
            raise rpc_error(
                E.VIR_ERR_CONFIG_UNSUPPORTED,
                f"Lifecycle event '{event}' doesn't support '{action}' action",
                domain=FROM_DOMAIN,
            )
        for definition in self.hv.of(args.dom).definitions(args.flags):
            if definition is not None:
                setattr(definition, f"on_{event}", action)

    # -- managed save -------------------------------------------------------

    async def domain_managed_save(self, call: Call, args: rp.RemoteDomainManagedSaveArgs) -> None:
        self._writable(call, "virDomainManagedSave")
        check_flags(args.flags, 1 | 2 | 4, "testDomainManagedSave")  # BYPASS_CACHE, RUNNING, PAUSED
        d = self.hv.of(args.dom)
        if not d.active:
            raise not_running()
        if not d.persistent:
            raise driver_error(E.VIR_ERR_OPERATION_INVALID, "cannot do managed save for transient domain")
        self.hv.stop(d, SHUTOFF_SAVED, STOPPED_SAVED)
        d.managed_save = True

    async def domain_has_managed_save_image(
        self, call: Call, args: rp.RemoteDomainHasManagedSaveImageArgs
    ) -> rp.RemoteDomainHasManagedSaveImageRet:
        self._open(call)
        check_flags(args.flags, 0, "testDomainHasManagedSaveImage")
        return rp.RemoteDomainHasManagedSaveImageRet(int(self._domain(call, args.dom).managed_save))

    async def domain_managed_save_remove(
        self, call: Call, args: rp.RemoteDomainManagedSaveRemoveArgs
    ) -> None:
        self._writable(call, "virDomainManagedSaveRemove")
        check_flags(args.flags, 0, "testDomainManagedSaveRemove")
        self.hv.of(args.dom).managed_save = False


register(ObjectKind("domains", DomainProcedures))
