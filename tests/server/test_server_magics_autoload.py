"""``OmegaExtensionApp.load_magics``: kernels started through the server have ``%om`` without
``%load_ext``; without the option they do not."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from traitlets.config import Config

from omega_jupyter.server.extension import _is_ipython_kernel


@pytest.fixture
def load_magics(request: pytest.FixtureRequest) -> bool:
    return getattr(request, "param", True)


@pytest.fixture
def jp_server_config(jp_server_config: Config, load_magics: bool) -> Config:
    jp_server_config.OmegaExtensionApp.load_magics = load_magics
    return jp_server_config


@pytest.fixture
def kernel_env(database_url: str, bucket: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Kernels inherit the server's environment: point their default client at the store."""
    monkeypatch.setenv("OMEGA_DATABASE_URL", database_url)
    monkeypatch.setenv("OMEGA_BUCKET", bucket)


async def run_in_new_kernel(jp_fetch, jp_serverapp, code: str) -> tuple[str, dict]:
    """Start a python3 kernel through the REST API, run ``code``: (output text, reply)."""
    response = await jp_fetch("api", "kernels", method="POST", body=json.dumps({"name": "python3"}))
    kernel_id = json.loads(response.body)["id"]
    client = jp_serverapp.kernel_manager.get_kernel(kernel_id).client()
    client.start_channels()
    chunks: list[str] = []

    def collect(msg: dict) -> None:
        content = msg["content"]
        if msg["msg_type"] == "stream":
            chunks.append(content["text"])
        elif msg["msg_type"] in ("execute_result", "display_data"):
            chunks.append(content["data"].get("text/plain", ""))
        elif msg["msg_type"] == "error":
            chunks.append(f"{content['ename']}: {content['evalue']}")

    try:
        await client.wait_for_ready(timeout=60)
        reply = await client.execute_interactive(code, timeout=60, output_hook=collect)
    finally:
        client.stop_channels()
        await jp_fetch("api", "kernels", kernel_id, method="DELETE")
    return "".join(chunks), reply["content"]


async def test_om_works_in_a_new_kernel_without_load_ext(
    jp_fetch, jp_serverapp, kernel_env, om
) -> None:
    om.datasets.put(pd.DataFrame({"a": [1, 2]}), "autoloaded")
    output, reply = await run_in_new_kernel(jp_fetch, jp_serverapp, "%om ls")
    assert reply["status"] == "ok", output
    assert "autoloaded" in output


@pytest.mark.parametrize("load_magics", [False], indirect=True)
async def test_without_the_option_kernels_are_unchanged(jp_fetch, jp_serverapp, kernel_env) -> None:
    output, reply = await run_in_new_kernel(jp_fetch, jp_serverapp, "%om ls")
    assert reply["status"] == "error"
    assert "om" in output and "not found" in output


def test_only_ipython_kernelspecs_get_the_argument(jp_serverapp) -> None:
    specs = jp_serverapp.kernel_manager.kernel_spec_manager
    assert _is_ipython_kernel(specs, "python3")
    assert not _is_ipython_kernel(specs, "echo")  # another language's kernel: argv unchanged
    assert not _is_ipython_kernel(specs, "no-such-kernel")
