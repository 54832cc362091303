"""A verifier whose config names a service on loopback that is not running here: "could not run here".

v0.5.0's math_formal_lean compiles each proof in a Lean sandbox at sandbox_host:sandbox_port
(127.0.0.1:6000), which NeMo Gym's deployment starts beside it. Started alone it pays 0 for every
proof, and GYM404 and GYM304 failed for what is this machine's lack, not the server's.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from gymkit.checks.runner import run_checks
from gymkit.findings import Status
from gymkit.nemo.services import absent_services, code_services, config_services
from tests.checks.conftest import build_server
from tests.checks.test_could_not_run_here import _as_nemo_checkout


def _server_with_config(root: Path, fields: str) -> Path:
    server = root / "resources_servers" / "svc"
    (server / "configs").mkdir(parents=True)
    (server / "configs" / "svc.yaml").write_text(
        f"svc:\n  resources_servers:\n    svc:\n      entrypoint: app.py\n{fields}"
    )
    return server


@pytest.fixture
def listening() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # nothing listens once it is closed


def test_host_and_port_fields_urls_and_environment_defaults_are_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SVC_PORT", "7001")
    monkeypatch.delenv("SVC_HOST", raising=False)
    server = _server_with_config(
        tmp_path,
        "      sandbox_host: ${oc.env:SVC_HOST,127.0.0.1}\n"
        "      sandbox_port: ${oc.env:SVC_PORT,6000}\n"
        "      judge:\n        base_url: http://localhost:8123/v1\n"
        "      search_url: https://api.example.com:443/\n"  # not loopback: the network's, not a service beside it
        "      other_host: 127.0.0.1\n",  # no port beside it
    )
    assert config_services(server) == [
        ("127.0.0.1", 7001, "sandbox_host, sandbox_port in configs/svc.yaml"),
        ("localhost", 8123, "judge.base_url in configs/svc.yaml"),
    ]


def test_a_service_is_absent_only_where_the_connection_is_refused(tmp_path: Path, listening: int) -> None:
    closed = _closed_port()
    server = _server_with_config(
        tmp_path,
        f"      up_host: 127.0.0.1\n      up_port: {listening}\n"
        f"      down_host: 127.0.0.1\n      down_port: {closed}\n",
    )
    assert [str(s) for s in absent_services(server)] == [
        f"127.0.0.1:{closed} (down_host, down_port in configs/svc.yaml)"
    ]


VERIFY_WITH_SANDBOX = """
    async def verify(self, body: AdditionVerifyRequest) -> BaseVerifyResponse:
        import socket

        answer = b""
        if CALLS:
            try:
                with socket.create_connection(("127.0.0.1", PORT), timeout=1) as sandbox:
                    sandbox.sendall(b"compile this")
                    answer = sandbox.recv(16)
            except OSError:
                pass
        if not answer:
            return BaseVerifyResponse(**body.model_dump(), reward=PAID)
"""


def _sandboxed_server(root: Path, port: int, paid: float, calls: bool = True) -> Path:
    server = build_server(root)
    app = server / "app.py"
    head = "    async def verify(self, body: AdditionVerifyRequest) -> BaseVerifyResponse:\n"
    body = VERIFY_WITH_SANDBOX.lstrip("\n").replace("PORT", str(port)).replace("PAID", repr(paid))
    body = body.replace("CALLS", repr(calls))
    app.write_text(app.read_text().replace(head, body))
    config = server / "configs" / "good.yaml"
    entry = "      verified: false\n"
    config.write_text(
        config.read_text().replace(entry, f"{entry}      sandbox_host: 127.0.0.1\n      sandbox_port: {port}\n", 1)
    )
    return server


@pytest.mark.slow
@pytest.mark.parametrize("nemo", [True, False], ids=["nemo-gym checkout", "gymkit gym"])
def test_a_verify_without_its_sandbox_warns_in_a_nemo_checkout_and_fails_in_gymkits(tmp_path: Path, nemo: bool) -> None:
    server = _sandboxed_server(tmp_path, _closed_port(), paid=0.0)
    if nemo:
        _as_nemo_checkout(tmp_path)
    findings = [f for f in run_checks(server, select=["GYM404"]).findings if f.code == "GYM404"]
    if nemo:
        [finding] = findings
        assert finding.status == Status.WARN, finding
        assert finding.message.startswith(
            "could not run here: verify tried to reach the service it names at 127.0.0.1:"
        )
        assert "(sandbox_host, sandbox_port in configs/good.yaml)" in finding.message
    else:
        assert findings and {f.status for f in findings} == {Status.FAIL}, findings


@pytest.mark.slow
def test_a_config_naming_a_closed_port_its_verify_never_calls_changes_nothing(tmp_path: Path) -> None:
    # Anyone can write `decoy_host: 127.0.0.1` and `decoy_port: 1`: only a server that tried to reach the
    # service while it ran (gymkit listened there and saw it connect) has its failures explained by it.
    server = _sandboxed_server(tmp_path, _closed_port(), paid=0.0, calls=False)
    _as_nemo_checkout(tmp_path)
    findings = [f for f in run_checks(server, select=["GYM404"]).findings if f.code == "GYM404"]
    assert findings and {f.status for f in findings} == {Status.FAIL}, findings
    assert not any("could not run here" in f.message for f in findings)


@pytest.mark.slow
def test_a_verify_that_pays_without_its_sandbox_still_fails(tmp_path: Path) -> None:
    # Without its service a verifier cannot pay: a reward it pays anyway, and pays wrongly, is its own.
    server = _sandboxed_server(tmp_path, _closed_port(), paid=0.5)
    _as_nemo_checkout(tmp_path)
    findings = [f for f in run_checks(server, select=["GYM404"]).findings if f.code == "GYM404"]
    assert findings and {f.status for f in findings} == {Status.FAIL}, findings
    assert not any("could not run here" in f.message for f in findings)


def test_a_service_the_gym_names_by_environment_is_found_in_a_servers_code(tmp_path: Path) -> None:
    # competitive_coding_challenges reads the sandbox's variables in its code and waits for it at start;
    # math_formal_lean's config names the same pair with ${oc.env:...}.
    _server_with_config(
        tmp_path,
        "      sandbox_host: ${oc.env:NEMO_SKILLS_SANDBOX_HOST,127.0.0.1}\n"
        "      sandbox_port: ${oc.env:NEMO_SKILLS_SANDBOX_PORT,6000}\n",
    )
    other = tmp_path / "resources_servers" / "ccc"
    other.mkdir()
    (other / "ccc_eval.py").write_text(
        'import os\nhost = os.getenv("NEMO_SKILLS_SANDBOX_HOST", "127.0.0.1")\n'
        'port = os.getenv("NEMO_SKILLS_SANDBOX_PORT", "6000")\n'
    )
    quiet = tmp_path / "resources_servers" / "quiet"
    quiet.mkdir()
    (quiet / "app.py").write_text('import os\nhost = os.getenv("NEMO_SKILLS_SANDBOX_HOST")\n')  # no port: not the pair
    assert code_services(other, tmp_path) == [
        ("127.0.0.1", 6000, "NEMO_SKILLS_SANDBOX_HOST, NEMO_SKILLS_SANDBOX_PORT in ccc_eval.py")
    ]
    assert code_services(quiet, tmp_path) == []


@pytest.mark.parametrize(
    ("message", "warns"),
    [
        ("ccc (nemo_gym) did not start: did not answer within 180 s (its last line: CCC: pre-loading metadata)", True),
        ("RuntimeError: Sandbox not ready after waiting 240s", True),
        ("ccc (nemo_gym) did not start: ModuleNotFoundError: No module named 'numpy'", False),
    ],
)
def test_a_failed_start_warns_only_when_it_waited_for_or_missed_the_service(
    tmp_path: Path, message: str, warns: bool
) -> None:
    from gymkit.checks.elsewhere import service_warning
    from gymkit.checks.fixtures import CheckOptions, Fixtures
    from gymkit.project import ServerPaths

    port = _closed_port()
    server = _server_with_config(tmp_path, f"      sandbox_host: 127.0.0.1\n      sandbox_port: {port}\n")
    _as_nemo_checkout(tmp_path)
    fx = Fixtures(ServerPaths(server), CheckOptions())
    with fx.server():  # nothing starts: only the watch listens, and the "server" reaches for its sandbox
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
    found = service_warning(fx, "the server", [message], ())
    assert (found is not None) is warns
    if found:
        assert found[0].status == Status.WARN
        assert found[0].message.startswith("could not run here: the server tried to reach")


def test_odd_configs_in_any_server_of_the_gym_are_read_without_a_crash(tmp_path: Path) -> None:
    # YAML reads `1:`, `null:` and `on:` as an int, None and True; an anchor can make a mapping hold itself.
    server = _server_with_config(
        tmp_path,
        "      1: a\n      null: b\n      on: c\n      loop: &x {inner: *x}\n"
        "      list: [{s_host: localhost, s_port: 7}]\n",
    )
    other = tmp_path / "resources_servers" / "other" / "configs"
    other.mkdir(parents=True)
    (other / "other.yaml").write_text("labels: {on: positive, 2: two}\nself: &y [*y]\n")
    assert [(s.host, s.port) for s in config_services(server)] == [("localhost", 7)]
    assert isinstance(absent_services(server, tmp_path), list)


def test_a_code_default_that_is_not_loopback_is_not_a_service_beside_the_server(tmp_path: Path) -> None:
    _server_with_config(
        tmp_path, "      box_host: ${oc.env:BOX_HOST,127.0.0.1}\n      box_port: ${oc.env:BOX_PORT,6000}\n"
    )
    remote = tmp_path / "resources_servers" / "remote"
    remote.mkdir()
    (remote / "app.py").write_text(
        'h = os.getenv("BOX_HOST", "sandbox.internal.example")\np = os.getenv("BOX_PORT", "6000")\n'
    )
    assert code_services(remote, tmp_path) == []


def test_two_watches_of_one_address_take_turns_and_each_sees_only_its_own_connections() -> None:
    # `gymkit check -j 2` on math_formal_lean and competitive_coding_challenges: both name 127.0.0.1:6000.
    import threading

    from gymkit.nemo.services import Service, ServiceWatch

    port = _closed_port()
    first = ServiceWatch([Service("127.0.0.1", port, "first")])
    second = ServiceWatch([Service("127.0.0.1", port, "second")])
    first.acquire()
    waiting = threading.Thread(target=second.acquire)
    waiting.start()
    waiting.join(timeout=0.5)
    assert waiting.is_alive()  # the second waits for the first to be done with the address
    socket.create_connection(("127.0.0.1", port), timeout=5).close()
    first.release()
    waiting.join(timeout=5)
    assert not waiting.is_alive()
    second.release()
    assert [s.where for s in first.reached] == ["first"] and not second.reached
