"""Services an upstream server calls beside it on loopback, whether they run here, and whether it tried.

Some verifiers call a service that NeMo Gym's deployment starts next to the server: math_formal_lean
compiles each proof in a Lean sandbox at ``sandbox_host:sandbox_port`` (127.0.0.1:6000 unless the
environment says otherwise), a container of its own. Started alone, such a server pays reward 0
for every proof, and re-verification sees a wrong reward that is this machine's, not the server's.

A config key naming a closed port is no evidence of that: anyone can write one. So while the server
runs, gymkit listens where each absent service should be (:class:`ServiceWatch`), accepts every
connection and closes it at once: the server sees the service fail as it does when nothing listens,
and the check knows the server did try to reach it. Only a service the server reached for explains
its failures.
"""

from __future__ import annotations

import functools
import ipaddress
import os
import re
import selectors
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import urlsplit

import yaml

from gymkit.errors import GymkitError
from gymkit.nemo.config import server_entry

__all__ = ["Service", "ServiceWatch", "absent_services", "code_services", "config_services", "gym_services"]

# The two forms a value takes in upstream's configs: literal, or the environment with a default.
_ENV = re.compile(r"^\$\{oc\.env:([A-Za-z_][A-Za-z0-9_]*)(?:,([^}]*))?\}$")
_CONNECT_TIMEOUT = 0.5
_MAX_SERVICES = 8  # probed and watched per server; a config naming hundreds is not asking for a sandbox
_MAX_DEPTH = 16


class Service(NamedTuple):
    host: str
    port: int
    where: str  # the fields or the file that name it

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port} ({self.where})"


def _value(raw: Any) -> Any:
    if isinstance(raw, str) and (m := _ENV.match(raw.strip())):
        return os.environ.get(m.group(1), m.group(2) if m.group(2) is not None else "")
    return raw


def _loopback(host: str) -> bool:
    host = host.strip().rstrip(".").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _port(raw: Any) -> int | None:
    value = _value(raw)
    if isinstance(value, int) and not isinstance(value, bool):
        port = value
    elif isinstance(value, str) and value.strip().isdigit() and len(value.strip()) <= 5:
        port = int(value)
    else:
        return None
    return port if 0 < port < 65536 else None


def _walk(fields: Any, where: str = "", depth: int = 0) -> Iterator[Service]:
    """Each loopback address in ``fields`` (nested mappings and lists included): ``*_host`` beside
    ``*_port``, or a ``*_url``/``*_endpoint`` with a port."""
    if depth > _MAX_DEPTH:
        return  # YAML anchors can make a mapping contain itself
    if isinstance(fields, list):
        for index, item in enumerate(fields):
            yield from _walk(item, f"{where}[{index}].", depth + 1)
        return
    if not isinstance(fields, dict):
        return
    for key, raw in fields.items():
        if not isinstance(key, str):
            continue  # YAML reads `1:`, `null:` and `on:` as an int, None and True
        name = f"{where}{key}"
        if isinstance(raw, (dict, list)):
            yield from _walk(raw, f"{name}.", depth + 1)
        elif key.endswith("_host") and (port := _port(fields.get(f"{key[: -len('_host')]}_port"))) is not None:
            host = str(_value(raw))
            if _loopback(host):
                yield Service(host, port, f"{name}, {where}{key[: -len('_host')]}_port")
        elif key.endswith(("_url", "_endpoint")) and isinstance(value := _value(raw), str):
            try:
                parts = urlsplit(value)
                port = parts.port
            except ValueError:
                continue
            if parts.hostname and port and _loopback(parts.hostname):
                yield Service(parts.hostname, port, name)


def config_services(server_dir: Path) -> list[Service]:
    """Each loopback service the server's config entry names."""
    try:
        entry = server_entry(server_dir)
    except GymkitError:
        return []
    where = f" in configs/{entry.source.name}" if entry.source else ""
    return [s._replace(where=f"{s.where}{where}") for s in _walk(entry.fields)]


def _env_pairs(fields: Any, depth: int = 0) -> Iterator[tuple[str, str]]:
    """(host variable, port variable) for each ``*_host``/``*_port`` pair read from the environment."""
    if depth > _MAX_DEPTH:
        return
    values = fields if isinstance(fields, list) else fields.values() if isinstance(fields, dict) else ()
    for inner in values:
        if isinstance(inner, (dict, list)):
            yield from _env_pairs(inner, depth + 1)
    if not isinstance(fields, dict):
        return
    for key, raw in fields.items():
        if (
            isinstance(key, str)
            and key.endswith("_host")
            and isinstance(raw, str)
            and (host := _ENV.match(raw.strip()))
        ):
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
        except (OSError, UnicodeDecodeError, yaml.YAMLError, RecursionError):
            continue
        pairs.update(dict.fromkeys(_env_pairs(data)))
    return tuple(pairs)


def _default(text: str, var: str) -> str | None:
    """The default the code gives ``var`` where it reads it: ``getenv("VAR", "6000")`` and the like."""
    m = re.search(rf"""(?:getenv|environ\.get)\(\s*["']{re.escape(var)}["']\s*,\s*["']?([\w.:-]+)""", text)
    return m.group(1) if m else None


def code_services(server_dir: Path, root: Path) -> list[Service]:
    """Each of the gym's services whose variables the server's own code reads (``os.getenv``)."""
    found = []
    sources = [p for p in sorted(server_dir.glob("*.py")) if p.is_file() and not p.is_symlink()]
    for host_var, port_var in gym_services(root):
        for path in sources:
            text = path.read_text(encoding="utf-8", errors="replace")
            host_default, port_default = _default(text, host_var), _default(text, port_var)
            if host_default is None or port_default is None:
                continue
            host = os.environ.get(host_var, host_default)
            port = _port(os.environ.get(port_var, port_default))
            if port is not None and _loopback(host):
                found.append(Service(host, port, f"{host_var}, {port_var} in {path.name}"))
            break
    return found


def _refused(service: Service) -> bool:
    try:
        with socket.create_connection((service.host, service.port), timeout=_CONNECT_TIMEOUT):
            return False
    except ConnectionRefusedError:
        return True
    except OSError:
        return False  # a timeout or a filtered port says nothing certain: treat it as there


def absent_services(server_dir: Path, root: Path | None = None) -> list[Service]:
    """The loopback services the server's config or code names where nothing listens here."""
    try:
        services = config_services(server_dir) + (code_services(server_dir, root) if root is not None else [])
    except (OSError, RecursionError):
        return []
    unique = list({(s.host, s.port): s for s in reversed(services)}.values())[::-1][:_MAX_SERVICES]
    return [s for s in unique if _refused(s)]


class ServiceWatch:
    """Listens where absent services should be, from :meth:`acquire` to the last :meth:`release`.

    Every connection is accepted and closed at once, and its service recorded in :attr:`reached`.
    A port gymkit cannot bind (taken since the probe, or privileged) is not watched, so never reached.
    """

    def __init__(self, services: list[Service]) -> None:
        self.services = services
        self.reached: set[Service] = set()
        self._users = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._selector: selectors.BaseSelector | None = None

    def acquire(self) -> None:
        with self._lock:
            self._users += 1
            if self._users == 1 and self.services:
                self._start()

    def release(self) -> None:
        with self._lock:
            self._users -= 1
            if self._users == 0:
                self._halt()

    def _start(self) -> None:
        selector = selectors.DefaultSelector()
        for service in self.services:
            family = socket.AF_INET6 if ":" in service.host else socket.AF_INET
            sock = socket.socket(family, socket.SOCK_STREAM)
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                sock.bind((service.host, service.port))
                sock.listen(64)
                sock.setblocking(False)
            except OSError:
                sock.close()
                continue
            selector.register(sock, selectors.EVENT_READ, service)
        self._selector = selector
        self._stop.clear()
        self._thread = threading.Thread(target=self._serve, args=(selector,), name="gymkit-service-watch", daemon=True)
        self._thread.start()

    def _serve(self, selector: selectors.BaseSelector) -> None:
        while not self._stop.is_set():
            for key, _ in selector.select(timeout=0.2):
                sock: socket.socket = key.fileobj  # type: ignore[assignment]  # registered as sockets above
                try:
                    conn, _ = sock.accept()
                except OSError:
                    continue
                self.reached.add(key.data)
                conn.close()

    def _halt(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._selector is not None:
            for key in list(self._selector.get_map().values()):
                key.fileobj.close()  # type: ignore[union-attr]  # sockets, registered above
            self._selector.close()
        self._thread = self._selector = None
