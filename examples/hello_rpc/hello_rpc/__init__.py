"""hello_rpc: a hand-written layer over the codecs that xdrgen generated
from ``proto/hello.x`` when this wheel was built (package ``hello_proto``)."""

from __future__ import annotations

from hello_proto.hello import (
    HELLO_GREET,
    HELLO_MAX_GREETINGS,
    HELLO_NAME_MAX,
    HELLO_PROGRAM,
    HELLO_V1,
    HelloGreeting,
    HelloMood,
    HelloReply,
    HelloReplyComplaint,
    HelloReplyDefault,
    HelloReplyGreetings,
    HelloRequest,
)

__all__ = [
    "HELLO_GREET",
    "HELLO_MAX_GREETINGS",
    "HELLO_NAME_MAX",
    "HELLO_PROGRAM",
    "HELLO_V1",
    "HelloGreeting",
    "HelloMood",
    "HelloReply",
    "HelloRequest",
    "greet",
    "handle_call",
]


def greet(request: HelloRequest) -> HelloReply:
    """The server side of HELLO_GREET."""
    if request.mood is HelloMood.HELLO_HAPPY:
        count = min(request.times, HELLO_MAX_GREETINGS)
        return HelloReplyGreetings(
            [HelloGreeting(f"Hello, {request.name}!", sent_at=i) for i in range(count)]
        )
    if request.mood is HelloMood.HELLO_GRUMPY:
        return HelloReplyComplaint(f"Go away, {request.name}.")
    return HelloReplyDefault(request.mood)


def handle_call(procedure: int, arguments: bytes) -> bytes:
    """Decode the XDR arguments of a HELLO_V1 procedure, run it and encode
    its result, as an RPC server's dispatcher would."""
    if procedure == HELLO_GREET:
        return greet(HelloRequest.decode(arguments)).encode()
    if procedure == 0:  # HELLO_NULL
        return b""
    raise ValueError(f"HELLO_V1 has no procedure {procedure}")
