"""What a step tells a GitHub Actions runner: outputs, a job summary, masks and log lines.

The runner reads four channels, and each treats text as commands or markup, so everything
written here that came from elsewhere (a decision's reason, a server's error message) is
made inert first:

- ``$GITHUB_OUTPUT``: ``name<<DELIMITER`` blocks; the delimiter is random and never occurs
  in the value, so a value cannot end its block early and set another output;
- ``$GITHUB_STEP_SUMMARY``: GitHub-flavoured Markdown; untrusted text is escaped so it
  renders as the same characters and never as a link, an image, a table or HTML;
- standard output: lines starting with ``::`` (or holding ``##[``) are workflow commands;
  untrusted lines are printed between ``::stop-commands::`` and its random end token;
- ``::add-mask::``: hides a secret in the job's log, sent only when running under Actions.

Only the standard library is used: the action runs this without installing anything in
server mode.
"""

from __future__ import annotations

import re
import secrets
import string
import sys
import unicodedata
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TextIO

# What a log or terminal acts on or cannot show: controls (C0, DEL, C1), line and
# paragraph separators, surrogates; and bidirectional controls, which reorder the text
# around them.
_HIDDEN_CATEGORIES = frozenset({"Cc", "Zl", "Zp", "Cs"})
_BIDI_CONTROLS = frozenset(
    chr(code) for code in (0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A))
)
_HTML_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
_OUTPUT_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


def in_actions(environ: Mapping[str, str]) -> bool:
    """True when running as a step of a GitHub Actions job."""
    return environ.get("GITHUB_ACTIONS") == "true"


def visible(text: str) -> str:
    """``text`` on one line, with every control, separator, surrogate and bidirectional
    control character written as a visible escape (a newline becomes ``\\x0a``)."""

    def escape(char: str) -> str:
        if char in _BIDI_CONTROLS or unicodedata.category(char) in _HIDDEN_CATEGORIES:
            code = ord(char)
            return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"
        return char

    return "".join(escape(char) for char in text)


def markdown_text(text: str) -> str:
    """``text`` as Markdown that renders as exactly ``visible(text)``: ``&``, ``<`` and
    ``>`` as HTML entities, every other ASCII punctuation mark backslash-escaped (so no
    emphasis, link, image, table cell, heading or autolink can start), on one line."""
    out = []
    for char in visible(text):
        if char in _HTML_ENTITIES:
            out.append(_HTML_ENTITIES[char])
        elif char in string.punctuation:
            out.append("\\" + char)
        else:
            out.append(char)
    return "".join(out)


def markdown_paragraph(text: str) -> str:
    """Multi-line ``text`` as escaped Markdown lines joined by hard line breaks; blank
    lines are dropped so that the text stays one paragraph."""
    lines = [markdown_text(line.strip()) for line in text.splitlines()]
    return "\\\n".join(line for line in lines if line)


def command_data(text: str) -> str:
    """``text`` escaped as the data of a workflow command (``::error::DATA``): ``%``, CR
    and LF percent-encoded, and ``##[`` (the older command syntax, matched anywhere on a
    line) written ``##\\x5b``."""
    escaped = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return escaped.replace("##[", "##\\x5b")


def new_delimiter(values: Iterable[str]) -> str:
    """A random delimiter that occurs in none of ``values``."""
    values = list(values)
    while True:
        delimiter = f"ghadelimiter_{secrets.token_hex(16)}"
        if not any(delimiter in value for value in values):
            return delimiter


def write_outputs(path: Path, outputs: Mapping[str, str]) -> None:
    """Append ``outputs`` to the ``$GITHUB_OUTPUT`` file at ``path``, each as a
    ``name<<DELIMITER`` block with its own random delimiter (any value may span lines)."""
    blocks = []
    for name, value in outputs.items():
        if not _OUTPUT_NAME.match(name):
            raise ValueError(f"{name!r} is not an output name")
        delimiter = new_delimiter([value])
        blocks.append(f"{name}<<{delimiter}\n{value}\n{delimiter}\n")
    with path.open("a", encoding="utf-8", newline="\n") as file:
        file.write("".join(blocks))


def append_summary(path: Path, markdown: str) -> None:
    """Append ``markdown`` to the ``$GITHUB_STEP_SUMMARY`` file at ``path``."""
    with path.open("a", encoding="utf-8", newline="\n") as file:
        file.write(markdown if markdown.endswith("\n") else markdown + "\n")


class Log:
    """The step's log: plain lines outside Actions; inside, masks and annotations as
    workflow commands, and untrusted text with workflow commands stopped around it."""

    def __init__(self, environ: Mapping[str, str], out: TextIO | None = None) -> None:
        self.actions = in_actions(environ)
        self.out = out if out is not None else sys.stdout
        self.err = sys.stderr

    def mask(self, secret: str) -> None:
        """Ask the runner to hide ``secret`` in the log (each of its lines: a command ends
        at a line's end). Outside Actions nothing is printed: there is no runner to
        consume the command, so it would show the secret."""
        if self.actions:
            for line in secret.splitlines():
                if line:
                    self.out.write(f"::add-mask::{line}\n")
            self.out.flush()

    def info(self, line: str) -> None:
        """A line written by this program (its own words, no untrusted text)."""
        self.out.write(line + "\n")
        self.out.flush()

    def untrusted(self, lines: Iterable[str]) -> None:
        """Lines of untrusted text, each made visible; under Actions between
        ``::stop-commands::TOKEN`` and ``::TOKEN::`` so none can act as a command."""
        shown = [visible(line) for line in lines]
        if not self.actions:
            self.out.write("".join(line + "\n" for line in shown))
        else:
            token = new_delimiter(shown)
            self.out.write(f"::stop-commands::{token}\n")
            self.out.write("".join(line + "\n" for line in shown))
            self.out.write(f"::{token}::\n")
        self.out.flush()

    def error(self, message: str) -> None:
        """An error: an ``::error::`` annotation under Actions, else ``error: ...`` on
        standard error. ``message`` may hold untrusted text: each of its lines is made
        visible, and under Actions the whole is escaped as the command's data."""
        lines = "\n".join(visible(line) for line in message.splitlines())
        if self.actions:
            self.out.write(f"::error title=release gate::{command_data(lines)}\n")
            self.out.flush()
        else:
            self.err.write("error: " + lines.replace("\n", "\n  ") + "\n")
            self.err.flush()

    def warning(self, message: str) -> None:
        """A warning, escaped as :meth:`error` escapes errors."""
        lines = "\n".join(visible(line) for line in message.splitlines())
        if self.actions:
            self.out.write(f"::warning title=release gate::{command_data(lines)}\n")
            self.out.flush()
        else:
            self.err.write("warning: " + lines.replace("\n", "\n  ") + "\n")
            self.err.flush()
