"""Numbers and words from ``sasl.h`` that the negotiation needs before any
library is loaded: the callback ids a client may answer and the three
outcomes of a step.  Kept apart from :mod:`.cyrus` so that connecting
without SASL never imports :mod:`ctypes`.
"""

from __future__ import annotations

__all__ = [
    "COMPLETE",
    "CONTINUE",
    "INTERACT",
    "SASL_CB_USER",
    "SASL_CB_AUTHNAME",
    "SASL_CB_LANGUAGE",
    "SASL_CB_PASS",
    "SASL_CB_ECHOPROMPT",
    "SASL_CB_NOECHOPROMPT",
    "SASL_CB_CNONCE",
    "SASL_CB_GETREALM",
]

# sasl.h: the callback ids a client may offer (prompt_supp)
SASL_CB_USER = 0x4001
SASL_CB_AUTHNAME = 0x4002
SASL_CB_LANGUAGE = 0x4003
SASL_CB_PASS = 0x4004
SASL_CB_ECHOPROMPT = 0x4005
SASL_CB_NOECHOPROMPT = 0x4006
SASL_CB_CNONCE = 0x4007
SASL_CB_GETREALM = 0x4008

#: What a negotiation step reports (libvirt's VIR_NET_SASL_COMPLETE /
#: _CONTINUE / _INTERACT).
COMPLETE, CONTINUE, INTERACT = "complete", "continue", "interact"
