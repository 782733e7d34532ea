"""libvirt-python (the system's, under /usr/bin/python3) against our test
daemon and against libvirtd's test driver: the same answers, and the same
errors, API by API."""

from __future__ import annotations

import json
import subprocess

import pytest

from testd_support import Libvirtd, Testd, virsh_env

PYTHON = "/usr/bin/python3"

# Each line an expression on ``c`` (the connection) and ``d`` (domain
# "test"); the probe prints its value, or the error's code, domain and text.
PROBES = """\
sorted(n.name() for n in c.listAllNetworks())
c.networkLookupByName("default").XMLDesc()
c.networkLookupByName("default").bridgeName()
sorted(p.name() for p in c.listAllStoragePools())
c.storagePoolLookupByName("default-pool").info()
sorted(i.name() for i in c.listAllInterfaces())
c.interfaceLookupByMACString("aa:bb:cc:dd:ee:ff").name()
sorted(x.name() for x in c.listAllDevices())
c.nodeDeviceLookupByName("scsi_host1").listCaps()
c.getCapabilities()
c.getSysinfo()
c.getInfo()
c.getCellsFreeMemory(0, 2)
c.getFreeMemory()
c.getCPUStats(-1)
c.getCPUMap()
c.getCPUModelNames("x86_64")[:5]
c.getMaxVcpus(None)
d.vcpus()[1]
d.vcpuPinInfo(0)
d.emulatorPinInfo()
d.memoryStats()
d.memoryParameters()
d.blkioParameters()
d.numaParameters()
d.schedulerType()
d.schedulerParameters()
d.blockInfo("vda")
d.interfaceAddresses(0)
d.getCPUStats(True)
d.getCPUStats(False)
d.fsInfo()
d.hostname()
d.getTime()
d.controlInfo()
d.diskErrors()
d.perfEvents()
d.blockIoTune("vda")
d.interfaceParameters("testnet0")
d.ioThreadInfo()
d.state()
d.maxVcpus()
d.vcpusFlags(0)
d.hasManagedSaveImage()
d.securityLabel()
[(r[0].name(), r[1]) for r in c.getAllDomainStats()]
[s.getName() for s in d.listAllSnapshots()]
[x.getName() for x in d.listAllCheckpoints()]
c.listAllSecrets()
c.listAllNWFilters()
d.jobInfo()
c.getMemoryStats(-1)
c.getDomainCapabilities()
"""

SCRIPT = """\
import json, sys, libvirt
libvirt.registerErrorHandler(lambda ctx, err: None, None)
c = libvirt.open(sys.argv[1])
d = c.lookupByName("test")
out = []
for line in sys.stdin.read().splitlines():
    try:
        out.append(repr(eval(line)))
    except libvirt.libvirtError as e:
        out.append(f"error {e.get_error_code()} {e.get_error_domain()}: {e}")
print(json.dumps(out))
"""


def probe(daemon: Testd | Libvirtd) -> list[str]:
    result = subprocess.run(
        [PYTHON, "-c", SCRIPT, daemon.uri_unix],
        input=PROBES,
        env=virsh_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    if "No module named 'libvirt'" in result.stderr:
        pytest.fail(f"libvirt-python is not installed for {PYTHON}: run .ci/install-system-packages.sh")
    assert result.returncode == 0, result.stderr
    answers: list[str] = json.loads(result.stdout)
    return answers


def test_libvirt_python_answers_match_libvirtd(testd: Testd, real_libvirtd: Libvirtd) -> None:
    ours, theirs = probe(testd), probe(real_libvirtd)
    probes = PROBES.splitlines()
    assert len(ours) == len(theirs) == len(probes)
    assert {p: a for p, a in zip(probes, ours) if a != theirs[probes.index(p)]} == {}
    assert ours[0] == "['default']" and "virbr0" in ours[2]
    errors = [a for a in ours if a.startswith("error 3 ")]  # VIR_ERR_NO_SUPPORT
    assert len(errors) >= 4, errors
