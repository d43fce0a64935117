"""The Node authorization mode and the NodeRestriction admission plugin: a kubelet may
read and write only what the pods bound to its node need."""
