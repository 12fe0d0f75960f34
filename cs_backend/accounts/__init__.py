"""Agent and admin accounts: argon2id password hashes, expiring bearer sessions, roles."""
