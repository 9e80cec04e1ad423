"""How fast the ``om`` command line answers.

``om --help`` and ``om GROUP --help`` should answer at once (target: <= 0.4 s): the CLI imports
an area's module only when its command runs, and the modules import pandas, SQLAlchemy or the
client inside the commands that need them. Measured as whole processes, round-robin with the
baselines in the same run:

- ``python -c pass``: the interpreter alone (the floor);
- ``python -c "import typer"``: the floor of any typer CLI;
- ``python -c "import pandas, sqlalchemy"``: what every command paid before.

Prints median wall seconds, the ratio to ``import typer``, and each target as met/MISSED.
``python -X importtime -m omega_jupyter.cli.__init__`` shows what a command imports.

    .venv/bin/python bench/cli.py --repeat 10
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    TIMING_HEADERS,
    Method,
    format_table,
    machine_load,
    run_rounds,
    timing_rows,
)

OM = "from omega_jupyter.cli import main; main()"
TARGET_SECONDS = 0.4


def process(*args: str) -> Method:
    """A Method running ``python ARGS`` as a new process (its output thrown away)."""

    def run(_: int) -> None:
        subprocess.run([sys.executable, *args], capture_output=True, check=False)

    return Method(" ".join(args), run)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    print(machine_load())
    floor = process("-c", "pass")
    typer_only = process("-c", "import typer")
    stack = process("-c", "import pandas, sqlalchemy")
    ours = {
        "om --help": process("-c", OM, "--help"),
        "om jobs --help": process("-c", OM, "jobs", "--help"),
        "om runtime --help": process("-c", OM, "runtime", "--help"),
        "om datasets --help": process("-c", OM, "datasets", "--help"),
        "om jobs ls --help": process("-c", OM, "jobs", "ls", "--help"),
    }
    for name, method in ours.items():
        method.name, method.role = name, "ours"
    floor.role = typer_only.role = stack.role = "baseline"
    methods = [floor, typer_only, stack, *ours.values()]
    run_rounds(methods, args.repeat, lambda line: None)
    print(format_table(TIMING_HEADERS, timing_rows(methods, ours["om --help"])))
    print()
    rows = []
    for name, method in ours.items():
        met = method.median <= TARGET_SECONDS
        rows.append(
            [
                name,
                f"{method.median:.3f} s",
                f"{method.median / typer_only.median:.2f}x import typer",
                f"<= {TARGET_SECONDS} s",
                "met" if met else "MISSED",
            ]
        )
    print(format_table(["command", "median", "vs typer", "target", "verdict"], rows))


if __name__ == "__main__":
    main()
