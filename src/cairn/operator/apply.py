"""Applying desired objects the way `kubectl apply` does on the client side: the last applied
object is kept in an annotation, and a JSON merge patch from it to the desired object is sent, so a
field the operator stops setting (the restore env, the DR label) is removed, while fields others set
(a Service's clusterIP, status) are kept."""

from __future__ import annotations

import json
from typing import Any

LAST_APPLIED = "cairn.io/last-applied"
# Fields kept out of the annotation, which anyone who may read the object's metadata sees: a
# Secret's values are compared with the live object's instead.
UNRECORDED = {"Secret": ("data", "stringData")}


def merge_patch(old: Any, new: Any) -> Any:
    """The RFC 7386 merge patch that turns `old` into `new` (None: nothing to change). Lists are
    replaced whole; keys that `new` drops are set to null."""
    if not isinstance(old, dict) or not isinstance(new, dict):
        return None if old == new else new
    patch: dict[str, Any] = {}
    for key in old.keys() - new.keys():
        patch[key] = None
    for key, value in new.items():
        if key not in old:
            patch[key] = value
        else:
            sub = merge_patch(old[key], value)
            if sub is not None or (old[key] is not None and value is None):
                patch[key] = sub
    return patch or None


def with_last_applied(obj: dict[str, Any]) -> dict[str, Any]:
    """`obj` carrying itself (without the annotation, nor a Secret's values) in the last-applied annotation."""
    annotations = dict(obj["metadata"].get("annotations") or {})
    recorded = {k: v for k, v in obj.items() if k not in UNRECORDED.get(str(obj.get("kind")), ())}
    annotations[LAST_APPLIED] = json.dumps(recorded, sort_keys=True, separators=(",", ":"))
    return {**obj, "metadata": {**obj["metadata"], "annotations": annotations}}


def apply_patch(live: dict[str, Any], desired: dict[str, Any]) -> dict[str, Any] | None:
    """The merge patch to send for `desired` given the `live` object (None when it is up to date)."""
    annotation = ((live.get("metadata") or {}).get("annotations") or {}).get(LAST_APPLIED)
    try:
        last = json.loads(annotation) if annotation else {}
    except ValueError:
        last = {}
    if last:
        last = with_last_applied(last)
        for key in UNRECORDED.get(str(desired.get("kind")), ()):
            if key in live:
                last[key] = live[key]
    patch = merge_patch(last, with_last_applied(desired))
    if not isinstance(patch, dict):
        return None
    return patch


def resource_path(api_version: str, kind: str, namespace: str, name: str | None = None) -> str:
    """The REST path of a namespaced built-in object (only the kinds the operator makes or reads)."""
    plural = {"StatefulSet": "statefulsets", "Service": "services", "ConfigMap": "configmaps",
              "PodDisruptionBudget": "poddisruptionbudgets", "Pod": "pods", "Secret": "secrets",
              "Event": "events"}[kind]
    prefix = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
    path = f"{prefix}/namespaces/{namespace}/{plural}"
    return f"{path}/{name}" if name else path
