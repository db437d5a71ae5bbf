"""Parameter constraints and checks shared by every detector.

A detector declares ``_parameter_constraints`` (a dict: parameter name -> list of
constraints, any of which may match) and calls :func:`validate_params` at the start of
``fit``. Messages follow one template::

    The 'threshold' parameter of KSDrift must be a float in (0, 1). Got 2.0.

The shared check suite (:mod:`driftstream.detectors.checks`) uses :meth:`Constraint.invalid`
to build a value that must be rejected.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.exceptions import NotFittedError

__all__ = [
    "Interval",
    "NoneOK",
    "Options",
    "check_fitted",
    "describe",
    "validate_params",
]


class Constraint:
    """One acceptable form of a parameter."""

    def ok(self, value: Any) -> bool:  # pragma: no cover - interface
        raise NotImplementedError

    def describe(self) -> str:  # pragma: no cover - interface
        raise NotImplementedError

    def invalid(self) -> Any:
        """A value this constraint rejects (used by the check suite), or None."""
        return None


def _fmt(x: float) -> str:
    if x in (np.inf, -np.inf):
        return "inf" if x > 0 else "-inf"
    return f"{x:g}"


@dataclass(frozen=True)
class Interval(Constraint):
    """A real (``kind="float"``) or integer (``kind="int"``) value in an interval."""

    kind: str
    low: float | None
    high: float | None
    closed: str = "both"  # "both" | "left" | "right" | "neither"

    def ok(self, value: Any) -> bool:
        if isinstance(value, bool | np.bool_):
            return False
        if self.kind == "int":
            if not isinstance(value, numbers.Integral):
                return False
        elif not isinstance(value, numbers.Real):
            return False
        if isinstance(value, float) and np.isnan(value):
            return False
        if self.low is not None:
            if value < self.low or (value == self.low and self.closed in ("right", "neither")):
                return False
        if self.high is not None:
            if value > self.high or (value == self.high and self.closed in ("left", "neither")):
                return False
        return True

    def describe(self) -> str:
        name = "an int" if self.kind == "int" else "a float"
        if self.low is None and self.high is None:
            return name
        if self.high is None:
            op = ">=" if self.closed in ("both", "left") else ">"
            return f"{name} {op} {_fmt(self.low)}"  # type: ignore[arg-type]
        if self.low is None:
            op = "<=" if self.closed in ("both", "right") else "<"
            return f"{name} {op} {_fmt(self.high)}"
        lb = "[" if self.closed in ("both", "left") else "("
        rb = "]" if self.closed in ("both", "right") else ")"
        return f"{name} in {lb}{_fmt(self.low)}, {_fmt(self.high)}{rb}"

    def invalid(self) -> Any:
        if self.low is not None:
            return type(self.low)(self.low - 1) if self.kind == "float" else int(self.low) - 1
        if self.high is not None:
            return self.high + 1
        return "not-a-number"


@dataclass(frozen=True)
class Options(Constraint):
    """One of a fixed set of values (strings, usually)."""

    values: tuple[Any, ...]

    def ok(self, value: Any) -> bool:
        for v in self.values:
            if isinstance(v, bool | np.bool_):
                if isinstance(value, bool | np.bool_) and bool(value) == v:
                    return True
            elif isinstance(v, numbers.Integral):
                if (
                    isinstance(value, numbers.Integral)
                    and not isinstance(value, bool | np.bool_)
                    and value == v
                ):
                    return True
            elif isinstance(value, type(v)) and value == v:
                return True
        return False

    def describe(self) -> str:
        return "one of " + ", ".join(repr(v) for v in self.values)

    def invalid(self) -> Any:
        return "__invalid__"


@dataclass(frozen=True)
class NoneOK(Constraint):
    """``None`` is accepted."""

    def ok(self, value: Any) -> bool:
        return value is None

    def describe(self) -> str:
        return "None"


@dataclass(frozen=True)
class TypeOf(Constraint):
    """Any instance of the given type(s), e.g. a ``numpy.random.Generator``."""

    types: tuple[type, ...]
    label: str

    def ok(self, value: Any) -> bool:
        return isinstance(value, self.types) and not isinstance(value, bool)

    def describe(self) -> str:
        return self.label


def describe(constraints: list[Constraint]) -> str:
    """Human description of a list of alternatives: ``a float in (0, 1) or None``."""
    parts = [c.describe() for c in constraints]
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " or " + parts[-1]


def validate_params(est: Any) -> None:
    """Raise ``ValueError`` naming the first parameter of ``est`` that breaks its constraints."""
    constraints: dict[str, list[Constraint]] = getattr(est, "_parameter_constraints", {})
    for name, alternatives in constraints.items():
        value = getattr(est, name)
        if not any(c.ok(value) for c in alternatives):
            raise ValueError(
                f"The '{name}' parameter of {type(est).__name__} must be "
                f"{describe(alternatives)}. Got {value!r}."
            )


def check_fitted(est: Any, attribute: str) -> None:
    """Raise sklearn's ``NotFittedError`` unless ``est`` has the learned ``attribute``."""
    if not hasattr(est, attribute):
        raise NotFittedError(f"This {type(est).__name__} is not fitted yet. Call 'fit' first.")


def random_state_constraint() -> list[Constraint]:
    """``random_state``: None, a non-negative int or a numpy Generator/RandomState."""
    return [
        NoneOK(),
        Interval("int", 0, None),
        TypeOf((np.random.Generator, np.random.RandomState), "a numpy random Generator"),
    ]
