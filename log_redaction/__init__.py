"""Personal data out of log lines: email addresses, phone numbers and card numbers are replaced by a label.

Shared by the three processes (cs_backend, the action server, the Rasa server), so it runs in both Python
environments: spaCy 3.8 in the backend's, spaCy 3.4 (Rasa's pin) in the bot's. `redactor.py` finds the data
with spaCy's rule-based Matcher on a blank English tokenizer (no downloaded model); `records.py` applies it to
every log record a process makes.
"""

from log_redaction.records import install_log_redaction
from log_redaction.redactor import redact

__all__ = ["install_log_redaction", "redact"]
