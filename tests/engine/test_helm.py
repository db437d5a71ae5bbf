"""The Helm chart (helm/driftstream), checked with the real tools and no cluster:

* the real `helm` binary (``.tools/bin/helm`` from scripts/install-helm.sh, or on PATH) runs
  ``helm lint --strict`` and ``helm template`` for the default values and every file in
  helm/examples/ (plus a few --set variants);
* every rendered manifest is validated offline against the Kubernetes OpenAPI schemas with
  kubernetes-validate (strict: unknown fields fail), and kubernetes.dask.org resources against
  the CRD schemas shipped inside dask-kubernetes (their pod specs also as Pods);
* the rendered objects do what the chart promises (one engine per monitor, RBAC, security...).
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess

import pytest
import yaml

kubernetes_validate = pytest.importorskip("kubernetes_validate", reason="kubernetes-validate is not installed")
pytest.importorskip("dask_kubernetes", reason="dask-kubernetes is not installed (CRD schemas)")

from driftstream.engine import k8s  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CHART = os.path.join(REPO, "helm", "driftstream")
EXAMPLES = sorted(glob.glob(os.path.join(REPO, "helm", "examples", "*.yaml")))
INSTALL_SCRIPT = os.path.join(REPO, "scripts", "install-helm.sh")
HELM_VERSION = "v3.22.0"
KUBE_VERSION = "1.33.0"  # validated against kubernetes-validate's 1.33 schemas
NAMESPACE = "monitoring"

# (id, values files, --set pairs)
CASES = [
    ("default", [], []),
    *[(os.path.basename(f), [f], []) for f in EXAMPLES],
    ("default-operator-autoscaler", [], ["dask.mode=operator", "dask.worker.autoscaler.enabled=true"]),
    ("default-logger-tls-portforward", [], [
        "logger.enabled=true", "logger.topic=example.inference", "kafka.tls.enabled=true",
        "kafka.tls.caCert=-----BEGIN CERTIFICATE-----", "rbac.portForward=true",
    ]),
    ("no-monitors-existing-sa", [], ["monitors=null", "serviceAccount.create=false", "serviceAccount.name=ml", "rbac.create=false"]),
]


def _helm_version(path: str) -> str:
    try:
        out = subprocess.run([path, "version", "--template", "{{.Version}}"],
                             capture_output=True, text=True, timeout=60)
    except OSError:
        return ""
    return out.stdout.strip()


@pytest.fixture(scope="session")
def helm() -> str:
    """The helm binary; installed with scripts/install-helm.sh if missing (needs Go + the module
    proxy). Skips, saying why, only if that fails."""
    for candidate in (os.path.join(REPO, ".tools", "bin", "helm"), shutil.which("helm")):
        if candidate and os.access(candidate, os.X_OK) and _helm_version(candidate) == HELM_VERSION:
            return candidate
    try:
        proc = subprocess.run(["bash", INSTALL_SCRIPT], capture_output=True, text=True, timeout=1800)
    except (OSError, subprocess.TimeoutExpired) as exc:
        pytest.skip(f"helm {HELM_VERSION} is not installed and {INSTALL_SCRIPT} could not run: {exc}")
    path = os.path.join(REPO, ".tools", "bin", "helm")
    if proc.returncode != 0 or _helm_version(path) != HELM_VERSION:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-8:])
        pytest.skip(f"helm {HELM_VERSION} is not installed and scripts/install-helm.sh failed "
                    f"(exit {proc.returncode}):\n{tail}")
    return path


def _args(values: list[str], sets: list[str]) -> list[str]:
    args = []
    for f in values:
        args += ["-f", f]
    for s in sets:
        args += ["--set", s]
    return args


def _run(cmd: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300)


def render(helm: str, values: list[str], sets: list[str]) -> list[dict]:
    proc = _run([helm, "template", "rel", CHART, "--namespace", NAMESPACE,
                 "--kube-version", KUBE_VERSION, *_args(values, sets)])
    assert proc.returncode == 0, proc.stderr
    return [d for d in yaml.safe_load_all(proc.stdout) if d]


@pytest.fixture(scope="module", params=CASES, ids=[c[0] for c in CASES])
def case(request, helm):
    name, values, sets = request.param
    return name, values, sets, render(helm, values, sets)


def test_examples_exist():
    assert len(EXAMPLES) >= 2, "helm/examples/ needs at least two values files"


@pytest.mark.parametrize("values, sets", [(c[1], c[2]) for c in CASES], ids=[c[0] for c in CASES])
def test_helm_lint_strict(helm, values, sets):
    proc = _run([helm, "lint", "--strict", CHART, *_args(values, sets)])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "0 chart(s) failed" in proc.stdout


def _validate(doc: dict) -> None:
    if doc["apiVersion"].startswith("kubernetes.dask.org/"):
        k8s.validate_custom_resource(doc)
        if doc["kind"] == "DaskCluster":
            for role in ("scheduler", "worker"):
                pod = {"apiVersion": "v1", "kind": "Pod",
                       "metadata": {"name": f"{doc['metadata']['name']}-{role}"},
                       "spec": doc["spec"][role]["spec"]}
                kubernetes_validate.validate(pod, KUBE_VERSION, strict=True)
    else:
        # raises SchemaNotFoundError for a kind it doesn't know: no manifest goes unvalidated
        kubernetes_validate.validate(doc, KUBE_VERSION, strict=True)


def test_every_rendered_manifest_validates(case):
    name, _, _, docs = case
    assert docs, f"{name}: nothing rendered"
    failures = []
    for doc in docs:
        try:
            _validate(doc)
        except Exception as exc:  # collect them all
            failures.append(f"{doc.get('kind')}/{doc.get('metadata', {}).get('name')}: {exc}")
    assert not failures, "\n".join(failures)


def _pod_specs(docs):
    for doc in docs:
        if doc["kind"] == "Deployment":
            yield doc["metadata"]["name"], doc["spec"]["template"]["spec"]
        elif doc["kind"] == "DaskCluster":
            for role in ("scheduler", "worker"):
                yield f"{doc['metadata']['name']}-{role}", doc["spec"][role]["spec"]


def test_every_pod_is_hardened_with_resources_and_probes(case):
    _, _, _, docs = case
    for name, pod in _pod_specs(docs):
        psc = pod["securityContext"]
        assert psc["runAsNonRoot"] is True and psc["runAsUser"] == 10001, name
        assert psc["seccompProfile"] == {"type": "RuntimeDefault"}, name
        for c in pod["containers"]:
            sc = c["securityContext"]
            assert sc["readOnlyRootFilesystem"] is True, name
            assert sc["allowPrivilegeEscalation"] is False, name
            assert sc["capabilities"]["drop"] == ["ALL"], name
            assert c["resources"].get("requests"), name
            assert c["livenessProbe"]["httpGet"] and c["readinessProbe"]["httpGet"], name
            assert any(m["mountPath"] == "/tmp" for m in c["volumeMounts"]), name


def _values(values: list[str], sets: list[str]) -> dict:
    with open(os.path.join(CHART, "values.yaml")) as f:
        merged = yaml.safe_load(f)
    for path in values:
        with open(path) as f:
            merged.update(yaml.safe_load(f))  # top-level keys replace in these tests
    if "monitors=null" in sets:
        merged["monitors"] = []
    return merged


def test_one_engine_per_monitor_with_its_spec(case):
    _, values, sets, docs = case
    monitors = _values(values, sets)["monitors"] or []
    engines = {d["metadata"]["labels"]["driftstream.io/monitor"]: d for d in docs
               if d["kind"] == "Deployment" and d["metadata"]["labels"].get("app.kubernetes.io/component") == "engine"}
    assert sorted(engines) == sorted(m["name"] for m in monitors)
    by_name = {(d["kind"], d["metadata"]["name"]): d for d in docs}
    for m in monitors:
        dep = engines[m["name"]]
        pod = dep["spec"]["template"]["spec"]
        (c,) = pod["containers"]
        assert c["command"] == ["driftstream", "run", "/etc/driftstream/monitor.yaml"]
        assert {p["name"]: p["containerPort"] for p in c["ports"]} == {"dashboard": 5006, "metrics": 9108}
        assert c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "metrics"}
        env = {e["name"]: e for e in c["env"]}
        assert env["DRIFTSTREAM_KAFKA_BOOTSTRAP"]["valueFrom"]["secretKeyRef"]["name"]
        assert "DRIFTSTREAM_KAFKA_SASL_PASSWORD" in env and "value" not in env["DRIFTSTREAM_KAFKA_SASL_PASSWORD"]
        cm_name = next(v["configMap"]["name"] for v in pod["volumes"] if v["name"] == "spec")
        mounted = yaml.safe_load(by_name[("ConfigMap", cm_name)]["data"]["monitor.yaml"])
        for key, value in m["spec"].items():
            assert mounted[key] == value
        assert mounted["dashboard"]["host"] == "0.0.0.0"
        assert mounted["cluster"]["address"].endswith("-scheduler.monitoring.svc:8786")
        base = dep["metadata"]["name"]
        assert by_name[("Service", f"{base}-dashboard")]["spec"]["ports"][0]["port"] == 5006
        metrics = by_name[("Service", f"{base}-metrics")]
        assert metrics["spec"]["ports"][0]["port"] == 9108
        assert metrics["metadata"]["annotations"]["prometheus.io/scrape"] == "true"


def test_dask_mode_selects_dask_cluster_or_deployments(case):
    _, values, sets, docs = case
    v = _values(values, sets)
    mode = "operator" if "dask.mode=operator" in sets else v["dask"]["mode"]
    kinds = {(d["kind"], d["metadata"].get("labels", {}).get("app.kubernetes.io/component")) for d in docs}
    if mode == "operator":
        assert ("DaskCluster", "dask") in kinds
        assert ("Deployment", "dask-scheduler") not in kinds
        cluster = next(d for d in docs if d["kind"] == "DaskCluster")
        assert cluster["spec"]["scheduler"]["spec"]["containers"][0]["name"] == "scheduler"
        assert cluster["spec"]["scheduler"]["service"]["selector"]["dask.org/cluster-name"] == cluster["metadata"]["name"]
    else:
        assert not any(d["kind"] in ("DaskCluster", "DaskAutoscaler") for d in docs)
        assert {("Deployment", "dask-scheduler"), ("Deployment", "dask-worker"), ("Service", "dask-scheduler")} <= kinds


def test_rbac_grants_what_kubecluster_needs(case):
    _, _, sets, docs = case
    roles = [d for d in docs if d["kind"] == "Role"]
    if "rbac.create=false" in sets:
        assert not roles and not any(d["kind"] == "RoleBinding" for d in docs)
        return
    (role,) = roles
    rules = {(tuple(r["apiGroups"]), tuple(r["resources"])): set(r["verbs"]) for r in role["rules"]}
    assert rules[(("kubernetes.dask.org",), ("daskclusters", "daskworkergroups", "daskautoscalers"))] == {
        "get", "list", "create", "patch", "delete"}
    assert rules[(("",), ("pods", "services"))] == {"get", "list"}
    assert rules[(("",), ("pods/log",))] == {"get"}
    assert ((("",), ("pods/portforward",)) in rules) == ("rbac.portForward=true" in sets)
    (binding,) = [d for d in docs if d["kind"] == "RoleBinding"]
    assert binding["roleRef"]["name"] == role["metadata"]["name"]
    sa_names = {d["metadata"]["name"] for d in docs if d["kind"] == "ServiceAccount"}
    assert binding["subjects"][0]["name"] in sa_names


def test_kafka_secret_created_or_existing(case):
    _, values, _, docs = case
    v = _values(values, [])
    secrets = [d for d in docs if d["kind"] == "Secret"]
    if v["kafka"].get("existingSecret"):
        assert not secrets
        refs = {e["valueFrom"]["secretKeyRef"]["name"]
                for _, pod in _pod_specs(docs) for c in pod["containers"] for e in c.get("env", [])
                if "secretKeyRef" in e.get("valueFrom", {})}
        assert refs <= {v["kafka"]["existingSecret"]}
    else:
        (secret,) = secrets
        assert secret["stringData"]["bootstrap-servers"] == v["kafka"]["bootstrapServers"]


def test_logger_is_optional(case):
    _, values, sets, docs = case
    enabled = "logger.enabled=true" in sets or _values(values, sets)["logger"]["enabled"]
    loggers = [d for d in docs if d["metadata"].get("labels", {}).get("app.kubernetes.io/component") == "logger"]
    if not enabled:
        assert not loggers
        return
    assert sorted(d["kind"] for d in loggers) == ["Deployment", "Service"]
    dep = next(d for d in loggers if d["kind"] == "Deployment")
    (c,) = dep["spec"]["template"]["spec"]["containers"]
    assert c["command"] == ["driftstream", "logger", "--port", "8080"]


@pytest.mark.parametrize(
    "sets, message",
    [
        (["dask.mode=spark"], "/dask/mode"),
        (["monitors[0].name=Not_A_DNS_Name", "monitors[0].spec.model=x"], "/monitors/0/name"),
        (["kafka.securityProtocol=SASL_TLS"], "/kafka/securityProtocol"),
        (["engine.resourcez.cpu=1"], "resourcez"),
        (["kafka.sasl.mechanism=PLAIN"], "kafka.sasl.username is required"),
    ],
)
def test_bad_values_are_rejected(helm, sets, message):
    proc = _run([helm, "template", "rel", CHART, *_args([], sets)])
    assert proc.returncode != 0
    assert message in proc.stderr


def test_notes_render(helm, tmp_path):
    """NOTES.txt renders (helm install --dry-run needs a reachable cluster, so render it as the
    data of a ConfigMap in a copy of the chart)."""
    chart = tmp_path / "driftstream"
    shutil.copytree(CHART, chart)
    notes = (chart / "templates" / "NOTES.txt").read_text()
    (chart / "templates" / "_notes_check.tpl").write_text('{{- define "notes-check" -}}\n' + notes + "\n{{- end }}\n")
    (chart / "templates" / "notes-check.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: notes\ndata:\n  NOTES: |\n"
        '    {{- include "notes-check" . | nindent 4 }}\n'
    )
    for sets, expected in ((["monitors=null"], "Monitors (0)"), ([], "port-forward svc/rel-driftstream-fraud-v3-dashboard")):
        proc = _run([helm, "template", "rel", str(chart), "--namespace", NAMESPACE,
                     "--show-only", "templates/notes-check.yaml", "-f", EXAMPLES[-1], *_args([], sets)])
        assert proc.returncode == 0, proc.stderr
        text = yaml.safe_load(proc.stdout)["data"]["NOTES"]
        assert expected in text
        assert "dask-kubernetes operator" in text
