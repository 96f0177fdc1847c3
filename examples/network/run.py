"""Start the scaled-out example and supervise it: every part of practice-sync its own process.

    export PRACTICE_SYNC_SANDBOX_EHR_API_KEY=…   # the sandbox EHR's key; the practices use it too
    .venv/bin/python examples/network/run.py [--workers 2] [--port 8400] [--sandbox-port 8500]

In order, each waited for (with a bound) before the next: ``practice-sync migrate`` (to
completion), the sandbox EHR server (``practice-sync sandbox-ehr``, until it answers),
``serve`` (until ``/readyz`` answers: database and broker reachable), the ``worker``s, then
the ``scheduler`` — each until it handles SIGTERM itself, which a worker does once its threads
run, so that stopping it is a graceful stop, never an interrupted start (whatever the log
level lets it say). Their output is printed
line by line, each line prefixed with the process's name; once all are up, where each one
listens.

Ctrl-C or SIGTERM stops them all, the last started first, each as Ctrl-C would (SIGINT: a
graceful shutdown) and each within a bound; the exit status is 0 only if every process exited
cleanly. If any process dies, or does not start, the others are stopped and the exit status
is 1. The children run in their own process group, so a Ctrl-C reaches only this script.

Every process writes its metrics to one folder (``PROMETHEUS_MULTIPROC_DIR``; default
``var/metrics`` next to this file), emptied of an earlier run's files before anything starts,
so that ``serve``'s ``/metrics`` adds up the counters of every process of this run.

Everything else comes from the configuration (``--config``, default: practice-sync.toml next
to this file) and the environment, as for any practice-sync process: PostgreSQL and Redis are
``PRACTICE_SYNC_DATABASE_URL`` and ``PRACTICE_SYNC_BROKER__URL`` when set. This script sets,
for its children, the HTTP port, and for every practice whose EHR is the Kareo-like adapter
at a ``base_url``, that URL (the sandbox it starts) and the API key — unless the environment
already names the key. Every process runs from the repository root, where the
configuration's relative paths start.
"""

from __future__ import annotations

import argparse
import glob
import os
import re
import signal
import subprocess
import sys
import threading
import time
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import httpx

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
PRACTICE_SYNC = [sys.executable, "-m", "integration_core"]
API_KEY = "PRACTICE_SYNC_SANDBOX_EHR_API_KEY"
METRICS_DIR = "PROMETHEUS_MULTIPROC_DIR"
METRICS_FILES = ("counter_*.db", "gauge_*.db", "histogram_*.db", "summary_*.db")
"""What prometheus_client writes into that folder: all an earlier run may have left there."""
STOP_SECONDS = 30.0
START_GRACE_SECONDS = 3.0
MIGRATE_SECONDS = 300.0
_print_lock = threading.Lock()


def say(name: str, text: str) -> None:
    with _print_lock:
        print(f"{name:<12}| {text}", flush=True)


class Child:
    """One practice-sync process: its output pumped to ours, prefixed with its name."""

    def __init__(self, name: str, args: list[str], env: dict[str, str]) -> None:
        self.name = name
        self.started = time.monotonic()
        self.process = subprocess.Popen(
            [*PRACTICE_SYNC, *args],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            process_group=0,  # our Ctrl-C is ours to forward, in order
        )
        assert self.process.stdout is not None
        self.pump = threading.Thread(target=self._pump, args=(self.process.stdout,), daemon=True)
        self.pump.start()

    def _pump(self, stream: IO[bytes]) -> None:
        for raw in iter(stream.readline, b""):
            line = raw.decode(errors="replace").rstrip("\n")
            say(self.name, line)

    @property
    def pid(self) -> int:
        return self.process.pid

    def exited(self) -> int | None:
        return self.process.poll()

    def stoppable(self) -> bool:
        """Whether it has taken over SIGTERM (practice-sync does once it is up, so a signal
        from now on is a graceful stop, not an interrupted start). Read from /proc on Linux;
        elsewhere, after a grace period."""
        try:
            status = Path(f"/proc/{self.pid}/status").read_text()
        except OSError:
            return time.monotonic() - self.started > START_GRACE_SECONDS
        caught = next(line for line in status.splitlines() if line.startswith("SigCgt:"))
        return bool(int(caught.split()[1], 16) & (1 << (signal.SIGTERM - 1)))

    def stop(self) -> int | None:
        """SIGINT, then wait; ``None`` if it had to be killed."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        try:
            code = self.process.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            return None
        self.pump.join(timeout=5)
        return code


class Supervisor:
    def __init__(self, env: dict[str, str], ready_seconds: float) -> None:
        self.env = env
        self.ready_seconds = ready_seconds
        self.children: list[Child] = []
        self.stopping = threading.Event()

    def start(self, name: str, args: list[str], ready: Callable[[Child], bool]) -> Child:
        """Start a child and wait until ``ready(child)``; raise if it exits or takes too long."""
        child = Child(name, args, self.env)
        self.children.append(child)
        deadline = time.monotonic() + self.ready_seconds
        while not (ready(child) and child.stoppable()):
            if child.exited() is not None:
                raise RuntimeError(f"{name} exited with {child.exited()} while starting")
            if self.stopping.is_set():
                raise RuntimeError(f"asked to stop while {name} was starting")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name} was not ready within {self.ready_seconds:.0f} s")
            time.sleep(0.1)
        return child

    def watch(self) -> str | None:
        """Until asked to stop (``None``) or a child dies (what happened)."""
        while not self.stopping.wait(0.2):
            for child in self.children:
                code = child.exited()
                if code is not None:
                    return f"{child.name} (pid {child.pid}) exited with {code}"
        return None

    def stop_all(self) -> bool:
        """Stop every child, the last started first; True if each exited cleanly."""
        clean = True
        for child in reversed(self.children):
            already = child.exited()
            code = child.stop()
            if code is None:
                say("run.py", f"{child.name} (pid {child.pid}) did not stop: killed")
                clean = False
                continue
            how = "had exited" if already is not None else "exited"
            say("run.py", f"{child.name} (pid {child.pid}) {how} with {code}")
            clean = clean and code == 0 and already is None
        return clean


def answers(url: str) -> Callable[[Child], bool]:
    def ready(_child: Child) -> bool:
        try:
            return httpx.get(url, timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    return ready


def masked(url: str) -> str:
    """A URL without its password."""
    return re.sub(r"(://[^:/@]*):[^@/]*@", r"\1:***@", url)


def environment(config: Path, args: argparse.Namespace) -> tuple[dict[str, str], dict[str, Any]]:
    """The children's environment, and the configuration as this script reads it."""
    document = tomllib.loads(config.read_text())
    key = os.environ.get(API_KEY)
    if not key:
        raise SystemExit(
            f"run.py: set {API_KEY} (the sandbox EHR's API key; the practices use it too)"
        )
    env = {
        **os.environ,
        "PRACTICE_SYNC_CONFIG": str(config),
        "PRACTICE_SYNC_HTTP__PORT": str(args.port),
        "PRACTICE_SYNC_HTTP__PUBLIC_BASE_URL": f"http://127.0.0.1:{args.port}",
        METRICS_DIR: os.environ.get(METRICS_DIR) or str(HERE / "var" / "metrics"),
    }
    ehr = document.get("plugins", {}).get("config", {}).get("ehr_kareo_like", {})
    for slug, settings in ehr.get("practices", {}).items():
        if "base_url" not in settings:
            continue
        prefix = f"PRACTICE_SYNC_PLUGINS__CONFIG__EHR_KAREO_LIKE__PRACTICES__{slug.upper()}__"
        env[f"{prefix}BASE_URL"] = f"http://127.0.0.1:{args.sandbox_port}"
        env.setdefault(f"{prefix}API_KEY", key)
    return env, document


def fresh_metrics_folder(folder: Path) -> None:
    """Create ``folder``, or empty it of the metrics files an earlier run left (only those)."""
    folder.mkdir(parents=True, exist_ok=True)
    for pattern in METRICS_FILES:
        for leftover in glob.glob(str(folder / pattern)):
            os.remove(leftover)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", type=Path, default=HERE / "practice-sync.toml")
    parser.add_argument("--workers", type=int, default=2, help="worker processes (default 2)")
    parser.add_argument(
        "--port",
        type=int,
        default=int(os.environ.get("PRACTICE_SYNC_HTTP__PORT", "8400")),
        help="the HTTP API's port (default: PRACTICE_SYNC_HTTP__PORT, or 8400)",
    )
    parser.add_argument("--sandbox-port", type=int, default=8500, help="default 8500")
    parser.add_argument(
        "--sandbox-database-url",
        default="sqlite:///examples/network/var/sandbox-ehr.db",
        help="where the sandbox EHR keeps its records (default: %(default)s)",
    )
    parser.add_argument(
        "--ready-timeout", type=float, default=60, help="seconds each process may take to start"
    )
    args = parser.parse_args(argv)
    config = args.config.resolve()
    env, document = environment(config, args)
    (HERE / "var").mkdir(exist_ok=True)
    fresh_metrics_folder(Path(env[METRICS_DIR]))

    supervisor = Supervisor(env, args.ready_timeout)
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: supervisor.stopping.set())

    api = f"http://127.0.0.1:{args.port}"
    ehr = f"http://127.0.0.1:{args.sandbox_port}"
    problem: str | None = None
    try:
        migrate = Child("migrate", ["migrate"], env)
        try:
            code = migrate.process.wait(timeout=MIGRATE_SECONDS)
        except subprocess.TimeoutExpired:
            migrate.process.kill()
            code = migrate.process.wait()
        migrate.pump.join(timeout=5)
        if code != 0:
            raise RuntimeError(f"migrate exited with {code}")
        sandbox = [
            "sandbox-ehr",
            "--port",
            str(args.sandbox_port),
            "--database-url",
            args.sandbox_database_url,
        ]
        supervisor.start("sandbox-ehr", sandbox, answers(f"{ehr}/healthz"))
        supervisor.start("serve", ["serve"], answers(f"{api}/readyz"))
        for number in range(1, args.workers + 1):
            # A worker takes over SIGTERM once its threads run: stoppable is started.
            supervisor.start(f"worker-{number}", ["worker"], lambda child: True)
        supervisor.start("scheduler", ["scheduler"], lambda child: True)
        database = os.environ.get("PRACTICE_SYNC_DATABASE_URL", document.get("database_url", ""))
        broker = document.get("broker", {})
        broker_url = os.environ.get("PRACTICE_SYNC_BROKER__URL", broker.get("url", ""))
        queue = os.environ.get("PRACTICE_SYNC_BROKER__QUEUE", broker.get("queue", ""))
        listens = {
            "sandbox-ehr": f"{ehr}  (the sandbox EHR's REST API under /api/v1)",
            "serve": f"{api}  (API docs {api}/docs, every process's metrics {api}/metrics)",
            "scheduler": f"timers and stranded deliveries in {masked(database)}",
        }
        for child in supervisor.children:
            where = listens.get(child.name, f"deliveries from {masked(broker_url)} queue {queue}")
            say("run.py", f"{child.name:<11} pid {child.pid:<7} {where}")
        for slug in document.get("practices", {}):
            say("run.py", f"practice {slug}: booking widget {api}/v1/practices/{slug}/widget")
        say("run.py", "all started; Ctrl-C (or SIGTERM) stops everything")
        problem = supervisor.watch()
    except RuntimeError as exc:
        problem = str(exc)
    if problem:
        say("run.py", f"{problem}: stopping the others")
    else:
        say("run.py", "stopping")
    clean = supervisor.stop_all()
    if problem or not clean:
        say("run.py", "stopped, not cleanly")
        return 1
    say("run.py", "stopped cleanly")
    return 0


if __name__ == "__main__":
    sys.exit(main())
