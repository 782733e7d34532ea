"""The built-in object kinds, one module each: its objects and the test
driver's defaults, its procedures (a :class:`~..base.ProceduresBase`
mixin), and the :func:`~..registry.register` call that adds them to the
daemon.  :func:`~..registry.registered` imports every module here, so a
new module is a new kind; nothing else names it."""
