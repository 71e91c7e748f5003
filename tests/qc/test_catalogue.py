from __future__ import annotations

import pytest

from envtrust import qc


def test_every_check_is_documented_and_categorised() -> None:
    assert len(qc.CATALOGUE) >= 20
    for check in qc.CATALOGUE.values():
        assert check.category in qc.CATEGORIES
        assert len(check.doc) > 40, check.name
        assert check.source and check.title_zh and check.title_en
        assert check.params[0].name == "enabled"


def test_unknown_check_parameter_or_type_is_an_error() -> None:
    with pytest.raises(qc.CatalogueError, match="unknown check 'flatline'"):
        qc.configure({"flatline": {}})
    with pytest.raises(qc.CatalogueError, match="unknown parameter 'minutes'"):
        qc.configure({"flat_line": {"minutes": 3}})
    with pytest.raises(qc.CatalogueError, match="expected a number"):
        qc.configure({"flat_line": {"fail_minutes": "60"}})
    with pytest.raises(qc.CatalogueError, match="whole number"):
        qc.configure({"flat_line": {"fail_minutes": 1.5}})
    with pytest.raises(qc.CatalogueError, match="at least"):
        qc.configure({"flat_line": {"fail_minutes": -1}})


def test_configuration_applies_overrides_and_changes_the_digest() -> None:
    default = qc.configure()
    changed = qc.configure({"flat_line": {"fail_minutes": 90}, "spike": {"enabled": False}})
    params = dict((c.name, p) for c, p in changed.checks)
    assert params["flat_line"]["fail_minutes"] == 90
    assert "spike" not in params
    assert default.digest() != changed.digest()
    assert qc.configure().digest() == default.digest()


def test_docs_checks_md_is_generated_from_the_catalogue() -> None:
    from pathlib import Path

    doc = Path(__file__).resolve().parents[2] / "docs" / "checks.md"
    assert doc.read_text(encoding="utf-8") == qc.catalogue.markdown(), (
        "run: envtrust checks --markdown > docs/checks.md"
    )
