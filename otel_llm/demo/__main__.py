"""``python -m otel_llm.demo``: the same as ``otel-llm demo``."""

import argparse
import sys

from otel_llm.demo.runner import add_arguments, run

parser = argparse.ArgumentParser(prog="python -m otel_llm.demo")
add_arguments(parser)
sys.exit(run(parser.parse_args()))
