"""Offline checks of the deployment files (no container engine or cluster here): the compose
file and the Kubernetes manifests parse and hang together, the image and Binder set-up install
the package. ``docker compose config`` and ``kubectl kustomize`` run only where installed."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
ENV_NAMES = {"OMEGA_DATABASE_URL", "OMEGA_DASK_ADDRESS"}


def compose() -> dict:
    return yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())


def k8s_documents() -> list[dict]:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    docs = []
    for resource in kustomization["resources"]:
        docs += [d for d in yaml.safe_load_all((K8S / resource).read_text()) if d]
    return docs


def _command(service: dict) -> list[str]:
    command = service.get("command", [])
    return command if isinstance(command, list) else command.split()


def test_compose_has_the_whole_topology() -> None:
    services = compose()["services"]
    commands = {name: " ".join(_command(s)) for name, s in services.items()}
    assert services["postgres"]["image"].startswith("postgres:")
    assert "dask scheduler" in commands["dask-scheduler"]
    assert "dask worker tcp://dask-scheduler:8786" in commands["dask-worker"]
    assert services["dask-worker"]["deploy"]["replicas"] >= 2
    assert commands["jupyter"].startswith("jupyter lab")
    assert commands["omserve"].startswith("om serve") and "0.0.0.0" in commands["omserve"]
    assert commands["scheduler"] == "om scheduler"
    assert services["scheduler"]["deploy"]["replicas"] >= 2
    assert commands["migrate"] == "om db upgrade"


def test_compose_services_share_consistent_settings() -> None:
    spec = compose()
    services = spec["services"]
    postgres_env = services["postgres"]["environment"]
    for name, service in services.items():
        if name == "postgres":
            continue
        image = "omega-jupyter-hub:latest" if name == "hub" else "omega-jupyter:latest"
        assert service["image"] == image, name
        env = service["environment"]
        assert set(env) >= ENV_NAMES, name
        url = env["OMEGA_DATABASE_URL"]
        match = re.match(r"postgresql\+psycopg://(\w+):(.+)@([\w-]+):5432/(\w+)$", url)
        assert match, url
        user, password, host, database = match.groups()
        assert (user, database) == (postgres_env["POSTGRES_USER"], postgres_env["POSTGRES_DB"])
        assert password == postgres_env["POSTGRES_PASSWORD"] and host in services
        assert env["OMEGA_DASK_ADDRESS"] == "tcp://dask-scheduler:8786"
        # every dependency names a service; everything waits for the migrated database
        depends = service.get("depends_on", {})
        assert set(depends) <= set(services), name
        assert depends["postgres"]["condition"] == "service_healthy"
        if name != "migrate":
            assert depends["migrate"]["condition"] == "service_completed_successfully"
    # 12-factor: settings come from the environment, no service mounts a config file (the
    # hub mounts the Docker socket only, to start the users' containers)
    assert [n for n, svc in services.items() if "volumes" in svc] == ["postgres", "hub"]
    assert services["hub"]["volumes"] == ["/var/run/docker.sock:/var/run/docker.sock"]
    assert "volumes" in spec and "pgdata" in spec["volumes"]
    build = services["migrate"]["build"]
    assert (DEPLOY / build["context"] / build["dockerfile"]).resolve() == DEPLOY / "Dockerfile"


def test_compose_hub_gives_users_the_omega_image() -> None:
    hub = compose()["services"]["hub"]
    env = hub["environment"]
    assert env["OMEGA_HUB_SPAWNER"] == "docker"
    assert env["OMEGA_HUB_IMAGE"] == "omega-jupyter:latest"
    assert env["OMEGA_HUB_NETWORK"] == f"{compose()['name']}_default"
    dockerfile = DEPLOY / hub["build"]["context"] / hub["build"]["dockerfile"]
    text = dockerfile.read_text()
    assert re.search(r"^FROM omega-jupyter:latest$", text, flags=re.M)
    assert "configurable-http-proxy" in text and "dockerspawner" in text
    assert "jupyterhub_config.py" in re.search(r"^CMD (.+)$", text, flags=re.M).group(1)
    # the users' servers run jupyterhub-singleuser: the omega image has the hub extra
    assert '[hub]"' in (DEPLOY / "Dockerfile").read_text()


def test_dockerfile_builds_the_wheel_with_the_extension() -> None:
    text = (DEPLOY / "Dockerfile").read_text()
    stages = re.findall(r"^FROM (\S+)", text, flags=re.M)
    assert len(stages) == 2 and all(s.startswith("python:3.11") for s in stages)
    assert "python -m build --wheel" in text and "pip install /wheels/*.whl" in text
    assert "USER omega" in text and re.search(r"^CMD \[", text, flags=re.M)
    for port in ("8888", "8000", "8786", "8787"):
        assert port in re.search(r"^EXPOSE (.+)$", text, flags=re.M).group(1)
    ignored = (DEPLOY / "Dockerfile.dockerignore").read_text().split()
    assert ".venv" in ignored and "**/node_modules" in ignored


def test_k8s_manifests_have_required_fields() -> None:
    docs = k8s_documents()
    for doc in docs:
        assert doc.get("apiVersion") and doc.get("kind"), doc
        assert doc["metadata"].get("name"), doc
    kinds = {(d["kind"], d["metadata"]["name"]) for d in docs}
    for needed in [
        ("DaskCluster", "omega"),
        ("Deployment", "omega-jupyter"),
        ("Deployment", "omega-serve"),
        ("Deployment", "omega-scheduler"),
        ("StatefulSet", "postgres"),
        ("Job", "omega-migrate"),
        ("ConfigMap", "omega-config"),
        ("Secret", "omega-secrets"),
    ]:
        assert needed in kinds, needed
    pod_labels = []
    for doc in docs:
        if doc["kind"] in ("Deployment", "StatefulSet"):
            selector = doc["spec"]["selector"]["matchLabels"]
            labels = doc["spec"]["template"]["metadata"]["labels"]
            assert selector.items() <= labels.items(), doc["metadata"]["name"]
            pod_labels.append(labels)
            _check_containers(doc["spec"]["template"]["spec"]["containers"], docs)
        if doc["kind"] == "Job":
            _check_containers(doc["spec"]["template"]["spec"]["containers"], docs)
        if doc["kind"] == "Service":
            ports = doc["spec"]["ports"]
            assert ports and all("port" in p for p in ports)
            selector = doc["spec"]["selector"]
            assert any(selector.items() <= labels.items() for labels in pod_labels), selector


def _check_containers(containers: list[dict], docs: list[dict]) -> None:
    names = {(d["kind"], d["metadata"]["name"]) for d in docs}
    for container in containers:
        assert container["name"] and container["image"]
        for source in container.get("envFrom", []):
            ref = source.get("configMapRef") or source.get("secretRef")
            kind = "ConfigMap" if "configMapRef" in source else "Secret"
            assert (kind, ref["name"]) in names, ref


def test_dask_cluster_uses_the_operator_and_matches_the_address() -> None:
    docs = k8s_documents()
    cluster = next(d for d in docs if d["kind"] == "DaskCluster")
    assert cluster["apiVersion"] == "kubernetes.dask.org/v1"
    worker = cluster["spec"]["worker"]["spec"]["containers"][0]
    scheduler = cluster["spec"]["scheduler"]["spec"]["containers"][0]
    assert worker["image"] == scheduler["image"] == "omega-jupyter"
    assert worker["args"][:2] == ["dask", "worker"] and scheduler["args"][:2] == [
        "dask",
        "scheduler",
    ]
    assert cluster["spec"]["worker"]["replicas"] >= 2
    ports = {p["name"]: p["port"] for p in cluster["spec"]["scheduler"]["service"]["ports"]}
    config = next(d for d in docs if d["kind"] == "ConfigMap")
    # the operator names the scheduler Service "<cluster>-scheduler"
    expected = f"tcp://{cluster['metadata']['name']}-scheduler:{ports['tcp-comm']}"
    assert config["data"]["OMEGA_DASK_ADDRESS"] == expected
    secret = next(d for d in docs if d["kind"] == "Secret")
    assert secret["stringData"]["OMEGA_DATABASE_URL"].startswith("postgresql+psycopg://")
    autoscaler = next(d for d in docs if d["kind"] == "DaskAutoscaler")
    assert autoscaler["spec"]["cluster"] == cluster["metadata"]["name"]


def test_binder_installs_the_package_with_embedded_defaults(tmp_path: Path) -> None:
    env = yaml.safe_load((ROOT / "binder" / "environment.yml").read_text())
    deps = [d for d in env["dependencies"] if isinstance(d, str)]
    assert any(d.startswith("python=3.11") for d in deps)
    assert any(d.startswith("nodejs") for d in deps)
    post_build = ROOT / "binder" / "postBuild"
    start = ROOT / "binder" / "start"
    assert os.access(post_build, os.X_OK) and os.access(start, os.X_OK)
    assert "pip install --no-cache-dir ." in post_build.read_text()
    # the start script drops any configured database/cluster and runs the given command
    result = subprocess.run(
        [str(start), "env"],
        capture_output=True,
        text=True,
        env={
            **{k: v for k, v in os.environ.items() if k != "OMEGA_HOME"},
            "HOME": str(tmp_path),
            "OMEGA_DATABASE_URL": "postgresql://x/y",
        },
        check=True,
    )
    lines = result.stdout.splitlines()
    assert f"OMEGA_HOME={tmp_path}/.omega_jupyter" in lines
    assert not any(line.startswith("OMEGA_DATABASE_URL=") for line in lines)


@pytest.mark.skipif(
    subprocess.run(["docker", "compose", "version"], capture_output=True).returncode != 0
    if shutil.which("docker")
    else True,
    reason="the docker compose plugin is not installed here",
)
def test_docker_compose_config() -> None:
    subprocess.run(
        ["docker", "compose", "-f", str(DEPLOY / "docker-compose.yml"), "config", "--quiet"],
        check=True,
    )


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed here")
def test_kustomize_renders_every_resource() -> None:
    out = subprocess.run(
        ["kubectl", "kustomize", str(K8S)], capture_output=True, text=True, check=True
    ).stdout
    rendered = [d for d in yaml.safe_load_all(out) if d]
    assert len(rendered) == len(k8s_documents())
    assert all(
        d["metadata"].get("namespace") == "omega" for d in rendered if d["kind"] != "Namespace"
    )
