"""Who may call what: signed service calls (HMAC-SHA256, docs/API_CONTRACT.md "Authentication")."""
