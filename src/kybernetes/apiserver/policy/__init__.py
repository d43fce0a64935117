"""ValidatingAdmissionPolicy: CEL validations run inside the API server (Kubernetes 1.30+).

compiled.py   a policy's programs, compiled once per generation, and their evaluation
matching.py   matchConstraints / a binding's matchResources, and the params a binding names
admission.py  PolicyAdmission: the validating admission plugin (decisions → deny, warn)
"""

from kybernetes.apiserver.policy.admission import ParamStore, PolicyAdmission, PolicySource

__all__ = ["ParamStore", "PolicyAdmission", "PolicySource"]
