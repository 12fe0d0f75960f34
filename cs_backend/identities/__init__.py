"""Customer identities: a verified website user or a Slack/Telegram user bound to one customer record;
anonymous conversations merged into the customer who verifies; one-time link codes and their audit
(docs/CHANNELS.md, "One customer across channels")."""
