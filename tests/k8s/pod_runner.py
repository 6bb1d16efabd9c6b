"""The StatefulSet controller and the kubelet, played against the emulator (emulator.py) with real
processes on loopback. See tests/k8s/README.md for the API and the rules it follows.

Controller: for each StatefulSet, Pods `<sts>-<ordinal>` with the template's labels and
annotations, `statefulset.kubernetes.io/pod-name`, `controller-revision-hash`, an ownerReference to
the StatefulSet, `hostname`/`subdomain`, and a PersistentVolumeClaim `<claim>-<pod>` per
volumeClaimTemplate. OrderedReady (the default) creates them one at a time in ordinal order, each
once the one before is Ready; Parallel creates them all. Scaling in deletes the highest ordinal
first. A template change rolls the pods, highest ordinal first, one at a time, each once every pod is
Ready (`updateStrategy` RollingUpdate with `partition`; OnDelete waits for the test).
`persistentVolumeClaimRetentionPolicy.whenScaled: Delete` deletes the claims of the pods a scale-in
removed, once their processes are gone. The status
carries replicas, readyReplicas, currentReplicas, updatedReplicas, current/updateRevision.

Kubelet: each container of a Pod becomes a process on the pod's own loopback address 127.0.0.x
(x from `first_address`, skipping addresses where the pod's container ports are taken), so every
pod keeps the standard ports. The pod's status: phase, podIP, Ready from the readinessProbe
(httpGet on the pod IP; no probe = ready once running), containerStatuses with restartCount. A
process that exits is restarted (restartPolicy Always) after a back-off that doubles from
`backoff_seconds` up to 16 times that. A Pod deleted from the API has its processes stopped
(SIGTERM, then SIGKILL after `grace_seconds`).
"""

from __future__ import annotations

import atexit
import base64
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from k8s.emulator import JSON, EmulatorThread

HOSTS_ENV, HOSTS_FILE_ENV = "CAIRN_HOSTS", "CAIRN_HOSTS_FILE"
STS = "/apis/apps/v1/namespaces/{ns}/statefulsets"
PODS = "/api/v1/namespaces/{ns}/pods"
PVCS = "/api/v1/namespaces/{ns}/persistentvolumeclaims"
MERGE = "application/merge-patch+json"
CAIRN_COMMAND = [sys.executable, "-m", "cairn.cli.main"]


class PodConfigError(Exception):
    """A container cannot be configured yet (a missing Secret or ConfigMap key): kubelet's
    CreateContainerConfigError; retried on the next round."""


@dataclass
class Container:
    """One running container: its process and restart bookkeeping."""

    name: str
    argv: list[str]
    env: dict[str, str]
    cwd: Path
    log: Path
    proc: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    last_exit: int | None = None
    restart_at: float = 0.0
    ready: bool = False
    failures: int = 0
    next_probe: float = 0.0
    started_at: str = ""

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(self.argv, env=self.env, cwd=self.cwd, stdout=out,
                                         stderr=subprocess.STDOUT, start_new_session=True)
        self.started_at = _now()
        self.ready, self.failures, self.next_probe = False, 0, 0.0

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


@dataclass
class RunningPod:
    """What the kubelet runs for one Pod object (by uid)."""

    name: str
    uid: str
    ip: str
    root: Path
    spec: JSON
    containers: list[Container] = field(default_factory=list)
    error: str = ""
    started: str = field(default_factory=lambda: _now())


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _revision(sts: JSON) -> str:
    digest = hashlib.sha256(json.dumps(sts["spec"]["template"], sort_keys=True).encode()).hexdigest()[:10]
    return f"{sts['metadata']['name']}-{digest}"


def _ordinal(pod_name: str, sts_name: str) -> int | None:
    suffix = pod_name[len(sts_name) + 1:]
    return int(suffix) if pod_name.startswith(sts_name + "-") and suffix.isdigit() else None


def _ready(pod: JSON) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (pod.get("status") or {}).get("conditions") or [])


def rewrite_paths(text: str, mounts: dict[str, Path]) -> str:
    """Every absolute mount path in `text` (a whole path or its prefix, e.g. `/opt/sr/meta` or
    `/opt/sr/meta/x`) replaced by where the pod's file system puts it."""
    for mount in sorted(mounts, key=len, reverse=True):
        pattern = r"(?<![\w.\-/])" + re.escape(mount.rstrip("/")) + r"(?=$|[/\s\"',:;=)\]])"
        text = re.sub(pattern, lambda _m, m=mount: str(mounts[m]), text)
    return text


class PodRunner:
    """Plays the StatefulSet controller and the kubelet for namespace `namespace` of `api`, with pod
    files under `root` (root/pods/<pod>/: the pod's file system `fs/` and container logs;
    root/pvc/<claim>/: persistent volumes, kept across pod restarts until `lose_disks`).

        with PodRunner(api, tmp_path) as runner:
            ...  # create StatefulSets; wait on their status
    """

    def __init__(self, api: EmulatorThread, root: Path, namespace: str = "default", first_address: int = 10,
                 interval: float = 0.1, backoff_seconds: float = 0.5, grace_seconds: float = 10.0) -> None:
        self.api, self.root, self.namespace = api, root, namespace
        self.first_address, self.interval = first_address, interval
        self.backoff_seconds, self.grace_seconds = backoff_seconds, grace_seconds
        self.hosts_file = root / "hosts.json"
        self.pods: dict[str, RunningPod] = {}  # by pod name
        self._addresses: dict[str, str] = {}  # pod name → its loopback address, kept across restarts
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._paused = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="pod-runner", daemon=True)
        self.errors: list[str] = []
        (root / "bin").mkdir(parents=True, exist_ok=True)
        shim = root / "bin" / "cairn"
        shim.write_text(f"#!/bin/sh\nexec {sys.executable} -m cairn.cli.main \"$@\"\n")
        shim.chmod(0o755)
        self._write_hosts({})
        # Processes live in their own sessions: a test that dies without its teardown still ends them.
        atexit.register(self.kill_all, signal.SIGKILL)

    # -- the test's handles ------------------------------------------------------------------------

    def __enter__(self) -> PodRunner:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        """Stop the loop and every process."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=60)
        self.kill_all(signal.SIGKILL)
        atexit.unregister(self.kill_all)

    def env(self) -> dict[str, str]:
        """What a process outside the pods (`cairn operator`, a `cairn` command the test runs) needs
        to resolve the pods' and Services' names as the pods do."""
        return {HOSTS_FILE_ENV: str(self.hosts_file)}

    def ip(self, pod: str) -> str:
        """The loopback address of `pod`."""
        with self._lock:
            return self.pods[pod].ip

    def hosts(self) -> dict[str, str]:
        """The names → addresses map the processes see (CAIRN_HOSTS_FILE)."""
        return json.loads(self.hosts_file.read_text())

    def log(self, pod: str, container: str | None = None) -> str:
        """The output of `pod`'s container (its first by default), across restarts."""
        with self._lock:
            running = self.pods.get(pod)
            logs = [c.log for c in running.containers if container in (None, c.name)] if running else []
        return logs[0].read_text(errors="replace") if logs and logs[0].exists() else ""

    def kill(self, pod: str, sig: int = signal.SIGKILL) -> None:
        """Send `sig` to every process of `pod` (kill -9 by default); the kubelet restarts them."""
        with self._lock:
            for container in self.pods[pod].containers:
                if container.running:
                    assert container.proc is not None
                    os.kill(container.proc.pid, sig)

    def delete_pod(self, pod: str) -> None:
        """Delete the Pod object (its processes stop; its StatefulSet makes it again)."""
        self.api.request("DELETE", f"{PODS.format(ns=self.namespace)}/{pod}")

    def kill_all(self, sig: int = signal.SIGKILL) -> None:
        """Send `sig` to every process the runner started and wait for them."""
        with self._lock:
            for running in self.pods.values():
                self._stop_containers(running, sig)

    def lose_disks(self) -> None:
        """Delete every persistent volume's directory and the PVC objects (the disks are gone)."""
        with self._lock:
            shutil.rmtree(self.root / "pvc", ignore_errors=True)
            self.api.request("DELETE", PVCS.format(ns=self.namespace))

    def lose_everything(self) -> None:
        """Kill every process and lose the disks, with the loop paused so that nothing restarts in
        between. Pods still in the API are started again afterwards, on empty disks."""
        self._paused.set()
        try:
            with self._lock:
                self.kill_all(signal.SIGKILL)
                for running in self.pods.values():
                    shutil.rmtree(running.root, ignore_errors=True)
                self.pods.clear()
                self.lose_disks()
        finally:
            self._paused.clear()

    # -- the loop ------------------------------------------------------------------------------------

    def _loop(self) -> None:
        while not self._stop.is_set():
            if not self._paused.is_set():
                try:
                    with self._lock:
                        self.reconcile()
                except Exception as exc:  # the loop must outlive one bad round; the test sees it
                    self.errors.append(f"{type(exc).__name__}: {exc}")
            self._stop.wait(self.interval)

    def reconcile(self) -> None:
        """One round: StatefulSets → Pods, then Pods → processes and their status."""
        ns = self.namespace
        _, listed = self.api.request("GET", STS.format(ns=ns))
        _, pods = self.api.request("GET", PODS.format(ns=ns))
        for sts in listed.get("items", []):
            self._statefulset(sts, [p for p in pods["items"] if any(
                r.get("uid") == sts["metadata"]["uid"] for r in p["metadata"].get("ownerReferences") or [])])
        _, pods = self.api.request("GET", PODS.format(ns=ns))
        self._kubelet(pods["items"])

    # -- StatefulSet controller ----------------------------------------------------------------------

    def _statefulset(self, sts: JSON, owned: list[JSON]) -> None:
        name, spec = sts["metadata"]["name"], sts["spec"]
        replicas = int(spec.get("replicas", 1))
        revision = _revision(sts)
        by_ordinal = {o: p for p in owned if (o := _ordinal(p["metadata"]["name"], name)) is not None}
        ordered = spec.get("podManagementPolicy", "OrderedReady") != "Parallel"
        terminating = any(p["metadata"].get("deletionTimestamp") for p in owned)
        for ordinal in range(replicas):
            if ordinal in by_ordinal:
                if ordered and not _ready(by_ordinal[ordinal]):
                    break
                continue
            if not terminating:
                by_ordinal[ordinal] = self._create_pod(sts, ordinal, revision)
            if ordered:
                break
        extra = sorted((o for o in by_ordinal if o >= replicas), reverse=True)
        every_ready = all(_ready(p) for p in by_ordinal.values())
        all_ready = len(by_ordinal) == replicas and every_ready
        # Scale-in (OrderedReady): once every pod that exists is Ready, as the real controller does.
        if extra and (every_ready or not ordered):
            for ordinal in extra[:1] if ordered else extra:
                self.api.request("DELETE", f"{PODS.format(ns=self.namespace)}/{name}-{ordinal}")
                del by_ordinal[ordinal]
        elif all_ready and (spec.get("updateStrategy") or {}).get("type", "RollingUpdate") == "RollingUpdate":
            partition = int(((spec.get("updateStrategy") or {}).get("rollingUpdate") or {}).get("partition", 0))
            stale = sorted((o for o, p in by_ordinal.items() if o >= partition and
                            p["metadata"].get("labels", {}).get("controller-revision-hash") != revision),
                           reverse=True)
            if stale:
                self.api.request("DELETE", f"{PODS.format(ns=self.namespace)}/{name}-{stale[0]}")
        self._delete_scaled_claims(sts, set(by_ordinal))
        self._sts_status(sts, by_ordinal, revision)

    def _delete_scaled_claims(self, sts: JSON, ordinals: set[int]) -> None:
        """`persistentVolumeClaimRetentionPolicy.whenScaled: Delete`: the claims of a pod a scale-in
        removed go once the pod and its processes are gone (the real controller's pvc-protection wait)."""
        name, spec = sts["metadata"]["name"], sts["spec"]
        if (spec.get("persistentVolumeClaimRetentionPolicy") or {}).get("whenScaled") != "Delete":
            return
        replicas = int(spec.get("replicas", 1))
        for claim in spec.get("volumeClaimTemplates") or []:
            prefix = f"{claim['metadata']['name']}-{name}-"
            for path in (self.root / "pvc").glob(f"{prefix}*"):
                ordinal = path.name[len(prefix):]
                if not ordinal.isdigit() or int(ordinal) < replicas or int(ordinal) in ordinals \
                        or f"{name}-{ordinal}" in self.pods:
                    continue
                shutil.rmtree(path, ignore_errors=True)
                self.api.request("DELETE", f"{PVCS.format(ns=self.namespace)}/{path.name}")

    def _create_pod(self, sts: JSON, ordinal: int, revision: str) -> JSON:
        name, spec = sts["metadata"]["name"], sts["spec"]
        template = json.loads(json.dumps(spec["template"]))
        pod_name = f"{name}-{ordinal}"
        meta = template.get("metadata") or {}
        labels = {**(meta.get("labels") or {}), "statefulset.kubernetes.io/pod-name": pod_name,
                  "controller-revision-hash": revision, "apps.kubernetes.io/pod-index": str(ordinal)}
        pod_spec = template["spec"]
        pod_spec.setdefault("hostname", pod_name)
        if spec.get("serviceName"):
            pod_spec.setdefault("subdomain", spec["serviceName"])
        volumes = pod_spec.setdefault("volumes", [])
        for claim in spec.get("volumeClaimTemplates") or []:
            claim_name = f"{claim['metadata']['name']}-{pod_name}"
            volumes.append({"name": claim["metadata"]["name"], "persistentVolumeClaim": {"claimName": claim_name}})
            self.api.request("POST", PVCS.format(ns=self.namespace), {
                "apiVersion": "v1", "kind": "PersistentVolumeClaim",
                "metadata": {"name": claim_name, "labels": claim["metadata"].get("labels") or {}},
                "spec": claim.get("spec") or {}})  # 409 when it survived an earlier pod: kept, as in Kubernetes
        owner = {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": name, "uid": sts["metadata"]["uid"],
                 "controller": True, "blockOwnerDeletion": True}
        body = {"apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": pod_name, "labels": labels, "annotations": meta.get("annotations") or {},
                             "ownerReferences": [owner]},
                "spec": pod_spec}
        status, made = self.api.request("POST", PODS.format(ns=self.namespace), body)
        if status != 200:
            raise RuntimeError(f"creating pod {pod_name}: HTTP {status}: {made}")
        return made

    def _sts_status(self, sts: JSON, pods: dict[int, JSON], revision: str) -> None:
        updated = [p for p in pods.values() if p["metadata"].get("labels", {}).get("controller-revision-hash")
                   == revision]
        old = sts.get("status") or {}
        current = revision if len(updated) == len(pods) else old.get("currentRevision", revision)
        status = {"observedGeneration": sts["metadata"].get("generation", 1), "replicas": len(pods),
                  "readyReplicas": sum(_ready(p) for p in pods.values()),
                  "availableReplicas": sum(_ready(p) for p in pods.values()),
                  "currentReplicas": len(pods) if current == revision else len(pods) - len(updated),
                  "updatedReplicas": len(updated), "currentRevision": current, "updateRevision": revision,
                  "collisionCount": 0}
        if any(old.get(k) != v for k, v in status.items()):
            self.api.request("PATCH", f"{STS.format(ns=self.namespace)}/{sts['metadata']['name']}/status",
                             {"status": status}, MERGE)

    # -- kubelet ---------------------------------------------------------------------------------------

    def _kubelet(self, pods: list[JSON]) -> None:
        live = {p["metadata"]["name"]: p for p in pods if not p["metadata"].get("deletionTimestamp")}
        for name, running in list(self.pods.items()):
            pod = live.get(name)
            if pod is None or pod["metadata"]["uid"] != running.uid:
                self._stop_containers(running, signal.SIGTERM)
                del self.pods[name]
        for name, pod in live.items():
            if name not in self.pods:
                self._admit(pod)
        self._write_hosts(live)
        for name, pod in live.items():
            self._run(self.pods[name], pod)

    def _admit(self, pod: JSON) -> RunningPod:
        name = pod["metadata"]["name"]
        ports = [p["containerPort"] for c in pod["spec"].get("containers", []) for p in c.get("ports") or []]
        ip = self._addresses.get(name) or self._free_address(ports)
        self._addresses[name] = ip
        root = self.root / "pods" / name
        shutil.rmtree(root, ignore_errors=True)  # a new pod: emptyDirs and projected files start afresh
        running = RunningPod(name, pod["metadata"]["uid"], ip, root, pod["spec"])
        self.pods[name] = running
        return running

    def _free_address(self, ports: list[int]) -> str:
        taken = set(self._addresses.values())
        for x in range(self.first_address, 255):
            ip = f"127.0.0.{x}"
            if ip not in taken and all(_port_free(ip, port) for port in ports):
                return ip
        raise RuntimeError("no free loopback address left for a pod")

    def _run(self, running: RunningPod, pod: JSON) -> None:
        if not running.containers:
            try:
                running.containers = self._prepare(running, pod)
            except PodConfigError as exc:
                running.error = str(exc)
                self._pod_status(running, pod)
                return
            running.error = ""
            for container in running.containers:
                container.start()
        now = time.monotonic()
        for container, spec in zip(running.containers, pod["spec"]["containers"]):
            if container.proc is not None and container.proc.poll() is not None:
                container.last_exit = container.proc.returncode
                container.proc = None
                container.ready = False
                if pod["spec"].get("restartPolicy", "Always") == "Always" or (
                        pod["spec"].get("restartPolicy") == "OnFailure" and container.last_exit != 0):
                    backoff = min(self.backoff_seconds * 2 ** container.restarts, self.backoff_seconds * 16)
                    container.restart_at = now + backoff
                    container.restarts += 1
                else:
                    container.restart_at = float("inf")
            if container.proc is None and now >= container.restart_at:
                container.start()
            if container.running and now >= container.next_probe:
                self._probe(container, spec, running.ip, now)
        self._pod_status(running, pod)

    def _probe(self, container: Container, spec: JSON, ip: str, now: float) -> None:
        probe = spec.get("readinessProbe")
        if probe is None:
            container.ready = True
            return
        # Probes run at most once a second here (periodSeconds is a minute's worth of test time).
        container.next_probe = now + min(float(probe.get("periodSeconds", 10)), 1.0)
        timeout = float(probe.get("timeoutSeconds", 1))
        if "httpGet" in probe:
            get = probe["httpGet"]
            url = f"{(get.get('scheme') or 'HTTP').lower()}://{ip}:{_port(spec, get['port'])}{get.get('path', '/')}"
            try:
                with urllib.request.urlopen(url, timeout=timeout) as answer:
                    ok = 200 <= answer.status < 400
            except (OSError, urllib.error.URLError, ValueError):
                ok = False
        elif "tcpSocket" in probe:
            with socket.socket() as sock:
                sock.settimeout(timeout)
                ok = sock.connect_ex((ip, _port(spec, probe["tcpSocket"]["port"]))) == 0
        else:
            ok = True  # exec probes are not run: running counts as ready
        if ok:
            container.ready, container.failures = True, 0
        else:
            container.failures += 1
            if not container.ready or container.failures >= int(probe.get("failureThreshold", 3)):
                container.ready = False

    def _pod_status(self, running: RunningPod, pod: JSON) -> None:
        statuses = []
        for container in running.containers:
            state: JSON
            if container.running:
                state = {"running": {"startedAt": container.started_at}}
            elif container.restart_at == float("inf"):
                state = {"terminated": {"exitCode": container.last_exit, "reason": "Completed"
                                        if container.last_exit == 0 else "Error"}}
            else:
                state = {"waiting": {"reason": "CrashLoopBackOff"}}
            entry = {"name": container.name, "ready": container.ready and container.running,
                     "restartCount": container.restarts, "state": state, "started": container.running}
            if container.last_exit is not None:
                entry["lastState"] = {"terminated": {"exitCode": container.last_exit}}
            statuses.append(entry)
        if running.error:
            statuses = [{"name": c["name"], "ready": False, "restartCount": 0,
                         "state": {"waiting": {"reason": "CreateContainerConfigError", "message": running.error}}}
                        for c in pod["spec"]["containers"]]
        ready = bool(statuses) and all(s["ready"] for s in statuses)
        done = bool(running.containers) and all(c.restart_at == float("inf") and not c.running
                                                for c in running.containers)
        if running.error:
            phase = "Pending"
        elif done:
            phase = "Succeeded" if all(c.last_exit == 0 for c in running.containers) else "Failed"
        else:
            phase = "Running"
        old = pod.get("status") or {}
        old_ready = next((c for c in old.get("conditions") or [] if c.get("type") == "Ready"), {})
        since = old_ready.get("lastTransitionTime") if old_ready.get("status") == str(ready) else _now()
        conditions = [{"type": t, "status": s, "lastTransitionTime": since if t in ("Ready", "ContainersReady")
                       else running.started}
                      for t, s in (("Initialized", "True"), ("Ready", str(ready)), ("ContainersReady", str(ready)),
                                   ("PodScheduled", "True"))]
        status = {"phase": phase, "podIP": running.ip, "podIPs": [{"ip": running.ip}], "hostIP": "127.0.0.1",
                  "startTime": running.started, "conditions": conditions, "containerStatuses": statuses}
        if status != old:
            self.api.request("PATCH", f"{PODS.format(ns=self.namespace)}/{running.name}/status", {"status": status},
                             MERGE)

    def _stop_containers(self, running: RunningPod, sig: int) -> None:
        for container in running.containers:
            if container.proc is None:
                continue
            if container.proc.poll() is None:
                _signal_group(container.proc.pid, sig)
                try:
                    container.proc.wait(self.grace_seconds)
                except subprocess.TimeoutExpired:
                    _signal_group(container.proc.pid, signal.SIGKILL)
                    container.proc.wait(30)
            container.proc = None
            container.restart_at = float("inf")

    # -- turning a container spec into a process ---------------------------------------------------------

    def _prepare(self, running: RunningPod, pod: JSON) -> list[Container]:
        spec = pod["spec"]
        fs = running.root / "fs"
        fs.mkdir(parents=True, exist_ok=True)
        sources = {v["name"]: self._volume(running, v) for v in spec.get("volumes") or []}
        containers = []
        for c in spec.get("containers", []):
            mounts: dict[str, Path] = {}
            for mount in c.get("volumeMounts") or []:
                source = sources.get(mount["name"])
                if source is None:
                    raise PodConfigError(f"volume {mount['name']!r} is not defined")
                if mount.get("subPath"):
                    source = source / mount["subPath"]
                target = fs / mount["mountPath"].lstrip("/")
                target.parent.mkdir(parents=True, exist_ok=True)
                if target.is_symlink() or target.exists():
                    target.unlink() if target.is_symlink() or target.is_file() else shutil.rmtree(target)
                target.symlink_to(source)
                mounts[mount["mountPath"]] = target
            # Files mounted from ConfigMaps and Secrets name the other mounts by their absolute paths.
            for target in mounts.values():
                self._rewrite_files(target, mounts)
            env = self._env(running, pod, c, mounts)
            argv = [rewrite_paths(_expand(a, env), mounts) for a in (c.get("command") or []) + (c.get("args") or [])]
            if not argv:
                raise PodConfigError(f"container {c['name']!r} has no command (images have no entrypoint here)")
            if os.path.basename(argv[0]) == "cairn":
                argv = [*CAIRN_COMMAND, *argv[1:]]
            cwd = Path(rewrite_paths(c["workingDir"], mounts)) if c.get("workingDir") else fs
            cwd.mkdir(parents=True, exist_ok=True)
            containers.append(Container(c["name"], argv, env, cwd, running.root / f"{c['name']}.log"))
        return containers

    def _volume(self, running: RunningPod, volume: JSON) -> Path:
        name = volume["name"]
        if "persistentVolumeClaim" in volume:
            path = self.root / "pvc" / volume["persistentVolumeClaim"]["claimName"]
            path.mkdir(parents=True, exist_ok=True)
            return path
        path = running.root / "volumes" / name
        path.mkdir(parents=True, exist_ok=True)
        if "emptyDir" in volume:
            return path
        for kind, key in (("configMap", "name"), ("secret", "secretName")):
            if kind in volume:
                ref = volume[kind]
                obj = self._object("configmaps" if kind == "configMap" else "secrets", ref[key], ref.get("optional"))
                data = {k: v.encode() for k, v in ((obj or {}).get("data") or {}).items()} if kind == "configMap" \
                    else {k: base64.b64decode(v) for k, v in ((obj or {}).get("data") or {}).items()}
                if kind == "configMap":
                    data.update({k: base64.b64decode(v) for k, v in ((obj or {}).get("binaryData") or {}).items()})
                items = ref.get("items") or [{"key": k, "path": k} for k in data]
                for item in items:
                    if item["key"] not in data:
                        if ref.get("optional"):
                            continue
                        raise PodConfigError(f"{kind} {ref[key]!r} has no key {item['key']!r}")
                    target = path / item["path"]
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(data[item["key"]])
                return path
        raise PodConfigError(f"volume {name!r}: only configMap, secret, emptyDir and persistentVolumeClaim volumes "
                             "are modelled")

    def _rewrite_files(self, target: Path, mounts: dict[str, Path]) -> None:
        resolved = target.resolve()
        if not resolved.is_relative_to((self.root / "pods").resolve()):
            return  # persistent data is the program's, not a projection to rewrite
        for path in [resolved] if resolved.is_file() else resolved.rglob("*"):
            if path.is_file():
                try:
                    text = path.read_text()
                except (UnicodeDecodeError, OSError):
                    continue
                rewritten = rewrite_paths(text, mounts)
                if rewritten != text:
                    path.write_text(rewritten)

    def _object(self, plural: str, name: str, optional: bool | None) -> JSON | None:
        obj = self.api.get(f"v1/{plural}", self.namespace, name)
        if obj is None and not optional:
            raise PodConfigError(f'{plural[:-1]} "{name}" not found')
        return obj

    def _env(self, running: RunningPod, pod: JSON, c: JSON, mounts: dict[str, Path]) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CAIRN_")}
        env.update(HOSTNAME=running.name, PATH=f"{self.root / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
                   **{HOSTS_ENV: json.dumps(self._own_names(running, pod)), HOSTS_FILE_ENV: str(self.hosts_file)})
        for source in c.get("envFrom") or []:
            prefix = source.get("prefix", "")
            for kind, plural in (("configMapRef", "configmaps"), ("secretRef", "secrets")):
                if kind in source:
                    obj = self._object(plural, source[kind]["name"], source[kind].get("optional"))
                    for k, v in ((obj or {}).get("data") or {}).items():
                        env[prefix + k] = base64.b64decode(v).decode() if plural == "secrets" else v
        for var in c.get("env") or []:
            if "value" in var:
                env[var["name"]] = rewrite_paths(_expand(var["value"], env), mounts)
            elif "valueFrom" in var:
                value = self._value_from(running, pod, var["valueFrom"])
                if value is not None:
                    env[var["name"]] = value
        return env

    def _value_from(self, running: RunningPod, pod: JSON, source: JSON) -> str | None:
        for kind, plural in (("secretKeyRef", "secrets"), ("configMapKeyRef", "configmaps")):
            if kind in source:
                ref = source[kind]
                data = (self._object(plural, ref["name"], ref.get("optional")) or {}).get("data") or {}
                if ref["key"] not in data:
                    if ref.get("optional"):
                        return None
                    raise PodConfigError(f"{plural[:-1]} {ref['name']!r} has no key {ref['key']!r}")
                return base64.b64decode(data[ref["key"]]).decode() if plural == "secrets" else data[ref["key"]]
        if "fieldRef" in source:
            path = source["fieldRef"]["fieldPath"]
            fields = {"metadata.name": running.name, "metadata.namespace": self.namespace,
                      "metadata.uid": running.uid, "status.podIP": running.ip, "status.hostIP": "127.0.0.1",
                      "spec.nodeName": "node-0", "spec.serviceAccountName": pod["spec"].get("serviceAccountName", "")}
            label = re.fullmatch(r"metadata\.(labels|annotations)\['(.+)'\]", path)
            if label:
                return str((pod["metadata"].get(label.group(1)) or {}).get(label.group(2), ""))
            if path not in fields:
                raise PodConfigError(f"fieldRef {path!r} is not modelled")
            return fields[path]
        raise PodConfigError(f"valueFrom {sorted(source)} is not modelled")

    # -- names ---------------------------------------------------------------------------------------

    def _own_names(self, running: RunningPod, pod: JSON) -> dict[str, str]:
        """What Kubernetes writes into a pod's /etc/hosts: its hostname and its FQDN."""
        names = {running.name: running.ip}
        subdomain = pod["spec"].get("subdomain")
        if subdomain:
            for name in _pod_names(pod["spec"].get("hostname", running.name), subdomain, self.namespace):
                names[name] = running.ip
        return names

    def _write_hosts(self, pods: dict[str, JSON]) -> None:
        """Names every process resolves (CAIRN_HOSTS_FILE): `<pod>.<headless service>[.<ns>.svc...]` for
        the pods a headless Service publishes (Ready ones, or all with publishNotReadyAddresses), and
        each Service's name → a Ready pod of its selector (the first by name)."""
        hosts: dict[str, str] = {}
        if pods:
            _, services = self.api.request("GET", f"/api/v1/namespaces/{self.namespace}/services")
            for svc in services.get("items", []):
                spec, svc_name = svc.get("spec") or {}, svc["metadata"]["name"]
                selector = spec.get("selector") or {}
                members = sorted((p for p in pods.values() if selector and all(
                    (p["metadata"].get("labels") or {}).get(k) == v for k, v in selector.items())),
                    key=lambda p: p["metadata"]["name"])
                published = [p for p in members if p["metadata"]["name"] in self.pods
                             and (_ready(p) or spec.get("publishNotReadyAddresses"))]
                if spec.get("clusterIP") == "None":
                    for p in published:
                        if p["spec"].get("subdomain") == svc_name:
                            ip = self.pods[p["metadata"]["name"]].ip
                            for name in _pod_names(p["spec"].get("hostname", p["metadata"]["name"]), svc_name,
                                                   self.namespace):
                                hosts[name] = ip
                ready = [p for p in members if p["metadata"]["name"] in self.pods and _ready(p)] or (
                    published if spec.get("clusterIP") == "None" else [])
                if ready:
                    ip = self.pods[ready[0]["metadata"]["name"]].ip
                    for name in (svc_name, f"{svc_name}.{self.namespace}", f"{svc_name}.{self.namespace}.svc",
                                 f"{svc_name}.{self.namespace}.svc.cluster.local"):
                        hosts[name] = ip
        text = json.dumps(hosts, indent=1, sort_keys=True)
        if self.hosts_file.exists() and self.hosts_file.read_text() == text:
            return
        fresh = self.hosts_file.with_suffix(".tmp")
        fresh.write_text(text)
        fresh.replace(self.hosts_file)


def _pod_names(hostname: str, subdomain: str, namespace: str) -> list[str]:
    base = f"{hostname}.{subdomain}"
    return [base, f"{base}.{namespace}", f"{base}.{namespace}.svc", f"{base}.{namespace}.svc.cluster.local"]


def _expand(text: str, env: dict[str, str]) -> str:
    """Kubernetes' `$(VAR)` references to the container's environment (`$$(VAR)` escapes one)."""
    return re.sub(r"\$\$\(|\$\(([A-Za-z_][A-Za-z0-9_]*)\)",
                  lambda m: "$(" if m.group(1) is None else env.get(m.group(1), m.group(0)), text)


def _port(container: JSON, port: int | str) -> int:
    """A probe's port: a number, or the name of one of the container's ports."""
    if isinstance(port, int) or str(port).isdigit():
        return int(port)
    for declared in container.get("ports") or []:
        if declared.get("name") == port:
            return int(declared["containerPort"])
    raise PodConfigError(f"the container has no port named {port!r}")


def _signal_group(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        pass


def _port_free(ip: str, port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind((ip, port))
        except OSError:
            return False
    return True
