"""Rate limits: the limiter (Redis, or this process), the client address they count by, and the middlewares
that apply them to requests (docs/API_CONTRACT.md, "Rate limits")."""
