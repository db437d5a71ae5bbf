"""driftstream.engine.k8s: DaskCluster manifests from a monitor spec's cluster.kubernetes,
validated against the CRD schemas shipped inside dask-kubernetes; the `k8s spec` CLI."""

from __future__ import annotations

import argparse
import glob
import os
import subprocess
import sys
import textwrap

import pytest
import yaml

pytest.importorskip("dask_kubernetes", reason="dask-kubernetes is not installed (pip install dask-kubernetes)")
jsonschema = pytest.importorskip("jsonschema")
kubernetes_validate = pytest.importorskip("kubernetes_validate")

from driftstream.engine import k8s  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
KUBE_VERSION = "1.33.0"

EXAMPLE_SPEC = textwrap.dedent(
    """\
    model: fraud
    schema:
      features: {amount: numeric, merchant_category: categorical}
      prediction: numeric
    source: {kind: kafka, topic: fraud.inference}
    window: {size: 15s, watermark: 6s}
    cluster:
      kubernetes:
        name: fraud-dask
        namespace: monitoring
        image: registry.example.com/ml/driftstream:0.1.0
        n_workers: 3
        resources:
          requests: {cpu: "1", memory: 2Gi}
          limits: {memory: 2Gi}
        env: {DASK_DISTRIBUTED__WORKER__MEMORY__TARGET: "0.7"}
        adaptive: {minimum: 1, maximum: 8}
    """
)


def _example_specs() -> list[str]:
    """Monitor specs in examples/ that use a Kubernetes cluster (none may exist yet)."""
    found = []
    for path in sorted(glob.glob(os.path.join(REPO, "examples", "*.y*ml"))):
        with open(path, encoding="utf-8") as f:
            try:
                doc = yaml.safe_load(f)
            except yaml.YAMLError:
                continue
        if isinstance(doc, dict) and ((doc.get("cluster") or {}).get("kubernetes")):
            found.append(path)
    return found


@pytest.fixture
def spec_file(tmp_path):
    path = tmp_path / "monitor.yaml"
    path.write_text(EXAMPLE_SPEC)
    return str(path)


def _cfg() -> dict:
    return yaml.safe_load(EXAMPLE_SPEC)["cluster"]["kubernetes"]


def _validate_pod_specs(cluster: dict) -> None:
    """The scheduler and worker pod specs inside a DaskCluster, as Pods, against Kubernetes' own
    schemas (strict: unknown fields fail) — the CRD schema alone is looser."""
    for role in ("scheduler", "worker"):
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": f"{cluster['metadata']['name']}-{role}"},
            "spec": cluster["spec"][role]["spec"],
        }
        kubernetes_validate.validate(pod, KUBE_VERSION, strict=True)


def test_dask_cluster_spec_is_built_by_make_cluster_spec_and_validates_against_crd():
    spec = k8s.make_dask_cluster_spec(_cfg())
    assert spec["apiVersion"] == "kubernetes.dask.org/v1"
    assert spec["kind"] == "DaskCluster"
    assert spec["metadata"] == {"name": "fraud-dask", "namespace": "monitoring"}
    worker = spec["spec"]["worker"]
    assert worker["replicas"] == 3
    (container,) = worker["spec"]["containers"]
    assert container["image"] == "registry.example.com/ml/driftstream:0.1.0"
    assert container["resources"]["requests"] == {"cpu": "1", "memory": "2Gi"}
    assert {"name": "DASK_DISTRIBUTED__WORKER__MEMORY__TARGET", "value": "0.7"} in container["env"]
    assert worker["spec"]["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert spec["spec"]["scheduler"]["service"]["selector"]["dask.org/cluster-name"] == "fraud-dask"
    k8s.validate_custom_resource(spec)
    _validate_pod_specs(spec)


def test_adaptive_becomes_a_dask_autoscaler_that_validates_against_crd():
    autoscaler = k8s.make_autoscaler_spec(_cfg())
    assert autoscaler["kind"] == "DaskAutoscaler"
    assert autoscaler["spec"] == {"cluster": "fraud-dask", "minimum": 1, "maximum": 8}
    k8s.validate_custom_resource(autoscaler)
    cfg = _cfg()
    del cfg["adaptive"]
    assert k8s.make_autoscaler_spec(cfg) is None
    assert [m["kind"] for m in k8s.make_manifests(cfg)] == ["DaskCluster"]


def test_minimal_config_validates():
    spec = k8s.make_dask_cluster_spec({"name": "tiny"})
    assert spec["spec"]["worker"]["replicas"] == 1
    assert spec["spec"]["worker"]["spec"]["containers"][0]["image"].startswith("ghcr.io/driftstream/driftstream:")
    k8s.validate_custom_resource(spec)
    _validate_pod_specs(spec)


@pytest.mark.parametrize("path", _example_specs() or [pytest.param(None, marks=pytest.mark.skip(reason="no spec in examples/ uses cluster.kubernetes yet"))])
def test_example_specs_with_kubernetes_cluster_validate(path):
    with open(path, encoding="utf-8") as f:
        cfg = yaml.safe_load(f)["cluster"]["kubernetes"]
    for manifest in k8s.make_manifests(cfg):
        k8s.validate_custom_resource(manifest)


def test_crd_validation_rejects_wrong_types_and_unknown_fields():
    spec = k8s.make_dask_cluster_spec(_cfg())
    spec["spec"]["worker"]["replicas"] = "three"
    with pytest.raises(jsonschema.ValidationError, match="not of type 'integer'"):
        k8s.validate_custom_resource(spec)
    spec = k8s.make_dask_cluster_spec(_cfg())
    spec["spec"]["worker"]["replicaz"] = 3
    with pytest.raises(jsonschema.ValidationError, match="replicaz"):
        k8s.validate_custom_resource(spec)
    with pytest.raises(jsonschema.ValidationError, match="maximum"):
        k8s.validate_custom_resource(
            {"apiVersion": "kubernetes.dask.org/v1", "kind": "DaskAutoscaler",
             "metadata": {"name": "x"}, "spec": {"cluster": "x", "minimum": 1}}
        )


@pytest.mark.parametrize(
    "cfg, message",
    [
        ({}, "'name'"),
        ({"name": "x", "n_workers": -1}, "n_workers"),
        ({"name": "x", "adaptive": {"minimum": 5, "maximum": 2}}, "minimum <= maximum"),
        ({"name": "x", "replicas": 2}, "Unknown key"),
    ],
)
def test_bad_config_explains_itself(cfg, message):
    with pytest.raises(ValueError, match=message):
        k8s.make_dask_cluster_spec(cfg)


def test_register_cli_adds_k8s_spec_and_prints_manifests(spec_file, capsys):
    parser = argparse.ArgumentParser(prog="driftstream")
    k8s.register_cli(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["k8s", "spec", spec_file])
    assert args.func(args) == 0
    docs = list(yaml.safe_load_all(capsys.readouterr().out))
    assert [d["kind"] for d in docs] == ["DaskCluster", "DaskAutoscaler"]
    assert docs[0] == k8s.make_dask_cluster_spec(_cfg())
    for doc in docs:
        k8s.validate_custom_resource(doc)


def test_cli_output_has_no_yaml_aliases(spec_file):
    out = subprocess.run(
        [sys.executable, "-m", "driftstream.engine.k8s", "spec", spec_file],
        check=True, capture_output=True, text=True,
    ).stdout
    assert "&id" not in out and "*id" not in out
    assert [d["kind"] for d in yaml.safe_load_all(out)] == ["DaskCluster", "DaskAutoscaler"]


def test_cli_without_kubernetes_cluster_fails_with_reason(tmp_path, capsys):
    path = tmp_path / "local.yaml"
    path.write_text("model: m\ncluster: {local: {n_workers: 1}}\n")
    parser = argparse.ArgumentParser(prog="driftstream")
    k8s.register_cli(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["k8s", "spec", str(path)])
    assert args.func(args) == 2
    assert "no cluster.kubernetes" in capsys.readouterr().err


def test_launch_cluster_attaches_by_name_or_creates_from_spec(monkeypatch):
    """launch_cluster hands KubeCluster the exact manifest (no API server here: KubeCluster is
    replaced by a recorder)."""
    import dask_kubernetes.operator as operator

    calls = []

    class FakeKubeCluster:
        def __init__(self, **kwargs):
            calls.append(("create", kwargs))

        @classmethod
        def from_name(cls, name, **kwargs):
            calls.append(("from_name", name, kwargs))
            return cls.__new__(cls)

        def adapt(self, minimum, maximum):
            calls.append(("adapt", minimum, maximum))

    monkeypatch.setattr(operator, "KubeCluster", FakeKubeCluster)
    k8s.launch_cluster(_cfg())
    assert calls[0] == ("create", {"namespace": "monitoring", "custom_cluster_spec": k8s.make_dask_cluster_spec(_cfg())})
    assert calls[1] == ("adapt", 1, 8)
    calls.clear()
    k8s.launch_cluster({"name": "shared", "attach": True, "namespace": "ml"})
    assert calls == [("from_name", "shared", {"namespace": "ml"})]


def test_driftstream_cli_k8s_spec(spec_file, capsys):
    cli = pytest.importorskip("driftstream.engine.cli", reason="driftstream.engine.cli not written yet")
    assert cli.main(["k8s", "spec", spec_file]) == 0
    docs = list(yaml.safe_load_all(capsys.readouterr().out))
    assert [d["kind"] for d in docs] == ["DaskCluster", "DaskAutoscaler"]
    for doc in docs:
        k8s.validate_custom_resource(doc)
