"""The HTML report in a real browser: headless Chromium renders it with its images.

Chromium comes from Debian's ``chromium`` package, which the test set-up (the README's
test command) installs. Without it this test fails and says so: a report nobody saw
render is not checked."""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest

from feint.report import formats

# Marks the body once every image has loaded and decoded; added to a copy of the report.
PROBE = """<script>
window.addEventListener("load", () => {
  const imgs = Array.from(document.images);
  const ok = imgs.filter(i => i.complete && i.naturalWidth > 0 && i.src.startsWith("data:image/png;base64,"));
  document.body.setAttribute("data-images", imgs.length);
  document.body.setAttribute("data-images-rendered", ok.length);
});
</script>"""


def _chromium() -> str:
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    pytest.fail(
        "headless browser test: 'chromium' is not installed; install Debian's chromium package "
        "(apt-get install -y chromium), as the README's test command does"
    )


def _browser(profile, *args: str) -> subprocess.CompletedProcess:
    cmd = [
        _chromium(),
        "--headless",
        "--disable-gpu",
        "--no-first-run",
        "--hide-scrollbars",
        "--disable-dev-shm-usage",
        f"--user-data-dir={profile}",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--no-sandbox")  # Chromium refuses to run as root with its sandbox
    return subprocess.run(cmd + list(args), capture_output=True, text=True, timeout=120)


def test_the_html_report_renders_in_a_headless_browser(report_store, tmp_path):
    from PIL import Image

    store, scan_id = report_store
    report = formats.write(formats.load(store, scan_id), tmp_path / "scan.html")
    html = report.read_text()
    n_img = len(re.findall(r"<img\b", html))
    assert n_img >= 3

    shot = tmp_path / "scan.png"
    result = _browser(tmp_path / "profile", f"--screenshot={shot}", "--window-size=1280,2400", report.as_uri())
    assert shot.exists() and shot.stat().st_size > 10_000, result.stderr[-2000:]
    with Image.open(shot) as img:
        assert img.size == (1280, 2400)
        grey = img.convert("L")
        lo, hi = grey.getextrema()
        assert hi - lo > 100  # text and pictures, not a blank page
        assert sum(1 for count in grey.histogram() if count) > 20  # many shades: pictures and plots

    probed = tmp_path / "probed.html"
    probed.write_text(html.replace("</body>", PROBE + "</body>"))
    dom = _browser(tmp_path / "profile", "--dump-dom", "--virtual-time-budget=5000", probed.as_uri()).stdout
    assert "<h1>feint scan report: digits_keras</h1>" in dom
    for section in ("target", "parameters", "gates", "summary", "by-label", "robustness", "distances", "galleries"):
        assert f'id="{section}"' in dom
    srcs = re.findall(r'<img[^>]*\ssrc="([^"]*)"', dom)
    assert len(srcs) == n_img and all(s.startswith("data:image/png;base64,") for s in srcs)
    assert f'data-images="{n_img}"' in dom
    assert f'data-images-rendered="{n_img}"' in dom  # every picture decoded and laid out
