"""``otel-llm generate``: monitor config -> Prometheus rules and Grafana dashboards.

    otel-llm generate                         # default config, write into ./
    otel-llm generate --config monitor.yaml --out deploy/
    otel-llm generate --check                 # exit 1 if the files on disk differ

With ``--check`` nothing is written; the differences are printed and the exit
code is 1 when the files are missing, changed or stale (for CI).
"""

from __future__ import annotations

import argparse
import sys


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "generate", help="write prometheus_rules/ and grafana_dashboards/ from a monitor config",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--config", metavar="FILE", default=None,
                        help="monitor config YAML (default: the shipped default_monitor.yaml)")
    parser.add_argument("--out", metavar="DIR", default=".",
                        help="directory that holds prometheus_rules/ and grafana_dashboards/ (default: .)")
    parser.add_argument("--check", action="store_true",
                        help="compare instead of writing; exit 1 on any difference")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from otel_llm.monitoring.config import ConfigError, load_config
    from otel_llm.monitoring.generate import check, write

    try:
        config = load_config(args.config)
    except ConfigError as error:
        print(f"otel-llm generate: {error}", file=sys.stderr)
        return 2
    try:
        if args.check:
            result = check(args.out, config)
            if not result.ok:
                print(result.report(), file=sys.stderr)
                print("otel-llm generate --check: generated files are out of date; run `otel-llm generate"
                      + (f" --config {args.config}" if args.config else "")
                      + (f" --out {args.out}" if args.out != "." else "") + "`", file=sys.stderr)
                return 1
            print("otel-llm generate --check: generated files are up to date")
            return 0
        paths = write(args.out, config)
    except ImportError as error:
        print(f"otel-llm generate: dashboards need the 'dashboards' extra (pip install 'otel-llm[dashboards]', "
              f"Python >= 3.11): {error}", file=sys.stderr)
        return 2
    except OSError as error:
        print(f"otel-llm generate: cannot write under {args.out}: {error}", file=sys.stderr)
        return 2
    for path in paths:
        print(f"wrote {path}")
    return 0
