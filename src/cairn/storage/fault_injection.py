"""Fault injection for object storage: what a flaky store does to Cairn, on purpose and reproducibly.

A `FaultPlan` says which faults hit which operations: transient errors, permanent errors, added
latency, timeouts, puts that land but report failure ("lost acknowledgements") and listings that
break off part-way. `ObjectStore` consults a `FaultInjector` built from the plan before and after
each backend call (`open_store` builds one from the `CAIRN_STORE_FAULTS` environment variable, so a
real `cairn fe` / `cairn cn` process can be attacked).

Every decision is a pure function of (seed, operation, key, how many times this operation has
been made on this key), so a run replays the same faults whatever the thread interleaving.

`CAIRN_STORE_FAULTS` holds either the plan as JSON (`FaultPlan`'s fields) or a short form:
`seed=7,error=0.02,timeout=0.01,lost_ack=0.02,partial_list=0.05,latency=0.01:0.2,ops=put,only=meta/`.
The short form builds one rule per fault kind, each with the given probability, restricted to
`ops` (comma-free: `put+get`) and keys starting with `only` when those are given.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections import Counter
from enum import Enum
from functools import cache

from pydantic import BaseModel, Field

from cairn.errors import ConfigError, StorageError, StorageUnavailableError

ENV_VAR = "CAIRN_STORE_FAULTS"


class Op(str, Enum):
    """The operations of ObjectStore a fault can hit (put covers both create-if-absent puts)."""

    GET = "get"
    HEAD = "head"
    LIST = "list"
    PUT = "put"
    DELETE = "delete"


class FaultKind(str, Enum):
    """What happens to an operation a rule hits."""

    ERROR = "error"  # transient failure before the backend is reached: StorageUnavailableError
    PERMANENT = "permanent"  # a failure retrying will not cure: StorageError
    TIMEOUT = "timeout"  # waits `timeout_seconds`, then StorageUnavailableError; nothing happened
    LOST_ACK = "lost_ack"  # a put lands, then the caller is told it failed (StorageUnavailableError)
    PARTIAL_LIST = "partial_list"  # a listing yields part of its objects, then StorageUnavailableError
    LATENCY = "latency"  # the call is delayed by a random time within the plan's latency range


class FaultRule(BaseModel):
    """One kind of fault, hitting the given operations on keys that start with `key_prefix`."""

    kind: FaultKind
    probability: float = Field(ge=0.0, le=1.0)
    ops: list[Op] = Field(default_factory=lambda: list(Op))
    key_prefix: str = ""
    # After this many hits the rule stops firing (None: never stops), so a test can inject exactly one.
    max_hits: int | None = None

    def applies_to(self, op: Op, key: str) -> bool:
        """Whether this rule can fire for `op` on `key` (its probability decides if it does)."""
        if op not in self.ops or not key.startswith(self.key_prefix):
            return False
        if self.kind is FaultKind.LOST_ACK:
            return op is Op.PUT
        if self.kind is FaultKind.PARTIAL_LIST:
            return op is Op.LIST
        return True


class FaultPlan(BaseModel):
    """Which faults to inject, and the seed that makes them reproducible."""

    seed: int = 0
    rules: list[FaultRule] = Field(default_factory=list)
    latency_seconds: tuple[float, float] = (0.0, 0.0)
    timeout_seconds: float = 0.05

    @classmethod
    def parse(cls, text: str) -> FaultPlan:
        """Read a plan from JSON or from the short `key=value,...` form; raise ConfigError if invalid."""
        text = text.strip()
        try:
            if text.startswith("{"):
                return cls.model_validate_json(text)
            return cls._parse_short(text)
        except ConfigError:
            raise
        except ValueError as exc:
            raise ConfigError(f"invalid {ENV_VAR}: {str(exc).splitlines()[0]}") from None

    @classmethod
    def _parse_short(cls, text: str) -> FaultPlan:
        fields = dict(part.split("=", 1) for part in text.split(",") if part.strip())
        known = {"seed", "latency", "timeout_seconds", "ops", "only"} | {k.value for k in FaultKind}
        unknown = sorted(set(fields) - known)
        if unknown:
            raise ConfigError(f"invalid {ENV_VAR}: unknown key '{unknown[0]}'")
        ops = [Op(name) for name in fields["ops"].split("+")] if "ops" in fields else list(Op)
        prefix = fields.get("only", "")
        plan = cls(seed=int(fields.get("seed", "0")),
                   timeout_seconds=float(fields.get("timeout_seconds", "0.05")))
        if "latency" in fields:
            low, _, high = fields["latency"].partition(":")
            plan.latency_seconds = (float(low), float(high or low))
            plan.rules.append(FaultRule(kind=FaultKind.LATENCY, probability=1.0, ops=ops, key_prefix=prefix))
        for kind in FaultKind:
            if kind.value in fields and kind is not FaultKind.LATENCY:
                plan.rules.append(FaultRule(kind=kind, probability=float(fields[kind.value]), ops=ops,
                                            key_prefix=prefix))
        return plan

    @classmethod
    def from_environment(cls) -> FaultPlan | None:
        """The plan in `CAIRN_STORE_FAULTS`, or None when it is unset or empty."""
        text = os.environ.get(ENV_VAR, "")
        return cls.parse(text) if text.strip() else None


class FaultInjector:
    """Decides, call by call, which faults of a plan hit; counts what it injected."""

    def __init__(self, plan: FaultPlan):
        self.plan = plan
        self.injected: Counter[FaultKind] = Counter()
        self._calls: Counter[tuple[Op, str]] = Counter()
        self._hits: Counter[int] = Counter()
        self._lock = threading.Lock()

    def _draw(self, op: Op, key: str) -> list[tuple[FaultKind, float]]:
        """The faults that fire on this call, each with a uniform number in [0, 1) drawn for it."""
        with self._lock:
            self._calls[(op, key)] += 1
            nth = self._calls[(op, key)]
            fired = []
            for index, rule in enumerate(self.plan.rules):
                if not rule.applies_to(op, key):
                    continue
                if rule.max_hits is not None and self._hits[index] >= rule.max_hits:
                    continue
                roll, extra = _uniforms(self.plan.seed, index, op, key, nth)
                if roll < rule.probability:
                    self._hits[index] += 1
                    self.injected[rule.kind] += 1
                    fired.append((rule.kind, extra))
            return fired

    def before(self, op: Op, key: str, where: str) -> frozenset[FaultKind]:
        """Apply the faults that strike before the backend call (latency, errors, timeouts).

        Return the kinds that strike after it (a lost acknowledgement, a partial listing), for
        the caller to apply with `after_put` and `cut_listing`.
        """
        fired = self._draw(op, key)
        later = set()
        for kind, extra in fired:
            if kind is FaultKind.LATENCY:
                low, high = self.plan.latency_seconds
                time.sleep(low + (high - low) * extra)
        for kind, _ in fired:
            if kind is FaultKind.ERROR:
                raise StorageUnavailableError(
                    f"object storage {where} is unreachable while trying to {op.value} '{key}' (injected fault)")
            if kind is FaultKind.PERMANENT:
                raise StorageError(f"object storage {where} failed to {op.value} '{key}' (injected fault)")
            if kind is FaultKind.TIMEOUT:
                time.sleep(self.plan.timeout_seconds)
                raise StorageUnavailableError(
                    f"object storage {where} timed out while trying to {op.value} '{key}' (injected fault)")
            if kind in (FaultKind.LOST_ACK, FaultKind.PARTIAL_LIST):
                later.add(kind)
        return frozenset(later)

    @staticmethod
    def after_put(faults: frozenset[FaultKind], key: str, where: str) -> None:
        """Report a put that landed as failed when a lost acknowledgement was drawn for it."""
        if FaultKind.LOST_ACK in faults:
            raise StorageUnavailableError(
                f"object storage {where} is unreachable while trying to write '{key}' (injected fault: "
                "the object was written)")

    def listing_cut(self, faults: frozenset[FaultKind], prefix: str) -> int | None:
        """How many objects a listing yields before it breaks off, or None when it is not cut."""
        if FaultKind.PARTIAL_LIST not in faults:
            return None
        return int(_uniforms(self.plan.seed, -1, Op.LIST, prefix, 0)[0] * 4)


def _uniforms(seed: int, rule: int, op: Op, key: str, nth: int) -> tuple[float, float]:
    """Two reproducible uniform numbers in [0, 1) for one decision."""
    digest = hashlib.blake2b(f"{seed}|{rule}|{op.value}|{key}|{nth}".encode(), digest_size=16).digest()
    scale = float(1 << 64)
    return int.from_bytes(digest[:8], "big") / scale, int.from_bytes(digest[8:], "big") / scale


@cache
def environment_faults() -> FaultInjector | None:
    """The process's one injector for the plan in `CAIRN_STORE_FAULTS` (None when unset), shared by
    every store the process opens so that counts and `max_hits` are per process."""
    plan = FaultPlan.from_environment()
    return FaultInjector(plan) if plan is not None else None
