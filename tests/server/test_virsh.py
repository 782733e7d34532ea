"""The real virsh against our test daemon, next to the same commands against
a real libvirtd's test:///default driver: the outputs must be the same.

Each comparison runs its commands in one virsh session (``virsh -c URI "a;
b; c"``): libvirtd's test driver keeps its state only while a connection is
open, while ours keeps it as long as the daemon runs, so tests that change
domains get a daemon of their own.  Only the CPU time is normalised: the
test driver reports the time of day there.
"""

from __future__ import annotations

from pathlib import Path

from libvirt_rpc import remote_protocol as rp
from testd_support import DOMAIN_EVENTS, Libvirtd, Testd, WireTap, normalise, virsh_event_lines, virsh_in
from xdrgen.runtime.virnet.framing import MessageType

TEST_UUID = "6695eb01-f6a4-8304-79aa-97f2502e193f"

READ_ONLY = "; ".join(
    [
        "list --all",
        "list",
        "list --inactive",
        "dominfo test",
        "dominfo 1",
        f"dominfo {TEST_UUID}",
        "domstate test",
        "domstate --reason test",
        "dumpxml test",
        "dumpxml --inactive test",
        "domuuid test",
        "domid test",
        f"domid {TEST_UUID}",
        "domname 1",
        "hostname",
        "version",
        "nodeinfo",
        "dominfo nosuch",
        "domstate nosuch",
        "domid 42",
        f"domuuid {TEST_UUID[:-1]}0",
        "start test",
        "resume test",
    ]
)

LIFECYCLE = "; ".join(
    [
        "destroy test",
        "domstate --reason test",
        "dumpxml test",
        "dominfo test",
        "start test",
        "domid test",
        "domstate --reason test",
        "suspend test",
        "domstate --reason test",
        "list --all",
        "suspend test",
        "resume test",
        "domstate --reason test",
        "destroy test",
        "destroy test",
        "suspend test",
        "resume test",
        "start test",
        "start test",
        "undefine test",
        "list --all",
        "dominfo test",
        "destroy test",
        "list --all",
        "dominfo test",
        "domid test",
    ]
)

DOMAIN_XML = """\
<domain type='test'>
  <name>{name}</name>
  <uuid>{uuid}</uuid>
  <memory unit='MiB'>1024</memory>
  <currentMemory>524288</currentMemory>
  <vcpu>3</vcpu>
  <os>
    <type arch='x86_64'>hvm</type>
  </os>
  <on_reboot>destroy</on_reboot>
  <devices>
  </devices>
</domain>
"""


def run(uri: str, script: str, cwd: Path | None = None) -> tuple[int, str, str]:
    result = virsh_in(uri, script, cwd)
    return result.returncode, normalise(result.stdout), normalise(result.stderr)


def test_read_only_commands_match_libvirtd(testd: Testd, real_libvirtd: Libvirtd) -> None:
    ours = run(testd.uri_unix, READ_ONLY)
    theirs = run(real_libvirtd.uri_unix, READ_ONLY)
    assert ours == theirs
    # The errors virsh prints for a missing domain, as the issue asks.
    assert "error: failed to get domain 'nosuch'" in ours[2]
    assert "Security label: libvirt-test (enforcing)" in ours[1]


def test_read_only_commands_over_tcp(testd: Testd) -> None:
    assert run(testd.uri_tcp, READ_ONLY) == run(testd.uri_unix, READ_ONLY)


def test_lifecycle_matches_libvirtd(fresh_testd: Testd, real_libvirtd: Libvirtd) -> None:
    ours = run(fresh_testd.uri_unix, LIFECYCLE)
    theirs = run(real_libvirtd.uri_unix, LIFECYCLE)
    assert ours == theirs
    assert "Domain 'test' suspended" in ours[1]
    assert "error: Requested operation is not valid: domain is not running" in ours[2]


def test_define_undefine_matches_libvirtd(
    fresh_testd: Testd, real_libvirtd: Libvirtd, tmp_path: Path
) -> None:
    uuid = "12345678-1234-5678-9abc-def012345678"
    (tmp_path / "new.xml").write_text(DOMAIN_XML.format(name="newdom", uuid=uuid))
    # Same name, other UUID; and other name, same UUID: both refused.
    (tmp_path / "clash-uuid.xml").write_text(
        DOMAIN_XML.format(name="newdom", uuid=uuid[:-1] + "9")
    )
    (tmp_path / "clash-name.xml").write_text(DOMAIN_XML.format(name="other", uuid=uuid))
    devices = (
        "<disk type='file' device='disk'><source file='/tmp/a.img'/>"
        "<target dev='vda' bus='virtio'/></disk>"
        "<interface type='network'><source network='default'/></interface>"
        "<interface type='network'><source network='default'/><target dev='testnet0'/></interface>"
    )
    (tmp_path / "devices.xml").write_text(
        DOMAIN_XML.format(name="devdom", uuid=uuid[:-1] + "a").replace("<devices>", "<devices>" + devices)
    )
    script = "; ".join(
        [
            "define new.xml",
            "list --all",
            "dominfo newdom",
            "dumpxml newdom",
            "domstate --reason newdom",
            "define new.xml",
            "define clash-uuid.xml",
            "define clash-name.xml",
            "start newdom",
            "list --all",
            "dumpxml newdom",
            "dumpxml --inactive newdom",
            f"domid {uuid}",
            "destroy newdom",
            "undefine newdom",
            "undefine newdom",
            "list --all",
            "define missing.xml",
            "define devices.xml",
            "dumpxml devdom",
        ]
    )
    ours = run(fresh_testd.uri_unix, script, cwd=tmp_path)
    theirs = run(real_libvirtd.uri_unix, script, cwd=tmp_path)
    assert ours == theirs
    assert "Domain 'newdom' defined from new.xml" in ours[1]


def test_screenshot_stream_matches_libvirtd(
    testd: Testd, real_libvirtd: Libvirtd, tmp_path: Path
) -> None:
    """A ``@readstream`` procedure: the PNG comes as STREAM packets after the
    reply, then the end-of-stream handshake."""
    for name, uri in (("ours", testd.uri_unix), ("theirs", real_libvirtd.uri_unix)):
        (tmp_path / name).mkdir()
        code, out, err = run(uri, "screenshot test shot.png", cwd=tmp_path / name)
        assert (code, err) == (0, ""), err
        assert out == "Screenshot saved to shot.png, with type of image/png\n"
    ours = (tmp_path / "ours" / "shot.png").read_bytes()
    assert ours == (tmp_path / "theirs" / "shot.png").read_bytes()
    assert ours.startswith(b"\x89PNG")


def _conversation(tap: WireTap) -> list[tuple[object, ...]]:
    """Every frame of the tap's first connection: header fields and payload,
    with the one volatile value (the CPU time in GET_INFO replies) blanked."""
    out = []
    for record in tap.records:
        m = record.message
        payload = bytes(m.payload)
        if m.proc == rp.REMOTE_PROC_DOMAIN_GET_INFO and m.type == MessageType.REPLY:
            payload = payload[:-8]
        out.append((record.connection, record.direction, m.proc, m.type, m.serial, m.status, payload))
    return out


def test_wire_conversation_matches_libvirtd(testd: Testd, real_libvirtd: Libvirtd) -> None:
    """Under the same virsh session, our daemon sends libvirtd's bytes."""
    script = "list --all; dominfo test; dumpxml test; domid 1; dominfo nosuch; nodeinfo"
    conversations = []
    outputs = []
    for target in (testd.socket_path, real_libvirtd.socket_path):
        with WireTap(target) as tap:
            outputs.append(run(tap.uri, script))
            tap.wait_for(lambda records: any(r.message.proc == 2 and r.direction == "<" for r in records))
            conversations.append(_conversation(tap))
    assert outputs[0] == outputs[1]
    ours, theirs = conversations
    assert len(ours) == len(theirs)
    for mine, reference in zip(ours, theirs):
        assert mine == reference


def test_lifecycle_events_match_libvirtd(
    fresh_testd: Testd, real_libvirtd: Libvirtd, tmp_path: Path
) -> None:
    xml = tmp_path / "ev.xml"
    xml.write_text(DOMAIN_XML.format(name="evdom", uuid="12345678-1234-5678-9abc-def0123456ab"))
    mutations = (
        f"destroy test; start test; suspend test; resume test; define {xml}; "
        "start evdom; destroy evdom; undefine evdom"
    )
    ours = virsh_event_lines(fresh_testd.socket_path, DOMAIN_EVENTS, 8, mutations)
    theirs = virsh_event_lines(real_libvirtd.socket_path, DOMAIN_EVENTS, 8, mutations)
    assert ours == theirs
    assert ours[0].splitlines() == [
        "event 'lifecycle' for domain 'test': Stopped Destroyed",
        "event 'lifecycle' for domain 'test': Started Booted",
        "event 'lifecycle' for domain 'test': Suspended Paused",
        "event 'lifecycle' for domain 'test': Resumed Unpaused",
        "event 'lifecycle' for domain 'evdom': Defined Added",
        "event 'lifecycle' for domain 'evdom': Started Booted",
        "event 'lifecycle' for domain 'evdom': Stopped Destroyed",
        "event 'lifecycle' for domain 'evdom': Undefined Removed",
        "event loop interrupted",
        "events received: 8",
        "",
    ]
