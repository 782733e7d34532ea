"""Where the grammar and the templates are, in a checkout or an installed wheel.

The wheel carries ``grammars/`` and ``templates/`` inside the
``xdrgen.compiler`` package (see ``[tool.hatch.build]`` in pyproject.toml);
a checkout or an editable install has them at the top of the repository.
"""

from __future__ import annotations

from pathlib import Path

_COMPILER = Path(__file__).resolve().parent
_CHECKOUT = _COMPILER.parent.parent


def _data_dir(name: str) -> Path:
    for candidate in (_COMPILER / name, _CHECKOUT / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"xdrgen: cannot find its {name}/ directory")


def grammar_path() -> Path:
    return _data_dir("grammars") / "xdr.lark"


def templates_dir() -> Path:
    return _data_dir("templates")


def prelude_path() -> Path:
    """Types that .x files take from ONC RPC's C headers (``<rpc/types.h>``,
    ``<rpc/rpcb_prot.h>``) without defining them; used only when a file does
    not define the name itself."""
    return grammars_dir() / "rpc_prelude.x"


def grammars_dir() -> Path:
    return _data_dir("grammars")
