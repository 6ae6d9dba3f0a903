"""Where Tune and Train keep experiment state and checkpoints: a local/NFS path or ``s3://bucket/prefix``.

S3 goes through s3fs wrapped as a pyarrow filesystem (platform.md), so any S3-compatible endpoint works.
Credentials come from the environment or the instance profile only (``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``,
``AWS_ENDPOINT_URL`` for non-AWS servers); nothing is read from the repository.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from pad_core.errors import SweepError

if TYPE_CHECKING:  # pyarrow loads where storage is opened, not with the command line's credential check
    import pyarrow.fs

S3 = "s3://"


def storage_for(uri: str, *, single_attempt: bool = False) -> tuple[str, pyarrow.fs.FileSystem | None]:
    """(path, filesystem) for Ray's ``RunConfig(storage_path=..., storage_filesystem=...)``.

    ``single_attempt``: S3 calls fail at once instead of after s3fs's and botocore's own retries (~25 s to
    report an unreachable endpoint), for a caller that retries on its own schedule."""
    if uri.startswith(S3):
        import pyarrow.fs
        import s3fs

        quick = {"config_kwargs": {"connect_timeout": 5, "retries": {"max_attempts": 1}}}
        fs = s3fs.S3FileSystem(**(quick if single_attempt else {}))
        if single_attempt:
            fs.retries = 1  # s3fs's own retry count is a class attribute (5), not a constructor argument
        return uri[len(S3):].rstrip("/"), pyarrow.fs.PyFileSystem(pyarrow.fs.FSSpecHandler(fs))
    return os.path.expanduser(uri), None


def check_credentials(uri: str, key: str) -> None:
    """Refuse an ``s3://`` URI when botocore finds no credentials anywhere it looks (environment, shared
    profile files, web identity, container or instance role): Tune and the trials would fail on it with a
    traceback. Wrong credentials are caught later, by the first read (pad_core/data/manifest.py)."""
    if not uri.startswith(S3):
        return
    import botocore.session

    if botocore.session.get_session().get_credentials() is None:
        raise SweepError(key, uri, "no S3 credentials found: none in the environment (AWS_ACCESS_KEY_ID, "
                         "AWS_SECRET_ACCESS_KEY), in an AWS profile (~/.aws/credentials, AWS_PROFILE) or from an "
                         "instance role", "export AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_ENDPOINT_URL "
                         "for a non-AWS S3 server) where the sweep starts: it forwards them to its trials")


def join(uri: str, name: str) -> str:
    return f"{uri.rstrip('/')}/{name}"
