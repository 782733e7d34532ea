"""The real virsh, command by command, against our test daemon and against a
real libvirtd's test:///default driver: what it prints (and its exit
status) must be the same, byte for byte.

Read-only commands run each in a virsh session of its own against one
daemon of ours.  Sessions that change things get a daemon of their own:
libvirtd's test:///default state lives while a connection is open, ours as
long as the daemon runs.

Only what genuinely differs from run to run is normalised: the CPU time
(the test driver reports the time of day), MAC addresses made up for
interfaces defined without one, snapshot creation times, and the URI's
socket path (each daemon has its own).
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path

import pytest

from libvirt_rpc import remote_protocol as rp
from testd_support import EventWatch, Libvirtd, Testd, WireTap, normalise, virsh_event_lines, virsh_in
from xdrgen.runtime.virnet.framing import MessageType

TEST_UUID = "6695eb01-f6a4-8304-79aa-97f2502e193f"
NETWORK_UUID = "dd8fe884-6c02-601e-7551-cca97df1c5df"
POOL_UUID = "dfe224cb-28fb-8dd0-c4b2-64eb3f0f4566"

#: Commands that change nothing, on libvirt's default test objects.
READ_ONLY = [
    # domains
    "list --all",
    "dominfo test",
    "domstate --reason test",
    "dumpxml test",
    "dumpxml --inactive test",
    "dumpxml --security-info test",
    "domuuid test",
    "domid test",
    "domname 1",
    "vcpucount test",
    "vcpuinfo test",
    "vcpupin test",
    "emulatorpin test",
    "iothreadinfo test",
    "dommemstat test",
    "domblklist test",
    "domblklist --details test",
    "domiflist test",
    "domblkinfo test vda",
    "domblkinfo --all test",
    "domblkerror test",
    "domifaddr test",
    "domfsinfo test",
    "domhostname test",
    "domtime test",
    "domcontrol test",
    "domjobinfo test",
    "schedinfo test",
    "memtune test",
    "blkiotune test",
    "numatune test",
    "blkdeviotune test vda",
    "domiftune test testnet0",
    "perf test",
    "cpu-stats test",
    "domstats",
    "domstats --list-running --raw test",
    "metadata test http://example.org/",
    "snapshot-list test",
    "snapshot-current test",
    # the host
    "nodeinfo",
    "nodecpustats",
    "nodecpustats 0",
    "nodememstats",
    "nodecpumap",
    "freecell",
    "freecell --all",
    "freecell 1",
    "freepages --all",
    "capabilities",
    "sysinfo",
    "domcapabilities",
    "pool-capabilities",
    "cpu-models x86_64",
    "cpu-models aarch64",
    "cpu-models nosuch",
    "maxvcpus",
    "version",
    "hostname",
    "uri",
    "nodedev-list",
    "nodedev-dumpxml computer",
    "nodedev-dumpxml scsi_host1",
    "nodedev-dumpxml scsi_host11",
    "nodedev-info scsi_host2",
    "nodedev-event --event update --timeout 1",
    # networks, storage, interfaces
    "net-list --all",
    "net-info default",
    "net-dumpxml default",
    "net-uuid default",
    f"net-name {NETWORK_UUID}",
    "net-dhcp-leases default",
    "net-info nosuch",
    "pool-list --all",
    "pool-list --all --details",
    "pool-info default-pool",
    "pool-dumpxml default-pool",
    "pool-uuid default-pool",
    f"pool-name {POOL_UUID}",
    "vol-list default-pool",
    "vol-list --details default-pool",
    "find-storage-pool-sources logical",
    "find-storage-pool-sources-as netfs nfshost",
    "iface-list --all",
    "iface-dumpxml eth1",
    "iface-mac eth1",
    "iface-name aa:bb:cc:dd:ee:ff",
    # what the test driver does not have
    "secret-list",
    "nwfilter-list",
    "nwfilter-binding-list",
]

DOMAIN_XML = """\
<domain type='test'>
  <name>d2</name>
  <uuid>12345678-1234-5678-9abc-def012345678</uuid>
  <title>second</title>
  <memory unit='MiB'>1024</memory>
  <vcpu current='2'>4</vcpu>
  <iothreads>2</iothreads>
  <cputune><vcpupin vcpu='1' cpuset='2-3'/><emulatorpin cpuset='1'/></cputune>
  <memtune><hard_limit unit='G'>2</hard_limit></memtune>
  <os><type arch='i686'>hvm</type></os>
  <devices>
    <disk type='file' device='cdrom'><source file='/tmp/a.iso'/><target dev='hdc' bus='ide'/><readonly/></disk>
    <disk type='file' device='disk'><source file='/tmp/c.img'/><target dev='sdq' bus='sata'/></disk>
    <interface type='bridge'><source bridge='br0'/></interface>
  </devices>
</domain>
"""

#: Files the sessions name.
FILES = {
    "dom2.xml": DOMAIN_XML,
    "net1.xml": """\
<network>
  <name>net1</name>
  <uuid>11111111-2222-3333-4444-555555555555</uuid>
  <bridge name="br9"/>
  <ip address="10.0.0.1" netmask="255.255.255.0">
    <dhcp><range start="10.0.0.2" end="10.0.0.9"/><host mac="00:11:22:33:44:55" name="h" ip="10.0.0.5"/></dhcp>
  </ip>
  <forward mode="route" dev="eth0"/>
  <domain name="example.org"/>
</network>
""",
    "net2.xml": "<network><name>iso</name><uuid>11111111-2222-3333-4444-555555555556</uuid></network>\n",
    "if1.xml": """\
<interface type="ethernet" name="eth2">
  <mac address="52:54:00:11:22:33"/>
  <start mode="hotplug"/>
  <protocol family="ipv4"><dhcp/></protocol>
  <protocol family="ipv6"><ip address="fe80::1" prefix="64"/></protocol>
</interface>
""",
    "if2.xml": """\
<interface type='bridge' name='br0'>
  <start mode='onboot'/>
  <mtu size='1500'/>
  <protocol family='ipv4'><ip address='10.1.1.1' prefix='16'/></protocol>
  <bridge stp='off' delay='0.01'>
    <interface type='ethernet' name='eth3'><mac address='ab:bb:cc:dd:ee:ff'/></interface>
  </bridge>
</interface>
""",
    "pool1.xml": """\
<pool type='dir'>
  <name>p1</name>
  <uuid>aaaaaaaa-2222-3333-4444-555555555555</uuid>
  <target><path>/var/p1</path><permissions><mode>0755</mode><owner>0</owner><group>0</group></permissions></target>
</pool>
""",
    "vol1.xml": """\
<volume>
  <name>v2.img</name>
  <capacity unit='M'>10</capacity>
  <allocation>4096</allocation>
  <target><format type='raw'/></target>
</volume>
""",
    "bad.xml": "<interface/>\n",
}

#: Sessions that change things, each on a daemon of its own; "{dir}" is a
#: directory both daemons write to.
SESSIONS = {
    "vcpus_and_tuning": [
        "vcpupin test 0 1-2",
        "emulatorpin test 3",
        "memtune test --hard-limit 1000000 --soft-limit 500000 --swap-hard-limit 2000000",
        "blkiotune test --weight 500",
        "numatune test --nodeset 0-1 --mode interleave",
        "setmem test 1000000",
        "dumpxml test",
        "dumpxml --inactive test",
        "vcpupin test",
        "emulatorpin test",
        "memtune test",
        "blkiotune test",
        "numatune test",
        "vcpuinfo test",
        "dominfo test",
        "memtune test --hard-limit 100 --swap-hard-limit 50",
        "numatune test --mode preferred",
        "numatune test --nodeset 1 --config",
        "numatune test --config",
        "schedinfo test --set weight=100",
        "schedinfo test weight=100 --config",
        "setmem test 99999999",
    ],
    "vcpu_counts_title_rename": [
        "setvcpus test 1",
        "vcpucount test",
        "setvcpus test 1 --config",
        "setvcpus test 3 --config --maximum",
        "vcpucount test",
        "dumpxml --inactive test",
        "setmaxmem test 100000",
        "setmem test 4000000 --config",
        "desc test --title",
        "desc test --live --title hello",
        "desc test --config 'some desc'",
        "dumpxml test",
        "autostart test",
        "dominfo test",
        "domrename test t2",
        "destroy test",
        "domrename test t2",
        "list --all",
        "vcpuinfo t2",
        "dumpxml t2",
    ],
    "lifecycle_and_managed_save": [
        "shutdown test",
        "domstate --reason test",
        "start test",
        "reboot test",
        "domstate --reason test",
        "reset test",
        "managedsave test",
        "domstate --reason test",
        "dominfo test",
        "list --all --managed-save",
        "start test",
        "dominfo test",
        "managedsave-remove test",
        "managedsave test",
        "managedsave-remove test",
        "set-lifecycle-action test poweroff restart",
        "dumpxml --inactive test",
        "undefine test",
        "list --all",
    ],
    "device_tuning_and_perf": [
        "blkdeviotune test vda --total-bytes-sec 1000 --read-iops-sec 5 --group-name g1",
        "domiftune test testnet0 --inbound 100,200,300,400 --outbound 50",
        "perf test --enable cmt,cpu_cycles",
        "perf test --disable cmt",
        "blkiotune test --weight 300 --config",
        "dumpxml test",
        "dumpxml --inactive test",
        "domiftune test testnet0",
        "blkdeviotune test vda",
        "domiftune test nosuch",
        "blkdeviotune test vdz",
        "domblkinfo test vdz",
        "dommemstat test --period 5",
    ],
    "iothreads": [
        "iothreadadd test 3",
        "iothreadadd test 1 --config",
        "iothreadadd test 3",
        "iothreadpin test 3 4-5",
        "dumpxml test",
        "dumpxml --inactive test",
        "iothreadinfo test",
        "iothreadinfo test --config",
        "iothreadset test 3 --poll-max-ns 100 --poll-grow 2",
        "iothreadset test 9 --poll-max-ns 100",
        "iothreaddel test 3",
        "iothreaddel test 3",
        "iothreadadd test 4 --live --config",
        "dumpxml test",
    ],
    "guest_agent": [
        "domfsfreeze test",
        "domfsthaw test",
        "domfstrim test",
        "send-key test KEY_A",
        "inject-nmi test",
        "set-user-password test root pw",
        "domlaunchsecinfo test",
        "domtime test --sync",
        "domtime test 1000",
        "domtime test",
        "domcontrol test",
        "domtime test 20000",
        "domcontrol test",
        "domblkstat test",
        "domfsfreeze test --mountpoint /boot",
        "domfsfreeze test --mountpoint /x",
        "send-process-signal test 2 kill",
        "setvcpu test 1 --disable",
        "cpu-stats test --start 1 --count 5",
        "cpu-stats test --start 2",
        "destroy test",
        "domstats --list-inactive",
        "dommemstat test",
        "domifaddr test",
    ],
    "create_and_define": [
        "create dom2.xml",
        "list --all --title",
        "dumpxml d2",
        "vcpuinfo d2",
        "iothreadinfo d2",
        "domblkinfo d2 /tmp/c.img",
        "memtune d2",
        "destroy d2",
        "list --all",
        "define dom2.xml",
        "start d2",
        "domstats d2 test",
        "undefine d2",
        "dominfo d2",
        "destroy d2",
        "dominfo d2",
        "define bad.xml",
    ],
    "save_and_restore": [
        "save test {dir}/saved.img",
        "domstate --reason test",
        "save-image-dumpxml {dir}/saved.img",
        "restore {dir}/saved.img",
        "domstate --reason test",
        "dump test {dir}/core.img --crash",
        "domstate --reason test",
        "restore {dir}/nothere",
        # (reading a core dump as a save image fails with whatever errno the
        # daemon's thread last had: libvirtd's message varies)
        "save-image-define {dir}/saved.img bad.xml",
    ],
    "snapshots": [
        "snapshot-create-as test s1 --description 'first one'",
        "snapshot-create-as test s2",
        "snapshot-create-as test s2",
        "snapshot-list test --tree",
        "snapshot-list test --parent",
        "snapshot-info test s1",
        "snapshot-info test --current",
        "snapshot-dumpxml test s2",
        "snapshot-parent test s1",
        "snapshot-revert test s1",
        "domstate --reason test",
        "snapshot-delete test s1",
        "snapshot-create-as test s3 --halt",
        "domstate --reason test",
        "snapshot-list test --parent",
        "undefine test",
        "snapshot-revert test s2 --paused",
        "domstate --reason test",
        "snapshot-list test --leaves --name",
        "snapshot-delete test --children s2",
        "snapshot-list test",
    ],
    "checkpoints": [
        "checkpoint-create-as test c1 --description hello",
        "checkpoint-create-as test c2",
        "checkpoint-list test --parent",
        "checkpoint-list test --tree",
        "checkpoint-info test c1",
        "checkpoint-dumpxml test c2",
        "checkpoint-dumpxml test c1 --no-domain",
        "checkpoint-parent test c1",
        "snapshot-create-as test s1",
        "list --all --with-checkpoint",
        "checkpoint-delete test c1",
        "checkpoint-list test --leaves --name",
        "checkpoint-create-as test c2",
        "checkpoint-delete test c2 --children",
        "destroy test",
        "checkpoint-create-as test c3",
    ],
    "metadata": [
        "metadata test --uri http://x.org/ --key k --set '<a b=\"1\"><c>text &amp; more</c><d/></a>'",
        "metadata test --uri http://x.org/",
        "metadata test --uri http://y.org/ --key y --set '<z/>' --config",
        "dumpxml test",
        "dumpxml --inactive test",
        "metadata test --uri http://x.org/ --remove",
        "metadata test --uri http://x.org/",
        "dumpxml test",
        "dommemstat test --period 7",
        "dumpxml test",
    ],
    "network_update": [
        "net-update default add ip-dhcp-host \"<host mac='00:16:3e:77:e2:ed' name='foo' ip='192.168.122.10'/>\"",
        "net-update default add ip-dhcp-host \"<host mac='00:16:3e:77:e2:ed' name='foo' ip='192.168.122.10'/>\"",
        "net-update default add-first ip-dhcp-host \"<host mac='00:16:3e:77:e2:ee' ip='192.168.122.11'/>\" --config",
        "net-dumpxml default",
        "net-update default modify ip-dhcp-host \"<host mac='00:16:3e:77:e2:ed' name='bar' ip='192.168.122.12'/>\"",
        "net-update default delete ip-dhcp-host \"<host mac='00:16:3e:77:e2:ff'/>\"",
        "net-update default add ip-dhcp-range \"<range start='192.168.122.100' end='192.168.122.110'/>\"",
        "net-update default modify ip-dhcp-range \"<range start='192.168.122.100' end='192.168.122.110'/>\"",
        "net-update default delete ip-dhcp-range \"<range start='192.168.122.2' end='192.168.122.254'/>\"",
        "net-dumpxml default",
        "net-update default add bridge \"<bridge name='x'/>\"",
        'net-update default add ip-dhcp-host "<nothost/>"',
        "net-destroy default",
        "net-update default delete ip-dhcp-host \"<host mac='00:16:3e:77:e2:ed'/>\"",
        "net-update default add ip-dhcp-host \"<host mac='00:16:3e:77:e2:ab' ip='192.168.122.13'/>\" --live",
        "net-dumpxml default",
    ],
    "what_the_test_driver_lacks": [
        "guestinfo test",
        "guestvcpus test",
        "get-user-sshkeys test root",
        "domblkthreshold test vda 100",
        "blockjob test vda",
        "blockresize test vda 10G",
        "domdisplay test",
        "dompmsuspend test mem",
        "net-port-list default",
        "vol-create-as default-pool v1 1M",
        "vol-clone v1 v2 --pool default-pool",
        "vol-resize v1 2M --pool default-pool",
        "vol-wipe v1 --pool default-pool",
        "attach-disk test /tmp/x.img vdb",
        "detach-disk test vda",
        "attach-interface test network default",
        "domjobabort test",
        "migrate-getspeed test",
    ],
    "networks": [
        "net-define net1.xml",
        "net-define net2.xml",
        "net-list --all",
        "net-dumpxml net1",
        "net-dumpxml iso",
        "net-info iso",
        "net-start net1",
        "net-autostart net1",
        "net-info net1",
        "net-create net2.xml",
        "net-destroy default",
        "net-undefine net1",
        "net-destroy net1",
        "net-undefine net1",
        "net-start default",
        "net-start default",
        "net-list --all --persistent",
        "net-list --inactive",
        "net-dumpxml --inactive default",
    ],
    "interfaces": [
        "iface-define if1.xml",
        "iface-define if2.xml",
        "iface-list --all",
        "iface-list --inactive",
        "iface-dumpxml eth2",
        "iface-dumpxml br0",
        "iface-start eth2",
        "iface-start eth2",
        "iface-destroy eth1",
        "iface-undefine eth2",
        "iface-list --all",
        "iface-dumpxml nosuch",
        "iface-begin",
        "iface-begin",
        "iface-commit",
        "iface-rollback",
    ],
    "pools_and_volumes": [
        "pool-define pool1.xml",
        "pool-info p1",
        "pool-dumpxml p1",
        "pool-start p1",
        "pool-autostart p1",
        "pool-list --all --details",
        "vol-create-as default-pool vol1 1G --allocation 100M",
        "vol-create default-pool vol1.xml",
        "vol-list --details default-pool",
        "vol-info vol1 --pool default-pool",
        "vol-info --bytes vol1 --pool default-pool",
        "vol-dumpxml vol1 --pool default-pool",
        "vol-path vol1 --pool default-pool",
        "vol-key vol1 --pool default-pool",
        "vol-name /default-pool/vol1",
        "vol-pool /default-pool/vol1",
        "pool-info default-pool",
        "pool-dumpxml default-pool",
        "vol-create-as default-pool v4 1000G",
        "vol-create-as default-pool vol1 1M",
        "vol-delete vol1 --pool default-pool",
        "vol-list default-pool",
        "pool-destroy p1",
        "pool-undefine p1",
        "pool-refresh default-pool",
        "pool-build default-pool",
        "pool-delete default-pool",
        "vol-info nosuch --pool default-pool",
    ],
}

_CREATION_TIME = re.compile(r"<creationTime>\d+</creationTime>")
_CREATION_DATE = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d{4}")


def run(daemon: Testd | Libvirtd, script: str, cwd: Path | None = None) -> tuple[int, str, str]:
    """virsh's exit status, output and errors, normalised."""

    def clean(text: str) -> str:
        text = normalise(text).replace(daemon.socket_path, "SOCKET")
        text = _CREATION_TIME.sub("<creationTime>T</creationTime>", text)
        return _CREATION_DATE.sub("YYYY-MM-DD hh:mm:ss +zzzz", text)

    result = virsh_in(daemon.uri_unix, script, cwd)
    return result.returncode, clean(result.stdout), clean(result.stderr)


@pytest.mark.parametrize("command", READ_ONLY)
def test_read_only_command_matches_libvirtd(command: str, testd: Testd, real_libvirtd: Libvirtd) -> None:
    assert run(testd, command) == run(real_libvirtd, command)


@pytest.fixture
def session_dir(tmp_path: Path) -> Path:
    for name, text in FILES.items():
        (tmp_path / name).write_text(text)
    return tmp_path


@pytest.mark.parametrize("name", SESSIONS)
def test_session_matches_libvirtd(
    name: str, fresh_testd: Testd, real_libvirtd: Libvirtd, session_dir: Path
) -> None:
    script = "; ".join(SESSIONS[name]).replace("{dir}", str(session_dir / "files"))
    outputs = []
    for daemon in (real_libvirtd, fresh_testd):
        files = session_dir / "files"
        files.mkdir()  # a fresh directory with the same path for each daemon
        outputs.append((run(daemon, script, session_dir), sorted(p.name for p in files.iterdir())))
        for written in files.iterdir():
            written.unlink()
        files.rmdir()
    theirs, ours = outputs
    assert ours == theirs, "\n".join(
        difflib.unified_diff(repr(theirs).split("\\n"), repr(ours).split("\\n"), lineterm="")
    )
    assert "Traceback" not in fresh_testd.log()  # no handler failed


def test_saved_image_is_libvirts(fresh_testd: Testd, real_libvirtd: Libvirtd, tmp_path: Path) -> None:
    """The save file holds the same bytes: either daemon restores the
    other's."""
    images = []
    for daemon in (real_libvirtd, fresh_testd):
        path = tmp_path / f"{type(daemon).__name__}.img"
        assert run(daemon, f"save test {path}")[0] == 0
        images.append(path.read_bytes())
    assert images[0] == images[1]
    assert images[0].startswith(b"TestGuestMagic\0")
    ours = tmp_path / "Testd.img"
    assert (
        run(fresh_testd, f"restore {ours}; domstate --reason test")[1].splitlines()[-2]
        == "running (restored)"
    )


NETWORK_EVENTS = EventWatch(
    ("net-event", "--event", "lifecycle", "--loop"), rp.REMOTE_PROC_CONNECT_NETWORK_EVENT_REGISTER_ANY, 1
)
POOL_EVENTS = EventWatch(
    ("pool-event", "--event", "lifecycle", "--loop"),
    rp.REMOTE_PROC_CONNECT_STORAGE_POOL_EVENT_REGISTER_ANY,
    1,
)


@pytest.mark.parametrize(
    ("watch", "events", "mutations"),
    [
        (
            NETWORK_EVENTS,
            6,
            "net-define net1.xml; net-start net1; net-destroy net1; net-undefine net1; "
            "net-create net2.xml; net-destroy iso",
        ),
        (
            POOL_EVENTS,
            6,
            "pool-define pool1.xml; pool-build p1; pool-start p1; pool-refresh p1; pool-destroy p1; "
            "pool-delete p1; pool-undefine p1",
        ),
    ],
    ids=["network", "pool"],
)
def test_object_events_match_libvirtd(
    watch: EventWatch,
    events: int,
    mutations: str,
    fresh_testd: Testd,
    real_libvirtd: Libvirtd,
    session_dir: Path,
) -> None:
    ours = virsh_event_lines(fresh_testd.socket_path, watch, events, mutations, session_dir)
    theirs = virsh_event_lines(real_libvirtd.socket_path, watch, events, mutations, session_dir)
    assert ours == theirs
    assert f"events received: {events}" in ours[0]


WIRE_SCRIPT = "; ".join(
    [
        "net-list --all", "net-dumpxml default", "net-info default", "pool-list --all --details",
        "pool-dumpxml default-pool", "vol-list default-pool", "iface-list --all", "iface-dumpxml eth1",
        "capabilities", "sysinfo", "nodecpustats", "nodecpumap", "freecell --all", "secret-list",
        "nwfilter-list", "nodedev-list", "nodedev-dumpxml computer", "dommemstat test", "memtune test",
        "blkiotune test", "numatune test", "schedinfo test", "vcpupin test", "emulatorpin test",
        "vcpucount test", "domjobinfo test", "freepages --all", "iothreadinfo test", "snapshot-list test",
        "domblkinfo test vda", "domblkerror test", "domiftune test testnet0", "blkdeviotune test vda",
        "perf test", "domstats", "cpu-stats test", "domifaddr test", "domfsinfo test", "domtime test",
        "domcontrol test", "cpu-models x86_64", "domcapabilities", "net-dhcp-leases default",
    ]
)  # fmt: skip


def test_wire_replies_match_libvirtd(testd: Testd, real_libvirtd: Libvirtd) -> None:
    """Under one virsh session of those commands, every frame our daemon
    sends is libvirtd's: the replies, and the errors to their last field."""
    conversations = []
    for daemon in (testd, real_libvirtd):
        with WireTap(daemon.socket_path) as tap:
            virsh_in(tap.uri, WIRE_SCRIPT)
            tap.wait_for(lambda records: any(r.message.proc == 2 and r.direction == "<" for r in records))
            conversations.append(
                [
                    (r.direction, r.message.proc, r.message.type, r.message.serial, r.message.status,
                     bytes(r.message.payload))
                    for r in tap.records
                ]  # fmt: skip
            )
    ours, theirs = conversations
    assert len(ours) == len(theirs) > 80
    for mine, reference in zip(ours, theirs):
        assert mine == reference
    errors = [m for m in ours if m[0] == "<" and m[2] == MessageType.REPLY and m[4] != 0]
    assert len(errors) >= 8  # NO_SUPPORT answers, flag checks, ...
