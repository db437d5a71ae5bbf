"""Security: Kafka SASL/PLAIN through the spec, loopback binds, the metrics token, websocket
origins, no unsafe deserialisation of untrusted input, no secrets in the logs.

The SASL test runs its own broker (client port 19192 plain for the readiness probe, 19194
SASL_PLAINTEXT) from a copy of the repo's broker template with SASL listeners added; the repo's
``kafka/server.properties`` is not changed.
"""

from __future__ import annotations

import ast
import asyncio
import logging
import os
import re
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from driftstream.engine.hub import ResultHub
from driftstream.engine.spec import MonitorSpec

from reliability_helpers import SCHEMA, baseline, kafka_spec, now_ms, produce, records, wait_for

REPO = Path(__file__).resolve().parents[2]
PASSWORD = "s3cr3t-Pa55-w0rd-7f1c"
SASL_PORT_OFFSET = 2


# ------------------------------------------------------------------------ Kafka SASL/PLAIN


@pytest.fixture(scope="module")
def sasl_broker(tmp_path_factory):
    """A broker with a SASL_PLAINTEXT listener (users admin and alice) on 127.0.0.1:19194."""
    from driftstream.engine import broker

    home = tmp_path_factory.mktemp("sasl-home")
    (home / "kafka").mkdir()
    (home / "kafka" / "lib").symlink_to(REPO / "kafka" / "lib")
    (home / "kafka" / "pom.xml").symlink_to(REPO / "kafka" / "pom.xml")
    port = 19192
    sasl = port + SASL_PORT_OFFSET
    template = (REPO / "kafka" / "server.properties").read_text()
    template = re.sub(r"(?m)^(listeners|advertised\.listeners|listener\.security\.protocol\.map)=.*$", "", template)
    template += f"""
listeners=PLAINTEXT://127.0.0.1:@PORT@,SASL_PLAINTEXT://127.0.0.1:{sasl},CONTROLLER://127.0.0.1:@CONTROLLER_PORT@
advertised.listeners=PLAINTEXT://127.0.0.1:@PORT@,SASL_PLAINTEXT://127.0.0.1:{sasl},CONTROLLER://127.0.0.1:@CONTROLLER_PORT@
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT
sasl.enabled.mechanisms=PLAIN
listener.name.sasl_plaintext.sasl.enabled.mechanisms=PLAIN
listener.name.sasl_plaintext.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" password="admin-pw" user_admin="admin-pw" user_alice="{PASSWORD}";
"""
    (home / "kafka" / "server.properties").write_text(template)
    old = os.environ.get(broker.HOME_ENV)
    os.environ[broker.HOME_ENV] = str(home)
    try:
        broker.up(port=port, heap="512m")
        yield f"127.0.0.1:{sasl}"
    finally:
        broker.down(port=port)
        if old is None:
            os.environ.pop(broker.HOME_ENV, None)
        else:
            os.environ[broker.HOME_ENV] = old


def _security(password: str) -> dict:
    return {"security_protocol": "SASL_PLAINTEXT", "sasl_mechanism": "PLAIN", "sasl_plain_username": "alice", "sasl_plain_password": password}


def test_sasl_wrong_credentials_refused_right_ones_work(sasl_broker, tmp_path, caplog):
    """Did: against a SASL/PLAIN listener, (1) a kafka-python client with the spec's
    `source.security` and a wrong password, (2) a Monitor with the right password reading 2,000
    records produced with SASL. Checked: the wrong password is refused with an authentication
    error naming the cause; the right one lets the monitor read and window every record;
    the password appears in no log line nor in the spec's repr, even with kafka-python at DEBUG
    level, which logs the SASL/PLAIN frame itself (the engine's log filter replaces it by ***)."""
    from kafka import KafkaConsumer, KafkaProducer
    from kafka.errors import KafkaError

    from driftstream.engine.monitor import Monitor

    caplog.set_level(logging.INFO, logger="kafka")
    caplog.set_level(logging.INFO)
    wrong = MonitorSpec.model_validate({**kafka_spec("sasl-topic", sasl_broker, None), "source": {
        "kind": "kafka", "topic": "sasl-topic", "bootstrap_servers": sasl_broker, "security": _security("not-the-password")}})
    # kafka-python 3 raises "Unable to bootstrap" and logs the broker's reason (error 58)
    def logged_reasons() -> list[str]:
        return [r.getMessage() for r in caplog.records if r.name.startswith("kafka") and r.levelno >= logging.WARNING]

    def reason_logged(within_s: float) -> bool:  # kafka-python's IO thread may log the reason after raising
        deadline = time.monotonic() + within_s
        while not any("SaslAuthenticationFailedError" in m for m in logged_reasons()) and time.monotonic() < deadline:
            time.sleep(0.2)
        return any("SaslAuthenticationFailedError" in m for m in logged_reasons())

    # the broker answers a wrong password and closes the connection; on a loaded machine kafka-python can
    # see the close before the answer ("socket disconnected", no reason): ask again, up to 8 times
    for attempt in range(8):
        with pytest.raises(KafkaError) as refused:
            consumer = KafkaConsumer(bootstrap_servers=sasl_broker, **wrong.source.security.client_kwargs(), request_timeout_ms=10_000)
            consumer.topics()
        if reason_logged(3 if attempt < 7 else 10):
            break
    reasons = logged_reasons()
    assert any("SaslAuthenticationFailedError" in m and "Invalid username or password" in m for m in reasons), reasons[-5:]
    assert "bootstrap" in str(refused.value) or "Authentication" in str(refused.value)

    topic = f"sasl-{int(time.time())}"
    values, valid = records(2_000, start_ms=now_ms() + 1_000, span_ms=4_000, jitter_ms=100, seed=41)
    producer = KafkaProducer(bootstrap_servers=sasl_broker, **_security(PASSWORD))
    for v in values:
        producer.send(topic, v)
    producer.flush()
    producer.close()
    doc = kafka_spec(topic, sasl_broker, None)
    doc["source"]["security"] = _security(PASSWORD)
    doc["sinks"] = {"kafka": {"topic_prefix": f"{topic}."}}
    spec = MonitorSpec.model_validate(doc)
    assert PASSWORD not in repr(spec) and PASSWORD not in str(spec.source)
    caplog.set_level(logging.DEBUG, logger="kafka")  # kafka-python logs the SASL frame at DEBUG
    with Monitor(spec, baseline=baseline()) as monitor:
        wait_for(lambda: monitor.counters.get("records_in", 0) >= 2_000, 60, what="every record over SASL")
        wait_for(lambda: monitor.counters.get("windows_emitted", 0) >= 2, 60, what="windows over SASL")
    assert monitor.error is None
    logged = "\n".join(r.getMessage() for r in caplog.records) + caplog.text
    assert PASSWORD not in logged
    assert any("***" in r.getMessage() for r in caplog.records if r.name.startswith("kafka")), "no SASL frame was logged"


def test_secrets_not_logged_by_the_engine_process(sasl_broker, tmp_path):
    """Did: ran `driftstream -v run spec.yaml` (INFO logging) with a SASL password and a metrics
    token in the spec for 15 s. Checked: neither secret appears in the process output."""
    import yaml

    from reliability_helpers import engine, stop

    topic = f"sasl-log-{int(time.time())}"
    baseline().save(tmp_path / "baseline")
    doc = kafka_spec(topic, sasl_broker, None)
    doc["source"]["security"] = _security(PASSWORD)
    doc["baseline"] = str(tmp_path / "baseline")
    doc["metrics"] = {"enabled": True, "port": 0, "token": "tok-9f8e7d6c5b4a"}
    (tmp_path / "spec.yaml").write_text(yaml.safe_dump(doc))
    proc = engine(tmp_path / "spec.yaml", tmp_path / "engine.log")
    try:
        time.sleep(15)
    finally:
        stop(proc)
    text = (tmp_path / "engine.log").read_text()
    assert text, "the engine wrote nothing"
    assert PASSWORD not in text and "tok-9f8e7d6c5b4a" not in text


# ------------------------------------------------------------------------ HTTP surfaces


def test_dashboard_and_metrics_bind_loopback_by_default():
    """Did: read the spec defaults. Checked: dashboard and metrics bind 127.0.0.1 unless told
    otherwise; the metrics token is hidden from repr."""
    spec = MonitorSpec.model_validate({"model": "m", "schema": SCHEMA, "metrics": {"token": "abc-secret"}})
    assert spec.dashboard.host == "127.0.0.1" and spec.dashboard.enabled is False
    assert spec.metrics.host == "127.0.0.1"
    assert "abc-secret" not in repr(spec)


def _get(url: str, headers: dict | None = None) -> int:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=5) as r:
            return r.status
    except urllib.error.HTTPError as err:
        return err.code


def test_metrics_token_required():
    """Did: started a MetricsServer with a token on 127.0.0.1 and scraped /metrics without a
    token, with a wrong one and with the right one. Checked: 401, 401, 200; /healthz stays open."""
    from driftstream.engine.metrics import MetricsServer

    with MetricsServer(ResultHub(), "m", port=0, token="right-token") as server:
        assert server.url.startswith("http://127.0.0.1:")
        assert _get(server.url + "/metrics") == 401
        assert _get(server.url + "/metrics", {"Authorization": "Bearer wrong"}) == 401
        assert _get(server.url + "/metrics", {"Authorization": "Bearer right-token"}) == 200
        assert _get(server.url + "/healthz") == 200


def test_dashboard_websocket_refuses_foreign_origin():
    """Did: started the Bokeh dashboard on 127.0.0.1 and opened its websocket (/ws) with the
    Origin header of another site, then with its own. Checked: the foreign origin gets HTTP 403,
    its own origin is accepted."""
    from tornado.httpclient import HTTPClientError, HTTPRequest
    from tornado.websocket import websocket_connect

    from driftstream.engine.dashboard import Dashboard

    dash = Dashboard(ResultHub(), "m", ["x"], port=0)
    dash.start()
    try:
        port = int(dash.url.rstrip("/").rsplit(":", 1)[1])

        async def connect(origin: str):
            req = HTTPRequest(f"ws://127.0.0.1:{port}/ws", headers={"Origin": origin})
            try:
                ws = await websocket_connect(req)
            except HTTPClientError as err:
                return err.code
            ws.close()
            return 101

        assert asyncio.run(connect("http://evil.example:8080")) == 403
        assert asyncio.run(connect(f"http://127.0.0.1:{port}")) == 101
    finally:
        dash.stop()


# ------------------------------------------------------------------------ unsafe deserialisation

SOURCES = [p for folder in ("engine", "streams", "detectors") for p in (REPO / folder).rglob("*.py")]


def test_no_unsafe_deserialisation_in_the_code():
    """Did: parsed every module of engine/, streams/ and detectors/ and looked for calls that can
    run code when fed untrusted bytes. Checked: no pickle/marshal/shelve/dill/cloudpickle
    load(s), no yaml.load without SafeLoader (yaml.safe_load only), no eval/exec, no
    joblib.load, no numpy load with allow_pickle=True, no pandas read_pickle."""
    bad = []
    for path in SOURCES:
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                name = ast.unparse(node.func)
                rel = f"{path.relative_to(REPO)}:{node.lineno}: {name}"
                if re.fullmatch(r"(pickle|cPickle|marshal|shelve|dill|cloudpickle|joblib)\.(load|loads|open)", name):
                    bad.append(rel)
                elif name in ("eval", "exec", "pd.read_pickle", "pandas.read_pickle"):
                    bad.append(rel)
                elif name in ("yaml.load", "yaml.load_all", "yaml.unsafe_load", "yaml.full_load"):
                    loader = {k.arg: ast.unparse(k.value) for k in node.keywords}.get("Loader", "")
                    if "SafeLoader" not in loader:
                        bad.append(rel)
                for k in node.keywords:
                    if k.arg == "allow_pickle" and ast.unparse(k.value) != "False":
                        bad.append(rel)
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [a.name for a in node.names] + ([node.module] if isinstance(node, ast.ImportFrom) and node.module else [])
                if any(n in ("pickle", "marshal", "shelve", "dill") for n in names):
                    bad.append(f"{path.relative_to(REPO)}:{node.lineno}: import {names}")
    # detectors/checks.py round-trips a detector it has just fitted (pickle.loads(pickle.dumps(det))):
    # the detector contract check that Dask can ship detectors; never fed outside bytes
    bad = [b for b in bad if not b.startswith("detectors/checks.py")]
    assert not bad, "unsafe deserialisation:\n" + "\n".join(bad)
