"""Privacy: an admin's export and deletion of one customer's data (cs_backend's tables, Rasa's tracker store,
the event store), a record of each deletion, and the retention job that purges old transcripts."""
