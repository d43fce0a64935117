"""The detached JWS matches Kubernetes' own vectors (cluster-bootstrap/token/jws/jws_test.go)."""

from __future__ import annotations

import pytest

from kybernetes.api.bootstrap_jws import detached_signature, signature_is_valid

CONTENT = "Hello from the other side. I must have called a thousand times."
SECRET = "my voice is my passcode"
ID = "joshua"
HEADER = "eyJhbGciOiJIUzI1NiIsImtpZCI6Impvc2h1YSJ9"


@pytest.mark.parametrize(("content", "secret", "mac"), [
    (CONTENT, SECRET, "VShe2taLd-YTrmWuRkcL_8QTNDHYxQIEBsAYYiIj1_8"),
    ("", SECRET, "7Ui1ALizW4jXphVUB7xUqC9vLYLL9RZeOFfVLoB7Tgk"),
    (CONTENT, "", "UfkqvDGiIFxrMnFseDj9LYJOLNrvjW8aHhF71mvvAs8"),
])
def test_kubernetes_vectors(content: str, secret: str, mac: str) -> None:
    assert detached_signature(content, ID, secret) == f"{HEADER}..{mac}"


def test_validity() -> None:
    sig = f"{HEADER}..VShe2taLd-YTrmWuRkcL_8QTNDHYxQIEBsAYYiIj1_8"
    assert signature_is_valid(sig, CONTENT, ID, SECRET)
    assert not signature_is_valid(sig + "foo", CONTENT, ID, SECRET)
    assert not signature_is_valid(sig, CONTENT + " ", ID, SECRET)
    assert not signature_is_valid(sig, CONTENT, "joshub", SECRET)
