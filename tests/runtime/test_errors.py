"""libvirt error numbers, messages and exceptions (libvirt_rpc.errors)."""

from __future__ import annotations

import glob
import json
import pickle
import shutil
import subprocess

import pytest

from libvirt_rpc.errors import (
    CallTimeoutError,
    ConnectionClosedError,
    ErrorDomain,
    ErrorLevel,
    ErrorNumber,
    LibvirtError,
    error_format,
    error_message,
)


def test_numbers_are_libvirts() -> None:
    assert ErrorNumber.VIR_ERR_OK == 0
    assert ErrorNumber.VIR_ERR_INTERNAL_ERROR == 1
    assert ErrorNumber.VIR_ERR_SYSTEM_ERROR == 38
    assert ErrorNumber.VIR_ERR_RPC == 39
    assert ErrorNumber.VIR_ERR_NO_DOMAIN == 42
    assert ErrorNumber.VIR_ERR_OPERATION_TIMEOUT == 68
    assert ErrorNumber.VIR_ERR_MULTIPLE_DOMAINS == 110
    # Contiguous from 0: nothing skipped or duplicated.
    assert [int(m) for m in ErrorNumber] == list(range(111))


def test_domains_and_levels() -> None:
    assert ErrorDomain.VIR_FROM_NONE == 0
    assert ErrorDomain.VIR_FROM_XEN == 1
    assert ErrorDomain.VIR_FROM_RPC == 7
    assert ErrorDomain.VIR_FROM_REMOTE == 13
    assert ErrorDomain.VIR_FROM_CH == 72
    assert [int(m) for m in ErrorDomain] == list(range(73))
    assert [(m.name, int(m)) for m in ErrorLevel] == [
        ("VIR_ERR_NONE", 0),
        ("VIR_ERR_WARNING", 1),
        ("VIR_ERR_ERROR", 2),
    ]


def _system_libvirt_constants() -> dict[str, int] | None:
    """The VIR_ERR_*/VIR_FROM_*/VIR_WAR_* constants of an installed libvirt-python."""
    python = shutil.which("python3", path="/usr/bin")
    if python is None:
        return None
    script = (
        "import json, libvirt\n"
        "print(json.dumps({k: v for k, v in vars(libvirt).items() if isinstance(v, int)"
        " and k.startswith(('VIR_ERR_', 'VIR_FROM_', 'VIR_WAR_'))}))"
    )
    result = subprocess.run([python, "-c", script], capture_output=True, text=True, timeout=60)
    if result.returncode != 0:
        return None
    constants: dict[str, int] = json.loads(result.stdout)
    return constants


def test_matches_installed_libvirt_python() -> None:
    """Cross-check against libvirt-python's own constants when it is installed."""
    theirs = _system_libvirt_constants()
    if theirs is None:
        pytest.fail("libvirt-python is not installed for /usr/bin/python3: run .ci/install-system-packages.sh")
    ours = {m.name: int(m) for enum in (ErrorNumber, ErrorDomain, ErrorLevel) for m in enum}
    # An older libvirt may lack our newest members, a newer one may add some.
    common = set(ours) & set(theirs)
    assert len(common) > 150
    assert {k: ours[k] for k in common} == {k: theirs[k] for k in common}


def test_messages_without_and_with_info() -> None:
    assert error_message(42) == "Domain not found"
    assert error_message(ErrorNumber.VIR_ERR_NO_DOMAIN, "no domain with matching name 'x'") == (
        "Domain not found: no domain with matching name 'x'"
    )
    assert error_message(ErrorNumber.VIR_ERR_INTERNAL_ERROR, "client socket is closed") == (
        "internal error: client socket is closed"
    )
    # Formats that are not "<text>: %s".
    assert error_message(ErrorNumber.VIR_ERR_UNKNOWN_HOST, "h") == "unknown host h"
    assert error_message(ErrorNumber.VIR_ERR_DOM_EXIST, "vm1") == "domain vm1 exists already"
    assert error_message(ErrorNumber.VIR_ERR_XML_ERROR) == (
        "XML description is invalid or not well formed"
    )
    assert error_message(ErrorNumber.VIR_ERR_XML_ERROR, "bad") == "XML error: bad"
    # Bare "%s": the info is the message.
    assert error_message(ErrorNumber.VIR_ERR_RPC) == "RPC error"
    assert error_message(ErrorNumber.VIR_ERR_RPC, "x y") == "x y"
    assert error_message(ErrorNumber.VIR_ERR_SYSTEM_ERROR, "boom: EIO") == "boom: EIO"


def test_message_edge_cases() -> None:
    # An empty info string is "no info", as in virReportErrorHelper.
    assert error_message(42, "") == "Domain not found"
    # The info is inserted literally, '%' and all.
    assert error_message(42, "50%s done %d") == "Domain not found: 50%s done %d"
    assert error_message(0) == "no error"
    assert error_message(999) == "unknown error"
    assert error_message(999, "from the future") == "from the future"


def test_every_error_has_both_texts() -> None:
    for number in ErrorNumber:
        if number == ErrorNumber.VIR_ERR_OK:
            assert error_format(number, False) is None
            continue
        plain, with_info = error_format(number, False), error_format(number, True)
        assert plain and "%" not in plain, number
        assert with_info is not None and with_info.count("%s") == 1, number


def test_messages_are_in_the_installed_libvirt() -> None:
    """Every text must appear in libvirt.so's strings (exact, NUL-terminated)."""
    libs = sorted(glob.glob("/usr/lib/*/libvirt.so.0.*")) + sorted(
        glob.glob("/usr/lib64/libvirt.so.0.*")
    )
    if not libs:
        pytest.fail("libvirt.so is not installed: run .ci/install-system-packages.sh")
    with open(libs[0], "rb") as fh:
        blob = fh.read()
    missing = []
    for number in ErrorNumber:
        for with_info in (False, True):
            text = error_format(number, with_info)
            if text is None or text == "%s":
                continue
            # The linker may share a string's tail with a longer one, so only
            # the terminating NUL is required after it.
            if text.encode() + b"\0" not in blob:
                missing.append(text)
    assert missing == []


def test_libvirt_error_fields() -> None:
    err = LibvirtError(
        "Domain not found: no domain with matching name 'x'",
        code=42,
        domain=10,
        level=2,
        str1="Domain not found: %s",
        str2="no domain with matching name 'x'",
        str3=None,
        int1=-1,
        int2=-1,
    )
    assert str(err) == "Domain not found: no domain with matching name 'x'"
    assert err.code is ErrorNumber.VIR_ERR_NO_DOMAIN
    assert err.domain is ErrorDomain.VIR_FROM_QEMU
    assert err.level is ErrorLevel.VIR_ERR_ERROR
    assert (err.str1, err.str2, err.str3, err.int1, err.int2) == (
        "Domain not found: %s",
        "no domain with matching name 'x'",
        None,
        -1,
        -1,
    )
    # libvirt-python's accessors.
    assert err.get_error_code() == 42
    assert err.get_error_domain() == 10
    assert err.get_error_level() == 2
    assert err.get_error_message() == str(err)
    assert err.get_str2() == "no domain with matching name 'x'"
    assert err.get_int1() == -1
    assert "VIR_ERR_NO_DOMAIN" in repr(err)


def test_default_message_comes_from_the_code() -> None:
    err = LibvirtError(code=ErrorNumber.VIR_ERR_NO_NETWORK)
    assert str(err) == "Network not found"
    assert err.domain is ErrorDomain.VIR_FROM_NONE


def test_from_code_is_like_virReportError() -> None:
    err = LibvirtError.from_code(42, "no domain with matching uuid '1234'", ErrorDomain.VIR_FROM_TEST)
    assert str(err) == "Domain not found: no domain with matching uuid '1234'"
    assert err.domain is ErrorDomain.VIR_FROM_TEST
    assert err.str1 == "Domain not found: %s"
    assert err.str2 == "no domain with matching uuid '1234'"
    assert (err.int1, err.int2) == (-1, -1)


def test_from_remote_error_keeps_unknown_numbers() -> None:
    err = LibvirtError.from_remote_error(
        code=4242,
        domain=999,
        message="something new",
        level=2,
        str1=None,
        str2=None,
        str3=None,
        int1=0,
        int2=0,
    )
    assert err.code == 4242 and not isinstance(err.code, ErrorNumber)
    assert err.domain == 999 and not isinstance(err.domain, ErrorDomain)
    assert str(err) == "something new"


def test_from_remote_error_plain_values() -> None:
    err = LibvirtError.from_remote_error(
        42, 12, "Domain not found: no domain with matching name 'x'", 2,
        "Domain not found: %s", "no domain with matching name 'x'", None, -1, -1,
    )
    assert err.code is ErrorNumber.VIR_ERR_NO_DOMAIN
    assert err.domain is ErrorDomain.VIR_FROM_TEST
    assert err.str1 == "Domain not found: %s"
    assert err.int2 == -1


def test_from_remote_error_fixups() -> None:
    # A missing message reads "Unknown error", as virNetClientProgramDispatchError has it.
    assert str(LibvirtError.from_remote_error(1, 13, None, 2)) == "Unknown error"
    # "unknown procedure" RPC errors mean "not supported".
    err = LibvirtError.from_remote_error(39, 7, "unknown procedure: 999", 2)
    assert err.code is ErrorNumber.VIR_ERR_NO_SUPPORT
    assert str(err) == "unknown procedure: 999"
    # ... only at error level and from the RPC/remote domains.
    assert LibvirtError.from_remote_error(39, 7, "unknown procedure: 1", 1).code == 39
    assert LibvirtError.from_remote_error(39, 10, "unknown procedure: 1", 2).code == 39
    # Codes of 0.7.x servers, four places lower.
    assert LibvirtError.from_remote_error(62, 0, "m", 2).code is ErrorNumber.VIR_ERR_NO_SECRET
    assert LibvirtError.from_remote_error(62, 33, "m", 2).code is ErrorNumber.VIR_ERR_NO_NWFILTER
    assert (
        LibvirtError.from_remote_error(64, 10, "m", 2).code
        is ErrorNumber.VIR_ERR_OPERATION_TIMEOUT
    )
    assert LibvirtError.from_remote_error(64, 0, "m", 2).code is ErrorNumber.VIR_WAR_NO_SECRET
    assert (
        LibvirtError.from_remote_error(65, 1, "m", 2).code
        is ErrorNumber.VIR_ERR_MIGRATE_PERSIST_FAILED
    )


def test_pickle_keeps_all_fields() -> None:
    err = LibvirtError.from_remote_error(42, 12, "gone", 2, "a", "b", "c", 3, 4)
    back = pickle.loads(pickle.dumps(err))
    assert type(back) is LibvirtError
    assert (back.code, back.domain, back.level, str(back)) == (42, 12, 2, "gone")
    assert (back.str1, back.str2, back.str3, back.int1, back.int2) == ("a", "b", "c", 3, 4)
    closed = pickle.loads(pickle.dumps(ConnectionClosedError()))
    assert type(closed) is ConnectionClosedError and str(closed) == str(ConnectionClosedError())


def test_connection_closed_error() -> None:
    err = ConnectionClosedError()
    assert isinstance(err, LibvirtError)
    assert err.code is ErrorNumber.VIR_ERR_INTERNAL_ERROR
    assert err.domain is ErrorDomain.VIR_FROM_RPC
    assert str(err) == "internal error: client socket is closed"
    other = ConnectionClosedError("End of file while reading data: Input/output error", code=38)
    assert other.code is ErrorNumber.VIR_ERR_SYSTEM_ERROR
    assert other.domain is ErrorDomain.VIR_FROM_RPC
    with pytest.raises(LibvirtError):
        raise other


def test_call_timeout_error() -> None:
    err = CallTimeoutError()
    assert isinstance(err, LibvirtError)
    assert err.code is ErrorNumber.VIR_ERR_OPERATION_TIMEOUT
    assert err.domain is ErrorDomain.VIR_FROM_RPC
    assert str(err) == "Timed out during operation"
    assert str(CallTimeoutError(error_message(68, "call 3 after 5s"))) == (
        "Timed out during operation: call 3 after 5s"
    )
