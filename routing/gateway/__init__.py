"""The request path: authenticate, assign, decide, execute, record (see the README's architecture)."""
