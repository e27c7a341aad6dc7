"""Step 1 of a live request: the API key (stored hashed) and the route it asks for, from the snapshot."""

from __future__ import annotations

from routing.gateway.errors import GatewayError
from routing.gateway.keys import hash_api_key
from routing.gateway.snapshot import KeyEntry, RouteEntry, RoutingSnapshot

ROUTE_PREFIX = "route:"


def authenticate(snapshot: RoutingSnapshot, authorization: str | None) -> KeyEntry:
    scheme, _, raw = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not raw.strip():
        raise GatewayError(
            401, "Missing API key: send 'Authorization: Bearer <key>'.", type="authentication_error"
        )
    key = snapshot.keys.get(hash_api_key(raw.strip()))
    if key is None:
        raise GatewayError(401, "Invalid API key.", type="authentication_error")
    if key.revoked:
        raise GatewayError(401, f"The API key '{key.name}' was revoked.", type="authentication_error")
    return key


def resolve_route(snapshot: RoutingSnapshot, key: KeyEntry, requested: str | None) -> RouteEntry:
    """The route named by `route:<name>` (or a bare route name), else the key's only route."""
    name = requested.removeprefix(ROUTE_PREFIX) if requested else None
    if name is None or (name not in snapshot.routes and not requested.startswith(ROUTE_PREFIX)):
        if len(key.route_names) != 1:
            raise GatewayError(
                400,
                "Name a route: set model to 'route:<name>'; this key serves "
                f"{', '.join(sorted(key.route_names))}.",
                param="model",
            )
        name = next(iter(key.route_names))
    route = snapshot.routes.get(name)
    if route is None:
        raise GatewayError(404, f"Unknown route '{name}'.", type="not_found_error", param="model")
    if name not in key.route_names:
        raise GatewayError(403, f"This API key is not allowed on route '{name}'.", type="permission_error")
    if not route.enabled:
        raise GatewayError(403, f"Route '{name}' is disabled.", type="permission_error")
    if route.live is None:
        raise GatewayError(409, f"Route '{name}' has no live policy yet.", type="conflict_error")
    return route
