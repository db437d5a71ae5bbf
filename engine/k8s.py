"""Dask clusters on Kubernetes through the dask-kubernetes operator.

A monitor spec's ``cluster: {kubernetes: {...}}`` mapping describes the cluster::

    cluster:
      kubernetes:
        name: fraud-dask               # DaskCluster name (required)
        image: ghcr.io/driftstream/driftstream:0.1.0
        namespace: monitoring          # default: the current namespace
        n_workers: 3
        resources: {requests: {cpu: "1", memory: 2Gi}, limits: {memory: 2Gi}}
        env: {DASK_DISTRIBUTED__WORKER__MEMORY__TARGET: "0.7"}
        adaptive: {minimum: 1, maximum: 10}
        attach: false                  # true: attach to an existing cluster by name only

The manifests are built with dask-kubernetes' own ``make_cluster_spec``, so the engine creates
exactly what ``KubeCluster`` would; ``driftstream k8s spec SPEC`` prints them.
``dask_kubernetes`` is imported lazily: it is only needed when a Kubernetes cluster is used.

Examples
--------
>>> from driftstream.engine.k8s import make_autoscaler_spec
>>> make_autoscaler_spec({"name": "demo", "adaptive": {"minimum": 1, "maximum": 4}})["spec"]
{'cluster': 'demo', 'minimum': 1, 'maximum': 4}
>>> make_autoscaler_spec({"name": "demo"}) is None
True
"""

from __future__ import annotations

import argparse
import copy
import sys
from typing import Any

import yaml

__all__ = [
    "DEFAULT_IMAGE",
    "launch_cluster",
    "make_autoscaler_spec",
    "make_dask_cluster_spec",
    "make_manifests",
    "register_cli",
    "validate_custom_resource",
]


def _default_image() -> str:
    try:
        from importlib.metadata import version

        return f"ghcr.io/driftstream/driftstream:{version('driftstream')}"
    except Exception:  # pragma: no cover - not installed as a distribution
        return "ghcr.io/driftstream/driftstream:latest"


DEFAULT_IMAGE = _default_image()

_KNOWN_KEYS = {
    "name",
    "image",
    "namespace",
    "n_workers",
    "resources",
    "env",
    "adaptive",
    "attach",
    "idle_timeout",
    "scheduler_service_type",
    "worker_command",
    "shutdown_on_close",
    "hardened",
}

# Same hardening as the Helm chart, minus readOnlyRootFilesystem (make_cluster_spec mounts no
# writable scratch volume). The driftstream image runs as uid 10001.
_POD_SECURITY_CONTEXT = {
    "runAsNonRoot": True,
    "runAsUser": 10001,
    "runAsGroup": 10001,
    "fsGroup": 10001,
    "seccompProfile": {"type": "RuntimeDefault"},
}
_CONTAINER_SECURITY_CONTEXT = {
    "allowPrivilegeEscalation": False,
    "privileged": False,
    "capabilities": {"drop": ["ALL"]},
}


def _check(cfg: dict[str, Any]) -> None:
    if not isinstance(cfg, dict):
        raise TypeError(f"cluster.kubernetes must be a mapping. Got {type(cfg).__name__}.")
    unknown = sorted(set(cfg) - _KNOWN_KEYS)
    if unknown:
        raise ValueError(
            f"Unknown key(s) in cluster.kubernetes: {unknown}. Expected some of {sorted(_KNOWN_KEYS)}."
        )
    name = cfg.get("name")
    if not isinstance(name, str) or not name:
        raise ValueError(f"The 'name' of cluster.kubernetes must be a non-empty string. Got {name!r}.")
    n_workers = cfg.get("n_workers")
    if n_workers is not None and (not isinstance(n_workers, int) or n_workers < 0):
        raise ValueError(f"The 'n_workers' of cluster.kubernetes must be an integer >= 0. Got {n_workers!r}.")
    adaptive = cfg.get("adaptive")
    if adaptive is not None:
        if not isinstance(adaptive, dict) or set(adaptive) - {"minimum", "maximum"}:
            raise ValueError(
                f"The 'adaptive' of cluster.kubernetes must be a mapping with 'minimum' and 'maximum'. Got {adaptive!r}."
            )
        lo, hi = adaptive.get("minimum", 0), adaptive.get("maximum")
        if not isinstance(lo, int) or not isinstance(hi, int) or not 0 <= lo <= hi:
            raise ValueError(
                f"cluster.kubernetes.adaptive needs integers 0 <= minimum <= maximum. Got {adaptive!r}."
            )


def _plain(obj: Any) -> Any:
    """A fresh tree without None values: make_cluster_spec leaves ``env: None`` and
    ``resources: None`` (not valid for the CRD schema), and shares one resources dict between
    scheduler and workers (YAML anchors when dumped)."""
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items() if v is not None}
    if isinstance(obj, list):
        return [_plain(v) for v in obj]
    return obj


def make_dask_cluster_spec(cfg: dict[str, Any]) -> dict[str, Any]:
    """The ``DaskCluster`` manifest for a ``cluster.kubernetes`` mapping.

    Built with ``dask_kubernetes.operator.make_cluster_spec`` (name, image, n_workers,
    resources, env), then given the namespace and, unless ``hardened: false``, a non-root
    securityContext with seccomp RuntimeDefault and all capabilities dropped.

    Examples
    --------
    >>> spec = make_dask_cluster_spec({"name": "demo", "n_workers": 2, "namespace": "ml"})
    >>> spec["kind"], spec["metadata"], spec["spec"]["worker"]["replicas"]
    ('DaskCluster', {'name': 'demo', 'namespace': 'ml'}, 2)
    """
    _check(cfg)
    from dask_kubernetes.operator import make_cluster_spec

    kwargs: dict[str, Any] = {
        "name": cfg["name"],
        "image": cfg.get("image") or DEFAULT_IMAGE,
        "n_workers": cfg.get("n_workers", 1),
        "resources": cfg.get("resources"),
        "env": cfg.get("env"),
        "idle_timeout": cfg.get("idle_timeout", 0),
        "scheduler_service_type": cfg.get("scheduler_service_type", "ClusterIP"),
    }
    if cfg.get("worker_command"):
        kwargs["worker_command"] = cfg["worker_command"]
    spec = _plain(make_cluster_spec(**kwargs))
    if cfg.get("namespace"):
        spec["metadata"]["namespace"] = cfg["namespace"]
    if cfg.get("hardened", True):
        for role in ("scheduler", "worker"):
            pod = spec["spec"][role]["spec"]
            pod.setdefault("securityContext", copy.deepcopy(_POD_SECURITY_CONTEXT))
            for container in pod["containers"]:
                container.setdefault("securityContext", copy.deepcopy(_CONTAINER_SECURITY_CONTEXT))
    return spec


def make_autoscaler_spec(cfg: dict[str, Any]) -> dict[str, Any] | None:
    """The ``DaskAutoscaler`` manifest for ``adaptive: {minimum, maximum}``, or None if unset.

    The same object ``KubeCluster.adapt(minimum, maximum)`` creates.
    """
    _check(cfg)
    adaptive = cfg.get("adaptive")
    if not adaptive:
        return None
    metadata: dict[str, Any] = {"name": cfg["name"]}
    if cfg.get("namespace"):
        metadata["namespace"] = cfg["namespace"]
    return {
        "apiVersion": "kubernetes.dask.org/v1",
        "kind": "DaskAutoscaler",
        "metadata": metadata,
        "spec": {
            "cluster": cfg["name"],
            "minimum": adaptive.get("minimum", 0),
            "maximum": adaptive["maximum"],
        },
    }


def make_manifests(cfg: dict[str, Any]) -> list[dict[str, Any]]:
    """Every manifest the engine would create: the DaskCluster, then the DaskAutoscaler if any."""
    manifests = [make_dask_cluster_spec(cfg)]
    autoscaler = make_autoscaler_spec(cfg)
    if autoscaler is not None:
        manifests.append(autoscaler)
    return manifests


def launch_cluster(cfg: dict[str, Any]) -> Any:
    """Create, or attach to by name, a ``dask_kubernetes.operator.KubeCluster``.

    With ``attach: true`` the cluster must already exist (``KubeCluster.from_name``; it is left
    running on close). Otherwise the DaskCluster from :func:`make_dask_cluster_spec` is created,
    or connected to if one with that name exists, and deleted on close unless
    ``shutdown_on_close: false``. ``adaptive`` turns on the operator's autoscaler.
    Needs Kubernetes credentials (in-cluster service account or kubeconfig).
    """
    _check(cfg)
    from dask_kubernetes.operator import KubeCluster

    kwargs: dict[str, Any] = {}
    if cfg.get("namespace"):
        kwargs["namespace"] = cfg["namespace"]
    if cfg.get("attach"):
        cluster = KubeCluster.from_name(cfg["name"], **kwargs)
    else:
        if "shutdown_on_close" in cfg:
            kwargs["shutdown_on_close"] = bool(cfg["shutdown_on_close"])
        cluster = KubeCluster(custom_cluster_spec=make_dask_cluster_spec(cfg), **kwargs)
    adaptive = cfg.get("adaptive")
    if adaptive:
        cluster.adapt(minimum=adaptive.get("minimum", 0), maximum=adaptive["maximum"])
    return cluster


# -- validation against the CRDs shipped inside dask-kubernetes ---------------------------------

_CRD_KINDS = {"DaskCluster", "DaskWorkerGroup", "DaskAutoscaler", "DaskJob"}


def crd_schema(kind: str, version: str = "v1") -> dict[str, Any]:
    """The ``openAPIV3Schema`` of a dask-kubernetes CRD (e.g. ``"DaskCluster"``).

    Read from the fully resolved CRDs of the operator's Helm chart, which the dask-kubernetes
    package ships under ``dask_kubernetes/operator/deployment/helm/dask-kubernetes-operator/crds``.
    """
    if kind not in _CRD_KINDS:
        raise ValueError(f"No dask-kubernetes CRD for kind {kind!r}. Expected one of {sorted(_CRD_KINDS)}.")
    from importlib.resources import files

    crd_file = (
        files("dask_kubernetes")
        / "operator" / "deployment" / "helm" / "dask-kubernetes-operator" / "crds" / f"{kind.lower()}.yaml"
    )
    crd = yaml.safe_load(crd_file.read_text(encoding="utf-8"))
    for v in crd["spec"]["versions"]:
        if v["name"] == version:
            return v["schema"]["openAPIV3Schema"]
    raise ValueError(f"The {kind} CRD has no version {version!r}.")


def _strict_schema(schema: Any) -> Any:
    """Reject unknown fields like the API server's strict field validation does: every object
    schema with ``properties`` and no ``additionalProperties`` /
    ``x-kubernetes-preserve-unknown-fields`` gets ``additionalProperties: false``."""
    if isinstance(schema, list):
        return [_strict_schema(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: _strict_schema(v) for k, v in schema.items()}
    if (
        "properties" in out
        and "additionalProperties" not in out
        and not out.get("x-kubernetes-preserve-unknown-fields")
    ):
        out["additionalProperties"] = False
    return out


def validate_custom_resource(manifest: dict[str, Any], strict: bool = True) -> None:
    """Validate a ``kubernetes.dask.org/v1`` manifest against its CRD's openAPIV3Schema.

    Raises ``jsonschema.ValidationError`` when it does not validate. ``strict`` also rejects
    unknown fields (the API server would otherwise drop them silently).

    Examples
    --------
    >>> validate_custom_resource(make_autoscaler_spec({"name": "a", "adaptive": {"maximum": 3}}))
    """
    import jsonschema

    group, _, version = manifest.get("apiVersion", "").partition("/")
    if group != "kubernetes.dask.org":
        raise ValueError(f"Not a dask-kubernetes resource: apiVersion {manifest.get('apiVersion')!r}.")
    schema = crd_schema(manifest.get("kind", ""), version)
    # the API server validates metadata itself; the CRD schema says nothing about it
    schema = dict(schema)
    schema.setdefault("properties", {})
    schema["properties"] = {
        **schema["properties"],
        "apiVersion": {"type": "string"},
        "kind": {"type": "string"},
        "metadata": {"type": "object"},
    }
    if strict:
        schema = _strict_schema(schema)
    jsonschema.Draft7Validator(schema).validate(manifest)


def kubernetes_config(spec: dict[str, Any], path: str = "<spec>") -> dict[str, Any]:
    """The ``cluster.kubernetes`` mapping of a monitor spec (a plain dict)."""
    cfg = ((spec or {}).get("cluster") or {}).get("kubernetes")
    if cfg is None:
        raise ValueError(f"{path} has no cluster.kubernetes mapping; nothing to print.")
    return cfg


def _spec_command(args: argparse.Namespace) -> int:
    try:
        with open(args.spec, encoding="utf-8") as f:
            spec = yaml.safe_load(f)
        manifests = make_manifests(kubernetes_config(spec, args.spec))
    except (OSError, ValueError, TypeError, yaml.YAMLError) as exc:
        print(f"driftstream k8s spec: {exc}", file=sys.stderr)
        return 2
    out = args.output if getattr(args, "output", None) else sys.stdout
    yaml.safe_dump_all(manifests, out, sort_keys=False, default_flow_style=False)
    return 0


def register_cli(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``k8s`` (with ``k8s spec SPEC``) to the ``driftstream`` command's subparsers."""
    k8s = subparsers.add_parser("k8s", help="Kubernetes: Dask cluster manifests")
    sub = k8s.add_subparsers(dest="k8s_command", metavar="COMMAND")
    sub.required = True
    spec = sub.add_parser(
        "spec",
        help="print the DaskCluster (and DaskAutoscaler) manifests for a monitor spec's cluster.kubernetes",
    )
    spec.add_argument("spec", metavar="SPEC", help="monitor spec YAML file")
    spec.add_argument(
        "-o", "--output", type=argparse.FileType("w"), default=None, help="write here instead of stdout"
    )
    spec.set_defaults(func=_spec_command)
    return k8s


def main(argv: list[str] | None = None) -> int:
    """Stand-alone entry point (``python -m driftstream.engine.k8s spec SPEC``)."""
    parser = argparse.ArgumentParser(prog="driftstream")
    register_cli(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["k8s", *(sys.argv[1:] if argv is None else argv)])
    return int(args.func(args) or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
