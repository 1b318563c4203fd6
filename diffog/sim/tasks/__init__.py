"""The sim tasks by name."""
from diffog.sim.tasks.arrange_desk import ArrangeDesk
from diffog.sim.tasks.base import Task
from diffog.sim.tasks.insertion import Insertion
from diffog.sim.tasks.move_stack import MoveStack
from diffog.sim.tasks.transfer_cube import TransferCube

_TASKS: dict[str, type[Task]] = {t.name: t for t in (TransferCube, Insertion, MoveStack, ArrangeDesk)}
TASKS: tuple[str, ...] = tuple(_TASKS)


def get_task(name: str) -> Task:
    try:
        return _TASKS[name]()
    except KeyError:
        raise ValueError(f"unknown sim task {name!r}; choose one of {TASKS}") from None


__all__ = ["TASKS", "Task", "get_task"]
