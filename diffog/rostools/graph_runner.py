"""Starts a launch file's node graph without `ros2 launch` (launch_ros is not pip-installable): every node in
its own process, with the parameters file and overrides launch/graphs.yaml declares, the same file the launch files
are built from (diffog.rostools.graphs).

    python -m diffog.rostools.graph_runner move_stack_sim --param policy.refiner=none --duration 60
"""
from __future__ import annotations

import argparse
import json
import os
import pathlib
import re
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time

from diffog import REPO_ROOT
from diffog.rostools.graphs import LAUNCH_DIR, Graph, NodeSpec, load_graphs, string_typed

EMPTY = "''"  # rcl reads parameter values as YAML: an empty value needs quotes to be the empty string
NAME = re.compile(r"\$\(([A-Za-z][A-Za-z0-9_-]*)")
STOP = " ()'\""  # ends an unquoted substitution argument (launch's grammar.lark UNQUOTED_RSTRING)


def run_command(command: str) -> str:
    """$(command '...'): the command's stdout, split with shlex; a failure or any stderr output raises, as ROS 2
    launch's Command substitution does by default (on_stderr='fail')."""
    try:
        done = subprocess.run(shlex.split(command), capture_output=True, text=True)
    except FileNotFoundError as e:
        raise FileNotFoundError(f"$(command {command!r}): {e}") from e
    if done.returncode != 0 or done.stderr:
        raise RuntimeError(f"$(command {command!r}) failed (exit {done.returncode}): {done.stderr.strip()}")
    return done.stdout


def find_exec(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise FileNotFoundError(f"$(find-exec {name}): no executable {name!r} on PATH")
    return path


def substitute(value: str, arguments: dict[str, str], launch_dir: pathlib.Path = LAUNCH_DIR,
               share=None, run=None, which=None) -> str:
    """Resolves ROS 2 launch's frontend substitutions as launch does: $(var NAME), $(dirname),
    $(find-pkg-share PKG), $(find-exec NAME) and $(command 'CMD'), nested ones inside quoted or plain
    arguments included (launch/frontend/grammar.lark); a backslash escapes the next character. `share`, `run`
    and `which` stand in for find_package_share, run_command and find_exec."""
    share, run, which = share or find_package_share, run or run_command, which or find_exec

    def resolve(kind: str, args: list[str]) -> str:
        if kind == "var":
            if args[0] not in arguments:
                raise KeyError(f"unknown launch argument {args[0]!r} in {value!r}; known: {sorted(arguments)}")
            return str(arguments[args[0]])
        if kind == "dirname":
            return str(launch_dir)
        if kind == "find-pkg-share":
            return str(share(args[0]))
        if kind == "find-exec":
            return str(which(args[0]))
        if kind == "command":
            return run(args[0])
        raise KeyError(f"substitution $({kind} ...) in {value!r} is not supported by the graph runner")

    def text_until(i: int, stop: str | None = None, quote: str = "") -> tuple[str, int]:
        """Text from i with escapes and nested $(...) resolved: to the closing `quote`, else up to a character in
        `stop` (an unquoted argument), else to the end."""
        out = []
        while i < len(value):
            if (quote and value[i] == quote) or (stop is not None and value[i] in stop):
                return "".join(out), i + (1 if quote else 0)
            if value[i] == "\\" and i + 1 < len(value):
                out.append(value[i + 1])
                i += 2
            elif value.startswith("$(", i):
                text, i = substitution(i)
                out.append(text)
            else:
                out.append(value[i])
                i += 1
        if quote:
            raise ValueError(f"unterminated {quote} in {value!r}")
        return "".join(out), i

    def substitution(i: int) -> tuple[str, int]:
        m = NAME.match(value, i)
        if not m:
            raise ValueError(f"malformed substitution at {i} in {value!r}")
        kind, i, args = m.group(1), m.end(), []
        while i < len(value) and value[i] == " ":
            i += 1
            text, i = text_until(i + 1, quote=value[i]) if value[i:i + 1] in ("'", '"') else text_until(i, STOP)
            args.append(text)
        if value[i:i + 1] != ")":
            raise ValueError(f"unterminated $({kind} ...) in {value!r}")
        return resolve(kind, args), i + 1

    return text_until(0)[0]


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


def starts(node: NodeSpec, arguments: dict[str, str]) -> bool:
    """False for a node whose `if_set` launch argument is empty (launch: IfCondition(NotEqualsSubstitution))."""
    return not node.if_set or arguments[node.if_set] != ""


def node_command(node: NodeSpec, arguments: dict[str, str], params: dict[str, str]) -> list[str]:
    cmd = [str(find_executable(node.package, node.executable)),
           *(substitute(a, arguments) for a in node.arguments), "--ros-args", "-r", f"__node:={node.name}"]
    if node.namespace:
        cmd += ["-r", f"__ns:=/{node.namespace}"]
    cmd += ["--params-file", str(node.params_file)]
    overrides = {k: substitute(v, arguments) for k, v in node.overrides.items()}
    strings = {k for k, v in node.overrides.items() if string_typed(v)}
    for key, value in {**overrides, **params}.items():
        if key in strings and key not in params:  # a YAML double-quoted scalar: rcl keeps it a string, verbatim
            value = json.dumps(value)
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
        self.skipped = [n.fqn for n in graph.nodes if not starts(n, args)]
        self.commands = {n.fqn: node_command(n, args, (params or {}).get(n.fqn, {}))
                         for n in graph.nodes if starts(n, args)}
        self.cwd, self.env, self.log = cwd, env, log
        self.procs: dict[str, subprocess.Popen] = {}
        self._threads: list[threading.Thread] = []

    def start(self) -> "GraphProcess":
        for name in self.skipped:
            node = next(n for n in self.graph.nodes if n.fqn == name)
            self.log.write(f"[graph_runner] not starting {name}: launch argument {node.if_set!r} is empty\n")
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
        required = [n.fqn for n in self.graph.nodes if n.required and n.fqn in self.procs]
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
    required = [n.fqn for n in graph.graph.nodes if n.required and n.fqn in codes]
    return max((abs(codes[n] or 0) for n in required), default=0)


def record_main(argv: list[str] | None = None) -> int:
    """`diffog-record [--arg dataset_dir=DIR --arg task_name=TASK ...]`: the teleoperation recording graph."""
    return main(["record", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
