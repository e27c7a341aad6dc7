"""Routes, their policies (immutable versions) and their API keys."""

from __future__ import annotations

from decimal import Decimal

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from routing import selectors, services
from routing.apis.common import StaffModelPermission, paginate
from routing.models import ApiKey, PolicyVersion, Route, RoutingPolicy


class PolicyVersionOutputSerializer(serializers.ModelSerializer):
    policy = serializers.SlugRelatedField(slug_field="name", read_only=True)
    label = serializers.CharField(read_only=True)

    class Meta:
        model = PolicyVersion
        fields = ["id", "policy", "number", "label", "kind", "spec", "note", "created_at"]


class RouteOutputSerializer(serializers.ModelSerializer):
    live_policy = PolicyVersionOutputSerializer(read_only=True)

    class Meta:
        model = Route
        fields = [
            "id",
            "name",
            "description",
            "live_policy",
            "daily_budget_usd",
            "max_attempts",
            "deadline_seconds",
            "allowed_fallbacks",
            "scoring",
            "enabled",
            "created_at",
            "updated_at",
        ]


class RouteInputSerializer(serializers.Serializer):
    name = serializers.SlugField(max_length=64)
    description = serializers.CharField(required=False, allow_blank=True)
    daily_budget_usd = serializers.DecimalField(
        max_digits=12, decimal_places=4, min_value=Decimal(0), required=False, allow_null=True
    )
    max_attempts = serializers.IntegerField(
        required=False,
        allow_null=True,
        min_value=1,
        max_value=20,
        help_text=Route.max_attempts.field.help_text,
    )
    deadline_seconds = serializers.FloatField(
        required=False,
        allow_null=True,
        min_value=0.1,
        max_value=3600,
        help_text=Route.deadline_seconds.field.help_text,
    )
    allowed_fallbacks = serializers.ListField(
        child=serializers.CharField(max_length=200),
        required=False,
        max_length=20,
        help_text=Route.allowed_fallbacks.field.help_text,
    )
    scoring = serializers.DictField(required=False)
    enabled = serializers.BooleanField(required=False)


class RouteListCreateApi(APIView):
    permission_classes = [StaffModelPermission]
    write_permissions = {"POST": "routing.add_route"}

    @extend_schema(responses=RouteOutputSerializer(many=True))
    def get(self, request):
        return paginate(self, request, selectors.route_list(), RouteOutputSerializer)

    @extend_schema(request=RouteInputSerializer, responses={201: RouteOutputSerializer})
    def post(self, request):
        serializer = RouteInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        route = services.route_create(user=request.user, **serializer.validated_data)
        return Response(RouteOutputSerializer(route).data, status=status.HTTP_201_CREATED)


class RouteDetailApi(APIView):
    permission_classes = [StaffModelPermission]
    write_permissions = {"PATCH": "routing.change_route"}

    @extend_schema(responses=RouteOutputSerializer)
    def get(self, request, route_name: str):
        return Response(
            RouteOutputSerializer(get_object_or_404(selectors.route_list(), name=route_name)).data
        )

    @extend_schema(request=RouteInputSerializer, responses=RouteOutputSerializer)
    def patch(self, request, route_name: str):
        route = get_object_or_404(Route, name=route_name)
        serializer = RouteInputSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        route = services.route_update(route=route, user=request.user, **serializer.validated_data)
        return Response(RouteOutputSerializer(route).data)


class LivePolicyInputSerializer(serializers.Serializer):
    policy_version_id = serializers.IntegerField()


class RouteLivePolicyApi(APIView):
    permission_classes = [StaffModelPermission]
    write_permissions = {"PUT": "routing.change_route"}

    @extend_schema(request=LivePolicyInputSerializer, responses=RouteOutputSerializer)
    def put(self, request, route_name: str):
        route = get_object_or_404(Route, name=route_name)
        serializer = LivePolicyInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        version = get_object_or_404(PolicyVersion, id=serializer.validated_data["policy_version_id"])
        route = services.route_set_live_policy(route=route, version=version, user=request.user)
        return Response(RouteOutputSerializer(route).data)


class PolicyOutputSerializer(serializers.ModelSerializer):
    route = serializers.SlugRelatedField(slug_field="name", read_only=True)
    versions = PolicyVersionOutputSerializer(many=True, read_only=True)

    class Meta:
        model = RoutingPolicy
        fields = ["id", "route", "name", "description", "versions", "created_at"]


class PolicyInputSerializer(serializers.Serializer):
    name = serializers.SlugField(max_length=64)
    description = serializers.CharField(required=False, allow_blank=True)
    spec = serializers.JSONField()


class PolicyListCreateApi(APIView):
    permission_classes = [StaffModelPermission]
    write_permissions = {"POST": "routing.add_routingpolicy"}

    @extend_schema(responses=PolicyOutputSerializer(many=True))
    def get(self, request, route_name: str):
        route = get_object_or_404(Route, name=route_name)
        return paginate(self, request, selectors.policy_list(route=route), PolicyOutputSerializer)

    @extend_schema(request=PolicyInputSerializer, responses={201: PolicyVersionOutputSerializer})
    def post(self, request, route_name: str):
        route = get_object_or_404(Route, name=route_name)
        serializer = PolicyInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        version = services.policy_create(route=route, user=request.user, **serializer.validated_data)
        return Response(PolicyVersionOutputSerializer(version).data, status=status.HTTP_201_CREATED)


class PublishInputSerializer(serializers.Serializer):
    spec = serializers.JSONField()
    note = serializers.CharField(required=False, allow_blank=True, max_length=300)


class PolicyPublishApi(APIView):
    """Publish a new immutable version of a policy; earlier versions stay readable."""

    permission_classes = [StaffModelPermission]
    write_permissions = {"POST": "routing.add_policyversion"}

    @extend_schema(request=PublishInputSerializer, responses={201: PolicyVersionOutputSerializer})
    def post(self, request, route_name: str, policy_name: str):
        policy = get_object_or_404(RoutingPolicy, route__name=route_name, name=policy_name)
        serializer = PublishInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        version = services.policy_publish(policy=policy, user=request.user, **serializer.validated_data)
        return Response(PolicyVersionOutputSerializer(version).data, status=status.HTTP_201_CREATED)


class ApiKeyOutputSerializer(serializers.ModelSerializer):
    routes = serializers.SlugRelatedField(slug_field="name", many=True, read_only=True)

    class Meta:
        model = ApiKey
        fields = [
            "id",
            "name",
            "prefix",
            "routes",
            "requests_per_minute",
            "tokens_per_day",
            "spend_per_day_usd",
            "created_at",
            "revoked_at",
            "last_used_at",
        ]


class ApiKeyCreatedSerializer(ApiKeyOutputSerializer):
    key = serializers.CharField(read_only=True, help_text="Shown once; only its hash is stored.")

    class Meta(ApiKeyOutputSerializer.Meta):
        fields = [*ApiKeyOutputSerializer.Meta.fields, "key"]


class ApiKeyLimitsSerializer(serializers.Serializer):
    """A key's limits; null (or left out when creating) means no limit."""

    requests_per_minute = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, max_value=2**31 - 1
    )
    tokens_per_day = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, max_value=2**63 - 1
    )
    spend_per_day_usd = serializers.DecimalField(
        max_digits=12, decimal_places=4, min_value=Decimal(0), required=False, allow_null=True
    )


class ApiKeyInputSerializer(ApiKeyLimitsSerializer):
    name = serializers.CharField(max_length=100)
    routes = serializers.SlugRelatedField(
        slug_field="name", many=True, queryset=Route.objects.all(), allow_empty=False
    )


class ApiKeyUpdateSerializer(ApiKeyLimitsSerializer):
    name = serializers.CharField(max_length=100, required=False)


class ApiKeyListCreateApi(APIView):
    permission_classes = [StaffModelPermission]
    write_permissions = {"POST": "routing.add_apikey"}

    @extend_schema(responses=ApiKeyOutputSerializer(many=True))
    def get(self, request):
        return paginate(self, request, selectors.api_key_list(), ApiKeyOutputSerializer)

    @extend_schema(request=ApiKeyInputSerializer, responses={201: ApiKeyCreatedSerializer})
    def post(self, request):
        serializer = ApiKeyInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        api_key, raw = services.api_key_create(user=request.user, **serializer.validated_data)
        api_key.key = raw
        return Response(ApiKeyCreatedSerializer(api_key).data, status=status.HTTP_201_CREATED)


class ApiKeyDetailApi(APIView):
    permission_classes = [StaffModelPermission]
    write_permissions = {"PATCH": "routing.change_apikey"}

    @extend_schema(responses=ApiKeyOutputSerializer)
    def get(self, request, key_id: int):
        return Response(ApiKeyOutputSerializer(get_object_or_404(selectors.api_key_list(), id=key_id)).data)

    @extend_schema(request=ApiKeyUpdateSerializer, responses=ApiKeyOutputSerializer)
    def patch(self, request, key_id: int):
        """Rename a key or change its limits; the change reaches every gateway process within a second."""
        serializer = ApiKeyUpdateSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        api_key = services.api_key_update(
            api_key=get_object_or_404(ApiKey, id=key_id), user=request.user, **serializer.validated_data
        )
        return Response(ApiKeyOutputSerializer(api_key).data)


class ApiKeyRevokeApi(APIView):
    permission_classes = [StaffModelPermission]
    write_permissions = {"POST": "routing.change_apikey"}

    @extend_schema(request=None, responses=ApiKeyOutputSerializer)
    def post(self, request, key_id: int):
        api_key = services.api_key_revoke(api_key=get_object_or_404(ApiKey, id=key_id), user=request.user)
        return Response(ApiKeyOutputSerializer(api_key).data)
