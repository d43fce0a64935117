"""API Priority and Fairness, in kube's spirit: requests are classified into kube's
suggested priority levels, each with its own share of the server's concurrency and
fair queues per user, so one client's flood cannot starve the others (above all the
kubelets' heartbeats and the leader-election leases)."""

from kybernetes.apiserver.flowcontrol.filter import PriorityAndFairness

__all__ = ["PriorityAndFairness"]
