"""The pod network across nodes: what flannel does, from Node objects only.

`kyb pod-network` runs on every node (in its network namespace under `kyb up`),
watches the Nodes and routes to every other node's spec.podCIDR by itself:
:mod:`.peers` reads the Nodes, :mod:`.backends` installs the routes (host-gw or
VXLAN), :mod:`.agent` keeps them in step with the Nodes and exempts pod-to-pod
traffic from masquerading.
"""
