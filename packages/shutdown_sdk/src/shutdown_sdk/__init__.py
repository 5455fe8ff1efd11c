"""Graceful pause, drain, state save and shutdown for FastAPI services."""
