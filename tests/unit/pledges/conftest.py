"""In-memory fakes of the pledges service's ports (pledge store, campaign directory, mailer, counters) and a clock."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import pytest

from careforall.errors import ValidationFailedError
from careforall.tokens import TokenService

from pledges_service.logic import CampaignRef, CreateOutcome, CreateResult, Page, PledgesService, email_key
from pledges_service.models import PledgeRecord, PledgeStatus
from tests.unit.fakes import FakeClock, FakeWindowCounters

SIGNING_KEY = "pledges-unit-test-signing-key-0123456789abcdef"
ISSUER = "https://auth.careforall.org"
LOOKUP_AUDIENCE = "careforall-donation-lookup"
WEB_APP_URL = "https://app.careforall.org/"
# The start of a 900-second rate-limit window, so window arithmetic in tests is easy to follow.
START = float(2_000_000 * 900)


OWNER_ID = "owner-1"  # the owner of the fake directory's campaigns unless a test names another


class FakeCampaignDirectory:
    """Campaigns as (currency, status, owner); the pledge store reads the status like the transaction's
    ConditionCheck."""

    def __init__(self) -> None:
        self.campaigns: dict[str, dict[str, str]] = {}
        self.lookups: list[str] = []

    def add(self, campaign_id: str, currency: str = "USD", status: str = "ACTIVE", owner_id: str = OWNER_ID) -> str:
        self.campaigns[campaign_id] = {"currency": currency, "status": status, "owner_id": owner_id}
        return campaign_id

    def set_status(self, campaign_id: str, status: str) -> None:
        self.campaigns[campaign_id]["status"] = status

    def status_of(self, campaign_id: str) -> str | None:
        campaign = self.campaigns.get(campaign_id)
        return campaign["status"] if campaign else None

    def find(self, campaign_id: str) -> CampaignRef | None:
        self.lookups.append(campaign_id)
        campaign = self.campaigns.get(campaign_id)
        if campaign is None:
            return None
        return CampaignRef(id=campaign_id, owner_id=campaign["owner_id"], currency=campaign["currency"])


class FakePledgeRepository:
    """Pledges in a dict, with the atomic create of DynamoPledgeRepository.

    Like the transaction's cancellation reasons are read, an existing id wins over a closed campaign
    (a replay after the campaign closed still gets its first response).
    """

    def __init__(self, campaigns: FakeCampaignDirectory) -> None:
        self.items: dict[str, PledgeRecord] = {}
        self._campaigns = campaigns
        self.outcomes: list[CreateOutcome] = []

    def create(self, pledge: PledgeRecord) -> CreateResult:
        if pledge.id in self.items:
            result = CreateResult(CreateOutcome.EXISTS, self.items[pledge.id].model_copy(deep=True))
        elif self._campaigns.status_of(pledge.campaign_id) != "ACTIVE":
            result = CreateResult(CreateOutcome.CAMPAIGN_NOT_ACTIVE)
        else:
            self.items[pledge.id] = pledge.model_copy(deep=True)
            result = CreateResult(CreateOutcome.CREATED)
        self.outcomes.append(result.outcome)
        return result

    def get(self, pledge_id: str) -> PledgeRecord | None:
        item = self.items.get(pledge_id)
        return item.model_copy(deep=True) if item else None

    def by_donor(self, donor_id: str, limit: int, cursor: str | None) -> Page:
        return self._page([r for r in self.items.values() if r.donor_id == donor_id], limit, cursor)

    def by_email(self, email: str, limit: int, cursor: str | None) -> Page:
        return self._page([r for r in self.items.values() if email_key(r.donor_email) == email], limit, cursor)

    def by_campaign(self, campaign_id: str, status: PledgeStatus | None, limit: int, cursor: str | None) -> Page:
        return self._page([r for r in self.items.values()
                           if r.campaign_id == campaign_id and (status is None or r.status is status)], limit, cursor)

    @staticmethod
    def _page(records: list[PledgeRecord], limit: int, cursor: str | None) -> Page:
        records = sorted(records, key=lambda r: (r.created_at, r.id), reverse=True)
        if cursor is not None and not cursor.isdigit():
            raise ValidationFailedError("The cursor is not valid.")
        start = int(cursor or 0)
        more = start + limit < len(records)
        return Page(records=records[start:start + limit], next_cursor=str(start + limit) if more else None)


class InFlightPledgeRepository(FakePledgeRepository):
    """DynamoDB cancelled the write: another transaction is writing the same pledge item right now."""

    def create(self, pledge: PledgeRecord) -> CreateResult:
        return CreateResult(CreateOutcome.IN_FLIGHT)


@dataclass(frozen=True)
class SentMail:
    to: str
    subject: str
    text: str


class FakeMailer:
    def __init__(self) -> None:
        self.sent: list[SentMail] = []

    def send(self, to: str, subject: str, text: str) -> None:
        self.sent.append(SentMail(to, subject, text))


@pytest.fixture(autouse=True)
def ticking_clock(monkeypatch):
    """Each pledge timestamp is one second after the previous one: "newest first" is deterministic."""
    from careforall.clock import iso

    start, ticks = datetime(2025, 3, 1, 12, 0, tzinfo=timezone.utc), itertools.count()  # count(): thread-safe
    monkeypatch.setattr("pledges_service.logic.now_iso", lambda: iso(start + timedelta(seconds=next(ticks))))


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
def campaigns() -> FakeCampaignDirectory:
    return FakeCampaignDirectory()


@pytest.fixture
def pledges_repo(campaigns) -> FakePledgeRepository:
    return FakePledgeRepository(campaigns)


@pytest.fixture
def mailer() -> FakeMailer:
    return FakeMailer()


@pytest.fixture
def counters() -> FakeWindowCounters:
    return FakeWindowCounters()


@pytest.fixture
def make_tokens(clock):
    """TokenServices on the test clock: by default the lookup links' (their own audience, 15 minutes)."""

    def make(signing_key: str = SIGNING_KEY, issuer: str = ISSUER, audience: str = LOOKUP_AUDIENCE,
             ttl_seconds: int = 15 * 60) -> TokenService:
        return TokenService(signing_key, issuer, ttl_seconds=ttl_seconds, clock=clock, audience=audience)

    return make


@pytest.fixture
def lookup_tokens(make_tokens) -> TokenService:
    return make_tokens()


@pytest.fixture
def api_tokens(make_tokens) -> TokenService:
    """Access tokens of the API, signed with the same key: never valid as a lookup link."""
    return make_tokens(audience="careforall-api", ttl_seconds=3600)


@pytest.fixture
def make_service(campaigns, pledges_repo, mailer, counters, lookup_tokens, clock):
    """PledgesService over the fakes; `pledges` swaps the store, `limits` the lookup limits."""

    def make(pledges=None, **options) -> PledgesService:
        return PledgesService(pledges=pledges if pledges is not None else pledges_repo, campaigns=campaigns,
                              mailer=mailer, counters=counters, lookup_tokens=lookup_tokens, web_app_url=WEB_APP_URL,
                              clock=clock, **options)

    return make


@pytest.fixture
def service(make_service) -> PledgesService:
    return make_service()


@pytest.fixture
def in_flight_service(make_service, campaigns) -> PledgesService:
    return make_service(InFlightPledgeRepository(campaigns))


@pytest.fixture
def donor(ps) -> dict:
    """A registered donor in the handler tests' users table (each test module defines its `ps`)."""
    return ps.stack.seed_user(email="donor@example.com")


@pytest.fixture
def admin(ps) -> dict:
    return ps.stack.seed_user(email="admin@careforall.local", role="ADMIN", name="Admin")
