"""The agent console's live connection: a websocket (GET /api/console/ws) that pushes the routing's live
events to a signed-in agent's page and carries their messages to the customer. The page itself is in web/."""
