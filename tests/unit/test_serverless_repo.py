"""template.yaml's AWS::ServerlessRepo::Application metadata: what `sam publish` needs to list
the application, by the Serverless Application Repository's rules (its documented lengths
and patterns) - sam validate and cfn-lint do not check this section."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

from fanout_local.asl_substitute import load_template

ROOT = Path(__file__).resolve().parents[2]
MAX_FILE_BYTES = 5 * 1024 * 1024  # LicenseUrl and ReadmeUrl: at most 5 MB each
SEMVER = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$")


@pytest.fixture(scope="module")
def metadata() -> dict[str, Any]:
    return load_template(ROOT / "template.yaml")["Metadata"]["AWS::ServerlessRepo::Application"]


@pytest.fixture(scope="module")
def project() -> dict[str, Any]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def test_required_fields_follow_the_repository_rules(metadata: dict[str, Any]) -> None:
    assert re.fullmatch(r"[a-zA-Z0-9\-]{1,140}", metadata["Name"])
    assert 1 <= len(metadata["Description"]) <= 256
    assert len(metadata["Author"]) <= 127
    assert re.fullmatch(r"[a-z0-9](([a-z0-9]|-(?!-))*[a-z0-9])?", metadata["Author"])


def test_labels_are_at_most_ten_and_each_valid(metadata: dict[str, Any]) -> None:
    labels = metadata["Labels"]
    assert 1 <= len(labels) <= 10
    for label in labels:
        assert 1 <= len(label) <= 127
        assert re.fullmatch(r"[a-zA-Z0-9+\-_:/@]+", label), label


def test_license_and_readme_are_local_files_sam_package_can_upload(metadata: dict[str, Any]) -> None:
    for field in ("LicenseUrl", "ReadmeUrl"):
        path = ROOT / metadata[field]
        assert path.is_file(), f"{field}: {path} is missing"
        assert 0 < path.stat().st_size <= MAX_FILE_BYTES


def test_the_license_is_the_one_the_packages_declare(metadata: dict[str, Any], project: dict[str, Any]) -> None:
    recipient = tomllib.loads((ROOT / "recipient" / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert metadata["SpdxLicenseId"] == project["license"]["text"] == recipient["license"]["text"] == "Apache-2.0"
    text = (ROOT / metadata["LicenseUrl"]).read_text(encoding="utf-8")
    assert "Apache License" in text
    assert "Version 2.0, January 2004" in text
    assert "END OF TERMS AND CONDITIONS" in text  # the full text, not a notice


def test_the_version_is_semantic_and_the_package_version(metadata: dict[str, Any], project: dict[str, Any]) -> None:
    assert SEMVER.match(str(metadata["SemanticVersion"]))
    assert str(metadata["SemanticVersion"]) == project["version"]


def test_urls_are_public_https_and_no_value_is_an_intrinsic(metadata: dict[str, Any]) -> None:
    for field in ("SourceCodeUrl", "HomePageUrl"):
        assert metadata[field].startswith("https://"), field
    for field, value in metadata.items():
        # CloudFormation intrinsic functions are not supported in this section.
        assert isinstance(value, str | list), field
        assert "${" not in str(value), field
