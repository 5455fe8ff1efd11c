"""restartctl: the daily restart orchestrator."""
