"""Detectors by name: the built-ins, user classes by dotted path, and entry points.

Importing this module registers every built-in detector. A user's detector plugs in
without editing the package, in any of three ways:

- ``@register_drift`` / ``@register_outlier`` on the class (in code imported before use);
- a dotted path in the spec: ``"mypkg.detectors:MyDrift"`` (or ``"mypkg.detectors.MyDrift"``);
- an entry point in the group ``driftstream.detectors`` of an installed distribution,
  e.g. in its ``pyproject.toml``::

      [project.entry-points."driftstream.detectors"]
      my_drift = "mypkg.detectors:MyDrift"

Examples
--------
>>> from driftstream.detectors.registry import make_drift, make_outlier, drift_names
>>> make_drift("ks", alpha=0.01)
KSDrift(alpha=0.01)
>>> make_outlier("driftstream.detectors.outliers.zscore:ZScoreOutlier", threshold=4.0)
ZScoreOutlier(threshold=4.0)
>>> "psi" in drift_names()
True
"""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points
from typing import Any, TypeVar

from .drift import (
    Chi2Drift,
    CVMDrift,
    DriftDetector,
    HellingerDrift,
    JSDrift,
    KLDrift,
    KSDrift,
    MMDDrift,
    MultivariateDriftDetector,
    PSIDrift,
    WassersteinDrift,
    WassersteinHistDrift,
)
from .outliers import (
    EllipticEnvelopeOutlier,
    IQROutlier,
    IsolationForestOutlier,
    LOFOutlier,
    MahalanobisOutlier,
    OutlierDetector,
    RangeOutlier,
    StdDevOutlier,
    UnseenCategoryOutlier,
    ZScoreOutlier,
)

__all__ = [
    "ENTRY_POINT_GROUP",
    "drift_class",
    "drift_names",
    "make_drift",
    "make_outlier",
    "outlier_class",
    "outlier_names",
    "register_drift",
    "register_outlier",
]

ENTRY_POINT_GROUP = "driftstream.detectors"

_DRIFT: dict[str, type] = {}
_OUTLIER: dict[str, type] = {}

T = TypeVar("T", bound=type)


def _register(table: dict[str, type], cls: T, base: tuple[type, ...], kind: str) -> T:
    if not (isinstance(cls, type) and issubclass(cls, base)):
        raise TypeError(f"{cls!r} is not a subclass of {' or '.join(b.__name__ for b in base)}.")
    name = getattr(cls, "name", "")
    if not name:
        raise ValueError(f"{cls.__name__} needs a non-empty class attribute 'name' to be registered.")
    old = table.get(name)
    if old is not None and old is not cls and (old.__module__, old.__qualname__) != (
        cls.__module__,
        cls.__qualname__,
    ):
        raise ValueError(f"The {kind} detector name {name!r} is already taken by {old.__qualname__}.")
    table[name] = cls
    return cls


def register_drift(cls: T) -> T:
    """Class decorator: make a :class:`DriftDetector` (or multivariate one) known by ``cls.name``."""
    return _register(_DRIFT, cls, (DriftDetector, MultivariateDriftDetector), "drift")


def register_outlier(cls: T) -> T:
    """Class decorator: make an :class:`OutlierDetector` known by ``cls.name``."""
    return _register(_OUTLIER, cls, (OutlierDetector,), "outlier")


def _load_path(path: str) -> Any:
    if ":" in path:
        module, _, attr = path.partition(":")
    else:
        module, _, attr = path.rpartition(".")
    try:
        obj: Any = importlib.import_module(module)
    except ImportError as exc:
        raise ValueError(f"Cannot import module {module!r} of detector {path!r}: {exc}") from exc
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError as exc:
            raise ValueError(f"Module {module!r} has no attribute {attr!r} (detector {path!r}).") from exc
    return obj


def _entry_point(name: str) -> Any | None:
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name == name:
            return ep.load()
    return None


def _entry_point_names(base: tuple[type, ...]) -> list[str]:
    """Names of the installed entry points whose class derives from ``base``."""
    names = []
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            obj = ep.load()
        except Exception:  # noqa: BLE001 - a broken plugin must not break listing
            continue
        if isinstance(obj, type) and issubclass(obj, base):
            names.append(ep.name)
    return names


def _resolve(name: str, table: dict[str, type], base: tuple[type, ...], kind: str) -> type:
    if name in table:
        return table[name]
    if ":" in name or "." in name:
        cls = _load_path(name)
    else:
        cls = _entry_point(name)
        if cls is None:
            known = ", ".join(sorted(table))
            raise ValueError(
                f"Unknown {kind} detector {name!r}. Known: {known}; or give a dotted path "
                f"'package.module:Class', or an entry point in group {ENTRY_POINT_GROUP!r}."
            )
    if not (isinstance(cls, type) and issubclass(cls, base)):
        raise TypeError(
            f"{name!r} resolves to {cls!r}, which is not a {kind} detector "
            f"(a subclass of {' or '.join(b.__name__ for b in base)})."
        )
    return cls


_DRIFT_BASES = (DriftDetector, MultivariateDriftDetector)


def drift_class(name: str) -> type:
    """The drift detector class for a registry name, dotted path or entry point name."""
    return _resolve(name, _DRIFT, _DRIFT_BASES, "drift")


def outlier_class(name: str) -> type:
    """The outlier detector class for a registry name, dotted path or entry point name."""
    return _resolve(name, _OUTLIER, (OutlierDetector,), "outlier")


def make_drift(name: str, **params: Any) -> Any:
    """An unfitted drift detector: ``make_drift("ks", alpha=0.01)``."""
    return drift_class(name)(**params)


def make_outlier(name: str, **params: Any) -> Any:
    """An unfitted outlier detector: ``make_outlier("zscore", threshold=4.0)``."""
    return outlier_class(name)(**params)


def drift_names() -> list[str]:
    """Sorted names of the registered drift detectors (and entry points)."""
    return sorted(set(_DRIFT) | set(_entry_point_names(_DRIFT_BASES)))


def outlier_names() -> list[str]:
    """Sorted names of the registered outlier detectors (and entry points)."""
    return sorted(set(_OUTLIER) | set(_entry_point_names((OutlierDetector,))))


for _cls in (
    KLDrift,
    JSDrift,
    WassersteinHistDrift,
    KSDrift,
    PSIDrift,
    HellingerDrift,
    WassersteinDrift,
    Chi2Drift,
    CVMDrift,
    MMDDrift,
):
    register_drift(_cls)
for _cls in (
    RangeOutlier,
    StdDevOutlier,
    ZScoreOutlier,
    IQROutlier,
    MahalanobisOutlier,
    IsolationForestOutlier,
    EllipticEnvelopeOutlier,
    LOFOutlier,
    UnseenCategoryOutlier,
):
    register_outlier(_cls)
del _cls
