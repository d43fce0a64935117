"""The in-flight limit: kube's classes (read-only, mutating), its exemptions, 0 = off."""

from __future__ import annotations

import contextlib

import pytest

from kybernetes.apiserver.authn import User
from kybernetes.apiserver.authz.attributes import Attributes
from kybernetes.apiserver.inflight import InflightLimit, TooManyRequests

ALICE = User("alice", groups=("system:authenticated",))
ADMIN = User("admin", groups=("system:masters", "system:authenticated"))


def attrs(verb: str, *, user: User = ALICE, subresource: str = "") -> Attributes:
    return Attributes(user, verb, True, resource="pods", subresource=subresource,
                      namespace="default", name="p" if verb != "list" else "")


def test_each_class_has_its_own_limit() -> None:
    limit = InflightLimit(1, 1)
    with limit.admit(attrs("get")), limit.admit(attrs("create")):
        with pytest.raises(TooManyRequests), limit.admit(attrs("list")):
            pass
        with pytest.raises(TooManyRequests), limit.admit(attrs("patch")):
            pass
    with limit.admit(attrs("list")), limit.admit(attrs("delete")):
        pass  # released on exit


def test_long_running_requests_and_masters_are_not_limited() -> None:
    limit = InflightLimit(1, 1)
    with contextlib.ExitStack() as held:
        held.enter_context(limit.admit(attrs("get")))
        held.enter_context(limit.admit(attrs("create")))
        for long in (attrs("watch"), attrs("get", subresource="log"),
                     attrs("create", subresource="exec"), attrs("get", subresource="proxy"),
                     attrs("get", user=ADMIN), attrs("update", user=ADMIN)):
            with limit.admit(long):
                pass
    assert limit.inflight == {False: 0, True: 0}


def test_zero_disables_a_class() -> None:
    limit = InflightLimit(0, 1)
    with contextlib.ExitStack() as held:
        for _ in range(1000):
            held.enter_context(limit.admit(attrs("get")))
        held.enter_context(limit.admit(attrs("create")))
        with pytest.raises(TooManyRequests), limit.admit(attrs("create")):
            pass


def test_a_failing_request_gives_its_slot_back() -> None:
    limit = InflightLimit(1, 1)
    with pytest.raises(ValueError), limit.admit(attrs("create")):
        raise ValueError
    with limit.admit(attrs("create")):
        pass
