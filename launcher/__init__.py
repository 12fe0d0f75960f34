"""Starts and stops the service's processes: `python -m launcher` (make run); `launcher.stack` for tests."""
