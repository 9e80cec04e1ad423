"""Multi-user: a real JupyterHub (its configurable-http-proxy, a local spawner, loopback only)
with deploy/hub/jupyterhub_config.py, two users and their own Jupyter servers with the omega
extension. Each user, with her own token through the hub's proxy, sees her buckets only; a
kernel of hers that reads another bucket's table with raw SQL is refused by PostgreSQL.

PostgreSQL only: on SQLite every bucket is readable by whoever opens the file (single-user).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import pandas as pd
import pytest
import requests
import sqlalchemy as sa

import omega_jupyter
from omega_jupyter.exceptions import ConfigurationError
from omega_jupyter.hub import BucketMap, OmegaSpawnHooks
from omega_jupyter.names import bucket_schema_name

pytest.importorskip("jupyterhub", reason="JupyterHub is the 'hub' extra (pip install .[hub])")

ROOT = Path(__file__).resolve().parents[1]
HUB_CONFIG = ROOT / "deploy" / "hub" / "jupyterhub_config.py"
TIMEOUT = 90  # seconds for the hub, each server, each call


def _proxy_command() -> str:
    found = (
        shutil.which("configurable-http-proxy")
        or ROOT / "node_modules/.bin/configurable-http-proxy"
    )
    if not Path(found).exists():
        pytest.skip("configurable-http-proxy is missing: `jlpm install` brings it (package.json)")
    return str(found)


def _free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


# -- the bucket map (no hub needed) ------------------------------------------------------------
def test_bucket_map_gives_own_listed_and_group_buckets() -> None:
    buckets = BucketMap.from_dict(
        {"users": {"alice": ["alice", "team-a"]}, "groups": {"team-a": "team-a", "ops": ["ops"]}}
    )
    assert buckets.buckets_for("alice", ["team-a"]) == ["alice", "team-a"]
    assert buckets.buckets_for("bob") == ["bob"]
    assert buckets.buckets_for("carol", ["ops", "team-a"]) == ["carol", "ops", "team-a"]
    with pytest.raises(ConfigurationError, match=r"list her buckets under \[users\]"):
        buckets.buckets_for("erin@example.org")  # never a look-alike bucket
    listed = BucketMap.from_dict({"users": {"erin@example.org": ["erin"]}})
    assert listed.buckets_for("erin@example.org") == ["erin"]
    groups_only = BucketMap.from_dict({"own_buckets": False, "groups": {"ops": ["ops"]}})
    assert groups_only.buckets_for("dave") == []
    assert groups_only.buckets_for("dave", ["ops"]) == ["ops"]


def test_a_user_without_buckets_gets_no_server(postgres_url) -> None:
    hooks = OmegaSpawnHooks(BucketMap(own_buckets=False), database_url=postgres_url)
    with pytest.raises(omega_jupyter.exceptions.PermissionDeniedError):
        hooks.environment("nobody", [])


KERNEL_PROBE = """
import json, omega_jupyter as om
from omega_jupyter.exceptions import PermissionDeniedError
seen = {{"own": om.db.url.username, "own_data": om.datasets.list()}}
team = om["{team}"]
seen["team"] = team.db.url.username
seen["team_data"] = team.datasets.list()
team.datasets.put({{"v": 1}}, "from-alice")
seen["back"] = team["{own}"].db.url.username
seen["setup"] = om.setup(bucket="{team}").db.url.username
try:
    om["{other}"].datasets.list()
    seen["other"] = "READ"
except PermissionDeniedError as exc:
    seen["other"] = str(exc)
print(json.dumps(seen))
"""


def test_a_users_process_uses_each_buckets_own_credential(postgres_url, buckets) -> None:
    """What a hub user's kernel gets (the hooks' environment): ``om['team']`` logs in with
    team's credential, not hers; a bucket she was not given is refused."""
    hooks = OmegaSpawnHooks(
        BucketMap.from_dict(
            {"users": {"alice": [buckets["alice"]]}, "groups": {"t": [buckets["team-a"]]}}
        ),
        database_url=postgres_url,
        ttl=600,
    )
    given = hooks.environment("alice", ["t"])
    urls = json.loads(given["OMEGA_BUCKET_DATABASE_URLS"])
    logins = {b: sa.make_url(u).username for b, u in urls.items()}
    env = {k: v for k, v in os.environ.items() if not k.startswith("OMEGA_")}
    env.update(given, OMEGA_HOME=str(Path(os.environ.get("TMPDIR", "/tmp"))))
    code = KERNEL_PROBE.format(own=buckets["alice"], team=buckets["team-a"], other=buckets["bob"])
    try:
        done = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stderr
        seen = json.loads(done.stdout.strip().splitlines()[-1])
    finally:
        hooks._revoke(list(urls.values()))
    assert seen["own"] == logins[buckets["alice"]] and seen["own_data"] == ["alice-data"]
    assert seen["team"] == logins[buckets["team-a"]] != seen["own"]
    assert seen["team_data"] == ["team-a-data"]
    assert seen["back"] == seen["own"] and seen["setup"] == seen["team"]
    assert seen["other"].startswith(f"permission denied for bucket '{buckets['bob']}'"), seen
    service = omega_jupyter.setup(url=postgres_url, bucket=buckets["team-a"])
    assert service.datasets.get("from-alice")["v"] == 1  # written into team's bucket


# -- the hub ----------------------------------------------------------------------------------
class Hub:
    """A running JupyterHub: its processes, its proxy's URL, an admin token."""

    def __init__(self, workdir: Path, env: dict[str, str]) -> None:
        self.workdir = workdir
        self.port, hub_port, api_port = _free_ports(3)
        self.url = f"http://127.0.0.1:{self.port}"
        self.admin_token = uuid.uuid4().hex
        config = workdir / "jupyterhub_config.py"
        config.write_text(
            textwrap.dedent(
                f"""
                import sys
                c = get_config()
                load_subconfig({str(HUB_CONFIG)!r})
                c.JupyterHub.bind_url = "http://127.0.0.1:{self.port}"
                c.JupyterHub.hub_ip = "127.0.0.1"
                c.JupyterHub.hub_port = {hub_port}
                c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{api_port}"
                c.ConfigurableHTTPProxy.command = [{_proxy_command()!r}]
                c.JupyterHub.db_url = "sqlite:///{workdir}/hub.sqlite"
                c.JupyterHub.cookie_secret_file = "{workdir}/cookie_secret"
                c.JupyterHub.pid_file = "{workdir}/hub.pid"
                c.JupyterHub.spawner_class = "simple"
                c.SimpleLocalProcessSpawner.home_dir_template = "{workdir}/home/{{username}}"
                c.Spawner.cmd = [sys.executable, "-m", "jupyterhub.singleuser"]
                c.Spawner.ip = "127.0.0.1"
                c.Spawner.args = ["--allow-root"]  # the tests may run as root (CI does)
                c.Spawner.env_keep = ["PATH", "PYTHONPATH", "LANG"]
                c.Spawner.start_timeout = {TIMEOUT}
                c.Spawner.http_timeout = {TIMEOUT}
                c.JupyterHub.authenticator_class = "shared-password"
                c.SharedPasswordAuthenticator.user_password = {uuid.uuid4().hex!r}
                c.Authenticator.allowed_users = {{"alice", "bob"}}
                c.JupyterHub.load_groups = {{"team-a": {{"users": ["alice"]}}}}
                c.JupyterHub.services = [{{"name": "tester", "api_token": {self.admin_token!r}}}]
                c.JupyterHub.load_roles = [{{
                    "name": "tester",
                    "scopes": ["admin:users", "admin:servers", "tokens", "list:users"],
                    "services": ["tester"],
                }}]
                """
            )
        )
        self.log = open(workdir / "hub.log", "wb")  # noqa: SIM115 (closed in stop)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "jupyterhub", "-f", str(config)],
            cwd=workdir,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            self._wait(lambda: self.api("GET", "/").ok, "the hub to answer")
        except BaseException:  # pytest.fail too: the fixture never yields, stop it here
            self.stop()
            raise

    def api(self, method: str, path: str, token: str | None = None, **kwargs) -> requests.Response:
        headers = {"Authorization": f"token {token or self.admin_token}"}
        try:
            return requests.request(
                method, f"{self.url}/hub/api{path}", headers=headers, timeout=TIMEOUT, **kwargs
            )
        except requests.ConnectionError:
            response = requests.Response()
            response.status_code = 599
            return response

    def _wait(self, ready, what: str) -> None:
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"the hub exited ({self.process.returncode}):\n{self.logs()}")
            if ready():
                return
            time.sleep(0.3)
        pytest.fail(f"timed out waiting for {what}:\n{self.logs()}")

    def logs(self) -> str:
        self.log.flush()
        return (self.workdir / "hub.log").read_text(errors="replace")[-6000:]

    def start_server(self, user: str) -> str:
        """Start ``user``'s server through the hub's API; returns a token of hers."""
        token = self.api("POST", f"/users/{user}/tokens", json={"note": "test"})
        assert token.status_code in (200, 201), token.text
        started = self.api("POST", f"/users/{user}/server")
        assert started.status_code in (201, 202), started.text

        def ready() -> bool:
            server = self.api("GET", f"/users/{user}").json()["servers"].get("")
            if server is None:  # the spawn failed: the hub forgot the server
                pytest.fail(f"{user}'s server did not start:\n{self.logs()}")
            return bool(server["ready"])

        self._wait(ready, f"{user}'s server")
        return token.json()["token"]

    def stop(self) -> None:
        if self.process.poll() is None:
            try:  # the hub stops its users' servers: their post_stop hooks run
                self._stop_servers()
            except (requests.RequestException, ValueError):
                pass  # the hub does not answer: it is ended below all the same
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
                self.process.wait(30)
            except ProcessLookupError:
                pass
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)
        self.log.close()

    def _stop_servers(self) -> None:
        users = ("alice", "bob")
        for user in users:
            self.api("DELETE", f"/users/{user}/server")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and any(
            self.api("GET", f"/users/{u}").json().get("servers") for u in users
        ):
            time.sleep(0.3)


class UserClient:
    """One hub user's calls to her own server, through the hub's proxy, with her token."""

    def __init__(self, hub: Hub, user: str, token: str) -> None:
        self.base = f"{hub.url}/user/{user}"
        self.headers = {"Authorization": f"token {token}"}

    def get(self, path: str, bucket: str | None = None) -> requests.Response:
        headers = dict(self.headers, **({"Bucket": bucket} if bucket else {}))
        return requests.get(f"{self.base}/{path}", headers=headers, timeout=TIMEOUT)

    def datasets(self, bucket: str | None = None) -> list[str]:
        response = self.get("omega/api/v1/datasets", bucket)
        assert response.status_code == 200, response.text
        return sorted(d["name"] for d in response.json()["items"])

    def run_code(self, code: str) -> str:
        """Run ``code`` in a new kernel of her server; returns what it printed."""
        import asyncio

        from tornado.httpclient import HTTPRequest
        from tornado.websocket import websocket_connect

        kernel = requests.post(
            f"{self.base}/api/kernels", headers=self.headers, json={}, timeout=TIMEOUT
        )
        assert kernel.status_code == 201, kernel.text
        kernel_id = kernel.json()["id"]

        async def execute() -> str:
            url = f"{self.base.replace('http', 'ws', 1)}/api/kernels/{kernel_id}/channels"
            ws = await websocket_connect(HTTPRequest(url, headers=self.headers))
            msg_id = uuid.uuid4().hex
            header = {"msg_id": msg_id, "msg_type": "execute_request", "session": msg_id}
            header.update(username="test", version="5.3", date="")
            content = {"code": code, "silent": False, "store_history": False}
            content.update(user_expressions={}, allow_stdin=False, stop_on_error=True)
            message = {"header": header, "parent_header": {}, "metadata": {}, "buffers": []}
            await ws.write_message(json.dumps({**message, "content": content, "channel": "shell"}))
            out = []
            while True:
                raw = await ws.read_message()
                assert raw is not None, "the kernel's channel closed"
                reply = json.loads(raw)
                if reply.get("parent_header", {}).get("msg_id") != msg_id:
                    continue
                kind = reply["msg_type"]
                if kind == "stream":
                    out.append(reply["content"]["text"])
                elif kind == "error":
                    out.append("\n".join(reply["content"]["traceback"]))
                elif kind == "status" and reply["content"]["execution_state"] == "idle":
                    ws.close()
                    return "".join(out)

        try:
            return asyncio.run(asyncio.wait_for(execute(), TIMEOUT))
        finally:
            requests.delete(
                f"{self.base}/api/kernels/{kernel_id}", headers=self.headers, timeout=TIMEOUT
            )


@pytest.fixture
def buckets(postgres_url):
    """Buckets of this test (their names unique in the session's database), with data."""
    tag = uuid.uuid4().hex[:6]
    names = {"alice": f"alice-{tag}", "team-a": f"team-a-{tag}", "bob": f"bob-{tag}"}
    service = omega_jupyter.setup(url=postgres_url)
    for key, bucket in names.items():
        service[bucket].datasets.put(pd.DataFrame({"v": [1, 2]}), f"{key}-data")
    return names


@pytest.fixture
def hub(tmp_path, postgres_url, buckets):
    _proxy_command()
    (tmp_path / "buckets.toml").write_text(
        textwrap.dedent(
            f"""
            [users]
            alice = ["{buckets["alice"]}"]
            bob = ["{buckets["bob"]}"]
            [groups]
            team-a = ["{buckets["team-a"]}"]
            """
        )
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("OMEGA_")}
    env.update(
        OMEGA_DATABASE_URL=postgres_url,
        OMEGA_HUB_BUCKETS=str(tmp_path / "buckets.toml"),
        OMEGA_HUB_CREDENTIAL_TTL="600",
        OMEGA_HUB_SPAWNER="local",  # then the test picks the simple local spawner
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    )
    running = Hub(tmp_path, env)
    yield running
    running.stop()


def _credentials(postgres_url: str) -> set[str]:
    service = omega_jupyter.setup(url=postgres_url)
    with service.db.connect() as conn:
        prefix = conn.execute(
            sa.text("SELECT value FROM om_settings WHERE key = 'role_prefix'")
        ).scalar()
        return set(
            conn.execute(
                sa.text("SELECT rolname FROM pg_roles WHERE starts_with(rolname, :p)"),
                {"p": f"{prefix}_c_"},
            ).scalars()
        )


@pytest.mark.slow
def test_each_hub_user_sees_only_her_buckets(hub, buckets, postgres_url) -> None:
    before = _credentials(postgres_url)
    alice = UserClient(hub, "alice", hub.start_server("alice"))
    bob = UserClient(hub, "bob", hub.start_server("bob"))
    issued = _credentials(postgres_url) - before
    assert len(issued) == 3  # alice: her bucket and team-a's; bob: his

    # her own bucket by default, her team's by the Bucket: header
    assert alice.datasets() == ["alice-data"]
    assert alice.datasets(buckets["team-a"]) == ["team-a-data"]
    assert bob.datasets() == ["bob-data"]
    # another's bucket is refused by her server, before any database call
    for client, other in ((alice, buckets["bob"]), (bob, buckets["alice"])):
        refused = client.get("omega/api/v1/datasets", other)
        assert refused.status_code == 403, refused.text
        assert refused.json()["error"] == "forbidden"
    assert bob.get("omega/api/v1/datasets", buckets["team-a"]).status_code == 403
    assert bob.get("omega/api/v1/datasets/team-a-data", buckets["team-a"]).status_code == 403
    # a user's token does not open another user's server
    assert bob.get("../alice/omega/api/v1/datasets").status_code in (403, 404, 302)
    denied = requests.get(
        f"{hub.url}/user/alice/omega/api/v1/datasets",
        headers=bob.headers,
        timeout=TIMEOUT,
        allow_redirects=False,
    )
    assert denied.status_code in (302, 403), denied.status_code

    # her kernel holds her credential, never the service's; PostgreSQL refuses bob's table
    with omega_jupyter.setup(url=postgres_url).db.connect() as conn:
        [table] = conn.execute(
            sa.text("SELECT tablename FROM pg_tables WHERE schemaname = :s"),
            {"s": bucket_schema_name(buckets["bob"])},
        ).scalars()
    printed = alice.run_code(
        textwrap.dedent(
            f"""
            import os
            import sqlalchemy as sa
            url = sa.make_url(os.environ["OMEGA_DATABASE_URL"])
            print("user", url.username, os.environ["OMEGA_BUCKET"])
            engine = sa.create_engine(url)
            try:
                with engine.connect() as conn:
                    print("READ", conn.execute(sa.text(
                        'SELECT * FROM "{bucket_schema_name(buckets["bob"])}"."{table}"'
                    )).all())
            except sa.exc.ProgrammingError as exc:
                print("REFUSED", exc.orig)
            with engine.connect() as conn:
                print("ROWS", conn.execute(sa.text(
                    "SELECT count(*) FROM om_objects WHERE bucket = '{buckets["bob"]}'"
                )).scalar())
            """
        )
    )
    _, login, bucket = printed.splitlines()[0].split()
    assert login in issued and bucket == buckets["alice"], printed
    assert "REFUSED permission denied for schema" in printed, printed
    assert "READ" not in printed and "ROWS 0" in printed, printed
    # in her kernel, om['team'] logs in with team's credential; bob's bucket is refused
    printed = alice.run_code(
        textwrap.dedent(
            f"""
            import omega_jupyter as om
            team = om["{buckets["team-a"]}"]
            print("TEAM", team.db.url.username, ",".join(team.datasets.list()))
            try:
                om["{buckets["bob"]}"].datasets.list()
            except Exception as exc:
                print("OTHER", type(exc).__name__)
            """
        )
    )
    team_line, other_line = printed.splitlines()[:2]
    _, team_login, team_data = team_line.split()
    assert team_login in issued and team_login != login and team_data == "team-a-data", printed
    assert other_line == "OTHER PermissionDeniedError", printed

    # stopping the servers drops their credentials
    hub.stop()
    assert not (_credentials(postgres_url) & issued)
