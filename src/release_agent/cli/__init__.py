"""The ``release-agent`` command line: thin shells over :class:`release_agent.agent.Agent`.

Importing this package loads click and the command declarations only; each command
imports the library when it runs, so ``--help`` and shell completion
(``_RELEASE_AGENT_COMPLETE``) answer without loading the pipeline, numpy, scipy or an
LLM SDK.
"""

from __future__ import annotations

import click

from .calendar import calendar
from .common import ReleaseAgentGroup
from .decide import decide, demo, outcome, run, scenarios, show
from .memory import episodes, heuristics, learn, memory
from .override import override, overrides
from .serve import serve
from .shadow import shadow_report
from .simulate import simulate_command
from .tokens import tokens
from .worlds import worlds_command


@click.group(cls=ReleaseAgentGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="release-agent")
def main() -> None:
    """Decide whether a release may go to production now: GO, NO_GO or DELAY.

    Exit codes: 0 GO, 3 DELAY, 4 NO_GO, 2 bad input, 1 unexpected error (a shadow
    decision exits 0 whatever it is).
    """


for command in (
    decide,
    run,
    demo,
    scenarios,
    show,
    outcome,
    override,
    overrides,
    shadow_report,
    episodes,
    heuristics,
    learn,
    memory,
    serve,
    tokens,
    calendar,
    simulate_command,
    worlds_command,
):
    main.add_command(command)
