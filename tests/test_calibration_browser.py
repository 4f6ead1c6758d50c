"""Metric calibration in the dashboard, in real Chromium against a real vms and a real RTSP camera.

A technician opens a camera's zone editor, switches to "Calibrate", clicks four points on the
snapshot (dragging one into place) and types their road positions in metres; saved, reloaded,
the calibration comes back from the API, the road's grid is drawn through the points and the
measure tool gives the lane's width and a stretch's length in metres. Three points on a line,
or nearly on one, are refused by the server and said in Vietnamese; "Remove calibration" removes it; an operator
is offered none of it (the API refuses the operator's PUT). The tests share one signed-in page
and run in order.
"""

from __future__ import annotations

import math
import re

import pytest
import pytest_asyncio

from streams.simulator import simulator_available, simulator_unavailable_reason
from tests.support.browser import chromium_available
from tests.support.dashboard import dashboard_browser, dashboard_system
from tests.support.totp import Authenticator, sign_in_page
from vms.auth.roles import Role
from vms.auth.users import Users, random_password

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not simulator_available(), reason=simulator_unavailable_reason() or ""),
    pytest.mark.skipif(not chromium_available(), reason="Chromium or Playwright missing"),
    pytest.mark.asyncio(loop_scope="module"),
]

CAMERA = "tunnel-01"
TECHNICIAN = "ky-thuat-ham"
OPERATOR = "truc-ban-calib"
# A lane 3.5 m wide between two dashes 12 m apart, seen in perspective: the near edge (points
# 1, 2) twice as wide in the picture as the far one (3, 4).
PICTURE = [(0.2, 0.9), (0.8, 0.9), (0.65, 0.3), (0.35, 0.3)]
GROUND = [(0, 0), (3.5, 0), (3.5, 12), (0, 12)]
WRONG_4 = (0.25, 0.2)  # where point 4 is first dropped, then dragged to PICTURE[3]
DETECTION = {"zones": [{"id": "lane-2", "polygon": [[0.1, 0.4], [0.9, 0.4], [0.9, 0.8], [0.1, 0.8]]}],
             "motion": {"min_area": 0.003}}


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def dash(tmp_path_factory):
    with dashboard_system(tmp_path_factory.mktemp("calibration")) as dashboard:
        runtime = dashboard.system.runtime
        users = Users(runtime.db, runtime.settings.security)
        dashboard.other_password = random_password()
        users.add(TECHNICIAN, dashboard.other_password, Role.TECHNICIAN)
        users.add(OPERATOR, dashboard.other_password, Role.OPERATOR)
        users.add_grant("tunnel", ["live", "playback"], username=OPERATOR)
        async with dashboard_browser(dashboard):
            yield dashboard


async def detection(dash) -> dict:
    answer = await dash.page.request.get(dash.url + f"/api/cameras/{CAMERA}/detection", headers=dash.system.auth)
    assert answer.ok, await answer.text()
    return await answer.json()


async def open_calibration(dash) -> None:
    page = dash.page
    await dash.screen("cameras")
    # The editor's own GET answered: the dialog opens only then.
    await page.click(f'#camera-table tr[data-camera="{CAMERA}"] button.zones')
    await page.wait_for_selector("#zone-editor[open]")
    await dash.wait_js("() => { const i = document.querySelector('#zone-snapshot'); return i.complete && i.naturalWidth > 0; }",
                       "the camera's snapshot")
    await page.click("#calib-mode")
    await page.wait_for_selector("#calib-panel:not([hidden])")


async def at(dash, x: float, y: float) -> tuple[float, float]:
    box = await dash.page.locator("#zone-canvas").bounding_box()  # the dialog grows as rows are listed
    return box["x"] + x * box["width"], box["y"] + y * box["height"]


async def click_at(dash, x: float, y: float) -> None:
    await dash.page.mouse.click(*(await at(dash, x, y)))


def flat(points) -> list[float]:
    return [float(v) for point in points for v in point]


def off_line(point, a, b) -> float:
    """Distance (picture fractions) of ``point`` from the segment a-b."""
    (px, py), (ax, ay), (bx, by) = point, a, b
    dx, dy = bx - ax, by - ay
    f = max(0.0, min(1.0, ((px - ax) * dx + (py - ay) * dy) / (dx * dx + dy * dy)))
    return math.hypot(px - ax - f * dx, py - ay - f * dy)


def near_a_line(point, polylines) -> float:
    return min(off_line(point, a, b) for line in polylines for a, b in zip(line, line[1:]))


async def grid(dash, selector: str) -> list[list[tuple[float, float]]]:
    lines = await dash.page.evaluate(
        "(s) => [...document.querySelectorAll(s)].map(l => l.getAttribute('points').split(' ').map(p => p.split(',').map(Number)))",
        selector)
    return [[tuple(p) for p in line] for line in lines]


async def measure(dash, a, b) -> float:
    await click_at(dash, *a)  # a third click begins a new measure: the last one's figure goes
    assert await dash.page.get_attribute("#calib-measure-result", "data-metres") is None
    await click_at(dash, *b)
    text = await dash.wait_js("() => document.querySelector('#calib-measure-result').dataset.metres", "a measured distance")
    return float(text)


async def test_a_technician_calibrates_by_clicking_four_points_and_typing_metres(dash):
    page = dash.page
    put = await page.request.put(dash.url + f"/api/cameras/{CAMERA}/detection", headers=dash.system.auth, data=DETECTION)
    assert put.ok, await put.text()
    await sign_in_page(page, dash.url, TECHNICIAN, dash.other_password, Authenticator())
    await page.goto(dash.url + "/")
    await page.wait_for_selector("#shell:not([hidden])")
    await open_calibration(dash)
    assert await page.locator("#calib-marks .calib-handle").count() == 0  # not calibrated yet
    for point in [*PICTURE[:3], WRONG_4]:
        await click_at(dash, *point)
    assert await page.locator("#calib-marks .calib-handle").all_inner_texts() == ["1", "2", "3", "4"]
    # Point 4 dropped in the wrong place is dragged onto the lane's corner.
    await page.mouse.move(*(await at(dash, *WRONG_4)))
    await page.mouse.down()
    await page.mouse.move(*(await at(dash, 0.3, 0.25)), steps=3)
    await page.mouse.move(*(await at(dash, *PICTURE[3])), steps=3)
    await page.mouse.up()
    # The arrow keys nudge a focused handle (Shift: a hundredth of the picture).
    handle = page.locator('#calib-marks .calib-handle[data-index="3"]')
    before = float((await handle.evaluate("h => h.style.left")).rstrip("%"))
    await handle.focus()
    await page.keyboard.press("Shift+ArrowRight")
    after = float((await page.locator('#calib-marks .calib-handle[data-index="3"]').evaluate("h => h.style.left")).rstrip("%"))
    assert after == pytest.approx(before + 1, abs=0.02)
    await page.keyboard.press("Shift+ArrowLeft")  # the focus stayed on the redrawn handle
    assert await page.locator("#calib-layer .calib-grid").count() == 0  # no metres typed yet
    for index, (x, y) in enumerate(GROUND):
        row = page.locator(f'#calib-rows .calib-row[data-index="{index}"]')
        await row.locator(".calib-x").fill(str(x))
        await row.locator(".calib-y").fill(str(y))
    lines = await grid(dash, "#calib-layer .calib-grid")
    assert len(lines) > 20, lines
    await dash.shot("calibration")
    await page.click("#zone-save")
    await page.wait_for_selector("#zone-editor", state="hidden")
    # The notice says what was saved: the calibration (the zones are as they were).
    await dash.wait_js("() => document.querySelector('#notice').textContent.startsWith('Đã lưu hiệu chuẩn của')", "the notice")

    saved = (await detection(dash))["config"]
    assert flat(saved["calibration"]["picture"]) == pytest.approx(flat(PICTURE), abs=0.005)
    assert flat(saved["calibration"]["ground"]) == flat(GROUND)
    # The rest of the settings are as they were.
    assert [z["id"] for z in saved["zones"]] == ["lane-2"] and saved["motion"]["min_area"] == 0.003


async def test_after_a_reload_the_grid_and_the_measure_tool_use_the_saved_calibration(dash):
    page = dash.page
    await page.reload()
    await page.wait_for_selector("#shell:not([hidden])")
    await open_calibration(dash)
    await dash.wait_js("() => document.querySelectorAll('#calib-marks .calib-handle').length === 4", "the saved points")
    saved = (await detection(dash))["config"]["calibration"]
    values = await page.evaluate("() => [...document.querySelectorAll('#calib-rows input')].map(i => Number(i.value))")
    assert values == flat(saved["ground"])
    # The road's grid every metre: its axes (X = 0 and Y = 0) run through the marked points
    # (X = 0 through points 1 and 4, Y = 0 through 1 and 2), a line Y = 12 through 3 and 4.
    assert await page.get_attribute("#calib-layer", "data-step") == "1"
    axes = await grid(dash, "#calib-layer .calib-axis")
    lines = await grid(dash, "#calib-layer .calib-grid")
    picture = [tuple(p) for p in saved["picture"]]
    for point in (picture[0], picture[1], picture[3]):
        assert near_a_line(point, axes) < 0.003, (point, axes)
    assert near_a_line(picture[2], lines) < 0.003
    assert near_a_line((0.5, 0.5), lines) < 0.003  # the stretch's middle, road (1.75, 6), by hand
    # The pointer's place on the road, in the UI's language (Vietnamese: decimal comma).
    await page.mouse.move(*(await at(dash, 0.5, 0.5)))
    cursor = await page.text_content("#calib-cursor")
    x, y = (float(v.replace(",", ".")) for v in re.findall(r"-?\d+,\d\d", cursor))
    assert (x, y) == pytest.approx((1.75, 6.0), abs=0.1), cursor
    await page.click("#calib-measure")
    width = await measure(dash, PICTURE[0], PICTURE[1])
    assert width == pytest.approx(3.5, abs=0.1)
    length = await measure(dash, (0.5, 0.9), (0.5, 0.5))  # near edge's middle to the stretch's middle
    assert length == pytest.approx(6.0, abs=0.15)
    assert "m" in await page.text_content("#calib-measure-result")
    await dash.shot("calibration-measure")
    await page.click("#zone-cancel")


async def test_three_points_on_a_line_are_refused_in_words(dash):
    page = dash.page
    await open_calibration(dash)
    await page.click("#calib-restart")
    # Three on one row of pixels: exactly on a line (clicks elsewhere would be only nearly so).
    for point in [(0.2, 0.6), (0.5, 0.6), (0.8, 0.6), (0.5, 0.3)]:
        await click_at(dash, *point)
    # The lane preset fills the metres of points 1-4.
    await page.fill("#calib-lane-width", "3.75")
    await page.fill("#calib-lane-length", "9")
    await page.click("#calib-lane-fill")
    values = await page.evaluate("() => [...document.querySelectorAll('#calib-rows input')].map(i => Number(i.value))")
    assert values == [0, 0, 3.75, 0, 3.75, 9, 0, 9]
    assert await page.locator("#calib-layer .calib-grid").count() == 0  # no homography: nothing to draw
    async with page.expect_response(lambda r: r.request.method == "PUT" and "/detection" in r.url) as answer:
        await page.click("#zone-save")
    problem = await (await answer.value).json()
    assert [e["code"] for e in problem["errors"]] == ["calibration_collinear"], problem
    await dash.wait_js("() => document.querySelector('#zone-error').textContent.length > 0", "the refusal")
    text = await page.text_content("#zone-error")
    assert "Hiệu chuẩn: các điểm 1, 2 và 3 thẳng hàng trên ảnh" in text, text  # numbered from 1, as on the screen
    assert "calibration_collinear" not in text and "lie on one line" not in text, text
    await dash.shot("calibration-refused-vi")
    # Point 2 clicked 0.02 of the picture off the line 1-3: nearly on a line, refused as well.
    await page.click("#calib-restart")
    for point in [(0.2, 0.6), (0.5, 0.62), (0.8, 0.6), (0.5, 0.3)]:
        await click_at(dash, *point)
    async with page.expect_response(lambda r: r.request.method == "PUT" and "/detection" in r.url) as answer:
        await page.click("#zone-save")
    problem = await (await answer.value).json()
    assert [e["code"] for e in problem["errors"]] == ["calibration_picture_near_line"], problem
    await dash.wait_js("() => document.querySelector('#zone-error').textContent.includes('chỉ cách')", "the near-line refusal")
    text = await page.text_content("#zone-error")
    assert re.search(r"Hiệu chuẩn: điểm 2 chỉ cách đường thẳng qua điểm 1 và 3 [12](,\d)? % khung hình \(cần ít nhất 4 %\)", text), text
    # Half a calibration is said before asking the server.
    await page.click("#calib-undo")
    requests = []
    page.on("request", lambda r: requests.append(r) if r.method == "PUT" else None)
    await page.click("#zone-save")
    await dash.wait_js("() => document.querySelector('#zone-error').textContent.includes('cần 4 điểm')", "the missing point")
    assert "(mới có 3)" in await page.text_content("#zone-error") and not requests
    await page.click("#zone-cancel")
    saved = (await detection(dash))["config"]["calibration"]
    assert flat(saved["ground"]) == flat(GROUND)  # nothing of the refused calibration was kept


async def test_remove_calibration_keeps_the_zones(dash):
    page = dash.page
    await open_calibration(dash)
    await page.click("#calib-clear")
    assert await page.locator("#calib-marks .calib-handle").count() == 0
    await page.click("#zone-save")
    await page.wait_for_selector("#zone-editor", state="hidden")
    await dash.wait_js("() => document.querySelector('#notice').textContent.startsWith('Đã xóa hiệu chuẩn của')", "the notice")
    saved = (await detection(dash))["config"]
    assert saved["calibration"] is None and [z["id"] for z in saved["zones"]] == ["lane-2"]


async def test_an_operator_is_offered_no_calibration(dash):
    page = dash.page
    put = await page.request.put(dash.url + f"/api/cameras/{CAMERA}/detection", headers=dash.system.auth,
                                 data={**DETECTION, "calibration": {"picture": flat_pairs(PICTURE), "ground": flat_pairs(GROUND)}})
    assert put.ok, await put.text()
    await page.click("#logout")
    await page.wait_for_selector("#login-form")  # signed out before signing in: else the sign-out could end the new session
    await sign_in_page(page, dash.url, OPERATOR, dash.other_password, Authenticator())
    await page.goto(dash.url + "/")
    await page.wait_for_selector("#shell:not([hidden])")
    await page.wait_for_selector('.nav-item[data-screen="wall"]')
    assert await page.locator('.nav-item[data-screen="cameras"]').count() == 0
    assert await page.locator("#calib-mode:visible, button.zones:visible").count() == 0
    # The API says the same: the operator may read the settings, not change them.
    headers = {"Authorization": f"Bearer {dash.token_of(OPERATOR)}"}
    read = await page.request.get(dash.url + f"/api/cameras/{CAMERA}/detection", headers=headers)
    assert read.ok and (await read.json())["config"]["calibration"]["ground"] == flat_pairs(GROUND)
    refused = await page.request.put(dash.url + f"/api/cameras/{CAMERA}/detection", headers=headers,
                                     data={**DETECTION, "calibration": None})
    assert refused.status == 403, await refused.text()


def flat_pairs(points) -> list[list[float]]:
    return [[float(x), float(y)] for x, y in points]
