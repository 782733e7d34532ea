"""The libvirt RPC runtime: URIs, transports, errors, framing, client, server."""
