"""Who may call what: signed service calls (HMAC-SHA256, docs/API_CONTRACT.md "Authentication") and people's
sessions (cs_backend/accounts: bearer tokens, or a browser's httpOnly cookie with CSRF checks), checked
against each route's access."""
