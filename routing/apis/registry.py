"""The registry REST API: providers and models. Thin: validate, call one service, serialize."""

from __future__ import annotations

from decimal import Decimal

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from routing import selectors, services
from routing.apis.common import StaffModelPermission, delete_or_conflict, paginate
from routing.models import Model, Provider, validate_base_url, validate_env_var_name


class ProviderOutputSerializer(serializers.ModelSerializer):
    api_key_configured = serializers.BooleanField(read_only=True)

    class Meta:
        model = Provider
        fields = [
            "id",
            "name",
            "kind",
            "base_url",
            "api_key_env",
            "api_key_configured",
            "options",
            "enabled",
            "created_at",
            "updated_at",
        ]


class ProviderInputSerializer(serializers.Serializer):
    name = serializers.SlugField(max_length=64)
    kind = serializers.ChoiceField(choices=Provider.Kind.choices)
    base_url = serializers.CharField(
        max_length=500, required=False, allow_blank=True, validators=[validate_base_url]
    )
    api_key_env = serializers.CharField(
        max_length=128, required=False, allow_blank=True, validators=[validate_env_var_name]
    )
    options = serializers.DictField(required=False)
    enabled = serializers.BooleanField(required=False)


class ProviderListCreateApi(APIView):
    permission_classes = [StaffModelPermission]
    write_permissions = {"POST": "routing.add_provider"}

    @extend_schema(responses=ProviderOutputSerializer(many=True))
    def get(self, request):
        return paginate(self, request, selectors.provider_list(), ProviderOutputSerializer)

    @extend_schema(request=ProviderInputSerializer, responses={201: ProviderOutputSerializer})
    def post(self, request):
        serializer = ProviderInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        provider = services.provider_create(user=request.user, **serializer.validated_data)
        return Response(ProviderOutputSerializer(provider).data, status=status.HTTP_201_CREATED)


class ProviderDetailApi(APIView):
    permission_classes = [StaffModelPermission]
    write_permissions = {"PATCH": "routing.change_provider", "DELETE": "routing.delete_provider"}

    @extend_schema(responses=ProviderOutputSerializer)
    def get(self, request, provider_id: int):
        return Response(ProviderOutputSerializer(get_object_or_404(Provider, id=provider_id)).data)

    @extend_schema(request=ProviderInputSerializer, responses=ProviderOutputSerializer)
    def patch(self, request, provider_id: int):
        provider = get_object_or_404(Provider, id=provider_id)
        serializer = ProviderInputSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        provider = services.provider_update(provider=provider, user=request.user, **serializer.validated_data)
        return Response(ProviderOutputSerializer(provider).data)

    @extend_schema(responses={204: None, 409: OpenApiResponse(description="still in use")})
    def delete(self, request, provider_id: int):
        provider = get_object_or_404(Provider, id=provider_id)
        return delete_or_conflict(
            provider, lambda: services.provider_delete(provider=provider, user=request.user)
        )


class ModelOutputSerializer(serializers.ModelSerializer):
    provider = serializers.SlugRelatedField(slug_field="name", read_only=True)
    capabilities = serializers.ListField(child=serializers.CharField(), read_only=True)

    class Meta:
        model = Model
        fields = [
            "id",
            "provider",
            "model_id",
            "display_name",
            "tier",
            "input_price_per_mtok",
            "output_price_per_mtok",
            "context_window",
            "max_output_tokens",
            "supports_vision",
            "supports_tools",
            "supports_json_mode",
            "supports_embeddings",
            "capabilities",
            "enabled",
            "created_at",
            "updated_at",
        ]


class ModelInputSerializer(serializers.Serializer):
    provider = serializers.SlugRelatedField(slug_field="name", queryset=Provider.objects.all())
    model_id = serializers.CharField(max_length=200)
    display_name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    tier = serializers.ChoiceField(choices=Model.Tier.choices, required=False)
    input_price_per_mtok = serializers.DecimalField(max_digits=12, decimal_places=6, min_value=Decimal(0))
    output_price_per_mtok = serializers.DecimalField(max_digits=12, decimal_places=6, min_value=Decimal(0))
    context_window = serializers.IntegerField(min_value=1)
    max_output_tokens = serializers.IntegerField(min_value=1)
    supports_vision = serializers.BooleanField(required=False)
    supports_tools = serializers.BooleanField(required=False)
    supports_json_mode = serializers.BooleanField(required=False)
    supports_embeddings = serializers.BooleanField(required=False)
    enabled = serializers.BooleanField(required=False)


class ModelListCreateApi(APIView):
    permission_classes = [StaffModelPermission]
    write_permissions = {"POST": "routing.add_model"}

    @extend_schema(responses=ModelOutputSerializer(many=True))
    def get(self, request):
        return paginate(self, request, selectors.model_list(), ModelOutputSerializer)

    @extend_schema(request=ModelInputSerializer, responses={201: ModelOutputSerializer})
    def post(self, request):
        serializer = ModelInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        model = services.model_create(user=request.user, **serializer.validated_data)
        return Response(ModelOutputSerializer(model).data, status=status.HTTP_201_CREATED)


class ModelDetailApi(APIView):
    permission_classes = [StaffModelPermission]
    write_permissions = {"PATCH": "routing.change_model", "DELETE": "routing.delete_model"}

    @extend_schema(responses=ModelOutputSerializer)
    def get(self, request, model_id: int):
        return Response(ModelOutputSerializer(get_object_or_404(selectors.model_list(), id=model_id)).data)

    @extend_schema(request=ModelInputSerializer, responses=ModelOutputSerializer)
    def patch(self, request, model_id: int):
        model = get_object_or_404(selectors.model_list(), id=model_id)
        serializer = ModelInputSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        model = services.model_update(model=model, user=request.user, **serializer.validated_data)
        return Response(ModelOutputSerializer(model).data)

    @extend_schema(responses={204: None, 409: OpenApiResponse(description="still in use")})
    def delete(self, request, model_id: int):
        model = get_object_or_404(Model, id=model_id)
        return delete_or_conflict(model, lambda: services.model_delete(model=model, user=request.user))
