# The two commands a newcomer needs: `make demo` (sim demo on the shipped defaults) and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help
STAMP := .venv/.setup-done
SETUP_INPUTS := requirements.txt pyproject.toml scripts/setup.sh scripts/fix_ros_wheel_prefix.py \
	$(shell find ros2_ws/src launch -type f -not -path '*/__pycache__/*' 2>/dev/null)
PYTEST_ARGS ?=
DEMO_ARGS ?=

.PHONY: help setup demo test test-core test-ros bench clean
help:
	@echo "make demo    move_stack in the sim through the ROS graph, base vs DiffOG (outputs/demo/)"
	@echo "make setup   create .venv, install the pinned deps, build ros2_ws, write env.sh (idempotent)"
	@echo "make test    set up when needed, then run every test (core and ROS)"
	@echo "make bench   refinement-layer benchmark (fast solver vs qpth)"

$(STAMP): $(SETUP_INPUTS)
	bash scripts/setup.sh

setup:
	bash scripts/setup.sh

demo: $(STAMP)
	source env.sh && python scripts/demo.py $(DEMO_ARGS)

test: $(STAMP)
	source env.sh && python -m pytest tests $(PYTEST_ARGS)

test-core: $(STAMP)
	source env.sh && python -m pytest tests/core $(PYTEST_ARGS)

test-ros: $(STAMP)
	source env.sh && python -m pytest tests/ros $(PYTEST_ARGS)

bench: $(STAMP)
	source env.sh && python benchmarks/bench_refine.py

clean:
	rm -rf ros2_ws/build ros2_ws/install ros2_ws/log $(STAMP)
