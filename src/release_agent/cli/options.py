"""The options that commands share, declared once: ``--json`` and the agent's options.

Every command takes ``--json`` through :func:`output_options`; every command that runs
the agent takes ``--db``, ``--policy``, ``--reasoner``, ``--model`` and ``--on-llm-failure``
through :func:`agent_options`, which hands the command one :class:`AgentOptions`.

This module imports only click: the allowed values of the options live in modules that
load pydantic, the planner and the statistics stack, and are read (see
:class:`DeferredChoice`) only when an option is parsed, completed or described, so that
``release-agent --help`` and shell completion stay fast.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar, cast

import click

if TYPE_CHECKING:
    from ..agent import Agent
    from ..reasoners.base import Reasoner

F = TypeVar("F", bound=Callable[..., Any])

JSON_FLAG = "--json"
JSON_REQUESTED = "release_agent.json"
"""Key in ``click.Context.meta``: set once ``--json`` has been parsed (see common.py)."""


class DeferredChoice(click.Choice[str]):
    """A :class:`click.Choice` whose values are read from the library on first use.

    ``load`` returns the allowed values; it is called whenever click needs them (to check
    a value, to complete one, or to print ``--help``), never at import time.
    """

    def __init__(self, load: Callable[[], Iterable[str]], case_sensitive: bool = True) -> None:
        # click.Choice.__init__ would read the values now, which is what this avoids.
        self._load = load
        self.case_sensitive = case_sensitive

    @property
    def choices(self) -> Sequence[str]:  # type: ignore[override]
        return tuple(self._load())


def _levels() -> list[str]:
    from ..domain.models import Level

    return [level.value for level in Level]


def _results() -> list[str]:
    from ..domain.models import Result

    return [result.value for result in Result]


def _statuses() -> list[str]:
    from ..domain.models import HeuristicStatus

    return [status.value for status in HeuristicStatus] + ["all"]


def _reasoners() -> Sequence[str]:
    from ..reasoners.registry import REASONER_NAMES

    return REASONER_NAMES


def _failure_modes() -> Sequence[str]:
    from ..domain.models import ON_FAILURE

    return ON_FAILURE


LEVELS = DeferredChoice(_levels, case_sensitive=False)
RESULTS = DeferredChoice(_results)
HEURISTIC_STATUSES = DeferredChoice(_statuses)


class Utf8Text(click.ParamType):
    """Text that is valid UTF-8.

    On POSIX, bytes of the command line that are not UTF-8 reach Python as lone
    surrogates (``surrogateescape``); they cannot be stored or printed as text, so they are
    refused here, as bad input naming the option, before anything is written.
    """

    name = "text"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        text = str(value)
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as error:
            code = ord(text[error.start])
            what = (
                f"byte 0x{code - 0xDC00:02X}"
                if 0xDC80 <= code <= 0xDCFF
                else f"lone surrogate U+{code:04X}"
            )
            self.fail(
                f"is not valid UTF-8 text ({what} at character {error.start + 1})", param, ctx
            )
        return text


TEXT = Utf8Text()


def _remember_json(ctx: click.Context, _param: click.Parameter, value: bool) -> bool:
    if value:
        ctx.meta[JSON_REQUESTED] = True
    return value


def output_options(function: F) -> F:
    """``--json``: one JSON document on standard output instead of text.

    The flag is eager, so it is known before any other option is checked: the errors of a
    ``--json`` call are JSON too (see :class:`release_agent.cli.common.ReleaseAgentGroup`).
    """
    return click.option(
        JSON_FLAG,
        "as_json",
        is_flag=True,
        is_eager=True,
        callback=_remember_json,
        help='Print JSON instead of text; errors too, as {"detail": [...]}.',
    )(function)


DB_HELP = (
    "Database URL, e.g. sqlite:///memory.db or postgresql+psycopg://user@host/db "
    "(default: an SQLite file in your data directory). Env: RELEASE_AGENT_DB."
)
TEMPORARY_DB_HELP = (
    "Keep this run's memory in this database (default: a fresh temporary one, deleted "
    "afterwards; RELEASE_AGENT_DB is not read, so your own memory is untouched)."
)
POLICY_HELP = "Policy file (TOML): freezes, costs, settings."
POLICY_SOURCES = " Default: RELEASE_AGENT_POLICY, else policy.toml in your config directory."


def _db(*, temporary: bool) -> Callable[[F], F]:
    """``--db URL``, passed as ``db``: the user's own memory (RELEASE_AGENT_DB when not
    given), or with ``temporary`` a run's own memory that the environment never names."""
    return click.option(
        "--db",
        metavar="URL",
        envvar=None if temporary else "RELEASE_AGENT_DB",
        help=TEMPORARY_DB_HELP if temporary else DB_HELP,
    )


db_option = _db(temporary=False)


def policy_option(
    description: str = POLICY_HELP, *, explicit_only: bool = False
) -> Callable[[F], F]:
    """``--policy FILE``, passed as ``policy``; ``explicit_only`` when the command reads no
    policy unless one is given (the help then does not promise the usual places)."""
    return click.option(
        "--policy",
        metavar="FILE",
        type=click.Path(dir_okay=False),
        help=description if explicit_only else description + POLICY_SOURCES,
    )


@dataclass(frozen=True)
class AgentOptions:
    """The agent's options as given on the command line; nothing is opened until asked."""

    db: str | None
    policy: str | None
    reasoner: str | None
    model: str | None
    on_llm_failure: str

    def build_reasoner(self) -> Reasoner:
        """The chosen reasoner. Raises InvalidInput for a missing key or package."""
        from ..reasoners.registry import build_reasoner

        return build_reasoner(self.reasoner, self.model)

    def build(self, db: str | None = None) -> Agent:
        """An Agent over ``db`` (else ``--db``), the policy and the reasoner.

        Raises a UserError if any of them is wrong, StoreError if the database fails.
        """
        from ..agent import Agent
        from ..domain.policy import load_policy
        from ..memory.store import Store

        reasoner = self.build_reasoner()
        policy = load_policy(self.policy)
        return Agent(
            Store.open(db or self.db), policy, reasoner, on_llm_failure=self.on_llm_failure
        )


def agent_options(
    *, temporary_memory: bool = False, policy_help: str | None = None
) -> Callable[[F], F]:
    """``--db``, ``--policy``, ``--reasoner``, ``--model`` and ``--on-llm-failure``,
    handed to the command as one keyword argument ``agent`` (an :class:`AgentOptions`).

    ``temporary_memory``: ``--db`` is optional and never read from RELEASE_AGENT_DB
    (``demo``, ``simulate``: their memory is a temporary one unless ``--db`` is given).
    ``policy_help``: for a command that reads a policy only when ``--policy`` is given.
    """
    db = _db(temporary=temporary_memory)
    policy = (
        policy_option() if policy_help is None else policy_option(policy_help, explicit_only=True)
    )
    reasoner = click.option(
        "--reasoner",
        type=DeferredChoice(_reasoners, case_sensitive=False),
        help="Who reasons (default: RELEASE_AGENT_REASONER, else gemini when "
        "GEMINI_API_KEY or GOOGLE_API_KEY is set, else builtin).",
    )
    model = click.option(
        "--model", metavar="NAME", type=TEXT, help="LLM model. Env: RELEASE_AGENT_MODEL."
    )
    on_failure = click.option(
        "--on-llm-failure",
        type=DeferredChoice(_failure_modes),
        envvar="RELEASE_AGENT_ON_LLM_FAILURE",
        default="delay",
        show_default=True,
        help="On an LLM fault: 'delay' fails closed (DELAY, or NO_GO where the built-in "
        "reasoner says so); 'builtin' takes the built-in reasoner's decision.",
    )

    def decorate(function: F) -> F:
        @functools.wraps(function)
        def command(
            *args: Any,
            db: str | None,
            policy: str | None,
            reasoner: str | None,
            model: str | None,
            on_llm_failure: str,
            **kwargs: Any,
        ) -> Any:
            options = AgentOptions(db, policy, reasoner, model, on_llm_failure)
            return function(*args, agent=options, **kwargs)

        decorated: Callable[..., Any] = command
        for option in (on_failure, model, reasoner, policy, db):
            decorated = option(decorated)
        return cast(F, decorated)

    return decorate
