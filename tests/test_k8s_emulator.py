"""The in-memory Kubernetes API the operator's end-to-end tests run on (tests/k8s/emulator.py): each
behaviour of a real API server it adds to kmock, checked with the `kubernetes` client and raw HTTP,
then a small kopf operator run against it from CR creation to garbage collection."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kmock
import pytest
from kubernetes.client import ApiClient, Configuration
from kubernetes.client.api import core_v1_api
from kubernetes.client.exceptions import ApiException

from conftest import wait_until
from k8s.emulator import EmulatorThread

CMS = "/api/v1/namespaces/default/configmaps"
WIDGETS = "/apis/example.cairn.dev/v1/namespaces/default/widgets"
WIDGET_CRD = {
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    "metadata": {"name": "widgets.example.cairn.dev"},
    "spec": {"group": "example.cairn.dev", "scope": "Namespaced",
             "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "shortNames": ["wg"]},
             "versions": [{"name": "v1", "served": True, "storage": True, "subresources": {"status": {}},
                           "schema": {"openAPIV3Schema": {"type": "object",
                                                          "x-kubernetes-preserve-unknown-fields": True}}}]},
}


@pytest.fixture(scope="module")
def api() -> Iterator[EmulatorThread]:
    with EmulatorThread() as running:
        status, _ = running.request("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", WIDGET_CRD)
        assert status == 200
        yield running


@pytest.fixture(scope="module")
def core(api: EmulatorThread) -> core_v1_api.CoreV1Api:
    return core_v1_api.CoreV1Api(ApiClient(Configuration(host=api.url)))


def _cm(name: str, **extra: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, **extra.pop("metadata", {})},
            **extra}


def _create(api: EmulatorThread, path: str, body: dict[str, Any]) -> dict[str, Any]:
    status, answer = api.request("POST", path, body)
    assert status == 200, answer
    return answer


def test_create_fills_in_metadata(api: EmulatorThread, core: core_v1_api.CoreV1Api) -> None:
    before = api.emulator.resource_version
    made = core.create_namespaced_config_map("default", _cm("meta", data={"k": "v"}))
    meta = made.metadata
    assert meta.uid and meta.namespace == "default" and meta.generation == 1 and meta.creation_timestamp
    assert int(meta.resource_version) > before
    assert (made.api_version, made.kind) == ("v1", "ConfigMap")


def test_changes_bump_the_resource_version_and_no_ops_do_not(api: EmulatorThread) -> None:
    made = _create(api, CMS, _cm("noop", data={"k": "v"}))
    status, same = api.request("PATCH", f"{CMS}/noop", {"data": {"k": "v"}}, "application/merge-patch+json")
    assert status == 200 and same["metadata"]["resourceVersion"] == made["metadata"]["resourceVersion"]
    status, changed = api.request("PATCH", f"{CMS}/noop", {"data": {"k": None, "j": "w"}},
                                  "application/merge-patch+json")
    assert changed["data"] == {"j": "w"}
    assert int(changed["metadata"]["resourceVersion"]) > int(made["metadata"]["resourceVersion"])


def test_a_failed_json_patch_test_is_422(api: EmulatorThread) -> None:
    made = _create(api, CMS, _cm("jp"))
    stale = [{"op": "test", "path": "/metadata/resourceVersion", "value": "1"},
             {"op": "add", "path": "/metadata/finalizers", "value": ["x"]}]
    status, answer = api.request("PATCH", f"{CMS}/jp", stale, "application/json-patch+json")
    assert (status, answer["reason"]) == (422, "Invalid")
    fresh = [{"op": "test", "path": "/metadata/resourceVersion", "value": made["metadata"]["resourceVersion"]},
             {"op": "add", "path": "/metadata/finalizers", "value": ["x"]}]
    status, answer = api.request("PATCH", f"{CMS}/jp", fresh, "application/json-patch+json")
    assert status == 200 and answer["metadata"]["finalizers"] == ["x"]
    api.request("PATCH", f"{CMS}/jp", {"metadata": {"finalizers": None}}, "application/merge-patch+json")


def test_namespaces_are_a_resource_and_must_exist(api: EmulatorThread, core: core_v1_api.CoreV1Api) -> None:
    names = {n.metadata.name for n in core.list_namespace().items}
    assert {"default", "kube-system", "kube-public"} <= names
    assert core.read_namespace("default").metadata.name == "default"
    with pytest.raises(ApiException) as missing:
        core.create_namespaced_config_map("nowhere", _cm("x"))
    assert missing.value.status == 404
    core.create_namespace({"metadata": {"name": "team"}})
    assert core.create_namespaced_config_map("team", _cm("x")).metadata.namespace == "team"
    core.delete_namespace("team")
    wait_until(lambda: api.get("v1/configmaps", "team", "x") is None, 10, "the namespace's objects deleted")


def test_replace_with_optimistic_concurrency(core: core_v1_api.CoreV1Api) -> None:
    made = core.create_namespaced_config_map("default", _cm("put", data={"a": "1"}))
    replaced = core.replace_namespaced_config_map("put", "default", _cm(
        "put", metadata={"resourceVersion": made.metadata.resource_version}, data={"b": "2"}))
    assert replaced.data == {"b": "2"} and replaced.metadata.uid == made.metadata.uid
    with pytest.raises(ApiException) as stale:
        core.replace_namespaced_config_map("put", "default", _cm(
            "put", metadata={"resourceVersion": made.metadata.resource_version}, data={"c": "3"}))
    assert stale.value.status == 409 and json.loads(stale.value.body)["reason"] == "Conflict"


def test_status_subresource(api: EmulatorThread) -> None:
    made = _create(api, WIDGETS, {"apiVersion": "example.cairn.dev/v1", "kind": "Widget",
                                  "metadata": {"name": "w1"}, "spec": {"size": 1}, "status": {"phase": "x"}})
    assert "status" not in made  # dropped on create
    status, answer = api.request("PATCH", f"{WIDGETS}/w1/status", {"status": {"phase": "ok"}, "spec": {"size": 9}},
                                 "application/merge-patch+json")
    assert answer["status"] == {"phase": "ok"} and answer["spec"] == {"size": 1}
    assert answer["metadata"]["generation"] == 1  # status changes leave the generation
    status, answer = api.request("PATCH", f"{WIDGETS}/w1", {"status": {"phase": "no"}, "spec": {"size": 2}},
                                 "application/merge-patch+json")
    assert answer["status"] == {"phase": "ok"} and answer["spec"] == {"size": 2}
    assert answer["metadata"]["generation"] == 2


def test_label_and_field_selectors(api: EmulatorThread, core: core_v1_api.CoreV1Api) -> None:
    for name, tier in (("sel-a", "fe"), ("sel-b", "cn"), ("sel-c", "fe")):
        core.create_namespaced_config_map("default", _cm(name, metadata={"labels": {"tier": tier, "sel": "yes"}}))

    def names(**selectors: str) -> list[str]:
        return sorted(c.metadata.name for c in core.list_namespaced_config_map("default", **selectors).items)

    assert names(label_selector="sel,tier=fe") == ["sel-a", "sel-c"]
    assert names(label_selector="sel,tier!=fe") == ["sel-b"]
    assert names(label_selector="sel,tier in (cn, db)") == ["sel-b"]
    assert names(label_selector="sel,tier notin (cn)") == ["sel-a", "sel-c"]
    assert names(label_selector="sel,!tier") == []
    assert names(field_selector="metadata.name=sel-b") == ["sel-b"]
    assert "sel-b" not in names(field_selector="metadata.name!=sel-b")


def test_a_kubeconfig_points_clients_at_it(api: EmulatorThread, tmp_path: Path) -> None:
    from kubernetes import config

    client = config.new_client_from_config(str(api.kubeconfig(tmp_path / "kubeconfig")))
    names = {n.metadata.name for n in core_v1_api.CoreV1Api(client).list_namespace().items}
    assert "kube-system" in names


def test_lists_have_their_kind_and_resource_version(api: EmulatorThread) -> None:
    status, answer = api.request("GET", CMS)
    assert answer["kind"] == "ConfigMapList" and answer["apiVersion"] == "v1"
    assert int(answer["metadata"]["resourceVersion"]) == api.emulator.resource_version


def _watch(api: EmulatorThread, path: str, **params: str) -> list[dict[str, Any]]:
    status, text = api.request("GET", path, params={"watch": "true", **params})
    assert status == 200
    lines = text.splitlines() if isinstance(text, str) else [json.dumps(text)]
    return [json.loads(line) for line in lines if line.strip()]


def test_watch_resumes_from_a_resource_version(api: EmulatorThread) -> None:
    _, listed = api.request("GET", CMS, params={"labelSelector": "w=1"})
    since = listed["metadata"]["resourceVersion"]
    _create(api, CMS, _cm("w-a", metadata={"labels": {"w": "1"}}))
    _create(api, CMS, _cm("w-other"))
    api.request("PATCH", f"{CMS}/w-a", {"data": {"k": "v"}}, "application/merge-patch+json")
    api.request("DELETE", f"{CMS}/w-a")
    # Everything after the list, nothing lost between it and the watch; the stream ends on time.
    events = _watch(api, CMS, resourceVersion=since, labelSelector="w=1", timeoutSeconds="1")
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [
        ("ADDED", "w-a"), ("MODIFIED", "w-a"), ("DELETED", "w-a")]
    # Without a resource version: the current objects as ADDED.
    events = _watch(api, CMS, labelSelector="sel", timeoutSeconds="1")
    assert {e["type"] for e in events} == {"ADDED"} and len(events) == 3


def test_a_watch_from_a_version_older_than_the_log_is_410() -> None:
    with EmulatorThread(event_log_limit=2) as api:
        for n in range(4):
            _create(api, CMS, _cm(f"old-{n}"))
        (event,) = _watch(api, CMS, resourceVersion="1", timeoutSeconds="1")
        assert event["type"] == "ERROR" and event["object"]["code"] == 410
        assert event["object"]["reason"] == "Expired"


def test_a_live_watch_sees_later_changes(api: EmulatorThread) -> None:
    since = str(api.emulator.resource_version)
    result: list[list[dict[str, Any]]] = []
    watcher = threading.Thread(target=lambda: result.append(
        _watch(api, CMS, resourceVersion=since, fieldSelector="metadata.name=live", timeoutSeconds="2")))
    watcher.start()
    _create(api, CMS, _cm("live"))
    watcher.join(30)
    assert [e["type"] for e in result[0]] == ["ADDED"]


def test_owner_references_are_garbage_collected(api: EmulatorThread) -> None:
    owner = _create(api, CMS, _cm("owner"))
    ref = {"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": owner["metadata"]["uid"]}
    child = _create(api, CMS, _cm("child", metadata={"ownerReferences": [ref]}))
    grandchild_ref = {**ref, "name": "child", "uid": child["metadata"]["uid"]}
    _create(api, CMS, _cm("grandchild", metadata={"ownerReferences": [grandchild_ref]}))
    _create(api, CMS, _cm("held", metadata={"ownerReferences": [ref], "finalizers": ["x/y"]}))
    assert api.request("DELETE", f"{CMS}/owner")[0] == 200
    assert api.get("v1/configmaps", "default", "child") is None
    assert api.get("v1/configmaps", "default", "grandchild") is None
    held = api.get("v1/configmaps", "default", "held")
    assert held is not None and held["metadata"]["deletionTimestamp"]
    api.request("PATCH", f"{CMS}/held", {"metadata": {"finalizers": None}}, "application/merge-patch+json")
    assert api.get("v1/configmaps", "default", "held") is None
    # Made after its owner went (a controller that acted on a stale list): collected at once.
    late = _create(api, CMS, _cm("late", metadata={"ownerReferences": [ref]}))
    assert late["metadata"]["name"] == "late" and api.get("v1/configmaps", "default", "late") is None


def test_orphan_deletion_keeps_dependents(api: EmulatorThread) -> None:
    owner = _create(api, CMS, _cm("orphaner"))
    ref = {"apiVersion": "v1", "kind": "ConfigMap", "name": "orphaner", "uid": owner["metadata"]["uid"]}
    _create(api, CMS, _cm("orphan", metadata={"ownerReferences": [ref]}))
    status, _ = api.request("DELETE", f"{CMS}/orphaner", {"propagationPolicy": "Orphan"})
    assert status == 200
    orphan = api.get("v1/configmaps", "default", "orphan")
    assert orphan is not None and "ownerReferences" not in orphan["metadata"]


def test_finalizers_hold_deletion(api: EmulatorThread) -> None:
    _create(api, CMS, _cm("fin", metadata={"finalizers": ["cairn/x"]}))
    status, answer = api.request("DELETE", f"{CMS}/fin")
    assert answer["metadata"]["deletionTimestamp"]
    assert api.get("v1/configmaps", "default", "fin") is not None
    api.request("PATCH", f"{CMS}/fin", {"metadata": {"finalizers": []}}, "application/merge-patch+json")
    assert api.get("v1/configmaps", "default", "fin") is None


def test_a_crd_makes_its_resource_discoverable(api: EmulatorThread) -> None:
    status, group = api.request("GET", "/apis/example.cairn.dev/v1")
    assert status == 200
    widgets = next(r for r in group["resources"] if r["name"] == "widgets")
    assert widgets["kind"] == "Widget" and widgets["namespaced"] and widgets["shortNames"] == ["wg"]
    assert any(r["name"] == "widgets/status" for r in group["resources"])
    crd = api.get("apiextensions.k8s.io/v1/customresourcedefinitions", None, "widgets.example.cairn.dev")
    assert crd is not None
    assert {c["type"]: c["status"] for c in crd["status"]["conditions"]}["Established"] == "True"


def test_deleting_a_crd_deletes_its_objects_and_their_dependents() -> None:
    with EmulatorThread() as api:
        _create(api, "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", WIDGET_CRD)
        widget = _create(api, WIDGETS, {"metadata": {"name": "doomed", "finalizers": ["x/y"]}, "spec": {}})
        ref = {"apiVersion": "example.cairn.dev/v1", "kind": "Widget", "name": "doomed",
               "uid": widget["metadata"]["uid"]}
        _create(api, CMS, _cm("doomed-conf", metadata={"ownerReferences": [ref]}))
        status, _ = api.request("DELETE", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/"
                                          "widgets.example.cairn.dev")
        assert status == 200
        assert api.get("v1/configmaps", "default", "doomed-conf") is None
        assert api.request("GET", WIDGETS)[0] == 404


def test_duplicates_generated_names_and_patch_kinds(api: EmulatorThread) -> None:
    _create(api, CMS, _cm("dup"))
    status, answer = api.request("POST", CMS, _cm("dup"))
    assert (status, answer["reason"]) == (409, "AlreadyExists")
    made = _create(api, CMS, {"metadata": {"generateName": "gen-"}})
    assert made["metadata"]["name"].startswith("gen-") and len(made["metadata"]["name"]) == 9
    assert api.request("PATCH", f"{CMS}/dup", {"data": {}}, "application/apply-patch+yaml")[0] == 415
    # Strategic merge: containers merge by name, `$patch: delete` removes one.
    pods = "/api/v1/namespaces/default/pods"
    _create(api, pods, {"metadata": {"name": "smp"}, "spec": {"containers": [
        {"name": "a", "image": "i1"}, {"name": "b", "image": "i2"}]}})
    status, answer = api.request("PATCH", f"{pods}/smp", {"spec": {"containers": [
        {"name": "a", "image": "i9"}, {"name": "b", "$patch": "delete"}, {"name": "c", "image": "i3"}]}},
        "application/strategic-merge-patch+json")
    assert [(c["name"], c["image"]) for c in answer["spec"]["containers"]] == [("a", "i9"), ("c", "i3")]


def test_injected_faults_answer_without_changing_anything() -> None:
    with EmulatorThread() as api:
        made = _create(api, CMS, _cm("fault", data={"k": "v"}))
        api.emulator["patch", kmock.resource("", "v1", "configmaps")] << 500
        status, _ = api.request("PATCH", f"{CMS}/fault", {"data": {"k": "w"}}, "application/merge-patch+json")
        assert status == 500
        assert api.get("v1/configmaps", "default", "fault") == made


def test_a_kopf_operator_runs_against_it(api: EmulatorThread, core: core_v1_api.CoreV1Api) -> None:
    """CR created → kopf adds its finalizer → the handler makes an owned ConfigMap and sets the status
    → CR deleted → the delete handler runs and kopf releases its finalizer → the ConfigMap is
    garbage-collected."""
    import kopf

    registry = kopf.OperatorRegistry()

    @kopf.on.login(registry=registry)
    def login(**_: Any) -> kopf.ConnectionInfo:
        return kopf.ConnectionInfo(server=api.url)

    @kopf.on.create("example.cairn.dev", "v1", "widgets", registry=registry)
    def create_fn(body: Any, spec: Any, name: str, namespace: str, patch: Any, **_: Any) -> None:
        conf = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"{name}-conf"},
                "data": {"size": str(spec["size"])}}
        kopf.adopt(conf, owner=body)
        core.create_namespaced_config_map(namespace, conf)
        patch.status["phase"] = "Ready"

    deleted: list[str] = []

    @kopf.on.delete("example.cairn.dev", "v1", "widgets", registry=registry)
    def delete_fn(name: str, **_: Any) -> None:
        deleted.append(name)

    settings = kopf.OperatorSettings()
    settings.posting.enabled = False
    stop, ready = threading.Event(), threading.Event()
    running = api.run_background(kopf.operator(registry=registry, settings=settings, clusterwide=True,
                                               standalone=True, stop_flag=stop, ready_flag=ready))
    try:
        assert ready.wait(60)
        made = _create(api, WIDGETS, {"apiVersion": "example.cairn.dev/v1", "kind": "Widget",
                                      "metadata": {"name": "kw"}, "spec": {"size": 3}})

        def phase() -> Any:
            widget = api.get("example.cairn.dev/v1/widgets", "default", "kw")
            return widget and widget.get("status", {}).get("phase")

        wait_until(lambda: phase() == "Ready", 60, "the widget's status patched by its handler")
        conf = api.get("v1/configmaps", "default", "kw-conf")
        assert conf is not None and conf["data"] == {"size": "3"}
        assert conf["metadata"]["ownerReferences"][0]["uid"] == made["metadata"]["uid"]
        widget = api.get("example.cairn.dev/v1/widgets", "default", "kw")
        assert widget is not None and widget["metadata"]["finalizers"]

        assert api.request("DELETE", f"{WIDGETS}/kw")[0] == 200
        wait_until(lambda: api.get("example.cairn.dev/v1/widgets", "default", "kw") is None, 60,
                   "kopf to release its finalizer")
        assert deleted == ["kw"]
        assert not [e for e in api.emulator.errors if getattr(e, "status", 500) >= 500]
        assert api.get("v1/configmaps", "default", "kw-conf") is None
    finally:
        stop.set()
        running.result(60)
