"""What generated code and the libvirt client/server call at run time.

Nothing under this package imports lark, jinja2 or black: generated modules
must work with only the standard library and this package installed.
"""
