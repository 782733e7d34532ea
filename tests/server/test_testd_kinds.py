"""An object kind is one module: a kind declared here, outside the package
(secrets, which libvirt's test driver lacks), registered through
``libvirt_rpc.testd.register``, is served to the real ``virsh`` by the next
``TestDaemon()`` — its state in the hypervisor, its procedures in the
handler — and is gone again once unregistered."""

from __future__ import annotations

import dataclasses
import uuid as uuidlib
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest

from libvirt_rpc import remote_protocol as rp
from libvirt_rpc.errors import ErrorDomain
from libvirt_rpc.errors import ErrorNumber as E
from libvirt_rpc.server import Call, rpc_error, start_in_thread
from libvirt_rpc.testd import Hypervisor, ObjectKind, TestDaemon, register, unregister
from libvirt_rpc.testd.base import ProceduresBase, check_flags
from testd_support import virsh_in

# ---- the kind: what a module kinds/secrets.py would hold ----------------------

USAGE_TYPES = ("none", "volume", "ceph", "iscsi", "tls", "vtpm")  # virSecretUsageType


@dataclasses.dataclass
class Secret:
    uuid: bytes
    usage_type: int
    usage_id: str

    def handle(self) -> rp.RemoteNonnullSecret:
        return rp.RemoteNonnullSecret(self.uuid, self.usage_type, self.usage_id)

    def xml(self) -> str:
        usage = USAGE_TYPES[self.usage_type]
        return (
            "<secret ephemeral='no' private='no'>\n"
            f"  <uuid>{uuidlib.UUID(bytes=self.uuid)}</uuid>\n"
            f"  <usage type='{usage}'>\n    <name>{self.usage_id}</name>\n  </usage>\n"
            "</secret>\n"
        )


def parse_secret(text: str) -> Secret:
    root = ET.fromstring(text)
    usage = root.find("usage")
    assert usage is not None
    given = root.findtext("uuid")
    uuid = uuidlib.UUID(given) if given else uuidlib.uuid4()
    return Secret(uuid.bytes, USAGE_TYPES.index(usage.get("type", "none")), usage.findtext("name") or "")


class SecretProcedures(ProceduresBase):
    def _secrets(self) -> dict[bytes, Secret]:
        return self.hv[SECRETS]

    def _secret(self, call: Call, handle: rp.RemoteNonnullSecret) -> Secret:
        self._open(call)
        secret = self._secrets().get(handle.uuid)
        if secret is None:
            raise rpc_error(E.VIR_ERR_NO_SECRET, f"no secret with matching uuid '{uuidlib.UUID(bytes=handle.uuid)}'")
        return secret

    async def connect_list_all_secrets(
        self, call: Call, args: rp.RemoteConnectListAllSecretsArgs
    ) -> rp.RemoteConnectListAllSecretsRet:
        self._open(call)
        check_flags(args.flags, 0, "toyConnectListAllSecrets")
        secrets = sorted(self._secrets().values(), key=lambda s: s.uuid)
        return rp.RemoteConnectListAllSecretsRet([s.handle() for s in secrets] if args.need_results else [], len(secrets))

    async def secret_lookup_by_uuid(
        self, call: Call, args: rp.RemoteSecretLookupByUuidArgs
    ) -> rp.RemoteSecretLookupByUuidRet:
        return rp.RemoteSecretLookupByUuidRet(self._secret(call, rp.RemoteNonnullSecret(args.uuid, 0, "")).handle())

    async def secret_define_xml(self, call: Call, args: rp.RemoteSecretDefineXmlArgs) -> rp.RemoteSecretDefineXmlRet:
        self._writable(call, "virSecretDefineXML", ErrorDomain.VIR_FROM_SECRET)
        secret = parse_secret(args.xml)
        self._secrets()[secret.uuid] = secret
        return rp.RemoteSecretDefineXmlRet(secret.handle())

    async def secret_get_xml_desc(
        self, call: Call, args: rp.RemoteSecretGetXmlDescArgs
    ) -> rp.RemoteSecretGetXmlDescRet:
        return rp.RemoteSecretGetXmlDescRet(self._secret(call, args.secret).xml())

    async def secret_undefine(self, call: Call, args: rp.RemoteSecretUndefineArgs) -> None:
        self._writable(call, "virSecretUndefine", ErrorDomain.VIR_FROM_SECRET)
        del self._secrets()[self._secret(call, args.secret).uuid]


# Registered by the fixture, not here: other tests in this process make
# daemons of the built-in kinds.
SECRETS: ObjectKind[dict[bytes, Secret]] = ObjectKind("secrets", SecretProcedures, dict)

# ---- the tests ----------------------------------------------------------------

UUID = "0a81f5b2-8403-7b23-c8d6-21ccc2f80d6f"
SECRET_XML = f"""<secret ephemeral='no' private='no'>
  <uuid>{UUID}</uuid>
  <usage type='ceph'>
    <name>client.admin secret</name>
  </usage>
</secret>
"""


@pytest.fixture
def secrets() -> Iterator[ObjectKind[dict[bytes, Secret]]]:
    register(SECRETS)
    try:
        yield SECRETS
    finally:
        unregister(SECRETS)


def virsh_on_new_daemon(tmp_path: Path, script: str) -> str:
    """Run a virsh ``script`` against a ``TestDaemon()`` made now, in this
    process; its output and errors."""
    (tmp_path / "secret.xml").write_text(SECRET_XML)
    with start_in_thread([TestDaemon()], unix=tmp_path / "sock") as daemon:
        result = virsh_in(f"test+unix:///default?socket={daemon.unix_path}", script, cwd=tmp_path)
    return result.stdout + result.stderr


SESSION = f"secret-define secret.xml; secret-list; secret-dumpxml {UUID}; secret-undefine {UUID}; secret-list"

EXPECTED = f"""\
Secret {UUID} created

 UUID                                   Usage
------------------------------------------------------------------
 {UUID}   ceph client.admin secret

{SECRET_XML}
Secret {UUID} deleted

 UUID   Usage
---------------

"""


def test_a_registered_kind_is_served_to_virsh(secrets: ObjectKind[dict[bytes, Secret]], tmp_path: Path) -> None:
    assert virsh_on_new_daemon(tmp_path, SESSION) == EXPECTED


def test_a_kind_is_served_only_while_registered(tmp_path: Path) -> None:
    """Without the registration the procedures keep the test driver's "not
    supported" answer: what the test above sees is the registration's."""
    before = virsh_on_new_daemon(tmp_path, "secret-list")
    assert "this function is not supported by the connection driver: virConnectNumOfSecrets" in before
    register(SECRETS)
    unregister(SECRETS)
    assert virsh_on_new_daemon(tmp_path, "secret-list") == before


def test_the_hypervisor_keeps_the_state_of_the_kinds_registered(secrets: ObjectKind[dict[bytes, Secret]]) -> None:
    """Each new hypervisor starts the kind's state afresh; one made before
    the registration lacks it, and a daemon refuses to serve it."""
    first, second = Hypervisor(), Hypervisor()
    first[SECRETS][b"k"] = parse_secret(SECRET_XML)
    assert second[SECRETS] == {}
    older = Hypervisor([kind for kind in TestDaemon().kinds if kind is not SECRETS])
    with pytest.raises(LookupError, match="without the object kind 'secrets'"):
        older[SECRETS]
    with pytest.raises(ValueError, match="made without the object kinds secrets"):
        TestDaemon(older)


class Clashing(ProceduresBase):
    async def connect_get_hostname(self, call: Call) -> rp.RemoteConnectGetHostnameRet:
        return rp.RemoteConnectGetHostnameRet("elsewhere")


def test_register_refuses_what_would_hide_another_kind(secrets: ObjectKind[dict[bytes, Secret]]) -> None:
    """All kinds join one class, where a method two kinds define would be
    served by one of them, silently: register refuses it, as a second kind
    of a taken name."""
    with pytest.raises(ValueError, match="'clashing' defines connect_get_hostname, as 'connect' does"):
        register(ObjectKind("clashing", Clashing))
    with pytest.raises(ValueError, match="'secrets' is registered already"):
        register(ObjectKind("secrets", ProceduresBase))
    assert [kind.name for kind in TestDaemon().kinds].count("secrets") == 1
