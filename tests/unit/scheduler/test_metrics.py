"""Metrics render in the Prometheus text format with cumulative buckets."""

from kybernetes.scheduler.metrics import Metrics


def test_histograms_counters_and_gauges_render():
    metrics = Metrics(lambda: {"active": 2, "backoff": 0, "unschedulable": 1})
    metrics.attempt("scheduled", "default-scheduler", 0.003)
    metrics.attempt("scheduled", "default-scheduler", 100.0)
    metrics.e2e.observe(0.001, result="scheduled", profile="default-scheduler")
    text = metrics.render()
    assert 'scheduler_schedule_attempts_total{profile="default-scheduler",result="scheduled"} 2' \
        in text
    prefix = 'scheduler_scheduling_attempt_duration_seconds_bucket{profile="default-scheduler",' \
             'result="scheduled",le='
    assert prefix + '"0.002"} 0' in text
    assert prefix + '"0.004"} 1' in text
    assert prefix + '"16.384"} 1' in text
    assert prefix + '"+Inf"} 2' in text
    assert 'scheduler_e2e_scheduling_duration_seconds_bucket{profile="default-scheduler",' \
           'result="scheduled",le="0.001"} 1' in text
    assert 'scheduler_pending_pods{queue="unschedulable"} 1' in text
