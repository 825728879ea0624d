"""The HTTP API and web console: ``create_app`` builds the app, ``check_bind`` guards
where it may listen."""

from .app import create_app
from .auth import TOKEN_ENV, check_bind, is_loopback

__all__ = ["TOKEN_ENV", "check_bind", "create_app", "is_loopback"]
