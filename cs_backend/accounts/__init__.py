"""Agent and admin accounts: argon2id password hashes, expiring sessions (bearer tokens, or browser cookies),
roles."""
