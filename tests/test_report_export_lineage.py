"""`report`, `export` and `inspect --lineage` on a real (tiny) run. The HTML report is loaded in a real
headless Chromium (Debian's `chromium` and `chromedriver`, installed when missing), with every host name
unresolvable: it must render offline, with no console errors, and its screenshot must show the plots."""

import io
import json
import re

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from evo_fastslow.analysis.lineage import lineage
from evo_fastslow.archive import Archive
from evo_fastslow.cli import main
from runs import TINY
from browser import chromium


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("runs") / "run"
    sets = [a for o in [*TINY, "population=4", "generations=3", "cluster.workers=0"] for a in ("--set", o)]
    assert main(["evolve", "configs/quickstart.yaml", "--out", str(run_dir), *sets]) == 0
    assert main(["validate", str(run_dir), "--top", "1", "--seeds", "2", "--workers", "0"]) == 0
    return run_dir


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_export_round_trips_into_pandas(run_dir, tmp_path, fmt):
    assert main(["export", str(run_dir), "--format", fmt, "-o", str(tmp_path)]) == 0
    read = pd.read_csv if fmt == "csv" else pd.read_parquet
    evaluations, replicates = read(tmp_path / f"evaluations.{fmt}"), read(tmp_path / f"replicates.{fmt}")
    with Archive(run_dir / "archive.sqlite", create=False) as archive:
        genomes, stored = archive.genomes(), archive.evaluations()
        assert len(evaluations) == len(genomes) and len(replicates) == len(archive.replicates()) == 2
    for record in genomes:
        row = evaluations[evaluations.genome_id == record.id].iloc[0]
        assert row["fitness"] == stored[record.id].fitness and row["status"] == stored[record.id].status
        assert row["gene.core"] == record.genes["core"] and row["gene.hidden_size"] == record.genes["hidden_size"]
        assert json.loads(row["parents"]) == record.parents
    assert np.isfinite(evaluations["bandit-independent.test_regret"]).all()


def test_lineage_walks_back_to_the_first_generation(run_dir, capsys):
    with Archive(run_dir / "archive.sqlite", create=False) as archive:
        best = archive.ranked(1)[0][0]
        last = max(archive.genomes(), key=lambda g: (g.generation, g.id))
        steps = lineage(archive, last.id)
        genomes = {g.id: g for g in archive.genomes()}
    assert steps[-1]["genome_id"] == last.id and steps[0]["generation"] == 0
    for step in steps:  # each changed gene really differs from the first parent's value
        if step["parents"]:
            parent = genomes[step["parents"][0]]
            assert all(parent.genes[k] == old != new for k, (old, new) in step["changed"].items())
    assert main(["inspect", str(run_dir), "--lineage"]) == 0
    assert f"lineage of genome {best.id}" in capsys.readouterr().out
    assert main(["inspect", str(run_dir), "--lineage", "999"]) == 2


def test_the_report_opens_offline_in_headless_chromium(run_dir, tmp_path):
    page = tmp_path / "report.html"
    assert main(["report", str(run_dir), "-o", str(page)]) == 0
    text = page.read_text()
    assert "<script" not in text and "<link" not in text
    links = re.findall(r'(?:src|href)\s*=\s*"([^"]*)"', text)
    assert all(link.startswith(("#", "data:")) for link in links)  # nothing to fetch: only links within the page
    for heading in ("Fitness and searched genes", "Top", "Validation on fresh seeds", "Lineage of the best genome",
                    "Learning curves", "Failures", "Configuration"):
        assert heading in text, heading
    driver = chromium()
    try:
        driver.get(page.as_uri())
        errors = [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]
        svgs = driver.execute_script("return Array.from(document.querySelectorAll('svg'))"
                                     ".map(s => s.getBoundingClientRect().width * s.getBoundingClientRect().height)")
        shot = Image.open(io.BytesIO(driver.get_screenshot_as_png())).convert("RGB")
        cells = driver.execute_script("return Array.from(document.querySelectorAll('td, th')).map(c => "
                                      "[c.innerText, c.scrollWidth - c.clientWidth])")
        page_right = driver.execute_script("return document.body.getBoundingClientRect().right")
        boxes = driver.execute_script("return Array.from(document.querySelectorAll('.table, svg, pre')).map(b => "
                                      "b.getBoundingClientRect().right)")
        pareto_text = driver.execute_script(
            "const h = Array.from(document.querySelectorAll('h2')).find(h => h.innerText.startsWith('Pareto'));"
            "if (!h) return null; const svg = h.nextElementSibling;"
            "return Array.from(svg.querySelectorAll('g[id^=text_]')).filter(g => g.getBoundingClientRect().width > 0)"
            ".map(g => { const r = g.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; })")
    finally:
        driver.quit()
    assert errors == []
    assert cells and not [text for text, _ in cells if "{" in text]  # figures and words, not JSON
    assert not [text for text, overflow in cells if overflow > 1]  # no text cut off in its cell
    assert max(boxes) <= page_right + 1  # no table, plot or listing runs off the page
    if pareto_text is not None:  # tick labels and point labels of the Pareto plot do not collide
        overlaps = [(a, b) for i, a in enumerate(pareto_text) for b in pareto_text[i + 1:]
                    if min(a[2], b[2]) - max(a[0], b[0]) > 1 and min(a[3], b[3]) - max(a[1], b[1]) > 1]
        assert not overlaps, overlaps
    assert len(svgs) >= 3 and min(svgs) > 10_000  # the plots are laid out with a real size
    pixels = np.asarray(shot)
    assert (pixels.min(axis=2) < 200).mean() > 0.02  # not blank: lines, text and markers
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 50  # the plots' colours, not one flat page
