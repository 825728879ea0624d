"""What every command shares: exit codes, JSON output and error handling.

Errors and their exit codes: bad input (ours, or click's: an unknown option, a value not
allowed) exits 2, anything else 1. With ``--json`` the error is a JSON object on standard
output, in the API's shape::

    {"detail": [{"field": "--risk", "message": "...", "allowed": ["LOW", "MEDIUM", "HIGH"]}]}

and without it a line ``error: ...`` on standard error (click's usage text for click's
errors).
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import traceback
from typing import Any

import click

from ..domain.errors import ReleaseAgentError, UserError
from .options import JSON_FLAG, JSON_REQUESTED

EXIT_OK, EXIT_ERROR, EXIT_INPUT, EXIT_DELAY, EXIT_NO_GO = 0, 1, 2, 3, 4

_ARGUMENTS = "release_agent.arguments"


def echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


def _entry(field: str | None, message: str, allowed: list[str] | None = None) -> dict[str, Any]:
    """One error as the API reports it (see :mod:`release_agent.api.errors`)."""
    return {"field": field, "message": message, "allowed": allowed}


def click_problem(error: click.ClickException) -> dict[str, Any]:
    """A click usage error as the API reports an error: the option at fault, what is
    wrong, and the allowed values where click knows them."""
    field: str | None = None
    allowed: list[str] | None = None
    param = getattr(error, "param", None)
    if isinstance(param, click.Parameter):
        field = param.opts[0] if param.opts else param.name
        choices = getattr(param.type, "choices", None)
        if choices is not None:
            allowed = [str(choice) for choice in choices]
    elif isinstance(error, click.NoSuchOption):
        # As the API answers an unknown field: with the names that are known.
        field = error.option_name
        if error.ctx is not None:
            params = error.ctx.command.get_params(error.ctx)
            allowed = sorted(opt for p in params for opt in p.opts if opt.startswith("-"))
    elif isinstance(error, click.BadOptionUsage):
        field = error.option_name
    return _entry(field, error.format_message(), allowed)


def _wants_json(ctx: click.Context) -> bool:
    """Whether the failed call asked for ``--json``.

    ``--json`` is eager, so it is recorded before any other option is checked; an error
    of the parser itself (an unknown option) comes before that, and then the arguments
    decide (up to a ``--``, after which everything is an argument).
    """
    if ctx.meta.get(JSON_REQUESTED):
        return True
    arguments: list[str] = ctx.meta.get(_ARGUMENTS, [])
    options = arguments[: arguments.index("--")] if "--" in arguments else arguments
    return JSON_FLAG in options


class ReleaseAgentGroup(click.Group):
    """Maps our errors to exit codes: 2 for bad input, 1 for anything else."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        ctx.meta[_ARGUMENTS] = list(args)
        return super().parse_args(ctx, args)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.Abort):
            raise
        except click.ClickException as error:
            if not _wants_json(ctx):
                raise
            echo_json({"detail": [click_problem(error)]})
            ctx.exit(error.exit_code)
        except BrokenPipeError:
            # The reader went away (`release-agent episodes | head`): stop quietly. Point
            # stdout at devnull so that flushing it at exit cannot fail again.
            with contextlib.suppress(OSError, ValueError):
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            ctx.exit(EXIT_ERROR)
        except UserError as error:
            self._fail(ctx, error.to_dict(), EXIT_INPUT, f"error: {error}")
        except ReleaseAgentError as error:
            self._fail(ctx, _entry(None, str(error)), EXIT_ERROR, f"error: {error}")
        except Exception as error:  # the last line of defence: say it, exit 1
            if os.environ.get("RELEASE_AGENT_DEBUG"):
                traceback.print_exc(file=sys.stderr)
            message = f"unexpected error: {type(error).__name__}: {error}"
            self._fail(ctx, _entry(None, message), EXIT_ERROR, message)

    @staticmethod
    def _fail(ctx: click.Context, entry: dict[str, Any], code: int, text: str) -> None:
        if _wants_json(ctx):
            echo_json({"detail": [entry]})
        else:
            click.echo(text, err=True)
        ctx.exit(code)
