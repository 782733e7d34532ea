"""The Jinja environment shared by all generators."""

from __future__ import annotations

import functools

import jinja2

from ..resources import templates_dir
from .layout import docstring


@functools.cache
def environment() -> jinja2.Environment:
    """One environment per process: templates are compiled once and the
    environment holds no per-run state."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir())),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    )
    # {{ text | docstring(8) }}: a docstring as black prints it 8 columns in
    env.filters["docstring"] = lambda text, width: docstring(text, " " * width)
    return env


def render(template: str, **context: object) -> str:
    return environment().get_template(template).render(**context)
