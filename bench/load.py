"""Driving an HTTP server with wrk and reading its figures."""

from __future__ import annotations

import math
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.keys import auth_headers


@dataclass(frozen=True)
class LoadResult:
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    errors: int
    requests: int = 0  # answered in all
    statuses: dict[str, int] | None = None  # answers by status code (wrk's Lua counts them)


# One request of a mixed load: method, path, JSON body (None: no body).
Call = tuple[str, str, str | None]


def json_records(frame) -> list[dict]:
    """A DataFrame's rows as JSON-ready dicts: numpy scalars as Python ones, NaN as None."""
    return [
        {name: _plain(value) for name, value in row.items()}
        for row in frame.astype(object).to_dict(orient="records")
    ]


def _plain(value):
    value = value.item() if hasattr(value, "item") else value
    return None if isinstance(value, float) and math.isnan(value) else value


def require_wrk() -> str:
    wrk = shutil.which("wrk")
    if wrk is None:
        raise SystemExit(
            "the benchmark needs wrk: `apt-get install wrk` (Debian) or your package manager"
        )
    return wrk


def run_wrk(
    url: str,
    bodies: list[str],
    *,
    connections: int,
    seconds: float,
    api_key: str | None = None,
    calls: list[Call] | None = None,
) -> LoadResult:
    """POST the bodies round-robin to ``url`` (or send ``calls``, each its own method, path and
    body, round-robin to ``url``'s server) at ``connections`` keep-alive connections for
    ``seconds``, with ``Authorization: Bearer <api_key>`` when a key is given."""
    calls = calls or [("POST", None, body) for body in bodies]
    with tempfile.TemporaryDirectory() as folder:
        script = Path(folder) / "calls.lua"
        script.write_text(_lua_script(calls, api_key), encoding="utf-8")
        threads = min(2, connections)
        output = subprocess.run(
            [
                require_wrk(),
                f"-t{threads}",
                f"-c{connections}",
                f"-d{round(seconds)}s",
                "--latency",
                "-s",
                str(script),
                url,
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    return _parse(output)


def _lua_script(calls: list[Call], api_key: str | None = None) -> str:
    """A wrk script sending the calls in turn; every request carries the key, if any."""

    def text(value: str | None) -> str:
        return "nil" if value is None else f"[==[{value}]==]"

    entries = ",\n".join(
        f"{{{text(method)}, {text(path)}, {text(body)}}}" for method, path, body in calls
    )
    headers = {"Content-Type": "application/json", **auth_headers(api_key)}
    fields = ", ".join(f'["{name}"] = [==[{value}]==]' for name, value in headers.items())
    return f"""
local calls = {{
{entries}
}}
local headers = {{{fields}}}
local i = 0
request = function()
  i = i % #calls + 1
  local call = calls[i]
  return wrk.format(call[1], call[2], headers, call[3])
end

-- Answers by status, summed over wrk's threads (each has a Lua state of its own).
local threads = {{}}
setup = function(thread) table.insert(threads, thread) end
init = function(args) statuses = {{}} end
response = function(status, headers, body) statuses[status] = (statuses[status] or 0) + 1 end
done = function(summary, latency, requests)
  local total = {{}}
  for _, thread in ipairs(threads) do
    for status, count in pairs(thread:get("statuses")) do
      total[status] = (total[status] or 0) + count
    end
  end
  for status, count in pairs(total) do io.write(string.format("status %d: %d\\n", status, count)) end
end
"""


def _parse(output: str) -> LoadResult:
    def latency_ms(percentile: str) -> float:
        value, unit = re.search(
            rf"^\s+{percentile}%\s+([\d.]+)(us|ms|s)\s*$", output, re.M
        ).groups()
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    return LoadResult(
        statuses={s: int(n) for s, n in re.findall(r"^status (\d+): (\d+)$", output, re.M)},
        requests=int(re.search(r"(\d+) requests in", output).group(1)),
        requests_per_s=float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),
        p50_ms=latency_ms("50"),
        p99_ms=latency_ms("99"),
        errors=(int(errors.group(1)) if errors else 0)
        + (sum(map(int, socket_errors.groups())) if socket_errors else 0),
    )


def wait_until_answering(
    url: str, body: str, timeout_s: float = 120, *, api_key: str | None = None
) -> None:
    """Wait until ``url`` answers ``body`` (sent with ``api_key``, if any) with a 200."""
    headers = {"Content-Type": "application/json", **auth_headers(api_key)}
    deadline = time.monotonic() + timeout_s
    last = "no answer"
    while time.monotonic() < deadline:
        try:
            response = httpx.post(url, content=body, headers=headers)
            if response.status_code == 200:
                return
            last = f"last answer {response.status_code}: {response.text[:200]}"
            if response.status_code in (401, 403):  # the keys are read before it answers
                break
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    raise SystemExit(f"{url} did not answer with a 200 within {timeout_s:.0f} s ({last})")


def server_env(tracking_uri: str, *, alias: str = "production") -> dict[str, str]:
    """The environment both servers run in."""
    return {
        **os.environ,
        "MLFLOW_TRACKING_URI": tracking_uri,
        "INSIGHT_MODEL_ALIAS": alias,
        "OMP_NUM_THREADS": "1",
        # `mlflow models serve` starts `uvicorn` from PATH.
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }


def mlflow_serve_command(model_name: str, version: str, port: int) -> list[str]:
    mlflow = str(Path(sys.executable).with_name("mlflow"))
    return [
        mlflow,
        "models",
        "serve",
        "-m",
        f"models:/{model_name}/{version}",
        "-h",
        "127.0.0.1",
        "-p",
        str(port),
        "--env-manager",
        "local",
    ]


@contextmanager
def running_server(command: list[str], env: dict[str, str]):
    process = subprocess.Popen(
        command,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        yield process
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
        time.sleep(1)
