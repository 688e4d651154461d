"""docs/scenario.md is what the scenario models give, and every scenario field is documented."""

from __future__ import annotations

from sim import docs
from sim.scenario import ProducerSpec, Scenario


def test_scenario_doc_is_up_to_date():
    """Regenerate with ``python -m sim.docs`` after changing a model or a field docstring."""
    assert docs.DOC.read_text() == docs.render(), "docs/scenario.md is stale: python -m sim.docs"


def test_every_scenario_field_has_a_docstring():
    assert docs.undocumented() == []


def test_an_undocumented_field_is_reported_by_its_path():
    """A field added without a docstring, at the top or nested, is named by its dotted path."""

    class Hinted(ProducerSpec):
        dummy: int = 0

    class WithDummy(Scenario):
        undocumented_top: int = 0
        producers: list[Hinted] = []
        """The producers."""

    assert docs.undocumented(WithDummy) == ["undocumented_top", "producers.N.dummy"]


def test_every_fault_kind_and_model_has_a_section():
    from sim.scenario import FAULT_KINDS

    text = docs.render()
    for kind in FAULT_KINDS:
        assert f"## Fault `{kind}`" in text
    assert "`cluster.hardware.per_broker.<id>.disk_write_mb_s`" in text
    assert "At `producers.N`, `faults.N.producer`." in text


def test_results_doc_is_up_to_date():
    """Regenerate with ``python -m sim.docs`` after changing a table, field or event kind."""
    assert docs.RESULTS_DOC.read_text() == docs.render_results()


def test_every_event_kind_has_a_meaning():
    from sim.events import MEANING, EventKind

    assert set(MEANING) == set(EventKind)


def test_check_fails_on_a_stale_file(tmp_path, monkeypatch):
    stale = tmp_path / "scenario.md"
    stale.write_text("old\n")
    monkeypatch.setattr(docs, "DOC", stale)
    monkeypatch.setattr(docs, "RESULTS_DOC", tmp_path / "results.md")
    assert docs.main(["--check"]) == 1
    assert docs.main([]) == 0
    assert docs.main(["--check"]) == 0
