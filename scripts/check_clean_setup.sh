#!/usr/bin/env bash
# `make setup` as on a user's machine: a fresh clone, a new venv, only the public PyPI (no local wheel cache,
# index or constraints), then a smoke test. On x86-64 Linux the torch pin resolves there to the CUDA build, so
# this also checks that setup completes torch's nvidia-* runtime wheels. Takes a few GB of downloads.
#   bash scripts/check_clean_setup.sh [WORKDIR]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WORK="${1:-$(mktemp -d)}"
git clone -q "$ROOT" "$WORK/repo"
cd "$WORK/repo"
export PIP_CONFIG_FILE=/dev/null PIP_NO_CACHE_DIR=1 PIP_INDEX_URL=https://pypi.org/simple
bash scripts/setup.sh
# shellcheck disable=SC1091
source env.sh
python -c "import torch, rclpy, diffog.training, diffog.deploy.deployed_policy; \
print('torch', torch.__version__, 'CUDA build:', torch.version.cuda, 'GPU:', torch.cuda.is_available())"
python -m pip check || true  # qpth's numpy<2 declaration is known (requirements.txt)
python -m pytest -q -p no:cacheprovider tests/core/test_no_ros_in_core.py tests/core/test_entry_points.py \
  tests/core/robot
echo "clean set-up OK in $WORK/repo"
