"""Campaigns API handlers: parse, validate, call the logic, shape the response."""

from __future__ import annotations

from functools import cache
from typing import Annotated, Any, Optional

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query
from aws_lambda_powertools.utilities.typing import LambdaContext

from careforall.api import create_api, ok, require_caller, serve
from careforall.config import load_settings
from careforall.observability import logger, metrics, tracer

from campaigns_service.dal import DynamoCampaignRepository, DynamoTotalsReader
from campaigns_service.logic import CampaignsService
from campaigns_service.models import CampaignStatus, CreateCampaignRequest, Settings, UpdateCampaignRequest

SETTINGS = load_settings(Settings)
app = create_api()
CampaignId = Annotated[str, Path(min_length=1, max_length=64)]


@cache
def campaigns_service() -> CampaignsService:
    return CampaignsService(DynamoCampaignRepository(SETTINGS.campaigns_table_name, SETTINGS.totals_table_name),
                            DynamoTotalsReader(SETTINGS.totals_table_name))


@app.post("/campaigns")
def create_campaign(body: Annotated[CreateCampaignRequest, Body()]) -> Response[Any]:
    campaign = campaigns_service().create(require_caller(app), body)
    metrics.add_metric(name="CampaignsCreated", unit="Count", value=1)
    return ok(campaign.model_dump(mode="json"), status=201)


@app.get("/campaigns")
def list_campaigns(
    status: Annotated[Optional[CampaignStatus], Query()] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[Optional[str], Query(max_length=1024)] = None,
) -> Response[Any]:
    return ok(campaigns_service().list(status, limit, cursor).model_dump(mode="json"))


@app.get("/campaigns/<id>")
def get_campaign(id: CampaignId) -> Response[Any]:  # noqa: A002 - route name
    return ok(campaigns_service().get(id).model_dump(mode="json"))


@app.patch("/campaigns/<id>")
def update_campaign(id: CampaignId, body: Annotated[UpdateCampaignRequest, Body()]) -> Response[Any]:  # noqa: A002
    return ok(campaigns_service().update(require_caller(app), id, body).model_dump(mode="json"))


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return serve(app, event, context)
