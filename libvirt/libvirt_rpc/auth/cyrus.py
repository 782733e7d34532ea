"""The system's Cyrus SASL library (``libsasl2``) through :mod:`ctypes`:
the library libvirt's client and libvirtd themselves use, so the same
mechanisms (SCRAM-SHA-256, DIGEST-MD5, GSSAPI ... whatever plugins are
installed), the same negotiation and the same security layer
(``sasl_encode``/``sasl_decode``).

Nothing is loaded until a server asks for SASL (:func:`library`); a
machine without ``libsasl2`` then gets a :class:`~..errors.LibvirtError`
naming the packages to install.  :class:`ClientSession` is libvirt's
``virNetSASLSession`` for a client (``src/rpc/virnetsaslcontext.c``): the
errors read as libvirt's.  Like libvirt, no SASL callback has a function:
what a mechanism needs (user name, password, realm) comes back from
:meth:`ClientSession.start` / :meth:`~ClientSession.step` as
:class:`Prompt` objects to fill in and retry (``SASL_INTERACT``).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ..errors import ErrorDomain, ErrorNumber, LibvirtError
from .sasl_ids import COMPLETE, CONTINUE, INTERACT

__all__ = ["ClientSession", "Prompt", "Step", "library"]  # the ids and outcomes: .sasl_ids

# sasl.h: results
_SASL_OK = 0
_SASL_CONTINUE = 1
_SASL_INTERACT = 2
_SASL_CB_LIST_END = 0
# sasl.h: properties, flags
_SASL_SSF = 1
_SASL_MAXOUTBUF = 2
_SASL_SSF_EXTERNAL = 100
_SASL_SEC_PROPS = 101
_SASL_SEC_NOPLAINTEXT = 0x0001
_SASL_SEC_NOANONYMOUS = 0x0010
_SASL_SUCCESS_DATA = 0x0004

#: The largest security-layer packet we accept, which is also what we tell
#: the server (libvirt's arbitrary ``1 << 16``).
MAX_BUFFER = 1 << 16

# Where the library is: Linux distributions, then what the loader finds.
_NAMES = ("libsasl2.so.2", "libsasl2.so", "libsasl2.dylib")
_INSTALL = (
    "SASL authentication needs the Cyrus SASL library libsasl2 and its mechanism plugins: "
    "install libsasl2-2 and libsasl2-modules (Debian, Ubuntu), cyrus-sasl-lib and "
    "cyrus-sasl-scram / cyrus-sasl-md5 (Fedora, RHEL) or cyrus-sasl (macOS, Homebrew)"
)


class _Interact(ctypes.Structure):
    _fields_ = [
        ("id", ctypes.c_ulong),
        ("challenge", ctypes.c_char_p),
        ("prompt", ctypes.c_char_p),
        ("defresult", ctypes.c_char_p),
        ("result", ctypes.c_void_p),
        ("len", ctypes.c_uint),
    ]


class _Callback(ctypes.Structure):
    _fields_ = [("id", ctypes.c_ulong), ("proc", ctypes.c_void_p), ("context", ctypes.c_void_p)]


class _SecurityProperties(ctypes.Structure):
    _fields_ = [
        ("min_ssf", ctypes.c_uint),
        ("max_ssf", ctypes.c_uint),
        ("maxbufsize", ctypes.c_uint),
        ("security_flags", ctypes.c_uint),
        ("property_names", ctypes.c_void_p),
        ("property_values", ctypes.c_void_p),
    ]


_P = ctypes.POINTER
_SIGNATURES: dict[str, tuple[Any, list[Any]]] = {
    "sasl_client_init": (ctypes.c_int, [ctypes.c_void_p]),
    "sasl_client_new": (
        ctypes.c_int,
        [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p,
         _P(_Callback), ctypes.c_uint, _P(ctypes.c_void_p)],
    ),  # fmt: skip
    "sasl_client_start": (
        ctypes.c_int,
        [ctypes.c_void_p, ctypes.c_char_p, _P(_P(_Interact)), _P(ctypes.c_void_p),
         _P(ctypes.c_uint), _P(ctypes.c_char_p)],
    ),  # fmt: skip
    "sasl_client_step": (
        ctypes.c_int,
        [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_uint, _P(_P(_Interact)),
         _P(ctypes.c_void_p), _P(ctypes.c_uint)],
    ),  # fmt: skip
    "sasl_setprop": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p]),
    "sasl_getprop": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_int, _P(ctypes.c_void_p)]),
    "sasl_encode": (
        ctypes.c_int,
        [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_uint, _P(ctypes.c_void_p), _P(ctypes.c_uint)],
    ),
    "sasl_decode": (
        ctypes.c_int,
        [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_uint, _P(ctypes.c_void_p), _P(ctypes.c_uint)],
    ),
    "sasl_dispose": (None, [_P(ctypes.c_void_p)]),
    "sasl_errdetail": (ctypes.c_char_p, [ctypes.c_void_p]),
    "sasl_errstring": (ctypes.c_char_p, [ctypes.c_int, ctypes.c_char_p, ctypes.c_void_p]),
}

_lock = threading.Lock()
_library: Any = None


def _auth_failed(detail: str, domain: ErrorDomain = ErrorDomain.VIR_FROM_RPC) -> LibvirtError:
    return LibvirtError.from_code(ErrorNumber.VIR_ERR_AUTH_FAILED, detail, domain=domain)


def _internal(detail: str) -> LibvirtError:
    return LibvirtError.from_code(ErrorNumber.VIR_ERR_INTERNAL_ERROR, detail, domain=ErrorDomain.VIR_FROM_RPC)


def _load() -> Any:
    names = list(_NAMES)
    found = ctypes.util.find_library("sasl2")
    if found:
        names.append(found)
    for name in names:
        try:
            lib = ctypes.CDLL(name)
        except OSError:
            continue
        for function, (restype, argtypes) in _SIGNATURES.items():
            entry = getattr(lib, function)
            entry.restype = restype
            entry.argtypes = argtypes
        return lib
    raise _auth_failed(_INSTALL, ErrorDomain.VIR_FROM_REMOTE)


def library() -> Any:
    """``libsasl2``, loaded and its client side initialised once per process
    (``sasl_client_init``, as ``virNetSASLContextNewClient`` does)."""
    global _library
    with _lock:
        if _library is None:
            lib = _load()
            err = lib.sasl_client_init(None)
            if err != _SASL_OK:
                raise _auth_failed(f"failed to initialize SASL library: {err} ({_errstring(lib, err)})")
            _library = lib
        return _library


def _errstring(lib: Any, err: int) -> str:
    text: bytes | None = lib.sasl_errstring(err, None, None)
    return text.decode(errors="replace") if text else ""


def _text(value: bytes | None) -> str | None:
    return None if value is None else value.decode("utf-8", "replace")


@dataclass
class Prompt:
    """One thing a mechanism asks for (``sasl_interact_t``): fill
    :attr:`result` (``None`` leaves it for the next prompt round)."""

    id: int
    challenge: str | None
    prompt: str | None
    defresult: str | None
    result: str | None = None


@dataclass
class Step:
    """What one negotiation step gave: :data:`COMPLETE`, :data:`CONTINUE`
    or :data:`INTERACT` (then :attr:`prompts` says what is needed), the
    data for the server (None: no data, which SASL tells apart from
    ``b""``) and, from :meth:`ClientSession.start`, the mechanism chosen."""

    status: str
    data: bytes | None = None
    mechanism: str | None = None
    prompts: list[Prompt] = field(default_factory=list)


class ClientSession:
    """One client negotiation and, after it, its security layer.

    ``callbacks``: the ``SASL_CB_*`` ids the caller can answer (libvirt's
    credential types, mapped).  Thread-safe: the layer is used by a reader
    and a writer at once, and every use of the connection is serialised
    (libvirt's session lock).
    """

    def __init__(
        self,
        service: str,
        host: str,
        local: str | None,
        remote: str | None,
        callbacks: Iterable[int],
    ) -> None:
        self._lib = library()
        self._lock = threading.Lock()
        self._conn = ctypes.c_void_p()
        ids = [*callbacks, _SASL_CB_LIST_END]
        # libsasl2 keeps pointers to these for the connection's lifetime.
        self._callbacks = (_Callback * len(ids))(*(_Callback(i, None, None) for i in ids))
        self._answers: list[Any] = []  # results handed to libsasl2, kept until its next step
        # what the mechanism asks for: libsasl2 fills it, we answer in it, and
        # it goes back in with the next step (the plugin reads the answers there)
        self._prompts = _P(_Interact)()
        self.max_out = MAX_BUFFER
        self.mechanism: str | None = None
        err = self._lib.sasl_client_new(
            service.encode(),
            host.encode(),
            None if local is None else local.encode(),
            None if remote is None else remote.encode(),
            self._callbacks,
            _SASL_SUCCESS_DATA,
            ctypes.byref(self._conn),
        )
        if err != _SASL_OK:
            raise _auth_failed(f"Failed to create SASL client context: {err} ({_errstring(self._lib, err)})")

    # -- set-up -------------------------------------------------------------

    def set_external_ssf(self, ssf: int) -> None:
        """The strength of a layer below SASL (TLS: its key size in bits)."""
        value = ctypes.c_uint(ssf)
        with self._lock:
            err = self._lib.sasl_setprop(self._conn, _SASL_SSF_EXTERNAL, ctypes.byref(value))
        if err != _SASL_OK:
            raise _internal(f"cannot set external SSF {err} ({_errstring(self._lib, err)})")

    def set_security(self, min_ssf: int, max_ssf: int, allow_anonymous: bool) -> None:
        """The strength the negotiation must reach and may reach, and
        whether anonymous or plain-text mechanisms may be used."""
        props = _SecurityProperties(
            min_ssf,
            max_ssf,
            MAX_BUFFER,
            0 if allow_anonymous else _SASL_SEC_NOANONYMOUS | _SASL_SEC_NOPLAINTEXT,
            None,
            None,
        )
        with self._lock:
            err = self._lib.sasl_setprop(self._conn, _SASL_SEC_PROPS, ctypes.byref(props))
        if err != _SASL_OK:
            raise _internal(f"cannot set security props {err} ({_errstring(self._lib, err)})")

    # -- negotiation --------------------------------------------------------

    def start(self, mechlist: str) -> Step:
        """``sasl_client_start``: choose a mechanism from the server's list
        and make the first data for it."""
        out = ctypes.c_void_p()
        outlen = ctypes.c_uint()
        mech = ctypes.c_char_p()
        with self._lock:
            err = self._lib.sasl_client_start(
                self._conn, mechlist.encode(), ctypes.byref(self._prompts), ctypes.byref(out),
                ctypes.byref(outlen), ctypes.byref(mech),
            )  # fmt: skip
            step = self._outcome(err, out, outlen, "Failed to start SASL negotiation")
        # set by the call that chose it (not by a repeat after prompts)
        self.mechanism = _text(mech.value) or self.mechanism
        step.mechanism = self.mechanism
        return step

    def step(self, data: bytes | None) -> Step:
        """``sasl_client_step``: answer the server's data (None: none)."""
        out = ctypes.c_void_p()
        outlen = ctypes.c_uint()
        with self._lock:
            err = self._lib.sasl_client_step(
                self._conn, data, 0 if data is None else len(data), ctypes.byref(self._prompts),
                ctypes.byref(out), ctypes.byref(outlen),
            )  # fmt: skip
            return self._outcome(err, out, outlen, "Failed to step SASL negotiation")

    def answer(self, prompts: list[Prompt]) -> None:
        """Give libsasl2 the results for the prompts the last step asked for
        (in their order); then repeat that step."""
        kept: list[Any] = []
        with self._lock:
            for index, prompt in enumerate(prompts):
                if prompt.result is None:
                    continue
                raw = prompt.result.encode()
                buffer = ctypes.create_string_buffer(raw)
                kept.append(buffer)
                entry = self._prompts[index]
                entry.result = ctypes.cast(buffer, ctypes.c_void_p)
                entry.len = len(raw)
            # libsasl2 reads them during the next step: keep them until then
            self._answers = kept

    def _outcome(self, err: int, out: Any, outlen: Any, failure: str) -> Step:
        data = None if not out.value else ctypes.string_at(out.value, outlen.value)
        if err == _SASL_OK:
            self._update_buffer_size()
            return Step(COMPLETE, data)
        if err == _SASL_CONTINUE:
            return Step(CONTINUE, data)
        if err == _SASL_INTERACT:
            return Step(INTERACT, prompts=list(_prompts(self._prompts)))
        raise _auth_failed(f"{failure}: {err} ({self._errdetail()})")

    def _update_buffer_size(self) -> None:
        value = ctypes.c_void_p()
        err = self._lib.sasl_getprop(self._conn, _SASL_MAXOUTBUF, ctypes.byref(value))
        if err != _SASL_OK:
            raise _internal(f"cannot get security props {err} ({_errstring(self._lib, err)})")
        self.max_out = ctypes.cast(value, _P(ctypes.c_uint)).contents.value

    def _errdetail(self) -> str:
        text: bytes | None = self._lib.sasl_errdetail(self._conn)
        return text.decode("utf-8", "replace") if text else ""

    # -- after the negotiation ----------------------------------------------

    @property
    def ssf(self) -> int:
        """The security layer's strength (0: no layer)."""
        value = ctypes.c_void_p()
        with self._lock:
            err = self._lib.sasl_getprop(self._conn, _SASL_SSF, ctypes.byref(value))
        if err != _SASL_OK:
            raise _auth_failed(f"cannot query SASL ssf on connection {err} ({_errstring(self._lib, err)})")
        return ctypes.cast(value, _P(ctypes.c_int)).contents.value

    @property
    def max_in(self) -> int:
        """The largest packet the server may send us."""
        return MAX_BUFFER

    def encode(self, data: bytes) -> bytes:
        """One security-layer packet (length word included) carrying
        ``data`` (at most :attr:`max_out` bytes)."""
        return self._code(self._lib.sasl_encode, data, "encode")

    def decode(self, packet: bytes) -> bytes:
        """The data of whole packets (length words included)."""
        return self._code(self._lib.sasl_decode, packet, "decode")

    def _code(self, function: Any, data: bytes, what: str) -> bytes:
        out = ctypes.c_void_p()
        outlen = ctypes.c_uint()
        with self._lock:
            if not self._conn:
                raise OSError(f"failed to {what} SASL data: the session is closed")
            err = function(self._conn, data, len(data), ctypes.byref(out), ctypes.byref(outlen))
            if err != _SASL_OK:
                # libvirt: VIR_ERR_INTERNAL_ERROR; here, as a failed read or
                # write, it ends the connection like any I/O error
                raise OSError(f"failed to {what} SASL data: {err} ({_errstring(self._lib, err)})")
            return ctypes.string_at(out.value, outlen.value) if out.value and outlen.value else b""

    def close(self) -> None:
        """``sasl_dispose``; idempotent."""
        with self._lock:
            if self._conn:
                self._lib.sasl_dispose(ctypes.byref(self._conn))
                self._conn = ctypes.c_void_p()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # interpreter shutdown
            pass


def _prompts(need: Any) -> Iterable[Prompt]:
    index = 0
    while need[index].id != _SASL_CB_LIST_END:
        entry = need[index]
        yield Prompt(entry.id, _text(entry.challenge), _text(entry.prompt), _text(entry.defresult))
        index += 1
