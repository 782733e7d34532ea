"""Host network interfaces: the test driver's "eth1" (running, MAC
aa:bb:cc:dd:ee:ff, 192.168.0.5/24) and the procedures that list, look up,
define, start and stop interfaces, with change transactions."""

from __future__ import annotations

import copy
import dataclasses
import xml.etree.ElementTree as ET

from libvirt_rpc import remote_protocol as rp

from ...errors import ErrorDomain
from ...errors import ErrorNumber as E
from ...server import Call
from ..base import ProceduresBase, check_flags, driver_error
from ..listing import Groups, select
from ..registry import ObjectKind, by_name, register
from ..xml.interface import InterfaceDef, format_interface_xml, parse_interface_xml

FROM_INTERFACE = ErrorDomain.VIR_FROM_INTERFACE


@dataclasses.dataclass
class HostInterface:
    definition: InterfaceDef
    active: bool = False

    @property
    def name(self) -> str:
        return self.definition.name

    @property
    def mac(self) -> str:
        return self.definition.mac or ""

    def handle(self) -> rp.RemoteNonnullInterface:
        return rp.RemoteNonnullInterface(self.name, self.mac)


def default_interfaces() -> list[HostInterface]:
    children = [
        ET.fromstring(text)
        for text in (
            "<start mode='onboot'/>",
            "<mtu size='1492'/>",
            "<protocol family='ipv4'><ip address='192.168.0.5' prefix='24'/>"
            "<route gateway='192.168.0.1'/></protocol>",
        )
    ]
    return [HostInterface(InterfaceDef("eth1", "ethernet", "aa:bb:cc:dd:ee:ff", children), active=True)]


@dataclasses.dataclass
class HostInterfaces:
    """The interfaces by name, and a copy of them while a change
    transaction runs (as they were when it began)."""

    current: dict[str, HostInterface] = dataclasses.field(default_factory=by_name(default_interfaces))
    backup: dict[str, HostInterface] | None = None


_LIST_GROUPS: Groups[HostInterface] = (((1, lambda i: not i.active), (2, lambda i: i.active)),)


class InterfaceProcedures(ProceduresBase):
    def _host_interfaces(self) -> dict[str, HostInterface]:
        return self.hv[INTERFACES].current

    def _interface(self, call: Call, name: str) -> HostInterface:
        self._open(call)
        interface = self._host_interfaces().get(name)
        if interface is None:
            raise driver_error(E.VIR_ERR_NO_INTERFACE, f"no interface with matching name '{name}'")
        return interface

    def _interfaces(self, call: Call, flags: int) -> list[HostInterface]:
        self._open(call)
        return select(sorted(self._host_interfaces().values(), key=lambda i: i.name), flags, _LIST_GROUPS)

    async def connect_list_all_interfaces(
        self, call: Call, args: rp.RemoteConnectListAllInterfacesArgs
    ) -> rp.RemoteConnectListAllInterfacesRet:
        self._open(call)
        check_flags(args.flags, 3, "testConnectListAllInterfaces")
        interfaces = self._interfaces(call, args.flags)
        handles = [i.handle() for i in interfaces] if args.need_results else []
        return rp.RemoteConnectListAllInterfacesRet(handles, len(interfaces))

    async def connect_num_of_interfaces(self, call: Call) -> rp.RemoteConnectNumOfInterfacesRet:
        return rp.RemoteConnectNumOfInterfacesRet(len(self._interfaces(call, 2)))

    async def connect_list_interfaces(
        self, call: Call, args: rp.RemoteConnectListInterfacesArgs
    ) -> rp.RemoteConnectListInterfacesRet:
        names = [i.name for i in self._interfaces(call, 2)][: args.maxnames]
        return rp.RemoteConnectListInterfacesRet(names)

    async def connect_num_of_defined_interfaces(
        self, call: Call
    ) -> rp.RemoteConnectNumOfDefinedInterfacesRet:
        return rp.RemoteConnectNumOfDefinedInterfacesRet(len(self._interfaces(call, 1)))

    async def connect_list_defined_interfaces(
        self, call: Call, args: rp.RemoteConnectListDefinedInterfacesArgs
    ) -> rp.RemoteConnectListDefinedInterfacesRet:
        names = [i.name for i in self._interfaces(call, 1)][: args.maxnames]
        return rp.RemoteConnectListDefinedInterfacesRet(names)

    async def interface_lookup_by_name(
        self, call: Call, args: rp.RemoteInterfaceLookupByNameArgs
    ) -> rp.RemoteInterfaceLookupByNameRet:
        return rp.RemoteInterfaceLookupByNameRet(self._interface(call, args.name).handle())

    async def interface_lookup_by_mac_string(
        self, call: Call, args: rp.RemoteInterfaceLookupByMacStringArgs
    ) -> rp.RemoteInterfaceLookupByMacStringRet:
        self._open(call)
        found = [i for i in self._host_interfaces().values() if i.mac.lower() == args.mac.lower()]
        if not found:
            raise driver_error(E.VIR_ERR_NO_INTERFACE, f"no interface with matching mac '{args.mac}'")
        if len(found) > 1:
            raise driver_error(E.VIR_ERR_MULTIPLE_INTERFACES)
        return rp.RemoteInterfaceLookupByMacStringRet(rp.RemoteNonnullInterface(found[0].name, args.mac))

    async def interface_get_xml_desc(
        self, call: Call, args: rp.RemoteInterfaceGetXmlDescArgs
    ) -> rp.RemoteInterfaceGetXmlDescRet:
        self._open(call)
        check_flags(args.flags, 0, "testInterfaceGetXMLDesc")
        interface = self._interface(call, args.iface.name)
        return rp.RemoteInterfaceGetXmlDescRet(format_interface_xml(interface.definition))

    async def interface_is_active(
        self, call: Call, args: rp.RemoteInterfaceIsActiveArgs
    ) -> rp.RemoteInterfaceIsActiveRet:
        return rp.RemoteInterfaceIsActiveRet(int(self._interface(call, args.iface.name).active))

    async def interface_define_xml(
        self, call: Call, args: rp.RemoteInterfaceDefineXmlArgs
    ) -> rp.RemoteInterfaceDefineXmlRet:
        self._writable(call, "virInterfaceDefineXML", FROM_INTERFACE)
        check_flags(args.flags, 1, "testInterfaceDefineXML")  # VALIDATE
        definition = parse_interface_xml(args.xml)
        interfaces = self._host_interfaces()
        interface = interfaces.get(definition.name)
        if interface is None:
            interface = interfaces[definition.name] = HostInterface(definition)
        else:
            interface.definition = definition
        return rp.RemoteInterfaceDefineXmlRet(interface.handle())

    async def interface_undefine(self, call: Call, args: rp.RemoteInterfaceUndefineArgs) -> None:
        self._writable(call, "virInterfaceUndefine", FROM_INTERFACE)
        del self._host_interfaces()[self._interface(call, args.iface.name).name]

    async def interface_create(self, call: Call, args: rp.RemoteInterfaceCreateArgs) -> None:
        self._writable(call, "virInterfaceCreate", FROM_INTERFACE)
        check_flags(args.flags, 0, "testInterfaceCreate")
        interface = self._interface(call, args.iface.name)
        if interface.active:
            raise driver_error(E.VIR_ERR_OPERATION_INVALID)
        interface.active = True

    async def interface_destroy(self, call: Call, args: rp.RemoteInterfaceDestroyArgs) -> None:
        self._writable(call, "virInterfaceDestroy", FROM_INTERFACE)
        check_flags(args.flags, 0, "testInterfaceDestroy")
        interface = self._interface(call, args.iface.name)
        if not interface.active:
            raise driver_error(E.VIR_ERR_OPERATION_INVALID)
        interface.active = False

    # -- change transactions ----------------------------------------------

    async def interface_change_begin(self, call: Call, args: rp.RemoteInterfaceChangeBeginArgs) -> None:
        self._writable(call, "virInterfaceChangeBegin", FROM_INTERFACE)
        check_flags(args.flags, 0, "testInterfaceChangeBegin")
        table = self.hv[INTERFACES]
        if table.backup is not None:
            raise driver_error(E.VIR_ERR_OPERATION_INVALID, "there is another transaction running.")
        table.backup = copy.deepcopy(table.current)

    async def interface_change_commit(self, call: Call, args: rp.RemoteInterfaceChangeCommitArgs) -> None:
        self._writable(call, "virInterfaceChangeCommit", FROM_INTERFACE)
        check_flags(args.flags, 0, "testInterfaceChangeCommit")
        table = self.hv[INTERFACES]
        if table.backup is None:
            raise driver_error(
                E.VIR_ERR_OPERATION_INVALID, "no transaction running, nothing to be committed."
            )
        table.backup = None

    async def interface_change_rollback(self, call: Call, args: rp.RemoteInterfaceChangeRollbackArgs) -> None:
        self._writable(call, "virInterfaceChangeRollback", FROM_INTERFACE)
        check_flags(args.flags, 0, "testInterfaceChangeRollback")
        table = self.hv[INTERFACES]
        if table.backup is None:
            raise driver_error(E.VIR_ERR_OPERATION_INVALID, "no transaction running, nothing to rollback.")
        table.current, table.backup = table.backup, None


INTERFACES = register(ObjectKind("interfaces", InterfaceProcedures, HostInterfaces))
