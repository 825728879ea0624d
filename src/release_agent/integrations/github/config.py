"""What the GitHub integration is configured with: secrets from the environment, mapping
from the policy's ``[github]`` table.

Environment (secrets never go in the policy file):

    RELEASE_AGENT_GITHUB_WEBHOOK_SECRET   the webhook secret; without it the webhook
                                          endpoint answers 404 and accepts nothing
    RELEASE_AGENT_GITHUB_APP_ID           a GitHub App's id, with its private key in
    RELEASE_AGENT_GITHUB_PRIVATE_KEY      (PEM text) or
    RELEASE_AGENT_GITHUB_PRIVATE_KEY_FILE (a PEM file)
    RELEASE_AGENT_GITHUB_TOKEN            or a plain token instead of an App
    RELEASE_AGENT_GITHUB_API_URL          default https://api.github.com (GitHub
                                          Enterprise Server: https://HOST/api/v3)

Policy::

    [github]
    repositories = { "acme/shop" = "checkout" }   # repository -> service (default: its name)
    teams = { "acme/shop" = "payments" }          # repository -> team (default: "default")
    feature_risk = "HIGH"                # when no label or deployment payload says
    criticality = "HIGH"                 # a service's criticality when not listed below
    service_criticality = { checkout = "HIGH", docs = "LOW" }
    failure_result = "rolled_back"       # what a failed deployment_status records

The table is read like ``[[notify]]``: unknown keys refused, errors naming the key
(``github.feature_risk``), with the values allowed.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from ...domain.errors import InvalidInput, PolicyError
from ...domain.freezes import TABLE_CONFIG, refusal
from ...domain.models import DEFAULT_TEAM, NAME_PATTERN, Level, Result

SECRET_ENV = "RELEASE_AGENT_GITHUB_WEBHOOK_SECRET"
APP_ID_ENV = "RELEASE_AGENT_GITHUB_APP_ID"
KEY_ENV = "RELEASE_AGENT_GITHUB_PRIVATE_KEY"
KEY_FILE_ENV = "RELEASE_AGENT_GITHUB_PRIVATE_KEY_FILE"
TOKEN_ENV = "RELEASE_AGENT_GITHUB_TOKEN"
API_URL_ENV = "RELEASE_AGENT_GITHUB_API_URL"
DEFAULT_API_URL = "https://api.github.com"
MIN_SECRET = 16
FAILURE_RESULTS = ("rolled_back", "incident", "degraded")


def _level(value: object) -> Level:
    allowed = [level.value for level in Level]
    if isinstance(value, str) and value.upper() in allowed:
        return Level(value.upper())
    raise refusal(f"{value!r} is not a level", allowed=allowed)


def _repository(value: str) -> str:
    owner, slash, name = value.partition("/")
    if not slash or not owner or not name or "/" in name or len(value) > 200:
        raise refusal(f"{value[:60]!r} is not a repository; write it as owner/name")
    return value.lower()


def _service(value: str) -> str:
    if not NAME_PATTERN.match(value):
        raise refusal(f"{value[:60]!r} is not a service name (letters, digits, . _ - / space)")
    return value


def _team(value: str) -> str:
    if not NAME_PATTERN.match(value):
        raise refusal(
            f"{value[:60]!r} is not a team name (letters, digits, . _ - / space, starting "
            "with a letter or digit)"
        )
    return value


def _failure(value: str) -> Result:
    if value not in FAILURE_RESULTS:
        raise refusal(f"{value!r} is not a failure result", allowed=list(FAILURE_RESULTS))
    return Result(value)


Repository = Annotated[str, Field(strict=True), AfterValidator(_repository)]
Service = Annotated[str, Field(strict=True), AfterValidator(_service)]
Team = Annotated[str, Field(strict=True), AfterValidator(_team)]


class GitHubPolicy(BaseModel):
    """The ``[github]`` table (every key optional)."""

    model_config = TABLE_CONFIG

    repositories: dict[Repository, Service] = Field(default_factory=dict)
    """``owner/name`` (any case) -> the service its deployments release."""
    teams: dict[Repository, Team] = Field(default_factory=dict)
    """``owner/name`` (any case) -> the team its deployments are decided for (its
    ``[teams.NAME]`` policy, its listings); a repository not listed: ``default``."""
    feature_risk: Annotated[Any, AfterValidator(_level)] = Level.HIGH
    """The feature risk when neither a label nor the deployment's payload gives one: the
    conservative level unless the team says otherwise."""
    criticality: Annotated[Any, AfterValidator(_level)] = Level.HIGH
    """A service's criticality when ``service_criticality`` does not list it."""
    service_criticality: dict[Service, Annotated[Any, AfterValidator(_level)]] = Field(
        default_factory=dict
    )
    failure_result: Annotated[str, Field(strict=True), AfterValidator(_failure)] = (
        Result.rolled_back
    )
    """What a ``deployment_status`` of failure or error records."""

    def service_of(self, repository: str) -> str:
        """The service a repository's deployments release: the mapping's, else the
        repository's name."""
        mapped = self.repositories.get(repository.lower())
        return mapped if mapped is not None else repository.rpartition("/")[2]

    def team_of(self, repository: str) -> str:
        """The team a repository's deployments are decided for: the mapping's, else the
        default team."""
        return self.teams.get(repository.lower(), DEFAULT_TEAM)

    def criticality_of(self, service: str) -> Level:
        level = self.service_criticality.get(service)
        return Level(level) if level is not None else Level(self.criticality)


class _GitHubFile(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    github: GitHubPolicy = Field(default_factory=GitHubPolicy)


def parse_github_policy(data: Mapping[str, Any]) -> GitHubPolicy:
    """The ``[github]`` table of a parsed policy file (other keys ignored). Raises
    PolicyError naming the key at fault."""
    try:
        return _GitHubFile.model_validate(data).github
    except ValidationError as error:
        first = error.errors(include_url=False)[0]
        field = ".".join(str(part) for part in first["loc"] if part != "[key]") or "github"
        if first["type"] == "extra_forbidden":
            return _raise(
                f"unknown key {first['loc'][-1]!r}", field, sorted(GitHubPolicy.model_fields)
            )
        allowed = (first.get("ctx") or {}).get("allowed")
        return _raise(first["msg"].removeprefix("Value error, "), field, allowed)


def _raise(message: str, field: str, allowed: list[str] | None) -> GitHubPolicy:
    raise PolicyError(message, field=field, allowed=allowed)


def load_github_policy(source: str | os.PathLike[str] | None) -> GitHubPolicy:
    """The ``[github]`` table of the policy file ``source`` (the defaults without one)."""
    if source is None:
        return GitHubPolicy()
    path = Path(source)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as error:
        raise PolicyError(f"cannot read {path}: {error}", field="policy") from None
    except tomllib.TOMLDecodeError as error:
        raise PolicyError(f"{path} is not valid TOML: {error}", field="policy") from None
    return parse_github_policy(data)


@dataclass(frozen=True, repr=False)
class GitHubSettings:
    """The integration's secrets and endpoint. ``repr`` shows which are set, never them."""

    webhook_secret: str | None = None
    token: str | None = None
    app_id: str | None = None
    private_key: str | None = None
    api_url: str = DEFAULT_API_URL

    def __repr__(self) -> str:
        return (
            f"GitHubSettings(webhook_secret={'set' if self.webhook_secret else None}, "
            f"token={'set' if self.token else None}, app_id={self.app_id!r}, "
            f"private_key={'set' if self.private_key else None}, api_url={self.api_url!r})"
        )

    @property
    def enabled(self) -> bool:
        """Whether webhooks are accepted (a secret is configured)."""
        return self.webhook_secret is not None

    @property
    def can_review(self) -> bool:
        """Whether there is a credential to answer GitHub with."""
        return self.token is not None or (self.app_id is not None and self.private_key is not None)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> GitHubSettings:
        """The settings in the environment. Raises InvalidInput naming the variable when
        one is malformed (a short secret, an App id without a key, a bad URL)."""
        env = os.environ if environ is None else environ
        secret = env.get(SECRET_ENV) or None
        if secret is not None and len(secret) < MIN_SECRET:
            raise InvalidInput(
                f"is {len(secret)} characters long; use at least {MIN_SECRET} (GitHub's "
                "webhook settings accept any text: generate one with python -c 'import "
                "secrets; print(secrets.token_hex(32))')",
                field=SECRET_ENV,
            )
        app_id = (env.get(APP_ID_ENV) or "").strip() or None
        if app_id is not None and not app_id.isdigit():
            raise InvalidInput("must be the App's numeric id", field=APP_ID_ENV)
        key = env.get(KEY_ENV) or None
        key_file = env.get(KEY_FILE_ENV) or None
        if key is None and key_file is not None:
            try:
                key = Path(key_file).read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as error:
                raise InvalidInput(
                    f"cannot read the private key file: {type(error).__name__}",
                    field=KEY_FILE_ENV,
                ) from None
        if app_id is not None and key is None:
            raise InvalidInput(
                f"a GitHub App needs its private key: set {KEY_ENV} or {KEY_FILE_ENV}",
                field=APP_ID_ENV,
            )
        api_url = (env.get(API_URL_ENV) or DEFAULT_API_URL).rstrip("/")
        parts = urlsplit(api_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise InvalidInput(
                "must be an http:// or https:// URL, e.g. https://api.github.com or "
                "https://github.example.com/api/v3",
                field=API_URL_ENV,
            )
        return cls(
            webhook_secret=secret,
            token=(env.get(TOKEN_ENV) or "").strip() or None,
            app_id=app_id,
            private_key=key,
            api_url=api_url,
        )
