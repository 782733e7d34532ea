"""Node devices: the test driver's host ("computer") and its three Fibre
Channel SCSI hosts, and the procedures that list, look up and describe
them."""

from __future__ import annotations

import dataclasses

from libvirt_rpc import remote_protocol as rp

from ...errors import ErrorNumber as E
from ...server import Call
from ..base import ProceduresBase, check_flags, driver_error
from ..registry import ObjectKind, by_name, register
from ..xml.nodedev import NodeDeviceDef, ScsiHostCapability, SystemCapability, format_node_device_xml

# virConnectListAllNodeDevices: the capability filters the test driver takes
# (1 << 0 system, 1 << 1 pci_dev, ..., 1 << 7 scsi_host, 1 << 9 fc_host,
# 1 << 10 vports, ...); the active/inactive filters (1 << 30, 1 << 31) it
# refuses.
_CAP_FLAGS = {"system": 1 << 0, "scsi_host": 1 << 7, "fc_host": 1 << 9, "vports": 1 << 10}
_SUPPORTED_FLAGS = (1 << 30) - 1
_EVENT_ID_LAST = 2  # lifecycle, update


@dataclasses.dataclass
class NodeDevice:
    definition: NodeDeviceDef

    @property
    def name(self) -> str:
        return self.definition.name

    def capabilities(self) -> list[str]:
        """The capability names a filter matches: a SCSI host is an FC host,
        and one with vport_ops hosts virtual ports."""
        cap = self.definition.capability
        if isinstance(cap, ScsiHostCapability):
            return ["scsi_host", "fc_host"] + (["vports"] if cap.vport_ops else [])
        return [cap.type]

    def handle(self) -> rp.RemoteNonnullNodeDevice:
        return rp.RemoteNonnullNodeDevice(self.name)


def default_node_devices() -> list[NodeDevice]:
    system = SystemCapability(
        hardware=(
            ("vendor", "Libvirt"),
            ("version", "Test driver"),
            ("serial", "123456"),
            ("uuid", "11111111-2222-3333-4444-555555555555"),
        ),
        firmware=(("vendor", "Libvirt"), ("version", "Test Driver"), ("release_date", "01/22/2007")),
    )
    hosts = [
        ("scsi_host1", "computer", 1, 0, "12341234", "43214321", True),
        ("scsi_host2", "computer", 2, 1, "56785678", "87658765", True),
        ("scsi_host11", "scsi_host1", 11, 10, "34563456", "43214321", False),
    ]
    devices = [NodeDevice(NodeDeviceDef("computer", None, system))]
    for name, parent, host, unique_id, wwn, fabric, vports in hosts:
        cap = ScsiHostCapability(
            host, unique_id, f"20000000{wwn}", f"10000000{wwn}", f"20000000{fabric}", vports
        )
        devices.append(NodeDevice(NodeDeviceDef(name, parent, cap)))
    return devices


class NodeDeviceProcedures(ProceduresBase):
    def _node_device(self, call: Call, name: str) -> NodeDevice:
        self._open(call)
        device = self.hv[NODE_DEVICES].get(name)
        if device is None:
            raise driver_error(E.VIR_ERR_NO_NODE_DEVICE, f"no node device with matching name '{name}'")
        return device

    def _node_devices(self, call: Call, cap: str | None) -> list[NodeDevice]:
        self._open(call)
        devices = sorted(self.hv[NODE_DEVICES].values(), key=lambda d: d.name)
        return [d for d in devices if cap is None or cap in d.capabilities()]

    async def connect_list_all_node_devices(
        self, call: Call, args: rp.RemoteConnectListAllNodeDevicesArgs
    ) -> rp.RemoteConnectListAllNodeDevicesRet:
        self._open(call)
        check_flags(args.flags, _SUPPORTED_FLAGS, "testConnectListAllNodeDevices")
        devices = self._node_devices(call, None)
        if args.flags:
            devices = [
                d for d in devices if any(args.flags & _CAP_FLAGS.get(cap, 0) for cap in d.capabilities())
            ]
        handles = [d.handle() for d in devices] if args.need_results else []
        return rp.RemoteConnectListAllNodeDevicesRet(handles, len(devices))

    async def node_num_of_devices(
        self, call: Call, args: rp.RemoteNodeNumOfDevicesArgs
    ) -> rp.RemoteNodeNumOfDevicesRet:
        self._open(call)
        check_flags(args.flags, 0, "testNodeNumOfDevices")
        return rp.RemoteNodeNumOfDevicesRet(len(self._node_devices(call, args.cap)))

    async def node_list_devices(
        self, call: Call, args: rp.RemoteNodeListDevicesArgs
    ) -> rp.RemoteNodeListDevicesRet:
        self._open(call)
        check_flags(args.flags, 0, "testNodeListDevices")
        names = [d.name for d in self._node_devices(call, args.cap)][: args.maxnames]
        return rp.RemoteNodeListDevicesRet(names)

    async def node_device_lookup_by_name(
        self, call: Call, args: rp.RemoteNodeDeviceLookupByNameArgs
    ) -> rp.RemoteNodeDeviceLookupByNameRet:
        return rp.RemoteNodeDeviceLookupByNameRet(self._node_device(call, args.name).handle())

    async def node_device_get_xml_desc(
        self, call: Call, args: rp.RemoteNodeDeviceGetXmlDescArgs
    ) -> rp.RemoteNodeDeviceGetXmlDescRet:
        self._open(call)
        check_flags(args.flags, 0, "testNodeDeviceGetXMLDesc")
        device = self._node_device(call, args.name)
        return rp.RemoteNodeDeviceGetXmlDescRet(format_node_device_xml(device.definition))

    async def node_device_get_parent(
        self, call: Call, args: rp.RemoteNodeDeviceGetParentArgs
    ) -> rp.RemoteNodeDeviceGetParentRet:
        device = self._node_device(call, args.name)
        if device.definition.parent is None:
            raise driver_error(E.VIR_ERR_INTERNAL_ERROR, "no parent for this device")
        return rp.RemoteNodeDeviceGetParentRet(device.definition.parent)

    async def node_device_num_of_caps(
        self, call: Call, args: rp.RemoteNodeDeviceNumOfCapsArgs
    ) -> rp.RemoteNodeDeviceNumOfCapsRet:
        self._node_device(call, args.name)
        return rp.RemoteNodeDeviceNumOfCapsRet(1)

    async def node_device_list_caps(
        self, call: Call, args: rp.RemoteNodeDeviceListCapsArgs
    ) -> rp.RemoteNodeDeviceListCapsRet:
        device = self._node_device(call, args.name)
        return rp.RemoteNodeDeviceListCapsRet([device.definition.capability.type][: args.maxnames])

    # -- events (none happen: the test driver's come from creating vHBAs) ------

    async def connect_node_device_event_register_any(
        self, call: Call, args: rp.RemoteConnectNodeDeviceEventRegisterAnyArgs
    ) -> rp.RemoteConnectNodeDeviceEventRegisterAnyRet:
        key = args.dev.name if args.dev is not None else None
        return rp.RemoteConnectNodeDeviceEventRegisterAnyRet(
            self._register_event(call, "node_device", args.eventID, _EVENT_ID_LAST, key)
        )

    async def connect_node_device_event_deregister_any(
        self, call: Call, args: rp.RemoteConnectNodeDeviceEventDeregisterAnyArgs
    ) -> None:
        self._deregister_event(call, args.callbackID)


#: Its state: the node devices by name.
NODE_DEVICES = register(ObjectKind("nodedevs", NodeDeviceProcedures, by_name(default_node_devices)))
