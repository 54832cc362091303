"""Services an upstream server's config says it calls beside it, and whether anything answers there.

Some verifiers call a service that NeMo Gym's deployment starts next to the server, on loopback:
math_formal_lean compiles each proof in a Lean sandbox at ``sandbox_host:sandbox_port``
(127.0.0.1:6000 unless the environment says otherwise), a container of its own. Started alone,
such a server pays reward 0 for every proof, and re-verification sees a wrong reward that is this
machine's, not the server's. gymkit connects to each loopback address the config names; one that
refuses the connection is a service that is not running here.
"""

from __future__ import annotations

import functools
import ipaddress
import os
import re
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from gymkit.errors import GymkitError
from gymkit.nemo.config import server_entry

__all__ = ["absent_services", "code_services", "config_services", "gym_services"]

# The two forms a value takes in upstream's configs: literal, or the environment with a default.
_ENV = re.compile(r"^\$\{oc\.env:([A-Za-z_][A-Za-z0-9_]*)(?:,([^}]*))?\}$")
_CONNECT_TIMEOUT = 0.5


def _value(raw: Any) -> Any:
    if isinstance(raw, str) and (m := _ENV.match(raw.strip())):
        return os.environ.get(m.group(1), m.group(2) if m.group(2) is not None else "")
    return raw


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _port(raw: Any) -> int | None:
    value = _value(raw)
    if isinstance(value, bool):
        return None
    try:
        port = int(value)
    except (TypeError, ValueError):
        return None
    return port if 0 < port < 65536 else None


def _walk(fields: dict[str, Any], where: str = "") -> Iterator[tuple[str, int, str]]:
    """(host, port, the fields that name it) for each loopback address in ``fields``, nested included."""
    for key, raw in fields.items():
        name = f"{where}{key}"
        if isinstance(raw, dict):
            yield from _walk(raw, f"{name}.")
            continue
        if key.endswith("_host") and (port := _port(fields.get(f"{key[: -len('_host')]}_port"))) is not None:
            host = str(_value(raw))
            if _loopback(host):
                yield host, port, f"{name}, {where}{key[: -len('_host')]}_port"
        elif key.endswith(("_url", "_endpoint")) and isinstance(value := _value(raw), str):
            try:
                parts = urlsplit(value)
                port = parts.port
            except ValueError:
                continue
            if parts.hostname and port and _loopback(parts.hostname):
                yield parts.hostname, port, name


def _refused(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=_CONNECT_TIMEOUT):
            return False
    except ConnectionRefusedError:
        return True
    except OSError:
        return False  # a timeout or a filtered port says nothing certain: treat it as there


def config_services(server_dir: Path) -> list[tuple[str, int, str]]:
    """(host, port, fields) of each loopback service the server's config entry names."""
    try:
        entry = server_entry(server_dir)
    except GymkitError:
        return []
    where = f" in configs/{entry.source.name}" if entry.source else ""
    return [(host, port, f"{fields}{where}") for host, port, fields in _walk(entry.fields)]


def _env_pairs(fields: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(host variable, port variable) for each ``*_host``/``*_port`` pair read from the environment."""
    for key, raw in fields.items():
        if isinstance(raw, dict):
            yield from _env_pairs(raw)
        elif key.endswith("_host") and isinstance(raw, str) and (host := _ENV.match(raw.strip())):
            port = fields.get(f"{key[: -len('_host')]}_port")
            if isinstance(port, str) and (port_var := _ENV.match(port.strip())):
                yield host.group(1), port_var.group(1)


@functools.cache
def gym_services(root: Path) -> tuple[tuple[str, str], ...]:
    """The environment variables by which the gym's configs name a loopback service, as (host, port) pairs.

    competitive_coding_challenges reads ``NEMO_SKILLS_SANDBOX_HOST``/``_PORT`` in its code, not its
    config, and waits at start for that sandbox; math_formal_lean's config names the same pair.
    """
    pairs: dict[tuple[str, str], None] = {}
    for path in sorted(root.glob("resources_servers/*/configs/*.yaml")):
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            continue
        if isinstance(data, dict):
            pairs.update(dict.fromkeys(_env_pairs(data)))
    return tuple(pairs)


def code_services(server_dir: Path, root: Path) -> list[tuple[str, int, str]]:
    """(host, port, where) of each of the gym's services whose variables the server's own code reads."""
    found = []
    sources = [p for p in sorted(server_dir.glob("*.py")) if p.is_file() and not p.is_symlink()]
    for host_var, port_var in gym_services(root):
        for path in sources:
            text = path.read_text(encoding="utf-8", errors="replace")
            if host_var in text and port_var in text:
                host = os.environ.get(host_var, "127.0.0.1")
                port = _port(os.environ.get(port_var)) or _default_port(text, port_var)
                if port is not None and _loopback(host):
                    found.append((host, port, f"{host_var}, {port_var} in {path.name}"))
                break
    return found


def _default_port(text: str, var: str) -> int | None:
    """The default the code gives ``var``: ``getenv("VAR", "6000")`` and the like."""
    m = re.search(rf"""["']{re.escape(var)}["']\s*,\s*["']?(\d+)""", text)
    return _port(m.group(1)) if m else None


def absent_services(server_dir: Path, root: Path | None = None) -> list[str]:
    """The loopback services the server's config or code names where nothing listens, as ``host:port (fields)``."""
    services = config_services(server_dir)
    if root is not None:
        known = {(host, port) for host, port, _ in services}
        services += [s for s in code_services(server_dir, root) if (s[0], s[1]) not in known]
    return [f"{host}:{port} ({fields})" for host, port, fields in services if _refused(host, port)]
