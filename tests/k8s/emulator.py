"""A faithful in-memory Kubernetes API server for end-to-end tests: kmock's emulator with what a real
API server does and kopf relies on (notes: ../shared/notes/kubernetes-testing.md, "Gaps").

`FaithfulEmulator` keeps kmock's HTTP plumbing, discovery, object store (`emu.objects[...]`, with
every version in `.history`) and fault-injection DSL (`emu['patch', kmock.resource(...)] << 500`:
a user reaction answers instead of the emulator and changes nothing). On top of it:

* metadata: `uid`, a global integer `resourceVersion` bumped by every real change, `generation`
  (bumped when anything outside `metadata`/`status` changes), `creationTimestamp`, the namespace
  from the URL, `apiVersion`/`kind`; no-op writes change nothing and emit no event; `generateName`;
* writes: POST (409 AlreadyExists, 404 for a missing namespace), PUT (replace; a stale
  `metadata.resourceVersion` is 409 Conflict), PATCH as merge (RFC 7386), JSON (RFC 6902; a failed
  `test` is 422) and strategic merge (approximated: lists of named items merge by `name`,
  `$patch: delete|replace`); server-side apply is 415;
* the status subresource: for resources that declare it, writes to the object keep its status and
  writes to `/status` change only the status; status is dropped on create;
* DELETE with finalizers (a `deletionTimestamp`, then removal once they are gone), DELETE of a
  collection, and ownerReference garbage collection in the background style (dependents whose
  owners are all gone are deleted, recursively); `propagationPolicy: Orphan` strips the owner
  references instead;
* list with label and field selectors, `<Kind>List` and the current resourceVersion;
* watch with the same selectors, `resourceVersion` (replay from a per-resource event log; older
  than the log is a 410 `Expired` ERROR event), `timeoutSeconds`; nothing is lost between a list
  and the watch that follows it;
* `/api/v1/namespaces[/<name>]`, seeded with default, kube-system and kube-public;
* creating a CustomResourceDefinition registers its served versions for discovery and sets its
  `Established` condition; deleting it removes the resource and its objects.

Not modelled: admission (defaulting, schema validation and pruning, immutable fields), RBAC,
foreground deletion, server-side apply, pagination, controllers (see pod_runner.py for the
StatefulSet controller and kubelet).

    async with FaithfulEmulator() as emu, kmock.Server(emu) as server:
        url = str(server.url)
"""

from __future__ import annotations

import asyncio
import base64
import collections
import concurrent.futures
import copy
import datetime
import json
import random
import string
import threading
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import attrs
import jsonpatch
import kmock
from kmock._internal import dsl, enums, parsing, references, rendering

JSON = dict[str, Any]
Key = tuple[references.resource, str | None, str]

SEEDED_NAMESPACES = ("default", "kube-system", "kube-public")
CRD_RESOURCE = references.resource("apiextensions.k8s.io", "v1", "customresourcedefinitions")
NAMESPACES = references.resource("", "v1", "namespaces")
SECRETS = references.resource("", "v1", "secrets")

# -- /api/v1/namespaces is a resource, not a namespace prefix --------------------------------------

_original_parse_path = parsing.parse_path


def _parse_path(path: str) -> parsing.ParsedPath:
    parts = path.strip("/").split("/")
    if len(parts) >= 3 and parts[0] == "api" and parts[2] == "namespaces" and (
            len(parts) <= 4 or (len(parts) == 5 and parts[4] in ("status", "finalize"))):
        return parsing.ParsedPath(group="", version=parts[1], plural="namespaces",
                                  name=parts[3] if len(parts) >= 4 else None,
                                  subresource=parts[4] if len(parts) == 5 else None)
    return _original_parse_path(path)


parsing.parse_path = _parse_path


# -- errors in the API server's words ----------------------------------------------------------------

def _error(status: int, reason: str, message: str, kind: str = "", name: str = "") -> kmock.KubernetesError:
    # Never empty: kmock fills empty details with a traceback.
    return kmock.KubernetesError(status=status, reason=reason, message=message, details={"name": name, "kind": kind})


def _not_found(plural: str, name: str) -> kmock.KubernetesError:
    return _error(404, "NotFound", f'{plural} "{name}" not found', plural, name)


# -- selectors ---------------------------------------------------------------------------------------

def _split_terms(selector: str) -> list[str]:
    terms, depth, current = [], 0, ""
    for char in selector:
        depth += char == "("
        depth -= char == ")"
        if char == "," and depth == 0:
            terms.append(current.strip())
            current = ""
        else:
            current += char
    if current.strip():
        terms.append(current.strip())
    return terms


def label_selector(selector: str) -> Callable[[dict[str, str]], bool]:
    """A predicate over labels for a `labelSelector` (=, ==, !=, in, notin, exists, !exists)."""
    checks: list[Callable[[dict[str, str]], bool]] = []
    for term in _split_terms(selector):
        words = term.split()
        if len(words) >= 3 and words[1] in ("in", "notin"):
            key, negate = words[0], words[1] == "notin"
            values = {v.strip() for v in term.split("(", 1)[1].rstrip(")").split(",")}
            checks.append(lambda labels, k=key, vs=values, n=negate: (labels.get(k) in vs) != n)
        elif "!=" in term:
            key, value = (s.strip() for s in term.split("!=", 1))
            checks.append(lambda labels, k=key, v=value: labels.get(k) != v)
        elif "=" in term:
            key, value = (s.strip() for s in term.replace("==", "=").split("=", 1))
            checks.append(lambda labels, k=key, v=value: labels.get(k) == v)
        elif term.startswith("!"):
            checks.append(lambda labels, k=term[1:].strip(): k not in labels)
        else:
            checks.append(lambda labels, k=term: k in labels)
    return lambda labels: all(check(labels) for check in checks)


def _field(obj: JSON, path: str) -> str:
    value: Any = obj
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    if value is None:
        return ""
    return str(value).lower() if isinstance(value, bool) else str(value)


def field_selector(selector: str) -> Callable[[JSON], bool]:
    """A predicate over objects for a `fieldSelector` (dotted paths; =, ==, !=)."""
    checks: list[Callable[[JSON], bool]] = []
    for term in _split_terms(selector):
        if "!=" in term:
            path, value = term.split("!=", 1)
            checks.append(lambda obj, p=path.strip(), v=value.strip(): _field(obj, p) != v)
        else:
            path, value = term.replace("==", "=").split("=", 1)
            checks.append(lambda obj, p=path.strip(), v=value.strip(): _field(obj, p) == v)
    return lambda obj: all(check(obj) for check in checks)


def _matcher(params: dict[str, str], name: str | None) -> Callable[[JSON], bool]:
    labels = label_selector(params.get("labelSelector", ""))
    fields = field_selector(params.get("fieldSelector", ""))
    return lambda obj: ((name is None or obj["metadata"].get("name") == name)
                        and labels(obj["metadata"].get("labels") or {}) and fields(obj))


# -- patches -----------------------------------------------------------------------------------------

def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def strategic_merge_patch(target: Any, patch: Any) -> Any:
    """An approximation of Kubernetes' strategic merge patch: dicts merge, `None` deletes, lists of
    dicts that all carry `name` merge by name (`$patch: delete` removes an item), other lists are
    replaced; `$patch: replace` replaces a dict; other `$` directives are ignored."""
    if isinstance(patch, dict):
        if patch.get("$patch") == "replace":
            return {k: copy.deepcopy(v) for k, v in patch.items() if not k.startswith("$")}
        result = dict(target) if isinstance(target, dict) else {}
        for key, value in patch.items():
            if key.startswith("$"):
                continue
            if value is None:
                result.pop(key, None)
            else:
                result[key] = strategic_merge_patch(result.get(key), value)
        return result
    if isinstance(patch, list) and patch and all(isinstance(i, dict) and "name" in i for i in patch) \
            and isinstance(target, list) and all(isinstance(i, dict) and "name" in i for i in target):
        merged = [copy.deepcopy(i) for i in target]
        for item in patch:
            index = next((n for n, old in enumerate(merged) if old["name"] == item["name"]), None)
            if item.get("$patch") == "delete":
                if index is not None:
                    merged.pop(index)
            elif index is None:
                merged.append(strategic_merge_patch({}, item))
            else:
                merged[index] = strategic_merge_patch(merged[index], item)
        return merged
    return copy.deepcopy(patch)


def _string_data(obj: JSON, resource: references.resource) -> JSON:
    """A Secret's `stringData` is written into its `data`, base64-encoded, as the API server does."""
    if resource == SECRETS and "stringData" in obj:
        data = obj.setdefault("data", {}) or {}
        data.update({k: base64.b64encode(str(v).encode()).decode() for k, v in (obj.pop("stringData") or {}).items()})
        obj["data"] = data
    return obj


def _reaches(view: dsl.View, request: rendering.Request) -> bool:
    """Whether `request` passes through `view` (what `request in view` answers, without walking
    every recorded request for chains of filters and priorities)."""
    while True:
        if type(view) is dsl.Filter:
            if not view.criteria(request):
                return False
            view = view._source
        elif type(view) is dsl.Priority:
            view = view._source
        elif isinstance(view, dsl.Root):
            return True
        else:
            return request in view


def _now() -> str:
    return datetime.datetime.now(tz=datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@attrs.define
class _Event:
    rv: int
    type: str
    obj: JSON
    old: JSON | None


@attrs.define(kw_only=True)
class FaithfulEmulator(kmock.KubernetesEmulator):
    """kmock's Kubernetes emulator made faithful enough for kopf and the Cairn operator (see the
    module docstring). `check_namespaces=False` lets objects be created in namespaces that were
    never created; `event_log_limit` events per resource are kept for watches to resume from."""

    check_namespaces: bool = True
    event_log_limit: int = 1000

    _rv: int = attrs.field(default=0, init=False)
    _log: dict[references.resource, collections.deque[_Event]] = attrs.field(factory=dict, init=False)
    _log_floor: dict[references.resource, int] = attrs.field(factory=dict, init=False)
    _watchers: dict[references.resource, set[asyncio.Queue[_Event]]] = attrs.field(
        factory=lambda: collections.defaultdict(set), init=False)
    _orphaning: set[str] = attrs.field(factory=set, init=False)
    _removed_uids: set[str] = attrs.field(factory=set, init=False)

    def __attrs_post_init__(self) -> None:
        super().__attrs_post_init__()
        self.fallback[enums.method.PUT] << self._serve_replace
        self.fallback[enums.method.DELETE] << self._serve_delete
        self.resources.load_bundled()
        for name in SEEDED_NAMESPACES:
            self._store((NAMESPACES, None, name), self._stamp({"metadata": {"name": name}}, NAMESPACES, None))

    # -- plumbing ----------------------------------------------------------------------------------

    async def _handle(self, request: rendering.Request) -> Any:
        """kmock's reaction matching, without its object mutations: every change happens in the
        fallbacks here, so an injected fault answers without changing anything.

        kmock decides whether a reaction applies with `request in reaction's view`, which walks
        every request recorded so far: quadratic, seconds per request after a few thousand (a pod
        runner polls). Chains of filters and priorities are checked on this request alone; other
        views (slices, exclusions, groups) keep kmock's way."""
        priorities = [payload.priorities for payload in self._payloads]
        width = max((len(p) for p in priorities), default=0)
        keys = [tuple(-x for x in p) + (0,) * (width - len(p)) for p in priorities]
        for index in sorted(range(len(keys)), key=keys.__getitem__):
            payload = self._payloads[index]
            if payload._disabled.is_set() or not _reaches(payload._source, request):
                continue
            try:
                return await payload(request)
            except rendering.ReactionMismatchError:
                payload._disabled.set()
            except NotImplementedError:
                pass
        raise NotImplementedError("no reaction matches the request")

    def _info(self, resource: references.resource | None) -> references.ResourceInfo:
        if resource is None or resource not in self.resources:
            raise _error(404, "NotFound", f"the server could not find the requested resource ({resource})")
        info: references.ResourceInfo = self.resources[resource]
        return info

    def _has_status(self, resource: references.resource) -> bool:
        return "status" in self._info(resource).subresources

    @staticmethod
    def _api_version(resource: references.resource) -> str:
        return f"{resource.group}/{resource.version}" if resource.group else str(resource.version)

    def _kind(self, resource: references.resource) -> str:
        return self._info(resource).kind or str(resource.plural).capitalize()

    def _live(self, key: Key) -> JSON | None:
        if key not in self._objects or self._objects[key].deleted:
            return None
        raw: JSON = self._objects[key].raw
        return raw

    def _all_live(self) -> list[tuple[Key, JSON]]:
        return [(key, obj.raw) for key, obj in self._objects.items() if not obj.deleted]

    def _next_rv(self) -> int:
        self._rv += 1
        return self._rv

    @property
    def resource_version(self) -> int:
        """The newest resourceVersion handed out."""
        return self._rv

    def _stamp(self, body: JSON, resource: references.resource, namespace: str | None) -> JSON:
        meta = body.setdefault("metadata", {})
        meta.update(uid=str(uuid.uuid4()), resourceVersion=str(self._next_rv()), generation=1,
                    creationTimestamp=_now())
        meta.pop("deletionTimestamp", None)
        if namespace is not None:
            meta["namespace"] = namespace
        body["apiVersion"], body["kind"] = self._api_version(resource), self._kind(resource)
        return body

    def _emit(self, resource: references.resource, type_: str, obj: JSON, old: JSON | None) -> None:
        event = _Event(int(obj["metadata"]["resourceVersion"]), type_, copy.deepcopy(obj), old)
        log = self._log.setdefault(resource, collections.deque())
        log.append(event)
        while len(log) > self.event_log_limit:
            self._log_floor[resource] = log.popleft().rv
        for queue in self._watchers[resource]:
            queue.put_nowait(event)

    def _store(self, key: Key, obj: JSON) -> None:
        if key in self._objects:
            self._objects[key].create(obj)
        else:
            self._objects[key] = obj

    def _body(self, request: rendering.Request) -> Any:
        try:
            return json.loads(request.body) if request.body else None
        except ValueError:
            raise _error(400, "BadRequest", "the request body is not JSON") from None

    def _namespace_of(self, request: rendering.Request, info: references.ResourceInfo) -> str | None:
        if not info.namespaced:
            return None
        if request.namespace is None:
            raise _error(404, "NotFound", "a namespaced resource needs a namespace in the URL")
        if self.check_namespaces and self._live((NAMESPACES, None, request.namespace)) is None:
            raise _not_found("namespaces", request.namespace)
        return request.namespace

    # -- create ------------------------------------------------------------------------------------

    async def _serve_create(self, request: rendering.Request) -> rendering.Payload:
        async with self._lock:
            resource = request.resource
            info = self._info(resource)
            assert resource is not None
            body = self._body(request)
            if not isinstance(body, dict):
                raise _error(400, "BadRequest", "the object must be a JSON object")
            namespace = self._namespace_of(request, info)
            meta = body.setdefault("metadata", {})
            if namespace is not None and meta.get("namespace") not in (None, namespace):
                raise _error(400, "BadRequest", "the namespace of the provided object does not match the "
                                                "namespace sent on the request")
            if not meta.get("name") and meta.get("generateName"):
                suffix = "".join(random.choices(string.ascii_lowercase + string.digits, k=5))
                meta["name"] = meta["generateName"] + suffix
            name = meta.get("name")
            if not name:
                raise _error(422, "Invalid", f"{info.kind} is invalid: metadata.name: Required value")
            key = (resource, namespace, name)
            if self._live(key) is not None:
                raise _error(409, "AlreadyExists", f'{resource.plural} "{name}" already exists', str(resource.plural),
                             name)
            body = _string_data(self._stamp(copy.deepcopy(body), resource, namespace), resource)
            if self._has_status(resource):
                body.pop("status", None)
            if resource == CRD_RESOURCE:
                body["status"] = self._register_crd(body)
            self._store(key, body)
            self._emit(resource, "ADDED", body, None)
            refs = body["metadata"].get("ownerReferences") or []
            if refs and all(r.get("uid") in self._removed_uids for r in refs):
                # Made for owners already gone (a controller that acted on a stale list): the garbage
                # collector removes it, as it would have had it existed when they went.
                self._delete(key, body, None)
            return body

    def _register_crd(self, crd: JSON) -> JSON:
        spec, names = crd["spec"], crd["spec"]["names"]
        for version in spec.get("versions", []):
            if not version.get("served", True):
                continue
            subresources = set((version.get("subresources") or {}).keys())
            self.resources[f"{spec['group']}/{version['name']}/{names['plural']}"] = kmock.ResourceInfo(
                namespaced=spec.get("scope", "Namespaced") == "Namespaced", kind=names["kind"],
                singular=names.get("singular", names["kind"].lower()), shortnames=set(names.get("shortNames", [])),
                categories=set(names.get("categories", [])), subresources=subresources,
                verbs={"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"})
        now = _now()
        return {"acceptedNames": names, "storedVersions": [v["name"] for v in spec.get("versions", [])
                                                           if v.get("storage")],
                "conditions": [{"type": t, "status": "True", "lastTransitionTime": now, "reason": r, "message": m}
                               for t, r, m in (("NamesAccepted", "NoConflicts", "no conflicts found"),
                                               ("Established", "InitialNamesAccepted",
                                                "the initial names have been accepted"))]}

    # -- read ----------------------------------------------------------------------------------------

    async def _serve_fetch(self, request: rendering.Request) -> rendering.Payload:
        async with self._lock:
            info = self._info(request.resource)
            assert request.resource is not None and request.name is not None
            obj = self._live((request.resource, request.namespace if info.namespaced else None, request.name))
            if obj is None:
                raise _not_found(str(request.resource.plural), request.name)
            return obj

    def _matching(self, request: rendering.Request) -> list[JSON]:
        info = self._info(request.resource)
        match = _matcher(dict(request.params), request.name)
        return [obj for (resource, namespace, _), obj in self._all_live()
                if resource == request.resource and (not info.namespaced or request.namespace is None
                                                     or namespace == request.namespace) and match(obj)]

    async def _serve_list(self, request: rendering.Request) -> rendering.Payload:
        async with self._lock:
            assert request.resource is not None
            items = sorted(self._matching(request), key=lambda o: (o["metadata"].get("namespace") or "",
                                                                   o["metadata"]["name"]))
            return {"apiVersion": self._api_version(request.resource), "kind": f"{self._kind(request.resource)}List",
                    "metadata": {"resourceVersion": str(self._rv)}, "items": items}

    async def _serve_watch(self, request: rendering.Request) -> AsyncIterator[rendering.Payload]:
        yield b""  # the headers go out at once, as a real server's do
        resource = request.resource
        info = self._info(resource)
        assert resource is not None
        params = dict(request.params)
        match = _matcher(params, request.name)
        namespace = request.namespace if info.namespaced else None
        timeout = float(params["timeoutSeconds"]) if params.get("timeoutSeconds") else None
        deadline = asyncio.get_running_loop().time() + timeout if timeout is not None else None

        def visible(obj: JSON | None) -> bool:
            return obj is not None and (namespace is None or obj["metadata"].get("namespace") == namespace) \
                and match(obj)

        def translate(event: _Event) -> JSON | None:
            now, before = visible(event.obj), visible(event.old)
            if event.type == "MODIFIED" and now != before:
                return {"type": "ADDED" if now else "DELETED", "object": event.obj}
            return {"type": event.type, "object": event.obj} if now or (event.type == "DELETED" and before) \
                else None

        queue: asyncio.Queue[_Event] = asyncio.Queue()
        first: list[JSON] = []
        async with self._lock:
            since = params.get("resourceVersion", "")
            if since in ("", "0"):
                first = [{"type": "ADDED", "object": obj} for obj in self._matching(request)]
            else:
                if int(since) < self._log_floor.get(resource, 0):
                    first = [{"type": "ERROR", "object": {
                        "apiVersion": "v1", "kind": "Status", "metadata": {}, "status": "Failure", "code": 410,
                        "reason": "Expired", "message": f"too old resource version: {since} ({self._rv})"}}]
                    queue = None  # type: ignore[assignment]
                else:
                    for event in self._log.get(resource, ()):
                        if event.rv > int(since) and (translated := translate(event)) is not None:
                            first.append(translated)
            if queue is not None:
                self._watchers[resource].add(queue)
        try:
            for item in first:
                yield item
            if queue is None:
                return
            while True:
                remaining = None if deadline is None else deadline - asyncio.get_running_loop().time()
                if remaining is not None and remaining <= 0:
                    return
                try:
                    event = await asyncio.wait_for(queue.get(), remaining)
                except TimeoutError:
                    return
                if (translated := translate(event)) is not None:
                    yield translated
        finally:
            if queue is not None:
                self._watchers[resource].discard(queue)

    # -- update ----------------------------------------------------------------------------------------

    def _existing(self, request: rendering.Request) -> tuple[Key, JSON]:
        info = self._info(request.resource)
        assert request.resource is not None and request.name is not None
        key = (request.resource, request.namespace if info.namespaced else None, request.name)
        obj = self._live(key)
        if obj is None:
            raise _not_found(str(request.resource.plural), request.name)
        return key, obj

    async def _serve_update(self, request: rendering.Request) -> rendering.Payload:
        async with self._lock:
            key, old = self._existing(request)
            patch = self._body(request)
            kind = (request.headers.get("Content-Type") or "").split(";")[0].strip()
            if kind == "application/apply-patch+yaml" or kind not in (
                    "", "application/merge-patch+json", "application/json-patch+json",
                    "application/strategic-merge-patch+json"):
                raise _error(415, "UnsupportedMediaType", f"the patch type {kind!r} is not supported here")
            if kind == "application/json-patch+json" or (not kind and isinstance(patch, list)):
                if not isinstance(patch, list):
                    raise _error(400, "BadRequest", "a JSON patch is a list of operations")
                try:
                    new = jsonpatch.apply_patch(old, patch)
                except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException) as exc:
                    raise _error(422, "Invalid", f"the server rejected our request due to an error in our request: "
                                                 f"{exc}") from None
            elif isinstance(patch, dict):
                wanted = (patch.get("metadata") or {}).get("resourceVersion")
                if wanted is not None and str(wanted) != old["metadata"]["resourceVersion"]:
                    raise self._conflict(key)
                merge = strategic_merge_patch if kind == "application/strategic-merge-patch+json" else merge_patch
                new = merge(old, patch)
            else:
                raise _error(400, "BadRequest", "a merge patch is a JSON object")
            return self._apply(key, old, new, request.subresource)

    async def _serve_replace(self, request: rendering.Request) -> rendering.Payload:
        async with self._lock:
            key, old = self._existing(request)
            new = self._body(request)
            if not isinstance(new, dict):
                raise _error(400, "BadRequest", "the object must be a JSON object")
            wanted = (new.get("metadata") or {}).get("resourceVersion")
            if wanted is not None and str(wanted) != old["metadata"]["resourceVersion"]:
                raise self._conflict(key)
            return self._apply(key, old, new, request.subresource)

    def _conflict(self, key: Key) -> kmock.KubernetesError:
        resource, _, name = key
        return _error(409, "Conflict", f'Operation cannot be fulfilled on {resource.plural} "{name}": the object has '
                                       "been modified; please apply your changes to the latest version and try again",
                      str(resource.plural), name)

    def _apply(self, key: Key, old: JSON, new: JSON, subresource: str | None) -> JSON:
        """Store `new` in place of `old` as the API server would: what a client may not change is kept,
        the status subresource separates `status` from the rest, a no-op changes nothing."""
        resource = key[0]
        new = _string_data(copy.deepcopy(new), resource)
        if self._has_status(resource) or subresource == "status":
            if subresource == "status":
                status = new.get("status")
                new = copy.deepcopy(old)
                new["status"] = status
                if status is None:
                    new.pop("status")
            else:
                new.pop("status", None)
                if "status" in old:
                    new["status"] = copy.deepcopy(old["status"])
        meta, old_meta = new.setdefault("metadata", {}), old["metadata"]
        for field in ("uid", "creationTimestamp", "generation", "deletionTimestamp", "namespace", "name",
                      "resourceVersion"):
            if field in old_meta:
                meta[field] = old_meta[field]
            else:
                meta.pop(field, None)
        new["apiVersion"], new["kind"] = old["apiVersion"], old["kind"]
        if old_meta.get("deletionTimestamp"):
            # Finalizers may only be removed from an object being deleted.
            meta["finalizers"] = [f for f in meta.get("finalizers") or [] if f in (old_meta.get("finalizers") or [])]
        if new == old:
            return old
        outside = {k: v for k, v in new.items() if k not in ("metadata", "status")}
        if outside != {k: v for k, v in old.items() if k not in ("metadata", "status")}:
            meta["generation"] = int(old_meta.get("generation", 1)) + 1
            if resource == CRD_RESOURCE:
                self._register_crd(new)  # versions added or changed are served from now on
        meta["resourceVersion"] = str(self._next_rv())
        self._store(key, new)
        self._emit(resource, "MODIFIED", new, old)
        if meta.get("deletionTimestamp") and not meta.get("finalizers"):
            self._remove(key, new)
        return new

    # -- delete ----------------------------------------------------------------------------------------

    async def _serve_delete(self, request: rendering.Request) -> rendering.Payload:
        async with self._lock:
            body = self._body(request) if request.body else {}
            policy = (body or {}).get("propagationPolicy") or request.params.get("propagationPolicy")
            if request.name is None:
                return self._delete_collection(request, policy)
            key, obj = self._existing(request)
            return self._delete(key, obj, policy)

    def _delete_collection(self, request: rendering.Request, policy: str | None) -> JSON:
        assert request.resource is not None
        info = self._info(request.resource)
        gone = []
        for obj in self._matching(request):
            key = (request.resource, obj["metadata"].get("namespace") if info.namespaced else None,
                   obj["metadata"]["name"])
            gone.append(self._delete(key, obj, policy))
        return {"apiVersion": self._api_version(request.resource), "kind": f"{self._kind(request.resource)}List",
                "metadata": {"resourceVersion": str(self._rv)}, "items": gone}

    def _delete(self, key: Key, obj: JSON, policy: str | None) -> JSON:
        if policy == "Orphan":
            self._orphaning.add(obj["metadata"]["uid"])
        if obj["metadata"].get("finalizers"):
            if obj["metadata"].get("deletionTimestamp"):
                return obj
            new = copy.deepcopy(obj)
            new["metadata"]["deletionTimestamp"] = _now()
            new["metadata"]["resourceVersion"] = str(self._next_rv())
            self._store(key, new)
            self._emit(key[0], "MODIFIED", new, obj)
            return new
        self._remove(key, obj)
        return obj

    def _remove(self, key: Key, obj: JSON) -> None:
        gone = copy.deepcopy(obj)
        gone["metadata"]["resourceVersion"] = str(self._next_rv())
        self._objects[key].delete()
        self._emit(key[0], "DELETED", gone, obj)
        uid = obj["metadata"]["uid"]
        self._removed_uids.add(uid)
        if key[0] == CRD_RESOURCE:
            self._unregister_crd(obj)
        if key[0] == NAMESPACES:
            for other, live in self._all_live():
                if other[1] == key[2] and self._live(other) is not None:
                    self._delete(other, live, None)
        orphan = uid in self._orphaning
        self._orphaning.discard(uid)
        self._collect(uid, orphan)

    def _collect(self, uid: str, orphan: bool) -> None:
        """Garbage collection of the dependents of the removed object `uid`."""
        live_uids = {o["metadata"]["uid"] for _, o in self._all_live()}
        for key, obj in self._all_live():
            refs = obj["metadata"].get("ownerReferences") or []
            if not any(r.get("uid") == uid for r in refs) or self._live(key) is None:
                continue
            if orphan:
                new = copy.deepcopy(obj)
                new["metadata"]["ownerReferences"] = [r for r in refs if r.get("uid") != uid]
                if not new["metadata"]["ownerReferences"]:
                    del new["metadata"]["ownerReferences"]
                new["metadata"]["resourceVersion"] = str(self._next_rv())
                self._store(key, new)
                self._emit(key[0], "MODIFIED", new, obj)
            elif not any(r.get("uid") in live_uids for r in refs):
                self._delete(key, self._live(key) or obj, None)

    def _unregister_crd(self, crd: JSON) -> None:
        spec, plural = crd["spec"], crd["spec"]["names"]["plural"]
        for version in spec.get("versions", []):
            resource = references.resource(spec["group"], version["name"], plural)
            for key, obj in self._all_live():
                if key[0] == resource:
                    self._remove(key, obj)  # the custom objects go with their definition, finalizers or not
            if resource in self.resources:
                del self.resources[resource]


# -- running it beside synchronous tests ----------------------------------------------------------------

T = TypeVar("T")


class EmulatorThread:
    """A `FaithfulEmulator` served by `kmock.Server` on 127.0.0.1 from its own event loop in a daemon
    thread, so that blocking clients (the `kubernetes` client, the pod runner, subprocesses) can use
    it. `url` is the API server's address; `run(coroutine)` runs a coroutine in its loop (e.g. kopf's
    operator, or an aiohttp request through `request`); `get`/`items` read objects safely.

        with EmulatorThread() as api:
            kubernetes.client.Configuration(host=api.url)
    """

    def __init__(self, **options: Any) -> None:
        self.emulator = FaithfulEmulator(**options)
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="k8s-emulator", daemon=True)
        self._server: kmock.Server | None = None
        self.url = ""

    def __enter__(self) -> EmulatorThread:
        self._thread.start()

        async def start() -> str:
            await self.emulator.__aenter__()
            self._server = kmock.Server(self.emulator)
            await self._server.__aenter__()
            return str(self._server.url).rstrip("/")

        self.url = self.run(start())
        return self

    def __exit__(self, *exc: object) -> None:
        async def stop() -> None:
            assert self._server is not None
            await self._server.__aexit__(None, None, None)
            await self.emulator.__aexit__(None, None, None)

        try:
            self.run(stop(), timeout=30)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(timeout=30)

    def kubeconfig(self, path: Path, namespace: str = "default") -> Path:
        """Write a kubeconfig for this API (no credentials: it asks for none) to `path`, for processes
        such as `cairn operator` and for `kubernetes.config.load_kube_config`."""
        path.write_text(json.dumps({
            "apiVersion": "v1", "kind": "Config", "current-context": "emulator",
            "clusters": [{"name": "emulator", "cluster": {"server": self.url}}],
            "users": [{"name": "tester", "user": {}}],
            "contexts": [{"name": "emulator", "context": {"cluster": "emulator", "user": "tester",
                                                          "namespace": namespace}}]}))
        return path

    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float | None = 60) -> T:
        """Run `coroutine` in the emulator's loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def run_background(self, coroutine: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Start `coroutine` in the emulator's loop (kopf's `operator(...)`, say); its future."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop)

    def request(self, method: str, path: str, body: Any = None, content_type: str = "application/json",
                params: dict[str, str] | None = None) -> tuple[int, Any]:
        """One raw HTTP request (aiohttp) to the API: its status and JSON answer (or text)."""
        async def send() -> tuple[int, Any]:
            assert self._server is not None
            data = None if body is None else json.dumps(body)
            async with self._server.client.request(method, path, data=data, params=params,
                                                   headers={"Content-Type": content_type}) as answer:
                text = await answer.text()
                try:
                    return answer.status, json.loads(text)
                except ValueError:
                    return answer.status, text
        return self.run(send())

    def get(self, resource: str, namespace: str | None, name: str) -> JSON | None:
        """A deep copy of a live object (`resource` as "group/version/plural", "v1/pods"), or None."""
        async def read() -> JSON | None:
            async with self.emulator._lock:
                obj = self.emulator._live((_resource(resource), namespace, name))
                return copy.deepcopy(obj)
        return self.run(read())

    def history(self, resource: str, namespace: str | None, name: str) -> list[JSON]:
        """Deep copies of every version an object has had, oldest first (across deletions and
        re-creations under the same name): what a watcher could have seen of it."""
        async def read() -> list[JSON]:
            async with self.emulator._lock:
                key = (_resource(resource), namespace, name)
                if key not in self.emulator._objects:
                    return []
                versions = self.emulator._objects[key].history.raw
                return [copy.deepcopy(dict(v)) for v in versions if v is not None]
        return self.run(read())

    def items(self, resource: str, namespace: str | None = None) -> list[JSON]:
        """Deep copies of the live objects of `resource` (in `namespace`, or all)."""
        wanted = _resource(resource)

        async def read() -> list[JSON]:
            async with self.emulator._lock:
                return [copy.deepcopy(obj) for key, obj in self.emulator._all_live()
                        if key[0] == wanted and (namespace is None or key[1] == namespace)]
        return self.run(read())


def _resource(text: str) -> references.resource:
    parts = text.split("/")
    group, version, plural = ("", parts[0], parts[1]) if len(parts) == 2 else (parts[0], parts[1], parts[2])
    return references.resource(group, version, plural)
