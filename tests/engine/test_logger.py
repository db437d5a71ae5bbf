"""The KServe inference logger: real HTTP requests (urllib) in, records read back from the real broker."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from typing import Any

import pytest

from driftstream.engine.logger import LoggerService, parse_time

pytestmark = pytest.mark.kafka

REQ = "org.kubeflow.serving.inference.request"
RESP = "org.kubeflow.serving.inference.response"
TIME = "2024-05-01T12:00:00.123456789Z"
TIME_MS = 1714564800123


def post(url: str, body: Any, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=20) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def binary(url: str, event_id: str, kind: str, payload: Any, time: str | None = TIME, **extra: str):
    headers = {"Content-Type": "application/json", "ce-id": event_id, "ce-type": REQ if kind == "request" else RESP,
               "ce-source": "http://localhost:9081/", "ce-specversion": "1.0",
               "ce-inferenceservicename": "sklearn-iris", "ce-namespace": "default",
               "ce-component": "predictor", "ce-endpoint": "default"}
    if time:
        headers["ce-time"] = time
    headers.update(extra)
    return post(url, payload, headers)


def structured(url: str, event_id: str, kind: str, payload: Any, time: str | None = TIME):
    envelope = {"specversion": "1.0", "id": event_id, "type": REQ if kind == "request" else RESP,
                "source": "http://localhost:9081/", "datacontenttype": "application/json",
                "inferenceservicename": "sklearn-iris", "data": payload}
    if time:
        envelope["time"] = time
    return post(url, envelope, {"Content-Type": "application/cloudevents+json; charset=utf-8"})


def read_topic(bootstrap: str, topic: str, n: int, timeout: float = 30.0) -> list[tuple[str, dict[str, Any]]]:
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                             enable_auto_commit=False, group_id=None, consumer_timeout_ms=1000)
    out: list[tuple[str, dict[str, Any]]] = []
    deadline = time.monotonic() + timeout
    try:
        while len(out) < n and time.monotonic() < deadline:
            for message in consumer:
                out.append((message.key.decode(), json.loads(message.value)))
        # anything beyond n would be a duplicate: give it a moment to show up
        extra = consumer.poll(timeout_ms=500)
        out.extend((m.key.decode(), json.loads(m.value)) for ms in extra.values() for m in ms)
    finally:
        consumer.close()
    return out


@pytest.fixture
def service(kafka_bootstrap: str, kafka_topic: str):
    with LoggerService("iris", kafka_topic, kafka_bootstrap, feature_names=["sl", "sw", "pl", "pw"], port=0,
                       pending_ttl=30) as svc:
        yield svc


def test_healthz_and_binds_loopback(service: LoggerService) -> None:
    assert service.url.startswith("http://127.0.0.1:")
    with urllib.request.urlopen(service.url + "/healthz", timeout=10) as answer:
        assert answer.status == 200
        assert json.loads(answer.read())["status"] == "ok"


def test_binary_v1_request_then_response(service: LoggerService, kafka_bootstrap: str, kafka_topic: str) -> None:
    eid = uuid.uuid4().hex
    status, body = binary(service.url, eid, "request", {"instances": [[6.8, 2.8, 4.8, 1.4], [6.0, 3.4, 4.5, 1.6]]})
    assert (status, body["status"]) == (202, "pending")
    status, body = binary(service.url, eid, "response", {"predictions": [1, 2]})
    assert status == 200 and body["records"] == 2, body
    got = dict(read_topic(kafka_bootstrap, kafka_topic, 2))
    assert set(got) == {f"{eid}-0", f"{eid}-1"}
    first = got[f"{eid}-0"]
    assert first == {"request_id": f"{eid}-0", "model": "iris", "ts": TIME_MS,
                     "features": {"sl": 6.8, "sw": 2.8, "pl": 4.8, "pw": 1.4}, "prediction": 1}
    assert got[f"{eid}-1"]["prediction"] == 2 and got[f"{eid}-1"]["features"]["pw"] == 1.6
    # the engine's own decoder takes them as they are (contract format)
    from driftstream.streams.decode import Decoder

    decoder = Decoder(model="iris", columns={**{n: "numeric" for n in ("sl", "sw", "pl", "pw")}, "prediction": "numeric"})
    batch = decoder.decode([json.dumps(r).encode() for r in got.values()], partitions=[0, 0], offsets=[0, 1])
    assert batch.bad == [] and sorted(batch.frame["prediction"]) == [1.0, 2.0]
    assert list(batch.frame["ts"]) == [TIME_MS, TIME_MS]


def test_structured_response_first_dict_instances(service: LoggerService, kafka_bootstrap: str, kafka_topic: str) -> None:
    eid = uuid.uuid4().hex
    status, body = structured(service.url, eid, "response", {"predictions": ["setosa"]})
    assert (status, body["waiting_for"]) == (202, "request")
    status, body = structured(service.url, eid, "request", {"instances": [{"sl": 5.1, "colour": "red"}]}, time=None)
    assert status == 200 and body["records"] == 1
    before = int(time.time() * 1000)
    [(key, record)] = read_topic(kafka_bootstrap, kafka_topic, 1)
    assert key == eid and record["request_id"] == eid          # one instance: the ce-id as it is
    assert record["features"] == {"sl": 5.1, "colour": "red"} and record["prediction"] == "setosa"
    assert before - 60_000 < record["ts"] <= before            # no ce-time: now


def test_v2_inputs_outputs_both_modes(service: LoggerService, kafka_bootstrap: str, kafka_topic: str) -> None:
    a, b = uuid.uuid4().hex, uuid.uuid4().hex
    one_tensor = {"inputs": [{"name": "input-0", "shape": [2, 4], "datatype": "FP32",
                              "data": [[6.8, 2.8, 4.8, 1.4], [6.0, 3.4, 4.5, 1.6]]}]}
    outputs = {"model_name": "iris", "model_version": "3", "id": "x",
               "outputs": [{"name": "output-0", "shape": [2], "datatype": "INT64", "data": [1, 1]}]}
    assert binary(service.url, a, "request", one_tensor)[0] == 202
    assert binary(service.url, a, "response", outputs)[0] == 200
    columns = {"inputs": [{"name": "age", "shape": [1], "datatype": "FP64", "data": [52.0]},
                          {"name": "sex", "shape": [1, 1], "datatype": "BYTES", "data": ["F"]}]}
    proba = {"outputs": [{"name": "proba", "shape": [1, 2], "datatype": "FP32", "data": [0.25, 0.75]}]}
    assert structured(service.url, b, "response", proba)[0] == 202
    assert structured(service.url, b, "request", columns)[0] == 200
    got = dict(read_topic(kafka_bootstrap, kafka_topic, 3))
    assert set(got) == {f"{a}-0", f"{a}-1", b}
    assert got[f"{a}-1"]["features"] == {"sl": 6.0, "sw": 3.4, "pl": 4.5, "pw": 1.6}
    assert got[f"{a}-1"]["model_version"] == "3" and got[f"{a}-1"]["prediction"] == 1
    assert got[b]["features"] == {"age": 52.0, "sex": "F"} and got[b]["prediction"] == [0.25, 0.75]


@pytest.mark.parametrize("case, expect", [
    ("unknown type", "unknown ce-type"),
    ("bad json", "bad JSON"),
    ("missing id", "missing ce-id"),
    ("no instances", "neither 'instances' nor 'inputs'"),
    ("wrong width", "4 feature names"),
    ("bad v2 shape", "does not match"),
    ("not a cloudevent", "not a CloudEvent"),
    ("bad structured json", "bad JSON in structured"),
    ("bad time", "RFC 3339"),
])
def test_bad_events_get_4xx_with_reason(service: LoggerService, case: str, expect: str) -> None:
    url, eid = service.url, uuid.uuid4().hex
    if case == "unknown type":
        status, body = binary(url, eid, "request", {"instances": [[1, 2, 3, 4]]}, **{"ce-type": "com.example.other"})
    elif case == "bad json":
        status, body = binary(url, eid, "request", b'{"instances": [[1, 2')
    elif case == "missing id":
        status, body = post(url, {"instances": [[1, 2, 3, 4]]}, {"ce-type": REQ, "ce-specversion": "1.0"})
    elif case == "no instances":
        status, body = binary(url, eid, "request", {"rows": [[1, 2, 3, 4]]})
    elif case == "wrong width":
        status, body = binary(url, eid, "request", {"instances": [[1, 2, 3]]})
    elif case == "bad v2 shape":
        status, body = binary(url, eid, "response", {"outputs": [{"name": "o", "shape": [3], "datatype": "FP32",
                                                                  "data": [1, 2]}]})
    elif case == "not a cloudevent":
        status, body = post(url, {"instances": [[1, 2, 3, 4]]}, {"Content-Type": "application/json"})
    elif case == "bad structured json":
        status, body = post(url, b"{nope", {"Content-Type": "application/cloudevents+json"})
    else:
        status, body = binary(url, eid, "request", {"instances": [[1, 2, 3, 4]]}, time="yesterday")
    assert 400 <= status < 500
    assert expect in body["error"], body


def test_length_mismatch_refused_and_nothing_produced(service: LoggerService, kafka_bootstrap: str,
                                                      kafka_topic: str) -> None:
    bad, good = uuid.uuid4().hex, uuid.uuid4().hex
    assert binary(service.url, bad, "request", {"instances": [[1, 2, 3, 4], [5, 6, 7, 8]]})[0] == 202
    status, body = binary(service.url, bad, "response", {"predictions": [0, 1, 2]})
    assert status == 400 and "2 instances but its response has 3 predictions" in body["error"]
    # the join is gone: a retried response waits again instead of producing
    assert binary(service.url, bad, "response", {"predictions": [0, 1]})[0] == 202
    assert binary(service.url, good, "request", {"instances": [[1, 2, 3, 4]]})[0] == 202
    assert binary(service.url, good, "response", {"predictions": [0]})[0] == 200
    got = read_topic(kafka_bootstrap, kafka_topic, 1)
    assert [key for key, _ in got] == [good]
    with urllib.request.urlopen(service.url + "/healthz", timeout=10) as answer:
        health = json.loads(answer.read())
    assert health["rejected"] == 1 and health["records"] == 1 and health["pending"] == 1


def test_pending_table_bounded_and_expiring(kafka_bootstrap: str, kafka_topic: str) -> None:
    with LoggerService("iris", kafka_topic, kafka_bootstrap, port=0, max_pending=3, pending_ttl=0.5) as svc:
        for i in range(5):
            assert binary(svc.url, f"e{i}", "request", {"instances": [[1.0]]})[0] == 202
        assert len(svc.pending) == 3 and svc.pending.evicted == 2
        assert binary(svc.url, "e0", "response", {"predictions": [1]})[0] == 202   # e0 was evicted
        time.sleep(0.6)
        assert binary(svc.url, "late", "request", {"instances": [[1.0]]})[0] == 202
        assert svc.pending.evicted == 3 and svc.pending.expired == 3 and len(svc.pending) == 1


def test_model_from_kserve_header_and_default_topic(kafka_bootstrap: str) -> None:
    from kafka import KafkaAdminClient

    model = f"isvc-{uuid.uuid4().hex[:8]}"
    topic = f"{model}.inference"
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    admin.create_topics({topic: {"num_partitions": 1, "replication_factor": 1}}, wait_for_metadata=True)
    try:
        with LoggerService(None, None, kafka_bootstrap, port=0) as svc:
            eid = uuid.uuid4().hex
            extra = {"ce-inferenceservicename": model}
            assert binary(svc.url, eid, "request", {"instances": [[1.0, 2.0]]}, **extra)[0] == 202
            status, body = binary(svc.url, eid, "response", {"predictions": [0.5]}, **extra)
            assert status == 200 and body["topic"] == topic
        [(key, record)] = read_topic(kafka_bootstrap, topic, 1)
        assert record["model"] == model and record["features"] == {"f0": 1.0, "f1": 2.0}
    finally:
        admin.delete_topics([topic])
        admin.close()


def test_cli_serves(kafka_bootstrap: str, kafka_topic: str) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-c", "from driftstream.engine.cli import main; raise SystemExit(main())",
                             "logger", "--port", str(port), "--model", "iris", "--topic", kafka_topic,
                             "--bootstrap-servers", kafka_bootstrap, "--feature-names", "a,b"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert f"127.0.0.1:{port}" in line, (line, proc.stderr.read() if proc.poll() is not None else "")
        url = f"http://127.0.0.1:{port}"
        assert binary(url, "c1", "request", {"instances": [[1, 2]]})[0] == 202
        assert binary(url, "c1", "response", {"predictions": [3]})[0] == 200
        [(_, record)] = read_topic(kafka_bootstrap, kafka_topic, 1)
        assert record["features"] == {"a": 1, "b": 2}
        proc.terminate()
        assert proc.wait(timeout=20) == 0             # SIGTERM: a clean stop
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=20)


def test_parse_time() -> None:
    assert parse_time("2024-05-01T14:00:00+02:00") == 1714564800000
    assert parse_time(TIME) == TIME_MS
    assert parse_time(None) is None


def test_kafka_refusal_is_503_and_the_join_survives(kafka_bootstrap: str) -> None:
    with LoggerService("iris", "not a valid topic!", kafka_bootstrap, port=0, ack_timeout=2) as svc:
        assert binary(svc.url, "k1", "request", {"instances": [[1.0]]})[0] == 202
        status, body = binary(svc.url, "k1", "response", {"predictions": [1]})
        assert status == 503 and "Kafka did not acknowledge" in body["error"]
        assert len(svc.pending) == 1                   # a retried response can still complete the join
