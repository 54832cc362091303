"""A wheel of the gymkit that is running, rebuilt from its installed files, for a server's environment.

A gymkit installed from a wheel has no source tree to install again, and ``pip install
gymkit==VERSION`` needs an index that may not be reachable, or may hold another build of
that version. The installed files are the wheel's files, though, and RECORD lists each of
them: zipping them back, with the same WHEEL tags and a fresh RECORD, gives a wheel that
installs the very same gymkit, offline, as a real copy inside the server's environment.
"""

from __future__ import annotations

import base64
import hashlib
import os
import tempfile
import zipfile
from importlib import metadata
from pathlib import Path, PurePosixPath

from gymkit.errors import UserError

__all__ = ["installed_record_sha256", "repack_installed_gymkit"]

# Written by the installer, not part of the wheel; RECORD is written anew.
_INSTALLER_FILES = {"RECORD", "INSTALLER", "REQUESTED", "direct_url.json", "RECORD.jws", "RECORD.p7s"}


def _distribution() -> metadata.Distribution:
    try:
        dist = metadata.distribution("gymkit")
    except metadata.PackageNotFoundError:
        raise UserError("gymkit runs from files no installer recorded; set GYMKIT_SOURCE to a checkout") from None
    if not dist.files or not dist.read_text("WHEEL"):
        raise UserError("gymkit's installation has no RECORD or WHEEL file; set GYMKIT_SOURCE to a checkout")
    return dist


def installed_record_sha256() -> str:
    """What the installed gymkit is, file by file: its RECORD changes whenever another build is installed."""
    return hashlib.sha256((_distribution().read_text("RECORD") or "").encode()).hexdigest()


def _wanted(path: PurePosixPath) -> bool:
    if ".." in path.parts or "__pycache__" in path.parts or path.suffix == ".pyc":
        return False  # console scripts live outside site-packages; the installer makes them from entry_points.txt
    return not (path.parts[0].endswith(".dist-info") and path.name in _INSTALLER_FILES)


def _tag(wheel_metadata: str) -> str:
    tags = [line.split(":", 1)[1].strip() for line in wheel_metadata.splitlines() if line.startswith("Tag:")]
    return tags[0] if tags else "py3-none-any"


def _digest(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def repack_installed_gymkit(cache: Path) -> Path:
    """The installed gymkit as a wheel under ``cache`` (built once per installed build, then reused)."""
    dist = _distribution()
    version = dist.version
    wheel_metadata = dist.read_text("WHEEL") or ""
    folder = cache / installed_record_sha256()[:16]
    target = folder / f"gymkit-{version}-{_tag(wheel_metadata)}.whl"
    if target.is_file():
        return target
    files = sorted(PurePosixPath(str(f)) for f in dist.files or [] if _wanted(PurePosixPath(str(f))))
    info_dir = next((p.parts[0] for p in files if p.parts[0].endswith(".dist-info")), None)
    if info_dir is None:
        raise UserError("gymkit's installation lists no .dist-info folder; set GYMKIT_SOURCE to a checkout")
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".gymkit-", suffix=".whl.tmp")
    os.close(fd)
    record = []
    try:
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as archive:
            for rel in files:
                data = Path(str(dist.locate_file(str(rel)))).read_bytes()
                archive.writestr(str(rel), data)
                record.append(f"{rel},{_digest(data)},{len(data)}")
            record.append(f"{info_dir}/RECORD,,")
            archive.writestr(f"{info_dir}/RECORD", "\n".join(record) + "\n")
        os.replace(tmp, target)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise UserError(f"cannot rebuild gymkit's wheel in {folder}: {exc.strerror or exc}") from None
    return target
