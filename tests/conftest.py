"""Session-wide fixtures shared by the test modules."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Ray keeps Unix sockets under its temp dir, and a socket path may not exceed 107
# bytes; Ray's own part adds about 60. A workspace path longer than this is swapped
# for a short folder under the system temp dir.
RAY_TEMP_MAX_CHARS = 45
# Object store of the test cluster: Ray's minimum (75 MB); the sweeps pass only small configs.
RAY_OBJECT_STORE_BYTES = 78_643_200
# Seconds the head may take to shut down before it is killed (teardown only; no test waits on it).
RAY_SHUTDOWN_GRACE_SECONDS = 60

# The head: start Ray, print its address, hold it until stdin closes, then shut it down.
_RAY_HEAD = """
import logging, sys
import ray
ctx = ray.init(address="local", num_cpus={cpus}, include_dashboard=False, _temp_dir={temp!r},
               _node_ip_address="127.0.0.1", object_store_memory={store}, logging_level=logging.WARNING)
print(ctx.address_info["gcs_address"], ctx.address_info["session_dir"], flush=True)
sys.stdin.read()
ray.shutdown()
"""


@dataclass
class LocalRay:
    address: str                                        # HOST:PORT of the head's GCS
    env: dict[str, str] = field(default_factory=dict)   # environment a driver needs to join


@pytest.fixture(scope="session")
def local_ray():
    """A local Ray head on 127.0.0.1 for the whole session, in a process of its own.

    Usage statistics are off; token authentication stays on, with a token made here and
    handed to drivers through ``LocalRay.env``. Ray's temp dir is ``.ray_tmp`` in the
    workspace (git-ignored) when that path is short enough for Ray's sockets.
    """
    pytest.importorskip("ray")
    env = {
        "RAY_USAGE_STATS_ENABLED": "0",
        "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
        "RAY_AUTH_MODE": "token",
        "RAY_AUTH_TOKEN": uuid.uuid4().hex,
    }
    temp, made = ROOT / ".ray_tmp", None
    if len(str(temp)) > RAY_TEMP_MAX_CHARS:
        temp = Path(made := tempfile.mkdtemp(prefix="ray"))
    temp.mkdir(exist_ok=True)
    code = _RAY_HEAD.format(cpus=os.cpu_count() or 1, temp=str(temp), store=RAY_OBJECT_STORE_BYTES)
    head = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env={**os.environ, **env},
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    started: list[str] = []
    try:
        started = head.stdout.readline().split()
        if len(started) != 2:
            pytest.fail("the local Ray head did not start (see its stderr above)")
        yield LocalRay(started[0], env)
    finally:
        head.stdin.close()
        try:
            head.wait(timeout=RAY_SHUTDOWN_GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            head.kill()
            head.wait()
        if len(started) == 2:
            shutil.rmtree(started[1], ignore_errors=True)  # this session's logs and sockets
        if made:
            shutil.rmtree(made, ignore_errors=True)
