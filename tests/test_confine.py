"""gymkit.confine through gymkit.childproc: what a confined child can and cannot do, in real processes."""

from __future__ import annotations

import json
import os
import re
import signal
import sys
import textwrap
from pathlib import Path

import pytest

from gymkit import childproc, confine
from gymkit.childproc import Confinement
from gymkit.errors import UserError

ABI = confine.landlock_abi()
pytestmark = pytest.mark.skipif(ABI < confine.MIN_ABI, reason=f"needs Landlock ABI >= {confine.MIN_ABI}")

# Each probe prints one JSON line: what happened, by name, "ok" or the errno's name.
PROBE = textwrap.dedent(
    """
    import errno, json, os, sys, tempfile
    allowed, outside, victim, parent, supervisor = sys.argv[1:6]
    found = {}
    def attempt(name, action):
        try:
            action()
            found[name] = "ok"
        except OSError as exc:
            found[name] = errno.errorcode.get(exc.errno, str(exc.errno))
    def write(path):
        with open(path, "w") as handle:
            handle.write("x")
    attempt("tmp", lambda: write(os.path.join(tempfile.gettempdir(), "mine")))
    attempt("allowed", lambda: write(os.path.join(allowed, "mine")))
    attempt("devnull", lambda: write(os.devnull))
    attempt("outside", lambda: write(os.path.join(outside, "new")))
    attempt("overwrite", lambda: write(victim))
    attempt("append", lambda: open(victim, "a").close())
    attempt("truncate", lambda: os.truncate(victim, 0))
    attempt("unlink", lambda: os.unlink(victim))
    attempt("rename_out", lambda: os.rename(os.path.join(allowed, "mine"), os.path.join(outside, "moved")))
    attempt("symlink", lambda: os.symlink("/etc/passwd", os.path.join(outside, "link")))
    attempt("mkdir", lambda: os.mkdir(os.path.join(outside, "dir")))
    attempt("read_victim", lambda: open(victim).read())
    attempt("signal_parent", lambda: os.kill(int(parent), 0))
    attempt("signal_supervisor", lambda: os.kill(int(supervisor), 0))
    attempt("parent_mem", lambda: open(f"/proc/{parent}/mem", "r+b").close())
    def ptrace_attach():
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.ptrace(16, int(parent), None, None) != 0:  # PTRACE_ATTACH
            raise OSError(ctypes.get_errno(), "ptrace")
        libc.ptrace(17, int(parent), None, None)  # PTRACE_DETACH, should it ever succeed
    attempt("ptrace_parent", ptrace_attach)
    print(json.dumps(found), flush=True)
    """
)


def _probe(tmp_path: Path, *, extra_env: dict[str, str] | None = None) -> tuple[dict[str, str], Path]:
    allowed, outside = tmp_path / "allowed", tmp_path / "outside"
    allowed.mkdir()
    outside.mkdir()
    victim = outside / "victim.txt"
    victim.write_text("original")
    # The supervisor's pid is the probe's parent: read from inside, passed as "$PPID".
    argv = ["sh", "-c", 'exec "$0" -c "$1" "$2" "$3" "$4" "$5" "$PPID"']
    argv += [sys.executable, PROBE, str(allowed), str(outside), str(victim), str(os.getpid())]
    env = {**os.environ, **(extra_env or {})}
    code, output = childproc.run(argv, env=env, timeout=60, confine=Confinement(writable=(allowed,)))
    assert code == 0, output
    return json.loads(output.strip().splitlines()[-1]), victim


def test_a_confined_child_writes_only_where_it_is_allowed(tmp_path: Path) -> None:
    found, victim = _probe(tmp_path, extra_env={"CI": ""})
    assert found["tmp"] == found["allowed"] == found["devnull"] == "ok", found
    for action in ("outside", "overwrite", "append", "truncate", "unlink", "rename_out", "symlink", "mkdir"):
        assert found[action] in ("EACCES", "EPERM", "EXDEV"), (action, found)
    assert found["read_victim"] == "ok"  # reads stay open: a server needs its code and its venv
    assert victim.read_text() == "original"
    assert sorted(p.name for p in victim.parent.iterdir()) == ["victim.txt"]


def test_a_confined_child_cannot_reach_gymkit_or_its_supervisor(tmp_path: Path) -> None:
    found, _ = _probe(tmp_path)
    # Landlock forbids ptrace, and writing /proc/PID/mem, of processes outside the domain.
    assert found["ptrace_parent"] == "EPERM", found
    assert found["parent_mem"] in ("EACCES", "EPERM"), found
    if ABI >= 6:
        assert found["signal_parent"] == "EPERM", found
        assert found["signal_supervisor"] == "EPERM", found


def test_the_supervisor_still_stops_a_confined_group(tmp_path: Path) -> None:
    # A confined command that ignores SIGTERM and forks: the supervisor, outside the domain, kills it all.
    script = (
        "import os, signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); os.fork(); "
        "print('up', flush=True); time.sleep(120)"
    )
    child = childproc.ChildProcess(
        [sys.executable, "-c", script], ready=re.compile("up"), grace=1.0, confine=Confinement()
    )
    assert child.start() is not None and child.confined
    pid, tmp = child.pid, child.tmp
    child.stop()
    with pytest.raises(ProcessLookupError):
        os.killpg(pid, 0)
    assert tmp is not None and not tmp.exists()  # its private temp folder is removed with it


def test_confinement_is_inherited_by_everything_the_command_starts(tmp_path: Path) -> None:
    target = tmp_path / "grandchild.txt"
    inner = f"open({str(target)!r}, 'w').write('x')"
    code, output = childproc.run(["sh", "-c", f'"{sys.executable}" -c "{inner}"'], timeout=60, confine=Confinement())
    assert code != 0 and "PermissionError" in output, output
    assert not target.exists()


def test_gymkit_confine_0_switches_it_off_locally_but_not_under_ci(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "written"
    write = [sys.executable, "-c", f"open({str(target)!r}, 'w').write('x')"]
    # The switch is read by the process that starts the child, from its own environment.
    monkeypatch.setenv("GYMKIT_CONFINE", "0")
    monkeypatch.delenv("CI", raising=False)
    code, _ = childproc.run(write, timeout=60, confine=Confinement())
    assert code == 0 and target.exists()
    target.unlink()
    monkeypatch.setenv("CI", "true")
    monkeypatch.setattr(confine, "_warned", False)
    code, output = childproc.run(write, timeout=60, confine=Confinement())
    assert code != 0 and "PermissionError" in output, output
    assert not target.exists()


def test_without_landlock_ci_refuses_and_a_local_run_warns(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(confine, "landlock_abi", lambda: 0)
    monkeypatch.setattr(confine, "_warned", False)
    monkeypatch.delenv("GYMKIT_CONFINE", raising=False)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(UserError, match="cannot confine the server's code: this machine lacks Landlock"):
        confine.enabled()
    monkeypatch.delenv("CI")
    assert confine.enabled() is False
    assert confine.enabled() is False
    warnings = capsys.readouterr().err.splitlines()
    assert len(warnings) == 1 and "server code runs unconfined" in warnings[0], warnings


def test_a_child_killed_by_a_signal_reports_it(tmp_path: Path) -> None:
    code, _ = childproc.run(
        [sys.executable, "-c", f"import os; os.kill(os.getpid(), {int(signal.SIGKILL)})"],
        timeout=60,
        confine=Confinement(),
    )
    assert code == 128 + signal.SIGKILL
