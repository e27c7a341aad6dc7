"""The experiments REST API: create and list experiments, move them through their lifecycle, promote.

Thin: validate the shape, call one service, serialize. Services name the field of a bad value (400);
a change the experiment's state forbids (pausing a draft, promoting twice) answers 409.
"""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from experiments import selectors, services
from experiments.models import Correction, Engine, Experiment, ExperimentPhase, Metric, Promotion, Variant
from routing.apis.common import Conflict, paginate
from routing.models import Route


class ExperimentApi(APIView):
    """Turns a service's ExperimentConflict into a 409 carrying its message."""

    def handle_exception(self, exc):
        if isinstance(exc, services.ExperimentConflict):
            exc = Conflict(" ".join(exc.messages))
        return super().handle_exception(exc)


def _experiment_or_404(experiment_id: int) -> Experiment:
    return get_object_or_404(selectors.experiment_list(), id=experiment_id)


def _experiment_response(experiment: Experiment, code: int = status.HTTP_200_OK) -> Response:
    return Response(ExperimentOutputSerializer(_experiment_or_404(experiment.id)).data, status=code)


class VariantOutputSerializer(serializers.ModelSerializer):
    policy_version = serializers.CharField(source="policy_version.label", read_only=True)

    class Meta:
        model = Variant
        fields = ["id", "key", "position", "policy_version_id", "policy_version", "weight"]


class PhaseOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = ExperimentPhase
        fields = ["number", "seed", "coverage", "weights", "started_at", "ended_at", "reason"]


class PromotionOutputSerializer(serializers.ModelSerializer):
    variant = serializers.CharField(source="variant.key", read_only=True)
    route = serializers.CharField(source="route.name", read_only=True)
    previous_policy = serializers.CharField(source="previous_policy.label", read_only=True, allow_null=True)
    promoted_policy = serializers.CharField(source="promoted_policy.label", read_only=True)
    promoted_by = serializers.StringRelatedField(read_only=True)
    rolled_back_by = serializers.StringRelatedField(read_only=True)

    class Meta:
        model = Promotion
        fields = [
            "id",
            "experiment_id",
            "variant",
            "route",
            "previous_policy_id",
            "previous_policy",
            "promoted_policy_id",
            "promoted_policy",
            "promoted_by",
            "promoted_at",
            "reason",
            "report",
            "rolled_back_at",
            "rolled_back_by",
            "rollback_reason",
        ]


class ExperimentOutputSerializer(serializers.ModelSerializer):
    route = serializers.CharField(source="route.name", read_only=True)
    namespace_range = serializers.SerializerMethodField()
    variants = VariantOutputSerializer(many=True, read_only=True)
    current_phase = PhaseOutputSerializer(read_only=True, allow_null=True)
    phases = PhaseOutputSerializer(many=True, read_only=True)
    promotions = PromotionOutputSerializer(many=True, read_only=True)
    winner = serializers.CharField(source="winner.key", read_only=True, allow_null=True)
    created_by = serializers.StringRelatedField(read_only=True)

    class Meta:
        model = Experiment
        fields = [
            "id",
            "route",
            "name",
            "hypothesis",
            "status",
            "coverage",
            "seed",
            "hash_version",
            "namespace",
            "namespace_range",
            "targeting",
            "primary_metric",
            "guardrail_metrics",
            "guardrail_margins",
            "engine",
            "correction",
            "cuped",
            "capping_percentile",
            "alpha",
            "min_sample_per_variant",
            "phase",
            "current_phase",
            "variants",
            "phases",
            "promotions",
            "winner",
            "created_by",
            "created_at",
            "started_at",
            "ended_at",
        ]

    def get_namespace_range(self, experiment: Experiment) -> list[float]:
        return [experiment.namespace_start, experiment.namespace_end]


class ExperimentListCreateApi(ExperimentApi):
    class FilterSerializer(serializers.Serializer):
        route = serializers.SlugRelatedField(slug_field="name", queryset=Route.objects.all(), required=False)
        status = serializers.ChoiceField(choices=Experiment.Status.choices, required=False)

        class Meta:
            ref_name = "ExperimentListFilter"

    class InputSerializer(serializers.Serializer):
        class VariantSerializer(serializers.Serializer):
            key = serializers.CharField(max_length=64)
            policy_version_id = serializers.IntegerField()
            weight = serializers.FloatField()

            class Meta:
                ref_name = "ExperimentVariantInput"

        route = serializers.SlugRelatedField(slug_field="name", queryset=Route.objects.all())
        name = serializers.CharField(max_length=64)
        hypothesis = serializers.CharField(required=False, allow_blank=True, default="")
        variants = VariantSerializer(many=True)
        coverage = serializers.FloatField(required=False)
        namespace = serializers.CharField(required=False, allow_blank=True, max_length=64)
        namespace_range = serializers.ListField(
            child=serializers.FloatField(), min_length=2, max_length=2, required=False
        )
        targeting = serializers.DictField(child=serializers.ListField(), required=False)
        primary_metric = serializers.ChoiceField(choices=Metric.choices, required=False)
        guardrail_metrics = serializers.ListField(
            child=serializers.ChoiceField(choices=Metric.choices), required=False
        )
        guardrail_margins = serializers.DictField(
            child=serializers.FloatField(),
            required=False,
            help_text='Non-inferiority margin per guardrail, relative: {"latency": 0.05}.',
        )
        engine = serializers.ChoiceField(
            choices=Engine.choices, required=False, help_text="Default: STATS_ENGINE."
        )
        correction = serializers.ChoiceField(
            choices=Correction.choices, required=False, help_text="Default: STATS_CORRECTION."
        )
        cuped = serializers.BooleanField(required=False, default=True)
        capping_percentile = serializers.FloatField(required=False, allow_null=True, default=None)
        alpha = serializers.FloatField(required=False)
        min_sample_per_variant = serializers.IntegerField(required=False)

        class Meta:
            ref_name = "ExperimentCreateInput"

    @extend_schema(parameters=[FilterSerializer], responses=ExperimentOutputSerializer(many=True))
    def get(self, request):
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        experiments = selectors.experiment_list(**filters.validated_data)
        return paginate(self, request, experiments, ExperimentOutputSerializer)

    @extend_schema(request=InputSerializer, responses={201: ExperimentOutputSerializer})
    def post(self, request):
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        experiment = services.experiment_create(user=request.user, **serializer.validated_data)
        return _experiment_response(experiment, status.HTTP_201_CREATED)


class ExperimentDetailApi(ExperimentApi):
    @extend_schema(responses=ExperimentOutputSerializer)
    def get(self, request, experiment_id: int):
        return Response(ExperimentOutputSerializer(_experiment_or_404(experiment_id)).data)


class LifecycleApi(ExperimentApi):
    """One lifecycle move without a body; each subclass names its service."""

    service = None

    @extend_schema(request=None, responses=ExperimentOutputSerializer)
    def post(self, request, experiment_id: int):
        experiment = self.service(experiment=_experiment_or_404(experiment_id), user=request.user)
        return _experiment_response(experiment)


class ExperimentStartApi(LifecycleApi):
    service = staticmethod(services.experiment_start)


class ExperimentPauseApi(LifecycleApi):
    service = staticmethod(services.experiment_pause)


class ExperimentResumeApi(LifecycleApi):
    service = staticmethod(services.experiment_resume)


class ExperimentStopApi(LifecycleApi):
    service = staticmethod(services.experiment_stop)


class ExperimentCoverageApi(ExperimentApi):
    """Ramp coverage up (assigned users stay) or down (users beyond it drop out): a new phase, same seed."""

    class InputSerializer(serializers.Serializer):
        coverage = serializers.FloatField()

        class Meta:
            ref_name = "ExperimentCoverageInput"

    @extend_schema(request=InputSerializer, responses=ExperimentOutputSerializer)
    def post(self, request, experiment_id: int):
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        experiment = services.experiment_ramp(
            experiment=_experiment_or_404(experiment_id), user=request.user, **serializer.validated_data
        )
        return _experiment_response(experiment)


class ExperimentWeightsApi(ExperimentApi):
    """New weights, in variant order: a new phase with a new seed."""

    class InputSerializer(serializers.Serializer):
        weights = serializers.ListField(child=serializers.FloatField())

        class Meta:
            ref_name = "ExperimentWeightsInput"

    @extend_schema(request=InputSerializer, responses=ExperimentOutputSerializer)
    def post(self, request, experiment_id: int):
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        experiment = services.experiment_set_weights(
            experiment=_experiment_or_404(experiment_id), user=request.user, **serializer.validated_data
        )
        return _experiment_response(experiment)


class ExperimentPromoteApi(ExperimentApi):
    """Make a variant's policy the route's live policy and conclude the experiment."""

    class InputSerializer(serializers.Serializer):
        variant = serializers.CharField(max_length=64)
        reason = serializers.CharField()
        report = serializers.DictField(required=False)
        override_reason = serializers.CharField(
            required=False,
            default="",
            help_text="Required when the variant's verdict is not ship: why promote it anyway.",
        )

        class Meta:
            ref_name = "ExperimentPromoteInput"

    @extend_schema(request=InputSerializer, responses={201: PromotionOutputSerializer})
    def post(self, request, experiment_id: int):
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        promotion = services.experiment_promote(
            experiment=_experiment_or_404(experiment_id), user=request.user, **serializer.validated_data
        )
        return Response(PromotionOutputSerializer(promotion).data, status=status.HTTP_201_CREATED)


class PromotionRollbackApi(ExperimentApi):
    """Restore the policy that was live before the promotion."""

    class InputSerializer(serializers.Serializer):
        reason = serializers.CharField()

        class Meta:
            ref_name = "PromotionRollbackInput"

    @extend_schema(request=InputSerializer, responses=PromotionOutputSerializer)
    def post(self, request, promotion_id: int):
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        promotion = services.promotion_rollback(
            promotion=get_object_or_404(Promotion, id=promotion_id),
            user=request.user,
            **serializer.validated_data,
        )
        return Response(PromotionOutputSerializer(promotion).data)


class ExperimentExposuresApi(ExperimentApi):
    """Calls and distinct users per variant and phase, as they come."""

    class OutputSerializer(serializers.Serializer):
        variant = serializers.CharField()
        phase = serializers.IntegerField(allow_null=True)
        calls = serializers.IntegerField()
        users = serializers.IntegerField()

        class Meta:
            ref_name = "ExperimentExposure"

    @extend_schema(responses=OutputSerializer(many=True))
    def get(self, request, experiment_id: int):
        exposures = selectors.experiment_exposures(experiment=_experiment_or_404(experiment_id))
        return Response(self.OutputSerializer(exposures, many=True).data)
