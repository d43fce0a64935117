"""`kyb proxy` answers a user's mistake with one line and exit code 2."""

from __future__ import annotations

import pytest

from kybernetes.cli.main import main


@pytest.mark.parametrize(("argv", "message"), [
    (["--kubeconfig", "k", "--bind-address", "nowhere"],
     "--bind-address 'nowhere' is not an IPv4 address"),
    (["--kubeconfig", "k", "--healthz-port", "70000"],
     "--healthz-port must be between 0 and 65535"),
    (["--kubeconfig", "k", "--cluster-cidr", "10.0.0.0/33"], "is not a CIDR"),
    (["--kubeconfig", "/nonexistent/kubeconfig"], "cannot load --kubeconfig"),
    ([], "--kubeconfig is required"),
])
def test_user_mistakes_are_one_line(argv: list[str], message: str,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["proxy", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1, err
