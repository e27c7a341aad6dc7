"""GET /v1/models and /v1/models/{id}: what a key may ask for, as OpenAI's model objects.

The ids are the key's routes as `route:<name>`, the value a client puts in `model`, so the model pickers
of chat front ends and SDKs offer exactly what routelab serves. `owned_by` names the route's live policy
version, the one thing that says which models may answer. From the in-memory snapshot: no query.
"""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers

from routing.gateway.authenticate import ROUTE_PREFIX
from routing.gateway.endpoint import key_endpoint
from routing.gateway.errors import GatewayError
from routing.gateway.snapshot import KeyEntry, RouteEntry, RoutingSnapshot


class ModelSerializer(serializers.Serializer):
    id = serializers.CharField()
    object = serializers.CharField(default="model")
    created = serializers.IntegerField()
    owned_by = serializers.CharField()


class ModelListSerializer(serializers.Serializer):
    object = serializers.CharField(default="list")
    data = ModelSerializer(many=True)


def _model_object(route: RouteEntry) -> dict:
    owner = f"routelab:{route.live.label}" if route.live else "routelab"
    return {
        "id": f"{ROUTE_PREFIX}{route.name}",
        "object": "model",
        "created": route.created,
        "owned_by": owner,
    }


def _servable(snapshot: RoutingSnapshot, key: KeyEntry) -> list[RouteEntry]:
    routes = (snapshot.routes.get(name) for name in sorted(key.route_names))
    return [route for route in routes if route is not None and route.enabled and route.live is not None]


@key_endpoint("GET", responses={200: OpenApiResponse(ModelListSerializer)})
async def models_list(request: HttpRequest, *, key, snapshot) -> JsonResponse:
    """The routes this key may call, as OpenAI's model list."""
    return JsonResponse({"object": "list", "data": [_model_object(r) for r in _servable(snapshot, key)]})


@key_endpoint("GET", responses={200: OpenApiResponse(ModelSerializer)})
async def model_retrieve(request: HttpRequest, *, key, snapshot, model: str) -> JsonResponse:
    """One route this key may call, by `route:<name>` or its bare name."""
    name = model.removeprefix(ROUTE_PREFIX)
    for route in _servable(snapshot, key):
        if route.name == name:
            return JsonResponse(_model_object(route))
    raise GatewayError(
        404,
        f"The model '{model}' does not exist or this key may not use it.",
        type="not_found_error",
        param="model",
    )
