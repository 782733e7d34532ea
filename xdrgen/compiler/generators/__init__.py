"""Back ends: each module turns a resolved :class:`~xdrgen.compiler.resolve.Protocol`
into one kind of output, rendered from the templates under ``templates/``."""
