"""The configuration file: defaults, enabling/disabling/weights, profiles, errors."""

import pytest

from kybernetes.scheduler.config import ConfigError, load_config, parse_config


def _names(entries):
    return [n for n, _ in entries]


def test_the_default_profile():
    config = parse_config({})
    (profile,) = config.profiles
    assert profile.scheduler_name == "default-scheduler"
    assert _names(profile.plugins["filter"]) == [
        "NodeUnschedulable", "NodeName", "TaintToleration", "NodeReady", "NodeAffinity",
        "NodePorts", "NodeResourcesFit", "VolumeBinding", "PodTopologySpread",
        "InterPodAffinity"]
    assert dict(profile.plugins["score"]) == {
        "TaintToleration": 3, "NodeAffinity": 2, "NodeResourcesFit": 1,
        "PodTopologySpread": 2, "InterPodAffinity": 2, "NodeResourcesBalancedAllocation": 1}
    # VolumeBinding's PreBind (naming the node on WaitForFirstConsumer claims) is a bind
    # plugin here that skips to DefaultBinder once the claims are bound.
    assert _names(profile.plugins["bind"]) == ["VolumeBinding", "DefaultBinder"]


def test_disable_enable_and_reweigh():
    config = parse_config({"profiles": [{"schedulerName": "custom", "plugins": {
        "multiPoint": {"disabled": [{"name": "TaintToleration"}]},
        "filter": {"disabled": [{"name": "NodePorts"}]},
        "score": {"disabled": [{"name": "*"}],
                  "enabled": [{"name": "NodeResourcesFit", "weight": 7}]}}}]})
    plugins = config.profiles[0].plugins
    assert "TaintToleration" not in _names(plugins["filter"])
    assert "NodePorts" not in _names(plugins["filter"])
    assert "NodePorts" not in _names(plugins["preFilter"])
    assert plugins["score"] == [("NodeResourcesFit", 7)]
    assert _names(plugins["preScore"]) == []


def test_several_profiles(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text("apiVersion: kubescheduler.config.k8s.io/v1\n"
                    "kind: KubeSchedulerConfiguration\n"
                    "percentageOfNodesToScore: 30\n"
                    "profiles:\n- schedulerName: default-scheduler\n"
                    "- schedulerName: packer\n"
                    "  pluginConfig:\n  - name: NodeResourcesFit\n"
                    "    args: {scoringStrategy: {type: MostAllocated}}\n")
    config = load_config(path)
    assert [p.scheduler_name for p in config.profiles] == ["default-scheduler", "packer"]
    assert config.percentage_of_nodes_to_score == 30
    assert config.profiles[1].args["NodeResourcesFit"]["scoringStrategy"]["type"] == \
        "MostAllocated"


@pytest.mark.parametrize(("doc", "message"), [
    ({"profiles": [{"plugins": {"score": {"enabled": [{"name": "Nope"}]}}}]},
     'profiles[0].plugins.score.enabled[0].name: Invalid value: "Nope": unknown plugin'),
    ({"profiles": [{"plugins": {"filter": {"enabled": [{"name": "DefaultBinder"}]}}}]},
     "plugin does not implement filter"),
    ({"profiles": [{"plugins": {"bind": {"disabled": [{"name": "*"}]}}}]},
     "at least one bind plugin"),
    ({"profiles": [{"schedulerName": "a"}, {"schedulerName": "a"}]},
     'profiles[1].schedulerName: Duplicate value: "a"'),
    ({"profiles": [{"plugins": {"score": {"enabled": [{"name": "NodeAffinity",
                                                       "weight": -1}]}}}]},
     "weight: Invalid value: -1"),
    ({"profiles": [{"plugins": {"sort": {}}}]}, 'Invalid value: "sort": unknown extension'),
    ({"percentageOfNodesToScore": 101}, "percentageOfNodesToScore: Invalid value: 101"),
    ({"apiVersion": "v2"}, 'apiVersion: Unsupported value: "v2"'),
    ({"profile": []}, 'unknown field "profile"'),
])
def test_mistakes_name_the_field(doc, message):
    with pytest.raises(ConfigError, match=None) as info:
        parse_config(doc)
    assert message in str(info.value)


def test_unreadable_or_invalid_files(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("profiles: [\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)
