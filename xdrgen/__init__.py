"""xdrgen: a code generator for XDR (RFC 4506) and ONC RPC (RFC 5531) .x files.

Two layers, imported one way:

- :mod:`xdrgen.runtime`: what generated code imports at run time (XDR
  primitives, the RPC machinery); standard library only.  This is all that
  ``pip install xdrgen-py`` brings.
- :mod:`xdrgen.compiler`: preprocessor, parser, IR, resolver, generators,
  command line and hatchling build hook; needs ``xdrgen-py[compiler]``
  (lark, jinja2, black).  It may import the runtime, never the reverse.
"""

__version__ = "0.1.0"

#: The distribution that carries this package, and the pip line that adds
#: the compiler's dependencies.
DISTRIBUTION = "xdrgen-py"
COMPILER_INSTALL = f"pip install '{DISTRIBUTION}[compiler]'"
