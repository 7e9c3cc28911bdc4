"""``acse-kg render``: a static site on disk, or one clear line on stderr and a non-zero exit."""

from __future__ import annotations

from typer.testing import CliRunner

from acse_kg.cli import app

NCT = "NCT02034981"
runner = CliRunner()


def test_render_writes_the_study_every_cohort_the_index_and_the_stylesheet(tmp_path):
    out = tmp_path / "site"
    r = runner.invoke(app, ["render", NCT, "--out", str(out), "--store", "memory"])
    assert r.exit_code == 0, r.output
    assert (out / "index.html").is_file()
    assert (out / "study" / NCT / "index.html").is_file()
    assert sorted(int(p.name) for p in (out / "study" / NCT / "cohort").iterdir()) == list(range(1, 24))
    assert (out / "static" / "style.css").read_text(encoding="utf-8").startswith("/*")
    assert "wrote 26 files" in r.output


def test_render_refuses_a_bad_or_unknown_nct_with_a_message(tmp_path):
    for arg, message in (("NCT123", "not an NCT number"), ("NCT09999999", "no study NCT09999999")):
        r = runner.invoke(app, ["render", arg, "--out", str(tmp_path / "x"), "--store", "memory"])
        assert r.exit_code == 2
        assert message in r.output and "Traceback" not in r.output
        assert not (tmp_path / "x").exists()  # nothing written


def test_render_refuses_an_out_path_that_is_a_file(tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    r = runner.invoke(app, ["render", NCT, "--out", str(f), "--store", "memory"])
    assert r.exit_code == 2 and "not a folder" in r.output
