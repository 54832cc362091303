"""python_sandbox against submissions written to escape it, through `gymkit serve` over HTTP.

Every payload is built so that it scores only if its escape works: a *read* payload
answers a task whose expected values are random secrets stored in the server's own
data/validation.jsonl (and in a fake other run's folder under /tmp), so it must find them;
an *act* payload answers `a + b` only after its forbidden action (write, signal, ptrace,
socket, fork, ...) succeeded, and the test also checks the action left no trace. A reward
of 0 with the server alive afterwards is what "the sandbox held" means.

The battery runs as root and as uid 65534 (the non-root path uses an unprivileged user
namespace), with the audit hook on (the shipped config) and off (what a submission that
defeated the hook would face: the kernel alone), and in both of the sandbox's modes: under
gymkit's own confinement of server code (the default, and all CI runs), where Landlock
refuses mount(2) and the sandbox runs mountless, in all four; unconfined (the server as
NeMo Gym runs it, or GYMKIT_CONFINE=0 locally), with its tmpfs and bind mounts, in the two
kernel-only servers, which keeps the battery's time near two minutes.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import secrets
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from gymkit import confine
from gymkit.runtime.serving import ServerProcess

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT / "resources_servers" / "python_sandbox"
NOBODY = 65534
LIMITS = {"cpu_seconds": 1, "wall_seconds": 4.0, "memory_mb": 256, "max_concurrent_sandboxes": 2}
KEYS = ["probe-0", "probe-1", "probe-2"]

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="the sandbox is Linux-only")

# -- the payloads ------------------------------------------------------------------------------

PRELUDE = """
import os, sys, json, glob
SERVER = {server!r}
SERVER_PID = {pid}
PORT = {port}
TOKEN = {token!r}
ABSTRACT = {abstract!r}
DOMAINNAME = {domainname!r}

def _secret(x, text):
    for line in text.splitlines():
        if x not in line:
            continue
        try:
            row = json.loads(line)
        except ValueError:
            continue
        for test in row.get("tests", []) if isinstance(row, dict) else []:
            if isinstance(test, dict) and test.get("args") == [x]:
                return test.get("expected")
    return None

def _read(path):
    with open(path, errors="replace") as fh:
        return fh.read()

def _near(start):
    # data/*.jsonl in start, up to two levels below, and in each of its ancestors
    seen, here = set(), os.path.abspath(start)
    while True:
        for pattern in ("data/*.jsonl", "*/data/*.jsonl", "*/*/data/*.jsonl"):
            for path in glob.glob(os.path.join(here, pattern)):
                if path not in seen:
                    seen.add(path)
                    try:
                        yield _read(path)
                    except OSError:
                        pass
        if here == os.path.dirname(here):
            return
        here = os.path.dirname(here)
"""

READ = """
def _texts(x):
{body}

def f(x):
    try:
        for text in _texts(x):
            found = _secret(x, text) if isinstance(text, str) else None
            if found is not None:
                return found
    except BaseException:
        pass
    return None
"""

ACT = """
def _attack():
{body}

def f(a, b):
    try:
        if _attack():
            return a + b
    except BaseException:
        pass
    return None
"""

READS = {
    "argv0_server_folder": "yield from _near(os.path.dirname(os.path.abspath(sys.argv[0])))",
    "known_server_path": "yield _read(os.path.join(SERVER, 'data', 'validation.jsonl'))",
    "proc_self_cwd": "yield from _near(os.path.realpath('/proc/self/cwd'))\nyield from _near('/proc/self/cwd/..')",
    "proc_ppid_cwd": "for pid in (os.getppid(), SERVER_PID):\n    yield from _near(f'/proc/{pid}/cwd')",
    "proc_scan_cmdlines": (
        "pids = [p for p in os.listdir('/proc') if p.isdigit()] + [str(SERVER_PID)]\n"
        "for pid in pids:\n    try:\n        args = open(f'/proc/{pid}/cmdline', 'rb').read().split(b'\\0')\n"
        "    except OSError:\n        continue\n"
        "    for arg in args:\n        if arg.startswith(b'/') and os.path.isdir(arg):\n"
        "            yield from _near(arg.decode())"
    ),
    "proc_ppid_environ": (
        "for pid in (os.getppid(), SERVER_PID, 1):\n"
        "    try:\n        env = open(f'/proc/{pid}/environ', 'rb').read().split(b'\\0')\n    except OSError:\n"
        "        continue\n"
        "    for item in env:\n        if item.startswith(b'PWD='):\n"
        "            yield from _near(item[4:].decode())"
    ),
    "own_environ": "for value in os.environ.values():\n    if os.path.isdir(value):\n        yield from _near(value)",
    "dunder_file_and_spec": (
        "main = sys.modules.get('__main__')\n"
        "for name in ('__file__', '__cached__'):\n    p = getattr(main, name, None)\n"
        "    if p:\n        yield from _near(os.path.dirname(os.path.abspath(p)))\n"
        "spec = getattr(main, '__spec__', None)\n"
        "if spec and spec.origin:\n    yield from _near(os.path.dirname(spec.origin))"
    ),
    "gc_objects_for_paths": (
        "import gc\n"
        "for obj in gc.get_objects():\n"
        "    if isinstance(obj, dict) and 'expected' in obj:\n        yield json.dumps({'tests': [obj]})\n"
        "    items = obj.values() if isinstance(obj, dict) else obj if isinstance(obj, list | tuple) else ()\n"
        "    for item in list(items):\n"
        "        if isinstance(item, str) and item.startswith('/') and 'sandbox' in item:\n"
        "            yield from _near(item)"
    ),
    "frame_walk": (
        "frame = sys._getframe()\n"
        "while frame is not None:\n"
        "    for scope in (frame.f_locals, frame.f_globals):\n"
        "        for value in list(scope.values()):\n"
        "            if isinstance(value, str) and os.path.isabs(value):\n                yield from _near(value)\n"
        "            if isinstance(value, dict):\n                yield json.dumps(value, default=str)\n"
        "    frame = frame.f_back"
    ),
    "symlink_into_server": (
        "if not os.path.lexists('link.jsonl'):\n"
        "    os.symlink(os.path.join(SERVER, 'data', 'validation.jsonl'), 'link.jsonl')\nyield _read('link.jsonl')"
    ),
    "hardlink_into_work": (
        # mountless, work/ shares the server's file system: a hard link there would be readable
        "if not os.path.exists('mine.jsonl'):\n"
        "    os.link(os.path.join(SERVER, 'data', 'validation.jsonl'), 'mine.jsonl')\nyield _read('mine.jsonl')"
    ),
    "hardlink_into_server": (
        # to /tmp: work/ is a tmpfs, and hard links cannot cross file systems
        "target = f'/tmp/gymkit-escape-{TOKEN}'\nif not os.path.exists(target):\n"
        "    os.link(os.path.join(SERVER, 'data', 'validation.jsonl'), target)\nyield _read(target)"
    ),
    "opath_dir_fd_read": (
        "fd = os.open(os.path.join(SERVER, 'data'), os.O_PATH)\n"
        "yield os.read(os.open('validation.jsonl', os.O_RDONLY, dir_fd=fd), 10_000_000).decode()"
    ),
    "other_runs_temp_folders": (
        "for path in glob.glob('/tmp/gymkit-sandbox-*/*') + glob.glob('/tmp/gymkit-sandbox-*/*/*'):\n"
        "    try:\n        yield _read(path)\n    except OSError:\n        pass\n"
        "for path in glob.glob('/tmp/gymkit-sandbox-canary-*/job.json'):\n    yield _read(path)\n"
        "yield _read(f'/tmp/gymkit-sandbox-canary-{TOKEN}/job.json')"
    ),
    "inherited_descriptors": (
        "for fd in range(3, 64):\n    try:\n        os.lseek(fd, 0, 0)\n"
        "        yield os.read(fd, 10_000_000).decode(errors='replace')\n    except OSError:\n        pass"
    ),
    "proc_server_mem_maps": (
        "yield _read(f'/proc/{SERVER_PID}/maps')\nyield from _near(f'/proc/{SERVER_PID}/root' + SERVER)"
    ),
    "ctypes_libc_open": (
        "import ctypes\nlibc = ctypes.CDLL(None)\n"
        "fd = libc.open(os.path.join(SERVER, 'data', 'validation.jsonl').encode(), 0)\n"
        "buf = ctypes.create_string_buffer(10_000_000)\nn = libc.read(fd, buf, 10_000_000)\n"
        "yield buf.raw[: max(n, 0)].decode(errors='replace')"
    ),
    "disable_hook_then_read": (
        "sys.modules['__main__']._die = lambda reason: None\n"
        "for m in list(sys.modules.values()):\n    if hasattr(m, '_make_hook'):\n        m._die = lambda reason: None\n"
        "yield _read(os.path.join(SERVER, 'data', 'validation.jsonl'))"
    ),
}

ACTS = {
    "dir_fd_append_server_data": (
        "fd = os.open(os.path.join(SERVER, 'data'), os.O_RDONLY | os.O_DIRECTORY)\n"
        "out = os.open('validation.jsonl', os.O_WRONLY | os.O_APPEND, dir_fd=fd)\n"
        "return os.write(out, b'\\n') == 1"
    ),
    "opath_openat_create": (
        "fd = os.open(os.path.join(SERVER, 'data'), os.O_PATH)\n"
        "os.close(os.open(f'escape-{TOKEN}.jsonl', os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd))\nreturn True"
    ),
    "write_tmp": "open(f'/tmp/gymkit-escape-{TOKEN}', 'w').write('x')\nreturn True",
    "write_dev_shm": "open(f'/dev/shm/gymkit-escape-{TOKEN}', 'w').write('x')\nreturn True",
    "write_parent_of_work": "open(f'../escape-{TOKEN}', 'w').write('x')\nreturn True",
    "symlink_write_server_data": (
        "if not os.path.lexists('l'):\n    os.symlink(os.path.join(SERVER, 'data', 'validation.jsonl'), 'l')\n"
        "open('l', 'a').write('\\n')\nreturn True"
    ),
    "hardlink_write_server_data": (
        "target = f'/tmp/gymkit-escape-{TOKEN}'\nif not os.path.exists(target):\n"
        "    os.link(os.path.join(SERVER, 'data', 'validation.jsonl'), target)\n"
        "open(target, 'a').write('\\n')\nreturn True"
    ),
    "rename_run_file_out": "os.rename('../job.json', f'/tmp/gymkit-escape-{TOKEN}')\nreturn True",
    "chmod_server_data": "os.chmod(os.path.join(SERVER, 'data', 'validation.jsonl'), 0o666)\nreturn True",
    "proc_sys_write": "open('/proc/sys/kernel/domainname', 'w').write(DOMAINNAME)\nreturn True",
    "kill_parent_probe": "os.kill(os.getppid() or SERVER_PID, 0)\nreturn True",
    "kill_server_sigkill": "import signal\nos.kill(SERVER_PID, signal.SIGKILL)\nreturn True",
    "kill_everything": "import signal\nos.kill(-1, signal.SIGKILL)\nreturn True",
    "killpg_server_group": "import signal\nos.killpg(os.getpgid(SERVER_PID), signal.SIGKILL)\nreturn True",
    "pidfd_kill_parent": (
        "import signal\nfor pid in (os.getppid(), SERVER_PID):\n    try:\n"
        "        signal.pidfd_send_signal(os.pidfd_open(pid), signal.SIGKILL)\n        return True\n"
        "    except OSError:\n        pass"
    ),
    "setsid_leave_group": "os.setsid()\nreturn True",
    "setpgid_leave_group": "os.setpgid(0, 0)\nreturn os.getpgrp() == os.getpid()",
    "ptrace_attach_ctypes": (
        "import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\nreturn libc.ptrace(16, SERVER_PID, 0, 0) == 0"
    ),
    "process_vm_readv_ctypes": (
        "import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\n"
        "class IOV(ctypes.Structure):\n    _fields_ = [('base', ctypes.c_void_p), ('len', ctypes.c_size_t)]\n"
        "buf = ctypes.create_string_buffer(64)\nlocal = IOV(ctypes.addressof(buf), 64)\n"
        "remote = IOV(0x400000, 64)\n"
        "return libc.process_vm_readv(SERVER_PID, ctypes.byref(local), 1, ctypes.byref(remote), 1, 0) > 0"
    ),
    "socket_inet_to_server": (
        "import socket\ns = socket.create_connection(('127.0.0.1', PORT), timeout=1)\n"
        "s.sendall(b'GET / HTTP/1.0\\r\\n\\r\\n')\nreturn b'ok' in s.recv(4096)"
    ),
    "socket_unix_abstract": (
        "import socket\ns = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)\ns.connect(ABSTRACT)\nreturn True"
    ),
    "socket_netlink": "import socket\nsocket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0)\nreturn True",
    "ctypes_libc_socket": "import ctypes\nreturn ctypes.CDLL(None).socket(2, 1, 0) >= 0",
    "fork_bomb": (
        "forked = 0\nfor _ in range(50):\n    pid = os.fork()\n    if pid == 0:\n        os._exit(0)\n"
        "    forked += 1\nreturn forked > 0"
    ),
    "thread_bomb": (
        "import threading, time\nthreads = [threading.Thread(target=time.sleep, args=(0.2,)) for _ in range(200)]\n"
        "for t in threads:\n    t.start()\nreturn True"
    ),
    "exec_shell": "return os.system('true') == 0",
    "memory_hog": "hog = bytearray(1_500_000_000)\nreturn len(hog) > 0",
    "cpu_hog": "while True:\n    pass",
    "stdout_flood": "for _ in range(20_000):\n    print('x' * 10_000)\nreturn True",
    "stderr_flood": "for _ in range(20_000):\n    os.write(2, b'x' * 10_000)\nreturn True",
    "disk_fill_work": (
        "written = 0\nfor i in range(200):\n    with open(f'fill-{i}', 'wb') as fh:\n"
        "        fh.write(b'x' * 900_000)\n    written += 900_000\nreturn written > 100_000_000"
    ),
    # The disk bound: a tmpfs's size and inodes, or (mountless) the server's watch of the run folder.
    "disk_many_files": ("for i in range(5000):\n    open(f'n{i}', 'w').close()\nreturn len(os.listdir('.')) >= 5000"),
    "disk_one_big_file": (
        "with open('big', 'wb') as fh:\n    for _ in range(40):\n        fh.write(b'x' * 1_000_000)\n"
        "return os.path.getsize('big') > 16_000_000"
    ),
    "disk_sparse_file": (
        "with open('sparse', 'wb') as fh:\n    fh.seek(10**10)\n    fh.write(b'x')\n"
        "return os.path.getsize('sparse') > 10**9"
    ),
    "disk_deep_tree": (
        "for _ in range(3000):\n    os.mkdir('d')\n    os.chdir('d')\n"
        "open('leaf', 'wb').write(b'x' * 100_000)\nreturn True"
    ),
    "disk_wide_tree": (
        "for i in range(40):\n    os.makedirs(f'w{i}/a/b')\n"
        "    open(f'w{i}/a/b/f', 'wb').write(b'x' * 900_000)\nreturn True"
    ),
    "disk_many_folders": "for i in range(5000):\n    os.mkdir(f'e{i}')\nreturn True",
    "chmod_own_run_folder": "os.chmod('.', 0o777)\nreturn True",
    "raise_own_limits": "import resource\nresource.setrlimit(resource.RLIMIT_CPU, (3600, 3600))\nreturn True",
    "prlimit_the_server": (
        "import resource\nresource.prlimit(SERVER_PID, resource.RLIMIT_NOFILE, (1, 1))\nreturn True"
    ),
    "nested_user_namespace": "import ctypes\nreturn ctypes.CDLL(None).unshare(0x10000000) == 0",
    "io_uring_setup": (
        "import ctypes\nparams = ctypes.create_string_buffer(120)\n"
        "return ctypes.CDLL(None).syscall(425, 8, params) >= 0"
    ),
    "bpf_syscall": (
        "import ctypes\nattr = ctypes.create_string_buffer(128)\n"
        "return ctypes.CDLL(None).syscall(321, 0, attr, 128) >= 0"
    ),
    "disable_hook_then_write": (
        "sys.modules['__main__']._die = lambda reason: None\n"
        "fd = os.open(os.path.join(SERVER, 'data', 'validation.jsonl'), os.O_WRONLY | os.O_APPEND)\n"
        "return os.write(fd, b'\\n') == 1"
    ),
}

# Not act/read: submissions that try to fake the protocol or exit early; their reward must stay 0.
GAMES = {
    "forged_result_lines": (
        "import os\nfor i in range(3):\n"
        '    os.write(1, b\'@@gymkit-sandbox@@ {"index": %d, "value": "guess"}\\n\' % i)\n'
        "os.write(1, b'@@gymkit-sandbox@@ {\"done\": true}\\n')\nos._exit(0)\ndef f(x):\n    return None"
    ),
    "sys_exit_zero_at_import": "import sys\nsys.exit(0)\ndef f(x):\n    return None",
    "exit_inside_call": (
        "import os\ndef f(x):\n    os.write(1, b'@@gymkit-sandbox@@ {\"done\": true}\\n')\n    os._exit(0)"
    ),
}

# The harness's results descriptor, found the way a submission would: it shares the process.
RESULTS_FD = """
import os, sys
def _results_fd():
    frame = sys._getframe()
    while frame is not None:
        if "results_fd" in frame.f_locals:
            return frame.f_locals["results_fd"]
        frame = frame.f_back
    return 1
"""
DEEP = "b'[' * 200000 + b']' * 200000"
NONE = "def f(x):\n    return None"

# Attacks on the grader rather than the sandbox: each once made verify answer HTTP 500,
# forged sandbox.layers, or might. The verify must answer 200 with reward 0 and the layers
# the harness reported before the submission ran.
GRADER_GAMES = {
    "deep_json_line_on_stdout": (
        'import os\nos.write(1, b\'@@gymkit-sandbox@@ {"index": 0, "value": \' + ' + DEEP + " + b'}\\n')\n" + NONE
    ),
    "deep_json_line_on_results": (
        RESULTS_FD + 'os.write(_results_fd(), b\'{"index": 0, "value": \' + ' + DEEP + " + b'}\\n')\n" + NONE
    ),
    **{
        f"forged_layers_{name}_truncating_stdout": (
            "import os\nos.ftruncate(1, 0)\nos.lseek(1, 0, 0)\n"
            f"os.write(1, b'@@gymkit-sandbox@@ {{\"layers\": {value}}}\\n')\n" + NONE
        )
        for name, value in (("int", "5"), ("null", "null"), ("list", '[\\"forged\\"]'))
    },
    "forged_layers_truncating_results": (
        RESULTS_FD + "fd = _results_fd()\nos.ftruncate(fd, 0)\nos.lseek(fd, 0, 0)\n"
        'os.write(fd, b\'{"layers": ["forged"]}\\n{"done": true}\\n\')\nos._exit(0)\n' + NONE
    ),
    "rewrite_results_inside_the_call": (
        RESULTS_FD + "def f(x):\n    fd = _results_fd()\n    os.ftruncate(fd, 0)\n    os.lseek(fd, 0, 0)\n"
        '    for i in range(3):\n        os.write(fd, b\'{"index": %d, "value": "guess"}\\n\' % i)\n'
        "    os.write(fd, b'{\"done\": true}\\n')\n    os._exit(0)"
    ),
    "report_a_test_twice": (
        RESULTS_FD + 'def f(x):\n    os.write(_results_fd(), b\'{"index": 0, "value": "guess"}\\n\')\n    return None'
    ),
    "cut_results_line": RESULTS_FD + 'os.write(_results_fd(), b\'{"index": 0, "val\')\n' + NONE,
    "many_fake_lines": (
        RESULTS_FD + "fd = _results_fd()\nfor i in range(20000):\n"
        '    os.write(fd, b\'{"index": 0, "value": 1}\\n\')\n'
        "    os.write(1, b'@@gymkit-sandbox@@ {\"done\": true}\\n')\n" + NONE
    ),
    "close_stdout_and_stderr": "import os\nos.close(1)\nos.close(2)\n" + NONE,
    "close_results_fd": RESULTS_FD + "os.close(_results_fd())\n" + NONE,
    "dup2_stdout_over_results": RESULTS_FD + "os.dup2(1, _results_fd())\n" + NONE,
    "dup2_a_work_file_over_results": (
        RESULTS_FD + "fd = os.open('mine', os.O_RDWR | os.O_CREAT)\nos.dup2(fd, _results_fd())\n" + NONE
    ),
    "fake_unavailable_exit": (
        "import os\nos.write(2, b'@@gymkit-sandbox@@ unavailable python_sandbox: no seccomp\\n')\nos._exit(96)\n" + NONE
    ),
    "fake_violation_exit": "import os\nos._exit(97)\n" + NONE,
    "fake_output_limit_exit": "import os\nos._exit(95)\n" + NONE,
    "atexit_writes_after_done": (
        RESULTS_FD
        + 'import atexit\natexit.register(os.write, _results_fd(), b\'{"index": 0, "value": 1}\\n\')\n'
        + NONE
    ),
    "replaced_stdout": (
        "import sys\nclass Broken:\n    def write(self, s):\n        raise OSError('no')\n"
        "    def flush(self):\n        raise OSError('no')\nsys.stdout = sys.stderr = Broken()\n" + NONE
    ),
    "return_a_set": "def f(x):\n    return {x}",
    "return_an_object": "def f(x):\n    return object()",
    "return_a_cycle": "def f(x):\n    a = [x]\n    a.append(a)\n    return a",
    "return_deep_nesting": "def f(x):\n    a = [x]\n    for _ in range(100000):\n        a = [a]\n    return a",
    "return_a_huge_int": "def f(x):\n    return 10 ** 5000",
    "return_a_huge_string": "def f(x):\n    return x * 1_000_000",
    "return_nan": "def f(x):\n    return float('nan')",
    "raise_an_unprintable_exception": (
        "class Odd(Exception):\n    def __str__(self):\n        raise RuntimeError('no')\ndef f(x):\n    raise Odd()"
    ),
    "raise_system_exit_in_the_call": "import sys\ndef f(x):\n    sys.exit(0)",
}


def _code(kind: str, body: str, context: dict[str, Any]) -> str:
    # The prelude is formatted on its own: the bodies are full of f-string braces.
    tail = READ if kind == "read" else ACT
    return PRELUDE.format(**context) + tail.replace("{body}", textwrap.indent(body, "    "))


# -- the servers ---------------------------------------------------------------------------------


def _readable_copy(dest: Path) -> None:
    shutil.copytree(SOURCE, dest, ignore=shutil.ignore_patterns("__pycache__", "tests", "reports"))
    for path in [dest, *dest.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)


def _nobody_python() -> str | None:
    """An interpreter uid 65534 can run (the venv's may live under /root), or None."""
    name = "python{}.{}".format(*sys.version_info[:2])
    system = shutil.which(name, path="/usr/local/bin:/usr/bin:/bin") or ""
    candidates = [getattr(sys, "_base_executable", ""), sys.executable, system]
    for python in [c for c in dict.fromkeys(candidates) if c]:
        # access(2) as that uid: the server's own sandbox runner checks the same way.
        probe = subprocess.run(
            [
                "setpriv",
                f"--reuid={NOBODY}",
                f"--regid={NOBODY}",
                "--clear-groups",
                "/bin/sh",
                "-c",
                'test -x "$0"',
                python,
            ],
            capture_output=True,
            check=False,
        )
        real = subprocess.run([python, "-c", "import sys; print(sys.version_info[:2])"], capture_output=True, text=True)
        if probe.returncode == 0 and real.stdout.strip() == str(tuple(sys.version_info[:2])):
            return python
    return None


class Battery:
    def __init__(self, user: str, audit_hook: bool, base: Path, confined: bool = True) -> None:
        self.user, self.audit_hook, self.base, self.confined = user, audit_hook, base, confined
        self.token = secrets.token_hex(6)
        self.server_dir = base / "python_sandbox"
        _readable_copy(self.server_dir)
        self.secrets = {key: f"secret-{secrets.token_hex(8)}" for key in KEYS}
        row = {"entry_point": "f", "tests": [{"args": [k], "expected": v} for k, v in self.secrets.items()]}
        with (self.server_dir / "data" / "validation.jsonl").open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(row) + "\n")
        # A folder shaped like another run's, readable by anyone: only the sandbox keeps it private.
        self.canary = Path(f"/tmp/gymkit-sandbox-canary-{self.token}")
        self.canary.mkdir(mode=0o755)
        (self.canary / "job.json").write_text(json.dumps(row), encoding="utf-8")
        (self.canary / "job.json").chmod(0o644)
        config_path = self.server_dir / "configs" / "python_sandbox.yaml"
        config = yaml.safe_load(config_path.read_text(encoding="utf-8"))
        config["python_sandbox_resources_server"]["resources_servers"]["python_sandbox"].update(
            {**LIMITS, "audit_hook": audit_hook}
        )
        config_path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
        self.data_hash = self._hash()
        self.abstract = f"\0gymkit-canary-{self.token}"
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(self.abstract)
        self.listener.listen(4)
        self.listener.setblocking(False)

    def _hash(self) -> str:
        data = self.server_dir / "data"
        digest = hashlib.sha256()
        for path in sorted(data.iterdir()):
            digest.update(path.name.encode() + path.read_bytes() + str(stat.S_IMODE(path.stat().st_mode)).encode())
        return digest.hexdigest()

    def start(self) -> None:
        env = {"PYTHONDONTWRITEBYTECODE": "1", "HOME": str(self.base)}
        python = sys.executable
        if self.user == "nobody":
            found = _nobody_python()
            if found is None:
                pytest.skip("no Python 3.11 interpreter here is executable by uid 65534")
            site = [p for p in sys.path if p.endswith("site-packages")]
            env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *site])
            wrapper = self.base / "python-as-nobody"
            # The supervisor's private TMPDIR is root's (mode 700): the server gets a folder of
            # its own inside it (passable, not listable), as a non-root gymkit's server owns its TMPDIR.
            wrapper.write_text(
                '#!/bin/sh\nset -e\nd="$TMPDIR/server"\nmkdir -m 700 "$d"\nchmod 711 "$TMPDIR"\n'
                f'chown {NOBODY}:{NOBODY} "$d"\nexport TMPDIR="$d" TMP="$d" TEMP="$d"\n'
                f'exec setpriv --reuid={NOBODY} --regid={NOBODY} --clear-groups {found} "$@"\n',
                encoding="utf-8",
            )
            wrapper.chmod(0o755)
            python = str(wrapper)
        with pytest.MonkeyPatch.context() as patch:
            if not self.confined:
                # What NeMo Gym does (it starts servers itself): gymkit's switch, honoured only outside CI.
                patch.delenv("CI", raising=False)
                patch.setenv("GYMKIT_CONFINE", "0")
            else:
                patch.delenv("GYMKIT_CONFINE", raising=False)
            self.process = ServerProcess(self.server_dir, python=python, env=env, timeout=60)
            self.process.__enter__()
        assert self.process._proc is not None
        self.pid = self.process._proc.pid
        self.url = self.process.url

    def stop(self) -> None:
        self.process.__exit__(None, None, None)
        self.listener.close()
        shutil.rmtree(self.canary, ignore_errors=True)

    def context(self) -> dict[str, Any]:
        domainname = Path("/proc/sys/kernel/domainname").read_text(encoding="utf-8").strip()
        port = int(self.url.rsplit(":", 1)[1])
        return {
            "server": str(self.server_dir),
            "pid": self.pid,
            "port": port,
            "token": self.token,
            "abstract": self.abstract,
            "domainname": domainname,
        }

    def answer(self, content: str, tests: list[dict[str, Any]]) -> dict[str, Any]:
        """``verify`` of ``content`` as the model's whole answer, not wrapped in a code block."""
        body = {
            "responses_create_params": {"input": [{"role": "user", "content": "Write f."}]},
            "response": {"output": [{"type": "message", "role": "assistant", "content": content}]},
            "entry_point": "f",
            "tests": tests,
        }
        request = urllib.request.Request(
            self.url + "/verify", data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.loads(response.read())

    def verify(self, code: str, tests: list[dict[str, Any]]) -> dict[str, Any]:
        return self.answer(f"```python\n{code}\n```", tests)

    @functools.cached_property
    def layers(self) -> list[str]:
        """What a correct solution's run reports: the layers every run of this server gets."""
        result = self.verify("def f(a, b):\n    return a + b", ADD_TESTS)
        assert result["reward"] == 1.0, result["sandbox"]
        return result["sandbox"]["layers"]

    def alive(self) -> bool:
        assert self.process._proc is not None
        if self.process._proc.poll() is not None:
            return False
        with urllib.request.urlopen(self.url + "/", timeout=10) as response:
            return json.loads(response.read())["status"] == "ok"

    def no_traces(self) -> list[str]:
        found = [
            str(p) for p in (Path(f"/tmp/gymkit-escape-{self.token}"), Path(f"/dev/shm/gymkit-escape-{self.token}"))
        ]
        found = [p for p in found if os.path.exists(p)]
        found += [str(p) for p in self.server_dir.rglob(f"*{self.token}*")]
        found += [str(p) for p in Path("/tmp").glob(f"gymkit-sandbox-*/escape-{self.token}")]
        # Every run's folder is gone once its verify answered, however deep a tree it held.
        tmp = self.process._proc.tmp if self.process._proc is not None else None
        if tmp is not None:
            found += [str(p) for p in [*tmp.glob("gymkit-sandbox-*"), *tmp.glob("*/gymkit-sandbox-*")]]
        if self._hash() != self.data_hash:
            found.append("the server's data/ changed")
        try:
            conn, _ = self.listener.accept()
            conn.close()
            found.append("the abstract unix socket was reached")
        except BlockingIOError:
            pass
        return found


# (user, audit hook, confined by gymkit): every server confined, the kernel-only ones unconfined too.
MODES = [
    *[(u, h, True) for u, h in (("root", True), ("root", False), ("nobody", True), ("nobody", False))],
    ("root", False, False),
    ("nobody", False, False),
]
MODE_IDS = [f"{u}-{'hook' if h else 'kernel_only'}-{'confined' if c else 'unconfined'}" for u, h, c in MODES]


@pytest.fixture(scope="module", params=MODES, ids=MODE_IDS)
def battery(request: pytest.FixtureRequest) -> Iterator[Battery]:
    if os.geteuid() != 0:
        pytest.skip("the battery switches between root and uid 65534, so it starts as root")
    user, hook, confined = request.param
    if confined and not confine.enabled():
        pytest.skip("gymkit cannot confine server code on this machine (no Landlock ABI >= 3)")
    base = Path(tempfile.mkdtemp(prefix="gymkit-battery-"))
    base.chmod(0o755)
    battery = Battery(user, hook, base, confined)
    try:
        battery.start()
        yield battery
    finally:
        if hasattr(battery, "process"):
            battery.stop()
        else:
            battery.listener.close()
            shutil.rmtree(battery.canary, ignore_errors=True)
        shutil.rmtree(base, ignore_errors=True)


ADD_TESTS = [{"args": [1, 2], "expected": 3}, {"args": [5, 7], "expected": 12}]


def _secret_tests(battery: Battery) -> list[dict[str, Any]]:
    return [{"args": [k], "expected": v} for k, v in battery.secrets.items()]


@pytest.mark.slow
def test_a_correct_solution_still_scores_one(battery: Battery) -> None:
    result = battery.verify("def f(a, b):\n    import math, collections\n    return a + b", ADD_TESTS)
    assert result["reward"] == 1.0, result["sandbox"]
    layers = set(result["sandbox"]["layers"])
    expected = {"pid_namespace", "network_namespace", "no_new_privs", "seccomp"}
    if battery.confined:
        # Inside gymkit's domain the kernel refuses mount(2): no tmpfs, a watched run folder.
        expected |= {"mountless", "disk_watch", "user_namespace", "no_capabilities"}
        expected |= {"seccomp_no_clone"} if battery.user == "root" else set()
        assert not layers & {"tmpfs", "mount_namespace", "unprivileged_user"}, layers
    else:
        expected |= {"tmpfs", "mount_namespace"}
        expected |= {"unprivileged_user"} if battery.user == "root" else {"user_namespace", "no_capabilities"}
        assert not layers & {"mountless", "disk_watch"}, layers
    assert expected <= layers and any(x.startswith("landlock_abi") for x in layers), layers
    assert ("audit_hook" in layers) == battery.audit_hook


@pytest.mark.slow
def test_the_payloads_would_score_if_their_escape_worked(battery: Battery) -> None:
    # The same read and act code, pointed at what the sandbox does allow, scores 1.0:
    # so a 0.0 below is the sandbox's doing, not a broken payload.
    ctx = battery.context()
    reader = _code("read", "yield _read('mine.jsonl')", ctx).replace(
        "def f(x):",
        f"open('mine.jsonl', 'w').write({json.dumps(json.dumps({'tests': _secret_tests(battery)}))})\ndef f(x):",
    )
    assert battery.verify(reader, _secret_tests(battery))["reward"] == 1.0
    actor = _code("act", "open('inside.txt', 'w').write('x')\nreturn True", ctx)
    assert battery.verify(actor, ADD_TESTS)["reward"] == 1.0


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(READS))
def test_reading_the_hidden_tests_scores_zero(battery: Battery, name: str) -> None:
    result = battery.verify(_code("read", READS[name], battery.context()), _secret_tests(battery))
    assert result["reward"] == 0.0, (name, result["sandbox"])
    assert battery.alive() and not battery.no_traces()


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(ACTS))
def test_escaping_actions_score_zero_and_leave_no_trace(battery: Battery, name: str) -> None:
    start = time.monotonic()
    result = battery.verify(_code("act", ACTS[name], battery.context()), ADD_TESTS)
    elapsed = time.monotonic() - start
    assert result["reward"] == 0.0, (name, result["sandbox"])
    assert elapsed < LIMITS["wall_seconds"] + 5.0, f"{name} took {elapsed:.1f}s"
    assert battery.alive(), f"{name}: the server died"
    assert battery.no_traces() == [], name


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(GAMES))
def test_protocol_games_score_zero(battery: Battery, name: str) -> None:
    result = battery.verify(GAMES[name], _secret_tests(battery))
    assert result["reward"] == 0.0, (name, result["sandbox"])
    assert battery.alive()


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(GRADER_GAMES))
def test_grader_games_score_zero_and_keep_the_reported_layers(battery: Battery, name: str) -> None:
    layers = battery.layers
    result = battery.verify(GRADER_GAMES[name], _secret_tests(battery))  # an HTTP 500 raises here
    assert result["reward"] == 0.0, (name, result["sandbox"])
    assert result["sandbox"]["status"] != "grader_error", (name, result["sandbox"])
    # Every run that got as far as the submission reports the same layers, whatever it wrote.
    assert result["sandbox"]["layers"] == layers, (name, result["sandbox"])
    assert battery.alive(), f"{name}: the server died"


@pytest.mark.slow
def test_expectations_past_float_range_are_compared_not_a_500(battery: Battery) -> None:
    tests = [{"args": [1], "expected": 10**400}, {"args": [2], "expected": 1.5}]
    swapped = battery.verify("def f(x):\n    return 1.5 if x == 1 else 10**400", tests)
    assert swapped["reward"] == 0.0 and swapped["sandbox"]["status"] == "finished", swapped["sandbox"]
    right = battery.verify("def f(x):\n    return 10**400 if x == 1 else 1.5", tests)
    assert right["reward"] == 1.0, right["sandbox"]
    close = battery.verify("def f(x):\n    return float(10**400 - 1) if x == 1 else 1.5", tests[:1])
    assert close["reward"] == 0.0, close["sandbox"]  # a float where an int is expected


@pytest.mark.slow
def test_backtick_floods_do_not_hold_up_a_correct_verify(battery: Battery) -> None:
    # Before the line scan, "``` " x 10,000 alone blocked the event loop for about 4.5 s.
    floods = ["`" * 20_000, "``` " * 10_000, "``` " * 50_000, "```\n" * 50_000, "```python\n" + "`" * 199_000]
    answers: list[dict[str, Any]] = []
    threads = [threading.Thread(target=lambda t=text: answers.append(battery.answer(t, ADD_TESTS))) for text in floods]
    for thread in threads:
        thread.start()
    time.sleep(0.3)
    start = time.monotonic()
    quick = battery.verify("def f(a, b):\n    return a + b", ADD_TESTS)
    answered_in = time.monotonic() - start
    for thread in threads:
        thread.join()
    assert quick["reward"] == 1.0, quick["sandbox"]
    assert answered_in < 3.0, f"a correct verify took {answered_in:.2f}s next to the floods"
    assert len(answers) == len(floods) and all(a["reward"] == 0.0 for a in answers), answers
    assert battery.alive()
