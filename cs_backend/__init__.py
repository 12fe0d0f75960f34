"""cs_backend: the aiohttp service behind the customer-support assistant (tickets, feedback, live events).

The HTTP contract is docs/API_CONTRACT.md; the OpenAPI document at GET /api/openapi.json is generated from
the code. Start with `python -m cs_backend migrate` then `python -m cs_backend serve`.
"""

__version__ = "0.1.0"
