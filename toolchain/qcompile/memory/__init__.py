"""Memory: the schedule (execution order) and the static arena plan.

``plan_memory`` (:mod:`~qcompile.memory.planner`) is the entry point of the planner and
``check_ram_budget`` (:mod:`~qcompile.memory.bounds`) the ``--ram-budget`` check; the
schedule (:mod:`~qcompile.memory.schedule`) reorders a quantized graph before planning.
"""

from qcompile.memory.bounds import STATIC_STATE_BYTES, check_ram_budget, static_state_bytes
from qcompile.memory.plan import Location, MemoryPlan
from qcompile.memory.planner import plan_memory

__all__ = ["STATIC_STATE_BYTES", "Location", "MemoryPlan", "check_ram_budget", "plan_memory", "static_state_bytes"]
