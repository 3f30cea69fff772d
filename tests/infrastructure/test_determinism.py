"""Identical inputs give byte-identical templates: no timestamps, random values or AWS calls."""

from tests.conftest import TEST_CONFIG, synthesize


def test_two_synths_are_byte_identical(synthesized, tmp_path):
    again = synthesize(TEST_CONFIG, tmp_path / "again")
    for first in sorted(synthesized.outdir.glob("*.template.json")):
        second = again.outdir / first.name
        assert first.read_bytes() == second.read_bytes(), first.name
