"""NetworkPolicy defaults and validation, with Kubernetes' paths and wording."""

import copy

from kybernetes.api import resources
from tests.unit.api.test_validation import causes, defaulted

POLICY = {"metadata": {"name": "np", "namespace": "default"},
          "spec": {"podSelector": {"matchLabels": {"app": "db"}},
                   "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "web"}}}],
                                "ports": [{"port": 5432}]}]}}


def _policy(**spec):
    policy = copy.deepcopy(POLICY)
    policy["spec"].update(spec)
    return policy


def test_defaults_policy_types_and_protocols():
    spec = defaulted(resources.NETWORK_POLICIES, POLICY)["spec"]
    assert spec["policyTypes"] == ["Ingress"]
    assert spec["ingress"][0]["ports"] == [{"port": 5432, "protocol": "TCP"}]
    spec = defaulted(resources.NETWORK_POLICIES, _policy(egress=[{}]))["spec"]
    assert spec["policyTypes"] == ["Ingress", "Egress"]
    assert causes(resources.NETWORK_POLICIES, POLICY) == {}


def test_bad_peers_ports_and_blocks():
    egress = [{"to": [{}, {"ipBlock": {"cidr": "10.0.0.0/8", "except": ["11.0.0.0/16",
                                                                      "10.1.0.0/16"]},
                           "podSelector": {}},
                      {"ipBlock": {"cidr": "10.0.0.300/8"}}],
               "ports": [{"port": "http", "endPort": 90}, {"port": 80, "endPort": 70},
                         {"protocol": "ICMP"}, {"port": 70000}]}]
    found = causes(resources.NETWORK_POLICIES, _policy(egress=egress,
                                                        policyTypes=["Egress", "Sideways"]))
    to, ports = "spec.egress[0].to", "spec.egress[0].ports"
    assert found[(f"{to}[0]", "FieldValueRequired")] == "Required value: must specify a peer"
    assert found[(f"{to}[1]", "FieldValueForbidden")] == \
        "Forbidden: may not specify both ipBlock and another peer"
    assert found[(f"{to}[1].ipBlock.except[0]", "FieldValueInvalid")] == \
        'Invalid value: "11.0.0.0/16": must be a strict subset of `cidr`'
    assert (f"{to}[1].ipBlock.except[1]", "FieldValueInvalid") not in found
    assert found[(f"{to}[2].ipBlock.cidr", "FieldValueInvalid")] == \
        'Invalid value: "10.0.0.300/8": must be a valid CIDR value, (e.g. 10.9.8.0/24 or ' \
        '2001:db8::/64)'
    assert found[(f"{ports}[0].endPort", "FieldValueInvalid")] == \
        "Invalid value: 90: may not be specified when `port` is non-numeric"
    assert found[(f"{ports}[1].endPort", "FieldValueInvalid")] == \
        "Invalid value: 80: must be greater than or equal to `port`"
    assert found[(f"{ports}[2].protocol", "FieldValueNotSupported")] == \
        'Unsupported value: "ICMP": supported values: "TCP", "UDP", "SCTP"'
    assert found[(f"{ports}[3].port", "FieldValueInvalid")] == \
        "Invalid value: 70000: must be between 1 and 65535, inclusive"
    assert found[("spec.policyTypes[1]", "FieldValueNotSupported")] == \
        'Unsupported value: "Sideways": supported values: "Ingress", "Egress"'
