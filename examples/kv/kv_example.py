"""Serve kv.x's program and call it, with the stubs ``xdrgen generate`` wrote:

    xdrgen generate kv.x -o out
    PYTHONPATH=out python kv_example.py
"""

import asyncio

from kv import KvEntry, KvLookup, KvLookupDefault, KvLookupValue, KvStatus
from kv_client import AuthSys, KvV1AsyncClient, KvV1Client, ProcedureUnavailable
from kv_server import Call, KvV1Handler, ServerThread


class KvStore(KvV1Handler):
    """Version KV_V1 of KV_PROGRAM, in a dict; KV_DELETE is left out (it
    answers PROC_UNAVAIL), KV_NULL answers by itself."""

    def __init__(self) -> None:
        self.data: dict[str, bytes] = {}

    async def kv_put(self, call: Call, kv_entry: KvEntry) -> KvStatus:
        if not isinstance(call.cred, AuthSys):  # what the caller sent
            return KvStatus.KV_READ_ONLY
        self.data[kv_entry.key] = kv_entry.value
        return KvStatus.KV_OK

    async def kv_get(self, call: Call, kv_key: str) -> KvLookup:
        if kv_key in self.data:
            return KvLookupValue(self.data[kv_key])
        return KvLookupDefault(KvStatus.KV_NOT_FOUND)

    async def kv_keys(self, call: Call, kv_key: str, arg: int) -> list[str]:
        return sorted(key for key in self.data if key.startswith(kv_key))[:arg]


def call_over_tcp(port: int) -> None:
    with KvV1Client.connect("127.0.0.1", port, auth=AuthSys.local()) as client:
        client.kv_null()
        print(client.kv_put(KvEntry("greeting", b"hello")).name)  # KV_OK
        print(client.kv_get("greeting"))  # KvLookupValue(value=b'hello')
        print(client.kv_keys("gr", 10))  # ['greeting']
        try:
            client.kv_delete("greeting")
        except ProcedureUnavailable as error:
            print(error)  # procedure unavailable


async def call_over_udp(port: int) -> None:
    async with KvV1AsyncClient.connect("127.0.0.1", port, transport="udp") as client:
        put = await client.kv_put(KvEntry("other", b"!"))  # AUTH_NONE: refused
        found, missing = await asyncio.gather(client.kv_get("greeting"), client.kv_get("other"))
        print(put.name, found, missing)


if __name__ == "__main__":
    server = ServerThread([KvStore()], tcp=("127.0.0.1", 0), udp=("127.0.0.1", 0)).start()
    assert server.tcp_port is not None and server.udp_port is not None
    call_over_tcp(server.tcp_port)
    asyncio.run(call_over_udp(server.udp_port))
    server.stop()
