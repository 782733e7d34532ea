"""Shared paths and settings for the tests (imported as `support`)."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
LIBVIRT_X = SHARED / "protocols" / "libvirt-9.0.0"
RPCSVC_X = SHARED / "protocols" / "rpcsvc"
GOLDEN = ROOT / "tests" / "golden"

# Constants that libvirt's .x files take from its C headers.
LIBVIRT_DEFINES = {
    "VIR_UUID_BUFLEN": "16",
    "VIR_SECURITY_MODEL_BUFLEN": "257",
    "VIR_SECURITY_LABEL_BUFLEN": "4097",
    "VIR_SECURITY_DOI_BUFLEN": "257",
    "VIR_TYPED_PARAM_INT": "1",
    "VIR_TYPED_PARAM_UINT": "2",
    "VIR_TYPED_PARAM_LLONG": "3",
    "VIR_TYPED_PARAM_ULLONG": "4",
    "VIR_TYPED_PARAM_DOUBLE": "5",
    "VIR_TYPED_PARAM_BOOLEAN": "6",
    "VIR_TYPED_PARAM_STRING": "7",
}


def define_args(defines: dict[str, str]) -> list[str]:
    args = []
    for name, value in defines.items():
        args += ["-D", f"{name}={value}"]
    return args
