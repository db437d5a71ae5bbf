"""Monitor spec validation: errors name the field, what was expected and what was given."""

from __future__ import annotations

from pathlib import Path

import pytest

from driftstream.engine.spec import SpecError, load_spec, parse_duration

MINIMAL = {"model": "m", "schema": {"features": {"x": "numeric"}}}
EXAMPLES = sorted((Path(__file__).parents[2] / "examples").glob("*.yaml"))


def test_minimal_spec_gets_defaults():
    spec = load_spec(MINIMAL)
    assert spec.source.topic == "m.inference" and spec.source.group_id == "driftstream-m"
    assert spec.window.size_ms == 15_000 and spec.window.watermark_ms == 6_000
    assert spec.cluster.local is not None and spec.schema_.columns == {"x": "numeric", "prediction": "numeric"}


@pytest.mark.parametrize(
    "change, message",
    [
        ({"window": {"size": "fifteen"}}, r"window.size: .*duration like '15s'.*got 'fifteen'"),
        ({"window": {"size": "10s", "slide": "3s"}}, r"slide must divide window.size"),
        ({"schema": {"features": {"x": "float"}}}, r"schema.features.x: .*'numeric' or 'categorical'.*got 'float'"),
        ({"schema": {"features": {}}}, r"at least one feature"),
        ({"source": {"kind": "replay"}}, r"source.path is required"),
        ({"drift": {"alpha": 2}}, r"drift.alpha: .*less than 1.*got 2"),
        ({"cluster": {"local": {}, "address": "tcp://x:1"}}, r"exactly one of local, address, kubernetes"),
        ({"windw": {}}, r"windw: Extra inputs are not permitted"),
    ],
)
def test_invalid_specs_are_explained(change, message):
    with pytest.raises(SpecError, match=message):
        load_spec({**MINIMAL, **change})


def test_durations():
    assert parse_duration("15s") == 15_000 and parse_duration("1m30s") == 90_000 and parse_duration("250ms") == 250
    with pytest.raises(ValueError):
        parse_duration("-3s")


def test_spec_file_paths_are_relative_to_the_file(tmp_path):
    (tmp_path / "m.yaml").write_text("model: m\nschema: {features: {x: numeric}}\nbaseline: base\nsinks: {parquet: out}\n")
    spec = load_spec(tmp_path / "m.yaml")
    assert spec.baseline == str(tmp_path / "base") and spec.sinks.parquet == str(tmp_path / "out")


def test_missing_file_is_named():
    with pytest.raises(SpecError, match="does not exist"):
        load_spec("no/such/spec.yaml")


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_specs_validate(path):
    load_spec(path)


def test_kafka_security_falls_back_to_the_charts_environment(monkeypatch):
    monkeypatch.setenv("DRIFTSTREAM_KAFKA_SECURITY_PROTOCOL", "SASL_PLAINTEXT")
    monkeypatch.setenv("DRIFTSTREAM_KAFKA_SASL_MECHANISM", "PLAIN")
    monkeypatch.setenv("DRIFTSTREAM_KAFKA_SASL_USERNAME", "alice")
    monkeypatch.setenv("DRIFTSTREAM_KAFKA_SASL_PASSWORD", "s3cret")
    spec = load_spec(MINIMAL)
    kwargs = spec.source.security.client_kwargs()
    assert kwargs == {"security_protocol": "SASL_PLAINTEXT", "sasl_mechanism": "PLAIN", "sasl_plain_username": "alice", "sasl_plain_password": "s3cret"}
    assert "s3cret" not in repr(spec)
