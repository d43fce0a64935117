"""Pure parts of the kubelet's stats and the metrics API: readings, rates, formats."""

from __future__ import annotations

from pathlib import Path

from kybernetes.apiserver.metrics_api import (
    cpu_quantity,
    memory_quantity,
    node_metrics,
    pod_metrics,
    pods_by_uid,
)
from kybernetes.kubelet.stats import (
    ContainerRef,
    CpuRates,
    PodRef,
    SummaryBuilder,
    resource_metrics,
)
from kybernetes.kubelet.usage import (
    Usage,
    boot_time,
    cgroup_usage,
    cgroup_v2,
    node_cpu_ns,
    node_memory,
    proc_cgroups,
)

STAT = "cpu  100 5 50 1000 20 1 2 3 0 0\ncpu0 1 2 3 4\nbtime 1700000000\n"
MEMINFO = ("MemTotal:       8000 kB\nMemFree:        2000 kB\nMemAvailable:   5000 kB\n"
           "Inactive(file):  1000 kB\n")


def test_node_figures_from_proc() -> None:
    # user+nice+system+irq+softirq+steal: idle (1000) and iowait (20) are not busy
    assert node_cpu_ns(STAT) == 161 * 10_000_000
    assert node_memory(MEMINFO) == (5000 * 1024, 6000 * 1024, 5000 * 1024)
    assert boot_time(STAT) == 1_700_000_000


def test_cgroup_v2_working_set_leaves_out_inactive_file(tmp_path: Path) -> None:
    (tmp_path / "cpu.stat").write_text("usage_usec 2500\nuser_usec 2000\n")
    (tmp_path / "memory.current").write_text("1048576\n")
    (tmp_path / "memory.stat").write_text("anon 4096\ninactive_file 8192\n")
    assert cgroup_v2(tmp_path) == Usage(2_500_000, 1048576 - 8192, 1048576, 4096)
    assert cgroup_v2(tmp_path / "gone") is None


def test_a_docker_containers_groups_from_proc_pid_cgroup(tmp_path: Path) -> None:
    # cgroup v1 (cgroupfs driver), cpu and cpuacct mounted jointly as Debian does
    groups = proc_cgroups("5:memory:/docker/abc\n2:cpu,cpuacct:/docker/abc\n0::/docker/abc\n")
    memory = tmp_path / "memory" / "docker" / "abc"
    cpu = tmp_path / "cpu,cpuacct" / "docker" / "abc"
    for d in (memory, cpu):
        d.mkdir(parents=True)
    (memory / "memory.usage_in_bytes").write_text("65536\n")
    (memory / "memory.stat").write_text("total_inactive_file 4096\ntotal_rss 8192\n")
    (cpu / "cpuacct.usage").write_text("123456789\n")
    assert cgroup_usage(groups, tmp_path) == Usage(123456789, 61440, 65536, 8192)
    # cgroup v2 (systemd driver): the unified group
    unified = tmp_path / "v2" / "system.slice" / "docker-abc.scope"
    unified.mkdir(parents=True)
    (unified / "cpu.stat").write_text("usage_usec 7\n")
    (unified / "memory.current").write_text("100\n")
    (unified / "memory.stat").write_text("anon 50\n")
    v2 = proc_cgroups("0::/system.slice/docker-abc.scope\n")
    assert cgroup_usage(v2, tmp_path / "v2") == Usage(7000, 100, 100, 50)
    assert cgroup_usage(proc_cgroups("5:memory:/docker/gone\n"), tmp_path) is None


def test_cpu_rate_from_two_readings() -> None:
    rates = CpuRates()
    # first reading: the average since the container started
    assert rates.observe("c", 110.0, 5 * 10**9, since=100.0) == 500_000_000
    assert rates.observe("c", 120.0, 15 * 10**9, since=100.0) == 10**9
    assert rates.observe("c", 120.5, 99 * 10**9, since=100.0) == 10**9  # too close: kept
    assert rates.observe("d", 1.0, 7, since=None) is None
    rates.forget(["d"])
    assert rates.observe("c", 130.0, 0, since=None) is None  # forgotten, no start


def test_quantities_as_metrics_server_writes_them() -> None:
    assert cpu_quantity(1_234_567) == "1234567n"
    assert cpu_quantity(15_000_000) == "15m"
    assert cpu_quantity(2 * 10**9) == "2"
    assert cpu_quantity(0) == "0"
    assert memory_quantity(4096 * 3) == "12Ki"
    assert memory_quantity(64 * 1024 * 1024) == "64Mi"


class _Runtime:
    def usage(self, container_ids: list[str]) -> dict[str, Usage]:
        return {cid: Usage(10**9, 4096 * 10, 4096 * 12) for cid in container_ids}

    def node_usage(self, pods: Usage) -> Usage:
        return Usage(pods.cpu_ns + 10**9, 2**30, 2**30)


def test_summary_and_its_prometheus_text_and_the_metrics_objects() -> None:
    builder = SummaryBuilder("n1", _Runtime(), start_time=1000.0)
    pod = PodRef("p", "ns", "uid-1", "2026-01-01T00:00:00Z",
                 (ContainerRef("id-a", "a", 1000.0), ContainerRef("id-b", "b", 1000.0)))
    summary = builder.summary([pod], memory_capacity=2**31, now=1010.0)
    node, (entry,) = summary["node"], summary["pods"]
    assert node["nodeName"] == "n1" and node["memory"]["availableBytes"] == 2**30
    assert [c["name"] for c in entry["containers"]] == ["a", "b"]
    assert entry["containers"][0]["cpu"]["usageNanoCores"] == 100_000_000  # 1 s over 10 s
    assert entry["cpu"]["usageNanoCores"] == 200_000_000
    assert entry["memory"]["workingSetBytes"] == 2 * 4096 * 10
    text = resource_metrics(summary)
    assert 'container_cpu_usage_seconds_total{container="a",namespace="ns",pod="p"} 1.0 ' \
        in text
    assert "# TYPE pod_memory_working_set_bytes gauge" in text
    assert "\nnode_memory_working_set_bytes 1073741824 " in text
    pod_obj = {"metadata": {"name": "p", "namespace": "ns", "uid": "uid-1",
                            "labels": {"app": "x"}}}
    metrics = pod_metrics(pod_obj, pods_by_uid([summary])["uid-1"], "now")
    assert metrics is not None
    assert metrics["metadata"] == {"name": "p", "namespace": "ns", "creationTimestamp": "now",
                                   "labels": {"app": "x"}}
    assert metrics["containers"][0] == {"name": "a", "usage": {"cpu": "100m",
                                                               "memory": "40Ki"}}
    later = builder.summary([pod], now=1020.0)  # the node's rate needs a second reading
    nm = node_metrics({"metadata": {"name": "n1"}}, later, "now")
    assert nm is not None and nm["usage"] == {"cpu": "0", "memory": "1Gi"}


class _StampedRuntime:
    """A synthetic runtime: 200 millicores since t=1000, its readings stamped."""

    def __init__(self) -> None:
        self.now = 1000.0

    def usage(self, container_ids: list[str]) -> dict[str, Usage]:
        cpu_ns = int((self.now - 1000.0) * 200_000_000)
        return {cid: Usage(cpu_ns, 4096, 4096, at=self.now) for cid in container_ids}


def test_a_runtime_stamped_reading_gives_the_exact_rate_whenever_the_summary_is_taken() -> None:
    runtime = _StampedRuntime()
    builder = SummaryBuilder("n1", runtime, start_time=1000.0)
    pod = PodRef("p", "ns", "uid-1", "2026-01-01T00:00:00Z",
                 (ContainerRef("id-a", "a", 1000.0),))
    rates = []
    for reading_at, summary_at in ((1001.0, 1000.9), (1011.0, 1010.5)):  # stamped early
        runtime.now = reading_at
        summary = builder.summary([pod], now=summary_at)
        rates.append(summary["pods"][0]["containers"][0]["cpu"]["usageNanoCores"])
    assert rates == [200_000_000, 200_000_000]
