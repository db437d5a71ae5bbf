"""The ``driftstream`` command.

Sub-commands: ``kafka up|down|status|fetch``, ``baseline``, ``replay``, ``run``, ``demo``,
and, where their modules are present, ``report``, ``k8s``, ``logger``.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import sys
import time
from pathlib import Path
from typing import Any

OPTIONAL_COMMANDS = ("broker", "report", "k8s", "logger")


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING if not getattr(args, "verbose", False) else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not getattr(args, "verbose", False):
        quiet_kafka_noise()
    if not hasattr(args, "func"):
        parser.print_help()
        return 2
    try:
        result = args.func(args)
    except KeyboardInterrupt:
        return 130
    except (ValueError, FileNotFoundError, RuntimeError, TimeoutError) as exc:
        print(f"driftstream {args.command}: {exc}", file=sys.stderr)
        return 1
    return int(result or 0)


KAFKA_NOISE = ("not found in cluster metadata", "UnknownMemberIdError", "Unable to send to wakeup socket")


class _KafkaNoise(logging.Filter):
    """Drops kafka-python's routine ERROR lines (a topic not created yet, leaving a group on exit);
    real failures (authentication, unreachable brokers) still reach the user."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not any(noise in message for noise in KAFKA_NOISE)


def quiet_kafka_noise() -> None:
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, _KafkaNoise) for f in handler.filters):
            handler.addFilter(_KafkaNoise())


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="driftstream", description="Streaming monitoring for ML models.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log what the engine does")
    sub = parser.add_subparsers(dest="command")
    for name in OPTIONAL_COMMANDS:
        try:
            module = importlib.import_module(f"driftstream.engine.{name}")
        except ImportError:
            continue
        module.register_cli(sub)

    p = sub.add_parser("baseline", help="profile training data into a baseline")
    p.add_argument("data", help="training data (CSV or Parquet) with one column per monitored feature")
    p.add_argument("--spec", required=True, help="monitor spec (YAML) giving the schema")
    p.add_argument("-o", "--output", required=True, help="baseline folder to write")
    p.add_argument("--bins", type=int, default=10, help="quantile bins per numeric feature")
    p.add_argument("--sample-size", type=int, default=50_000)
    p.set_defaults(func=cmd_baseline)

    p = sub.add_parser("replay", help="replay an inference-log file into a Kafka topic")
    p.add_argument("file", help="JSONL, Parquet or CSV inference log")
    p.add_argument("--topic", required=True)
    p.add_argument("--bootstrap-servers", default="127.0.0.1:9092")
    p.add_argument("--rate", type=float, default=None, help="records/s (default: as fast as possible)")
    p.add_argument("--restamp", action="store_true", help="set each record's ts to the time it is sent")
    p.set_defaults(func=cmd_replay)

    p = sub.add_parser("run", help="run a monitor until Ctrl-C or --duration")
    p.add_argument("spec", help="monitor spec (YAML)")
    p.add_argument("--duration", type=float, default=None, help="seconds to run")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("demo", help="the whole thing on a bundled dataset, drift injected halfway")
    p.add_argument("--duration", type=float, default=60.0, help="seconds to run (default 60)")
    p.add_argument("--rate", type=float, default=400.0, help="requests/s replayed (default 400)")
    p.add_argument("--no-kafka", action="store_true", help="replay from a file instead of Kafka")
    p.add_argument("--dashboard", action="store_true", help="serve the live dashboard at 127.0.0.1:5006")
    p.add_argument("--out", default="demo-out", help="folder for the baseline, logs and Parquet results")
    p.set_defaults(func=cmd_demo)
    return parser


def cmd_baseline(args: argparse.Namespace) -> int:
    import pandas as pd
    from tqdm import tqdm

    from driftstream.detectors.baseline import Baseline

    from .spec import load_spec

    spec = load_spec(args.spec)
    path = Path(args.data)
    if not path.exists():
        raise FileNotFoundError(f"No training data at {path}.")
    with tqdm(total=3, desc="baseline", unit="step") as bar:
        data = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
        bar.update()
        baseline = Baseline.fit(data, spec.schema_.columns, n_bins=args.bins, sample_size=args.sample_size)
        bar.update()
        baseline.save(args.output)
        bar.update()
    print(f"baseline of {len(data)} rows and {len(baseline.columns)} columns written to {args.output}")
    return 0


def cmd_replay(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from driftstream.streams.producer import replay_to_kafka
    from driftstream.streams.sources import read_inference_log

    with tqdm(desc=f"replay -> {args.topic}", unit="rec") as bar:
        sent = replay_to_kafka(read_inference_log(args.file), args.topic, args.bootstrap_servers, args.rate, args.restamp, bar)
    print(f"{sent} records sent to {args.topic}")
    return 0


def status_line(monitor: Any) -> str:
    c = monitor.counters
    lag = sum(monitor.lag.values()) if monitor.lag else 0
    return (
        f"in {c.get('records_in', 0):>9,}  bad {c.get('bad', 0):>5,}  late {c.get('late_records', 0):>5,}  "
        f"windows {c.get('windows_emitted', 0):>4}  outliers {c.get('outliers', 0):>6,}  "
        f"drift {c.get('drift', 0):>5,}  alerts {c.get('alerts', 0):>3}  lag {lag:>7,}"
    )


def run_with_status(monitor: Any, duration: float | None, printer: Any = None) -> None:
    """Run a started monitor, keeping one live status line, until duration, Ctrl-C or an error."""
    deadline = None if duration is None else time.monotonic() + duration
    tty = sys.stdout.isatty()
    last = 0.0
    try:
        while monitor.running and (deadline is None or time.monotonic() < deadline):
            time.sleep(0.25)
            if printer is not None:
                printer()
            if tty and time.monotonic() - last > 0.5:
                print("\r" + status_line(monitor), end="", flush=True)
                last = time.monotonic()
    except KeyboardInterrupt:
        pass
    finally:
        if tty:
            print()
        monitor.stop()
    if monitor.error:
        raise RuntimeError(str(monitor.error))
    print("summary: " + json.dumps(monitor.summary()))


def cmd_run(args: argparse.Namespace) -> int:
    from .monitor import Monitor

    monitor = Monitor(args.spec).start()
    if monitor.dashboard_url:
        print(f"dashboard: {monitor.dashboard_url}")
    if monitor.metrics_url:
        print(f"metrics:   {monitor.metrics_url}/metrics")
    run_with_status(monitor, args.duration)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    return run_demo(duration=args.duration, rate=args.rate, use_kafka=not args.no_kafka, dashboard=args.dashboard, out=args.out)


if __name__ == "__main__":
    sys.exit(main())
