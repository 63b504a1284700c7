"""deploy/Dockerfile: small, non-root, health-checked, installed with the README's command.

No container engine runs here, so the Dockerfile is read as text: what it copies
exists, its command line parses with the real ``otel-llm`` parser, the health
check asks the port the command serves, and its pip step is the documented one.
"""

from __future__ import annotations

import json
import re
import shlex
from importlib.metadata import metadata
from pathlib import Path

from otel_llm.cli import build_parser

REPO = Path(__file__).resolve().parent.parent
DOCKERFILE = REPO / "deploy" / "Dockerfile"


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    lines: list[str] = []
    pending = ""
    for raw in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        lines.append(pending + stripped)
        pending = ""
    out = []
    for line in lines:
        keyword, _, rest = line.partition(" ")
        out.append((keyword.upper(), rest.strip()))
    return out


def final_stage() -> list[tuple[str, str]]:
    steps = instructions()
    last_from = max(i for i, (kw, _) in enumerate(steps) if kw == "FROM")
    return steps[last_from:]


def exec_form(args: str) -> list[str]:
    value = json.loads(args)
    assert isinstance(value, list), f"use the exec (JSON) form, not {args!r}"
    return value


def pip_requirements(command: str) -> list[str]:
    """The requirement specifiers of a `pip install ...` command (options and their values dropped)."""
    words = shlex.split(command)
    start = words.index("install") + 1
    takes_value = {"--find-links", "-f", "--index-url", "-i", "--extra-index-url", "-c", "-r", "--constraint"}
    reqs, skip = [], False
    for word in words[start:]:
        if skip:
            skip = False
        elif word in takes_value:
            skip = True
        elif not word.startswith("-"):
            reqs.append(word)
    return reqs


def readme_install_command() -> str:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    match = re.search(r'pip install (?:-e )?"[^"]*otel[^"]*"|pip install (?:-e )?"\.\[[^\]]*\]"', text)
    assert match, "README.md shows no `pip install` of otel-llm"
    return match.group(0)


def test_every_copied_source_exists():
    for keyword, args in instructions():
        if keyword != "COPY" or "--from=" in args:
            continue
        *sources, _dest = shlex.split(args)
        for source in sources:
            assert (REPO / source).exists(), f"COPY {source}: not in the repository (build context is the repo root)"


def test_build_stage_can_compile_the_native_reader():
    steps = instructions()
    build = steps[:max(i for i, (kw, _) in enumerate(steps) if kw == "FROM")]
    copied = [s for kw, args in build if kw == "COPY" for s in shlex.split(args)[:-1]]
    assert "setup.py" in copied and "otel_llm" in copied  # the extension's build script and its source
    runs = " ".join(args for kw, args in build if kw == "RUN")
    assert "apt-get install" in runs and "gcc" in runs.split("apt-get install", 1)[1]
    assert (REPO / "otel_llm" / "processor" / "_otlp_scan.c").exists()


def test_base_images_are_pinned_and_slim():
    for keyword, args in instructions():
        if keyword == "FROM":
            image = args.split()[0]
            assert image.startswith("python:${PYTHON_VERSION}-slim"), image
    arg = dict(a.split("=", 1) for kw, a in instructions() if kw == "ARG" and "=" in a)
    assert re.fullmatch(r"3\.\d+", arg["PYTHON_VERSION"])


def test_runs_as_an_unprivileged_user():
    users = [args for kw, args in final_stage() if kw == "USER"]
    assert users, "the runtime stage sets no USER: the process would run as root"
    uid = users[-1].split(":")[0]
    assert uid.isdigit() and int(uid) >= 1000, f"USER {users[-1]} must be a numeric non-root uid (Kubernetes runAsNonRoot)"


def test_installs_with_the_readme_command_and_ships_no_source_or_cache():
    runs = [args for kw, args in instructions() if kw == "RUN" and "pip install" in args]
    assert len(runs) == 1, runs
    command = runs[0][runs[0].index("pip install"):]
    assert "--no-cache-dir" in command
    readme = readme_install_command()
    assert pip_requirements(command) == pip_requirements(readme), (command, readme)
    assert readme in (REPO / "docs" / "deploy.md").read_text(encoding="utf-8"), "docs/deploy.md shows another command"
    declared = metadata("otel-llm").get_all("Provides-Extra") or []
    for req in pip_requirements(command):
        extras = re.search(r"\[([^\]]*)\]", req)
        for extra in extras.group(1).split(",") if extras else ():
            assert extra.strip() in declared, f"no extra {extra!r} in pyproject"
    # The runtime stage takes the installed environment, not the source tree or the build's layers.
    final = final_stage()
    copies = [args for kw, args in final if kw == "COPY"]
    assert copies and all(c.startswith("--from=") for c in copies), copies
    assert not [args for kw, args in final if kw == "RUN" and "pip " in args]


def test_command_is_accepted_by_the_collector_parser_and_matches_exposed_ports():
    steps = dict(final_stage())
    entrypoint = exec_form(steps["ENTRYPOINT"])
    cmd = exec_form(steps["CMD"])
    assert entrypoint == ["otel-llm"]
    args = build_parser().parse_args(cmd)  # SystemExit on an unknown flag
    assert args.command == "collector"
    ports = {int(m.group(1)) for a in cmd for m in [re.search(r"listen-address=[^:]*:(\d+)$", a)] if m}
    exposed = {int(p) for p in steps["EXPOSE"].split()}
    assert ports == exposed == {4317, 4318, 9464}
    for arg in cmd:
        if "listen-address=" in arg:
            assert arg.split("=", 1)[1].startswith("0.0.0.0:"), f"{arg}: a container must listen beyond loopback"


def test_healthcheck_asks_healthz_on_the_metrics_port():
    steps = dict(final_stage())
    check = steps["HEALTHCHECK"]
    assert re.search(r"--interval=\d+s", check) and re.search(r"--timeout=\d+s", check)
    command = exec_form(check[check.index("CMD") + 3:].strip())
    assert command[0] == "python", "the slim image has no curl or wget; python is always there"
    url = re.search(r"http://127\.0\.0\.1:(\d+)(/\w+)", command[-1])
    assert url, command
    web = next(a for a in exec_form(steps["CMD"]) if a.startswith("--web.listen-address="))
    assert url.group(1) == web.rsplit(":", 1)[1]
    assert url.group(2) == "/healthz"
