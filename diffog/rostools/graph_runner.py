"""Starts a launch file's node graph without `ros2 launch` (launch_ros is not pip-installable): every node in
its own process, with the parameters file and overrides launch/graphs.yaml declares, the same file the launch files
are built from (diffog.rostools.graphs).

    python -m diffog.rostools.graph_runner move_stack_sim --param policy.refiner=none --duration 60
"""
from __future__ import annotations

import argparse
import os
import pathlib
import re
import signal
import subprocess
import sys
import threading
import time

from diffog import REPO_ROOT
from diffog.rostools.graphs import LAUNCH_DIR, Graph, NodeSpec, load_graphs

EMPTY = "''"  # rcl reads parameter values as YAML: an empty value needs quotes to be the empty string
SUBSTITUTION = re.compile(r"\$\((var|dirname|find-pkg-share)\s*([^)]*)\)")


def substitute(value: str, arguments: dict[str, str], launch_dir: pathlib.Path = LAUNCH_DIR,
               share=lambda package: find_package_share(package)) -> str:
    """Resolves $(var NAME), $(dirname) and $(find-pkg-share PKG) as ROS 2 launch does."""
    def one(m: re.Match) -> str:
        kind, arg = m.group(1), m.group(2).strip()
        if kind == "var":
            if arg not in arguments:
                raise KeyError(f"unknown launch argument {arg!r} in {value!r}; known: {sorted(arguments)}")
            return str(arguments[arg])
        return str(launch_dir) if kind == "dirname" else str(share(arg))
    return SUBSTITUTION.sub(one, value)


def find_package_share(package: str) -> pathlib.Path:
    for prefix in filter(None, os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep)):
        share = pathlib.Path(prefix) / "share" / package
        if share.is_dir():
            return share
    raise FileNotFoundError(f"package {package!r} is not installed (not on AMENT_PREFIX_PATH)")


def find_executable(package: str, executable: str) -> pathlib.Path:
    """<prefix>/lib/<package>/<executable> on AMENT_PREFIX_PATH, where colcon installs console scripts."""
    for prefix in filter(None, os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep)):
        exe = pathlib.Path(prefix) / "lib" / package / executable
        if exe.is_file() and os.access(exe, os.X_OK):
            return exe
    raise FileNotFoundError(f"no executable {executable!r} of package {package!r} on AMENT_PREFIX_PATH "
                            f"(built the workspace and sourced env.sh?)")


def node_command(node: NodeSpec, arguments: dict[str, str], params: dict[str, str]) -> list[str]:
    cmd = [str(find_executable(node.package, node.executable)), "--ros-args", "-r", f"__node:={node.name}"]
    if node.namespace:
        cmd += ["-r", f"__ns:=/{node.namespace}"]
    cmd += ["--params-file", str(node.params_file)]
    overrides = {k: substitute(v, arguments) for k, v in node.overrides.items()}
    for key, value in {**overrides, **params}.items():
        cmd += ["-p", f"{key}:={value if value else EMPTY}"]
    return cmd


class GraphProcess:
    """The running graph: one process per node, output prefixed with the node name, stopped in reverse order
    with SIGINT (rclpy's clean shutdown), then SIGTERM / SIGKILL after a grace period."""

    def __init__(self, graph: Graph, arguments: dict[str, str] | None = None,
                 params: dict[str, dict[str, str]] | None = None, cwd: pathlib.Path = REPO_ROOT,
                 env: dict[str, str] | None = None, log=sys.stdout):
        unknown = set(arguments or {}) - set(graph.arguments)
        if unknown:
            raise KeyError(f"graph {graph.name} has no launch arguments {sorted(unknown)}; it has {graph.arguments}")
        unknown_nodes = set(params or {}) - {n.fqn for n in graph.nodes}
        if unknown_nodes:
            raise KeyError(f"graph {graph.name} has no nodes {sorted(unknown_nodes)}")
        self.graph = graph
        args = {**graph.arguments, **(arguments or {})}
        self.commands = {n.fqn: node_command(n, args, (params or {}).get(n.fqn, {})) for n in graph.nodes}
        self.cwd, self.env, self.log = cwd, env, log
        self.procs: dict[str, subprocess.Popen] = {}
        self._threads: list[threading.Thread] = []

    def start(self) -> "GraphProcess":
        for name, cmd in self.commands.items():
            p = subprocess.Popen(cmd, cwd=self.cwd, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                 text=True, bufsize=1)
            self.procs[name] = p
            t = threading.Thread(target=self._pump, args=(name, p), daemon=True)
            t.start()
            self._threads.append(t)
        return self

    def _pump(self, name: str, p: subprocess.Popen) -> None:
        for line in p.stdout:
            self.log.write(f"[{name}] {line}")
            self.log.flush()

    def wait(self, duration: float | None = None) -> dict[str, int | None]:
        """Until a required node exits, every node exits, or `duration` seconds pass; then stop the rest."""
        deadline = None if duration is None else time.monotonic() + duration
        required = [n.fqn for n in self.graph.nodes if n.required]
        try:
            while deadline is None or time.monotonic() < deadline:
                if any(self.procs[n].poll() is not None for n in required):
                    break
                if all(p.poll() is not None for p in self.procs.values()):
                    break
                time.sleep(0.1)
        except KeyboardInterrupt:
            pass
        return self.stop()

    def stop(self, grace: float = 10.0) -> dict[str, int | None]:
        for p in reversed(list(self.procs.values())):
            if p.poll() is None:
                p.send_signal(signal.SIGINT)
        for sig in (signal.SIGTERM, signal.SIGKILL):
            end = time.monotonic() + grace
            while time.monotonic() < end and any(p.poll() is None for p in self.procs.values()):
                time.sleep(0.05)
            for p in self.procs.values():
                if p.poll() is None:
                    p.send_signal(sig)
        for t in self._threads:
            t.join(timeout=2.0)
        return {name: p.wait() for name, p in self.procs.items()}


def _key_value(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key, value


def main(argv: list[str] | None = None) -> int:
    graphs = load_graphs()
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("graph", choices=sorted(graphs))
    ap.add_argument("--arg", type=_key_value, action="append", default=[], metavar="NAME=VALUE",
                    help="launch argument, as `ros2 launch ... NAME:=VALUE`")
    ap.add_argument("--param", type=_key_value, action="append", default=[], metavar="NODE.KEY=VALUE",
                    help="extra parameter for one node (NODE as in the parameters file, e.g. policy)")
    ap.add_argument("--duration", type=float, default=None, help="stop the graph after this many seconds")
    a = ap.parse_args(argv)
    params: dict[str, dict[str, str]] = {}
    for key, value in a.param:
        node, _, name = key.rpartition(".")
        params.setdefault(node, {})[name] = value
    graph = GraphProcess(graphs[a.graph], dict(a.arg), params).start()
    signal.signal(signal.SIGTERM, lambda *_: graph.stop())
    codes = graph.wait(a.duration)
    print(f"[graph_runner] exit codes: {codes}")
    required = [n.fqn for n in graph.graph.nodes if n.required]
    return max((abs(codes[n] or 0) for n in required), default=0)


def record_main(argv: list[str] | None = None) -> int:
    """`diffog-record [--arg dataset_dir=DIR --arg task_name=TASK ...]`: the teleoperation recording graph."""
    return main(["record", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
