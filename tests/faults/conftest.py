"""The fault-injection suite: every test injects one fault (bad config, bad message, clock jump, corrupt file,
crash, signal, unplugged port, ...) through the `fault` fixture and asserts the stack held: no unsafe command,
no crash, no lost data. The session prints one line: `N faults injected, N held, 0 unsafe commands, 0 episodes
lost`, where a fault counts as held when its test passed."""
from dataclasses import dataclass, field

import pytest


@dataclass
class Fault:
    name: str
    unsafe_commands: int = 0   # commands that left the stack although they were unsafe (tests add what they see)
    episodes_lost: int = 0     # recorded episodes that could not be read back or recovered


@dataclass
class Ledger:
    faults: dict[str, Fault] = field(default_factory=dict)
    held: set[str] = field(default_factory=set)


LEDGER = Ledger()


@pytest.fixture
def fault(request) -> Fault:
    f = LEDGER.faults.setdefault(request.node.nodeid, Fault(request.node.nodeid))
    yield f


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.when == "call" and report.passed and item.nodeid in LEDGER.faults:
        LEDGER.held.add(item.nodeid)


def summary_line(ledger: Ledger = LEDGER) -> str:
    f = ledger.faults.values()
    return (f"{len(ledger.faults)} faults injected, {len(ledger.held)} held, "
            f"{sum(x.unsafe_commands for x in f)} unsafe commands, {sum(x.episodes_lost for x in f)} episodes lost")


def pytest_terminal_summary(terminalreporter):
    if LEDGER.faults:
        terminalreporter.write_sep("=", "fault injection")
        terminalreporter.write_line(summary_line())
