"""The console in a real browser: Playwright driving Debian's Chromium against real gateways.

Each test writes a screenshot of the panels it shows to ``docs/img/console-*.png`` (the docs use them).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import orjson
import pytest
from playwright.async_api import Browser, Page, async_playwright, expect

from gateway.helpers import gateway
from semdns.gateway import GatewaySettings
from semdns.gateway.wire import error_body
from semdns.resolve import MiniLMEncoder, Resolver
from semdns.zone import load_default_tree
from ui.browser import LAUNCH_ARGS, SCREENSHOTS, chromium_path
from ui.helpers import console_gateway

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

VIEWPORT = {"width": 1280, "height": 800}  # a laptop screen
expect.set_options(timeout=15_000)  # a busy CI machine: waits end as soon as the page is right


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    path, why = chromium_path()
    if path is None:
        pytest.skip(why)
    async with async_playwright() as p:
        launched = await p.chromium.launch(executable_path=path, args=LAUNCH_ARGS)
        try:
            yield launched
        finally:
            await launched.close()


async def _shot(page: Page, panel: str, *, full_page: bool = False) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SCREENSHOTS / f"console-{panel}.png"), full_page=full_page)


async def test_default_namespace_renders_and_dig_resolves(browser: Browser, encoder: MiniLMEncoder) -> None:
    tree = load_default_tree()
    resolver = Resolver(tree, encoder=encoder)
    try:
        async with gateway(tree, resolver, GatewaySettings(probes=False, warm_local=False)) as gw:
            page = await browser.new_page(viewport=VIEWPORT)
            await page.goto(f"{gw.url}/ui/")
            tree_view = page.locator("#ns-tree")
            await expect(tree_view.locator('[data-name="contracts.legal."]')).to_be_visible()
            assert await tree_view.locator("li.node").count() == len(tree)
            dn = str(tree.node(tree.lookup("contracts.legal.").name).dn)
            await expect(tree_view.locator('[data-name="contracts.legal."] .dn').first).to_have_text(dn)
            await expect(page.locator("#gateway-state")).to_have_text("gateway ready")
            rendered_ms = float(await page.evaluate("document.body.dataset.treeRenderedMs"))
            assert 0 < rendered_ms < 5000  # target 1 s; bench/console.py measures it (docs/console.md)
            await _shot(page, "namespace")

            # the filter keeps matches and their ancestors
            await page.fill("#ns-filter", "contracts")
            fields = [(n, (str(n.name), str(n.dn), n.description)) for n in tree]
            hits = [n for n, texts in fields if any("contracts" in t.lower() for t in texts)]
            shown = {str(a) for n in hits for a in (n.name, *n.name.ancestors)}
            await expect(tree_view.locator("li.node")).to_have_count(len(shown))
            assert 0 < len(hits) < len(tree)
            await page.fill("#ns-filter", "")

            # keyboard: a subtree collapses from its toggle, which keeps the focus
            toggle = tree_view.locator('[data-name="legal."] > .head > .toggle')
            await toggle.focus()
            await page.keyboard.press("Enter")
            await expect(tree_view.locator('[data-name="contracts.legal."]')).to_be_hidden()
            await expect(tree_view.locator('[data-name="legal."] > .head > .toggle')).to_be_focused()
            await expect(tree_view.locator('[data-name="legal."] > .head > .toggle')).to_have_attribute(
                "aria-expanded", "false"
            )
            await page.keyboard.press("Enter")
            await expect(tree_view.locator('[data-name="contracts.legal."]')).to_be_visible()

            # keyboard: the tabs move with the arrow keys
            await page.focus("#tab-namespace")
            await page.keyboard.press("ArrowRight")
            await expect(page.locator("#tab-dig")).to_have_attribute("aria-selected", "true")
            await expect(page.locator("#dig-query")).to_be_focused()
            await page.keyboard.type("Is a verbal agreement to sell my car a binding contract?")
            await page.keyboard.press("Enter")
            await expect(page.locator("#dig-result")).to_be_visible()
            expected = await resolver.aresolve("Is a verbal agreement to sell my car a binding contract?")
            await expect(page.locator("#dig-summary dd").first).to_contain_text(str(expected.name))
            assert await page.locator("#dig-trace tbody tr").count() == len(expected.trace)
            await expect(page.locator("#dig-text")).to_contain_text(";; TRACE SECTION:")
            await _shot(page, "dig")
    finally:
        resolver.close()


async def test_feed_health_and_limits(browser: Browser, tmp_path: Path) -> None:
    async with console_gateway(tmp_path, tenants=True) as gw:
        context = await browser.new_context(
            viewport=VIEWPORT, http_credentials={"username": "ops", "password": gw.keys["ops"]}
        )
        page = await context.new_page()
        await page.goto(f"{gw.url}/ui/")

        # the replica on a closed port shows as unhealthy; the live one as healthy
        broken = page.locator('[data-name="medical."] .replica')
        await expect(broken).to_have_attribute("data-healthy", "false")
        await expect(broken).to_contain_text("probe: down")
        await expect(page.locator('[data-name="legal."] > .replicas .replica')).to_have_attribute(
            "data-healthy", "true"
        )
        await expect(page.locator("#ns-state")).to_contain_text("medical.")
        await expect(page.locator('[data-name="ip.legal."] .deleg')).to_contain_text("unsigned")
        zone = page.locator('#ns-zones [data-zone="."]')
        await expect(zone).to_have_text(
            ". · 4 names · serial 0"
        )  # no serial in the file: 0, as the loader records it
        await _shot(page, "health")

        # the live feed: requests made now appear, with their tenant and fallback path
        await page.click("#tab-live")
        await expect(page.locator("#live-state")).to_contain_text("Connected")
        assert (await gw.chat("a contract question", key=gw.keys["acme"])).status_code == 200
        assert (await gw.chat("ask a doctor", key=gw.keys["acme"])).status_code == 200
        row = page.locator('#live-table tbody tr[data-name="legal."]')
        await expect(row).to_have_count(1)
        await expect(row.locator("td").nth(9)).to_have_text("acme")
        fell = page.locator('#live-table tbody tr[data-name="."]')
        await expect(fell.locator("td").nth(8)).to_have_text("medical.->.")
        rows = page.locator("#live-table tbody tr")
        await page.check("#live-degraded")  # filters apply to rows that arrive from now on
        shown = await rows.count()
        await gw.chat("contract", key=gw.keys["acme"])
        await gw.chat("ask a doctor", key=gw.keys["acme"])
        await expect(rows).to_have_count(shown + 1)
        await expect(rows.first).to_have_attribute("data-name", ".")
        await page.uncheck("#live-degraded")
        for i in range(8):  # traffic over a few 2 s ticks, so the per-name rate charts have a shape
            for _ in range(1 + i % 3):  # deterministic (temperature 0): the response cache answers repeats
                await gw.chat("contract", key=gw.keys["acme"], temperature=0)
            await asyncio.sleep(0.6)
        await expect(rows.first.locator("td").nth(5)).to_have_text("hit")
        await expect(page.locator(".chart")).to_have_count(2)  # legal. and . (the fallback)
        assert await page.locator(".chart polyline").first.get_attribute("points")
        await _shot(page, "live")

        # caches and limits: the tenant's remaining requests went down
        await page.click("#tab-caches")
        acme = page.locator('#tenants tr[data-tenant="acme"]')
        await expect(acme).to_be_visible()
        await expect(acme.locator("td").nth(2)).to_contain_text("of 100")
        hits = page.locator('#cache-names tbody tr:has-text("legal.") td').nth(2)
        assert int(await hits.inner_text()) >= 10
        await _shot(page, "caches", full_page=True)

        # dig, and the same query sent through the gateway: the answer and its headers
        await page.click("#tab-dig")
        await page.fill("#dig-query", "a contract question")
        await page.check("#dig-send")
        await page.click("#dig-form button[type=submit]")
        await expect(page.locator("#send-result")).to_be_visible()
        await expect(page.locator("#send-summary")).to_contain_text("200")
        await expect(page.locator('#send-headers tr:has-text("x-semdns-name") td')).to_have_text("legal.")
        await expect(page.locator("#send-body")).not_to_be_empty()

        # a failing gateway is a clear state, never a blank page
        failing = await context.new_page()
        await failing.route(
            "**/ui/api/namespace",
            lambda route: route.fulfill(
                status=503,
                content_type="application/json",
                body=orjson.dumps(error_body(503, "down for the test", "x")),
            ),
        )
        await failing.goto(f"{gw.url}/ui/")
        await expect(failing.locator("#ns-state")).to_contain_text("503: down for the test")
        await expect(failing.locator("#gateway-state")).to_have_text("gateway not answering")
        await context.close()
