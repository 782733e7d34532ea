"""The public libvirt API behind each remote procedure, and the answer
libvirtd gives when the test driver lacks it.

libvirtd dispatches every procedure of its protocol to a public API
function (``REMOTE_PROC_DOMAIN_GET_XML_DESC`` to ``virDomainGetXMLDesc``);
when the connection's driver has no implementation, that function reports
``VIR_ERR_NO_SUPPORT`` "this function is not supported by the connection
driver: virDomainGetXMLDesc" from its own source file's error domain.  The
daemon answers so for every procedure no mixin implements, which is what
virsh prints against libvirtd (``secret-list``, ``domjobinfo``, ...).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

from ..errors import ErrorDomain, ErrorNumber
from ..server import rpc_error

if TYPE_CHECKING:
    from ..errors import LibvirtError
    from ..server import Call

# Words of a procedure name that libvirt's API names spell otherwise.
_WORDS = {
    "xml": "XML", "uuid": "UUID", "id": "ID", "os": "OS", "uri": "URI", "cpu": "CPU",
    "mac": "MAC", "nwfilter": "NWFilter", "nwfilters": "NWFilters", "nmi": "NMI",
    "pm": "PM", "fstrim": "FSTrim", "fsfreeze": "FSFreeze", "fsthaw": "FSThaw",
    "fsinfo": "FSInfo", "scsi": "SCSI", "wwn": "WWN", "dhcp": "DHCP",
    "iothread": "IOThread", "sev": "SEV", "fd": "FD", "ssh": "SSH",
}  # fmt: skip

# Procedures whose dispatcher calls an API of another name.
_RENAMED = {
    "connect_domain_event_callback_register_any": "virConnectDomainEventRegisterAny",
    "connect_domain_event_callback_deregister_any": "virConnectDomainEventDeregisterAny",
}

# The error domain of each public API source file, by a word of the API
# name (first match); libvirt-domain.c and libvirt-host.c report
# VIR_FROM_DOMAIN.
_DOMAINS = (
    ("Snapshot", ErrorDomain.VIR_FROM_DOMAIN_SNAPSHOT),
    ("Checkpoint", ErrorDomain.VIR_FROM_DOMAIN_CHECKPOINT),
    ("virDomain", ErrorDomain.VIR_FROM_DOMAIN),
    ("NWFilter", ErrorDomain.VIR_FROM_NWFILTER),
    ("Secret", ErrorDomain.VIR_FROM_SECRET),
    ("Storage", ErrorDomain.VIR_FROM_STORAGE),
    ("NodeDevice", ErrorDomain.VIR_FROM_NODEDEV),
    ("NodeNumOfDevices", ErrorDomain.VIR_FROM_NODEDEV),
    ("NodeListDevices", ErrorDomain.VIR_FROM_NODEDEV),
    ("Network", ErrorDomain.VIR_FROM_NETWORK),
    ("Interface", ErrorDomain.VIR_FROM_INTERFACE),
    ("Stream", ErrorDomain.VIR_FROM_STREAMS),
)


def api_name(method: str) -> str:
    """The public API a procedure's handler method stands for:
    ``domain_get_xml_desc`` -> ``virDomainGetXMLDesc``."""
    if method in _RENAMED:
        return _RENAMED[method]
    return "vir" + "".join(_WORDS.get(word, word.capitalize()) for word in method.split("_"))


def api_error_domain(api: str) -> int:
    """The error domain of the source file that defines ``api``."""
    return next((domain for word, domain in _DOMAINS if word in api), ErrorDomain.VIR_FROM_DOMAIN)


def not_supported(method: str) -> LibvirtError:
    """libvirtd's answer for an API the connection's driver lacks."""
    api = api_name(method)
    return rpc_error(ErrorNumber.VIR_ERR_NO_SUPPORT, api, domain=api_error_domain(api))


def answers_not_supported(method: str) -> Callable[..., Coroutine[Any, Any, None]]:
    """A handler method that answers :func:`not_supported` for ``method``."""

    async def handler(self: object, call: Call, *args: object) -> None:
        raise not_supported(method)

    handler.__name__ = method
    handler.__doc__ = f"Not in the test driver: {api_name(method)} is not supported."
    return handler
