"""The operators' dashboard (issue #5) in real headless Chromium, against a real vms and real RTSP cameras.

One system and one signed-in page serve the whole module, and the tests run in order as an
operator's shift would: sign in, build a wall, handle an event, play it back, export it,
register a camera, and look at the admin screens. Screenshots of every screen go to
test-artifacts/dashboard-*.png.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import pytest_asyncio

from streams.simulator import simulator_available, simulator_unavailable_reason
from tests.support.browser import chromium_available
from tests.support.dashboard import (
    SPARE_CAMERA,
    SUB_CAMERA,
    WALL_CAMERAS,
    dashboard_browser,
    dashboard_system,
    wait_until,
)
from tests.support.live_system import NOWHERE
from tests.support.totp import Authenticator

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not simulator_available(), reason=simulator_unavailable_reason() or ""),
    pytest.mark.skipif(not chromium_available(), reason="Chromium or Playwright missing"),
    pytest.mark.asyncio(loop_scope="module"),
]

HCMC = ZoneInfo("Asia/Ho_Chi_Minh")
XSS_NAME = '<img src=x onerror="window.__xss=1">'
OFFLINE_CAMERA = "road-04"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def dash(tmp_path_factory):
    with dashboard_system(tmp_path_factory.mktemp("dashboard")) as dashboard:
        # A browser set to US English in New York: dates still read dd/mm/yyyy HH:mm, Ho Chi Minh City time.
        async with dashboard_browser(dashboard, locale="en-US", timezone_id="America/New_York"):
            dashboard.state = {}
            yield dashboard


class TotpPhone:
    """The admin's authenticator app in this test: one seed, each code used once."""

    def __init__(self, secret: str) -> None:
        self.app = Authenticator()
        self.app.add("admin", secret)

    def code(self) -> str:
        return self.app.code("admin")


def parse(moment: str) -> datetime:
    return datetime.fromisoformat(moment.replace("Z", "+00:00"))


async def api_json(dash, path: str):
    response = await dash.page.request.get(dash.url + path)  # with the page's session cookie
    assert response.ok, f"{path}: {response.status} {await response.text()}"
    return await response.json()


async def test_sign_in_through_the_form(dash):
    page = dash.page
    await page.goto(dash.url + "/")
    await page.wait_for_selector("#login-form")
    assert await page.is_hidden("#shell")
    await dash.shot("login")
    await page.fill("#login-username", dash.username)
    await page.fill("#login-password", "not-the-password")
    await page.click("#login-submit")
    await dash.wait_js("() => document.querySelector('#login-error').textContent.length > 0", "a refusal")
    assert await page.text_content("#login-error") == "Sai tên đăng nhập hoặc mật khẩu."  # plain words, in Vietnamese
    await page.fill("#login-password", dash.password)
    await page.click("#login-submit")
    # An admin's first sign-in: two-factor enrolment comes first (QR code drawn by the server).
    await page.wait_for_selector("#enrol:not([hidden]) #enrol-form")
    # The form shows before the server's answer fills it in: wait for the key, then look at the QR code.
    await dash.wait_js("() => document.querySelector('#enrol-secret').textContent.length >= 16", "the enrolment key")
    assert (await page.get_attribute("#enrol-qr", "src") or "").startswith("data:image/svg+xml")
    secret = (await page.text_content("#enrol-secret")).strip()
    dash.state["totp"] = TotpPhone(secret)
    await dash.shot("enrol")
    await page.fill("#enrol-code", "000000")
    await page.click("#enrol-submit")
    await dash.wait_js("() => document.querySelector('#enrol-error').textContent.length > 0", "a wrong code refused")
    await page.fill("#enrol-code", dash.state["totp"].code())
    await page.click("#enrol-submit")
    await page.wait_for_selector("#enrol-done:not([hidden])")
    assert await page.locator("#enrol-codes li").count() == 10
    await page.click("#enrol-continue")
    await page.wait_for_selector("#shell:not([hidden])")
    assert await page.text_content("#me-name") == dash.username
    assert await page.text_content("#me-role") == "Quản trị viên"
    assert await page.is_hidden("#login")
    # Signed in by the form: the session cookie is the browser's own.
    assert (await api_json(dash, "/api/auth/me"))["via"] == "cookie"


async def test_sign_in_again_with_the_code_from_the_app(dash):
    page = dash.page
    await page.click("#logout")
    await page.wait_for_selector("#login-form")
    await page.fill("#login-username", dash.username)
    await page.fill("#login-password", dash.password)
    await page.click("#login-submit")
    await page.wait_for_selector("#login-code-field:not([hidden])")
    await page.fill("#login-code", dash.state["totp"].code())
    await page.click("#login-submit")
    await page.wait_for_selector("#shell:not([hidden])")
    me = await api_json(dash, "/api/auth/me")
    assert me["two_factor"] == {"enabled": True, "required": True, "enrolment_required": False}


async def test_language_switches_and_is_remembered(dash):
    page = dash.page
    wall_label = page.locator('.nav-item[data-screen="wall"]')
    assert await wall_label.inner_text() == "Tường video"  # Vietnamese by default
    await page.click('.topbar .lang-button[data-lang="en"]')
    await dash.wait_js("() => document.querySelector('.nav-item[data-screen=wall]').innerText === 'Video wall'", "English")
    assert await page.evaluate("localStorage.getItem('vms.lang')") == "en"
    assert await page.get_attribute("html", "lang") == "en"
    await page.reload()
    await page.wait_for_selector("#shell:not([hidden])")
    assert await wall_label.inner_text() == "Video wall"  # remembered across a reload
    await dash.shot("english")
    await page.click('.topbar .lang-button[data-lang="vi"]')
    await dash.wait_js("() => document.querySelector('.nav-item[data-screen=wall]').innerText === 'Tường video'", "Vietnamese")


async def test_wall_2x2_plays_every_tile_and_full_screen_uses_the_main_stream(dash):
    page = dash.page
    await dash.screen("wall")
    # The first sign-in shows a default wall of the user's cameras; clear it to build our own.
    default = await dash.wait_js("() => { const s = window.vmsWall.stats(); return s.length ? s : null; }", "a default wall")
    assert {tile["camera"] for tile in default} == set(WALL_CAMERAS)
    await page.wait_for_selector('#wall-grid[data-size="4"]')
    for index in range(4):
        await page.evaluate("(i) => window.vmsWall.assign(i, null)", index)
    # Drag the first camera into the first tile, click the others into the next empty tiles.
    first, *others = WALL_CAMERAS
    await page.drag_and_drop(f'.camera-item[data-camera="{first}"]', '.tile[data-index="0"]')
    await page.wait_for_selector(f'.tile[data-index="0"][data-camera="{first}"]')
    for camera in others:
        await page.click(f'.camera-item[data-camera="{camera}"]')
    all_live = """() => { const s = window.vmsWall.stats();
        return s.length === 4 && s.every(t => t.state === 'live' && t.framesDecoded > 0) ? s : null; }"""
    before = await dash.wait_js(all_live, "4 live tiles", timeout=30)
    assert [t["camera"] for t in before] == WALL_CAMERAS
    after = await dash.wait_js(
        "(before) => { const s = window.vmsWall.stats();"
        " return s.every((t, i) => t.framesDecoded >= before[i].framesDecoded + 25) ? s : null; }",
        "25 more frames decoded in every tile", arg=before)
    for tile in after:
        # 2x2 walls take the sub-stream of cameras that have one.
        expected = ("sub", 160, 90) if tile["camera"] == SUB_CAMERA else ("main", 320, 180)
        assert (tile["stream"], tile["frameWidth"], tile["frameHeight"]) == expected, tile
        assert tile["codec"] == "video/H264"
    names = await page.locator(".tile .name").all_inner_texts()
    assert names == [f"Camera {c}" for c in WALL_CAMERAS]
    assert await page.locator('.tile[data-index="0"] .state').inner_text() == "trực tiếp"
    await dash.shot("wall")

    # Double-click: full screen on the main stream.
    await page.dblclick('.tile[data-index="0"]')
    full = await dash.wait_js("() => { const f = window.vmsWall.fullscreen(); return f && f.framesDecoded > 10 ? f : null; }",
                              "the full-screen tile to play")
    assert (full["camera"], full["stream"], full["frameWidth"]) == (SUB_CAMERA, "main", 320)
    await dash.shot("wall-fullscreen")
    await page.keyboard.press("Escape")
    await page.wait_for_selector("#wall-fullscreen", state="hidden")

    # The wall saved as a named layout of this user.
    await page.fill("#layout-name", "Hầm và đường")
    await page.click("#layout-save")
    layouts = await wait_until(lambda: api_json(dash, "/api/layouts"), 10, "the saved layout")
    assert [(x["name"], x["tiles"], x["cameras"]) for x in layouts] == [("Hầm và đường", 4, WALL_CAMERAS)]
    await dash.wait_js("() => [...document.querySelectorAll('#layout-select option')].some(o => o.textContent.startsWith('Hầm và đường'))",
                       "the layout in the list")


async def test_an_offline_camera_raises_an_event_that_is_acknowledged(dash):
    page = dash.page
    await dash.screen("events")
    await page.wait_for_selector('#events-live[data-state="live"]')
    rows = f'.event[data-type="camera_offline"][data-camera="{OFFLINE_CAMERA}"]'
    assert await page.locator(rows).count() == 0
    dash.sim.stop_camera(OFFLINE_CAMERA)
    try:
        # Arrives over server-sent events: no reload, no polling.
        await page.wait_for_selector(rows, timeout=30000)
    finally:
        dash.sim.start_camera(OFFLINE_CAMERA)
    row = page.locator(rows).first
    event_id = int(await row.get_attribute("data-id"))
    dash.state["event_id"] = event_id
    assert await row.get_attribute("data-acknowledged") == "no"
    assert await row.locator(".event-type").inner_text() == "Camera mất tín hiệu"  # the type, translated
    assert await row.locator(".event-camera").inner_text() == f"Camera {OFFLINE_CAMERA}"
    await dash.shot("events")
    await row.locator("button.ack").click()
    await page.wait_for_selector(f'.event[data-id="{event_id}"][data-acknowledged="yes"]')
    assert dash.username in await page.locator(f'.event[data-id="{event_id}"] .acked').inner_text()
    event = await api_json(dash, f"/api/events/{event_id}")
    assert event["acknowledged_by"] == dash.username
    assert event["type"] == "camera_offline"
    dash.state["event"] = event


async def test_playback_opens_at_the_events_moment_and_seeks_to_the_second(dash):
    page = dash.page
    event = dash.state["event"]
    await page.click(f'.event[data-id="{event["id"]}"] .event-body')
    await page.wait_for_selector("#screen-playback:not([hidden])")
    assert await page.input_value("#pb-camera") == OFFLINE_CAMERA
    shown = await dash.wait_js(
        "() => { const s = window.vmsPlayback.state(); return s.shown && s.framesDecoded > 0 && s.readyState >= 2 ? s : null; }",
        "the event's picture", timeout=30)
    clip_start = parse(event["clip"]["start"])
    assert abs((parse(shown["shown"]) - clip_start).total_seconds()) <= 1.0, (shown, event["clip"])
    assert shown["message"] is None
    clock = await page.text_content("#pb-clock")
    # The command centre's time, written dd/mm/yyyy HH:MM (24 h) whatever the browser's locale.
    assert clock.startswith(clip_start.astimezone(HCMC).strftime("%d/%m/%Y %H:%M"))
    await dash.shot("playback")

    # Go to a typed second: the picture shown is within half a second of it.
    target = (clip_start + timedelta(seconds=2)).replace(microsecond=0)
    await page.fill("#pb-goto", target.astimezone(HCMC).strftime("%H:%M:%S"))
    await page.click("#pb-goto-btn")
    seeked = await dash.wait_js(
        "(target) => { const s = window.vmsPlayback.state();"
        " return s.shown && Math.abs(Date.parse(s.shown) - Date.parse(target)) <= 500 ? s : null; }",
        "the typed second", arg=target.isoformat())
    assert seeked["framesDecoded"] > 0
    # The day field reads dd/mm/yyyy, not the browser's mm/dd/yyyy.
    assert await page.get_attribute("#pb-day", "type") == "text"
    assert await page.input_value("#pb-day") == clip_start.astimezone(HCMC).strftime("%d/%m/%Y")

    # A full dd/mm/yyyy HH:mm:ss, typed digit by digit: the field puts in the separators.
    target = (clip_start + timedelta(seconds=1)).replace(microsecond=0)
    typed = target.astimezone(HCMC).strftime("%d/%m/%Y %H:%M:%S")
    await page.fill("#pb-goto", "")
    await page.type("#pb-goto", typed.replace("/", "").replace(" ", "").replace(":", ""))
    assert await page.input_value("#pb-goto") == typed
    await page.press("#pb-goto", "Enter")
    await dash.wait_js(
        "(target) => { const s = window.vmsPlayback.state();"
        " return s.shown && Math.abs(Date.parse(s.shown) - Date.parse(target)) <= 500 ? s : null; }",
        "the typed date and second", arg=target.isoformat())
    assert (await page.text_content("#pb-clock")).startswith(typed[:16])

    # A time that is not one (31st of February) is refused and marked, and nothing moves.
    await page.fill("#pb-goto", "31/02/2026 10:00")
    await page.press("#pb-goto", "Enter")
    assert await page.get_attribute("#pb-goto", "aria-invalid") == "true"

    # Play at 4x: the picture time moves on, then pauses.
    await page.select_option("#pb-speed", "4")
    await page.click("#pb-play")
    await dash.wait_js("(t) => { const s = window.vmsPlayback.state(); return !s.paused && Date.parse(s.shown) > Date.parse(t) + 1500; }",
                       "playback to advance", arg=seeked["shown"])
    await page.click("#pb-play")
    await dash.wait_js("() => window.vmsPlayback.state().paused", "pause")
    await page.select_option("#pb-speed", "1")
    # One frame forward is about 1/25 s later (the step follows the camera's measured frame rate).
    # Measured from where the video is at the click itself: just after a pause at 4x, Chromium
    # may still move currentTime back to the frame it shows (under two CPU burners: 4.8109 s read
    # before the click, 4.7178 s after a step of 0.04 s), so a position read earlier is not the
    # one the step starts from.
    await page.evaluate("""() => document.addEventListener('click', (e) => {
        if (e.target.closest('#pb-step-fwd')) window.stepFrom = document.querySelector('#pb-video').currentTime;
    }, { capture: true })""")
    await page.click("#pb-step-fwd")
    [before] = await dash.wait_js("() => typeof window.stepFrom === 'number' ? [window.stepFrom] : null",
                                  "the click on the step button")
    after = await dash.wait_js("(before) => { const c = window.vmsPlayback.state().currentTime; return c !== before ? c : null; }",
                               "a frame step", arg=before)
    assert 0.025 <= after - before <= 0.06, (before, after)

    # A day typed dd/mm/yyyy opens that day; the day before the event's is typed, then its own.
    event_day = clip_start.astimezone(HCMC).date()
    for day in (event_day - timedelta(days=1), event_day):
        await page.fill("#pb-day", "")
        await page.type("#pb-day", day.strftime("%d%m%Y"))
        assert await page.input_value("#pb-day") == day.strftime("%d/%m/%Y")
        await page.press("#pb-day", "Enter")
        await dash.wait_js("(d) => window.vmsPlayback.state().day === d", "the typed day", arg=day.isoformat())


async def test_export_a_clip_and_verify_its_sha256(dash):
    page = dash.page
    event = dash.state["event"]
    start = parse(event["clip"]["start"]).replace(microsecond=0) + timedelta(seconds=1)
    end = start + timedelta(seconds=3)
    await page.evaluate("(t) => window.vmsPlayback.seek(t)", start.isoformat())
    await dash.wait_js("(t) => Math.abs(Date.parse(window.vmsPlayback.state().shown) - Date.parse(t)) <= 500", "mark-in moment",
                       arg=start.isoformat())
    await page.click("#pb-mark-in")
    await page.evaluate("(t) => window.vmsPlayback.seek(t)", end.isoformat())
    await dash.wait_js("(t) => Math.abs(Date.parse(window.vmsPlayback.state().shown) - Date.parse(t)) <= 500", "mark-out moment",
                       arg=end.isoformat())
    await page.click("#pb-mark-out")
    await page.fill("#pb-reason", "Hồ sơ 2026/TT-17")
    await page.click("#pb-export")
    await page.wait_for_selector("#screen-exports:not([hidden])")
    card = page.locator(".export-card.highlight")
    await page.wait_for_selector('.export-card.highlight[data-state="done"]', timeout=60000)
    shown_sha = (await card.locator(".sha256").inner_text()).strip()
    await dash.shot("exports")
    file_url = await card.locator("a.download-file").get_attribute("href")
    manifest_url = await card.locator("a.download-manifest").get_attribute("href")
    mp4 = await page.request.get(dash.url + file_url)
    assert mp4.ok and mp4.headers["content-type"] == "video/mp4"
    body = await mp4.body()
    manifest = json.loads(await (await page.request.get(dash.url + manifest_url)).text())
    digest = hashlib.sha256(body).hexdigest()
    assert digest == manifest["file"]["sha256"] == shown_sha
    assert manifest["file"]["bytes"] == len(body) > 1000
    export = await api_json(dash, f"/api/exports/{await card.get_attribute('data-id')}")
    assert export["reason"] == "Hồ sơ 2026/TT-17" and export["camera_id"] == OFFLINE_CAMERA


async def test_register_a_camera_after_probing_it(dash):
    page = dash.page
    await dash.screen("cameras")
    await page.click("#camera-add")
    await page.wait_for_selector("#camera-form:not([hidden])")
    await page.fill("#cam-id", SPARE_CAMERA)
    await page.fill("#cam-name", "Cổng Mai Chí Thọ")
    await page.select_option("#cam-group", "gateway")
    await page.fill("#cam-main", dash.sim.url(SPARE_CAMERA))
    await page.fill("#cam-lat", "10.7830")
    await page.fill("#cam-lon", "106.7390")
    await page.select_option("#cam-transport", "tcp")
    await page.select_option("#cam-rtsp-client", "builtin")
    assert await page.is_disabled("#cam-save")  # probe first
    await page.click("#cam-probe")
    await page.wait_for_selector('#probe-result:not([hidden]) h3[data-ok="true"]', timeout=30000)
    assert (await page.text_content('[data-fact="codec"]')).startswith("h264")
    assert await page.text_content('[data-fact="resolution"]') == "320×180"
    assert await page.text_content('[data-fact="transport"]') == "TCP"
    assert float(await page.text_content('[data-fact="fps"]')) == pytest.approx(25, abs=1)
    await dash.wait_js("() => { const i = document.querySelector('#probe-snapshot'); return i && i.complete && i.naturalWidth === 320; }",
                       "the probe's snapshot")
    await dash.shot("camera-probe")
    await page.click("#cam-save")
    row = f'#camera-table tr[data-camera="{SPARE_CAMERA}"]'
    await page.wait_for_selector(row)
    assert await page.locator(f"{row} .camera-name").inner_text() == "Cổng Mai Chí Thọ"
    # The form's RTSP client choice was sent (null would be the deployment's default).
    assert (await api_json(dash, f"/api/cameras/{SPARE_CAMERA}"))["rtsp_client"] == "builtin"
    await page.wait_for_selector(f'{row}[data-state="online"]', timeout=40000)
    await dash.shot("cameras")


async def test_names_from_users_are_text_never_html(dash):
    page = dash.page
    response = await page.request.post(dash.url + "/api/cameras", headers=dash.system.auth, data={
        "id": "xss-01", "name": XSS_NAME, "group": "rented", "main_url": NOWHERE,
        "location": {"lat": 10.7790, "lon": 106.7200, "description": XSS_NAME}, "recording": {"enabled": False},
    })
    assert response.status == 201, await response.text()
    await dash.screen("wall")
    item = page.locator('.camera-item[data-camera="xss-01"] .camera-name')
    await item.wait_for()
    assert await item.inner_text() == XSS_NAME
    await page.click('.layout-size[data-size="1"]')
    await page.click('.camera-item[data-camera="xss-01"]')
    await page.wait_for_selector('.tile[data-camera="xss-01"]')
    assert await page.locator('.tile[data-camera="xss-01"] .name').inner_text() == XSS_NAME
    await dash.screen("cameras")
    await page.wait_for_selector('#camera-table tr[data-camera="xss-01"]')
    assert await page.locator('#camera-table tr[data-camera="xss-01"] .camera-name').inner_text() == XSS_NAME
    await dash.screen("map")
    label = page.locator('.marker[data-camera="xss-01"] .marker-label')
    await label.wait_for()
    assert await label.text_content() == XSS_NAME
    await dash.shot("map")
    assert await page.evaluate("typeof window.__xss") == "undefined"
    assert await page.locator('img[src="x"]').count() == 0
    # A click on the map opens the camera on the wall.
    await page.click('.marker[data-camera="tunnel-03"] .marker-dot')
    await page.wait_for_selector('#screen-wall:not([hidden]) #wall-fullscreen[data-camera="tunnel-03"]:not([hidden])')
    await dash.wait_js("() => { const f = window.vmsWall.fullscreen(); return f && f.framesDecoded > 0; }", "the camera from the map")
    await page.keyboard.press("Escape")


async def test_users_and_audit_screens(dash):
    page = dash.page
    await dash.screen("users")
    await page.wait_for_selector(f'#user-rows tr[data-username="{dash.username}"]')
    await page.fill("#user-username", "truc-ban-01")
    await page.fill("#user-display", "Trực ban ca đêm")
    await page.select_option("#user-role", "operator")
    await page.fill("#user-password", "Ca-Dem-Thu-Thiem-2026")
    await page.click('#user-add-form button[type="submit"]')
    row = '#user-rows tr[data-username="truc-ban-01"]'
    await page.wait_for_selector(row)
    assert await page.locator(f"{row} select.role").input_value() == "operator"
    # A lost phone: the admin resets the user's two-factor sign-in (confirmed, audited). The notice
    # of the user just added is still up: wait for the reset's own answer and words (the audit
    # read below must come after the reset's entry, not race it).
    await page.click(f"{row} button.reset-two-factor")
    async with page.expect_response(lambda r: r.request.method == "PATCH" and r.url.endswith("/api/users/truc-ban-01")) as reset:
        await page.click("#confirm-yes")
    assert (await reset.value).ok
    await dash.wait_js("() => document.querySelector('#notice').textContent.includes('Đã đặt lại đăng nhập hai lớp của truc-ban-01')",
                       "the reset notice")
    await dash.shot("users")
    # Saved wall layouts are each user's own: another user neither sees nor deletes them.
    [mine] = await api_json(dash, "/api/layouts")
    other = {"Authorization": "Bearer " + dash.token_of("truc-ban-01")}
    assert await (await page.request.get(dash.url + "/api/layouts", headers=other)).json() == []
    assert (await page.request.delete(dash.url + f"/api/layouts/{mine['id']}", headers=other)).status == 404
    assert [x["id"] for x in await api_json(dash, "/api/layouts")] == [mine["id"]]
    await dash.screen("audit")
    await page.wait_for_selector('#audit-rows tr[data-action="user.add"]')
    actions = set(await page.locator("#audit-rows tr").evaluate_all("rows => rows.map(r => r.dataset.action)"))
    assert {"login.ok", "login.failed", "user.add", "user.update", "camera.add", "camera.probe", "export.request",
            "playback", "two_factor.enrol", "two_factor.enable"} <= actions
    await page.select_option("#audit-action", "camera.")
    await page.click('#screen-audit button[type="submit"]')
    # Some rows, all of them camera actions ("every" alone holds for an empty table too).
    await dash.wait_js("() => { const rows = [...document.querySelectorAll('#audit-rows tr')];"
                       " return rows.length > 0 && rows.every(r => r.dataset.action.startsWith('camera.')); }",
                       "camera actions only")
    href = await page.get_attribute("#audit-csv", "href")
    assert href.startswith("/api/audit.csv?") and "action=camera." in href
    csv = await page.request.get(dash.url + href)
    assert csv.ok and csv.headers["content-type"].startswith("text/csv")
    assert "camera.add" in await csv.text()
    await dash.shot("audit")


async def test_no_script_errors_or_policy_violations(dash):
    """Every screen above ran without an uncaught exception or a Content-Security-Policy refusal."""
    problems = [line for line in dash.console if line.startswith("pageerror") or "Content Security Policy" in line]
    assert not problems, "\n".join(problems)
