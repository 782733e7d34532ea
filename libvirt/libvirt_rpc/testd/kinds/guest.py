"""What a running domain reports about itself: statistics (memory, block,
interface, CPU, the bulk ``domstats``), block device sizes and errors, and
the answers a guest agent would give (addresses, file systems, time, host
name, freezing), with the test driver's made-up values."""

from __future__ import annotations

import ipaddress
import time

from libvirt_rpc import remote_protocol as rp

from ...errors import ErrorNumber as E
from ...server import Call
from ..base import ProceduresBase, check_flags, driver_error, not_running
from ..listing import select
from ..model import RUNNING
from ..params import INT, STRING_OKAY, ULLONG, param, serialize
from ..registry import ObjectKind, register
from .domains import STATE_GROUPS
from .networks import NETWORKS

# virDomainMemoryStatTags, in the order the test driver reports them
_MEMORY_STATS = (
    (6, lambda m: m), (0, lambda m: 0), (1, lambda m: 0), (2, lambda m: 0), (3, lambda m: 0),
    (4, lambda m: m // 2), (5, lambda m: m), (8, lambda m: m // 2), (9, lambda m: 627319920),
    (10, lambda m: m // 8), (11, lambda m: 0), (12, lambda m: 0), (7, lambda m: m // 2),
)  # fmt: skip

TOTAL_CPU_TIME = 48772617035
HOST_CORES = 2  # the node's cores: what the per-CPU statistics cover
_DISK_ERRORS = 2  # VIR_DOMAIN_DISK_ERROR_LAST - 1: the errors cycle through
_MOUNT_POINTS = ("/", "/boot")

# virConnectGetAllDomainStats
STATS_STATE = 1
_STATS_ENFORCE = 1 << 31


def _time_base() -> int:
    """g_get_real_time(): the test driver's seed for made-up counters (µs)."""
    return time.time_ns() // 1000


class GuestProcedures(ProceduresBase):
    # -- statistics -----------------------------------------------------------

    async def domain_memory_stats(
        self, call: Call, args: rp.RemoteDomainMemoryStatsArgs
    ) -> rp.RemoteDomainMemoryStatsRet:
        self._open(call)
        check_flags(args.flags, 0, "testDomainMemoryStats")
        d = self._active_domain(call, args.dom)
        if not d.definition.has_memballoon():
            return rp.RemoteDomainMemoryStatsRet([])
        memory = d.definition.memory
        stats = [rp.RemoteDomainMemoryStat(tag, value(memory)) for tag, value in _MEMORY_STATS]
        return rp.RemoteDomainMemoryStatsRet(stats[: args.maxStats])

    async def domain_block_stats(
        self, call: Call, args: rp.RemoteDomainBlockStatsArgs
    ) -> rp.RemoteDomainBlockStatsRet:
        self._open(call)
        if not args.path:
            raise driver_error(E.VIR_ERR_OPERATION_UNSUPPORTED, "summary statistics are not supported yet")
        d = self._active_domain(call, args.dom)
        if d.definition.disk(args.path) is None:
            raise driver_error(E.VIR_ERR_INVALID_ARG, f"invalid path: {args.path}")
        base = _time_base()
        return rp.RemoteDomainBlockStatsRet(base // 10, base // 20, base // 30, base // 40, base // 2000000)

    async def domain_interface_stats(
        self, call: Call, args: rp.RemoteDomainInterfaceStatsArgs
    ) -> rp.RemoteDomainInterfaceStatsRet:
        d = self._active_domain(call, args.dom)
        if d.definition.interface(args.device) is None:
            raise driver_error(E.VIR_ERR_INVALID_ARG, f"'{args.device}' is not a known interface")
        b = _time_base()
        return rp.RemoteDomainInterfaceStatsRet(
            b // 10, b // 100, b // 1000000, b // 2000000, b // 20, b // 110, b // 3000000, b // 4000000
        )

    async def domain_get_cpu_stats(
        self, call: Call, args: rp.RemoteDomainGetCpuStatsArgs
    ) -> rp.RemoteDomainGetCpuStatsRet:
        self._open(call)
        check_flags(args.flags, STRING_OKAY, "testDomainGetCPUStats")
        self._active_domain(call, args.dom)
        if args.start_cpu == -1:  # the totals
            totals = [
                param("cpu_time", ULLONG, TOTAL_CPU_TIME),
                param("user_time", ULLONG, 5540000000),
                param("system_time", ULLONG, 6460000000),
            ]
            if args.nparams == 0:
                return rp.RemoteDomainGetCpuStatsRet([], len(totals))
            params = totals[: args.nparams]
            return rp.RemoteDomainGetCpuStatsRet(serialize(params, args.flags), len(params))
        if args.ncpus == 0:
            return rp.RemoteDomainGetCpuStatsRet([], HOST_CORES)
        if args.nparams == 0:
            return rp.RemoteDomainGetCpuStatsRet([], 2)
        if args.start_cpu >= HOST_CORES:
            raise driver_error(
                E.VIR_ERR_INVALID_ARG, f"start_cpu {args.start_cpu} larger than maximum of {HOST_CORES - 1}"
            )
        per_cpu = TOTAL_CPU_TIME // HOST_CORES
        params = []
        for cpu in range(args.start_cpu, min(HOST_CORES, args.start_cpu + args.ncpus)):
            row = [
                param("cpu_time", ULLONG, per_cpu + cpu),
                param("vcpu_time", ULLONG, per_cpu + cpu - 1234567890),
            ]
            params += row[: args.nparams]
        return rp.RemoteDomainGetCpuStatsRet(serialize(params, args.flags), min(args.nparams, 2))

    async def connect_get_all_domain_stats(
        self, call: Call, args: rp.RemoteConnectGetAllDomainStatsArgs
    ) -> rp.RemoteConnectGetAllDomainStatsRet:
        """Only the "state" group, the one the test driver fills."""
        self._open(call)
        if args.flags & _STATS_ENFORCE and args.stats & ~STATS_STATE:
            raise driver_error(
                E.VIR_ERR_ARGUMENT_UNSUPPORTED,
                "Stats types bits 0x%x are not supported by this daemon" % (args.stats & ~STATS_STATE),
            )
        if args.doms:
            domains = [self.hv.of(handle) for handle in args.doms]
        else:
            domains = select(self.hv.domains.values(), args.flags, STATE_GROUPS)
        records = []
        for d in domains:
            params = []
            if not args.stats or args.stats & STATS_STATE:
                params = [param("state.state", INT, d.state), param("state.reason", INT, d.reason)]
            records.append(rp.RemoteDomainStatsRecord(d.handle(), params))
        return rp.RemoteConnectGetAllDomainStatsRet(records)

    # -- block devices ----------------------------------------------------------

    async def domain_get_block_info(
        self, call: Call, args: rp.RemoteDomainGetBlockInfoArgs
    ) -> rp.RemoteDomainGetBlockInfoRet:
        self._open(call)
        check_flags(args.flags, 0, "testDomainGetBlockInfo")
        d = self._domain(call, args.dom)
        disk = d.definition.disk(args.path)
        if disk is None:
            raise driver_error(E.VIR_ERR_INVALID_ARG, f"invalid path {args.path} not assigned to domain")
        source = disk.find("source")
        if source is None or not (source.get("file") or source.get("dev") or source.get("name")):
            raise driver_error(
                E.VIR_ERR_INVALID_ARG, f"disk '{args.path}' does not currently have a source assigned"
            )
        return rp.RemoteDomainGetBlockInfoRet(1099511627776, 1099506450432, 1099511627776)

    async def domain_get_disk_errors(
        self, call: Call, args: rp.RemoteDomainGetDiskErrorsArgs
    ) -> rp.RemoteDomainGetDiskErrorsRet:
        self._open(call)
        check_flags(args.flags, 0, "testDomainGetDiskErrors")
        disks = self._active_domain(call, args.dom).definition.disk_targets()
        if args.maxerrors == 0:
            return rp.RemoteDomainGetDiskErrorsRet([], len(disks))
        errors = [
            rp.RemoteDomainDiskError(dev, i % _DISK_ERRORS + 1) for i, (dev, _) in enumerate(disks[: args.maxerrors])
        ]
        return rp.RemoteDomainGetDiskErrorsRet(errors, len(errors))

    # -- what a guest agent would answer ------------------------------------------

    async def domain_interface_addresses(
        self, call: Call, args: rp.RemoteDomainInterfaceAddressesArgs
    ) -> rp.RemoteDomainInterfaceAddressesRet:
        self._open(call)
        check_flags(args.flags, 0, "testDomainInterfaceAddresses")
        if args.source >= 3:
            raise driver_error(
                E.VIR_ERR_ARGUMENT_UNSUPPORTED, f"Unknown IP address data source {args.source}"
            )
        d = self._active_domain(call, args.dom)
        out = []
        for i, net in enumerate(d.definition.interfaces()):
            target, mac, source = net.find("target"), net.find("mac"), net.find("source")
            name = target.get("dev", "") if target is not None else ""
            hwaddr = mac.get("address") if mac is not None else None
            if net.get("type") == "network" and source is not None:
                address = self._network_address(source.get("network", ""), 20 * (d.id - 1) + i + 1)
            else:
                address = rp.RemoteDomainIpAddr(0, f"192.168.0.{1 + i}", 24)
            out.append(rp.RemoteDomainInterface(name, hwaddr, [address]))
        return rp.RemoteDomainInterfaceAddressesRet(out)

    def _network_address(self, network_name: str, offset: int) -> rp.RemoteDomainIpAddr:
        """testDomainInterfaceAddressFromNet: the network's first DHCP
        address (or its own), ``offset`` further."""
        network = self.hv[NETWORKS].get(network_name)
        if network is None:
            raise driver_error(E.VIR_ERR_NO_NETWORK, f"no network with matching name '{network_name}'")
        ip = network.definition.ips[0]
        start = ip.find("dhcp/range")
        first = start.get("start") if start is not None else None
        base = ipaddress.ip_address(first or ip.get("address") or "0.0.0.0")
        if ip.get("prefix"):
            prefix = int(ip.get("prefix", "0"))
        elif ip.get("netmask"):
            prefix = ipaddress.ip_network(f"0.0.0.0/{ip.get('netmask')}").prefixlen
        else:
            prefix = 24 if base.version == 4 else 64
        return rp.RemoteDomainIpAddr(0 if base.version == 4 else 1, str(base + offset), prefix)

    async def domain_get_fsinfo(
        self, call: Call, args: rp.RemoteDomainGetFsinfoArgs
    ) -> rp.RemoteDomainGetFsinfoRet:
        self._open(call)
        check_flags(args.flags, 0, "testDomainGetFSInfo")
        d = self._active_domain(call, args.dom)
        for disk in d.definition.disks():
            target = disk.find("target")
            if disk.get("device", "disk") == "disk" and target is not None:
                dev = target.get("dev", "")
                info = [
                    rp.RemoteDomainFsinfo("/", f"{dev}1", "ext4", [dev]),
                    rp.RemoteDomainFsinfo("/boot", f"{dev}2", "ext4", [dev]),
                ]
                return rp.RemoteDomainGetFsinfoRet(info, len(info))
        return rp.RemoteDomainGetFsinfoRet([], 0)

    def _mount_points(self, mountpoints: list[str]) -> list[int]:
        for mountpoint in mountpoints:
            if mountpoint not in _MOUNT_POINTS:
                raise driver_error(E.VIR_ERR_OPERATION_INVALID, f"mount point not found: {mountpoint}")
        return sorted({_MOUNT_POINTS.index(m) for m in mountpoints} or {0, 1})

    async def domain_fsfreeze(
        self, call: Call, args: rp.RemoteDomainFsfreezeArgs
    ) -> rp.RemoteDomainFsfreezeRet:
        self._writable(call, "virDomainFSFreeze")
        check_flags(args.flags, 0, "testDomainFSFreeze")
        d = self._active_domain(call, args.dom)
        changed = [i for i in self._mount_points(args.mountpoints) if not d.frozen[i]]
        for i in changed:
            d.frozen[i] = True
        return rp.RemoteDomainFsfreezeRet(len(changed))

    async def domain_fsthaw(self, call: Call, args: rp.RemoteDomainFsthawArgs) -> rp.RemoteDomainFsthawRet:
        self._writable(call, "virDomainFSThaw")
        check_flags(args.flags, 0, "testDomainFSThaw")
        d = self._active_domain(call, args.dom)
        changed = [i for i in self._mount_points(args.mountpoints) if d.frozen[i]]
        for i in changed:
            d.frozen[i] = False
        return rp.RemoteDomainFsthawRet(len(changed))

    async def domain_fstrim(self, call: Call, args: rp.RemoteDomainFstrimArgs) -> None:
        self._writable(call, "virDomainFSTrim")
        check_flags(args.flags, 0, "testDomainFSTrim")
        self._active_domain(call, args.dom)
        if args.mountPoint is not None:
            self._mount_points([args.mountPoint])

    async def domain_get_time(
        self, call: Call, args: rp.RemoteDomainGetTimeArgs
    ) -> rp.RemoteDomainGetTimeRet:
        self._open(call)
        check_flags(args.flags, 0, "testDomainGetTime")
        d = self._domain(call, args.dom)
        if d.state != RUNNING:
            raise not_running()
        return rp.RemoteDomainGetTimeRet(*d.guest_time)

    async def domain_set_time(self, call: Call, args: rp.RemoteDomainSetTimeArgs) -> None:
        self._writable(call, "virDomainSetTime")
        check_flags(args.flags, 1, "testDomainSetTime")  # SYNC
        self._active_domain(call, args.dom).guest_time = (args.seconds, args.nseconds)

    async def domain_get_hostname(
        self, call: Call, args: rp.RemoteDomainGetHostnameArgs
    ) -> rp.RemoteDomainGetHostnameRet:
        self._open(call)
        check_flags(args.flags, 0, "testDomainGetHostname")
        return rp.RemoteDomainGetHostnameRet(f"{self._active_domain(call, args.dom).name}host")

    async def domain_get_control_info(
        self, call: Call, args: rp.RemoteDomainGetControlInfoArgs
    ) -> rp.RemoteDomainGetControlInfoRet:
        """The test driver derives the monitor state from the guest time:
        below 10000 s a job, below 30000 s occupied, below 60000 s an error."""
        self._open(call)
        check_flags(args.flags, 0, "testDomainGetControlInfo")
        seconds = self._active_domain(call, args.dom).guest_time[0]
        if 0 < seconds < 10000:
            return rp.RemoteDomainGetControlInfoRet(1, 0, seconds)
        if 10000 <= seconds < 30000:
            return rp.RemoteDomainGetControlInfoRet(2, 0, seconds - 10000)
        if 30000 <= seconds < 60000:
            return rp.RemoteDomainGetControlInfoRet(3, seconds % 4, seconds - 30000)
        return rp.RemoteDomainGetControlInfoRet(0, 0, 0)

    # -- actions that only check their domain ------------------------------------

    async def domain_inject_nmi(self, call: Call, args: rp.RemoteDomainInjectNmiArgs) -> None:
        self._writable(call, "virDomainInjectNMI")
        check_flags(args.flags, 0, "testDomainInjectNMI")
        self._active_domain(call, args.dom)

    async def domain_send_key(self, call: Call, args: rp.RemoteDomainSendKeyArgs) -> None:
        self._writable(call, "virDomainSendKey")
        check_flags(args.flags, 0, "testDomainSendKey")
        self._active_domain(call, args.dom)

    async def domain_send_process_signal(
        self, call: Call, args: rp.RemoteDomainSendProcessSignalArgs
    ) -> None:
        self._writable(call, "virDomainSendProcessSignal")
        check_flags(args.flags, 0, "testDomainSendProcessSignal")
        if args.pid_value != 1:
            raise driver_error(E.VIR_ERR_INVALID_ARG, "only sending a signal to pid 1 is supported")
        if args.signum >= 65:  # VIR_DOMAIN_PROCESS_SIGNAL_LAST
            raise driver_error(E.VIR_ERR_INVALID_ARG, f"signum value {args.signum} is out of range")
        self._domain(call, args.dom)

    async def domain_set_user_password(self, call: Call, args: rp.RemoteDomainSetUserPasswordArgs) -> None:
        self._writable(call, "virDomainSetUserPassword")
        check_flags(args.flags, 1, "testDomainSetUserPassword")  # ENCRYPTED
        self._active_domain(call, args.dom)

    async def domain_get_launch_security_info(
        self, call: Call, args: rp.RemoteDomainGetLaunchSecurityInfoArgs
    ) -> rp.RemoteDomainGetLaunchSecurityInfoRet:
        self._open(call)
        check_flags(args.flags, 0, "testDomainGetLaunchSecurityInfo")
        self._domain(call, args.dom)
        return rp.RemoteDomainGetLaunchSecurityInfoRet([])

    async def domain_memory_peek(
        self, call: Call, args: rp.RemoteDomainMemoryPeekArgs
    ) -> rp.RemoteDomainMemoryPeekRet:
        self._open(call)
        check_flags(args.flags, 3, "testDomainMemoryPeek")
        if args.flags not in (1, 2):
            raise driver_error(
                E.VIR_ERR_INVALID_ARG, "flags parameter must be VIR_MEMORY_VIRTUAL or VIR_MEMORY_PHYSICAL"
            )
        self._active_domain(call, args.dom)
        return rp.RemoteDomainMemoryPeekRet(bytes((args.offset + i) & 0xFF for i in range(args.size)))


register(ObjectKind("guest", GuestProcedures))
