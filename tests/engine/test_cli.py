"""The `driftstream` command as a user runs it: baseline, replay, run, demo; and InferenceLogger."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from driftstream.detectors.baseline import Baseline
from driftstream.streams.decode import Decoder
from driftstream.streams.producer import InferenceLogger
from driftstream.streams.sources import read_inference_log

from kafka_helpers import read_topic, records

SCHEMA = {"features": {"x": "numeric", "y": "numeric", "c": "categorical"}, "prediction": "numeric"}


def cli(*args: str, timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "driftstream.engine.cli", *args], capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def spec_file(tmp_path: Path) -> Path:
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump({"model": "t", "schema": SCHEMA, "cluster": {"local": {"processes": False}}}))
    return path


def test_baseline_command_profiles_csv(tmp_path, spec_file):
    rng = np.random.default_rng(0)
    data = pd.DataFrame({"x": rng.normal(size=500), "y": rng.random(500), "c": rng.choice(["a", "b"], 500), "prediction": rng.random(500)})
    data.to_csv(tmp_path / "train.csv", index=False)
    done = cli("baseline", str(tmp_path / "train.csv"), "--spec", str(spec_file), "-o", str(tmp_path / "base"))
    assert done.returncode == 0, done.stderr
    base = Baseline.load(tmp_path / "base")
    assert base.profile["x"]["count"] == 500 and np.isclose(base.profile["x"]["mean"], data["x"].mean())


def test_baseline_command_explains_a_bad_spec(tmp_path):
    (tmp_path / "bad.yaml").write_text("model: t\nschema: {features: {x: number}}\n")
    (tmp_path / "d.csv").write_text("x\n1\n")
    done = cli("baseline", str(tmp_path / "d.csv"), "--spec", str(tmp_path / "bad.yaml"), "-o", str(tmp_path / "b"))
    assert done.returncode == 1 and "schema.features.x" in done.stderr and "got 'number'" in done.stderr


@pytest.mark.parametrize("suffix", [".jsonl", ".parquet", ".csv"])
def test_replay_files_in_every_format_read_back_as_records(tmp_path, suffix):
    _, valid = records(50, start_ms=1_000, span_ms=1_000, jitter_ms=0)
    path = tmp_path / f"log{suffix}"
    if suffix == ".jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in valid))
    else:
        flat = pd.DataFrame([{k: v for k, v in r.items() if k != "features"} | r["features"] for r in valid])
        flat.to_parquet(path) if suffix == ".parquet" else flat.to_csv(path, index=False)
    back = [r for batch in read_inference_log(path, batch_size=20) for r in batch]
    assert [r["request_id"] for r in back] == [r["request_id"] for r in valid]
    assert back[7]["features"]["c"] == valid[7]["features"]["c"] and back[7]["ts"] == valid[7]["ts"]
    batch = Decoder("t", {"x": "numeric", "y": "numeric", "c": "categorical", "prediction": "numeric"}).decode([json.dumps(r).encode() for r in back])
    assert len(batch.frame) == 50 and batch.bad == []


@pytest.mark.kafka
def test_replay_command_produces_a_file_into_kafka(tmp_path, kafka_bootstrap, kafka_topic):
    _, valid = records(300, start_ms=1_000, span_ms=1_000, jitter_ms=0)
    pd.DataFrame([{k: v for k, v in r.items() if k != "features"} | r["features"] for r in valid]).to_parquet(tmp_path / "log.parquet")
    done = cli("replay", str(tmp_path / "log.parquet"), "--topic", kafka_topic, "--bootstrap-servers", kafka_bootstrap, "--rate", "3000")
    assert done.returncode == 0, done.stderr
    assert "300 records sent" in done.stdout
    assert sorted(v["request_id"] for _, v in read_topic(kafka_bootstrap, kafka_topic)) == sorted(r["request_id"] for r in valid)


def test_run_command_prints_a_summary(tmp_path):
    values, valid = records(2_000, start_ms=1_700_000_000_000, span_ms=4_000, jitter_ms=0, bad_every=100)
    (tmp_path / "log.jsonl").write_bytes(b"\n".join(values) + b"\n")
    rng = np.random.default_rng(1)
    Baseline.fit(pd.DataFrame({"x": rng.normal(size=300), "y": rng.random(300), "c": rng.choice(["a", "b", "c"], 300), "prediction": rng.random(300)}),
                 {"x": "numeric", "y": "numeric", "c": "categorical", "prediction": "numeric"}).save(tmp_path / "base")
    spec = {"model": "t", "schema": SCHEMA, "baseline": "base", "source": {"kind": "replay", "path": "log.jsonl"},
            "window": {"size": "1s", "watermark": "0s", "idle_timeout": "1s"}, "sinks": {"kafka": None, "parquet": "out"},
            "cluster": {"local": {"processes": False}}}
    (tmp_path / "spec.yaml").write_text(yaml.safe_dump(spec))
    done = cli("run", str(tmp_path / "spec.yaml"), "--duration", "12")
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout.split("summary: ")[1].splitlines()[0])
    assert summary["records_in"] == 2_000 and summary["bad"] == 2_000 - len(valid) and summary["windows_emitted"] == 4
    assert set(pd.read_parquet(tmp_path / "out" / "stats").window_start) == {1_700_000_000_000 + i * 1_000 for i in range(4)}


def test_demo_runs_without_kafka(tmp_path):
    done = cli("demo", "--no-kafka", "--duration", "10", "--rate", "500", "--out", str(tmp_path / "demo"), timeout=240)
    assert done.returncode == 0, done.stderr
    assert "[window" in done.stdout and "summary:" in done.stdout
    summary = json.loads(done.stdout.split("summary: ")[1].splitlines()[0])
    assert summary["records_in"] == 5_000 and summary["windows_emitted"] >= 1
    assert (tmp_path / "demo" / "results" / "stats").is_dir()


@pytest.mark.kafka
def test_inference_logger_writes_the_contract_format(kafka_bootstrap, kafka_topic):
    with InferenceLogger("t", bootstrap_servers=kafka_bootstrap, topic=kafka_topic, model_version="v3") as log:
        for i in range(20):
            log.log({"x": float(i), "y": 0.5, "c": "a"}, prediction=0.1 * i, request_id=f"q{i}")
    messages = read_topic(kafka_bootstrap, kafka_topic)
    assert sorted(k.decode() for k, _ in messages) == sorted(f"q{i}" for i in range(20))
    batch = Decoder("t", {"x": "numeric", "y": "numeric", "c": "categorical", "prediction": "numeric"}).decode([json.dumps(v).encode() for _, v in messages])
    assert len(batch.frame) == 20 and batch.bad == [] and {v["model_version"] for _, v in messages} == {"v3"}


def test_run_without_a_reachable_broker_says_what_to_do(tmp_path):
    rng = np.random.default_rng(2)
    Baseline.fit(pd.DataFrame({"x": rng.normal(size=100), "prediction": rng.random(100)}), {"x": "numeric", "prediction": "numeric"}).save(tmp_path / "base")
    spec = {"model": "t", "schema": {"features": {"x": "numeric"}}, "baseline": "base",
            "source": {"kind": "kafka", "topic": "t.inference", "bootstrap_servers": "127.0.0.1:1"},
            "cluster": {"local": {"processes": False}}}
    (tmp_path / "spec.yaml").write_text(yaml.safe_dump(spec))
    done = cli("run", str(tmp_path / "spec.yaml"), "--duration", "5", timeout=180)
    assert done.returncode == 1
    assert "Cannot reach Kafka at 127.0.0.1:1" in done.stderr and "driftstream kafka up" in done.stderr
    assert "Traceback" not in done.stderr
