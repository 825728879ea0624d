"""Progress for long work, drawn on standard error and only when it is a terminal.

Nothing is drawn under ``--json`` or when standard error is a pipe or a file, so scripts
and logs never see a bar, and standard output carries only the result.
"""

from __future__ import annotations

import itertools
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TextIO

import click

FRAMES = "|/-\\"
SPIN_EVERY = 0.1


def terminal(as_json: bool) -> TextIO | None:
    """Standard error when progress may be drawn on it, else None."""
    stream = sys.stderr
    if as_json or not stream.isatty():
        return None
    return stream


class Bar:
    """A progress bar fed ``(done, total)``; nothing when ``stream`` is None.

    Use as a context manager; the bar opens at the first report, when the total is known.
    """

    def __init__(self, label: str, stream: TextIO | None) -> None:
        self.label = label
        self.stream = stream
        self._bar: Any = None

    def __call__(self, done: int, total: int) -> None:
        if self.stream is None or total <= 0:
            return
        if self._bar is None:
            self._bar = click.progressbar(length=total, label=self.label, file=self.stream)
            self._bar.__enter__()
        self._bar.update(max(0, min(done, total) - self._bar.pos))

    def __enter__(self) -> Bar:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.__exit__(None, None, None)
            self._bar = None


@contextmanager
def spinner(label: str, stream: TextIO | None) -> Iterator[None]:
    """Show ``label`` with a turning wheel while the block runs; nothing when ``stream``
    is None. The line is cleared when the block ends, however it ends."""
    if stream is None:
        yield
        return
    done = threading.Event()

    def spin() -> None:
        for frame in itertools.cycle(FRAMES):
            stream.write(f"\r{label} {frame}")
            stream.flush()
            if done.wait(SPIN_EVERY):
                return

    thread = threading.Thread(target=spin, name="release-agent-spinner", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()
        stream.write("\r" + " " * (len(label) + 2) + "\r")
        stream.flush()
