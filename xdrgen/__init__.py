"""xdrgen: a code generator for XDR (RFC 4506) and ONC RPC (RFC 5531) .x files.

This package stays import-light: the generator's heavy dependencies (lark,
jinja2, black) load only in the modules that need them, so that the runtime
(:mod:`xdrgen.runtime`) used by generated code imports none of them.
"""

__version__ = "0.1.0"
