"""Switch the UI tests' PostgreSQL database off and on, as an outage would:

    python database.py down   no new connections (ALLOW_CONNECTIONS false), open ones ended
    python database.py up     connections allowed again

The database is the one in OMEGA_DATABASE_URL (set by scripts/ui-test.sh); the commands run
in the same server's maintenance database (OMEGA_UI_PG_MAINTDB, else postgres).
"""

import os
import sys

import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url


def main(action: str) -> None:
    url = make_url(os.environ["OMEGA_DATABASE_URL"])
    if url.get_backend_name() != "postgresql":
        raise SystemExit(f"database.py needs a PostgreSQL store, not {url.get_backend_name()}")
    name = url.database
    maintenance = os.environ.get("OMEGA_UI_PG_MAINTDB") or "postgres"
    with psycopg.connect(
        host=url.host,
        port=url.port or 5432,
        user=url.username,
        password=url.password,
        dbname=maintenance,
        autocommit=True,
        connect_timeout=10,
    ) as conn:
        if action == "down":
            conn.execute(
                sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS false").format(sql.Identifier(name))
            )
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()",
                (name,),
            )
        elif action == "up":
            conn.execute(
                sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS true").format(sql.Identifier(name))
            )
        else:
            raise SystemExit("usage: python database.py down|up")
    print(f"database {name}: {action}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "")
