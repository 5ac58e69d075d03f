"""GET /campaigns/{id}/totals: one GetItem on the read model, never a sum over pledges."""

from __future__ import annotations

from functools import cache
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path
from aws_lambda_powertools.utilities.typing import LambdaContext

from careforall.api import create_api, ok, serve
from careforall.config import load_settings
from careforall.observability import logger, metrics, tracer

from totals_service.dal import DynamoTotalsStore
from totals_service.logic import TotalsReader
from totals_service.models import ApiSettings

SETTINGS = load_settings(ApiSettings)
app = create_api()


@cache
def totals_reader() -> TotalsReader:
    return TotalsReader(DynamoTotalsStore(SETTINGS.totals_table_name))


@app.get("/campaigns/<id>/totals")
def get_totals(id: Annotated[str, Path(min_length=1, max_length=64)]) -> Response[Any]:  # noqa: A002
    return ok(totals_reader().get(id).model_dump(mode="json"))


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return serve(app, event, context)
