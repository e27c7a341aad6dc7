"""The offline evaluations REST API (staff only): start an evaluation, list them, read one's results.

Thin: validate the shape, call one service, serialize. A bad dataset, policy version or mode answers 400
naming the field; the run itself happens in a Celery worker, so POST answers 201 while it is queued.
"""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import IsAdminUser
from rest_framework.response import Response
from rest_framework.views import APIView

from experiments.evaluation import selectors, services
from experiments.evaluation.common import version_label
from experiments.models import Dataset, Evaluation
from routing.apis.common import paginate
from routing.models import PolicyVersion


class EvaluationSummarySerializer(serializers.ModelSerializer):
    dataset = serializers.CharField(source="dataset.name", read_only=True)
    # Plain text in the schema: another `status` enum would rename the other APIs' status enums.
    status = serializers.CharField(read_only=True, help_text="queued, running, succeeded or failed")
    policy_versions = serializers.SerializerMethodField()
    progress = serializers.SerializerMethodField()
    created_by = serializers.StringRelatedField(read_only=True)

    class Meta:
        model = Evaluation
        fields = [
            "id",
            "dataset",
            "mode",
            "status",
            "progress",
            "policy_versions",
            "error",
            "experiment_id",
            "attached_at",
            "created_by",
            "created_at",
            "started_at",
            "finished_at",
        ]

    def get_policy_versions(self, evaluation: Evaluation) -> list[dict]:
        return [
            {"id": version.id, "label": version_label(version), "kind": version.kind}
            for version in evaluation.policy_versions.all()
        ]

    def get_progress(self, evaluation: Evaluation) -> dict:
        return {
            "done": evaluation.progress_done,
            "total": evaluation.progress_total,
            "fraction": evaluation.progress,
        }


class EvaluationOutputSerializer(EvaluationSummarySerializer):
    curves = serializers.SerializerMethodField()

    class Meta(EvaluationSummarySerializer.Meta):
        fields = [*EvaluationSummarySerializer.Meta.fields, "results", "curves"]

    def get_curves(self, evaluation: Evaluation) -> list[dict]:
        return selectors.evaluation_curves(evaluation=evaluation)


class EvaluationListCreateApi(APIView):
    permission_classes = [IsAdminUser]

    class InputSerializer(serializers.Serializer):
        dataset = serializers.SlugRelatedField(slug_field="name", queryset=Dataset.objects.all())
        policy_version_ids = serializers.PrimaryKeyRelatedField(
            many=True, allow_empty=False, queryset=PolicyVersion.objects.select_related("policy__route")
        )
        mode = serializers.ChoiceField(choices=Evaluation.Mode.choices, default=Evaluation.Mode.RECORDED)
        weak = serializers.CharField(
            max_length=200, required=False, default="", help_text="Recorded mode: the weak model (required)"
        )
        strong = serializers.CharField(
            max_length=200, required=False, default="", help_text="Recorded mode: the strong model (required)"
        )

        class Meta:
            ref_name = "EvaluationCreateInput"

    @extend_schema(responses=EvaluationSummarySerializer(many=True))
    def get(self, request):
        return paginate(self, request, selectors.evaluation_list(), EvaluationSummarySerializer)

    @extend_schema(request=InputSerializer, responses={201: EvaluationOutputSerializer})
    def post(self, request):
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        evaluation = services.evaluation_create(
            dataset=data["dataset"],
            policy_versions=data["policy_version_ids"],
            mode=data["mode"],
            weak=data["weak"],
            strong=data["strong"],
            user=request.user,
        )
        body = EvaluationOutputSerializer(selectors.evaluation_get(id=evaluation.id)).data
        return Response(body, status=status.HTTP_201_CREATED)


class EvaluationDetailApi(APIView):
    permission_classes = [IsAdminUser]

    @extend_schema(responses=EvaluationOutputSerializer)
    def get(self, request, evaluation_id: int):
        evaluation = get_object_or_404(selectors.evaluation_list(), id=evaluation_id)
        return Response(EvaluationOutputSerializer(evaluation).data)
