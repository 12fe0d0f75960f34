"""The Rasa server's customer channels: Rasa's socket.io and REST channels with every message checked before
it reaches NLU (too long, not text, typed payloads the bot did not offer); credentials.yml registers them."""
