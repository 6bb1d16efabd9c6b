"""A small synchronous Kubernetes REST client on the official client's configuration (in-cluster,
a kubeconfig, or a plain URL for tests): JSON in, JSON out, merge patches."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from cairn.errors import KubernetesApiError

MERGE_PATCH = "application/merge-patch+json"


def load_configuration(api_server: str | None, kubeconfig: str | None) -> client.Configuration:
    """Where the API server is: `api_server` (no auth, for tests), else a kubeconfig, else in-cluster."""
    if api_server:
        configuration = client.Configuration()
        configuration.host = api_server.rstrip("/")
        return configuration
    configuration = client.Configuration()
    if kubeconfig:
        config.load_kube_config(config_file=kubeconfig, client_configuration=configuration)  # type: ignore[no-untyped-call]
    else:
        try:
            config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
        except config.ConfigException:
            config.load_kube_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
    return configuration


class Kube:
    """GET / POST / PATCH / DELETE on REST paths, answering dicts; None for a 404 on GET."""

    def __init__(self, configuration: client.Configuration) -> None:
        self.api = client.ApiClient(configuration)

    def _call(self, method: str, path: str, body: Any = None, content_type: str = "application/json",
              query: dict[str, str] | None = None) -> dict[str, Any]:
        if query:
            path = f"{path}?{urlencode(query)}"
        headers = {"Accept": "application/json", "Content-Type": content_type}
        method_, url, headers_, body_, post = self.api.param_serialize(
            method, path, header_params=headers, body=body, auth_settings=["BearerToken"])
        try:
            response = self.api.call_api(method_, url, header_params=headers_, body=body_, post_params=post,
                                         _request_timeout=30)
            data = response.read()  # type: ignore[no-untyped-call]
        except ApiException as exc:
            raise KubernetesApiError(exc.status or 0, _reason(exc.body) or str(exc.reason)) from None
        if response.status >= 400:
            raise KubernetesApiError(response.status, _reason(data))
        parsed = json.loads(data) if data else {}
        return parsed if isinstance(parsed, dict) else {}

    def get(self, path: str, query: dict[str, str] | None = None) -> dict[str, Any] | None:
        """The object at `path`, None when it does not exist."""
        try:
            return self._call("GET", path, query=query)
        except KubernetesApiError as exc:
            if exc.status == 404:
                return None
            raise

    def create(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST `body` to the collection at `path`."""
        return self._call("POST", path, body)

    def delete(self, path: str) -> None:
        """DELETE the object at `path` (gone already is fine)."""
        try:
            self._call("DELETE", path)
        except KubernetesApiError as exc:
            if exc.status != 404:
                raise

    def merge_patch(self, path: str, patch: dict[str, Any]) -> dict[str, Any]:
        """PATCH with a JSON merge patch."""
        return self._call("PATCH", path, patch, MERGE_PATCH)


def _reason(data: Any) -> str:
    try:
        parsed = json.loads(data) if data else {}
    except (ValueError, TypeError):
        return str(data)[:200]
    return str(parsed.get("message", "")) if isinstance(parsed, dict) else ""
