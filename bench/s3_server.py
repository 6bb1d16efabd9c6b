"""moto's S3 server, with create-if-absent writes made atomic as they are on S3.

moto checks `If-None-Match: *` and then stores the object as two steps, so two concurrent creators
of one key can both be told they won. Cairn's commits and leader fencing rest on exactly one winner,
so the tests and benchmarks run this server: the same moto, with its writes of one object at a time.

    python bench/s3_server.py -H 127.0.0.1 -p PORT
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

_WRITES = threading.Lock()


def command(port: int) -> list[str]:
    """The command line that runs this server on 127.0.0.1:`port`."""
    return [sys.executable, str(Path(__file__).resolve()), "-H", "127.0.0.1", "-p", str(port)]


def _one_at_a_time(method: Callable[..., Any]) -> Callable[..., Any]:
    def serialised(self: Any, *args: Any, **kwargs: Any) -> Any:
        with _WRITES:
            return method(self, *args, **kwargs)

    return serialised


def main() -> None:
    from moto import server
    from moto.s3.responses import S3Response

    # PutObject, and the POST that completes a multipart upload: both check If-None-Match, then write.
    S3Response.put_object = _one_at_a_time(S3Response.put_object)  # type: ignore[method-assign]
    S3Response._key_response_post = _one_at_a_time(S3Response._key_response_post)  # type: ignore[method-assign]
    server.main()


if __name__ == "__main__":
    main()
