"""A family member's click-through of the memorial server in headless Chromium, with JavaScript
off (the pages must work without it), screenshots of every page into SHOTS.

usage: browser.py URL MEMORIAL_ID PASSWORD SHARE_TOKEN EXPECTED_SHAS_JSON SHOTS
Exits non-zero with the reason on the first thing that is not as a family would expect.
"""
import hashlib
import json
import os
import sys
import zipfile

from playwright.sync_api import expect, sync_playwright

url, memorial, password, share, expected_json, shots = sys.argv[1:7]
expected = set(json.loads(expected_json))
os.makedirs(shots, exist_ok=True)
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def shot(page, name):
    page.screenshot(path=os.path.join(shots, f"{name}.png"), full_page=True)


def images_loaded(page, selector):
    """Whether every picture shows: each is scrolled to (the gallery loads them lazily) and given
    up to 5 s. (Reading the DOM works with page scripts off: Playwright evaluates in its own world.)"""
    for img in page.locator(selector).all():
        img.scroll_into_view_if_needed()
        for _ in range(50):
            if img.evaluate("e => e.complete && e.naturalWidth > 0"):
                break
            page.wait_for_timeout(100)
        else:
            return False
    return True


def sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


with sync_playwright() as p:
    browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=FLAGS)
    # A phone, JavaScript off: links and forms only.
    ctx = browser.new_context(java_script_enabled=False, viewport={"width": 390, "height": 844},
                              accept_downloads=True, locale="ko-KR")
    page = ctx.new_page()

    # Not signed in: the gallery sends to the sign-in page.
    page.goto(f"{url}/m/{memorial}")
    assert page.url.endswith(f"/m/{memorial}/login"), page.url
    expect(page.locator("h1")).to_have_text("가족 전용 페이지")
    shot(page, "01-login")
    page.fill("input[name=password]", "not the password")
    page.click("button[type=submit]")
    expect(page.locator("[role=alert]")).to_be_visible()
    shot(page, "02-login-wrong")
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    assert page.url.endswith(f"/m/{memorial}"), page.url

    # The gallery: every keepsake, every picture loaded.
    grid = page.locator(".grid img")
    expect(grid).to_have_count(len(expected))
    assert images_loaded(page, ".grid img"), "a gallery picture did not load"
    shot(page, "03-gallery")

    # One keepsake, and its download is the very file the booth sent.
    page.locator(".grid a").first.click()
    assert f"/m/{memorial}/k/" in page.url, page.url
    assert images_loaded(page, ".one img")
    shot(page, "04-keepsake")
    with page.expect_download() as d:
        page.click("#download")
    path = os.path.join(shots, "download.png")
    d.value.save_as(path)
    assert sha(path) in expected, "the downloaded picture is not one the booth sent"

    # The slideshow moves on by itself (meta refresh) and by its Next link.
    page.click("text=슬라이드쇼")
    assert "/slideshow" in page.url
    refresh = page.locator("meta[http-equiv=refresh]").get_attribute("content")
    assert "slideshow?i=1" in refresh, refresh
    shot(page, "05-slideshow")
    page.click("#next")
    assert page.url.endswith("slideshow?i=1"), page.url

    # The family admin: hide one, delete one (asked once more, on its own page), download all.
    page.goto(f"{url}/m/{memorial}/admin")
    shot(page, "06-admin")
    # The sign-out button is in line with the nav links, as tall as they are (on a desktop,
    # where the nav is one row).
    page.set_viewport_size({"width": 1280, "height": 900})
    links = [a.bounding_box() for a in page.locator("header.m ~ nav a").all()]
    out = page.locator("nav button").first.bounding_box()
    assert all(abs(a["y"] - out["y"]) < 1 and abs(a["height"] - out["height"]) < 1 for a in links[:3]), (links, out)
    page.set_viewport_size({"width": 390, "height": 844})
    # Korean is broken between words, never inside one.
    assert page.locator("body").evaluate("e => getComputedStyle(e).wordBreak") == "keep-all"
    rows = page.locator("table.admin tr")
    expect(rows).to_have_count(len(expected))
    rows.nth(0).locator("button[value=hide]").click()
    expect(page.locator("table.admin tr.hidden")).to_have_count(1)
    page.goto(f"{url}/m/{memorial}")
    expect(page.locator(".grid img")).to_have_count(len(expected) - 1)
    page.goto(f"{url}/m/{memorial}/admin")
    row = page.locator("table.admin tr").nth(1)
    expect(row).to_contain_text("KST")
    row.locator("button[value=delete]").click()
    expect(page.locator("h1")).to_have_text("이 사진을 삭제할까요?")
    assert images_loaded(page, ".confirm img")
    shot(page, "07-admin-confirm-delete")
    page.click("#cancel")
    expect(page.locator("table.admin tr")).to_have_count(len(expected))
    page.locator("table.admin tr").nth(1).locator("button[value=delete]").click()
    page.click("#confirm-delete")
    expect(page.locator("table.admin tr")).to_have_count(len(expected) - 1)
    shot(page, "07-admin-after")
    with page.expect_download() as d:
        page.click("#download-all")
    zpath = os.path.join(shots, "all.zip")
    d.value.save_as(zpath)
    with zipfile.ZipFile(zpath) as z:
        names = z.namelist()
        pictures = [n for n in names if n.endswith("-illustration.png")]
        assert len(pictures) == len(expected) - 1, names
        assert "keepsakes.csv" in names
        for n in pictures:
            assert hashlib.sha256(z.read(n)).hexdigest() in expected, n

    # English for the page it was chosen on; the next page follows the phone (ko-KR) again.
    page.goto(f"{url}/m/{memorial}")
    page.click("text=English")
    expect(page.locator("nav a").first).to_have_text("All pictures")
    shot(page, "08-gallery-en")
    page.goto(f"{url}/m/{memorial}")
    expect(page.locator("nav a").first).to_have_text("모든 사진")

    # A visitor with only the QR link: their keepsake, downloadable, nothing else.
    visitor = browser.new_context(java_script_enabled=False, viewport={"width": 390, "height": 844}, accept_downloads=True,
                                  locale="ko-KR")
    v = visitor.new_page()
    v.goto(f"{url}/k/{share}")
    assert images_loaded(v, ".one img")
    expect(v.locator(".msg")).to_have_text("늘 기억하겠습니다")
    expect(v.locator(".when")).to_contain_text("2026년 11월 26일")
    shot(v, "09-share")
    with v.expect_download() as d:
        v.click("#download")
    spath = os.path.join(shots, "share.png")
    d.value.save_as(spath)
    assert sha(spath) in expected
    v.goto(f"{url}/m/{memorial}")
    assert v.url.endswith("/login"), "the share link does not open the family pages"
    browser.close()
print("click-through ok")
