"""The virNet framing that libvirt's RPC programs use (a length word and a
24-byte header per message, descriptors passed beside the stream), as
opposed to RFC 5531's record marking; no I/O and no knowledge of libvirt's
API, which lives in ``libvirt_rpc``."""
