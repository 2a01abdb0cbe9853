"""Baseline: LiteLLM's proxy against semdns's gateway, same fake backend, same load, same run.

Four processes: the zero-latency fake OpenAI backend and ``semdns serve`` in front of it, both started
exactly as ``bench/gateway.py`` starts them (its ``_processes``), the LiteLLM proxy (``litellm
--config``, one uvicorn worker, 127.0.0.1 only, no database, no master key: no auth,
like ``semdns serve`` here) with one model ``bench``
that is the fake backend as an OpenAI-compatible ``openai/fake`` at its ``api_base``, and this load
generator: ``bench/gateway.py``'s own keep-alive HTTP/1.1 client (imported, not copied). Each
concurrency level runs rounds of direct / semdns / LiteLLM in turn, so drift on a shared machine hits
the three alike; per-round figures are merged as in ``bench/gateway.py`` (medians over rounds).

LiteLLM lives in its own virtual environment, never the project's (``--litellm-bin``, else the
``SEMDNS_LITELLM_BIN`` environment variable, else ``.venv-litellm/bin/litellm``), for instance:

    python3.11 -m venv /tmp/litellm-venv && /tmp/litellm-venv/bin/pip install 'litellm[proxy]'
    SEMDNS_LITELLM_BIN=/tmp/litellm-venv/bin/litellm .venv/bin/python bench/baseline_litellm.py

The fake backend is ``bench/gateway.py``'s: bodies shaped like a real OpenAI server's
(``bench/_openai_shaped.py``; ``--backend minimal`` for ``semdns.testing.FakeOpenAI``'s smallest ones).

and runs offline and quietly: the bundled model cost map and the other bundled catalogues instead of
downloads, telemetry off, ``LITELLM_LOG=ERROR`` (which also silences uvicorn's access log).

Prints one JSON object (and writes it to ``--out``): per concurrency, p50/p99 latency and throughput
of direct, semdns and LiteLLM; for each gateway the latency it adds over direct (p50/p99, ms), its
throughput as a ratio to direct, and its CPU time per request; ``semdns_vs_litellm``: semdns's figure
divided by LiteLLM's (latency and added latency below 1, throughput above 1: semdns better); the
resident memory (VmRSS, /proc/PID/status) of both gateway processes when ready, after the warm-up and
after all the load, and their peak (VmHWM); the LiteLLM version.

    .venv/bin/python bench/baseline_litellm.py [--requests 2000] [--rounds 2] [--per-connection 200]
        [--concurrency 1 8 32] [--out results.json]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

from _common import emit

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def _import_gateway_bench() -> ModuleType:
    """``bench/gateway.py`` as a module (``bench`` is not a package): its processes and load generator."""
    spec = importlib.util.spec_from_file_location("bench_gateway", HERE / "gateway.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


gw = _import_gateway_bench()

# LiteLLM offline and quiet. The per-feature switches of litellm 1.108 (no LITELLM_OFFLINE_MODE there;
# set too, for later versions); telemetry is opt-in since 1.107, the older switches are set anyway.
LITELLM_ENV = {
    "LITELLM_OFFLINE_MODE": "true",
    "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    "LITELLM_LOCAL_ANTHROPIC_BETA_HEADERS": "True",
    "LITELLM_LOCAL_AUTOROUTER_PRESETS": "True",
    "LITELLM_LOCAL_POLICY_TEMPLATES": "True",
    "LITELLM_LOCAL_BLOG_POSTS": "True",
    "LITELLM_TELEMETRY": "False",
    "LITELLM_TELEMETRY_DISABLED": "True",
    "DO_NOT_TRACK": "1",
    "LITELLM_LOG": "ERROR",
    "LITELLM_DONT_SHOW_FEEDBACK_BOX": "True",
    "DISABLE_ADMIN_UI": "True",
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "NO_PROXY": "127.0.0.1,localhost",
    "no_proxy": "127.0.0.1,localhost",
}
# Inherited variables that would give LiteLLM a database, another config or a route to the internet.
LITELLM_ENV_DROP = (
    "DATABASE_URL",
    "DIRECT_URL",
    "REDIS_URL",
    "REDIS_HOST",
    "LITELLM_MASTER_KEY",
    "LITELLM_MODEL_COST_MAP_URL",
    "CONFIG_FILE_PATH",
    "PYTHONPATH",
    "VIRTUAL_ENV",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "http_proxy",
    "https_proxy",
    "ALL_PROXY",
    "all_proxy",
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
)
READY_TIMEOUT_S = 180.0


def _litellm_version(litellm_bin: Path) -> str:
    python = litellm_bin.parent / "python"
    try:
        out = subprocess.run(
            [str(python), "-c", "import importlib.metadata as m; print(m.version('litellm'))"],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.stdout.strip() or "unknown"


def _proc_status(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (KiB) of one process, from /proc/PID/status (empty where it cannot be read)."""
    out: dict[str, int] = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(value.split()[0])
    except (OSError, ValueError, IndexError):
        pass
    return out


def _descendants(pid: int) -> list[int]:
    """Child processes, recursively (Linux /proc/PID/task/*/children), bounded in depth and count."""
    found: list[int] = []
    frontier = [pid]
    for _ in range(8):
        nxt: list[int] = []
        for parent in frontier:
            for task in Path(f"/proc/{parent}/task").glob("*"):
                with contextlib.suppress(OSError, ValueError):
                    nxt.extend(int(c) for c in (task / "children").read_text().split())
        nxt = [p for p in nxt if p not in found][:64]
        if not nxt:
            break
        found.extend(nxt)
        frontier = nxt
    return found


def _memory(pid: int) -> dict[str, int]:
    """Resident memory of a gateway process in KiB, and of its child processes if it has any."""
    own = _proc_status(pid)
    row = {"rss_kib": own.get("VmRSS", -1), "hwm_kib": own.get("VmHWM", -1)}
    children = _descendants(pid)
    if children:
        row["children"] = len(children)
        row["rss_kib_with_children"] = row["rss_kib"] + sum(_proc_status(c).get("VmRSS", 0) for c in children)
    return row


def _cpu_tree(pid: int) -> float:
    return gw._cpu_seconds(pid) + sum(gw._cpu_seconds(c) for c in _descendants(pid))


def _log_tail(path: Path, chars: int = 3000) -> str:
    try:
        return path.read_text(errors="replace")[-chars:]
    except OSError:
        return "(no log)"


@contextlib.contextmanager
def _litellm(litellm_bin: Path, backend_port: int, workdir: Path) -> Iterator[tuple[int, int]]:
    """The LiteLLM proxy in front of the fake backend: yields (port, pid); stopped on exit."""
    litellm_bin = litellm_bin.absolute()
    port = gw._free_port()
    config = workdir / "litellm-config.yaml"
    config.write_text(
        "model_list:\n"
        "  - model_name: bench\n"
        "    litellm_params:\n"
        "      model: openai/fake\n"
        f"      api_base: http://127.0.0.1:{backend_port}/v1\n"
        "      api_key: sk-bench-not-a-key\n"
        "litellm_settings:\n"
        "  telemetry: false\n"
        "  set_verbose: false\n"
        "general_settings:\n"
        "  dangerously_permit_weak_or_unset_master_key: true\n",
        encoding="utf-8",
    )
    env = {k: v for k, v in os.environ.items() if k not in LITELLM_ENV_DROP}
    env.update(LITELLM_ENV)
    env["PATH"] = f"{litellm_bin.parent}{os.pathsep}{env.get('PATH', '')}"
    log = workdir / "litellm.log"
    with log.open("wb") as sink:
        proc = subprocess.Popen(
            [
                str(litellm_bin), "--config", str(config), "--host", "127.0.0.1", "--port", str(port),
                "--num_workers", "1",
            ],
            env=env,
            cwd=workdir,
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stopped as a whole
        )  # fmt: skip
    try:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"litellm exited with {proc.returncode}:\n{_log_tail(log)}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"litellm not ready after {READY_TIMEOUT_S:.0f} s:\n{_log_tail(log)}")
            try:
                with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(
                    f"http://127.0.0.1:{port}/health/liveliness", timeout=2
                ) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            time.sleep(0.3)
        yield port, proc.pid
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


def _check_answer(port: int, model: str) -> str:
    """One request through a gateway, checked: the fake backend's answer must come back."""
    body = json.dumps({"model": model, "messages": [{"role": "user", "content": "ping"}]}).encode()
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/v1/chat/completions",
        data=body,
        headers={"content-type": "application/json"},
    )
    with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(request, timeout=30) as r:
        answer = json.loads(r.read())
    content = str(answer["choices"][0]["message"]["content"])
    if "hello from fake" not in content:
        raise RuntimeError(f"unexpected answer through port {port}: {answer}")
    return content


def _gateway_row(v: dict[str, Any], d: dict[str, Any], cpu: float) -> dict[str, Any]:
    v["cpu_us_per_request"] = round(cpu / v["requests"] * 1e6, 1)
    return {
        **v,
        "added_p50_ms": round(v["p50_ms"] - d["p50_ms"], 4),
        "added_p99_ms": round(v["p99_ms"] - d["p99_ms"], 4),
        "throughput_ratio": round(v["rps"] / d["rps"], 3),
    }


def _ratio(a: float, b: float) -> float | None:
    return round(a / b, 3) if b > 0 else None


async def _bench(
    args: argparse.Namespace,
    ports: dict[str, int],
    pids: dict[str, int],
    memory: dict[str, dict[str, Any]],
) -> list[dict[str, Any]]:
    message = {"role": "user", "content": "please benchmark the gateway"}
    models = {"direct": "fake", "semdns": "bench", "litellm": "bench"}
    requests = {
        name: gw._request(
            ports[name], "/v1/chat/completions", json.dumps({"model": model, "messages": [message]}).encode()
        )
        for name, model in models.items()
    }

    async def load(name: str, c: int, total: int) -> dict[str, float]:
        result: dict[str, float] = await asyncio.wait_for(
            gw._load(ports[name], requests[name], c, total), args.round_timeout
        )
        return result

    for name in ("direct", "semdns", "litellm"):
        await load(name, 4, 400)  # warm-up, as bench/gateway.py: connections, caches, lazy imports
    for name in ("semdns", "litellm"):
        memory[name]["after_warmup"] = _memory(pids[name])
    rows = []
    for c in args.concurrency:
        total = max(args.requests, args.per_connection * c) if c > 1 else args.requests
        runs: dict[str, list[dict[str, float]]] = {"direct": [], "semdns": [], "litellm": []}
        cpu = {"semdns": 0.0, "litellm": 0.0}
        for _ in range(args.rounds):
            runs["direct"].append(await load("direct", c, total))
            for name in ("semdns", "litellm"):
                before = _cpu_tree(pids[name])
                runs[name].append(await load(name, c, total))
                cpu[name] += _cpu_tree(pids[name]) - before
        d = gw._merge(runs["direct"])
        s = _gateway_row(gw._merge(runs["semdns"]), d, cpu["semdns"])
        lite = _gateway_row(gw._merge(runs["litellm"]), d, cpu["litellm"])
        rows.append(
            {
                "concurrency": c,
                "direct": d,
                "semdns": s,
                "litellm": lite,
                "semdns_vs_litellm": {
                    "p50_ratio": _ratio(s["p50_ms"], lite["p50_ms"]),
                    "p99_ratio": _ratio(s["p99_ms"], lite["p99_ms"]),
                    "added_p50_ratio": _ratio(s["added_p50_ms"], lite["added_p50_ms"]),
                    "added_p99_ratio": _ratio(s["added_p99_ms"], lite["added_p99_ms"]),
                    "throughput_ratio": _ratio(s["rps"], lite["rps"]),
                    "cpu_per_request_ratio": _ratio(s["cpu_us_per_request"], lite["cpu_us_per_request"]),
                },
            }
        )
    for name in ("semdns", "litellm"):
        memory[name]["after_load"] = _memory(pids[name])
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--requests", type=int, default=2000, help="requests per round at c=1 (more at higher c)"
    )
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument(
        "--litellm-bin",
        type=Path,
        default=Path(os.environ.get("SEMDNS_LITELLM_BIN") or ROOT / ".venv-litellm" / "bin" / "litellm"),
        help="the litellm CLI of a separate venv (default: $SEMDNS_LITELLM_BIN, else .venv-litellm/...)",
    )
    parser.add_argument(
        "--per-connection",
        type=int,
        default=200,
        help="at c > 1 a round has max(--requests, this × c) requests (lower it to bound a run)",
    )
    parser.add_argument(
        "--backend",
        choices=["openai-shaped", "minimal"],
        default="openai-shaped",
        help="the fake backend's bodies, as bench/gateway.py: a real OpenAI server's shape (default)",
    )
    parser.add_argument(
        "--round-timeout", type=float, default=600.0, help="seconds one round may take before it fails"
    )
    parser.add_argument("--out", type=Path, help="also write the JSON here")
    args = parser.parse_args()
    litellm_bin: Path = args.litellm_bin.absolute()  # LiteLLM runs in a temporary directory
    if not (litellm_bin.is_file() and os.access(litellm_bin, os.X_OK)):
        sys.exit(
            f"litellm not found at {litellm_bin}.\nInstall it in its own venv (never the project's):\n"
            "  python3.11 -m venv /tmp/litellm-venv && /tmp/litellm-venv/bin/pip install 'litellm[proxy]'\n"
            "or pass --litellm-bin PATH (or set SEMDNS_LITELLM_BIN)."
        )
    version = _litellm_version(litellm_bin)
    load_at_start = list(os.getloadavg())
    try:
        import uvloop

        runner = uvloop.run
    except ImportError:
        runner = asyncio.run
    with contextlib.ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        backend_port, gateway_port, gateway_pid = stack.enter_context(
            gw._processes(tmp, backend=args.backend)
        )
        litellm_port, litellm_pid = stack.enter_context(_litellm(litellm_bin, backend_port, tmp))
        ports = {"direct": backend_port, "semdns": gateway_port, "litellm": litellm_port}
        pids = {"semdns": gateway_pid, "litellm": litellm_pid}
        answers = {name: _check_answer(ports[name], "bench") for name in ("semdns", "litellm")}
        memory: dict[str, dict[str, Any]] = {name: {"ready": _memory(pid)} for name, pid in pids.items()}
        rows = runner(_bench(args, ports, pids, memory))
    for mem in memory.values():
        mem["growth_kib"] = mem["after_load"]["rss_kib"] - mem["ready"]["rss_kib"]
        mem["growth_after_warmup_kib"] = mem["after_load"]["rss_kib"] - mem["after_warmup"]["rss_kib"]
    result = {
        "benchmark": (
            "gateway overhead: fake OpenAI backend at zero latency, direct vs semdns serve vs LiteLLM proxy"
        ),
        "litellm": {
            "version": version,
            "bin": str(litellm_bin),
            "setup": "litellm --config (model bench = openai/fake at the fake's api_base), --num_workers 1, "
            "127.0.0.1, no database, no master key, LITELLM_LOG=ERROR, local cost map",
            "answer_checked": answers["litellm"],
        },
        "semdns": {
            "setup": "semdns serve --zone (name bench = openai engine, the fake) --no-probes --lazy-local "
            "--log-level warning, as bench/gateway.py",
            "answer_checked": answers["semdns"],
        },
        "load_average_at_start": load_at_start,
        "load_average_at_end": list(os.getloadavg()),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "backend": args.backend,
        "requests_per_round": args.requests,
        "per_connection": args.per_connection,
        "rounds": args.rounds,
        "results": rows,
        "memory_kib": memory,
    }
    emit(result, args.out)


if __name__ == "__main__":
    main()
