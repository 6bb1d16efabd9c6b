"""The StarRocksCluster CRD's schema as the API server applies it, for tests that run without one.

`strict_validator` turns the CRD's openAPIV3Schema into a JSON Schema validator that refuses unknown
fields the way `kubectl apply` with strict field validation does: every object that declares
`properties` (and does not preserve unknown fields) gets `additionalProperties: false`.
`structural_errors` lists what makes a schema non-structural in the API server's sense, so a schema
an emulator would accept but a real API server would refuse is caught here.
"""

from __future__ import annotations

import copy
import functools
from pathlib import Path
from typing import Any

import jsonschema
import yaml

ROOT = Path(__file__).resolve().parent.parent
CRD_PATH = ROOT / "deploy" / "crd" / "starrocks.com_starrocksclusters.yaml"
IGNORED_PATH = ROOT / "deploy" / "crd" / "ignored-fields.txt"

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

# The keys an apiextensions.k8s.io/v1 JSONSchemaProps may carry (besides x-kubernetes-*).
_SCHEMA_KEYS = frozenset({
    "description", "type", "format", "title", "default", "maximum", "exclusiveMaximum", "minimum",
    "exclusiveMinimum", "maxLength", "minLength", "pattern", "maxItems", "minItems", "uniqueItems",
    "multipleOf", "enum", "maxProperties", "minProperties", "required", "items", "allOf", "oneOf", "anyOf",
    "not", "properties", "additionalProperties", "nullable", "example", "externalDocs",
})
_KUBERNETES_EXTENSIONS = frozenset({
    "x-kubernetes-preserve-unknown-fields", "x-kubernetes-embedded-resource", "x-kubernetes-int-or-string",
    "x-kubernetes-list-map-keys", "x-kubernetes-list-type", "x-kubernetes-map-type", "x-kubernetes-validations",
})
_INT_OR_STRING = [{"type": "integer"}, {"type": "string"}]
_TYPES = frozenset({"object", "array", "string", "integer", "number", "boolean"})


def load_yaml_documents(path: Path) -> list[dict[str, Any]]:
    """Every non-empty YAML document of a file."""
    return [doc for doc in yaml.load_all(path.read_text(), Loader=_LOADER) if doc]


@functools.cache
def crd() -> dict[str, Any]:
    """The committed CRD."""
    (document,) = load_yaml_documents(CRD_PATH)
    return document


def open_api_schema() -> dict[str, Any]:
    """The openAPIV3Schema of the CRD's only version."""
    (version,) = crd()["spec"]["versions"]
    schema: dict[str, Any] = version["schema"]["openAPIV3Schema"]
    return schema


def _to_json_schema(node: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in node.items() if not k.startswith("x-kubernetes-") and k != "nullable"}
    if node.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if node.get("nullable") and "type" in out:
        out["type"] = [out["type"], "null"]
    if "properties" in node:
        out["properties"] = {k: _to_json_schema(v) for k, v in node["properties"].items()}
        if not node.get("x-kubernetes-preserve-unknown-fields"):
            out["additionalProperties"] = False
    if isinstance(node.get("additionalProperties"), dict):
        out["additionalProperties"] = _to_json_schema(node["additionalProperties"])
    if isinstance(node.get("items"), dict):
        out["items"] = _to_json_schema(node["items"])
    for key in ("allOf", "anyOf", "oneOf"):
        if key in node:
            out[key] = [_to_json_schema(s) for s in node[key]]
    return out


@functools.cache
def strict_validator() -> jsonschema.protocols.Validator:
    """A validator of whole StarRocksCluster objects: the CRD's schema, unknown fields refused.

    `apiVersion`, `kind` and `metadata` are checked as the API server does before the schema applies."""
    schema = _to_json_schema(copy.deepcopy(open_api_schema()))
    schema["properties"]["metadata"] = {
        "type": "object", "required": ["name"],
        "properties": {"name": {"type": "string", "pattern": r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"},
                       "namespace": {"type": "string"}, "labels": {"type": "object"},
                       "annotations": {"type": "object"}},
    }
    schema["properties"]["apiVersion"] = {"const": "starrocks.com/v1"}
    schema["properties"]["kind"] = {"const": "StarRocksCluster"}
    schema["required"] = ["apiVersion", "kind", "metadata"]
    validator_class = jsonschema.validators.validator_for(schema, default=jsonschema.Draft7Validator)
    return validator_class(schema)


def schema_errors(document: dict[str, Any]) -> list[str]:
    """What strict validation finds wrong with a StarRocksCluster, as 'path: message' lines."""
    return [f"{'.'.join(str(p) for p in error.absolute_path) or '<root>'}: {error.message}"
            for error in strict_validator().iter_errors(document)]


def structural_errors(node: dict[str, Any], path: str = "") -> list[str]:
    """Why a schema is not structural (empty when it is), in the API server's terms: every node has a
    type (or is int-or-string / preserves unknown fields), no unknown keys, no `x-` keys other than
    Kubernetes' own, `properties` and `additionalProperties` never together, and the logical junctors
    (allOf/anyOf/oneOf/not) carry no type, description or default of their own."""
    errors: list[str] = []
    here = path or "<root>"
    for key in node:
        if key.startswith("x-"):
            if key not in _KUBERNETES_EXTENSIONS:
                errors.append(f"{here}: {key} is not allowed")
        elif key not in _SCHEMA_KEYS:
            errors.append(f"{here}: unknown key {key}")
    free = node.get("x-kubernetes-int-or-string") or node.get("x-kubernetes-preserve-unknown-fields")
    if "type" not in node and not free:
        errors.append(f"{here}: type must not be empty")
    elif "type" in node and node["type"] not in _TYPES:
        errors.append(f"{here}: unknown type {node['type']!r}")
    if "properties" in node and "additionalProperties" in node:
        errors.append(f"{here}: properties and additionalProperties are mutually exclusive")
    if node.get("type") == "array" and "items" not in node:
        errors.append(f"{here}: items must be specified")
    for name, child in node.get("properties", {}).items():
        errors += structural_errors(child, f"{path}.{name}")
    if isinstance(node.get("items"), dict):
        errors += structural_errors(node["items"], f"{path}[]")
    if isinstance(node.get("additionalProperties"), dict):
        errors += structural_errors(node["additionalProperties"], f"{path}{{}}")
    for key in ("allOf", "anyOf", "oneOf"):
        if key == "anyOf" and node.get("x-kubernetes-int-or-string") and node.get(key) == _INT_OR_STRING:
            continue  # the one junctor with types the API server allows
        for branch in node.get(key, []):
            errors += _junctor_errors(branch, f"{here}.{key}")
    return errors


def _junctor_errors(node: dict[str, Any], path: str) -> list[str]:
    errors = [f"{path}: {key} is not allowed inside a junctor"
              for key in ("type", "description", "default", "additionalProperties", "nullable") if key in node]
    for name, child in node.get("properties", {}).items():
        errors += _junctor_errors(child, f"{path}.{name}")
    return errors


def ignored_paths() -> list[str]:
    """The paths listed in deploy/crd/ignored-fields.txt."""
    return [line.strip() for line in IGNORED_PATH.read_text().splitlines()
            if line.strip() and not line.startswith("#")]


def schema_at(path: str) -> dict[str, Any]:
    """The schema node of a dot-separated path from the object's root (e.g. spec.starRocksBeSpec)."""
    node = open_api_schema()
    for part in path.split("."):
        node = node["properties"][part]
    return node
