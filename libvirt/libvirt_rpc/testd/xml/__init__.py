"""XML as libvirt reads and writes it, for every object kind: two-space
indent, single-quoted attributes, empty elements closed with '/>', and the
errors libvirt gives for bad XML.

This package holds all the daemon's XML: the helpers here, and one module
per kind (:mod:`.domain`, :mod:`.network`, :mod:`.storage`,
:mod:`.interface`, :mod:`.nodedev`, :mod:`.snapshot`, :mod:`.host` for
capabilities and sysinfo).
"""

from __future__ import annotations

import uuid as uuidlib
import xml.etree.ElementTree as ET
from collections.abc import Iterable

from ...errors import ErrorDomain
from ...errors import ErrorNumber as E
from ...errors import LibvirtError
from ...server import rpc_error

Attributes = Iterable[tuple[str, object]]

_UNITS = {
    "b": 1, "bytes": 1,
    "k": 1024, "kib": 1024, "kb": 1000,
    "m": 1024**2, "mib": 1024**2, "mb": 1000**2,
    "g": 1024**3, "gib": 1024**3, "gb": 1000**3,
    "t": 1024**4, "tib": 1024**4, "tb": 1000**4,
    "p": 1024**5, "pib": 1024**5, "pb": 1000**5,
    "e": 1024**6, "eib": 1024**6, "eb": 1000**6,
}  # fmt: skip


def escape(text: str) -> str:
    """Text as element content."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def escape_attribute(text: str) -> str:
    """Text as a single-quoted attribute value."""
    return escape(text).replace("'", "&apos;")


def _attributes(attrs: Attributes) -> str:
    return "".join(f" {k}='{escape_attribute(str(v))}'" for k, v in attrs if v is not None)


def format_element(element: ET.Element, indent: int) -> str:
    """An element (kept as given, e.g. a domain's device) the way libvirt
    writes XML."""
    pad = " " * indent
    attrs = _attributes(element.attrib.items())
    text = (element.text or "").strip()
    if len(element) == 0:
        if text:
            return f"{pad}<{element.tag}{attrs}>{escape(text)}</{element.tag}>\n"
        return f"{pad}<{element.tag}{attrs}/>\n"
    inner = "".join(format_element(child, indent + 2) for child in element)
    return f"{pad}<{element.tag}{attrs}>\n{inner}{pad}</{element.tag}>\n"


class Writer:
    """Builds a document line by line as libvirt's virBuffer code does;
    attributes whose value is None are left out."""

    def __init__(self) -> None:
        self._lines: list[str] = []
        self._depth = 0

    def _pad(self) -> str:
        return "  " * self._depth

    def open(self, tag: str, attrs: Attributes = ()) -> None:
        self._lines.append(f"{self._pad()}<{tag}{_attributes(attrs)}>\n")
        self._depth += 1

    def close(self, tag: str) -> None:
        self._depth -= 1
        self._lines.append(f"{self._pad()}</{tag}>\n")

    def empty(self, tag: str, attrs: Attributes = ()) -> None:
        self._lines.append(f"{self._pad()}<{tag}{_attributes(attrs)}/>\n")

    def leaf(self, tag: str, text: object, attrs: Attributes = ()) -> None:
        """``<tag attrs>text</tag>`` (an empty text too: libvirt writes
        ``<doi></doi>``)."""
        self._lines.append(f"{self._pad()}<{tag}{_attributes(attrs)}>{escape(str(text))}</{tag}>\n")

    def element(self, element: ET.Element) -> None:
        """An element kept as given."""
        self._lines.append(format_element(element, 2 * self._depth))

    def raw(self, text: str) -> None:
        self._lines.append(text)

    def document(self, text: str) -> None:
        """A whole document (a snapshot's domain) nested at this depth."""
        self._lines += [f"{self._pad()}{line}\n" for line in text.splitlines()]

    def text(self) -> str:
        return "".join(self._lines)


def xml_error(info: str, domain: int = ErrorDomain.VIR_FROM_DOMAIN) -> LibvirtError:
    return rpc_error(E.VIR_ERR_XML_ERROR, info, domain=domain)


def parse_document(text: str, root: str, what: str, domain: int) -> ET.Element:
    """The root element of ``text``, which must be ``<root>``; ``what`` names
    the document in parse errors ("domain_definition", ...)."""
    try:
        element = ET.fromstring(text)
    except ET.ParseError as error:  # libxml2 words it otherwise
        raise rpc_error(E.VIR_ERR_XML_DETAIL, f"({what}):{error}", domain=domain) from None
    if element.tag != root:
        raise xml_error(f"expecting root element of '{root}', not '{element.tag}'", ErrorDomain.VIR_FROM_XML)
    return element


def scaled(element: ET.Element | None, what: str, default_unit: str, domain: int) -> int | None:
    """A size element's value in bytes (``unit`` attribute, or
    ``default_unit``); None when the element is absent."""
    if element is None:
        return None
    unit = (element.get("unit") or default_unit).lower()
    if unit not in _UNITS:
        raise xml_error(f"unknown unit '{element.get('unit')}' for {what}", domain)
    try:
        value = int((element.text or "").strip())
    except ValueError:
        raise xml_error(f"invalid value for {what}", domain) from None
    return value * _UNITS[unit]


def uuid_of(root: ET.Element, domain: int) -> bytes:
    """The ``<uuid>`` of a definition, a random one when it has none."""
    raw = text_of(root, "uuid")
    if raw is None:
        return uuidlib.uuid4().bytes
    try:
        return uuidlib.UUID(raw).bytes
    except ValueError:
        raise xml_error("malformed uuid element", domain) from None


def text_of(root: ET.Element, path: str) -> str | None:
    """The stripped text at ``path``, None when absent or empty."""
    value = (root.findtext(path) or "").strip()
    return value or None
