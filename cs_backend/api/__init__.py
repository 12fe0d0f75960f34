"""The HTTP plumbing every domain uses, one job per module: the route registry, request parsing, response
building, shared request/response types, errors, middlewares, and the OpenAPI document built from the
registry."""
