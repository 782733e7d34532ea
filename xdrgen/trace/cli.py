"""The command line: ``proxy`` and ``read``.

A protocol's own entry point (``python -m libvirt_rpc.trace``) is this
with the package and the framing preset: :func:`main` ``(package=...,
framing=...)``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from collections.abc import Callable, Sequence
from typing import TextIO

from . import FRAMINGS
from .addresses import Address, AddressError, tls_context
from .catalog import Catalog, CatalogError
from .framing import Framing
from .lines import LineFormatter
from .matching import Filter, SelectorError
from .message import Codecs
from .proxy import Proxy, ProxyConfig
from .rewrite import Rewriter, RuleError, Rules
from .tracer import Output, Tracer

_FAILURES = (CatalogError, AddressError, RuleError, SelectorError, OSError)


def build_parser(prog: str, package: str | None, framing: str | None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description="Watch and change the RPC traffic of a generated protocol.")
    commands = parser.add_subparsers(dest="command", required=True)
    proxy = commands.add_parser("proxy", help="a tracing, rewriting proxy between clients and a server")
    read = commands.add_parser("read", help="trace lines from a pcap/pcapng capture")
    for sub in (proxy, read):
        _add_common(sub, package, framing)
    proxy.add_argument("--listen", required=True, type=_address, metavar="ADDR", help="unix:PATH or tcp:HOST:PORT")
    proxy.add_argument("--upstream", required=True, type=_address, metavar="ADDR", help="the server: unix:PATH or tcp:HOST:PORT")
    tls = proxy.add_argument_group("TLS (libvirt's pkipath layout: cacert.pem, servercert.pem, serverkey.pem, clientcert.pem, clientkey.pem)")
    tls.add_argument("--listen-tls", action="store_true", help="clients speak TLS to the proxy")
    tls.add_argument("--upstream-tls", action="store_true", help="the proxy speaks TLS to the server")
    tls.add_argument("--pkipath", metavar="DIR", help="certificates for both sides (default: libvirt's under /etc/pki)")
    tls.add_argument("--listen-pkipath", metavar="DIR", help="certificates of the listening side")
    tls.add_argument("--upstream-pkipath", metavar="DIR", help="certificates of the connecting side")
    tls.add_argument("--no-verify", action="store_true", help="check no certificate (libvirt's no_verify=1)")
    rules = proxy.add_argument_group("changing messages (PROC: [PROGRAM.]PROCEDURE[:TYPE], patterns allowed)")
    rules.add_argument("--error", action="append", default=[], metavar="PROC=TEXT", help="replace the message of error replies to PROC")
    rules.add_argument("--drop", action="append", default=[], metavar="PROC", help="drop the messages of PROC")
    rules.add_argument("--delay", action="append", default=[], metavar="PROC=SECONDS", help="hold the messages of PROC back")
    rules.add_argument("--rewrite", metavar="FILE.py", help="a file defining rewrite(message)")
    read.add_argument("file", metavar="FILE", help="a pcap or pcapng capture")
    read.add_argument("--port", action="append", type=int, default=[], help="the server's TCP (or UDP) port (default: recognise the protocol on any port)")
    return parser


def _add_common(parser: argparse.ArgumentParser, package: str | None, framing: str | None) -> None:
    if package is None:
        parser.add_argument("--package", required=True, help="the generated package (imported by name)")
    if framing is None:
        parser.add_argument("--framing", default="libvirt", choices=sorted(FRAMINGS), help="the wire framing")
    parser.add_argument("--output", metavar="FILE", help="write the lines to FILE (default: standard output)")
    parser.add_argument("--payload", action="store_true", help="show the decoded payloads")
    parser.add_argument("--json", action="store_true", help="one JSON object per line")
    parser.add_argument("--program", action="append", default=[], help="show only this program (repeatable; patterns allowed)")
    parser.add_argument("--procedure", action="append", default=[], help="show only this procedure (name or number)")
    parser.add_argument("--type", action="append", default=[], help="show only this message type (call, reply, message, stream...)")


def _address(text: str) -> Address:
    try:
        return Address.parse(text)
    except AddressError as error:
        raise argparse.ArgumentTypeError(str(error)) from error


def main(
    argv: Sequence[str] | None = None,
    *,
    package: str | None = None,
    framing: str | None = None,
    prog: str = "python -m xdrgen.trace",
) -> int:
    args = build_parser(prog, package, framing).parse_args(argv)
    package = package or args.package
    framing_name = framing or args.framing
    try:
        chosen = FRAMINGS[framing_name]()
        catalog = Catalog.from_package(package)
        output = _output(args.output)
    except _FAILURES as error:
        print(f"{prog}: error: {error}", file=sys.stderr)
        return 2
    tracer = Tracer(
        Codecs(catalog, chosen),
        LineFormatter(payload=args.payload, json=args.json),
        output,
        Filter(args.program, args.procedure, args.type),
    )
    try:
        if args.command == "read":
            return _read(args, tracer, chosen, prog)
        return _proxy(args, tracer, chosen, prog)
    except BrokenPipeError:
        # The reader of our output went away (``... | head``): stop quietly.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except _FAILURES as error:
        print(f"{prog}: error: {error}", file=sys.stderr)
        return 2
    finally:
        try:
            output.close()
        except BrokenPipeError:
            pass


def _output(path: str | None) -> Output:
    if path is None:
        return Output(sys.stdout)
    stream: TextIO = open(path, "w", encoding="utf-8", buffering=1 << 16)  # noqa: SIM115 (closed by Output)
    return Output(stream, owned=True)


def _read(args: argparse.Namespace, tracer: Tracer, framing: Framing, prog: str) -> int:
    from .capture import CaptureError, CaptureReader

    try:
        with open(args.file, "rb") as file:
            summary = CaptureReader(tracer, framing, args.port).read(file)
    except CaptureError as error:
        print(f"{prog}: error: {error}", file=sys.stderr)
        return 2
    print(f"{prog}: {summary.text()}", file=sys.stderr)
    return 0


def _proxy(args: argparse.Namespace, tracer: Tracer, framing: Framing, prog: str) -> int:
    verify = not args.no_verify
    listen_tls = upstream_tls = None
    if args.listen_tls:
        listen_tls = tls_context(args.listen_pkipath or args.pkipath, server=True, verify=verify)
    if args.upstream_tls:
        upstream_tls = tls_context(args.upstream_pkipath or args.pkipath, server=False, verify=verify)
    if args.error and framing.error_type is None:
        raise RuleError(f"--error: {framing.name} has no error messages to change (replies carry a status)")
    rules = Rules.parse(args.error, args.drop, args.delay, args.rewrite)
    config = ProxyConfig(args.listen, args.upstream, listen_tls, upstream_tls)
    proxy = Proxy(config, framing, tracer, Rewriter(rules, tracer.codecs))

    def ready(address: Address) -> None:
        print(f"{prog}: listening on {address}, upstream {args.upstream}", file=sys.stderr, flush=True)

    asyncio.run(_serve_until_signal(proxy, ready))
    return 0


async def _serve_until_signal(proxy: Proxy, ready: Callable[[Address], None]) -> None:
    task = asyncio.create_task(proxy.serve(ready))
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, task.cancel)
    try:
        await task
    except asyncio.CancelledError:
        pass
