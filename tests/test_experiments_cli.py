"""The analysis CLIs without the ``analysis`` extra: a clear message and exit 2, not a traceback."""

from __future__ import annotations

import subprocess
import sys

import pytest

# Runs the real CLI in a fresh interpreter in which NumPy and SciPy cannot be imported,
# as after ``pip install otel-llm`` without ``[analysis]``.
WITHOUT_ANALYSIS = """
import sys

class BlockAnalysis:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("numpy", "scipy"):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, BlockAnalysis())
from otel_llm.cli import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.parametrize(("argv", "command"), [
    (["advise", "--prometheus-url", "http://127.0.0.1:9"], "otel-llm advise"),
    (["experiments", "report", "prompt-v2", "--prometheus-url", "http://127.0.0.1:9"],
     "otel-llm experiments report"),
])
def test_cli_without_the_analysis_extra_says_how_to_install_it(argv, command):
    out = subprocess.run([sys.executable, "-c", WITHOUT_ANALYSIS, *argv], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 2, out.stderr
    assert out.stderr.strip() == f'{command} needs the analysis extra: pip install "otel-llm[analysis]"'
    assert "Traceback" not in out.stderr and out.stdout == ""


def test_other_import_errors_are_not_mistaken_for_the_missing_extra():
    from otel_llm.cli.experiments import missing_analysis_extra

    try:
        import scipy_is_not_a_module_here  # noqa: F401
    except ImportError as exc:
        assert not missing_analysis_extra(exc)
    try:
        try:
            raise ModuleNotFoundError("No module named 'scipy'", name="scipy")
        except ImportError as inner:
            raise ImportError("otel_llm.drift needs NumPy and SciPy") from inner
    except ImportError as exc:
        assert missing_analysis_extra(exc)
