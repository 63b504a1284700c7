"""The ``otel-llm`` command line.

Each subcommand lives in its own module of this package and exposes
``register(subparsers)``, which adds its parser and sets ``func`` to the
callable that runs it (returning the process exit code). Modules keep heavy
imports inside that callable so ``otel-llm --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

# One line per subcommand module (otel_llm.cli.<name>).
SUBCOMMANDS: tuple[str, ...] = (
    "collector",
    "report",
    "generate",
    "experiments",
    "advise",
    "demo",
    "evalset",
)


def build_parser() -> argparse.ArgumentParser:
    from otel_llm import __version__

    parser = argparse.ArgumentParser(
        prog="otel-llm",
        description="Post-launch monitoring for LLM products on OpenTelemetry and Prometheus.",
    )
    parser.add_argument("--version", action="version", version=f"otel-llm {__version__}")
    parser.add_argument(
        "--log-level", default="WARNING", choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="log level for otel-llm's own messages (default: WARNING)",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMANDS:
        importlib.import_module(f"otel_llm.cli.{name}").register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    try:
        return int(func(args) or 0)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
