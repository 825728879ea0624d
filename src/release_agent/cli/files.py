"""Files that commands write: checked before any work starts, replaced whole when done."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click


class OutputFile(click.ParamType):
    """A path that a command will write at its end, checked when the option is parsed.

    A long run (a simulation, an export) must not fail at its last step because of a typo
    in a path, so the directory must exist and be writable, the path must not be a
    directory, and an existing file must be writable. ``-`` (standard output) is accepted
    when ``allow_dash``. The value is the path as given (a str).
    """

    name = "file"

    def __init__(self, *, allow_dash: bool = False) -> None:
        self.allow_dash = allow_dash

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        text = os.fspath(value)
        if text == "-" and self.allow_dash:
            return text
        path = Path(text).expanduser()
        folder = path.parent
        if path.is_dir():
            self.fail(f"{text!r} is a directory; name a file", param, ctx)
        if not folder.is_dir():
            self.fail(f"the directory {str(folder)!r} does not exist", param, ctx)
        if not os.access(folder, os.W_OK | os.X_OK):
            self.fail(f"the directory {str(folder)!r} is not writable", param, ctx)
        if path.exists() and not os.access(path, os.W_OK):
            self.fail(f"{text!r} exists and is not writable", param, ctx)
        return text


def write_atomically(path: str, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` so that readers see the old file or the new one,
    never half of it. Raises OSError if the disk refuses."""
    target = Path(path).expanduser()
    partial = target.with_name(target.name + ".partial")
    try:
        partial.write_text(text, encoding="utf-8")
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)
    return target
