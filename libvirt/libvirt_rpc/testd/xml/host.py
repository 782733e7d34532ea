"""The host's XML documents: capabilities (as virCapabilitiesFormatXML
writes the test driver's) and sysinfo."""

from __future__ import annotations

from . import Writer

#: The test driver's NUMA cells: memory (KiB) and the CPUs of each.
CELLS = ((2097152, range(0, 8)), (4194304, range(8, 16)))
PAGE_SIZES = (4, 8, 2048, 1048576)  # KiB
GUEST_OS_TYPES = ("hvm", "xen")


def capabilities_xml() -> str:
    w = Writer()
    w.open("capabilities")
    w.raw("\n")
    w.open("host")
    w.open("cpu")
    w.leaf("arch", "i686")
    w.open("features")
    w.empty("pae")
    w.empty("nonpae")
    w.close("features")
    for size in PAGE_SIZES:
        w.empty("pages", [("unit", "KiB"), ("size", size)])
    w.close("cpu")
    w.empty("power_management")
    w.empty("iommu", [("support", "no")])
    w.open("topology")
    w.open("cells", [("num", len(CELLS))])
    for cell, (memory, cpus) in enumerate(CELLS):
        w.open("cell", [("id", cell)])
        w.leaf("memory", memory, [("unit", "KiB")])
        # the first page size is the cell's own (4 KiB, then 8 KiB), all
        # of its memory; no huge pages
        own = PAGE_SIZES[cell]
        w.leaf("pages", memory // own, [("unit", "KiB"), ("size", own)])
        for size in PAGE_SIZES[2:]:
            w.leaf("pages", 0, [("unit", "KiB"), ("size", size)])
        w.open("cpus", [("num", len(cpus))])
        for cpu in cpus:
            attrs = [("id", cpu), ("socket_id", cell), ("die_id", 0), ("core_id", cpu % 8), ("siblings", cpu)]
            w.empty("cpu", attrs)
        w.close("cpus")
        w.close("cell")
    w.close("cells")
    w.close("topology")
    w.open("secmodel")
    w.leaf("model", "testSecurity")
    w.leaf("doi", "")
    w.close("secmodel")
    w.close("host")
    w.raw("\n")
    for os_type in GUEST_OS_TYPES:
        w.open("guest")
        w.leaf("os_type", os_type)
        w.open("arch", [("name", "i686")])
        w.leaf("wordsize", 32)
        w.leaf("emulator", "/usr/bin/test-hv")
        w.empty("domain", [("type", "test")])
        w.close("arch")
        w.open("features")
        w.empty("pae")
        w.empty("nonpae")
        w.close("features")
        w.close("guest")
        w.raw("\n")
    w.close("capabilities")
    return w.text()


def sysinfo_xml() -> str:
    """testConnectGetSysinfo's fixed answer."""
    w = Writer()
    w.open("sysinfo", [("type", "smbios")])
    w.open("bios")
    for name, value in (
        ("vendor", "LENOVO"),
        ("version", "G4ETA1WW (2.61 )"),
        ("date", "05/07/2014"),
        ("release", "2.61"),
    ):
        w.leaf("entry", value, [("name", name)])
    w.close("bios")
    w.close("sysinfo")
    return w.text()
