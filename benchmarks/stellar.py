"""Decode and encode speed on a foreign protocol: Stellar's
``TransactionEnvelope``, with the classes xdrgen generates from Stellar's
``.x`` files next to the peer a Stellar user would pick, ``stellar-sdk``'s
own XDR classes (``stellar_sdk.xdr``).

Run from the repository root::

    python benchmarks/stellar.py            # full run (about 30 s on 2 idle cores)
    python benchmarks/stellar.py --quick    # short run (a few seconds; smoke test)

The values are the 50 ``TransactionEnvelope`` values that the SDK's own
tests publish (``tests/corpus/vectors/stellar-py-sdk.json``: payments,
path payments, offers, Soroban invocations, fee bumps...).  The Stellar
modules are generated afresh from ``tests/corpus/stellar/*.x`` (the
stellar-xdr commit the SDK's classes come from) into a temporary
directory.

``xdrgen``
    ``TransactionEnvelope.decode(raw)`` / ``value.encode()`` of the
    generated package.
``stellar-sdk``
    ``TransactionEnvelope.from_xdr_bytes(raw)`` / ``value.to_xdr_bytes()``
    of ``stellar_sdk.xdr``.

Before anything is timed, both decode every value and encode it back to the
same bytes.  Timing: ``time.perf_counter`` around a loop over all 50 values,
repeated so that one measurement takes about ``--min-time`` seconds; the
two codecs are interleaved (one measurement of each per round) and the best
of ``--repeat`` rounds is kept (``timing.py``, as ``codec.py``).  The last line gives the ratios: how many
times faster the generated classes are.
"""

from __future__ import annotations

import checkout  # noqa: F401  (this checkout's xdrgen first)

import argparse
import base64
import importlib
import json
import platform
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from stellar_sdk.__version__ import __version__ as sdk_version
from stellar_sdk import xdr as sdk_xdr

from xdrgen.compiler.project import Target, generate_files, write_files
from xdrgen.compiler.resolve import load

from timing import best_interleaved  # this folder's

ROOT = Path(__file__).resolve().parent.parent
STELLAR = ROOT / "tests" / "corpus" / "stellar"
VECTORS = ROOT / "tests" / "corpus" / "vectors" / "stellar-py-sdk.json"
PACKAGE = "stellar_xdr_bench"


def generated_envelope_class(directory: Path) -> type[Any]:
    """Generate the Stellar package into ``directory``; its TransactionEnvelope."""
    target = Target(inputs=tuple(sorted(STELLAR.glob("*.x"))), package=PACKAGE, output=directory)
    write_files(target.package_dir, generate_files(target))
    sys.path.insert(0, str(directory))
    module, name = load(STELLAR / "Stellar-transaction.x").names.classes["TransactionEnvelope"]
    return getattr(importlib.import_module(f"{PACKAGE}.{module}"), name)  # type: ignore[no-any-return]


def envelopes() -> list[bytes]:
    data = json.loads(VECTORS.read_text(encoding="utf-8"))
    return [base64.b64decode(v["base64"]) for v in data["vectors"] if v["type"] == "TransactionEnvelope"]


def check(raws: list[bytes], decode: Callable[[bytes], Any], encode: Callable[[Any], bytes], who: str) -> list[Any]:
    values = [decode(raw) for raw in raws]
    for raw, value in zip(raws, values):
        if encode(value) != raw:
            raise SystemExit(f"{who}: an envelope does not encode back to its bytes")
    return values


def over(function: Callable[[Any], Any], items: list[Any]) -> Callable[[], None]:
    """One pass of ``function`` over all ``items``."""

    def run() -> None:
        for item in items:
            function(item)

    return run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a short run (smoke test)")
    parser.add_argument("--repeat", type=int, help="rounds (best kept)")
    parser.add_argument("--min-time", type=float, help="seconds per measurement")
    args = parser.parse_args(argv)
    repeat = args.repeat or (2 if args.quick else 7)
    min_time = args.min_time or (0.05 if args.quick else 0.5)

    raws = envelopes()
    with tempfile.TemporaryDirectory() as directory:
        ours = generated_envelope_class(Path(directory))
        ours_values = check(raws, ours.decode, lambda value: value.encode(), "xdrgen")
        sdk = sdk_xdr.TransactionEnvelope
        sdk_values = check(raws, sdk.from_xdr_bytes, lambda value: value.to_xdr_bytes(), "stellar-sdk")
        print(f"Python {platform.python_version()}, stellar-sdk {sdk_version}; "
              f"{len(raws)} TransactionEnvelope values, {sum(map(len, raws))} bytes in all")  # fmt: skip
        print("both decode every value and encode it back to the same bytes: OK")

        runs = {
            ("decode", "xdrgen"): over(ours.decode, raws),
            ("decode", "stellar-sdk"): over(sdk.from_xdr_bytes, raws),
            ("encode", "xdrgen"): over(ours.encode, ours_values),  # XdrValue.encode
            ("encode", "stellar-sdk"): over(sdk.to_xdr_bytes, sdk_values),
        }
        best = best_interleaved(runs, repeat, min_time)  # seconds per pass over all values

    print(f"{'op':<8}{'xdrgen':>14}{'stellar-sdk':>16}{'ratio':>9}   (microseconds per envelope)")
    ratios = {}
    for op in ("decode", "encode"):
        mine, theirs = best[(op, "xdrgen")], best[(op, "stellar-sdk")]
        ratios[op] = theirs / mine
        per = 1e6 / len(raws)
        print(f"{op:<8}{mine * per:>14.1f}{theirs * per:>16.1f}{ratios[op]:>8.1f}x")
    print(f"xdrgen / stellar-sdk: decode {ratios['decode']:.1f}x faster, encode {ratios['encode']:.1f}x faster")
    return 0


if __name__ == "__main__":
    sys.exit(main())
