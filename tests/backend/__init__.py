"""cs_backend tests (run with the backend environment: .venv-backend/bin/pytest tests/backend)."""
