"""Service-account JWTs: what the authority signs and what it refuses."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path

import pytest

from kybernetes.apiserver.serviceaccount.jwt import InvalidToken, looks_like_jwt
from kybernetes.apiserver.serviceaccount.keys import ensure_signing_key
from kybernetes.apiserver.serviceaccount.tokens import ObjectRef, TokenAuthority, TokenSubject

SUBJECT = TokenSubject("ns", ObjectRef("robot", "u-1"), pod=ObjectRef("p", "u-2"))


@pytest.fixture(scope="module")
def authority(tmp_path_factory: pytest.TempPathFactory) -> TokenAuthority:
    return TokenAuthority(ensure_signing_key(tmp_path_factory.mktemp("data")))


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _issue(authority: TokenAuthority, **kw: object) -> str:
    args: dict = {"audiences": list(authority.api_audiences), "expiration_seconds": 600, **kw}
    return authority.issue(SUBJECT, **args)[0]


def test_a_fresh_token_names_its_subject(authority: TokenAuthority) -> None:
    token = _issue(authority)
    assert looks_like_jwt(token) and not looks_like_jwt("static-token")
    assert authority.check(token) == TokenSubject(
        "ns", ObjectRef("robot", "u-1"), pod=ObjectRef("p", "u-2"),
        token_id=authority.check(token).token_id)


def test_the_key_is_made_once(tmp_path: Path) -> None:
    first = ensure_signing_key(tmp_path)
    assert ensure_signing_key(tmp_path).key_id == first.key_id
    assert (tmp_path / "pki" / "sa.key").stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize("why", ["tampered", "alg-none", "expired", "not-yet", "audience"])
def test_invalid_tokens_are_refused(authority: TokenAuthority, why: str) -> None:
    token = _issue(authority)
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    bad = {
        "tampered": f"{header}.{_b64({**claims, 'sub': 'system:serviceaccount:ns:root'})}"
                    f".{signature}",
        "alg-none": f"{_b64({'alg': 'none'})}.{payload}.",
        "expired": _issue(authority, now=time.time() - 700),
        "not-yet": _issue(authority, now=time.time() + 120),
        "audience": _issue(authority, audiences=["someone-else"]),
    }[why]
    with pytest.raises(InvalidToken):
        authority.check(bad)
