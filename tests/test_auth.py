"""Authentication: static and service-account tokens, as kube-apiserver accepts and rejects them."""

from __future__ import annotations

import base64
import json
from datetime import datetime, timedelta, timezone

import pytest

from chaositbench.sim.auth import TokenAuthenticator, UserInfo, bearer_token
from chaositbench.sim.errors import APIError

T0 = datetime(2026, 11, 25, 12, 0, 0, tzinfo=timezone.utc)


class World:
    """Service accounts that exist (with their UIDs) and a settable clock."""

    def __init__(self) -> None:
        self.accounts: dict[tuple[str, str], str] = {("team-a", "agent"): "uid-1"}
        self.now = T0

    def authenticator(self, **kwargs: object) -> TokenAuthenticator:
        return TokenAuthenticator(lambda ns, n: (ns, n) in self.accounts,
                                  sa_uid=lambda ns, n: self.accounts.get((ns, n)), now=lambda: self.now,
                                  **kwargs)  # type: ignore[arg-type]


@pytest.fixture
def world() -> World:
    return World()


@pytest.fixture
def authn(world: World) -> TokenAuthenticator:
    return world.authenticator()


def _claims(token: str) -> dict[str, object]:
    part = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def _with_claims(token: str, **changes: object) -> str:
    header, _, signature = token.split(".")
    claims = {**_claims(token), **changes}
    body = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{header}.{body}.{signature}"


def test_admin_token_is_kubernetes_admin_in_system_masters(authn: TokenAuthenticator) -> None:
    user = authn.authenticate(f"Bearer {authn.admin_token}")
    assert user == UserInfo("kubernetes-admin", "", ["system:masters", "system:authenticated"], {})
    assert user.as_dict() == {"username": "kubernetes-admin", "groups": ["system:masters", "system:authenticated"]}


def test_admin_token_is_long_and_random(world: World) -> None:
    first, second = world.authenticator(), world.authenticator()
    assert len(first.admin_token) >= 40 and first.admin_token != second.admin_token
    assert second.authenticate(f"Bearer {first.admin_token}") is None


def test_no_credentials_is_anonymous_unless_anonymous_auth_is_off(world: World) -> None:
    assert world.authenticator().authenticate(None) == UserInfo("system:anonymous", "", ["system:unauthenticated"])
    assert world.authenticator().authenticate("Basic dXNlcjpwYXNz").username == "system:anonymous"
    assert world.authenticator().authenticate("Bearer ").username == "system:anonymous"
    assert world.authenticator(anonymous=False).authenticate(None) is None


def test_an_unknown_token_is_rejected_even_with_anonymous_auth(authn: TokenAuthenticator) -> None:
    assert authn.authenticate("Bearer not-a-token") is None
    assert authn.authenticate("Bearer a.b.c") is None


def test_bearer_scheme_is_case_insensitive() -> None:
    assert bearer_token("bearer abc") == "abc"
    assert bearer_token("  Bearer abc  ") == "abc"
    assert bearer_token("Token abc") is None


def test_static_tokens_get_system_authenticated(authn: TokenAuthenticator) -> None:
    authn.add_static_token("s3cret", UserInfo("alice", groups=["devs"]))
    assert authn.authenticate("Bearer s3cret") == UserInfo("alice", "", ["devs", "system:authenticated"])
    with pytest.raises(ValueError):
        authn.add_static_token("", UserInfo("bob"))


def test_token_request_response_and_defaults(authn: TokenAuthenticator) -> None:
    body = authn.issue_token_request("team-a", "agent", {}, T0)
    assert body["kind"] == "TokenRequest" and body["apiVersion"] == "authentication.k8s.io/v1"
    assert body["metadata"] == {"name": "agent", "namespace": "team-a", "creationTimestamp": "2026-11-25T12:00:00Z"}
    assert body["spec"] == {"audiences": ["https://kubernetes.default.svc.cluster.local"], "expirationSeconds": 3600,
                            "boundObjectRef": None}
    assert body["status"]["expirationTimestamp"] == "2026-11-25T13:00:00Z"
    token = body["status"]["token"]
    assert token.count(".") == 2 and len(token) > 200
    claims = _claims(token)
    assert claims["iss"] == "https://kubernetes.default.svc.cluster.local"
    assert claims["sub"] == "system:serviceaccount:team-a:agent"
    assert claims["aud"] == ["https://kubernetes.default.svc.cluster.local"]
    assert claims["exp"] - claims["iat"] == 3600 and claims["nbf"] == claims["iat"] == int(T0.timestamp())
    assert claims["kubernetes.io"] == {"namespace": "team-a", "serviceaccount": {"name": "agent", "uid": "uid-1"}}
    header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    assert header["alg"] == "HS256" and header["kid"]


def test_service_account_token_authenticates_as_the_account(authn: TokenAuthenticator) -> None:
    token = authn.issue_token_request("team-a", "agent", {"expirationSeconds": 7200}, T0)["status"]["token"]
    user = authn.authenticate(f"Bearer {token}")
    assert user is not None
    assert user.username == "system:serviceaccount:team-a:agent"
    assert user.groups == ["system:serviceaccounts", "system:serviceaccounts:team-a", "system:authenticated"]
    assert user.uid == "uid-1"
    assert user.extra == {"authentication.kubernetes.io/credential-id": [f"JTI={_claims(token)['jti']}"]}


def test_tokens_are_unique(authn: TokenAuthenticator) -> None:
    tokens = {authn.issue_token_request("team-a", "agent", {}, T0)["status"]["token"] for _ in range(5)}
    assert len(tokens) == 5


def test_expired_token_is_rejected_after_the_leeway(world: World, authn: TokenAuthenticator) -> None:
    token = authn.issue_token_request("team-a", "agent", {"expirationSeconds": 600}, T0)["status"]["token"]
    world.now = T0 + timedelta(seconds=650)
    assert authn.authenticate(f"Bearer {token}") is not None
    world.now = T0 + timedelta(seconds=661)
    assert authn.authenticate(f"Bearer {token}") is None
    assert authn.token_review_status({"token": token}) == {"user": {}, "error": "service account token has expired"}


def test_tampered_tokens_are_rejected(world: World, authn: TokenAuthenticator) -> None:
    token = authn.issue_token_request("team-a", "agent", {}, T0)["status"]["token"]
    assert authn.authenticate("Bearer " + _with_claims(token, sub="system:serviceaccount:kube-system:admin")) is None
    assert authn.authenticate("Bearer " + _with_claims(token, exp=_claims(token)["exp"] + 10**6)) is None
    header, body, signature = token.split(".")
    assert authn.authenticate(f"Bearer {header}.{body}.{signature[::-1]}") is None
    other = world.authenticator()
    assert other.authenticate(f"Bearer {token}") is None
    assert authn.authenticate(f"Bearer \u00fc{header}.{body}.{signature}") is None
    assert authn.authenticate(f"Bearer W10.{body}.{signature}") is None  # header "[]"
    assert authn.authenticate(f"Bearer {header}.{body}.!!") is None


def test_token_of_a_deleted_or_recreated_service_account_is_rejected(world: World,
                                                                      authn: TokenAuthenticator) -> None:
    token = authn.issue_token_request("team-a", "agent", {}, T0)["status"]["token"]
    del world.accounts[("team-a", "agent")]
    assert authn.authenticate(f"Bearer {token}") is None
    assert authn.token_review_status({"token": token})["error"] == 'serviceaccounts "agent" not found'
    world.accounts[("team-a", "agent")] = "uid-2"
    assert authn.authenticate(f"Bearer {token}") is None
    fresh = authn.issue_token_request("team-a", "agent", {}, T0)["status"]["token"]
    assert authn.authenticate(f"Bearer {fresh}").uid == "uid-2"


def test_without_uid_lookup_existence_is_enough(world: World) -> None:
    authn = TokenAuthenticator(lambda ns, n: (ns, n) in world.accounts, now=lambda: world.now)
    token = authn.issue_token_request("team-a", "agent", {}, T0)["status"]["token"]
    assert "uid" not in _claims(token)["kubernetes.io"]["serviceaccount"]
    assert authn.authenticate(f"Bearer {token}").uid == ""


def test_token_for_another_audience_does_not_authenticate_to_the_api(authn: TokenAuthenticator) -> None:
    token = authn.issue_token_request("team-a", "agent", {"audiences": ["vault"]}, T0)["status"]["token"]
    assert authn.authenticate(f"Bearer {token}") is None
    review = authn.token_review_status({"token": token, "audiences": ["vault"]})
    assert review["authenticated"] is True and review["audiences"] == ["vault"]
    assert authn.token_review_status({"token": token})["error"] == (
        'token audiences ["vault"] is invalid for the target audiences '
        '["https://kubernetes.default.svc.cluster.local"]')


def test_token_review_of_an_unknown_token(authn: TokenAuthenticator) -> None:
    assert authn.token_review_status({"token": "nope"}) == {"user": {}}
    review = authn.token_review_status({"token": authn.admin_token})
    assert review["authenticated"] is True and review["user"]["username"] == "kubernetes-admin"


def test_token_request_validation(authn: TokenAuthenticator) -> None:
    with pytest.raises(APIError) as short:
        authn.issue_token_request("team-a", "agent", {"expirationSeconds": 60}, T0)
    assert short.value.code == 422
    assert short.value.message.endswith(
        '"" is invalid: spec.expirationSeconds: Invalid value: 60: may not specify a duration less than 10 minutes')
    with pytest.raises(APIError) as long:
        authn.issue_token_request("team-a", "agent", {"expirationSeconds": 2**33}, T0)
    assert "may not specify a duration larger than 2^32 seconds" in long.value.message
    with pytest.raises(APIError) as typed:
        authn.issue_token_request("team-a", "agent", {"expirationSeconds": "1h"}, T0)
    assert typed.value.code == 400 and "cannot unmarshal string" in typed.value.message
    with pytest.raises(APIError) as missing:
        authn.issue_token_request("team-a", "ghost", {}, T0)
    assert (missing.value.code, missing.value.message) == (404, 'serviceaccounts "ghost" not found')
