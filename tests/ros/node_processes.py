"""Node processes for the ROS tests: started logging to a file, waited on with their logs in the failure."""
import pathlib
import signal
import subprocess
import sys
import time

import pytest


def spawn(log: pathlib.Path, *args) -> subprocess.Popen:
    """A node process logging to a file (a full pipe would stall it)."""
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, *args], stdout=out, stderr=subprocess.STDOUT, text=True)
    proc.log = log
    return proc


def output(proc) -> str:
    return proc.log.read_text()[-4000:]


def stop(proc) -> str:
    """SIGINT, as Ctrl-C in ros2 launch, then SIGKILL after 20 s; returns the log's tail."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return output(proc)


def wait_for(predicate, what, procs: dict[str, subprocess.Popen], timeout=90.0):
    """Poll until predicate(); fail with every process's log when one exits or time runs out."""
    deadline = time.monotonic() + timeout
    while not predicate():
        dead = {name: p for name, p in procs.items() if p.poll() is not None}
        if dead or time.monotonic() > deadline:
            logs = "\n".join(f"--- {name} ---\n{output(p)}" for name, p in procs.items())
            what = what() if callable(what) else what
            pytest.fail(f"{what}: {'exited: ' + ', '.join(dead) if dead else 'timed out'}\n{logs}")
        time.sleep(0.05)
