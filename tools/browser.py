"""Debian's Chromium, launched the one way the project drives it.

The site test, the JupyterLab test and the PDF edition all drive Debian's Chromium
through Playwright (Playwright's own browser download does not work here): one path,
one set of launch options, and one way to keep every request on this machine.
"""

from __future__ import annotations

import re
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
HOST = "127.0.0.1"
#: Why a browser test skips: for its skip message.
MISSING = (f"Chromium is not installed ({CHROMIUM} is missing): "
           "run `apt-get install -y chromium` (Debian's package)")


def launch(playwright):
    """Debian's Chromium, started by a ``sync_playwright()`` instance."""
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)


def block_other_hosts(target, blocked: list[str], *allowed: str) -> None:
    """Abort every request of ``target`` (a Playwright context or page) whose URL starts
    with none of the ``allowed`` prefixes, appending its URL to ``blocked``.

    The pattern is matched inside Playwright, so allowed requests never wait on Python.
    """
    def block(route):
        blocked.append(route.request.url)
        route.abort("blockedbyclient")

    target.route(re.compile("^(?!" + "|".join(map(re.escape, allowed)) + ")"), block)
