"""Pledges logic: idempotency, who may read a pledge, histories and the guest lookup. No AWS SDK here."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from dataclasses import dataclass
from enum import Enum
from typing import Callable, Protocol

from careforall import receipts
from careforall.clock import now_iso
from careforall.errors import (BadRequestError, ConflictError, ForbiddenError, NotFoundError, UnauthorizedError,
                               ValidationFailedError)
from careforall.identity import Caller
from careforall.money import from_cents, to_cents
from careforall.tokens import InvalidTokenError, TokenService

from pledges_service.models import (IDEMPOTENCY_KEY, CreatePledgeRequest, PledgeCreatedOut, PledgeOut, PledgePage,
                                    PledgeRecord, PledgeStatus)

# Pledge ids are derived from (caller scope, Idempotency-Key): the same request always names the
# same item, so the conditional put that creates it is the whole idempotency check.
PLEDGE_ID_NAMESPACE = uuid.UUID("6f1c1d8e-5a0b-4d7e-9c1b-2f4a8e9d0c35")
GUEST_SCOPE = "guest"


class CreateOutcome(Enum):
    CREATED = "created"
    EXISTS = "exists"
    CAMPAIGN_NOT_ACTIVE = "campaign-not-active"
    IN_FLIGHT = "in-flight"  # another request is writing this very pledge right now


@dataclass(frozen=True)
class CreateResult:
    outcome: CreateOutcome
    existing: PledgeRecord | None = None


@dataclass(frozen=True)
class Page:
    records: list[PledgeRecord]
    next_cursor: str | None


@dataclass(frozen=True)
class CampaignRef:
    """What the pledges service needs of a campaign: who owns it and its currency (neither ever changes)."""

    id: str
    owner_id: str
    currency: str


@dataclass(frozen=True)
class Reply:
    status: int
    body: str
    replayed: bool
    pledge_id: str


class PledgeRepository(Protocol):
    def create(self, pledge: PledgeRecord) -> CreateResult:
        """Write the pledge if its id is new and the campaign is still ACTIVE, atomically."""

    def get(self, pledge_id: str) -> PledgeRecord | None: ...

    def by_donor(self, donor_id: str, limit: int, cursor: str | None) -> Page: ...

    def by_email(self, email_key: str, limit: int, cursor: str | None) -> Page: ...

    def by_campaign(self, campaign_id: str, status: PledgeStatus | None, limit: int, cursor: str | None) -> Page:
        """The campaign's pledges newest first, only those in `status` when given (an index each: no filtering)."""


class CampaignDirectory(Protocol):
    def find(self, campaign_id: str) -> CampaignRef | None:
        """The campaign's owner and currency, None when there is no such campaign."""


class Mailer(Protocol):
    def send(self, to: str, subject: str, text: str) -> None: ...


class WindowCounters(Protocol):
    def counts(self, keys: list[str], window: int) -> dict[str, int]: ...

    def increment(self, keys: list[str], window: int, expires_at: int) -> None: ...


class MissingIdempotencyKeyError(BadRequestError):
    problem = "missing-idempotency-key"


class IdempotencyKeyReuseError(ValidationFailedError):
    problem = "idempotency-key-reuse"


class CampaignNotActiveError(ConflictError):
    problem = "campaign-not-active"


class IdempotencyKeyInFlightError(ConflictError):
    problem = "idempotency-key-in-flight"


@dataclass(frozen=True)
class LookupLimits:
    window_seconds: int = 900
    max_per_email: int = 5
    max_per_client: int = 30


def pledge_id_for(scope: str, idempotency_key: str) -> str:
    return str(uuid.uuid5(PLEDGE_ID_NAMESPACE, f"{scope}\n{idempotency_key}"))


def email_key(email: str) -> str:
    return email.strip().lower()


class PledgesService:
    def __init__(self, pledges: PledgeRepository, campaigns: CampaignDirectory, mailer: Mailer,
                 counters: WindowCounters, lookup_tokens: TokenService, web_app_url: str,
                 limits: LookupLimits = LookupLimits(), clock: Callable[[], float] = time.time) -> None:
        self._pledges = pledges
        self._campaigns = campaigns
        self._mailer = mailer
        self._counters = counters
        self._lookup_tokens = lookup_tokens
        self._web_app_url = web_app_url.rstrip("/")
        self._limits = limits
        self._clock = clock

    # ------------------------------------------------------------------ create
    def create(self, caller: Caller | None, campaign_id: str, idempotency_key: str | None,
               request: CreatePledgeRequest, correlation_id: str | None = None,
               trace_header: str | None = None) -> Reply:
        if not idempotency_key:
            raise MissingIdempotencyKeyError("The Idempotency-Key header is required: send a new unique key per pledge.")
        if not IDEMPOTENCY_KEY.match(idempotency_key):
            raise BadRequestError("The Idempotency-Key header must be 1-255 printable ASCII characters.")
        donor_email = self._donor_email(caller, request)
        scope = f"user:{caller.user_id}" if caller else GUEST_SCOPE
        pledge_id = pledge_id_for(scope, idempotency_key)
        fingerprint = self._fingerprint(campaign_id, request)

        campaign = self._campaigns.find(campaign_id)
        if campaign is None:
            raise NotFoundError(f"Campaign {campaign_id} does not exist.")
        currency = campaign.currency
        now = now_iso()
        receipt_token = receipts.new_token()
        record = PledgeRecord(
            id=pledge_id, campaign_id=campaign_id, donor_id=caller.user_id if caller else None,
            donor_email=donor_email, donor_name=request.donor_name, message=request.message,
            amount_cents=to_cents(request.amount), currency=currency, payment_method=request.payment_method,
            created_at=now, updated_at=now, scope=scope, fingerprint=fingerprint,
            receipt_token_hash=receipts.token_hash(receipt_token), correlation_id=correlation_id,
            trace_header=trace_header)
        created_body = PledgeCreatedOut(**self._out(record).model_dump(), receipt_token=receipt_token)
        record.response_body = created_body.model_dump_json()

        result = self._pledges.create(record)
        if result.outcome is CreateOutcome.CREATED:
            return Reply(201, record.response_body, replayed=False, pledge_id=pledge_id)
        if result.outcome is CreateOutcome.EXISTS:
            existing = result.existing
            if existing is None or not hmac.compare_digest(existing.fingerprint, fingerprint):
                raise IdempotencyKeyReuseError(
                    "This Idempotency-Key was already used with a different request; use a new key for a new pledge.")
            return Reply(existing.response_status, existing.response_body, replayed=True, pledge_id=existing.id)
        if result.outcome is CreateOutcome.IN_FLIGHT:
            raise IdempotencyKeyInFlightError(
                "A request with this Idempotency-Key is still in progress; retry to get its response.",
                headers={"Retry-After": "1"})
        raise CampaignNotActiveError(f"Campaign {campaign_id} is not accepting pledges.")

    @staticmethod
    def _donor_email(caller: Caller | None, request: CreatePledgeRequest) -> str:
        if caller is None:
            if request.donor_email is None:
                raise ValidationFailedError("donor_email is required when pledging without signing in.", errors=[
                    {"loc": ["body", "donor_email"], "type": "missing", "msg": "Field required"}])
            return request.donor_email
        if request.donor_email is not None and email_key(request.donor_email) != email_key(caller.email):
            raise ValidationFailedError("donor_email must be your account's email when you are signed in.", errors=[
                {"loc": ["body", "donor_email"], "type": "value_error", "msg": "does not match the account"}])
        return caller.email

    @staticmethod
    def _fingerprint(campaign_id: str, request: CreatePledgeRequest) -> str:
        canonical = {"campaign_id": campaign_id, **request.model_dump(mode="json")}
        if canonical.get("donor_email"):
            canonical["donor_email"] = email_key(canonical["donor_email"])
        return hashlib.sha256(json.dumps(canonical, sort_keys=True, separators=(",", ":")).encode()).hexdigest()

    # ------------------------------------------------------------------ read
    def get(self, caller: Caller | None, pledge_id: str, receipt_token: str | None) -> PledgeOut:
        record = self._pledges.get(pledge_id)
        if record is None:
            raise NotFoundError(f"Pledge {pledge_id} does not exist.")
        if receipt_token is not None:
            if not receipts.matches(receipt_token, record.receipt_token_hash):
                raise ForbiddenError("The receipt token does not match this pledge.")
            return self._out(record)
        if caller is None:
            raise UnauthorizedError("Sign in, or pass the pledge's receipt_token.")
        if not (caller.is_admin or caller.user_id == record.donor_id):
            raise ForbiddenError("Only the donor or an ADMIN can read this pledge.")
        return self._out(record)

    def my_pledges(self, caller: Caller, limit: int, cursor: str | None) -> PledgePage:
        page = self._pledges.by_donor(caller.user_id, limit, cursor)
        return PledgePage(items=[self._out(r) for r in page.records], next_cursor=page.next_cursor)

    def campaign_pledges(self, caller: Caller, campaign_id: str, status: PledgeStatus | None, limit: int,
                         cursor: str | None) -> PledgePage:
        """A campaign's pledges, newest first, for its owner or an ADMIN (the admin's monitoring view)."""
        campaign = self._campaigns.find(campaign_id)
        if campaign is None:
            raise NotFoundError(f"Campaign {campaign_id} does not exist.")
        if not (caller.is_admin or caller.user_id == campaign.owner_id):
            raise ForbiddenError("Only the campaign's owner or an ADMIN can list its pledges.")
        page = self._pledges.by_campaign(campaign_id, status, limit, cursor)
        return PledgePage(items=[self._out(r) for r in page.records], next_cursor=page.next_cursor)

    # ------------------------------------------------------------------ guests
    def request_lookup(self, email: str, client_id: str) -> bool:
        """Email a 15-minute link listing the pledges made with `email`. Answers the same either way."""
        now = int(self._clock())
        window = now // self._limits.window_seconds
        keys = [f"lookup-email#{email_key(email)}", f"lookup-client#{client_id}"]
        counts = self._counters.counts(keys, window)
        if counts.get(keys[0], 0) >= self._limits.max_per_email or counts.get(keys[1], 0) >= self._limits.max_per_client:
            return False  # silently: the answer must not tell anything about the address
        self._counters.increment(keys, window, expires_at=(window + 2) * self._limits.window_seconds)
        token = self._lookup_tokens.issue(user_id="guest", email=email_key(email), role="GUEST")
        link = f"{self._web_app_url}/#/donations?token={token}"
        minutes = self._lookup_tokens.ttl_seconds // 60
        self._mailer.send(email, "Your CareForAll donations", (
            f"Someone asked to see the donations made with this email address.\n\n"
            f"Open this link within {minutes} minutes to see them:\n{link}\n\n"
            "If it was not you, ignore this email; nothing else happens."))
        return True

    def guest_donations(self, token: str, limit: int, cursor: str | None) -> PledgePage:
        try:
            claims = self._lookup_tokens.verify(token)
        except InvalidTokenError:
            raise UnauthorizedError("The lookup link is invalid or has expired; ask for a new one.") from None
        page = self._pledges.by_email(claims.email, limit, cursor)
        return PledgePage(items=[self._out(r) for r in page.records], next_cursor=page.next_cursor)

    @staticmethod
    def _out(record: PledgeRecord) -> PledgeOut:
        return PledgeOut(
            id=record.id, campaign_id=record.campaign_id, donor_id=record.donor_id, donor_email=record.donor_email,
            donor_name=record.donor_name, message=record.message, amount=from_cents(record.amount_cents),
            currency=record.currency, status=record.status, payment=record.payment,
            created_at=record.created_at, updated_at=record.updated_at)
