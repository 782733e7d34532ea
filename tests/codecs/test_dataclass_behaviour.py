"""Generated classes are not built by ``@dataclass`` (importing 1,500
decorated classes was most of ``import libvirt_rpc``), but behave as the
dataclasses they are written like: ``dataclasses.fields``/``replace``/
``asdict``/``is_dataclass``, equality, repr, ``__match_args__``, slots.  And
every named type has a codec: structs and unions, enums (``encode``/``decode``/
``pack_into``/``unpack_from`` on the IntEnum) and typedefs (a codec object)."""

from __future__ import annotations

import copy
import dataclasses
import inspect
import pickle

import pytest

from libvirt_rpc import remote_protocol as rp
from libvirt_rpc import virnetprotocol as vn
from libvirt_rpc.remote_protocol_client import AsyncRemoteClient, RemoteClient
from xdrgen.runtime.xdr import XdrError

UUID = bytes(range(16))


def domain(name: str = "vm", id: int = 1) -> rp.RemoteNonnullDomain:
    return rp.RemoteNonnullDomain(name, UUID, id)


def test_fields_as_dataclasses_lists_them() -> None:
    fields = dataclasses.fields(rp.RemoteDomainGetInfoRet)
    assert [f.name for f in fields] == ["state", "maxMem", "memory", "nrVirtCpu", "cpuTime"]
    assert [f.type for f in fields] == ["int"] * 5
    value = rp.RemoteDomainGetInfoRet(1, 2, 3, 4, 5)
    assert dataclasses.fields(value) == fields
    assert dataclasses.is_dataclass(value) and dataclasses.is_dataclass(rp.RemoteDomainGetInfoRet)


def test_a_union_is_not_a_dataclass_but_its_arms_are() -> None:
    assert not dataclasses.is_dataclass(rp.RemoteTypedParamValue)
    arm = rp.RemoteTypedParamValueUl(7)
    assert [f.name for f in dataclasses.fields(arm)] == ["ul"]  # the ClassVar is no field
    assert dataclasses.replace(arm, ul=8) == rp.RemoteTypedParamValueUl(8)


def test_structs_with_the_same_fields_share_code_not_identity() -> None:
    # remote_domain_suspend_args and remote_domain_resume_args are both
    # {remote_nonnull_domain dom;}: one base class, two distinct types
    suspend, resume = rp.RemoteDomainSuspendArgs(domain()), rp.RemoteDomainResumeArgs(domain())
    assert type(suspend).__mro__[1] is type(resume).__mro__[1]
    assert suspend != resume
    assert suspend.encode() == resume.encode()
    assert rp.RemoteDomainResumeArgs.decode(suspend.encode()) == resume
    assert repr(suspend) == f"RemoteDomainSuspendArgs(dom={domain()!r})"
    assert [f.name for f in dataclasses.fields(resume)] == ["dom"]


def test_replace_asdict_astuple() -> None:
    value = rp.RemoteConnectListAllDomainsRet([domain("a", 1), domain("b", 2)], 2)
    changed = dataclasses.replace(value, ret=3)
    assert changed.ret == 3 and changed.domains is value.domains and type(changed) is type(value)
    assert dataclasses.asdict(value) == {
        "domains": [{"name": "a", "uuid": UUID, "id": 1}, {"name": "b", "uuid": UUID, "id": 2}],
        "ret": 2,
    }
    assert dataclasses.astuple(domain()) == ("vm", UUID, 1)
    with pytest.raises(TypeError):
        dataclasses.replace(value, no_such_field=1)


def test_equality_and_repr_as_dataclasses() -> None:
    assert domain() == domain() and domain() != domain(id=2)
    assert domain() != ("vm", UUID, 1)
    assert repr(domain()) == f"RemoteNonnullDomain(name='vm', uuid={UUID!r}, id=1)"
    header = vn.VirNetMessageHeader(1, 2, 3, vn.VIR_NET_CALL, 4, vn.VIR_NET_OK)
    assert repr(header) == (
        "VirNetMessageHeader(prog=1, vers=2, proc=3, type=<VirNetMessageType.VIR_NET_CALL: 0>,"
        " serial=4, status=<VirNetMessageStatus.VIR_NET_OK: 0>)"
    )
    with pytest.raises(TypeError):
        hash(domain())  # mutable, so unhashable (as @dataclass(eq=True) makes it)


def test_init_match_args_and_slots() -> None:
    assert list(inspect.signature(rp.RemoteNonnullDomain).parameters) == ["name", "uuid", "id"]
    assert rp.RemoteNonnullDomain(id=1, uuid=UUID, name="vm") == domain()
    with pytest.raises(TypeError):
        rp.RemoteNonnullDomain("vm", UUID)  # type: ignore[call-arg]
    match domain():
        case rp.RemoteNonnullDomain(name, _, id):
            assert (name, id) == ("vm", 1)
    with pytest.raises(AttributeError):
        domain().extra = 1  # type: ignore[attr-defined]


def test_copy_and_pickle() -> None:
    value = rp.RemoteDomainStatsRecord(domain(), [rp.RemoteTypedParam("p", rp.RemoteTypedParamValueS("s"))])
    assert copy.deepcopy(value) == value and copy.copy(value) == value
    assert pickle.loads(pickle.dumps(value)) == value


def test_enums_have_codecs() -> None:
    member = rp.RemoteAuthType.REMOTE_AUTH_POLKIT
    assert member.encode() == b"\0\0\0\2"
    assert rp.RemoteAuthType.decode(b"\0\0\0\2") is member
    out = bytearray(b"x")
    member.pack_into(out)
    assert rp.RemoteAuthType.unpack_from(bytes(out), 1) == (member, 5)
    assert rp.REMOTE_AUTH_POLKIT is member  # members are module constants too
    with pytest.raises(XdrError) as info:
        rp.RemoteAuthType.decode(b"\0\0\0\x09")
    assert (info.value.path, info.value.offset) == ("RemoteAuthType", 0)
    with pytest.raises(XdrError, match="trailing"):
        rp.RemoteAuthType.decode(b"\0\0\0\2\0")
    with pytest.raises(XdrError, match="truncated"):
        rp.RemoteAuthType.decode(b"\0\0")


def test_typedefs_have_codecs() -> None:
    codec = rp.RemoteStringCodec
    assert codec.encode(None) == b"\0\0\0\0"
    assert codec.encode("ab") == b"\0\0\0\1" + b"\0\0\0\2ab\0\0"
    assert codec.decode(b"\0\0\0\1\0\0\0\2ab\0\0") == "ab"
    assert codec.unpack_from(b"xx\0\0\0\0", 2) == (None, 6)
    out = bytearray()
    codec.pack_into("ab", out)  # value first, as every ONC RPC codec
    assert rp.unpack_remote_string(bytes(out)) == ("ab", len(out))
    with pytest.raises(XdrError) as info:
        rp.RemoteNonnullStringCodec.encode(7)  # type: ignore[arg-type]
    assert info.value.path == "RemoteNonnullString"
    assert rp.RemoteUuidCodec.decode(UUID) == UUID


def test_client_stubs_default_flags_and_optional_values() -> None:
    for cls in (RemoteClient, AsyncRemoteClient):
        create = inspect.signature(cls.domain_create_xml).parameters
        assert create["flags"].default == 0 and create["xml_desc"].default is inspect.Parameter.empty
        migrate = inspect.signature(cls.domain_migrate_perform3).parameters
        assert migrate["dname"].default is None and migrate["flags"].default == 0
        assert migrate["dconnuri"].default is None


def test_client_stubs_send_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []

    class Channel:
        def call(self, program: int, version: int, procedure: int, args: object, result: object) -> None:
            calls.append((program, version, procedure, args))

    RemoteClient(Channel()).domain_create_xml(xml_desc="<domain/>")  # type: ignore[arg-type]
    ((program, version, procedure, args),) = calls
    assert (program, version, procedure) == (rp.REMOTE_PROGRAM, 1, rp.REMOTE_PROC_DOMAIN_CREATE_XML)
    assert args == rp.RemoteDomainCreateXmlArgs("<domain/>", 0)
