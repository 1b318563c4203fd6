"""Point the ROS 2 wheels' CMake exports at this venv instead of the wheel builder's Python.

The PyPI ROS wheels are built under /opt/python/cp311-cp311 and their share/**/*.cmake files keep that
prefix (Python include dir, numpy include dir, install prefix); colcon builds of interface packages fail
until it is replaced. Idempotent: files already rewritten no longer contain the old prefix.
"""
import pathlib
import sys
import sysconfig

BUILD_PREFIX = "/opt/python/cp311-cp311"


def rewrite(venv: pathlib.Path) -> int:
    paths = sysconfig.get_paths()
    site = pathlib.Path(venv, "lib", f"python{sys.version_info.major}.{sys.version_info.minor}", "site-packages")
    replacements = [  # most specific first
        (f"{BUILD_PREFIX}/lib/python3.11/site-packages", str(site)),
        (f"{BUILD_PREFIX}/include/python3.11", paths["include"]),
        (BUILD_PREFIX, str(venv)),
    ]
    changed = 0
    for path in pathlib.Path(venv, "share").rglob("*.cmake"):
        text = path.read_text()
        if BUILD_PREFIX not in text:
            continue
        for old, new in replacements:
            text = text.replace(old, new)
        path.write_text(text)
        changed += 1
    return changed


if __name__ == "__main__":
    venv = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else sys.prefix).resolve()
    print(f"[setup] rewrote {rewrite(venv)} CMake file(s) under {venv}/share")
