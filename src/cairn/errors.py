"""Cairn's error hierarchy: one root, subclasses a user can act on.

Every error carries the MySQL error code and SQLSTATE the server answers with, and a message in
StarRocks' style. Messages never contain secrets: `CairnError.__str__` redacts them.
"""

from __future__ import annotations

from cairn.secrets import redact


class CairnError(Exception):
    """Root of every error Cairn raises on purpose."""

    mysql_code: int = 1105  # ER_UNKNOWN_ERROR
    sqlstate: str = "HY000"
    retryable: bool = False

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return redact(self.message)


class RetryableError(CairnError):
    """A failure that may succeed when tried again (network, throttling, a busy store)."""

    retryable = True


# --- configuration -----------------------------------------------------------------------------


class ConfigError(CairnError):
    """A configuration file or key is wrong; the message names the file and the key."""


# --- SQL --------------------------------------------------------------------------------------


class SqlSyntaxError(CairnError):
    """The statement does not parse."""

    mysql_code, sqlstate = 1064, "42000"


class AnalysisError(CairnError):
    """The statement parses but cannot run as written (StarRocks: 'Getting analyzing error')."""

    mysql_code, sqlstate = 1064, "42000"


class QueryInterruptedError(CairnError):
    """The statement was stopped before it finished (its client disconnected, or KILL named it)."""

    mysql_code, sqlstate = 1317, "70100"


class UnknownThreadError(CairnError):
    """KILL named a connection id this FE does not have (MySQL's ER_NO_SUCH_THREAD)."""

    mysql_code, sqlstate = 1094, "HY000"


class QueryMemoryExceededError(CairnError):
    """A query needed more memory on a node than `query_mem_limit` allows, and could not spill."""

    mysql_code, sqlstate = 1064, "HY000"


class QueryQueueError(CairnError):
    """Admission control refused a query: the queue is full, or it waited past the pending timeout."""

    mysql_code, sqlstate = 1064, "HY000"


class UnsupportedError(AnalysisError):
    """Valid StarRocks SQL that Cairn does not implement."""


class TableFunctionError(AnalysisError):
    """A table function that Cairn does not define, such as the engine's own file and URL readers
    (read_text, read_parquet, glob): refused for every user, root included."""


class UnknownDatabaseError(CairnError):
    mysql_code, sqlstate = 1049, "42000"


class NoDatabaseSelectedError(CairnError):
    mysql_code, sqlstate = 1046, "3D000"


class DatabaseExistsError(CairnError):
    mysql_code, sqlstate = 1007, "HY000"


class UnknownTableError(CairnError):
    mysql_code, sqlstate = 1146, "42S02"


class TableExistsError(CairnError):
    mysql_code, sqlstate = 1050, "42S01"


class AnalyzerUnknownDatabaseError(UnknownDatabaseError):
    """A database the analyzer could not find, with StarRocks' analyzer code (ERR_BAD_DB_ERROR as
    its newer statements, DROP TEMPORARY TABLE among them, answer it)."""

    mysql_code, sqlstate = 5501, "42000"


class AnalyzerUnknownTableError(UnknownTableError):
    """A table the analyzer could not find, with StarRocks' analyzer code (as DROP TEMPORARY TABLE
    answers it)."""

    mysql_code, sqlstate = 5502, "42S02"


class WrongObjectError(CairnError):
    """A statement about a view names a table, or one about a table names a view (ER_WRONG_OBJECT)."""

    mysql_code, sqlstate = 1347, "HY000"


class UnknownColumnError(CairnError):
    mysql_code, sqlstate = 1054, "42S22"


class DuplicateColumnError(CairnError):
    mysql_code, sqlstate = 1060, "42S21"


class UnknownPartitionError(CairnError):
    mysql_code, sqlstate = 1735, "HY000"


class PartitionExistsError(CairnError):
    mysql_code, sqlstate = 1517, "HY000"


# --- data -------------------------------------------------------------------------------------


class DataError(CairnError):
    """A value cannot be stored in its column (type, range, NULL, length)."""

    mysql_code, sqlstate = 1366, "HY000"


class NotNullError(DataError):
    mysql_code, sqlstate = 1048, "23000"


class DataTooLongError(DataError):
    mysql_code, sqlstate = 1406, "22001"


class NoPartitionForRowError(DataError):
    mysql_code, sqlstate = 1526, "HY000"


class TooManyFilteredRowsError(DataError):
    """A load filtered more rows than its max_filter_ratio allows; nothing was loaded."""


class ColumnCountError(DataError):
    mysql_code, sqlstate = 1136, "21S01"


class LabelAlreadyExistsError(CairnError):
    """A load reused a label: the earlier load with that label already committed."""

    mysql_code, sqlstate = 5025, "HY000"


class ConcurrentChangeError(RetryableError):
    """The table changed while a load or compaction was preparing its commit; run it again."""


# --- security ----------------------------------------------------------------------------------


class AccessDeniedError(CairnError):
    mysql_code, sqlstate = 1045, "28000"


class PrivilegeError(CairnError):
    mysql_code, sqlstate = 1142, "42000"


# --- HTTP --------------------------------------------------------------------------------------


class BadRequestError(CairnError):
    """An HTTP request (its headers or its body) is malformed or asks for something Cairn cannot do;
    nothing was loaded or changed."""

    http_status: int = 400


class RequestTooLargeError(BadRequestError):
    """An HTTP request body is larger than the server accepts (StarRocks' `streaming_load_max_mb`)."""

    http_status = 413


# --- storage -----------------------------------------------------------------------------------


class StorageVolumeError(CairnError):
    """A storage volume definition is wrong, missing or still in use."""

    mysql_code, sqlstate = 1064, "42000"


class StorageError(CairnError):
    """The object store refused a request for a reason that will not go away by itself."""


class StorageUnavailableError(RetryableError):
    """The object store could not be reached or timed out."""


class ObjectNotFoundError(StorageError):
    """The object does not exist."""


class ObjectExistsError(StorageError):
    """A create-if-absent put lost: the object already exists."""


# --- cluster and journal -----------------------------------------------------------------------


class NotLeaderError(CairnError):
    """This FE has been deposed (or fenced by a restore) and no longer accepts writes."""

    mysql_code, sqlstate = 1105, "HY000"


class CommitOutcomeUnknownError(CairnError):
    """A commit may or may not have been applied: its journal append was not confirmed. The FE learns
    the outcome from the log before its next commit; the client should check before retrying, since
    running the statement again could apply it twice. Not retryable on purpose."""


class PeerUnavailableError(RetryableError):
    """Another FE of the cluster could not be reached on its peer port, or refused this FE's call
    (the message names the FE's address, never what was presented)."""


class ClusterChoiceError(CairnError):
    """The storage volume holds several clusters and the configuration does not name one."""


class FrontendMembershipError(CairnError):
    """An FE may not join or serve its cluster: nobody added it, its helper is unreachable or serves
    another cluster, or another FE runs under its name."""


class JournalError(CairnError):
    """The journal on object storage is not what its invariants promise (gap, bad entry)."""


class CatalogKeyError(ConfigError):
    """The catalog key this FE holds cannot open what the bucket holds (missing, wrong or malformed
    key). The message names the fe.conf key and the environment variable to set."""


# --- compute nodes -----------------------------------------------------------------------------


class ComputeNodeError(CairnError):
    """ALTER SYSTEM ... COMPUTE NODE names a node wrongly, twice, or one that is not there."""

    mysql_code, sqlstate = 1064, "42000"


class FrontendNodeError(CairnError):
    """ALTER SYSTEM ... FOLLOWER | OBSERVER names an FE wrongly, one already a member, one that is not,
    or the FE that leads. StarRocks answers these with ER_UNKNOWN_ERROR."""

    mysql_code, sqlstate = 1105, "HY000"


class NoComputeNodeError(RetryableError):
    """No compute node is alive to run the work (none registered, or all down)."""

    mysql_code, sqlstate = 1064, "HY000"


class VolumeNotRegisteredError(CairnError):
    """A compute node was sent a storage volume reference whose definition it has not been given yet."""


class ComputeRequestRefusedError(CairnError):
    """A compute node refused a request: malformed, or naming what a node must not touch (an object
    outside the cluster's data prefix, a column the table does not have)."""


class ComputeNodeFailedError(RetryableError):
    """The compute nodes that ran a statement's work failed, and none was left to retry it on."""


class KubernetesApiError(CairnError):
    """The Kubernetes API server refused or failed a request the operator made."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"Kubernetes API answered {status}: {message}")
        self.status = status


# --- distributed execution ---------------------------------------------------------------------


class EngineStartError(RetryableError):
    """The distributed engine's processes (Ray's head or a worker node) did not start or join."""


class DistributedRefusal(CairnError):
    """The distributed engine declines a query it cannot answer with StarRocks' semantics as
    verified (its plan, a type of its result, a construct not checked yet); the query then runs on
    the existing path and the reason is logged."""


class DistributedPlanError(CairnError):
    """A query's physical plan could not be cut into stages or a stage could not be run as planned."""
