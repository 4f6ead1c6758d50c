"""The bookmarks and evidence-locks screens in real Chromium (issue 15): search bookmarks by words,
camera and a typed time range; a row opens playback at its moment, where the camera's bookmarks
are drawn on the timeline; "add to case" from a row; locks listed, made, extended (only wider, a
narrowing refused in the user's words) and released with a reason by an admin only, all audited.

Helpers and the recorded cameras come from ``tests.test_investigation_browser``.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest

from tests.support.api import password_of
from tests.support.browser import artifact, chromium_available
from tests.support.totp import Authenticator, sign_in_page
from tests.test_investigation_browser import _wait, at, investigation
from vms.auth.roles import Role
from vms.evidence.bookmarks import create_bookmark

# Each test first synthesizes its cameras' recordings (48 min of video): 70-120 s on a loaded
# 2-core machine, at the suite's 120 s bound. A bound, not a wait.
pytestmark = [pytest.mark.browser, pytest.mark.timeout(300),
              pytest.mark.skipif(not chromium_available(), reason="Chromium or Playwright missing")]

CENTRE = ZoneInfo("Asia/Ho_Chi_Minh")
INVESTIGATOR = SimpleNamespace(username="investigator", role=Role.INVESTIGATOR)


def typed(moment) -> str:
    """A moment as a user types it: dd/mm/yyyy HH:mm:ss in the command centre's zone."""
    return moment.astimezone(CENTRE).strftime("%d/%m/%Y %H:%M:%S")


def _moment(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


async def _rows(page, selector: str, expected: list, what: str, attribute: str = "id") -> None:
    try:
        await page.wait_for_function("([sel, want, attr]) => JSON.stringify([...document.querySelectorAll(sel)]"
                                     ".map((r) => r.dataset[attr])) === JSON.stringify(want)",
                                     arg=[selector, [str(x) for x in expected], attribute], timeout=15000, polling=100)
    except Exception:
        shown = await page.eval_on_selector_all(selector, f"(rs) => rs.map((r) => r.dataset.{attribute})")
        raise AssertionError(f"{what}: shown {shown}, expected {expected}") from None


async def _searched(page, action, *params: str) -> None:
    """Run ``action`` and wait for the answer to the bookmark search it makes (one whose query
    has every one of ``params``): a list equal to the one before then proves nothing by itself."""
    def wanted(response) -> bool:
        return "/api/bookmarks" in response.url and all(param in response.url for param in params)

    async with page.expect_response(wanted) as answer:
        await action()
    assert (await answer.value).ok


async def _notice(page, text: str, what: str) -> None:
    await _wait(page, "(t) => document.querySelector('#notice').textContent.includes(t)", what, text, timeout=15)


async def test_bookmarks_searched_played_marked_on_the_timeline_and_added_to_a_case(tmp_path):
    async with investigation(tmp_path) as (system, served, page):
        made = {
            "truck": create_bookmark(system.db, INVESTIGATOR, "tun-1", at(30), at(45), "xe tải dừng", lock=True).id,
            "moto": create_bookmark(system.db, INVESTIGATOR, "tun-3", at(300), None, "Xe máy ngược chiều").id,
            "smoke": create_bookmark(system.db, INVESTIGATOR, "tun-2", at(500), None, "khói", note="khói trong hầm").id,
        }
        await page.goto(served.url + "/#/cases")
        await page.fill("#case-number", "CA-2026/0501")
        await page.fill("#case-title", "Xe máy ngược chiều trong hầm")
        await page.click("#case-create")
        await page.wait_for_selector("#case-detail h2")

        await page.goto(served.url + "/#/bookmarks")
        await _rows(page, "#bm-rows tr", [made["smoke"], made["moto"], made["truck"]], "every bookmark, latest moment first")
        await page.fill("#bm-q", "XE")  # any case
        await page.press("#bm-q", "Enter")
        await _rows(page, "#bm-rows tr", [made["moto"], made["truck"]], "words in the title")
        await page.fill("#bm-q", "trong hầm")
        await page.press("#bm-q", "Enter")
        await _rows(page, "#bm-rows tr", [made["smoke"]], "words in the note")
        await page.fill("#bm-q", "")
        await _searched(page, lambda: page.select_option("#bm-camera", "tun-3"), "camera_id=tun-3")
        await _rows(page, "#bm-rows tr", [made["moto"]], "one camera")
        await _searched(page, lambda: page.select_option("#bm-camera", ""))
        await page.fill("#bm-since", typed(at(200)))
        await page.fill("#bm-until", typed(at(400)))
        # The same row as for the camera: only the answer to this search shows the range works.
        await _searched(page, lambda: page.press("#bm-until", "Enter"), "start=", "end=")
        await _rows(page, "#bm-rows tr", [made["moto"]], "a typed time range")
        await page.fill("#bm-since", "31/02/2026 08:00")
        await page.click("#bm-search")
        assert await page.get_attribute("#bm-since", "aria-invalid") == "true"
        await _rows(page, "#bm-rows tr", [made["moto"]], "the list after a time that is not one")
        await page.fill("#bm-since", "")
        await page.fill("#bm-until", "")
        await page.click("#bm-search")
        await _rows(page, "#bm-rows tr", [made["smoke"], made["moto"], made["truck"]], "every bookmark again")
        assert "đã khóa" in await page.text_content(f'#bm-rows tr[data-id="{made["truck"]}"]')

        # Add to case from the row.
        await page.wait_for_function("() => document.querySelector('#bm-case')?.options.length > 0")
        await page.click(f'#bm-rows tr[data-id="{made["moto"]}"] .bm-add-to-case')
        await _notice(page, "Đã thêm “Xe máy ngược chiều” vào vụ việc.", "the bookmark added to the case")
        case = await (await page.request.get(served.url + "/api/cases/1")).json()
        assert [(i["kind"], i["bookmark_id"]) for i in case["items"]] == [("bookmark", made["moto"])], case["items"]
        await page.screenshot(path=str(artifact("bookmarks-screen.png")))

        # A row opens playback at its moment; the camera's bookmark is drawn on the timeline.
        await page.click(f'#bm-rows tr[data-id="{made["truck"]}"] .bm-open')
        state = await _wait(page, "(t) => { const s = window.vmsPlayback && window.vmsPlayback.state();"
                            " return s && s.camera === 'tun-1' && s.shown && Math.abs(Date.parse(s.shown) - Date.parse(t)) <= 500"
                            " && s.bookmarks.length ? s : null; }", "playback at the bookmark", at(30).isoformat())
        assert state["bookmarks"] == [made["truck"]], state
        # Its range arrives marked, ready for an export or a case clip.
        marked = await page.text_content("#pb-range")
        assert typed(at(30)) in marked and at(45).astimezone(CENTRE).strftime("%H:%M:%S") in marked, marked
        x = await page.evaluate("async (t) => (await import('/static/app/playback.js')).playback.timeline.xOf(Date.parse(t))",
                                at(30).isoformat())
        # Inside the flag above the bar (the bar's top is 18 px down; the flag's tip 11 px down), the
        # bookmark colour #4da3ff (within antialiasing).
        pixel = await page.evaluate("(x) => [...document.querySelector('#pb-timeline').getContext('2d')"
                                    ".getImageData(Math.round(x + 2), 11, 1, 1).data].slice(0, 3)", x)
        assert all(abs(got - want) <= 12 for got, want in zip(pixel, (0x4D, 0xA3, 0xFF))), pixel
        box = await page.locator("#pb-timeline").bounding_box()
        await page.mouse.move(box["x"] + x + 1, box["y"] + 10)
        title = await _wait(page, "() => { const t = document.querySelector('#pb-timeline').title;"
                            " return t.includes('★') ? t : null; }", "the bookmark named on hover")
        assert "xe tải dừng" in title, title
        await page.locator("#pb-timeline").screenshot(path=str(artifact("bookmark-marker.png")))


async def test_evidence_locks_listed_made_extended_and_released_by_an_admin_only(tmp_path):
    async with investigation(tmp_path) as (system, served, page):
        # The investigator locks a range of tun-2 by hand.
        await page.goto(served.url + "/#/locks")
        await page.wait_for_function("() => document.querySelector('#lock-camera')?.options.length > 0")
        await page.select_option("#lock-camera", "tun-2")
        await page.fill("#lock-start", typed(at(100)))
        await page.fill("#lock-end", typed(at(200)))
        await page.fill("#lock-reason", "CA-2026/0502")
        await page.click("#lock-create")
        await _notice(page, "Đã khóa khoảng thời gian.", "the lock made")
        locks = await (await page.request.get(served.url + "/api/evidence/locks")).json()
        assert [(lock["camera_id"], lock["reason"]) for lock in locks] == [("tun-2", "CA-2026/0502")]
        lock_id = locks[0]["id"]
        await _rows(page, "#lock-rows tr.lock", [lock_id], "the lock listed")
        row = await page.text_content(f'#lock-rows tr[data-id="{lock_id}"]')
        assert typed(at(200)) in row and "CA-2026/0502" in row and "investigator" in row, row
        # Investigators may not release: no button for them.
        assert await page.locator(".lock-release").count() == 0

        # A narrowing is refused, in the user's words; a wider end is taken.
        await page.click(".lock-extend")
        await page.fill(".lock-new-start", typed(at(150)))
        await page.click(".lock-extend-save")
        await _notice(page, "Khóa chỉ có thể mở rộng", "the narrowing refused")
        await page.fill(".lock-new-start", typed(at(100)))
        await page.fill(".lock-new-end", typed(at(400)))
        await page.click(".lock-extend-save")
        await _notice(page, "Đã mở rộng khóa.", "the lock extended")
        await _wait(page, "(t) => { const c = document.querySelector('#lock-rows tr.lock .lock-until');"
                    " return c && c.textContent === t; }", "the new end shown", typed(at(400)))
        locks = await (await page.request.get(served.url + "/api/evidence/locks")).json()
        assert [_moment(locks[0][k]) for k in ("start", "end")] == [at(100), at(400)], locks

        # An admin releases it; without a reason the server refuses, in Vietnamese.
        admin = await page.context.browser.new_page(viewport={"width": 1366, "height": 900})
        try:
            await sign_in_page(admin, served.url, "admin", password_of("admin"), Authenticator())
            await admin.goto(served.url + "/#/locks")
            await _rows(admin, "#lock-rows tr.lock", [lock_id], "the lock, seen by the admin")
            await admin.click(".lock-release")
            await admin.click(".lock-release-confirm")
            await _notice(admin, "Hãy ghi lý do gỡ khóa.", "a release without a reason refused")
            await admin.fill(".lock-why", "vụ việc đã đóng")
            await admin.click(".lock-release-confirm")
            await _notice(admin, "Đã gỡ khóa", "the lock released")
            await _rows(admin, "#lock-rows tr.lock", [], "no lock left")
            await admin.screenshot(path=str(artifact("locks-screen.png")))
            audit = await (await admin.request.get(served.url + "/api/audit")).json()
        finally:
            await admin.close()
        actions = [(e["action"], e["username"]) for e in audit if e["action"].startswith("lock.")]
        assert actions == [("lock.release", "admin"), ("lock.extend", "investigator"), ("lock.create", "investigator")], actions
        release = next(e for e in audit if e["action"] == "lock.release")
        assert "vụ việc đã đóng" in str(release), release



# Counts every JSON answer the page has read, by address: once an address is in the list, the
# code that awaited it has run on (drawn or dropped it) in the microtasks after, before any poll.
READ_ANSWERS = """() => {
  const json = Response.prototype.json;
  window.readAnswers = [];
  Response.prototype.json = async function () {
    const value = await json.call(this);
    window.readAnswers.push(this.url);
    return value;
  };
}"""


async def test_an_older_search_answered_last_does_not_replace_the_newer_one(tmp_path):
    """Answers can come back in another order than asked (a slow link, a busy server): the
    first search's answer is held until the second search is shown, then let through. The list
    keeps the second search's rows."""
    async with investigation(tmp_path, recorded=False) as (system, served, page):
        truck = create_bookmark(system.db, INVESTIGATOR, "tun-1", at(30), at(45), "xe tải dừng").id
        moto = create_bookmark(system.db, INVESTIGATOR, "tun-3", at(300), None, "Xe máy ngược chiều").id
        await page.goto(served.url + "/#/bookmarks")
        await _rows(page, "#bm-rows tr", [moto, truck], "every bookmark")
        await page.evaluate(READ_ANSWERS)

        asked, release = asyncio.Event(), asyncio.Event()

        async def hold(route) -> None:
            asked.set()
            await release.wait()
            await route.continue_()

        await page.route(lambda url: "/api/bookmarks" in url and "camera_id=tun-1" in url, hold)
        await page.select_option("#bm-camera", "tun-1")  # the first search: its answer is held
        await asyncio.wait_for(asked.wait(), 15)
        await _searched(page, lambda: page.select_option("#bm-camera", "tun-3"), "camera_id=tun-3")
        await _rows(page, "#bm-rows tr", [moto], "the second search")
        release.set()
        await _wait(page, "() => window.readAnswers.some((url) => url.includes('camera_id=tun-1'))",
                    "the first search's answer read by the page")
        shown = await page.eval_on_selector_all("#bm-rows tr", "(rows) => rows.map((r) => Number(r.dataset.id))")
        assert shown == [moto], f"the older answer replaced the newer one: {shown}"
        assert await page.input_value("#bm-camera") == "tun-3"
