"""A domain's tunables: memory size, scheduler, memory limits, block I/O
weight, NUMA policy, perf events, per-disk I/O limits and per-interface
bandwidth, each on the live or the persistent definition as the flags say."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping

from libvirt_rpc import remote_protocol as rp

from ...errors import ErrorNumber as E
from ...server import Call
from .. import cpumap
from ..base import ProceduresBase, check_flags, driver_error
from ..model import AFFECT_CONFIG, AFFECT_LIVE, MEMORY_UNLIMITED, PERF_EVENTS, Domain, DomainDef
from ..params import BOOLEAN, INT, STRING, STRING_OKAY, UINT, ULLONG, Value, param, serialize, validate
from ..registry import ObjectKind, register
from ..xml.domain import (
    IOTUNE_FIELDS,
    MEMTUNE_LIMITS,
    disk_iotune,
    interface_bandwidth,
    set_balloon_period,
    set_disk_iotune,
    set_interface_bandwidth,
)

_AFFECT = AFFECT_LIVE | AFFECT_CONFIG
MEM_MAXIMUM = 4
NUMA_MODES = ("strict", "preferred", "interleave", "restrictive")
_BLKIO_DEVICE_PARAMS = (
    "device_weight", "device_read_iops_sec", "device_write_iops_sec",
    "device_read_bytes_sec", "device_write_bytes_sec",
)  # fmt: skip
IOTUNE_MAX = 1000000000000000
_BANDWIDTH_PARAMS = (
    ("inbound", ("average", "peak", "burst", "floor")),
    ("outbound", ("average", "peak", "burst")),
)


Build = Callable[[DomainDef], list[rp.RemoteTypedParam]]


class TuningProcedures(ProceduresBase):
    def _tunables(
        self,
        call: Call,
        handle: rp.RemoteNonnullDomain,
        flags: int,
        requested: int,
        function: str,
        count: int,
        build: Build,
    ) -> tuple[list[rp.RemoteTypedParam], int]:
        """A get-parameters procedure: with nparams 0 only how many there
        are; else the first ``requested`` of the definition the flags name
        (and nparams 0, as libvirtd answers)."""
        self._open(call)
        check_flags(flags, _AFFECT | STRING_OKAY, function)
        if requested == 0:
            return [], count
        definition = self._domain(call, handle).one_definition(flags & _AFFECT)
        return serialize(build(definition)[:requested], flags), 0

    def _tunables_to_change(
        self,
        call: Call,
        handle: rp.RemoteNonnullDomain,
        flags: int,
        params: list[rp.RemoteTypedParam],
        api: str,
        function: str,
        allowed: Mapping[str, int],
    ) -> tuple[Domain, DomainDef, dict[str, Value]]:
        """A set-parameters procedure's checks: the domain, the definition
        the flags name, and the parameters."""
        self._writable(call, api)
        check_flags(flags, _AFFECT, function)
        values = validate(params, allowed)
        d = self.hv.of(handle)
        return d, d.one_definition(flags), values

    # -- memory size ----------------------------------------------------------

    def _set_memory(self, handle: rp.RemoteNonnullDomain, memory: int, flags: int) -> None:
        check_flags(flags, _AFFECT | MEM_MAXIMUM, "testDomainSetMemoryFlags")
        d = self.hv.of(handle)
        definition = d.one_definition(flags & _AFFECT)
        live = definition is d.definition and d.active
        if flags & MEM_MAXIMUM:
            if live:
                raise driver_error(
                    E.VIR_ERR_OPERATION_INVALID, "cannot resize the maximum memory on an active domain"
                )
            definition.max_memory = memory
            definition.memory = min(definition.memory, memory)
        else:
            if memory > definition.max_memory:
                raise driver_error(E.VIR_ERR_INVALID_ARG, "cannot set memory higher than max memory")
            definition.memory = memory

    async def domain_set_memory(self, call: Call, args: rp.RemoteDomainSetMemoryArgs) -> None:
        self._writable(call, "virDomainSetMemory")
        self._set_memory(args.dom, args.memory, AFFECT_LIVE)

    async def domain_set_max_memory(self, call: Call, args: rp.RemoteDomainSetMaxMemoryArgs) -> None:
        self._writable(call, "virDomainSetMaxMemory")
        self._set_memory(args.dom, args.memory, MEM_MAXIMUM)

    async def domain_set_memory_flags(self, call: Call, args: rp.RemoteDomainSetMemoryFlagsArgs) -> None:
        self._writable(call, "virDomainSetMemoryFlags")
        self._set_memory(args.dom, args.memory, args.flags)

    async def domain_set_memory_stats_period(
        self, call: Call, args: rp.RemoteDomainSetMemoryStatsPeriodArgs
    ) -> None:
        self._writable(call, "virDomainSetMemoryStatsPeriod")
        check_flags(args.flags, _AFFECT, "testDomainSetMemoryStatsPeriod")
        definition = self.hv.of(args.dom).one_definition(args.flags)
        if not definition.has_memballoon():
            raise driver_error(
                E.VIR_ERR_INTERNAL_ERROR,
                "No memory balloon device configured, can not set the collection period",
            )
        set_balloon_period(definition.devices, args.period)

    # -- scheduler ----------------------------------------------------------

    async def domain_get_scheduler_type(
        self, call: Call, args: rp.RemoteDomainGetSchedulerTypeArgs
    ) -> rp.RemoteDomainGetSchedulerTypeRet:
        self._domain(call, args.dom)
        return rp.RemoteDomainGetSchedulerTypeRet("fair", 1)

    def _scheduler_parameters(
        self, call: Call, handle: rp.RemoteNonnullDomain, flags: int
    ) -> list[rp.RemoteTypedParam]:
        self._open(call)
        check_flags(flags, 0, "testDomainGetSchedulerParametersFlags")
        self._domain(call, handle)
        return [param("weight", UINT, 50)]  # what the test driver always reports

    async def domain_get_scheduler_parameters(
        self, call: Call, args: rp.RemoteDomainGetSchedulerParametersArgs
    ) -> rp.RemoteDomainGetSchedulerParametersRet:
        return rp.RemoteDomainGetSchedulerParametersRet(self._scheduler_parameters(call, args.dom, 0))

    async def domain_get_scheduler_parameters_flags(
        self, call: Call, args: rp.RemoteDomainGetSchedulerParametersFlagsArgs
    ) -> rp.RemoteDomainGetSchedulerParametersFlagsRet:
        # virsh always adds VIR_TYPED_PARAM_STRING_OKAY, which the test
        # driver's flag check refuses along with the rest.
        return rp.RemoteDomainGetSchedulerParametersFlagsRet(
            self._scheduler_parameters(call, args.dom, args.flags)
        )

    def _set_scheduler(
        self, call: Call, handle: rp.RemoteNonnullDomain, params: list[rp.RemoteTypedParam], flags: int
    ) -> None:
        check_flags(flags, 0, "testDomainSetSchedulerParametersFlags")
        validate(params, {"weight": UINT})
        self.hv.of(handle)  # the test driver keeps no weight

    async def domain_set_scheduler_parameters(
        self, call: Call, args: rp.RemoteDomainSetSchedulerParametersArgs
    ) -> None:
        self._writable(call, "virDomainSetSchedulerParameters")
        self._set_scheduler(call, args.dom, args.params, 0)

    async def domain_set_scheduler_parameters_flags(
        self, call: Call, args: rp.RemoteDomainSetSchedulerParametersFlagsArgs
    ) -> None:
        self._writable(call, "virDomainSetSchedulerParametersFlags")
        self._set_scheduler(call, args.dom, args.params, args.flags)

    # -- memory limits ----------------------------------------------------

    async def domain_get_memory_parameters(
        self, call: Call, args: rp.RemoteDomainGetMemoryParametersArgs
    ) -> rp.RemoteDomainGetMemoryParametersRet:
        def build(d: DomainDef) -> list[rp.RemoteTypedParam]:
            return [param(limit, ULLONG, d.memory_limit(limit)) for limit in MEMTUNE_LIMITS]

        return rp.RemoteDomainGetMemoryParametersRet(
            *self._tunables(
                call,
                args.dom,
                args.flags,
                args.nparams,
                "testDomainGetMemoryParameters",
                len(MEMTUNE_LIMITS),
                build,
            )
        )

    async def domain_set_memory_parameters(
        self, call: Call, args: rp.RemoteDomainSetMemoryParametersArgs
    ) -> None:
        d, definition, values = self._tunables_to_change(
            call, args.dom, args.flags, args.params, "virDomainSetMemoryParameters",
            "testDomainSetMemoryParameters", {limit: ULLONG for limit in MEMTUNE_LIMITS},
        )  # fmt: skip
        if "hard_limit" in values or "swap_hard_limit" in values:
            hard = int(values.get("hard_limit", d.definition.memory_limit("hard_limit")))
            swap = int(values.get("swap_hard_limit", d.definition.memory_limit("swap_hard_limit")))
            if hard > swap:
                raise driver_error(
                    E.VIR_ERR_INVALID_ARG,
                    "memory hard_limit tunable value must be lower than or equal to swap_hard_limit",
                )
        for limit, value in values.items():
            if int(value) >= MEMORY_UNLIMITED:
                definition.memtune.pop(limit, None)
            else:
                definition.memtune[limit] = int(value)

    # -- block I/O weight ---------------------------------------------------

    async def domain_get_blkio_parameters(
        self, call: Call, args: rp.RemoteDomainGetBlkioParametersArgs
    ) -> rp.RemoteDomainGetBlkioParametersRet:
        def build(d: DomainDef) -> list[rp.RemoteTypedParam]:
            return [param("weight", UINT, d.blkio_weight)] + [
                param(n, STRING, "") for n in _BLKIO_DEVICE_PARAMS
            ]

        count = 1 + len(_BLKIO_DEVICE_PARAMS)
        return rp.RemoteDomainGetBlkioParametersRet(
            *self._tunables(
                call, args.dom, args.flags, args.nparams, "testDomainGetBlkioParameters", count, build
            )
        )

    async def domain_set_blkio_parameters(
        self, call: Call, args: rp.RemoteDomainSetBlkioParametersArgs
    ) -> None:
        _, definition, values = self._tunables_to_change(
            call, args.dom, args.flags, args.params, "virDomainSetBlkioParameters",
            "testDomainSetBlkioParameters", {"weight": UINT},  # per-device limits are not kept here
        )  # fmt: skip
        if "weight" in values:
            definition.blkio_weight = int(values["weight"])

    # -- NUMA ---------------------------------------------------------------

    async def domain_get_numa_parameters(
        self, call: Call, args: rp.RemoteDomainGetNumaParametersArgs
    ) -> rp.RemoteDomainGetNumaParametersRet:
        def build(d: DomainDef) -> list[rp.RemoteTypedParam]:
            nodeset = cpumap.format(d.numa_nodeset) if d.numa_nodeset is not None else ""
            mode = NUMA_MODES.index(d.numa_mode or "strict")
            return [param("numa_mode", INT, mode), param("numa_nodeset", STRING, nodeset)]

        return rp.RemoteDomainGetNumaParametersRet(
            *self._tunables(call, args.dom, args.flags, args.nparams, "testDomainGetNumaParameters", 2, build)
        )

    async def domain_set_numa_parameters(
        self, call: Call, args: rp.RemoteDomainSetNumaParametersArgs
    ) -> None:
        d, definition, values = self._tunables_to_change(
            call, args.dom, args.flags, args.params, "virDomainSetNumaParameters",
            "testDomainSetNumaParameters", {"numa_mode": INT, "numa_nodeset": STRING},
        )  # fmt: skip
        mode = None
        if "numa_mode" in values:
            number = int(values["numa_mode"])
            if not 0 <= number < len(NUMA_MODES):
                raise driver_error(E.VIR_ERR_INVALID_ARG, f"unsupported numatune mode: '{number}'")
            mode = NUMA_MODES[number]
        nodeset = None
        if "numa_nodeset" in values:
            nodeset = cpumap.parse(str(values["numa_nodeset"]))
            if not nodeset:
                raise driver_error(
                    E.VIR_ERR_OPERATION_INVALID, f"Invalid nodeset of 'numatune': {values['numa_nodeset']}"
                )
        live = definition is d.definition and d.active
        if live and mode is not None and definition.numa_mode is not None and definition.numa_mode != mode:
            raise driver_error(E.VIR_ERR_OPERATION_INVALID, "can't change numatune mode for running domain")
        if nodeset is None and definition.numa_nodeset is None and (mode or definition.numa_mode):
            raise driver_error(
                E.VIR_ERR_CONFIG_UNSUPPORTED,
                "nodeset for NUMA memory tuning must be set if 'placement' is 'static'",
            )
        if mode is not None or nodeset is not None:
            definition.numa_mode = mode or definition.numa_mode or "strict"
        if nodeset is not None:
            definition.numa_nodeset = nodeset

    # -- perf events ----------------------------------------------------------

    async def domain_get_perf_events(
        self, call: Call, args: rp.RemoteDomainGetPerfEventsArgs
    ) -> rp.RemoteDomainGetPerfEventsRet:
        self._open(call)
        check_flags(args.flags, _AFFECT | STRING_OKAY, "testDomainGetPerfEvents")
        definition = self._domain(call, args.dom).one_definition(args.flags & _AFFECT)
        params = [param(event, BOOLEAN, int(definition.perf.get(event, False))) for event in PERF_EVENTS]
        return rp.RemoteDomainGetPerfEventsRet(params)

    async def domain_set_perf_events(self, call: Call, args: rp.RemoteDomainSetPerfEventsArgs) -> None:
        _, definition, values = self._tunables_to_change(
            call, args.dom, args.flags, args.params, "virDomainSetPerfEvents",
            "testDomainSetPerfEvents", {event: BOOLEAN for event in PERF_EVENTS},
        )  # fmt: skip
        for event, enabled in values.items():
            definition.perf[event] = bool(enabled)

    # -- per-disk I/O limits ----------------------------------------------------

    async def domain_get_block_io_tune(
        self, call: Call, args: rp.RemoteDomainGetBlockIoTuneArgs
    ) -> rp.RemoteDomainGetBlockIoTuneRet:
        def build(d: DomainDef) -> list[rp.RemoteTypedParam]:
            disk = d.disk(args.disk or "")
            if disk is None:
                raise driver_error(
                    E.VIR_ERR_INVALID_ARG, f"disk '{args.disk}' was not found in the domain config"
                )
            values = disk_iotune(disk)
            return [
                (
                    param(f, STRING, str(values.get(f, "")))
                    if f == "group_name"
                    else param(f, ULLONG, int(values.get(f, 0)))
                )
                for f in IOTUNE_FIELDS
            ]

        count = len(IOTUNE_FIELDS)
        return rp.RemoteDomainGetBlockIoTuneRet(
            *self._tunables(
                call, args.dom, args.flags, args.nparams, "testDomainGetBlockIoTune", count, build
            )
        )

    async def domain_set_block_io_tune(self, call: Call, args: rp.RemoteDomainSetBlockIoTuneArgs) -> None:
        _, definition, new = self._tunables_to_change(
            call, args.dom, args.flags, args.params, "virDomainSetBlockIoTune",
            "testDomainSetBlockIoTune", {f: STRING if f == "group_name" else ULLONG for f in IOTUNE_FIELDS},
        )  # fmt: skip
        disk = definition.disk(args.disk)
        if disk is None:
            raise driver_error(
                E.VIR_ERR_INVALID_ARG, f"missing persistent configuration for disk '{args.disk}'"
            )
        for field, given in new.items():
            if field != "group_name" and int(given) > IOTUNE_MAX:
                raise driver_error(
                    E.VIR_ERR_ARGUMENT_UNSUPPORTED,
                    f"block I/O throttle limit value must be no more than {IOTUNE_MAX}",
                )
        values: dict[str, int | str] = {**disk_iotune(disk)}
        values.update({k: str(v) if k == "group_name" else int(v) for k, v in new.items()})

        def value(field: str) -> int:
            return int(values.get(field, 0))

        for unit in ("bytes_sec", "iops_sec", "bytes_sec_max", "iops_sec_max"):
            if value(f"total_{unit}") and (value(f"read_{unit}") or value(f"write_{unit}")):
                raise driver_error(
                    E.VIR_ERR_INVALID_ARG, f"total and read/write of {unit} cannot be set at the same time"
                )
        for kind in ("total", "read", "write"):
            for unit in ("bytes_sec", "iops_sec"):
                if value(f"{kind}_{unit}") > value(f"{kind}_{unit}_max"):
                    raise driver_error(
                        E.VIR_ERR_INVALID_ARG, f"{kind}_{unit} cannot be set higher than {kind}_{unit}_max "
                    )
        set_disk_iotune(disk, values)

    # -- per-interface bandwidth -------------------------------------------------

    async def domain_get_interface_parameters(
        self, call: Call, args: rp.RemoteDomainGetInterfaceParametersArgs
    ) -> rp.RemoteDomainGetInterfaceParametersRet:
        def build(d: DomainDef) -> list[rp.RemoteTypedParam]:
            bandwidth = interface_bandwidth(self._domain_interface(d, args.device))
            return [
                param(f"{direction}.{field}", UINT, bandwidth.get(direction, {}).get(field, 0))
                for direction, fields in _BANDWIDTH_PARAMS
                for field in fields
            ]

        return rp.RemoteDomainGetInterfaceParametersRet(
            *self._tunables(
                call, args.dom, args.flags, args.nparams, "testDomainGetInterfaceParameters", 7, build
            )
        )

    @staticmethod
    def _domain_interface(definition: DomainDef, device: str) -> ET.Element:
        net = definition.interface(device)
        if net is None:
            raise driver_error(E.VIR_ERR_INVALID_ARG, f"'{device}' is not a known interface")
        return net

    async def domain_set_interface_parameters(
        self, call: Call, args: rp.RemoteDomainSetInterfaceParametersArgs
    ) -> None:
        allowed = {
            f"{direction}.{field}": UINT for direction, fields in _BANDWIDTH_PARAMS for field in fields
        }
        _, definition, values = self._tunables_to_change(
            call, args.dom, args.flags, args.params, "virDomainSetInterfaceParameters",
            "testDomainSetInterfaceParameters", allowed,
        )  # fmt: skip
        net = self._domain_interface(definition, args.device)
        bandwidth = interface_bandwidth(net)
        for direction, required in (("inbound", ("average", "floor")), ("outbound", ("average",))):
            given = {k.split(".", 1)[1]: int(v) for k, v in values.items() if k.startswith(direction + ".")}
            if any(given.get(k) for k in required):
                bandwidth[direction] = given  # a new rate replaces the old
            elif any(k in given for k in required):
                bandwidth.pop(direction, None)  # average (or floor) 0 clears it
        set_interface_bandwidth(net, bandwidth)


register(ObjectKind("tuning", TuningProcedures))
