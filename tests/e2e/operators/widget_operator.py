"""A small operator written with kopf, as users write them: on start it registers its
CRD; for every Widget it creates a ConfigMap the Widget owns and reports it in the
Widget's status. Run with `kopf run --standalone -A widget_operator.py`."""

from __future__ import annotations

from typing import Any

import kopf
import kubernetes

CRD: dict[str, Any] = {
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    "metadata": {"name": "widgets.demo.kyb.io"},
    "spec": {
        "group": "demo.kyb.io", "scope": "Namespaced",
        "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
        "versions": [{
            "name": "v1", "served": True, "storage": True,
            "subresources": {"status": {}},
            "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                "spec": {"type": "object",
                         "properties": {"colour": {"type": "string"}}},
                "status": {"type": "object",
                           "x-kubernetes-preserve-unknown-fields": True}}}}}],
    },
}


@kopf.on.startup()
def register_crd(logger: kopf.Logger, **_: Any) -> None:
    kubernetes.config.load_kube_config()
    try:
        kubernetes.client.ApiextensionsV1Api().create_custom_resource_definition(CRD)
        logger.info("registered the Widget CRD")
    except kubernetes.client.ApiException as e:
        if e.status != 409:
            raise


@kopf.on.create("demo.kyb.io", "v1", "widgets")
def create_config(spec: kopf.Spec, name: str, namespace: str | None, patch: kopf.Patch,
                  **_: Any) -> dict[str, str]:
    config = {"apiVersion": "v1", "kind": "ConfigMap",
              "metadata": {"name": f"{name}-config"},
              "data": {"colour": str(spec.get("colour", ""))}}
    kopf.adopt(config)
    kubernetes.client.CoreV1Api().create_namespaced_config_map(namespace, config)
    patch.status["configMap"] = f"{name}-config"
    return {"created": f"{name}-config"}
