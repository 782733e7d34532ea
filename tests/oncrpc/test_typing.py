"""The stub-facing API type-checks: ``mypy --strict`` passes on the runtime
and on toy.py (stubs written as the generator will write them), and
catches a caller's mistakes through them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent

MISTAKES = '''
import asyncio
from toy import ToyV3AsyncClient, ToyV3Client, TOYPROC_WHOAMI, Identity
from xdrgen.runtime.oncrpc import Procedure

client = ToyV3Client.connect("127.0.0.1", 1)
total: str = client.toyproc_add(1, 2)
client.toyproc_add("1", 2)
who: Identity = client.channel.call(1, 1, TOYPROC_WHOAMI)
wrong: int = client.channel.call(1, 1, TOYPROC_WHOAMI)

async def main() -> None:
    async with ToyV3AsyncClient.connect("127.0.0.1") as aclient:
        oops: str = await aclient.toyproc_add(1, 2)
    same = await ToyV3AsyncClient.connect("127.0.0.1")
    reveal_type(same)
'''


def mypy(tmp_path: Path, *targets: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, MYPYPATH=os.pathsep.join([str(ROOT), str(HERE)]))
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-error-summary", "--no-site-packages",
         "--cache-dir", str(tmp_path / "cache"), *targets],  # fmt: skip
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_runtime_and_stubs_pass_mypy_strict(tmp_path: Path) -> None:
    result = mypy(tmp_path, "-p", "xdrgen.runtime.oncrpc", "-m", "toy")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_catches_mistakes_through_the_stubs(tmp_path: Path) -> None:
    (tmp_path / "mistakes.py").write_text(MISTAKES)
    result = mypy(tmp_path, "mistakes.py")
    lines = [line.split(": ", 1)[1] for line in result.stdout.splitlines() if line.startswith("mistakes.py")]
    assert lines == [
        'error: Incompatible types in assignment (expression has type "int", variable has type "str")  [assignment]',
        'error: Argument 1 to "toyproc_add" of "ToyV3Client" has incompatible type "str"; expected "int"  [arg-type]',
        'error: Incompatible types in assignment (expression has type "Identity", variable has type "int")  [assignment]',
        'error: Incompatible types in assignment (expression has type "int", variable has type "str")  [assignment]',
        'note: Revealed type is "toy.ToyV3AsyncClient"',
    ], result.stdout
