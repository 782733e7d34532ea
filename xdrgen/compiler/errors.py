"""The one error type of the front end: a message tied to a source location."""

from __future__ import annotations

from .ir import Location


class XdrgenError(Exception):
    """A located error in a .x file (syntax, preprocessor or semantic).

    ``str()`` gives the ``FILE:LINE:COL: error: MESSAGE`` line the CLI prints;
    ``related`` points at the other side of a clash (e.g. the first definition
    of a duplicate name).
    """

    def __init__(
        self, location: Location, message: str, related: Location | None = None
    ) -> None:
        self.location = location
        self.message = message
        self.related = related
        super().__init__(self.format())

    def format(self) -> str:
        text = f"{self.location}: error: {self.message}"
        if self.related is not None:
            text += f"\n{self.related}: note: previous definition is here"
        return text
