"""deploy/: every YAML and JSON file parses, and the docs name only files that exist."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
DEPLOY = REPO / "deploy"
STRUCTURED = sorted(
    p for p in DEPLOY.rglob("*") if p.is_file() and p.suffix in {".yaml", ".yml", ".json"}
)


def test_deploy_has_the_expected_layout():
    for relative in (
        "Dockerfile",
        "compose/docker-compose.yaml",
        "compose/prometheus/prometheus.yml",
        "kubernetes/kustomization.yaml",
        "kubernetes/render.py",
    ):
        assert (DEPLOY / relative).is_file(), f"deploy/{relative} is missing"
    assert len(STRUCTURED) >= 10


@pytest.mark.parametrize("path", STRUCTURED, ids=lambda p: str(p.relative_to(REPO)))
def test_every_yaml_and_json_file_parses(path: Path):
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".json":
        json.loads(text)
        return
    documents = [doc for doc in yaml.safe_load_all(text) if doc is not None]
    assert documents, f"{path} holds no YAML document"
    for doc in documents:
        assert isinstance(doc, dict), f"{path}: top level must be a mapping, got {type(doc).__name__}"


def test_deploy_docs_mention_only_paths_that_exist():
    """A path in backticks in docs/deploy.md or docs/scaling.md (deploy/..., collector_config/...) exists."""
    roots = ("deploy/", "collector_config/", "prometheus_rules/", "grafana_dashboards/", "docs/", "bench/")
    checked = 0
    for doc in ("docs/deploy.md", "docs/scaling.md"):
        text = (REPO / doc).read_text(encoding="utf-8")
        for match in re.finditer(r"`([^`\s]+)`", text):
            path = match.group(1).rstrip("/.,:")
            if not path.startswith(roots) or any(ch in path for ch in "*<>$"):
                continue
            checked += 1
            assert (REPO / path).exists(), f"{doc} mentions {path}, which does not exist"
    assert checked >= 5, "the deploy docs should point at the files they describe"
