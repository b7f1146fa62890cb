"""Memory: the schedule (execution order) and the static arena plan."""
