"""What every command shares: the agent's options, JSON output and error handling."""

from __future__ import annotations

import json
import os
import sys
import traceback
from collections.abc import Callable
from typing import Any, TypeVar

import click

from ..agent import Agent
from ..decide.planner import ON_FAILURE
from ..domain.errors import ReleaseAgentError, UserError
from ..domain.policy import load_policy
from ..memory.store import Store
from ..reasoners.registry import REASONER_NAMES, build_reasoner

F = TypeVar("F", bound=Callable[..., Any])

EXIT_OK, EXIT_ERROR, EXIT_INPUT, EXIT_DELAY, EXIT_NO_GO = 0, 1, 2, 3, 4


def db_option(function: F) -> F:
    return click.option(
        "--db",
        metavar="URL",
        envvar="RELEASE_AGENT_DB",
        help="Database URL (default: an SQLite file in your data directory). "
        "Env: RELEASE_AGENT_DB.",
    )(function)


def policy_option(function: F) -> F:
    return click.option(
        "--policy",
        metavar="FILE",
        type=click.Path(dir_okay=False),
        help="Policy file (TOML): freezes, costs, settings. Env: RELEASE_AGENT_POLICY.",
    )(function)


def reasoner_options(function: F) -> F:
    """--reasoner, --model and --on-llm-failure."""
    function = click.option(
        "--on-llm-failure",
        type=click.Choice(ON_FAILURE),
        envvar="RELEASE_AGENT_ON_LLM_FAILURE",
        default="delay",
        show_default=True,
        help="On an LLM fault: 'delay' fails closed (DELAY, or NO_GO where the built-in "
        "reasoner says so); 'builtin' takes the built-in reasoner's decision.",
    )(function)
    function = click.option("--model", metavar="NAME", help="LLM model. Env: RELEASE_AGENT_MODEL.")(
        function
    )
    function = click.option(
        "--reasoner",
        type=click.Choice(REASONER_NAMES, case_sensitive=False),
        help="Who reasons (default: RELEASE_AGENT_REASONER, else gemini when "
        "GEMINI_API_KEY or GOOGLE_API_KEY is set, else builtin).",
    )(function)
    return function


def agent_options(function: F) -> F:
    return db_option(policy_option(reasoner_options(function)))


def build_agent(
    db: str | None = None,
    policy: str | None = None,
    reasoner: str | None = None,
    model: str | None = None,
    on_llm_failure: str = "delay",
) -> Agent:
    """An Agent over the chosen database, policy and reasoner (UserError if any is wrong)."""
    chosen = build_reasoner(reasoner, model)
    return Agent(Store.open(db), load_policy(policy), chosen, on_llm_failure=on_llm_failure)


def echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


class ReleaseAgentGroup(click.Group):
    """Maps our errors to exit codes: 2 for bad input, 1 for anything else."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except UserError as error:
            click.echo(f"error: {error}", err=True)
            ctx.exit(EXIT_INPUT)
        except ReleaseAgentError as error:
            click.echo(f"error: {error}", err=True)
            ctx.exit(EXIT_ERROR)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except Exception as error:  # the last line of defence: say it, exit 1
            if os.environ.get("RELEASE_AGENT_DEBUG"):
                traceback.print_exc(file=sys.stderr)
            click.echo(f"unexpected error: {type(error).__name__}: {error}", err=True)
            ctx.exit(EXIT_ERROR)
