"""Virtual networks: the test driver's "default" network (NAT on virbr0,
192.168.122.0/24) and the procedures that list, look up, define, start,
stop and describe networks."""

from __future__ import annotations

import copy
import dataclasses
import uuid as uuidlib
import xml.etree.ElementTree as ET

from libvirt_rpc import remote_protocol as rp

from ...errors import ErrorDomain
from ...errors import ErrorNumber as E
from ...server import Call, rpc_error
from ..base import ProceduresBase, check_flags, driver_error
from ..listing import Defined, Groups, select
from ..registry import ObjectKind, by_name, register
from ..xml.network import NetworkDef, format_network_xml, parse_network_xml, update_network

FROM_NETWORK = ErrorDomain.VIR_FROM_NETWORK

# virNetworkEventLifecycleType
EVENT_DEFINED, EVENT_UNDEFINED, EVENT_STARTED, EVENT_STOPPED = range(4)
EVENT_ID_LIFECYCLE = 0
UPDATE_AFFECT_LIVE, UPDATE_AFFECT_CONFIG = 1, 2
_EVENT_ID_LAST = 1


@dataclasses.dataclass
class Network(Defined):
    definition: NetworkDef
    #: the persistent definition once a change went to it alone while the
    #: network ran (libvirt's newDef)
    next_definition: NetworkDef | None = None
    active: bool = False
    persistent: bool = True
    autostart: bool = False

    def handle(self) -> rp.RemoteNonnullNetwork:
        return rp.RemoteNonnullNetwork(self.name, self.uuid)


def default_networks() -> list[Network]:
    ip = ET.fromstring(
        "<ip address='192.168.122.1' netmask='255.255.255.0'><dhcp>"
        "<range start='192.168.122.2' end='192.168.122.254'/></dhcp></ip>"
    )
    definition = NetworkDef(
        name="default",
        uuid=uuidlib.UUID("dd8fe884-6c02-601e-7551-cca97df1c5df").bytes,
        forward="nat",
        bridge="virbr0",
        ips=[ip],
    )
    return [Network(definition, active=True)]


# virConnectListAllNetworksFlags
_LIST_GROUPS: Groups[Network] = (
    ((1, lambda n: not n.active), (2, lambda n: n.active)),
    ((4, lambda n: n.persistent), (8, lambda n: not n.persistent)),
    ((16, lambda n: n.autostart), (32, lambda n: not n.autostart)),
)


class NetworkProcedures(ProceduresBase):
    # -- lookup -----------------------------------------------------------

    def _network_named(self, name: str) -> Network:
        network = self.hv[NETWORKS].get(name)
        if network is None:
            raise driver_error(E.VIR_ERR_NO_NETWORK, f"no network with matching name '{name}'")
        return network

    def _network_with_uuid(self, uuid: bytes) -> Network:
        for network in self.hv[NETWORKS].values():
            if network.uuid == uuid:
                return network
        text = str(uuidlib.UUID(bytes=uuid)) if len(uuid) == 16 else "?"
        raise driver_error(E.VIR_ERR_NO_NETWORK, f"no network with matching uuid '{text}'")

    def _network(self, call: Call, handle: rp.RemoteNonnullNetwork) -> Network:
        """The network a handle names (by name, as most test driver calls)."""
        self._open(call)
        return self._network_named(handle.name)

    def _networks(self, call: Call, flags: int) -> list[Network]:
        self._open(call)
        return select(sorted(self.hv[NETWORKS].values(), key=lambda n: n.name), flags, _LIST_GROUPS)

    async def connect_list_all_networks(
        self, call: Call, args: rp.RemoteConnectListAllNetworksArgs
    ) -> rp.RemoteConnectListAllNetworksRet:
        networks = self._networks(call, args.flags)
        handles = [n.handle() for n in networks] if args.need_results else []
        return rp.RemoteConnectListAllNetworksRet(handles, len(networks))

    async def connect_num_of_networks(self, call: Call) -> rp.RemoteConnectNumOfNetworksRet:
        return rp.RemoteConnectNumOfNetworksRet(len(self._networks(call, 2)))

    async def connect_list_networks(
        self, call: Call, args: rp.RemoteConnectListNetworksArgs
    ) -> rp.RemoteConnectListNetworksRet:
        return rp.RemoteConnectListNetworksRet([n.name for n in self._networks(call, 2)][: args.maxnames])

    async def connect_num_of_defined_networks(self, call: Call) -> rp.RemoteConnectNumOfDefinedNetworksRet:
        return rp.RemoteConnectNumOfDefinedNetworksRet(len(self._networks(call, 1)))

    async def connect_list_defined_networks(
        self, call: Call, args: rp.RemoteConnectListDefinedNetworksArgs
    ) -> rp.RemoteConnectListDefinedNetworksRet:
        names = [n.name for n in self._networks(call, 1)][: args.maxnames]
        return rp.RemoteConnectListDefinedNetworksRet(names)

    async def network_lookup_by_name(
        self, call: Call, args: rp.RemoteNetworkLookupByNameArgs
    ) -> rp.RemoteNetworkLookupByNameRet:
        self._open(call)
        return rp.RemoteNetworkLookupByNameRet(self._network_named(args.name).handle())

    async def network_lookup_by_uuid(
        self, call: Call, args: rp.RemoteNetworkLookupByUuidArgs
    ) -> rp.RemoteNetworkLookupByUuidRet:
        self._open(call)
        return rp.RemoteNetworkLookupByUuidRet(self._network_with_uuid(args.uuid).handle())

    # -- inspecting -------------------------------------------------------

    async def network_get_xml_desc(
        self, call: Call, args: rp.RemoteNetworkGetXmlDescArgs
    ) -> rp.RemoteNetworkGetXmlDescRet:
        self._open(call)
        check_flags(args.flags, 0, "testNetworkGetXMLDesc")
        return rp.RemoteNetworkGetXmlDescRet(format_network_xml(self._network(call, args.net).definition))

    async def network_get_bridge_name(
        self, call: Call, args: rp.RemoteNetworkGetBridgeNameArgs
    ) -> rp.RemoteNetworkGetBridgeNameRet:
        network = self._network(call, args.net)
        if network.definition.bridge is None:
            raise driver_error(
                E.VIR_ERR_INTERNAL_ERROR, f"network '{network.name}' does not have a bridge name."
            )
        return rp.RemoteNetworkGetBridgeNameRet(network.definition.bridge)

    async def network_get_autostart(
        self, call: Call, args: rp.RemoteNetworkGetAutostartArgs
    ) -> rp.RemoteNetworkGetAutostartRet:
        return rp.RemoteNetworkGetAutostartRet(int(self._network(call, args.net).autostart))

    async def network_set_autostart(self, call: Call, args: rp.RemoteNetworkSetAutostartArgs) -> None:
        self._writable(call, "virNetworkSetAutostart", FROM_NETWORK)
        self._network(call, args.net).autostart = bool(args.autostart)

    async def network_is_active(
        self, call: Call, args: rp.RemoteNetworkIsActiveArgs
    ) -> rp.RemoteNetworkIsActiveRet:
        self._open(call)
        return rp.RemoteNetworkIsActiveRet(int(self._network_with_uuid(args.net.uuid).active))

    async def network_is_persistent(
        self, call: Call, args: rp.RemoteNetworkIsPersistentArgs
    ) -> rp.RemoteNetworkIsPersistentRet:
        self._open(call)
        return rp.RemoteNetworkIsPersistentRet(int(self._network_with_uuid(args.net.uuid).persistent))

    # -- changing ---------------------------------------------------------

    def _assign(self, definition: NetworkDef, live: bool) -> Network:
        """virNetworkObjAssignDef: a new network, or a new definition for
        the one of the same name and UUID."""
        for other in self.hv[NETWORKS].values():
            if other.uuid == definition.uuid and other.name != definition.name:
                raise rpc_error(
                    E.VIR_ERR_OPERATION_FAILED,
                    f"network '{other.name}' is already defined with uuid {other.definition.uuid_str}",
                    domain=FROM_NETWORK,
                )
        network = self.hv[NETWORKS].get(definition.name)
        if network is None:
            network = Network(definition, persistent=not live)
            self.hv[NETWORKS][network.name] = network
            return network
        if network.uuid != definition.uuid:
            raise rpc_error(
                E.VIR_ERR_OPERATION_FAILED,
                f"network '{network.name}' already exists with uuid {network.definition.uuid_str}",
                domain=FROM_NETWORK,
            )
        if live and network.active:
            raise rpc_error(
                E.VIR_ERR_OPERATION_INVALID,
                f"network is already active as '{network.name}'",
                domain=FROM_NETWORK,
            )
        network.definition = definition
        return network

    def _define_network(self, xml: str) -> rp.RemoteNonnullNetwork:
        network = self._assign(parse_network_xml(xml), live=False)
        self._network_event(network, EVENT_DEFINED)
        return network.handle()

    def _create_network(self, xml: str) -> rp.RemoteNonnullNetwork:
        network = self._assign(parse_network_xml(xml), live=True)
        network.active = True
        self._network_event(network, EVENT_STARTED)
        return network.handle()

    async def network_define_xml(
        self, call: Call, args: rp.RemoteNetworkDefineXmlArgs
    ) -> rp.RemoteNetworkDefineXmlRet:
        self._writable(call, "virNetworkDefineXML", FROM_NETWORK)
        return rp.RemoteNetworkDefineXmlRet(self._define_network(args.xml))

    async def network_define_xml_flags(
        self, call: Call, args: rp.RemoteNetworkDefineXmlFlagsArgs
    ) -> rp.RemoteNetworkDefineXmlFlagsRet:
        self._writable(call, "virNetworkDefineXMLFlags", FROM_NETWORK)
        check_flags(args.flags, 1, "testNetworkDefineXMLFlags")  # VALIDATE
        return rp.RemoteNetworkDefineXmlFlagsRet(self._define_network(args.xml))

    async def network_create_xml(
        self, call: Call, args: rp.RemoteNetworkCreateXmlArgs
    ) -> rp.RemoteNetworkCreateXmlRet:
        self._writable(call, "virNetworkCreateXML", FROM_NETWORK)
        return rp.RemoteNetworkCreateXmlRet(self._create_network(args.xml))

    async def network_create_xml_flags(
        self, call: Call, args: rp.RemoteNetworkCreateXmlFlagsArgs
    ) -> rp.RemoteNetworkCreateXmlFlagsRet:
        self._writable(call, "virNetworkCreateXMLFlags", FROM_NETWORK)
        check_flags(args.flags, 0, "testNetworkCreateXMLFlags")
        return rp.RemoteNetworkCreateXmlFlagsRet(self._create_network(args.xml))

    async def network_undefine(self, call: Call, args: rp.RemoteNetworkUndefineArgs) -> None:
        self._writable(call, "virNetworkUndefine", FROM_NETWORK)
        network = self._network(call, args.net)
        if network.active:
            raise driver_error(E.VIR_ERR_OPERATION_INVALID, f"Network '{network.name}' is still running")
        self._network_event(network, EVENT_UNDEFINED)
        del self.hv[NETWORKS][network.name]

    async def network_create(self, call: Call, args: rp.RemoteNetworkCreateArgs) -> None:
        self._writable(call, "virNetworkCreate", FROM_NETWORK)
        network = self._network(call, args.net)
        if network.active:
            raise driver_error(E.VIR_ERR_OPERATION_INVALID, f"Network '{network.name}' is already running")
        network.active = True
        self._network_event(network, EVENT_STARTED)

    async def network_destroy(self, call: Call, args: rp.RemoteNetworkDestroyArgs) -> None:
        self._writable(call, "virNetworkDestroy", FROM_NETWORK)
        network = self._network(call, args.net)
        network.active = False
        self._network_event(network, EVENT_STOPPED)
        if not network.persistent:
            del self.hv[NETWORKS][network.name]

    async def network_update(self, call: Call, args: rp.RemoteNetworkUpdateArgs) -> None:
        """virNetworkObjUpdate: the change made to copies of the live and/or
        the persistent definition, which replace them once it worked."""
        self._writable(call, "virNetworkUpdate", FROM_NETWORK)
        check_flags(args.flags, UPDATE_AFFECT_LIVE | UPDATE_AFFECT_CONFIG, "testNetworkUpdate")
        self._open(call)
        network = self._network_with_uuid(args.net.uuid)
        flags = args.flags or (UPDATE_AFFECT_LIVE if network.active else UPDATE_AFFECT_CONFIG)
        if flags & UPDATE_AFFECT_LIVE and not network.active:
            raise rpc_error(E.VIR_ERR_OPERATION_INVALID, "network is not running", domain=FROM_NETWORK)
        config = live = None
        if flags & UPDATE_AFFECT_CONFIG:
            if not network.persistent:
                raise rpc_error(
                    E.VIR_ERR_OPERATION_INVALID,
                    "cannot change persistent config of a transient network",
                    domain=FROM_NETWORK,
                )
            if network.active and network.next_definition is None:
                network.next_definition = copy.deepcopy(network.definition)
            config = copy.deepcopy(network.next_definition or network.definition)
            update_network(config, args.command, args.section, args.parentIndex, args.xml)
        if flags & UPDATE_AFFECT_LIVE:
            live = copy.deepcopy(network.definition)
            update_network(live, args.command, args.section, args.parentIndex, args.xml)
        if config is not None:
            if network.active:
                network.next_definition = config
            else:
                network.definition = config
        if live is not None:
            network.definition = live

    # -- events -----------------------------------------------------------

    async def connect_network_event_register_any(
        self, call: Call, args: rp.RemoteConnectNetworkEventRegisterAnyArgs
    ) -> rp.RemoteConnectNetworkEventRegisterAnyRet:
        key = args.net.uuid if args.net is not None else None
        return rp.RemoteConnectNetworkEventRegisterAnyRet(
            self._register_event(call, "network", args.eventID, _EVENT_ID_LAST, key)
        )

    async def connect_network_event_deregister_any(
        self, call: Call, args: rp.RemoteConnectNetworkEventDeregisterAnyArgs
    ) -> None:
        self._deregister_event(call, args.callbackID)

    def _network_event(self, network: Network, event: int) -> None:
        message = rp.RemoteNetworkEventLifecycleMsg(0, network.handle(), event, 0)
        self.hv.notify(
            "network",
            network.uuid,
            EVENT_ID_LIFECYCLE,
            lambda client, callback_id: self.send_network_event_lifecycle(
                client, dataclasses.replace(message, callbackID=callback_id)
            ),
        )


#: Its state: the networks by name.
NETWORKS = register(ObjectKind("networks", NetworkProcedures, by_name(default_networks)))
