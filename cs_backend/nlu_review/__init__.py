"""The learning loop: customer messages the assistant did not understand, collected from Rasa's event stream
(by the outcomes consumer, which reads it exactly once) and exported for review as Rasa NLU YAML."""
