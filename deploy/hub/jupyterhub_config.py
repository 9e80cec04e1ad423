# JupyterHub in front of omega_jupyter: each hub user gets her own Jupyter server with the omega
# extension, logged in to PostgreSQL with her buckets' short-lived credentials only
# (omega_jupyter.hub; docs/deploy.md says how to map users and groups to buckets).
#
# Settings, from the hub's environment:
#   OMEGA_DATABASE_URL        the service's URL (it issues the users' credentials; never
#                             passed to a user's server)
#   OMEGA_HUB_BUCKETS         the bucket map (TOML), default: buckets.toml beside this file
#   OMEGA_HUB_CREDENTIAL_TTL  seconds a user's credentials live (default 12 h)
#   OMEGA_DASK_ADDRESS        the Dask scheduler the users' servers submit runs to
#   OMEGA_HUB_SPAWNER         "docker" (default: a container per user, on OMEGA_HUB_NETWORK)
#                             or "local" (a process per user as her own system account)
#   OMEGA_HUB_AUTHENTICATOR   JupyterHub's authenticator_class (default "pam"; an OAuth one
#                             from the oauthenticator package in production)
#   OMEGA_HUB_SHARED_PASSWORD the password of the "shared-password" authenticator (demos)
import os
from pathlib import Path

from omega_jupyter.hub import DEFAULT_TTL, BucketMap, OmegaSpawnHooks

c = get_config()  # noqa: F821 (JupyterHub's config loader defines it)

buckets = BucketMap.from_file(
    os.environ.get("OMEGA_HUB_BUCKETS") or Path(__file__).with_name("buckets.toml")
)
hooks = OmegaSpawnHooks(
    buckets,
    database_url=os.environ["OMEGA_DATABASE_URL"],
    ttl=float(os.environ.get("OMEGA_HUB_CREDENTIAL_TTL") or DEFAULT_TTL),
    dask_address=os.environ.get("OMEGA_DASK_ADDRESS") or None,
)
hooks.configure(c)

c.JupyterHub.authenticator_class = os.environ.get("OMEGA_HUB_AUTHENTICATOR", "pam")
if os.environ.get("OMEGA_HUB_SHARED_PASSWORD"):
    c.SharedPasswordAuthenticator.user_password = os.environ["OMEGA_HUB_SHARED_PASSWORD"]
# the users the map names may log in (and whoever an admin adds); group members get their
# groups' buckets: groups come from the authenticator (manage_groups) or c.JupyterHub.load_groups
c.Authenticator.allowed_users = set(buckets.users)
c.Authenticator.admin_users = set(filter(None, os.environ.get("OMEGA_HUB_ADMINS", "").split(",")))

# The hub's own state (users, tokens, groups) in a file of its own, not in omega's database.
c.JupyterHub.db_url = os.environ.get("JUPYTERHUB_DB_URL", "sqlite:///jupyterhub.sqlite")
c.JupyterHub.bind_url = os.environ.get("JUPYTERHUB_BIND_URL", "http://:8000")
c.Spawner.default_url = "/lab"
# A user's server gets the environment the hooks set, never the hub's OMEGA_* (the service's).
c.Spawner.env_keep = ["PATH", "LANG", "LC_ALL", "JUPYTERHUB_SINGLEUSER_APP"]
# Credentials expire: stop servers before they do (jupyterhub-idle-culler's --max-age does it
# too); a restarted server gets new ones.
c.Spawner.start_timeout = 120

spawner = os.environ.get("OMEGA_HUB_SPAWNER", "docker")
if spawner == "docker":
    c.JupyterHub.spawner_class = "dockerspawner.DockerSpawner"
    c.DockerSpawner.image = os.environ.get("OMEGA_HUB_IMAGE", "omega-jupyter:latest")
    c.DockerSpawner.network_name = os.environ.get("OMEGA_HUB_NETWORK", "omega_default")
    c.DockerSpawner.remove = True
    c.DockerSpawner.cmd = ["jupyterhub-singleuser"]
    # the users' containers reach the hub by its service name
    c.JupyterHub.hub_ip = "0.0.0.0"
    c.JupyterHub.hub_connect_ip = os.environ.get("OMEGA_HUB_CONNECT_IP", "hub")
elif spawner == "local":
    # one system account per hub user: a user's processes cannot read another's environment
    c.JupyterHub.spawner_class = "jupyterhub.spawner.LocalProcessSpawner"
else:
    c.JupyterHub.spawner_class = spawner
