"""Who may call what: signed service calls (HMAC-SHA256, docs/API_CONTRACT.md "Authentication") and people's
bearer sessions (cs_backend/accounts), checked against each route's access."""
