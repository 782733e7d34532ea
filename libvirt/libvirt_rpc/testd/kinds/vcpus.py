"""Where a domain's threads run: its virtual CPUs (how many, where they
run and may run), its emulator threads and its I/O threads."""

from __future__ import annotations

import os
import time
from pathlib import Path

from libvirt_rpc import remote_protocol as rp

from ...errors import ErrorDomain, LibvirtError
from ...errors import ErrorNumber as E
from ...server import rpc_error
from ...server import Call
from .. import cpumap
from ..base import ProceduresBase, check_flags, driver_error
from ..model import AFFECT_CONFIG, AFFECT_LIVE, DomainDef
from ..params import INT, UINT, ULLONG, validate
from ..registry import ObjectKind, register

VCPU_MAXIMUM = 4
MAX_VCPUS = 32  # testConnectGetMaxVcpus (ConnectProcedures answers it)
#: VIR_NODEINFO_MAXCPUS of the test node (2 nodes x 2 sockets x 2 cores x 2 threads)
HOST_CPUS = frozenset(range(16))
VCPU_RUNNING = 1


IOTHREAD_PARAMS = {
    "poll_max_ns": ULLONG, "poll_grow": UINT, "poll_shrink": UINT,
    "thread_pool_min": INT, "thread_pool_max": INT,
}  # fmt: skip


def real_host_cpus() -> cpumap.CpuSet:
    """The CPUs of the machine the daemon runs on (virHostCPUGetCount):
    where the test driver lets unpinned I/O threads run."""
    try:
        return cpumap.parse(Path("/sys/devices/system/cpu/present").read_text().strip())
    except (OSError, LibvirtError):
        return frozenset(range(os.cpu_count() or 1))


def _affinity(definition: DomainDef, vcpu: int) -> cpumap.CpuSet:
    """Where a vCPU may run: its pinning, else any host CPU."""
    return definition.vcpupin.get(vcpu, HOST_CPUS)


class VcpuProcedures(ProceduresBase):
    async def domain_get_vcpus_flags(
        self, call: Call, args: rp.RemoteDomainGetVcpusFlagsArgs
    ) -> rp.RemoteDomainGetVcpusFlagsRet:
        self._open(call)
        check_flags(args.flags, AFFECT_LIVE | AFFECT_CONFIG | VCPU_MAXIMUM, "testDomainGetVcpusFlags")
        definition = self._domain(call, args.dom).one_definition(args.flags & ~VCPU_MAXIMUM)
        return rp.RemoteDomainGetVcpusFlagsRet(
            definition.max_vcpus if args.flags & VCPU_MAXIMUM else definition.vcpus
        )

    async def domain_get_max_vcpus(
        self, call: Call, args: rp.RemoteDomainGetMaxVcpusArgs
    ) -> rp.RemoteDomainGetMaxVcpusRet:
        definition = self._domain(call, args.dom).one_definition(AFFECT_LIVE)
        return rp.RemoteDomainGetMaxVcpusRet(definition.max_vcpus)

    def _set_vcpus(self, call: Call, handle: rp.RemoteNonnullDomain, count: int, flags: int) -> None:
        check_flags(flags, AFFECT_LIVE | AFFECT_CONFIG | VCPU_MAXIMUM, "testDomainSetVcpusFlags")
        if count > MAX_VCPUS:
            raise driver_error(
                E.VIR_ERR_INVALID_ARG,
                f"requested cpu amount exceeds maximum supported amount ({count} > {MAX_VCPUS})",
            )
        live, config = self.hv.of(handle).definitions(flags & ~VCPU_MAXIMUM)
        checked = [live] + ([config] if not flags & VCPU_MAXIMUM else [])
        for definition in checked:
            if definition is not None and definition.max_vcpus < count:
                raise driver_error(
                    E.VIR_ERR_INVALID_ARG,
                    f"requested cpu amount exceeds maximum ({count} > {definition.max_vcpus})",
                )
        if live is not None:
            live.vcpus = count
        if config is not None:
            if flags & VCPU_MAXIMUM:
                config.max_vcpus = count
                config.vcpus = min(config.vcpus, count)
            else:
                config.vcpus = count

    async def domain_set_vcpus(self, call: Call, args: rp.RemoteDomainSetVcpusArgs) -> None:
        self._writable(call, "virDomainSetVcpus")
        self._set_vcpus(call, args.dom, args.nvcpus, AFFECT_LIVE)

    async def domain_set_vcpus_flags(self, call: Call, args: rp.RemoteDomainSetVcpusFlagsArgs) -> None:
        self._writable(call, "virDomainSetVcpusFlags")
        self._set_vcpus(call, args.dom, args.nvcpus, args.flags)

    async def domain_get_vcpus(
        self, call: Call, args: rp.RemoteDomainGetVcpusArgs
    ) -> rp.RemoteDomainGetVcpusRet:
        d = self._domain(call, args.dom)
        if not d.active:
            raise driver_error(E.VIR_ERR_OPERATION_INVALID, "cannot list vcpus for an inactive domain")
        cpu_time = time.time_ns() // 1000 // 10  # a fake, growing CPU time
        count = min(args.maxinfo, d.definition.vcpus)
        info, maps = [], bytearray(args.maxinfo * args.maplen)
        for vcpu in range(count):
            affinity = _affinity(d.definition, vcpu)
            info.append(rp.RemoteVcpuInfo(vcpu, VCPU_RUNNING, cpu_time, max(affinity, default=-1)))
            maps[vcpu * args.maplen : (vcpu + 1) * args.maplen] = cpumap.to_bytes(affinity, args.maplen)
        return rp.RemoteDomainGetVcpusRet(info, bytes(maps))

    async def domain_get_vcpu_pin_info(
        self, call: Call, args: rp.RemoteDomainGetVcpuPinInfoArgs
    ) -> rp.RemoteDomainGetVcpuPinInfoRet:
        definition = self._domain(call, args.dom).one_definition(args.flags)
        count = min(definition.max_vcpus, args.ncpumaps)
        maps = bytearray(args.ncpumaps * args.maplen)
        for vcpu in range(count):
            maps[vcpu * args.maplen : (vcpu + 1) * args.maplen] = cpumap.to_bytes(
                _affinity(definition, vcpu), args.maplen
            )
        return rp.RemoteDomainGetVcpuPinInfoRet(bytes(maps), count)

    def _pin_vcpu(
        self, call: Call, handle: rp.RemoteNonnullDomain, vcpu: int, cpus: bytes, flags: int
    ) -> None:
        check_flags(flags, 0, "testDomainPinVcpuFlags")
        d = self.hv.of(handle)
        if not d.active:
            raise driver_error(E.VIR_ERR_OPERATION_INVALID, "cannot pin vcpus on an inactive domain")
        if not 0 <= vcpu < d.definition.vcpus:
            raise driver_error(E.VIR_ERR_INVALID_ARG, f"requested vcpu '{vcpu}' is not present in the domain")
        d.definition.vcpupin[vcpu] = cpumap.from_bytes(cpus)

    async def domain_pin_vcpu(self, call: Call, args: rp.RemoteDomainPinVcpuArgs) -> None:
        self._writable(call, "virDomainPinVcpu")
        self._pin_vcpu(call, args.dom, args.vcpu, args.cpumap, 0)

    async def domain_pin_vcpu_flags(self, call: Call, args: rp.RemoteDomainPinVcpuFlagsArgs) -> None:
        self._writable(call, "virDomainPinVcpuFlags")
        self._pin_vcpu(call, args.dom, args.vcpu, args.cpumap, args.flags)

    async def domain_pin_emulator(self, call: Call, args: rp.RemoteDomainPinEmulatorArgs) -> None:
        self._writable(call, "virDomainPinEmulator")
        check_flags(args.flags, AFFECT_LIVE | AFFECT_CONFIG, "testDomainPinEmulator")
        definition = self.hv.of(args.dom).one_definition(args.flags)
        cpus = cpumap.from_bytes(args.cpumap)
        if not cpus:
            raise driver_error(E.VIR_ERR_INVALID_ARG, "Empty cpu list for pinning")
        definition.emulatorpin = cpus

    async def domain_get_emulator_pin_info(
        self, call: Call, args: rp.RemoteDomainGetEmulatorPinInfoArgs
    ) -> rp.RemoteDomainGetEmulatorPinInfoRet:
        self._open(call)
        check_flags(args.flags, AFFECT_LIVE | AFFECT_CONFIG, "testDomainGetEmulatorPinInfo")
        definition = self._domain(call, args.dom).one_definition(args.flags)
        cpus = definition.emulatorpin if definition.emulatorpin is not None else HOST_CPUS
        return rp.RemoteDomainGetEmulatorPinInfoRet(cpumap.to_bytes(cpus, args.maplen), 1)

    # -- I/O threads --------------------------------------------------------

    async def domain_get_iothread_info(
        self, call: Call, args: rp.RemoteDomainGetIothreadInfoArgs
    ) -> rp.RemoteDomainGetIothreadInfoRet:
        self._open(call)
        check_flags(args.flags, AFFECT_LIVE | AFFECT_CONFIG, "testDomainGetIOThreadInfo")
        definition = self._domain(call, args.dom).one_definition(args.flags)
        host = real_host_cpus()
        maplen = (max(host, default=0) + 8) // 8
        info = [
            rp.RemoteDomainIothreadInfo(i, cpumap.to_bytes(definition.iothreadpin.get(i, host), maplen))
            for i in definition.iothreads
        ]
        return rp.RemoteDomainGetIothreadInfoRet(info, len(info))

    async def domain_add_iothread(self, call: Call, args: rp.RemoteDomainAddIothreadArgs) -> None:
        self._writable(call, "virDomainAddIOThread")
        check_flags(args.flags, AFFECT_LIVE | AFFECT_CONFIG, "testDomainAddIOThread")
        definition = self.hv.of(args.dom).one_definition(args.flags)
        if args.iothread_id in definition.iothreads:
            raise rpc_error(
                E.VIR_ERR_INVALID_ARG,
                f"an IOThread is already using iothread_id '{args.iothread_id}'",
                domain=ErrorDomain.VIR_FROM_DOMAIN,
            )
        definition.iothreads.append(args.iothread_id)
        definition.iothread_ids_given = True

    async def domain_del_iothread(self, call: Call, args: rp.RemoteDomainDelIothreadArgs) -> None:
        self._writable(call, "virDomainDelIOThread")
        check_flags(args.flags, AFFECT_LIVE | AFFECT_CONFIG, "testDomainDelIOThread")
        definition = self.hv.of(args.dom).one_definition(args.flags)
        if args.iothread_id not in definition.iothreads:
            raise rpc_error(
                E.VIR_ERR_INVALID_ARG,
                f"cannot find IOThread '{args.iothread_id}' in iothreadids list",
                domain=ErrorDomain.VIR_FROM_DOMAIN,
            )
        definition.iothreads.remove(args.iothread_id)
        definition.iothreadpin.pop(args.iothread_id, None)

    async def domain_pin_iothread(self, call: Call, args: rp.RemoteDomainPinIothreadArgs) -> None:
        self._writable(call, "virDomainPinIOThread")
        check_flags(args.flags, AFFECT_LIVE | AFFECT_CONFIG, "testDomainPinIOThread")
        definition = self.hv.of(args.dom).one_definition(args.flags)
        if args.iothreads_id not in definition.iothreads:
            raise driver_error(E.VIR_ERR_INVALID_ARG, f"iothreadid {args.iothreads_id} not found")
        definition.iothreadpin[args.iothreads_id] = cpumap.from_bytes(args.cpumap)

    async def domain_set_iothread_params(
        self, call: Call, args: rp.RemoteDomainSetIothreadParamsArgs
    ) -> None:
        """The polling and pool parameters are checked, not kept."""
        self._writable(call, "virDomainSetIOThreadParams")
        check_flags(args.flags, AFFECT_LIVE | AFFECT_CONFIG, "testDomainSetIOThreadParams")
        validate(args.params, IOTHREAD_PARAMS)
        definition = self.hv.of(args.dom).one_definition(args.flags)
        if args.iothread_id not in definition.iothreads:
            raise driver_error(
                E.VIR_ERR_INVALID_ARG, f"cannot find IOThread '{args.iothread_id}' in iothreadids"
            )


register(ObjectKind("vcpus", VcpuProcedures))
