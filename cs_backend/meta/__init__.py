"""What the API says about itself: GET /api/openapi.json."""
