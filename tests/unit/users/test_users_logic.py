"""UsersService with in-memory fakes: registration, login and its throttle, roles, the admin seed."""

from __future__ import annotations

import pytest

from careforall.errors import ForbiddenError, NotFoundError, TooManyRequestsError, UnauthorizedError
from careforall.identity import Caller, Role

from users_service.logic import EmailTakenError, UsersService
from users_service.models import LoginRequest, RegisterRequest, SeedAdminRequest

PASSWORD = "correct horse battery"
ADMIN = Caller(user_id="admin-1", email="admin@careforall.local", role=Role.ADMIN)
DONOR = Caller(user_id="donor-1", email="donor@example.com", role=Role.DONOR)


def _register(service: UsersService, email: str = "ada@example.com", password: str = PASSWORD, name: str = "Ada"):
    return service.register(RegisterRequest(email=email, password=password, name=name))


def _login(service: UsersService, email: str = "ada@example.com", password: str = PASSWORD,
           client_id: str = "203.0.113.10"):
    return service.login(LoginRequest(email=email, password=password), client_id=client_id)


def _fail_logins(service: UsersService, times: int, email: str = "ada@example.com", client_id: str = "203.0.113.10"):
    for _ in range(times):
        with pytest.raises(UnauthorizedError):
            _login(service, email=email, password="wrong password", client_id=client_id)


# ------------------------------------------------------------------------------------------ register
def test_register_new_email_creates_donor(service, users_repo):
    session = _register(service)

    assert session.user.role is Role.DONOR
    assert users_repo.get_by_id(session.user.id) == session.user


def test_register_returns_token_for_the_new_user(service, tokens):
    session = _register(service)

    claims = tokens.verify(session.token)
    assert (claims.sub, claims.email, claims.role) == (session.user.id, "ada@example.com", "DONOR")
    assert session.expires_in == 3600


def test_register_stores_password_hash_not_password(service, hasher):
    session = _register(service)

    assert session.user.password_hash == hasher.hash(PASSWORD)
    assert PASSWORD not in session.user.password_hash


def test_register_duplicate_email_other_case_raises_conflict(service, users_repo):
    _register(service, email="ada@example.com")

    with pytest.raises(EmailTakenError) as raised:
        _register(service, email="ADA@Example.COM")

    assert raised.value.status == 409
    assert raised.value.problem == "email-taken"
    assert len(users_repo.by_id) == 1


def test_register_two_emails_gives_two_distinct_ids(service):
    first = _register(service, email="a@example.com")
    second = _register(service, email="b@example.com")

    assert first.user.id != second.user.id


# ------------------------------------------------------------------------------------------ login
def test_login_correct_password_returns_session(service, tokens):
    registered = _register(service)

    session = _login(service)

    assert session.user.id == registered.user.id
    assert tokens.verify(session.token).sub == registered.user.id


def test_login_email_in_other_case_succeeds(service):
    registered = _register(service, email="ada@example.com")

    assert _login(service, email="Ada@EXAMPLE.com").user.id == registered.user.id


def test_login_wrong_password_raises_unauthorized(service):
    _register(service)

    with pytest.raises(UnauthorizedError):
        _login(service, password="not the password")


def test_login_unknown_email_raises_unauthorized(service):
    with pytest.raises(UnauthorizedError):
        _login(service, email="nobody@example.com")


def test_login_unknown_email_still_verifies_a_password(service, hasher):
    # the hasher runs for unknown emails too, so timing does not reveal which emails have accounts
    with pytest.raises(UnauthorizedError):
        _login(service, email="nobody@example.com")

    assert hasher.verified == [None]


def test_login_wrong_and_unknown_give_same_message(service):
    _register(service)

    with pytest.raises(UnauthorizedError) as wrong_password:
        _login(service, password="not the password")
    with pytest.raises(UnauthorizedError) as unknown_email:
        _login(service, email="nobody@example.com")

    assert wrong_password.value.detail == unknown_email.value.detail


def test_login_failure_records_email_and_client_counters(service, attempts, clock):
    _fail_logins(service, 1, client_id="198.51.100.7")

    window = int(clock()) // 900
    assert attempts.counters == {("email#ada@example.com", window): 1, ("client#198.51.100.7", window): 1}
    # counters outlive their window by one more, then DynamoDB's TTL may drop them
    assert set(attempts.expiries.values()) == {(window + 2) * 900}


def test_login_success_records_no_failure(service, attempts):
    _register(service)

    _login(service)

    assert attempts.counters == {}


def test_login_four_failures_per_email_still_allows_login(service):
    _register(service)
    _fail_logins(service, 4)

    assert _login(service).user.email == "ada@example.com"


def test_login_five_failures_per_email_raises_too_many_requests(service):
    _register(service)
    _fail_logins(service, 5)

    with pytest.raises(TooManyRequestsError) as raised:
        _login(service, password="still wrong")

    assert raised.value.status == 429
    assert "Retry-After" in raised.value.headers


def test_login_throttled_email_refuses_even_correct_password(service):
    _register(service)
    _fail_logins(service, 5)

    with pytest.raises(TooManyRequestsError):
        _login(service)


def test_login_throttled_email_does_not_check_password(service, hasher):
    _register(service)
    _fail_logins(service, 5)
    verified_before = len(hasher.verified)

    with pytest.raises(TooManyRequestsError):
        _login(service)

    assert len(hasher.verified) == verified_before


def test_login_email_throttle_counts_other_spellings_of_the_email(service):
    _register(service)
    _fail_logins(service, 5, email="ADA@example.com")

    with pytest.raises(TooManyRequestsError):
        _login(service, email="ada@EXAMPLE.com")


def test_login_email_throttle_applies_from_any_client(service):
    _register(service)
    for i in range(5):
        _fail_logins(service, 1, client_id=f"198.51.100.{i}")

    with pytest.raises(TooManyRequestsError):
        _login(service, client_id="192.0.2.99")


def test_login_email_throttle_leaves_other_emails_alone(service):
    _register(service, email="ada@example.com")
    _register(service, email="bob@example.com")
    _fail_logins(service, 5, email="ada@example.com")

    assert _login(service, email="bob@example.com").user.email == "bob@example.com"


def test_login_retry_after_is_time_to_end_of_window(service, clock):
    _register(service)
    clock.advance(100)  # 100 s into the 900 s window
    _fail_logins(service, 5)

    with pytest.raises(TooManyRequestsError) as raised:
        _login(service)

    assert raised.value.headers["Retry-After"] == "800"


def test_login_twenty_failures_per_client_raises_too_many_requests(service):
    _register(service, email="victim@example.com")
    # GIVEN one client failing against 20 different emails (4 each would not trip the per-email limit)
    for i in range(20):
        _fail_logins(service, 1, email=f"guess{i}@example.com", client_id="203.0.113.66")

    with pytest.raises(TooManyRequestsError):
        _login(service, email="victim@example.com", client_id="203.0.113.66")


def test_login_nineteen_failures_per_client_still_allows_login(service):
    _register(service, email="victim@example.com")
    for i in range(19):
        _fail_logins(service, 1, email=f"guess{i}@example.com", client_id="203.0.113.66")

    assert _login(service, email="victim@example.com", client_id="203.0.113.66").user


def test_login_client_throttle_leaves_other_clients_alone(service):
    _register(service, email="victim@example.com")
    for i in range(20):
        _fail_logins(service, 1, email=f"guess{i}@example.com", client_id="203.0.113.66")

    assert _login(service, email="victim@example.com", client_id="198.51.100.1").user


def test_login_next_window_lifts_throttle(service, clock):
    _register(service)
    clock.advance(899)  # last second of the window
    _fail_logins(service, 5)
    with pytest.raises(TooManyRequestsError):
        _login(service)

    clock.advance(1)  # the next window starts

    assert _login(service).user.email == "ada@example.com"


def test_login_failures_of_previous_window_do_not_add_up(service, clock):
    _register(service)
    _fail_logins(service, 4)
    clock.advance(900)
    _fail_logins(service, 4)

    assert _login(service).user.email == "ada@example.com"


# ------------------------------------------------------------------------------------------ get / roles
def test_get_existing_user_returns_it(service):
    registered = _register(service)

    assert service.get(registered.user.id) == registered.user


def test_get_unknown_user_raises_not_found(service):
    with pytest.raises(NotFoundError):
        service.get("no-such-user")


def test_set_role_by_admin_changes_role(service, users_repo):
    registered = _register(service)

    updated = service.set_role(ADMIN, registered.user.id, Role.ADMIN)

    assert updated.role is Role.ADMIN
    assert users_repo.get_by_id(registered.user.id).role is Role.ADMIN


def test_set_role_by_donor_raises_forbidden(service, users_repo):
    registered = _register(service)

    with pytest.raises(ForbiddenError):
        service.set_role(DONOR, registered.user.id, Role.ADMIN)

    assert users_repo.get_by_id(registered.user.id).role is Role.DONOR


def test_set_role_donor_promoting_self_raises_forbidden(service):
    registered = _register(service)
    caller = Caller(user_id=registered.user.id, email=registered.user.email, role=Role.DONOR)

    with pytest.raises(ForbiddenError):
        service.set_role(caller, registered.user.id, Role.ADMIN)


def test_set_role_unknown_user_raises_not_found(service):
    with pytest.raises(NotFoundError):
        service.set_role(ADMIN, "no-such-user", Role.ADMIN)


def test_set_role_donor_on_unknown_user_raises_forbidden_not_not_found(service):
    # a non-admin learns nothing about which ids exist
    with pytest.raises(ForbiddenError):
        service.set_role(DONOR, "no-such-user", Role.ADMIN)


# ------------------------------------------------------------------------------------------ seed admin
def _seed(service: UsersService, email: str = "admin@careforall.local", password: str = "admin-password-1"):
    return service.seed_admin(SeedAdminRequest(email=email, password=password))


def test_seed_admin_new_email_creates_admin(service, users_repo):
    admin = _seed(service)

    assert admin.role is Role.ADMIN
    assert admin.name == "Administrator"
    assert users_repo.get_by_email("admin@careforall.local") == admin


def test_seed_admin_created_admin_can_log_in(service):
    _seed(service, password="admin-password-1")

    session = _login(service, email="admin@careforall.local", password="admin-password-1")

    assert session.user.role is Role.ADMIN


def test_seed_admin_existing_donor_is_promoted_in_place(service, users_repo):
    donor = _register(service, email="boss@example.com").user

    admin = _seed(service, email="Boss@Example.com")

    assert admin.id == donor.id
    assert admin.role is Role.ADMIN
    assert len(users_repo.by_id) == 1


def test_seed_admin_run_twice_is_idempotent(service, users_repo):
    first = _seed(service)

    second = _seed(service)

    assert second == first
    assert len(users_repo.by_id) == 1


def test_seed_admin_existing_password_is_kept(service):
    _seed(service, password="admin-password-1")
    _seed(service, password="another-password")

    assert _login(service, email="admin@careforall.local", password="admin-password-1").user.role is Role.ADMIN


def test_seed_admin_losing_a_concurrent_race_promotes_the_winner(users_repo, attempts, hasher, tokens, throttle,
                                                                 clock, fake_types):
    # GIVEN a repository where a concurrent seed creates a DONOR with the same email
    # between our lookup and our insert
    class RacingRepository(fake_types["users"]):
        raced = False

        def get_by_email(self, email):
            if not self.raced:
                self.raced = True
                return None
            return super().get_by_email(email)

        def create(self, user):
            if user.role is Role.ADMIN and not self.by_id:
                super().create(user.model_copy(update={"id": "winner", "role": Role.DONOR}))
            super().create(user)

    service = UsersService(users=RacingRepository(), attempts=attempts, hasher=hasher, tokens=tokens,
                           throttle=throttle, clock=clock)

    admin = _seed(service)

    assert (admin.id, admin.role) == ("winner", Role.ADMIN)
