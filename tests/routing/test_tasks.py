from decimal import Decimal

import pytest

from routing import services
from routing.tasks import model_complete_task


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_calls_the_simulator_through_redis(simulator, celery_worker_thread):
    models = services.registry_seed_simulator(base_url=f"{simulator.url}/v1")
    mini = next(model for model in models if model.model_id == "gpt-4o-mini")

    async_result = model_complete_task.delay(
        mini.pk, [{"role": "user", "content": "What is the capital of France?"}]
    )
    result = async_result.get(timeout=30)

    assert async_result.status == "SUCCESS"
    assert result["model"] == "gpt-4o-mini"
    assert result["text"]
    assert result["input_tokens"] > 0 and result["output_tokens"] > 0
    expected = mini.price.cost(result["input_tokens"], result["output_tokens"])
    assert Decimal(result["cost"]) == expected


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_a_permanent_provider_error_ends_the_task_failed(simulator, celery_worker_thread):
    models = services.registry_seed_simulator(base_url=f"{simulator.url}/v1")
    model = models[0]
    model.model_id = "no-such-model"
    model.save()

    async_result = model_complete_task.delay(model.pk, [{"role": "user", "content": "hi"}])
    with pytest.raises(Exception, match="model"):
        async_result.get(timeout=30)
    assert async_result.status == "FAILURE"
