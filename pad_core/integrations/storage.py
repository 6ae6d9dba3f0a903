"""Where Tune and Train keep experiment state and checkpoints: a local/NFS path or ``s3://bucket/prefix``.

S3 goes through s3fs wrapped as a pyarrow filesystem (platform.md), so any S3-compatible endpoint works.
Credentials come from the environment or the instance profile only (``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``,
``AWS_ENDPOINT_URL`` for non-AWS servers); nothing is read from the repository.
"""

from __future__ import annotations

import os

import pyarrow.fs

S3 = "s3://"


def storage_for(uri: str) -> tuple[str, pyarrow.fs.FileSystem | None]:
    """(path, filesystem) for Ray's ``RunConfig(storage_path=..., storage_filesystem=...)``."""
    if uri.startswith(S3):
        import s3fs

        return uri[len(S3):].rstrip("/"), pyarrow.fs.PyFileSystem(pyarrow.fs.FSSpecHandler(s3fs.S3FileSystem()))
    return os.path.expanduser(uri), None


def join(uri: str, name: str) -> str:
    return f"{uri.rstrip('/')}/{name}"
