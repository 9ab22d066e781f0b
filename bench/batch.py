"""Scoring the whole customer base: the local engine and Spark (local mode) against
scikit-learn's own ``predict_proba`` in one process, all four customer models at once.

    .venv/bin/python -m bench.batch                   # 10 million customers
    .venv/bin/python -m bench.batch --rows 1000000    # a quicker look

The built-in world's customers are generated once into Parquet (200,000 per file) under
``--data``. Each engine runs as ``insight predict`` in its own process; its peak memory is the
largest sum of the resident memory of that process and all its children (workers, the JVM),
sampled every 0.2 s. The scikit-learn baseline scores the first ``--baseline-rows`` rows (its
rows/s does not change with the size of the input) with every fitted pipeline of the four
models' production versions on one core: the per-core figure the engines are held to.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from app.batch.predict import default_workers
from app.core.config import Settings
from app.services.served_models import CUSTOMER_MODELS, load_pyfunc
from model_registry.registry import resolve_version
from training.customers.world import write_customers

FILE_ROWS = 200_000


@dataclass(frozen=True)
class Figure:
    engine: str
    rows: int
    seconds: float
    cores: int
    peak_rss_mb: float | None

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.seconds

    @property
    def rows_per_s_per_core(self) -> float:
        return self.rows_per_s / self.cores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--baseline-rows", type=int, default=1_000_000)
    parser.add_argument("--data", type=Path, default=None, help="default: var/bench-customers-N")
    parser.add_argument("--workers", type=int, default=default_workers())
    parser.add_argument("--skip-spark", action="store_true")
    parser.add_argument("--skip-local", action="store_true")
    parser.add_argument("--out", type=Path, default=Path("bench/results/batch.json"))
    options = parser.parse_args()
    settings = Settings()
    data = options.data or settings.data_dir / f"bench-customers-{options.rows}"
    _generate(data, options.rows)
    figures = [_baseline(settings, data, options.baseline_rows)]
    with tempfile.TemporaryDirectory(prefix="bench-batch-") as scratch:
        if not options.skip_local:
            local = ["--workers", str(options.workers)]
            figures.append(_engine(data, Path(scratch) / "local", local, options.workers))
        if not options.skip_spark:
            spark = ["--engine", "spark", "--spark-master", f"local[{options.workers}]"]
            figures.append(_engine(data, Path(scratch) / "spark", spark, options.workers))
    _print(figures, options.rows)
    options.out.parent.mkdir(parents=True, exist_ok=True)
    options.out.write_text(json.dumps([asdict(f) for f in figures], indent=2))


def _generate(folder: Path, rows: int) -> None:
    files = sorted(folder.glob("customers-*.parquet"))
    if files and sum(pq.ParquetFile(f).metadata.num_rows for f in files) == rows:
        print(f"{rows:,} customers in {folder}")
        return
    print(f"generating {rows:,} customers into {folder} ...", flush=True)
    started = time.monotonic()
    write_customers(folder, rows, seed=11, chunk_rows=FILE_ROWS, labels=False)
    print(f"  {time.monotonic() - started:.0f} s")


def _baseline(settings: Settings, data: Path, rows: int) -> Figure:
    """scikit-learn's own pipelines, one process, one thread: every target of the four models,
    as a user of the pipelines MLflow logged would score a table."""
    client = settings.mlflow_store().activate()
    models = []
    for name in CUSTOMER_MODELS:
        version = resolve_version(client, name).version
        uri = client.get_model_version_download_uri(name, version)
        models.append(load_pyfunc(uri).unwrap_python_model())
    scored = 0
    started = time.monotonic()
    for path in sorted(data.glob("customers-*.parquet")):
        frame = pd.read_parquet(path)
        for model in models:
            features = model.features.prepare(frame)
            for pipeline in model.pipelines.values():
                pipeline.predict_proba(features)
        scored += len(frame)
        if scored >= rows:
            break
    return Figure("scikit-learn predict_proba", scored, time.monotonic() - started, 1, None)


def _engine(data: Path, out: Path, options: list[str], cores: int) -> Figure:
    command = [sys.executable, "-m", "app.cli", "predict", "--data", str(data), "--out", str(out)]
    engine = "spark (local mode)" if "spark" in options else "local engine"
    print(f"{engine}: insight {' '.join(command[4:] + options)}", flush=True)
    started = time.monotonic()
    process = subprocess.Popen([*command, *options], env=os.environ | {"OMP_NUM_THREADS": "1"})
    peak = PeakMemory(process.pid)
    peak.start()
    code = process.wait()
    seconds = time.monotonic() - started
    peak.stop()
    if code != 0:
        raise SystemExit(f"{engine} failed with exit code {code}")
    rows = sum(pq.ParquetFile(p).metadata.num_rows for p in out.glob("part-*"))
    return Figure(engine, rows, seconds, cores, peak.mb)


class PeakMemory(threading.Thread):
    """The largest sum of resident memory of a process and all its descendants."""

    def __init__(self, pid: int, every_s: float = 0.2):
        super().__init__(daemon=True)
        self.pid, self.every_s, self.mb = pid, every_s, 0.0
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.wait(self.every_s):
            self.mb = max(self.mb, sum(map(_rss_mb, _tree(self.pid))))

    def stop(self) -> None:
        self._done.set()
        self.join()


def _tree(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def _rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _print(figures: list[Figure], rows: int) -> None:
    baseline = figures[0].rows_per_s_per_core
    print(f"\n{rows:,} customers, all four customer models")
    print(
        f"{'':28} {'rows':>11} {'s':>7} {'rows/s':>9} {'per core':>9} {'vs sklearn':>10} {'peak RSS':>9}"
    )
    for f in figures:
        rss = f"{f.peak_rss_mb:,.0f} MB" if f.peak_rss_mb is not None else "-"
        print(
            f"{f.engine:28} {f.rows:>11,} {f.seconds:>7.1f} {f.rows_per_s:>9,.0f} "
            f"{f.rows_per_s_per_core:>9,.0f} {f.rows_per_s_per_core / baseline:>9.2f}x {rss:>9}"
        )


if __name__ == "__main__":
    main()
