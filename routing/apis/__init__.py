"""The routing REST APIs, one module per domain: registry, routes and policies, live decisions."""
