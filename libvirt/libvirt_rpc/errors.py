"""libvirt's error numbers, domains and messages, and the exceptions built on them.

The numbers are libvirt's public ABI (``include/libvirt/virterror.h`` as of
libvirt 9.x); they travel on the wire in the ``remote_error`` struct, so they
must match exactly.  The readable texts are the ones ``virErrorMsg`` in
``src/util/virerror.c`` returns, so that messages built here read exactly like
the ones libvirt itself prints, e.g. ``Domain not found: no domain with matching
name 'x'``.

Only the standard library is used here: generated code imports this module.
"""

from __future__ import annotations

import enum
from typing import Any, TypeVar

__all__ = [
    "ErrorNumber",
    "ErrorDomain",
    "ErrorLevel",
    "error_message",
    "error_format",
    "LibvirtError",
    "ConnectionClosedError",
    "CallTimeoutError",
]


class ErrorLevel(enum.IntEnum):
    """``virErrorLevel``: how serious an error is."""

    VIR_ERR_NONE = 0
    VIR_ERR_WARNING = 1
    VIR_ERR_ERROR = 2


class ErrorDomain(enum.IntEnum):
    """``virErrorDomain``: which part of libvirt raised an error."""

    VIR_FROM_NONE = 0
    VIR_FROM_XEN = 1
    VIR_FROM_XEND = 2
    VIR_FROM_XENSTORE = 3
    VIR_FROM_SEXPR = 4
    VIR_FROM_XML = 5
    VIR_FROM_DOM = 6
    VIR_FROM_RPC = 7
    VIR_FROM_PROXY = 8
    VIR_FROM_CONF = 9
    VIR_FROM_QEMU = 10
    VIR_FROM_NET = 11
    VIR_FROM_TEST = 12
    VIR_FROM_REMOTE = 13
    VIR_FROM_OPENVZ = 14
    VIR_FROM_XENXM = 15
    VIR_FROM_STATS_LINUX = 16
    VIR_FROM_LXC = 17
    VIR_FROM_STORAGE = 18
    VIR_FROM_NETWORK = 19
    VIR_FROM_DOMAIN = 20
    VIR_FROM_UML = 21
    VIR_FROM_NODEDEV = 22
    VIR_FROM_XEN_INOTIFY = 23
    VIR_FROM_SECURITY = 24
    VIR_FROM_VBOX = 25
    VIR_FROM_INTERFACE = 26
    VIR_FROM_ONE = 27
    VIR_FROM_ESX = 28
    VIR_FROM_PHYP = 29
    VIR_FROM_SECRET = 30
    VIR_FROM_CPU = 31
    VIR_FROM_XENAPI = 32
    VIR_FROM_NWFILTER = 33
    VIR_FROM_HOOK = 34
    VIR_FROM_DOMAIN_SNAPSHOT = 35
    VIR_FROM_AUDIT = 36
    VIR_FROM_SYSINFO = 37
    VIR_FROM_STREAMS = 38
    VIR_FROM_VMWARE = 39
    VIR_FROM_EVENT = 40
    VIR_FROM_LIBXL = 41
    VIR_FROM_LOCKING = 42
    VIR_FROM_HYPERV = 43
    VIR_FROM_CAPABILITIES = 44
    VIR_FROM_URI = 45
    VIR_FROM_AUTH = 46
    VIR_FROM_DBUS = 47
    VIR_FROM_PARALLELS = 48
    VIR_FROM_DEVICE = 49
    VIR_FROM_SSH = 50
    VIR_FROM_LOCKSPACE = 51
    VIR_FROM_INITCTL = 52
    VIR_FROM_IDENTITY = 53
    VIR_FROM_CGROUP = 54
    VIR_FROM_ACCESS = 55
    VIR_FROM_SYSTEMD = 56
    VIR_FROM_BHYVE = 57
    VIR_FROM_CRYPTO = 58
    VIR_FROM_FIREWALL = 59
    VIR_FROM_POLKIT = 60
    VIR_FROM_THREAD = 61
    VIR_FROM_ADMIN = 62
    VIR_FROM_LOGGING = 63
    VIR_FROM_XENXL = 64
    VIR_FROM_PERF = 65
    VIR_FROM_LIBSSH = 66
    VIR_FROM_RESCTRL = 67
    VIR_FROM_FIREWALLD = 68
    VIR_FROM_DOMAIN_CHECKPOINT = 69
    VIR_FROM_TPM = 70
    VIR_FROM_BPF = 71
    VIR_FROM_CH = 72


class ErrorNumber(enum.IntEnum):
    """``virErrorNumber``: what went wrong.

    Values 60..69 were shifted by four in libvirt 0.8.0; see
    :meth:`LibvirtError.from_remote_error` for how replies from such old
    servers are mapped back, as libvirt's client does.
    """

    VIR_ERR_OK = 0
    VIR_ERR_INTERNAL_ERROR = 1
    VIR_ERR_NO_MEMORY = 2
    VIR_ERR_NO_SUPPORT = 3
    VIR_ERR_UNKNOWN_HOST = 4
    VIR_ERR_NO_CONNECT = 5
    VIR_ERR_INVALID_CONN = 6
    VIR_ERR_INVALID_DOMAIN = 7
    VIR_ERR_INVALID_ARG = 8
    VIR_ERR_OPERATION_FAILED = 9
    VIR_ERR_GET_FAILED = 10
    VIR_ERR_POST_FAILED = 11
    VIR_ERR_HTTP_ERROR = 12
    VIR_ERR_SEXPR_SERIAL = 13
    VIR_ERR_NO_XEN = 14
    VIR_ERR_XEN_CALL = 15
    VIR_ERR_OS_TYPE = 16
    VIR_ERR_NO_KERNEL = 17
    VIR_ERR_NO_ROOT = 18
    VIR_ERR_NO_SOURCE = 19
    VIR_ERR_NO_TARGET = 20
    VIR_ERR_NO_NAME = 21
    VIR_ERR_NO_OS = 22
    VIR_ERR_NO_DEVICE = 23
    VIR_ERR_NO_XENSTORE = 24
    VIR_ERR_DRIVER_FULL = 25
    VIR_ERR_CALL_FAILED = 26
    VIR_ERR_XML_ERROR = 27
    VIR_ERR_DOM_EXIST = 28
    VIR_ERR_OPERATION_DENIED = 29
    VIR_ERR_OPEN_FAILED = 30
    VIR_ERR_READ_FAILED = 31
    VIR_ERR_PARSE_FAILED = 32
    VIR_ERR_CONF_SYNTAX = 33
    VIR_ERR_WRITE_FAILED = 34
    VIR_ERR_XML_DETAIL = 35
    VIR_ERR_INVALID_NETWORK = 36
    VIR_ERR_NETWORK_EXIST = 37
    VIR_ERR_SYSTEM_ERROR = 38
    VIR_ERR_RPC = 39
    VIR_ERR_GNUTLS_ERROR = 40
    VIR_WAR_NO_NETWORK = 41
    VIR_ERR_NO_DOMAIN = 42
    VIR_ERR_NO_NETWORK = 43
    VIR_ERR_INVALID_MAC = 44
    VIR_ERR_AUTH_FAILED = 45
    VIR_ERR_INVALID_STORAGE_POOL = 46
    VIR_ERR_INVALID_STORAGE_VOL = 47
    VIR_WAR_NO_STORAGE = 48
    VIR_ERR_NO_STORAGE_POOL = 49
    VIR_ERR_NO_STORAGE_VOL = 50
    VIR_WAR_NO_NODE = 51
    VIR_ERR_INVALID_NODE_DEVICE = 52
    VIR_ERR_NO_NODE_DEVICE = 53
    VIR_ERR_NO_SECURITY_MODEL = 54
    VIR_ERR_OPERATION_INVALID = 55
    VIR_WAR_NO_INTERFACE = 56
    VIR_ERR_NO_INTERFACE = 57
    VIR_ERR_INVALID_INTERFACE = 58
    VIR_ERR_MULTIPLE_INTERFACES = 59
    VIR_WAR_NO_NWFILTER = 60
    VIR_ERR_INVALID_NWFILTER = 61
    VIR_ERR_NO_NWFILTER = 62
    VIR_ERR_BUILD_FIREWALL = 63
    VIR_WAR_NO_SECRET = 64
    VIR_ERR_INVALID_SECRET = 65
    VIR_ERR_NO_SECRET = 66
    VIR_ERR_CONFIG_UNSUPPORTED = 67
    VIR_ERR_OPERATION_TIMEOUT = 68
    VIR_ERR_MIGRATE_PERSIST_FAILED = 69
    VIR_ERR_HOOK_SCRIPT_FAILED = 70
    VIR_ERR_INVALID_DOMAIN_SNAPSHOT = 71
    VIR_ERR_NO_DOMAIN_SNAPSHOT = 72
    VIR_ERR_INVALID_STREAM = 73
    VIR_ERR_ARGUMENT_UNSUPPORTED = 74
    VIR_ERR_STORAGE_PROBE_FAILED = 75
    VIR_ERR_STORAGE_POOL_BUILT = 76
    VIR_ERR_SNAPSHOT_REVERT_RISKY = 77
    VIR_ERR_OPERATION_ABORTED = 78
    VIR_ERR_AUTH_CANCELLED = 79
    VIR_ERR_NO_DOMAIN_METADATA = 80
    VIR_ERR_MIGRATE_UNSAFE = 81
    VIR_ERR_OVERFLOW = 82
    VIR_ERR_BLOCK_COPY_ACTIVE = 83
    VIR_ERR_OPERATION_UNSUPPORTED = 84
    VIR_ERR_SSH = 85
    VIR_ERR_AGENT_UNRESPONSIVE = 86
    VIR_ERR_RESOURCE_BUSY = 87
    VIR_ERR_ACCESS_DENIED = 88
    VIR_ERR_DBUS_SERVICE = 89
    VIR_ERR_STORAGE_VOL_EXIST = 90
    VIR_ERR_CPU_INCOMPATIBLE = 91
    VIR_ERR_XML_INVALID_SCHEMA = 92
    VIR_ERR_MIGRATE_FINISH_OK = 93
    VIR_ERR_AUTH_UNAVAILABLE = 94
    VIR_ERR_NO_SERVER = 95
    VIR_ERR_NO_CLIENT = 96
    VIR_ERR_AGENT_UNSYNCED = 97
    VIR_ERR_LIBSSH = 98
    VIR_ERR_DEVICE_MISSING = 99
    VIR_ERR_INVALID_NWFILTER_BINDING = 100
    VIR_ERR_NO_NWFILTER_BINDING = 101
    VIR_ERR_INVALID_DOMAIN_CHECKPOINT = 102
    VIR_ERR_NO_DOMAIN_CHECKPOINT = 103
    VIR_ERR_NO_DOMAIN_BACKUP = 104
    VIR_ERR_INVALID_NETWORK_PORT = 105
    VIR_ERR_NETWORK_PORT_EXIST = 106
    VIR_ERR_NO_NETWORK_PORT = 107
    VIR_ERR_NO_HOSTNAME = 108
    VIR_ERR_CHECKPOINT_INCONSISTENT = 109
    VIR_ERR_MULTIPLE_DOMAINS = 110


_E = ErrorNumber

# virErrorMsgStrings: (text without info, printf format with the info).  Most
# formats are "<text>: %s", but enough differ ("unknown host %s", "domain %s
# exists already", bare "%s") that each pair is spelled out as libvirt has it.
_MESSAGES: dict[ErrorNumber, tuple[str, str]] = {
    _E.VIR_ERR_INTERNAL_ERROR: ("internal error", "internal error: %s"),
    _E.VIR_ERR_NO_MEMORY: ("out of memory", "out of memory: %s"),
    _E.VIR_ERR_NO_SUPPORT: (
        "this function is not supported by the connection driver",
        "this function is not supported by the connection driver: %s",
    ),
    _E.VIR_ERR_UNKNOWN_HOST: ("unknown host", "unknown host %s"),
    _E.VIR_ERR_NO_CONNECT: (
        "no connection driver available",
        "no connection driver available for %s",
    ),
    _E.VIR_ERR_INVALID_CONN: (
        "invalid connection pointer in",
        "invalid connection pointer in %s",
    ),
    _E.VIR_ERR_INVALID_DOMAIN: ("invalid domain pointer in", "invalid domain pointer in %s"),
    _E.VIR_ERR_INVALID_ARG: ("invalid argument", "invalid argument: %s"),
    _E.VIR_ERR_OPERATION_FAILED: ("operation failed", "operation failed: %s"),
    _E.VIR_ERR_GET_FAILED: ("GET operation failed", "GET operation failed: %s"),
    _E.VIR_ERR_POST_FAILED: ("POST operation failed", "POST operation failed: %s"),
    _E.VIR_ERR_HTTP_ERROR: ("got unknown HTTP error code", "got unknown HTTP error code %s"),
    _E.VIR_ERR_SEXPR_SERIAL: ("failed to serialize S-Expr", "failed to serialize S-Expr: %s"),
    _E.VIR_ERR_NO_XEN: (
        "could not use Xen hypervisor entry",
        "could not use Xen hypervisor entry %s",
    ),
    _E.VIR_ERR_XEN_CALL: ("failed Xen syscall", "failed Xen syscall %s"),
    _E.VIR_ERR_OS_TYPE: ("unknown OS type", "unknown OS type %s"),
    _E.VIR_ERR_NO_KERNEL: ("missing kernel information", "missing kernel information: %s"),
    _E.VIR_ERR_NO_ROOT: (
        "missing root device information",
        "missing root device information in %s",
    ),
    _E.VIR_ERR_NO_SOURCE: (
        "missing source information for device",
        "missing source information for device %s",
    ),
    _E.VIR_ERR_NO_TARGET: (
        "missing target information for device",
        "missing target information for device %s",
    ),
    _E.VIR_ERR_NO_NAME: ("missing name information", "missing name information in %s"),
    _E.VIR_ERR_NO_OS: (
        "missing operating system information",
        "missing operating system information for %s",
    ),
    _E.VIR_ERR_NO_DEVICE: ("missing devices information", "missing devices information for %s"),
    _E.VIR_ERR_NO_XENSTORE: ("could not connect to Xen Store", "could not connect to Xen Store %s"),
    _E.VIR_ERR_DRIVER_FULL: ("too many drivers registered", "too many drivers registered in %s"),
    _E.VIR_ERR_CALL_FAILED: ("library call failed", "library call failed: %s"),
    _E.VIR_ERR_XML_ERROR: ("XML description is invalid or not well formed", "XML error: %s"),
    _E.VIR_ERR_DOM_EXIST: ("this domain exists already", "domain %s exists already"),
    _E.VIR_ERR_OPERATION_DENIED: (
        "operation forbidden for read only access",
        "operation forbidden: %s",
    ),
    _E.VIR_ERR_OPEN_FAILED: (
        "failed to open configuration file",
        "failed to open configuration file %s",
    ),
    _E.VIR_ERR_READ_FAILED: (
        "failed to read configuration file",
        "failed to read configuration file %s",
    ),
    _E.VIR_ERR_PARSE_FAILED: (
        "failed to parse configuration file",
        "failed to parse configuration file %s",
    ),
    _E.VIR_ERR_CONF_SYNTAX: (
        "configuration file syntax error",
        "configuration file syntax error: %s",
    ),
    _E.VIR_ERR_WRITE_FAILED: (
        "failed to write configuration file",
        "failed to write configuration file: %s",
    ),
    _E.VIR_ERR_XML_DETAIL: ("parser error", "%s"),
    _E.VIR_ERR_INVALID_NETWORK: ("invalid network pointer in", "invalid network pointer in %s"),
    _E.VIR_ERR_NETWORK_EXIST: ("this network exists already", "network %s exists already"),
    _E.VIR_ERR_SYSTEM_ERROR: ("system call error", "%s"),
    _E.VIR_ERR_RPC: ("RPC error", "%s"),
    _E.VIR_ERR_GNUTLS_ERROR: ("GNUTLS call error", "%s"),
    _E.VIR_WAR_NO_NETWORK: ("Failed to find the network", "Failed to find the network: %s"),
    _E.VIR_ERR_NO_DOMAIN: ("Domain not found", "Domain not found: %s"),
    _E.VIR_ERR_NO_NETWORK: ("Network not found", "Network not found: %s"),
    _E.VIR_ERR_INVALID_MAC: ("invalid MAC address", "invalid MAC address: %s"),
    _E.VIR_ERR_AUTH_FAILED: ("authentication failed", "authentication failed: %s"),
    _E.VIR_ERR_INVALID_STORAGE_POOL: (
        "invalid storage pool pointer in",
        "invalid storage pool pointer in %s",
    ),
    _E.VIR_ERR_INVALID_STORAGE_VOL: (
        "invalid storage volume pointer in",
        "invalid storage volume pointer in %s",
    ),
    _E.VIR_WAR_NO_STORAGE: (
        "Failed to find a storage driver",
        "Failed to find a storage driver: %s",
    ),
    _E.VIR_ERR_NO_STORAGE_POOL: ("Storage pool not found", "Storage pool not found: %s"),
    _E.VIR_ERR_NO_STORAGE_VOL: ("Storage volume not found", "Storage volume not found: %s"),
    _E.VIR_WAR_NO_NODE: ("Failed to find a node driver", "Failed to find a node driver: %s"),
    _E.VIR_ERR_INVALID_NODE_DEVICE: (
        "invalid node device pointer",
        "invalid node device pointer in %s",
    ),
    _E.VIR_ERR_NO_NODE_DEVICE: ("Node device not found", "Node device not found: %s"),
    _E.VIR_ERR_NO_SECURITY_MODEL: ("Security model not found", "Security model not found: %s"),
    _E.VIR_ERR_OPERATION_INVALID: (
        "Requested operation is not valid",
        "Requested operation is not valid: %s",
    ),
    _E.VIR_WAR_NO_INTERFACE: ("Failed to find the interface", "Failed to find the interface: %s"),
    _E.VIR_ERR_NO_INTERFACE: ("Interface not found", "Interface not found: %s"),
    _E.VIR_ERR_INVALID_INTERFACE: (
        "invalid interface pointer in",
        "invalid interface pointer in %s",
    ),
    _E.VIR_ERR_MULTIPLE_INTERFACES: (
        "multiple matching interfaces found",
        "multiple matching interfaces found: %s",
    ),
    _E.VIR_WAR_NO_NWFILTER: (
        "Failed to start the nwfilter driver",
        "Failed to start the nwfilter driver: %s",
    ),
    _E.VIR_ERR_INVALID_NWFILTER: ("Invalid network filter", "Invalid network filter: %s"),
    _E.VIR_ERR_NO_NWFILTER: ("Network filter not found", "Network filter not found: %s"),
    _E.VIR_ERR_BUILD_FIREWALL: (
        "Error while building firewall",
        "Error while building firewall: %s",
    ),
    _E.VIR_WAR_NO_SECRET: (
        "Failed to find a secret storage driver",
        "Failed to find a secret storage driver: %s",
    ),
    _E.VIR_ERR_INVALID_SECRET: ("Invalid secret", "Invalid secret: %s"),
    _E.VIR_ERR_NO_SECRET: ("Secret not found", "Secret not found: %s"),
    _E.VIR_ERR_CONFIG_UNSUPPORTED: (
        "unsupported configuration",
        "unsupported configuration: %s",
    ),
    _E.VIR_ERR_OPERATION_TIMEOUT: (
        "Timed out during operation",
        "Timed out during operation: %s",
    ),
    _E.VIR_ERR_MIGRATE_PERSIST_FAILED: (
        "Failed to make domain persistent after migration",
        "Failed to make domain persistent after migration: %s",
    ),
    _E.VIR_ERR_HOOK_SCRIPT_FAILED: (
        "Hook script execution failed",
        "Hook script execution failed: %s",
    ),
    _E.VIR_ERR_INVALID_DOMAIN_SNAPSHOT: (
        "Invalid domain snapshot",
        "Invalid domain snapshot: %s",
    ),
    _E.VIR_ERR_NO_DOMAIN_SNAPSHOT: (
        "Domain snapshot not found",
        "Domain snapshot not found: %s",
    ),
    _E.VIR_ERR_INVALID_STREAM: ("invalid stream pointer", "invalid stream pointer in %s"),
    _E.VIR_ERR_ARGUMENT_UNSUPPORTED: ("argument unsupported", "argument unsupported: %s"),
    _E.VIR_ERR_STORAGE_PROBE_FAILED: (
        "Storage pool probe failed",
        "Storage pool probe failed: %s",
    ),
    _E.VIR_ERR_STORAGE_POOL_BUILT: (
        "Storage pool already built",
        "Storage pool already built: %s",
    ),
    _E.VIR_ERR_SNAPSHOT_REVERT_RISKY: ("revert requires force", "revert requires force: %s"),
    _E.VIR_ERR_OPERATION_ABORTED: ("operation aborted", "operation aborted: %s"),
    _E.VIR_ERR_AUTH_CANCELLED: ("authentication cancelled", "authentication cancelled: %s"),
    _E.VIR_ERR_NO_DOMAIN_METADATA: ("metadata not found", "metadata not found: %s"),
    _E.VIR_ERR_MIGRATE_UNSAFE: ("Unsafe migration", "Unsafe migration: %s"),
    _E.VIR_ERR_OVERFLOW: ("numerical overflow", "numerical overflow: %s"),
    _E.VIR_ERR_BLOCK_COPY_ACTIVE: ("block copy still active", "block copy still active: %s"),
    _E.VIR_ERR_OPERATION_UNSUPPORTED: ("Operation not supported", "Operation not supported: %s"),
    _E.VIR_ERR_SSH: ("SSH transport error", "SSH transport error: %s"),
    _E.VIR_ERR_AGENT_UNRESPONSIVE: (
        "Guest agent is not responding",
        "Guest agent is not responding: %s",
    ),
    _E.VIR_ERR_RESOURCE_BUSY: ("resource busy", "resource busy: %s"),
    _E.VIR_ERR_ACCESS_DENIED: ("access denied", "access denied: %s"),
    _E.VIR_ERR_DBUS_SERVICE: ("error from service", "error from service: %s"),
    _E.VIR_ERR_STORAGE_VOL_EXIST: (
        "this storage volume exists already",
        "storage volume %s exists already",
    ),
    _E.VIR_ERR_CPU_INCOMPATIBLE: (
        "the CPU is incompatible with host CPU",
        "the CPU is incompatible with host CPU: %s",
    ),
    _E.VIR_ERR_XML_INVALID_SCHEMA: (
        "XML document failed to validate against schema",
        "XML document failed to validate against schema: %s",
    ),
    _E.VIR_ERR_MIGRATE_FINISH_OK: (
        "migration successfully aborted",
        "migration successfully aborted: %s",
    ),
    _E.VIR_ERR_AUTH_UNAVAILABLE: ("authentication unavailable", "authentication unavailable: %s"),
    _E.VIR_ERR_NO_SERVER: ("Server not found", "Server not found: %s"),
    _E.VIR_ERR_NO_CLIENT: ("Client not found", "Client not found: %s"),
    _E.VIR_ERR_AGENT_UNSYNCED: (
        "guest agent replied with wrong id to guest-sync command",
        "guest agent replied with wrong id to guest-sync command: %s",
    ),
    _E.VIR_ERR_LIBSSH: ("libssh transport error", "libssh transport error: %s"),
    _E.VIR_ERR_DEVICE_MISSING: ("device not found", "device not found: %s"),
    _E.VIR_ERR_INVALID_NWFILTER_BINDING: (
        "Invalid network filter binding",
        "Invalid network filter binding: %s",
    ),
    _E.VIR_ERR_NO_NWFILTER_BINDING: (
        "Network filter binding not found",
        "Network filter binding not found: %s",
    ),
    _E.VIR_ERR_INVALID_DOMAIN_CHECKPOINT: (
        "Invalid domain checkpoint",
        "Invalid domain checkpoint: %s",
    ),
    _E.VIR_ERR_NO_DOMAIN_CHECKPOINT: (
        "Domain checkpoint not found",
        "Domain checkpoint not found: %s",
    ),
    _E.VIR_ERR_NO_DOMAIN_BACKUP: (
        "Domain backup job id not found",
        "Domain backup job id not found: %s",
    ),
    _E.VIR_ERR_INVALID_NETWORK_PORT: (
        "Invalid network port pointer",
        "Invalid network port pointer: %s",
    ),
    _E.VIR_ERR_NETWORK_PORT_EXIST: (
        "this network port exists already",
        "network port %s exists already",
    ),
    _E.VIR_ERR_NO_NETWORK_PORT: ("network port not found", "network port not found: %s"),
    _E.VIR_ERR_NO_HOSTNAME: ("no hostname found", "no hostname found: %s"),
    _E.VIR_ERR_CHECKPOINT_INCONSISTENT: (
        "checkpoint inconsistent",
        "checkpoint inconsistent: %s",
    ),
    _E.VIR_ERR_MULTIPLE_DOMAINS: (
        "multiple matching domains found",
        "multiple matching domains found: %s",
    ),
}

# What libvirt reports when it has no text of its own (virGetLastErrorMessage
# and virNetClientProgramDispatchError).
_NO_ERROR_TEXT = "no error"
_UNKNOWN_ERROR_TEXT = "unknown error"
_REMOTE_UNKNOWN_ERROR_TEXT = "Unknown error"

_T = TypeVar("_T", bound=enum.IntEnum)


def _coerce(enum_type: type[_T], value: int) -> _T | int:
    """Return the enum member for ``value``, or ``value`` itself when unknown.

    A newer server may send numbers this table does not know; they must not be
    lost or turned into errors of their own.
    """
    try:
        return enum_type(value)
    except ValueError:
        return int(value)


def error_format(code: int, with_info: bool) -> str | None:
    """The raw ``virErrorMsg`` string: a ``%s`` format when ``with_info``.

    Returns ``None`` where libvirt's table has no entry (``VIR_ERR_OK`` and
    numbers newer than this table).  libvirt stores this string in ``str1`` of
    errors it raises through ``virReportError``.
    """
    try:
        pair = _MESSAGES[ErrorNumber(code)]
    except (ValueError, KeyError):
        return None
    return pair[1] if with_info else pair[0]


def error_message(code: int, str1: str | None = None) -> str:
    """The readable message libvirt builds for ``code`` and the info ``str1``.

    Mirrors ``virErrorMsg`` + ``virReportErrorHelper``: without info the bare
    text ("Domain not found"), with info the format filled in ("Domain not
    found: no domain with matching name 'x'").  An empty info string counts as
    no info, as in libvirt.

    For codes libvirt has no text for, ``VIR_ERR_OK`` gives "no error" and
    unknown numbers give the info itself or "unknown error".
    """
    info = str1 if str1 else None
    fmt = error_format(code, info is not None)
    if fmt is None:
        if code == ErrorNumber.VIR_ERR_OK:
            return _NO_ERROR_TEXT
        return info if info is not None else _UNKNOWN_ERROR_TEXT
    # Substitute by hand: the info may itself contain '%'.
    return fmt.replace("%s", info, 1) if info is not None else fmt


class LibvirtError(Exception):
    """An error as libvirt reports it: the fields of ``virError``.

    ``str(e)`` is the full message.  ``code``, ``domain`` and ``level`` are enum
    members when known and plain ints otherwise.  The ``get_*`` methods mirror
    libvirt-python's ``libvirtError`` so code written for it keeps working.
    """

    code: ErrorNumber | int
    domain: ErrorDomain | int
    level: ErrorLevel | int
    message: str
    str1: str | None
    str2: str | None
    str3: str | None
    int1: int
    int2: int

    # Defaults a subclass may change (ConnectionClosedError etc.).
    default_code: int = ErrorNumber.VIR_ERR_INTERNAL_ERROR
    default_domain: int = ErrorDomain.VIR_FROM_NONE

    def __init__(
        self,
        message: str | None = None,
        code: int | None = None,
        domain: int | None = None,
        level: int = ErrorLevel.VIR_ERR_ERROR,
        str1: str | None = None,
        str2: str | None = None,
        str3: str | None = None,
        int1: int = 0,
        int2: int = 0,
    ) -> None:
        self.code = _coerce(ErrorNumber, self.default_code if code is None else code)
        self.domain = _coerce(ErrorDomain, self.default_domain if domain is None else domain)
        self.level = _coerce(ErrorLevel, level)
        self.message = message if message is not None else error_message(self.code)
        self.str1 = str1
        self.str2 = str2
        self.str3 = str3
        self.int1 = int1
        self.int2 = int2
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        code = self.code.name if isinstance(self.code, ErrorNumber) else self.code
        domain = self.domain.name if isinstance(self.domain, ErrorDomain) else self.domain
        return f"{type(self).__name__}({self.message!r}, code={code}, domain={domain})"

    def __reduce__(self) -> tuple[Any, ...]:
        # Keep every field across pickling (multiprocessing, etc.); the default
        # would rebuild from args=(message,) and lose code and domain.
        return (
            type(self),
            (
                self.message,
                int(self.code),
                int(self.domain),
                int(self.level),
                self.str1,
                self.str2,
                self.str3,
                self.int1,
                self.int2,
            ),
        )

    @classmethod
    def from_code(
        cls,
        code: int,
        info: str | None = None,
        domain: int | None = None,
    ) -> LibvirtError:
        """Build an error the way ``virReportError(code, "%s", info)`` does.

        The message is :func:`error_message` of ``code`` and ``info``; like
        libvirt, ``str1`` holds the format used, ``str2`` the info and both
        ints are -1.  This is what a server sends back in ``remote_error``.
        """
        info = info if info else None
        return cls(
            error_message(code, info),
            code=code,
            domain=domain,
            level=ErrorLevel.VIR_ERR_ERROR,
            str1=error_format(code, info is not None),
            str2=info if info is not None else "",
            int1=-1,
            int2=-1,
        )

    @classmethod
    def from_remote_error(
        cls,
        code: int,
        domain: int,
        message: str | None,
        level: int,
        str1: str | None = None,
        str2: str | None = None,
        str3: str | None = None,
        int1: int = 0,
        int2: int = 0,
    ) -> LibvirtError:
        """Build the error a server sent as a decoded ``remote_error`` struct.

        Applies the same fix-ups as libvirt's client
        (``virNetClientProgramDispatchError``): codes 61..65 from 0.7.x servers
        are moved back to their post-0.8.0 numbers, an RPC "unknown procedure"
        error becomes ``VIR_ERR_NO_SUPPORT``, and a missing message reads
        "Unknown error".  Unknown numbers stay plain ints.
        """
        code = int(code)
        domain = int(domain)
        # Interop with servers 0.7.1..0.7.7, which had these four places lower.
        if code in (
            ErrorNumber.VIR_ERR_INVALID_NWFILTER,
            ErrorNumber.VIR_ERR_NO_NWFILTER,
            ErrorNumber.VIR_ERR_BUILD_FIREWALL,
        ):
            if domain != ErrorDomain.VIR_FROM_NWFILTER:
                code += 4
        elif code == ErrorNumber.VIR_WAR_NO_SECRET:
            if domain == ErrorDomain.VIR_FROM_QEMU:
                code = ErrorNumber.VIR_ERR_OPERATION_TIMEOUT
        elif code == ErrorNumber.VIR_ERR_INVALID_SECRET:
            if domain == ErrorDomain.VIR_FROM_XEN:
                code = ErrorNumber.VIR_ERR_MIGRATE_PERSIST_FAILED

        # Old servers answer an unknown procedure with a generic RPC error;
        # libvirt turns it into "not supported" so callers can feature-test.
        if (
            domain in (ErrorDomain.VIR_FROM_REMOTE, ErrorDomain.VIR_FROM_RPC)
            and code == ErrorNumber.VIR_ERR_RPC
            and level == ErrorLevel.VIR_ERR_ERROR
            and message is not None
            and message.startswith("unknown procedure")
        ):
            code = ErrorNumber.VIR_ERR_NO_SUPPORT

        return cls(
            message if message is not None else _REMOTE_UNKNOWN_ERROR_TEXT,
            code=code,
            domain=domain,
            level=level,
            str1=str1,
            str2=str2,
            str3=str3,
            int1=int1,
            int2=int2,
        )

    # libvirt-python compatible accessors.
    def get_error_code(self) -> int:
        """The error number (``virErrorNumber``)."""
        return int(self.code)

    def get_error_domain(self) -> int:
        """The error domain (``virErrorDomain``)."""
        return int(self.domain)

    def get_error_message(self) -> str:
        """The full readable message."""
        return self.message

    def get_error_level(self) -> int:
        """The error level (``virErrorLevel``)."""
        return int(self.level)

    def get_str1(self) -> str | None:
        """Extra string information 1."""
        return self.str1

    def get_str2(self) -> str | None:
        """Extra string information 2."""
        return self.str2

    def get_str3(self) -> str | None:
        """Extra string information 3."""
        return self.str3

    def get_int1(self) -> int:
        """Extra number information 1."""
        return self.int1

    def get_int2(self) -> int:
        """Extra number information 2."""
        return self.int2


class ConnectionClosedError(LibvirtError):
    """The connection to libvirtd is gone (EOF, reset, or closed locally).

    Defaults to what libvirt's client reports when a call is made on a dead
    connection: ``VIR_ERR_INTERNAL_ERROR`` from ``VIR_FROM_RPC``, "internal
    error: client socket is closed" (``virNetClientSendInternal``).
    """

    default_code = ErrorNumber.VIR_ERR_INTERNAL_ERROR
    default_domain = ErrorDomain.VIR_FROM_RPC

    def __init__(
        self,
        message: str | None = None,
        code: int | None = None,
        domain: int | None = None,
        level: int = ErrorLevel.VIR_ERR_ERROR,
        str1: str | None = None,
        str2: str | None = None,
        str3: str | None = None,
        int1: int = 0,
        int2: int = 0,
    ) -> None:
        if message is None:
            message = error_message(
                self.default_code if code is None else code, "client socket is closed"
            )
        super().__init__(message, code, domain, level, str1, str2, str3, int1, int2)


class CallTimeoutError(LibvirtError):
    """A call (or connecting) took longer than the caller allowed.

    ``VIR_ERR_OPERATION_TIMEOUT`` from ``VIR_FROM_RPC``; the message reads
    "Timed out during operation[: detail]" like libvirt's.
    """

    default_code = ErrorNumber.VIR_ERR_OPERATION_TIMEOUT
    default_domain = ErrorDomain.VIR_FROM_RPC
