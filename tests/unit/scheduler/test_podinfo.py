"""Pod requests as Kubernetes computes them: init containers, sidecars, overhead."""

from kybernetes.scheduler.podinfo import pod_info, pod_requests


def _c(cpu: str | None = None, memory: str | None = None, **extra):
    reqs = {k: v for k, v in (("cpu", cpu), ("memory", memory)) if v}
    return {"name": "x", "resources": {"requests": reqs}, **extra}


def test_requests_are_the_sum_of_app_containers():
    spec = {"containers": [_c("100m", "1Mi"), _c("250m", "2Mi")]}
    assert pod_requests(spec) == {"cpu": 350, "memory": 3 * 1024 * 1024}


def test_a_larger_init_container_sets_the_request():
    spec = {"containers": [_c("100m")], "initContainers": [_c("1"), _c("500m")]}
    assert pod_requests(spec)["cpu"] == 1000


def test_sidecars_add_to_the_sum_and_to_later_init_containers():
    spec = {"containers": [_c("100m")],
            "initContainers": [_c("200m", restartPolicy="Always"), _c("1")]}
    # app 100m + sidecar 200m = 300m; the init step runs 1 + the sidecar = 1200m.
    assert pod_requests(spec)["cpu"] == 1200


def test_overhead_is_added():
    spec = {"containers": [_c("100m")], "overhead": {"cpu": "50m"}}
    assert pod_requests(spec)["cpu"] == 150


def test_limits_stand_in_for_missing_requests():
    spec = {"containers": [{"name": "x", "resources": {"limits": {"cpu": "2"}}}]}
    assert pod_requests(spec)["cpu"] == 2000


def test_non_zero_requests_default_cpu_and_memory():
    info = pod_info({"metadata": {"name": "p", "namespace": "d"},
                     "spec": {"containers": [{"name": "x"}, _c("300m")]}})
    assert info.requests.zero is False
    assert (info.non_zero_cpu, info.non_zero_memory) == (400, 2 * 200 * 1024 * 1024)


def test_a_pod_without_requests_requests_nothing():
    info = pod_info({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "x"}]}})
    assert info.requests.zero and info.key == "default/p"


def test_a_bad_quantity_is_a_value_error():
    import pytest

    for bad in ("lots", {"x": 1}, True):
        spec = {"containers": [{"name": "x", "resources": {"requests": {"cpu": bad}}}]}
        with pytest.raises(ValueError):
            pod_info({"metadata": {"name": "p"}, "spec": spec})
