"""Conditions on a release's attributes: the ``when`` of heuristics and world factors.

A condition is a mapping from attribute to expected value. It matches when every key
matches: a scalar matches an equal value, a list matches any of its members, and
``{"from": a, "to": b}`` matches an hour ``a <= hour <= b`` (with ``a > b`` it wraps
past midnight, so ``{"from": 22, "to": 5}`` is the night).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from .attributes import ATTRIBUTES, NAMES, Kind, names_of
from .errors import InvalidInput

ENUM_ATTRIBUTES: dict[str, tuple[str, ...]] = {
    a.name: a.values for a in ATTRIBUTES if a.kind is Kind.enum
}
BOOL_ATTRIBUTES = names_of(Kind.flag)
TEXT_ATTRIBUTES = names_of(Kind.text)
(HOUR_ATTRIBUTE,) = names_of(Kind.hour)
KNOWN_ATTRIBUTES: tuple[str, ...] = NAMES


def _norm_scalar(attribute: str, value: Any, where: str) -> Any:
    if attribute in ENUM_ATTRIBUTES:
        allowed = ENUM_ATTRIBUTES[attribute]
        if isinstance(value, str) and value.upper() in allowed:
            return value.upper()
        raise InvalidInput(f"{value!r} is not a valid value", field=where, allowed=allowed)
    if attribute in BOOL_ATTRIBUTES:
        if isinstance(value, bool):
            return value
        raise InvalidInput(f"{value!r} is not a boolean", field=where, allowed=["true", "false"])
    if attribute == HOUR_ATTRIBUTE:
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 23:
            return value
        raise InvalidInput(f"{value!r} is not an hour from 0 to 23", field=where)
    if isinstance(value, str) and value.strip():
        return value.strip().lower() if attribute == "env" else value.strip()
    raise InvalidInput(f"{value!r} is not a non-empty string", field=where)


def normalize(when: Mapping[str, Any], where: str = "when") -> dict[str, Any]:
    """Check a condition and return it in canonical form.

    Raises InvalidInput naming the attribute (``where.attribute``) when an attribute is
    unknown or a value is not allowed.
    """
    if not isinstance(when, Mapping):
        raise InvalidInput("must be an object of attribute: value", field=where)
    if not when:
        raise InvalidInput("must name at least one attribute", field=where)
    out: dict[str, Any] = {}
    for attribute, value in when.items():
        path = f"{where}.{attribute}"
        if attribute not in KNOWN_ATTRIBUTES:
            raise InvalidInput("is not a known attribute", field=path, allowed=KNOWN_ATTRIBUTES)
        if isinstance(value, Mapping):
            if attribute != HOUR_ATTRIBUTE or set(value) != {"from", "to"}:
                raise InvalidInput(
                    'a range must be {"from": a, "to": b} on hour_of_day', field=path
                )
            out[attribute] = {
                "from": _norm_scalar(attribute, value["from"], f"{path}.from"),
                "to": _norm_scalar(attribute, value["to"], f"{path}.to"),
            }
        elif isinstance(value, list):
            if not value:
                raise InvalidInput("an empty list matches nothing", field=path)
            members = [_norm_scalar(attribute, v, f"{path}[{i}]") for i, v in enumerate(value)]
            out[attribute] = sorted(set(members))
        else:
            out[attribute] = _norm_scalar(attribute, value, path)
    return dict(sorted(out.items()))


def value_matches(expected: Any, actual: Any) -> bool:
    if isinstance(expected, Mapping):
        low, high = expected["from"], expected["to"]
        if low <= high:
            return bool(low <= actual <= high)
        return bool(actual >= low or actual <= high)
    if isinstance(expected, list):
        return actual in expected
    return bool(expected == actual)


def matches(when: Mapping[str, Any], attributes: Mapping[str, Any]) -> bool:
    """True when every condition holds for ``attributes`` (missing attributes never match)."""
    for attribute, expected in when.items():
        if attribute not in attributes:
            return False
        if not value_matches(expected, attributes[attribute]):
            return False
    return True


def canonical_key(when: Mapping[str, Any]) -> str:
    """A stable text form of a normalized condition, for equality and storage."""
    return json.dumps(when, sort_keys=True, separators=(",", ":"))


def describe(when: Mapping[str, Any]) -> str:
    """A short human form: ``day_of_week=FRI & hour_of_day=14..23``."""
    parts = []
    for attribute, value in when.items():
        if isinstance(value, Mapping):
            parts.append(f"{attribute}={value['from']}..{value['to']}")
        elif isinstance(value, list):
            parts.append(f"{attribute} in {{{', '.join(str(v) for v in value)}}}")
        else:
            parts.append(f"{attribute}={str(value).lower() if isinstance(value, bool) else value}")
    return " & ".join(parts)
