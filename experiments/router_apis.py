"""The learned routers REST API (staff; training needs the `experiments.add_routertraining` permission):
start a training run, follow it, list the trained routers and read one version's summary.

POST answers 201 with the queued run (a worker trains it); a bad name, family, hyperparameter or source
answers 400 naming the problem, and nothing is saved.
"""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.permissions import IsAdminUser
from rest_framework.response import Response
from rest_framework.views import APIView

from experiments.models import RouterTraining
from experiments.services.training import router_training_create
from routing.apis.common import paginate
from routing.learning.families import FAMILIES
from routing.learning.selectors import UnknownRouter, trained_router_get, trained_router_list
from routing.learning.training import DEFAULT_HELDOUT, DEFAULT_SEED, TrainingError
from routing.models import TrainedRouter

TRAIN_PERMISSION = "experiments.add_routertraining"


class TrainedRouterSerializer(serializers.ModelSerializer):
    label = serializers.CharField(read_only=True)
    # Plain text in the schema: a second `family` enum would collide with the input's.
    family = serializers.CharField(read_only=True, help_text="knn, linear or mf")

    class Meta:
        model = TrainedRouter
        fields = [
            "id",
            "name",
            "version",
            "label",
            "family",
            "hyperparameters",
            "model_names",
            "embedding_model",
            "source",
            "split",
            "metrics",
            "created_at",
        ]


class TrainingSerializer(serializers.ModelSerializer):
    status = serializers.CharField(read_only=True, help_text="queued, running, succeeded or failed")
    family = serializers.CharField(read_only=True, help_text="knn, linear or mf")
    router = serializers.CharField(source="router.label", default=None, read_only=True)

    class Meta:
        model = RouterTraining
        fields = [
            "id",
            "name",
            "family",
            "source",
            "parameters",
            "status",
            "progress_done",
            "progress_total",
            "router",
            "error",
            "created_at",
            "finished_at",
        ]


class TrainingListCreateApi(APIView):
    permission_classes = [IsAdminUser]

    class InputSerializer(serializers.Serializer):
        name = serializers.SlugField(max_length=64)
        family = serializers.ChoiceField(choices=FAMILIES, default="knn")
        dataset = serializers.CharField(max_length=64, required=False, help_text="Train on this dataset.")
        route = serializers.CharField(max_length=64, required=False, help_text="Or on this route's calls.")
        since = serializers.DateTimeField(required=False, help_text="With route: the first moment.")
        until = serializers.DateTimeField(required=False, help_text="With route: the end (exclusive).")
        scorer = serializers.CharField(max_length=64, default="recorded_quality")
        hyperparameters = serializers.DictField(child=serializers.FloatField(), default=dict)
        seed = serializers.IntegerField(min_value=0, max_value=2**31 - 1, default=DEFAULT_SEED)
        heldout_fraction = serializers.FloatField(min_value=0.0, max_value=0.9, default=DEFAULT_HELDOUT)
        weak = serializers.CharField(max_length=200, required=False)
        strong = serializers.CharField(max_length=200, required=False)

        class Meta:
            ref_name = "RouterTrainingInput"

        def validate(self, data):
            if ("dataset" in data) == ("route" in data):
                raise serializers.ValidationError(
                    {"dataset": "Give a dataset or a route, not both or neither."}
                )
            if "route" in data and "since" not in data:
                raise serializers.ValidationError({"since": "Training on a route's calls needs since."})
            return data

    @extend_schema(responses=TrainingSerializer(many=True))
    def get(self, request):
        return paginate(self, request, RouterTraining.objects.select_related("router"), TrainingSerializer)

    @extend_schema(request=InputSerializer, responses={201: TrainingSerializer})
    def post(self, request):
        if not request.user.has_perm(TRAIN_PERMISSION):
            raise PermissionDenied(f"Training a router needs the {TRAIN_PERMISSION} permission.")
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        try:
            run = router_training_create(
                name=data["name"],
                family=data["family"],
                source="route" if "route" in data else "dataset",
                parameters=training_parameters(data),
                user=request.user,
            )
        except TrainingError as exc:
            raise ValidationError({"detail": str(exc)}) from exc
        return Response(TrainingSerializer(run).data, status=status.HTTP_201_CREATED)


def training_parameters(data: dict) -> dict:
    """A run's parameters from a form's or an API body's cleaned fields."""
    if data.get("route"):
        source_args = {"route": data["route"], "since": data["since"].isoformat(), "scorer": data["scorer"]}
        if data.get("until"):
            source_args["until"] = data["until"].isoformat()
    else:
        source_args = {"dataset": data["dataset"]}
    parameters = {
        "source_args": source_args,
        "hyperparameters": {
            key: int(v) if float(v).is_integer() else v for key, v in data["hyperparameters"].items()
        },
        "seed": data["seed"],
        "heldout_fraction": data["heldout_fraction"],
    }
    if data.get("weak") or data.get("strong"):
        parameters.update(weak=data.get("weak"), strong=data.get("strong"))
    return parameters


class TrainingDetailApi(APIView):
    permission_classes = [IsAdminUser]

    @extend_schema(responses=TrainingSerializer)
    def get(self, request, training_id: int):
        return Response(TrainingSerializer(get_object_or_404(RouterTraining, id=training_id)).data)


class RouterListApi(APIView):
    permission_classes = [IsAdminUser]

    @extend_schema(responses=TrainedRouterSerializer(many=True))
    def get(self, request):
        return paginate(self, request, trained_router_list(), TrainedRouterSerializer)


class RouterDetailApi(APIView):
    permission_classes = [IsAdminUser]

    @extend_schema(responses=TrainedRouterSerializer)
    def get(self, request, ref: str):
        try:
            return Response(TrainedRouterSerializer(trained_router_get(ref=ref)).data)
        except UnknownRouter as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_404_NOT_FOUND)
