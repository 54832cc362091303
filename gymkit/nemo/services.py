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

from gymkit.errors import GymkitError
from gymkit.nemo.config import read_configs, server_entry

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


def _mappings(value: Any, where: str = "", depth: int = 0) -> Iterator[tuple[dict[Any, Any], str]]:
    """Each mapping in ``value``, nested mappings and lists included, with the dotted path to it."""
    if depth > _MAX_DEPTH:
        return  # YAML anchors can make a mapping contain itself
    if isinstance(value, list):
        for index, item in enumerate(value):
            yield from _mappings(item, f"{where}[{index}].", depth + 1)
    elif isinstance(value, dict):
        yield value, where
        for key, inner in value.items():
            if isinstance(key, str):  # YAML reads `1:`, `null:` and `on:` as an int, None and True
                yield from _mappings(inner, f"{where}{key}.", depth + 1)


def _host_port_pairs(fields: dict[Any, Any]) -> Iterator[tuple[str, Any, str, Any]]:
    """(host key, host value, port key, port value) for each ``*_host`` beside a ``*_port``."""
    for key, raw in fields.items():
        if isinstance(key, str) and key.endswith("_host") and f"{key[: -len('_host')]}_port" in fields:
            port_key = f"{key[: -len('_host')]}_port"
            yield key, raw, port_key, fields[port_key]


def _walk(fields: Any) -> Iterator[Service]:
    """Each loopback address in ``fields``: ``*_host`` beside ``*_port``, or a ``*_url``/``*_endpoint``
    with a port."""
    for mapping, where in _mappings(fields):
        for host_key, raw_host, port_key, raw_port in _host_port_pairs(mapping):
            host, port = str(_value(raw_host)), _port(raw_port)
            if port is not None and not isinstance(raw_host, (dict, list)) and _loopback(host):
                yield Service(host, port, f"{where}{host_key}, {where}{port_key}")
        for key, raw in mapping.items():
            if not (isinstance(key, str) and key.endswith(("_url", "_endpoint"))):
                continue
            if not isinstance(value := _value(raw), str):
                continue
            try:
                parts = urlsplit(value)
                port = parts.port
            except ValueError:
                continue
            if parts.hostname and port and _loopback(parts.hostname):
                yield Service(parts.hostname, port, f"{where}{key}")


def config_services(server_dir: Path) -> list[Service]:
    """Each loopback service the server's config entry names."""
    try:
        entry = server_entry(server_dir)
    except GymkitError:
        return []
    where = f" in configs/{entry.source.name}" if entry.source else ""
    return [s._replace(where=f"{s.where}{where}") for s in _walk(entry.fields)]


def _env_pairs(fields: Any) -> Iterator[tuple[str, str]]:
    """(host variable, port variable) for each ``*_host``/``*_port`` pair read from the environment."""
    for mapping, _ in _mappings(fields):
        for _, raw_host, _, raw_port in _host_port_pairs(mapping):
            if isinstance(raw_host, str) and isinstance(raw_port, str):
                host, port = _ENV.match(raw_host.strip()), _ENV.match(raw_port.strip())
                if host and port:
                    yield host.group(1), port.group(1)


@functools.cache
def gym_services(root: Path) -> tuple[tuple[str, str], ...]:
    """The environment variables by which the gym's configs name a loopback service, as (host, port) pairs.

    competitive_coding_challenges reads ``NEMO_SKILLS_SANDBOX_HOST``/``_PORT`` in its code, not its
    config, and waits at start for that sandbox; math_formal_lean's config names the same pair.
    """
    pairs: dict[tuple[str, str], None] = {}
    for server_dir in sorted(root.glob("resources_servers/*/")):
        for doc in read_configs(server_dir, root):
            pairs.update(dict.fromkeys(_env_pairs(doc.data)))
    return tuple(pairs)


def _default(text: str, var: str) -> str | None:
    """The default the code gives ``var`` where it reads it: ``getenv("VAR", "6000")`` and the like."""
    m = re.search(rf"""(?:getenv|environ\.get)\(\s*["']{re.escape(var)}["']\s*,\s*["']?([\w.:-]+)""", text)
    return m.group(1) if m else None


def code_services(server_dir: Path, root: Path) -> list[Service]:
    """Each of the gym's services whose variables the server's own code reads (``os.getenv``)."""
    found: list[Service] = []
    pairs = gym_services(root)
    if not pairs:
        return found
    sources = [p for p in sorted(server_dir.glob("*.py")) if p.is_file() and not p.is_symlink()]
    texts = [(path, path.read_text(encoding="utf-8", errors="replace")) for path in sources]
    for host_var, port_var in pairs:
        for path, text in texts:
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


# One watch at a time per address in this process: two servers checked at once (`check -j`) that name
# the same sandbox would otherwise share one listener, or miss it, and one would be credited with the
# other's connections. The second waits until the first is done with that address.
_ADDRESS_LOCKS: dict[tuple[str, int], threading.Lock] = {}
_ADDRESS_LOCKS_LOCK = threading.Lock()


def _address_lock(service: Service) -> threading.Lock:
    with _ADDRESS_LOCKS_LOCK:
        return _ADDRESS_LOCKS.setdefault((service.host, service.port), threading.Lock())


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
        self._held: list[threading.Lock] = []

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
        # In one order for every watch, so two watches naming the same addresses cannot wait on each other.
        self._held = [_address_lock(s) for s in sorted(self.services)]
        for lock in self._held:
            lock.acquire()
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
                self._accept(key)

    def _accept(self, key: selectors.SelectorKey) -> None:
        """Every connection waiting on one listener, accepted, recorded and closed."""
        sock: socket.socket = key.fileobj  # type: ignore[assignment]  # registered as sockets above
        while True:
            try:
                conn, _ = sock.accept()
            except OSError:
                return  # none left (BlockingIOError), or the listener is gone
            self.reached.add(key.data)
            conn.close()

    def _halt(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._selector is not None:
            for key in list(self._selector.get_map().values()):
                self._accept(key)  # a connection made just before the server stopped counts too
                key.fileobj.close()  # type: ignore[union-attr]  # sockets, registered above
            self._selector.close()
        self._thread = self._selector = None
        for lock in reversed(self._held):
            lock.release()
        self._held = []
