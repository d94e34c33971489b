"""Authentication: who is making a request, as kube-apiserver decides it.

Two kinds of credentials are accepted as ``Authorization: Bearer <token>``:

* static tokens (like ``--token-auth-file``): the cluster admin token for user
  ``kubernetes-admin`` in group ``system:masters``, plus any token registered
  with :meth:`TokenAuthenticator.add_static_token`;
* service-account tokens issued through the TokenRequest API
  (``POST .../serviceaccounts/{name}/token``, what ``kubectl create token``
  calls). They are real JWTs (signed HS256 with a random per-cluster key) with
  the claims a real bound token carries (``iss``, ``sub``, ``aud``, ``exp``,
  ``iat``, ``nbf``, ``jti``, ``kubernetes.io``). A token is only valid while
  its ServiceAccount exists (and, when UIDs are known, is the same object).

Requests without credentials are anonymous (``system:anonymous`` in group
``system:unauthenticated``, kube-apiserver's default ``--anonymous-auth=true``);
RBAC then decides what they may do. A presented token that does not verify is
rejected with 401 even though anonymous access is enabled, as in Kubernetes.
Every authenticated user gets the group ``system:authenticated``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

from . import clock
from .errors import FieldError, bad_request, invalid, not_found

#: Groups and names Kubernetes gives special meaning to.
MASTERS_GROUP = "system:masters"
AUTHENTICATED_GROUP = "system:authenticated"
UNAUTHENTICATED_GROUP = "system:unauthenticated"
ANONYMOUS_USER = "system:anonymous"
SERVICE_ACCOUNT_PREFIX = "system:serviceaccount:"
SERVICE_ACCOUNTS_GROUP = "system:serviceaccounts"
ADMIN_USER = "kubernetes-admin"

#: The issuer (and default API audience) of service-account tokens in a kubeadm cluster.
DEFAULT_ISSUER = "https://kubernetes.default.svc.cluster.local"
#: TokenRequest defaults and limits (authentication.k8s.io/v1 defaulting and validation).
DEFAULT_EXPIRATION_SECONDS = 3600
MIN_EXPIRATION_SECONDS = 600
MAX_EXPIRATION_SECONDS = 1 << 32
#: go-jose's default clock-skew leeway when checking ``exp`` and ``nbf``.
CLOCK_LEEWAY = timedelta(seconds=60)
#: The user-info extra key carrying a bound token's ID (``kubectl auth whoami`` shows it).
CREDENTIAL_ID_KEY = "authentication.kubernetes.io/credential-id"


@dataclass
class UserInfo:
    """An authenticated identity (``user.Info``): what RBAC evaluates."""

    username: str
    uid: str = ""
    groups: list[str] = field(default_factory=list)
    extra: dict[str, list[str]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """The ``authentication.k8s.io/v1`` ``UserInfo`` JSON (empty fields omitted)."""
        out: dict[str, Any] = {"username": self.username}
        if self.uid:
            out["uid"] = self.uid
        if self.groups:
            out["groups"] = list(self.groups)
        if self.extra:
            out["extra"] = {k: list(v) for k, v in self.extra.items()}
        return out


def anonymous_user() -> UserInfo:
    """The identity of a request that carries no credentials."""
    return UserInfo(username=ANONYMOUS_USER, groups=[UNAUTHENTICATED_GROUP])


def service_account_username(namespace: str, name: str) -> str:
    """``system:serviceaccount:<namespace>:<name>``."""
    return f"{SERVICE_ACCOUNT_PREFIX}{namespace}:{name}"


def split_service_account_username(username: str) -> tuple[str, str] | None:
    """``(namespace, name)`` of a service-account username, None for any other user."""
    if not username.startswith(SERVICE_ACCOUNT_PREFIX):
        return None
    parts = username[len(SERVICE_ACCOUNT_PREFIX):].split(":")
    if len(parts) != 2 or not parts[0] or not parts[1]:
        return None
    return parts[0], parts[1]


def service_account_groups(namespace: str) -> list[str]:
    """The groups every service account of ``namespace`` belongs to."""
    return [SERVICE_ACCOUNTS_GROUP, f"{SERVICE_ACCOUNTS_GROUP}:{namespace}"]


def with_authenticated_group(user: UserInfo) -> UserInfo:
    """Add ``system:authenticated`` as kube-apiserver's authenticated-group adder does."""
    if user.username == ANONYMOUS_USER or AUTHENTICATED_GROUP in user.groups \
            or UNAUTHENTICATED_GROUP in user.groups:
        return user
    return UserInfo(user.username, user.uid, [*user.groups, AUTHENTICATED_GROUP], user.extra)


class TokenError(Exception):
    """A bearer token that does not authenticate; the text is the authenticator's reason."""


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _json_bytes(value: dict[str, Any]) -> bytes:
    return json.dumps(value, separators=(",", ":"), sort_keys=True).encode()


class TokenAuthenticator:
    """Authenticates bearer tokens and issues service-account tokens for one cluster.

    ``sa_exists(namespace, name)`` tells whether a ServiceAccount exists now; a
    token of a deleted account no longer authenticates. When ``sa_uid`` is
    given it returns the account's ``metadata.uid``; tokens then carry it and
    stop authenticating when the account is deleted and re-created under the
    same name, as bound tokens do. ``now`` is the clock (UTC).
    """

    def __init__(self, sa_exists: Callable[[str, str], bool], *,
                 sa_uid: Callable[[str, str], str | None] | None = None,
                 issuer: str = DEFAULT_ISSUER,
                 api_audiences: tuple[str, ...] | None = None,
                 anonymous: bool = True,
                 now: Callable[[], datetime] = clock.now) -> None:
        self._sa_exists = sa_exists
        self._sa_uid = sa_uid
        self.issuer = issuer
        self.api_audiences: tuple[str, ...] = api_audiences or (issuer,)
        self.anonymous = anonymous
        self._now = now
        self._key = secrets.token_bytes(32)
        self._kid = _b64url(hashlib.sha256(b"kid:" + self._key).digest())
        self._static: dict[str, UserInfo] = {}
        self.admin_token = secrets.token_urlsafe(32)
        self.add_static_token(self.admin_token, UserInfo(username=ADMIN_USER, groups=[MASTERS_GROUP]))

    # -- static tokens -----------------------------------------------------------
    def add_static_token(self, token: str, user: UserInfo) -> None:
        """Accept ``token`` as ``user`` (a line of a static token file)."""
        if not token:
            raise ValueError("a static token must not be empty")
        self._static[token] = user

    # -- authenticating requests ------------------------------------------------
    def authenticate(self, authorization_header: str | None) -> UserInfo | None:
        """The user of a request given its ``Authorization`` header.

        Returns the anonymous user when the request carries no bearer token
        and anonymous access is on; returns None when the request must be
        answered ``401 Unauthorized`` (a token that does not verify, or no
        token while anonymous access is off).
        """
        token = bearer_token(authorization_header)
        if token is None:
            return anonymous_user() if self.anonymous else None
        try:
            return self.review(token)
        except TokenError:
            return None

    def review(self, token: str, audiences: tuple[str, ...] | None = None) -> UserInfo | None:
        """The user ``token`` authenticates for ``audiences`` (the API audiences by default).

        None when no authenticator recognises the token at all; raises
        :class:`TokenError` with the authenticator's reason for a recognised
        token that is not (or no longer) valid.
        """
        static = self._static.get(token)
        if static is not None:
            return with_authenticated_group(static)
        if not self._looks_like_our_jwt(token):
            return None
        return with_authenticated_group(self._verify_jwt(token, audiences or self.api_audiences))

    def token_review_status(self, spec: dict[str, Any]) -> dict[str, Any]:
        """``status`` of a TokenReview for its ``spec`` (``token``, optional ``audiences``)."""
        wanted = tuple(spec.get("audiences") or ()) or None
        try:
            user = self.review(str(spec.get("token") or ""), wanted)
        except TokenError as err:
            return {"user": {}, "error": str(err)}
        if user is None:
            return {"user": {}}
        return {"authenticated": True, "user": user.as_dict(), "audiences": list(wanted or self.api_audiences)}

    def _looks_like_our_jwt(self, token: str) -> bool:
        parts = token.split(".")
        if len(parts) != 3:
            return False
        try:
            claims = json.loads(_b64url_decode(parts[1]))
        except ValueError:  # includes binascii, JSON and Unicode errors
            return False
        return isinstance(claims, dict) and claims.get("iss") == self.issuer

    def _verify_jwt(self, token: str, audiences: tuple[str, ...]) -> UserInfo:
        header_b64, claims_b64, signature_b64 = token.split(".")
        try:
            expected = hmac.new(self._key, f"{header_b64}.{claims_b64}".encode("ascii"), hashlib.sha256).digest()
            signature = _b64url_decode(signature_b64)
            header = json.loads(_b64url_decode(header_b64))
        except ValueError:  # includes binascii, JSON and Unicode errors
            raise TokenError("go-jose/go-jose: error in cryptographic primitive") from None
        if not hmac.compare_digest(signature, expected) or not isinstance(header, dict) \
                or header.get("alg") != "HS256":
            raise TokenError("go-jose/go-jose: error in cryptographic primitive")
        claims = json.loads(_b64url_decode(claims_b64))
        now = self._now()
        if now > datetime.fromtimestamp(int(claims.get("exp", 0)), timezone.utc) + CLOCK_LEEWAY:
            raise TokenError("service account token has expired")
        if now < datetime.fromtimestamp(int(claims.get("nbf", 0)), timezone.utc) - CLOCK_LEEWAY:
            raise TokenError("service account token is not valid yet")
        token_audiences = list(claims.get("aud") or [])
        if not set(token_audiences) & set(audiences):
            raise TokenError(f"token audiences {go_quote_list(token_audiences)} is invalid for the target "
                             f"audiences {go_quote_list(list(audiences))}")
        private = claims.get("kubernetes.io") or {}
        namespace = str(private.get("namespace", ""))
        account = private.get("serviceaccount") or {}
        name, uid = str(account.get("name", "")), str(account.get("uid", ""))
        if claims.get("sub") != service_account_username(namespace, name):
            raise TokenError("sub claim does not match the service account")
        if not self._sa_exists(namespace, name):
            raise TokenError(f'serviceaccounts "{name}" not found')
        if uid and self._sa_uid is not None:
            live_uid = self._sa_uid(namespace, name)
            if live_uid != uid:
                raise TokenError(f"service account UID ({live_uid}) does not match claim ({uid})")
        extra = {CREDENTIAL_ID_KEY: [f"JTI={claims['jti']}"]} if claims.get("jti") else {}
        return UserInfo(username=service_account_username(namespace, name), uid=uid,
                        groups=service_account_groups(namespace), extra=extra)

    # -- issuing tokens -----------------------------------------------------------
    def issue_token(self, namespace: str, name: str, audiences: list[str], expiration_seconds: int,
                    now: datetime) -> str:
        """A signed service-account JWT for ``namespace/name``."""
        issued = int(now.timestamp())
        account: dict[str, str] = {"name": name}
        uid = self._sa_uid(namespace, name) if self._sa_uid is not None else None
        if uid:
            account["uid"] = uid
        claims = {
            "aud": list(audiences),
            "exp": issued + expiration_seconds,
            "iat": issued,
            "iss": self.issuer,
            "jti": str(uuid.uuid4()),
            "kubernetes.io": {"namespace": namespace, "serviceaccount": account},
            "nbf": issued,
            "sub": service_account_username(namespace, name),
        }
        signing_input = f"{_b64url(_json_bytes({'alg': 'HS256', 'kid': self._kid}))}.{_b64url(_json_bytes(claims))}"
        signature = hmac.new(self._key, signing_input.encode("ascii"), hashlib.sha256).digest()
        return f"{signing_input}.{_b64url(signature)}"

    def issue_token_request(self, namespace: str, sa_name: str, spec: dict[str, Any],
                            now: datetime) -> dict[str, Any]:
        """The response body of ``POST .../serviceaccounts/{sa_name}/token`` (a TokenRequest).

        Applies the v1 defaults (``expirationSeconds`` 3600, audiences = the API
        audiences) and validation (at least 10 minutes, at most 2^32 seconds);
        raises 404 when the ServiceAccount does not exist.
        """
        seconds = spec.get("expirationSeconds", DEFAULT_EXPIRATION_SECONDS)
        if seconds is None:
            seconds = DEFAULT_EXPIRATION_SECONDS
        if not isinstance(seconds, int) or isinstance(seconds, bool):
            raise bad_request('TokenRequest in version "v1" cannot be handled as a TokenRequest: json: cannot '
                              f"unmarshal {_json_type(seconds)} into Go struct field "
                              "TokenRequestSpec.spec.expirationSeconds of type int64")
        problems: list[FieldError] = []
        if seconds < MIN_EXPIRATION_SECONDS:
            problems.append(FieldError("spec.expirationSeconds", "FieldValueInvalid",
                                       "may not specify a duration less than 10 minutes", seconds))
        if seconds > MAX_EXPIRATION_SECONDS:
            problems.append(FieldError("spec.expirationSeconds", "FieldValueInvalid",
                                       "may not specify a duration larger than 2^32 seconds", seconds))
        if problems:
            # kube-apiserver validates before it names the request: the message says TokenRequest "".
            raise invalid("TokenRequest", "authentication.k8s.io", "", problems)
        if not self._sa_exists(namespace, sa_name):
            raise not_found("serviceaccounts", "", sa_name)
        audiences = list(spec.get("audiences") or self.api_audiences)
        token = self.issue_token(namespace, sa_name, audiences, seconds, now)
        return {
            "kind": "TokenRequest",
            "apiVersion": "authentication.k8s.io/v1",
            "metadata": {"name": sa_name, "namespace": namespace, "creationTimestamp": clock.rfc3339(now)},
            "spec": {"audiences": audiences, "expirationSeconds": seconds,
                     "boundObjectRef": spec.get("boundObjectRef")},
            "status": {"token": token,
                       "expirationTimestamp": clock.rfc3339(now + timedelta(seconds=seconds))},
        }


def bearer_token(authorization_header: str | None) -> str | None:
    """The token of ``Authorization: Bearer <token>``; None when there is none to check.

    As in the apiserver's bearer-token authenticator, other schemes and an
    empty token mean "no credentials here" rather than "bad credentials".
    """
    if not authorization_header:
        return None
    parts = authorization_header.strip().split(" ", 2)
    if len(parts) < 2 or parts[0].lower() != "bearer" or not parts[1]:
        return None
    return parts[1]


def go_quote_list(values: list[str]) -> str:
    """Go's ``%q`` of a ``[]string`` (``["a" "b"]``), as Kubernetes messages print lists."""
    return "[" + " ".join(json.dumps(v, ensure_ascii=False) for v in values) + "]"


def _json_type(value: Any) -> str:
    """How Go's JSON decoder names the type of a value it cannot unmarshal."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, str):
        return "string"
    if isinstance(value, float):
        return "number " + json.dumps(value)
    if isinstance(value, list):
        return "array"
    return "object"
