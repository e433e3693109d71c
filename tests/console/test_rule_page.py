"""A rule's page reads a shipped rule's version without parsing the pack every time."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from auditor.domain.errors import NotFound
from auditor.rules.loader import default_rules_dir
from auditor.services import rule_versions
from auditor.services.rule_versions import version_text


class NoVersions:
    """An organization that published nothing: every version is the shipped one."""

    def get(self, rule_id: str, version: int) -> None:
        return None


def test_the_shipped_version_is_parsed_once_per_content_of_the_seed(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "rules"
    shutil.copytree(default_rules_dir(), root)
    path = root / "core" / "transfer-before-move.yaml"
    shipped = int(re.search(r"^version: (\d+)$", path.read_text(), re.M)[1])
    parsed = []
    real = rule_versions.load_pack
    monkeypatch.setattr(rule_versions, "load_pack",
                        lambda *a, **k: parsed.append(a) or real(*a, **k))
    for _ in range(5):
        assert version_text(root, NoVersions(), "transfer-before-move", shipped) \
            == path.read_text()
    assert len(parsed) == 1
    # The seed file changes (a new release): its new version is read, the old one is gone.
    path.write_text(path.read_text().replace(f"version: {shipped}\n",
                                             f"version: {shipped + 1}\n"))
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    assert f"version: {shipped + 1}" in version_text(root, NoVersions(),
                                                     "transfer-before-move", shipped + 1)
    with pytest.raises(NotFound):
        version_text(root, NoVersions(), "transfer-before-move", shipped)
    assert len(parsed) == 2
