"""The dashboard in a real browser: Debian's Chromium, driven by Selenium
through chromium-driver, against `spoolctl serve` on a spool made for the
test (make_spool), on loopback. The server and the browser are started here
and stopped at the end, also when a check fails. Screenshots go to the
output folder.

    browser.py <spoolctl> <make_spool> <output folder>
"""
import os
import re
import shutil
import subprocess
import sys
import urllib.error
import urllib.request

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ready
from selenium.webdriver.support.ui import Select, WebDriverWait

spoolctl, make_spool, out = sys.argv[1:4]
shutil.rmtree(out, ignore_errors=True)
os.makedirs(out)
db, users = os.path.join(out, "spool.db"), os.path.join(out, "users")
subprocess.run([make_spool, db, users], check=True)

failures = []


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what, flush=True)
    if not ok:
        failures.append(what)


server = subprocess.Popen([spoolctl, "--db", db, "serve", "--listen", "127.0.0.1:0", "--users", users],
                          stdout=subprocess.PIPE, text=True)
driver = None
try:
    banner = server.stdout.readline()  # the event: it listens, and says where
    found = re.search(r"http://127\.0\.0\.1:(\d+)/", banner)
    if not found:
        raise SystemExit("spoolctl serve did not start: " + repr(banner))
    # localhost, not 127.0.0.1: the browser keeps the Secure cookie for it over plain HTTP.
    base = "http://localhost:" + found.group(1)

    options = webdriver.ChromeOptions()
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1200,900"):
        options.add_argument(arg)
    options.binary_location = "/usr/bin/chromium"
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    wait = WebDriverWait(driver, 30)

    def shot(name):
        driver.save_screenshot(os.path.join(out, name + ".png"))

    def sign_in(user, password):
        driver.get(base + "/login")
        driver.find_element(By.NAME, "user").send_keys(user)
        driver.find_element(By.NAME, "password").send_keys(password)
        driver.find_element(By.TAG_NAME, "button").click()
        wait.until(ready.title_contains("Overview"))

    def held_count():
        driver.get(base + "/")
        cell = driver.find_element(By.XPATH, "//tr[th='held']/td")
        return int(cell.text)

    def post(path, cookie, body, origin=None):
        request = urllib.request.Request(base + path, data=body.encode(), method="POST")
        request.add_header("Cookie", "spool_session=" + cookie)
        request.add_header("Content-Type", "application/x-www-form-urlencoded")
        if origin:
            request.add_header("Origin", origin)
        try:
            with urllib.request.urlopen(request) as answer:
                return answer.status
        except urllib.error.HTTPError as e:
            return e.code

    # Signing in.
    sign_in("olga", "operator password")
    shot("1-overview")
    check(driver.find_element(By.XPATH, "//tr[th='queued']/td").text == "5", "the overview counts the five queued messages")

    # Filtering by domain.
    driver.get(base + "/messages")
    box = driver.find_element(By.NAME, "domain")
    box.send_keys("b.test")
    box.submit()
    wait.until(ready.url_contains("domain=b.test"))
    rows = driver.find_elements(By.XPATH, "//table/tbody/tr[td]")
    shot("2-filtered")
    check(len(rows) == 2, "the filter by domain shows the two messages to b.test")
    Select(driver.find_element(By.NAME, "state")).select_by_visible_text("held")
    driver.find_element(By.XPATH, "//main//form//button").click()
    wait.until(ready.url_contains("state=held"))
    check(len(driver.find_elements(By.XPATH, "//table/tbody/tr[td]")) == 0, "no message to b.test is held yet")

    # Opening a message, holding it, and releasing it.
    driver.get(base + "/messages?domain=a.test")
    driver.find_element(By.XPATH, "//table//td/a").click()
    wait.until(ready.title_contains("Message"))
    check("user1@a.test" in driver.page_source, "the message page shows its recipient")
    shot("3-message")
    message_url = driver.current_url
    driver.find_element(By.XPATH, "//button[text()='hold']").click()
    wait.until(ready.title_contains("Done"))
    check(held_count() == 1, "after hold, the overview counts one held message")
    shot("4-held")
    driver.get(message_url)
    driver.find_element(By.XPATH, "//button[text()='release']").click()
    wait.until(ready.title_contains("Done"))
    check(held_count() == 0, "after release, none is held")

    # Holding everything matching a filter: confirmed with its count, then the count changes.
    driver.get(base + "/messages?domain=a.test")
    driver.find_element(By.XPATH, "//button[text()='hold all']").click()
    wait.until(ready.title_contains("Confirm"))
    check("hold 3 messages matching domain=a.test?" in driver.page_source, "the confirmation counts the three messages to a.test")
    shot("5-confirm-hold-all")
    driver.find_element(By.XPATH, "//main//button").click()
    wait.until(ready.title_contains("Done"))
    check("hold: 3 done, 0 refused" in driver.page_source, "the result says three were held")
    check(held_count() == 3, "after hold all, the overview counts three held messages")
    shot("6-held-all")
    driver.get(base + "/messages?state=held")
    driver.find_element(By.XPATH, "//button[text()='release all']").click()
    wait.until(ready.title_contains("Confirm"))
    driver.find_element(By.XPATH, "//main//button").click()
    wait.until(ready.title_contains("Done"))
    check(held_count() == 0, "after release all, none is held")

    # A hand-picked selection: two of the three messages to a.test, checked and held.
    driver.get(base + "/messages?domain=a.test")
    boxes = driver.find_elements(By.XPATH, "//input[@type='checkbox' and @name='id']")
    check(len(boxes) == 3, "each of the three messages to a.test has a box to check")
    for box in boxes[:2]:
        box.click()
    shot("6b-selected")
    driver.find_element(By.XPATH, "//button[text()='hold']").click()
    wait.until(ready.title_contains("Done"))
    check("hold of the 2 selected: 2 done, 0 refused" in driver.page_source, "the two checked messages were held")
    check(held_count() == 2, "after holding the selection, the overview counts two held messages")
    driver.get(base + "/messages?state=held")
    for box in driver.find_elements(By.XPATH, "//input[@type='checkbox' and @name='id']"):
        box.click()
    driver.find_element(By.XPATH, "//button[text()='release']").click()
    wait.until(ready.title_contains("Done"))
    check(held_count() == 0, "after releasing the selection, none is held")

    # The suppression list: an operator adds an address, and it is listed.
    driver.get(base + "/suppressions")
    driver.find_element(By.NAME, "address").send_keys("gone@x.test")
    driver.find_element(By.NAME, "reason").send_keys("asked to stop")
    driver.find_element(By.XPATH, "//button[text()='Add']").click()
    wait.until(ready.title_contains("Done"))
    driver.get(base + "/suppressions")
    check("gone@x.test" in driver.find_element(By.TAG_NAME, "main").text, "the address added is on the suppression list")
    shot("6c-suppressions")

    # The action log: every action so far, newest first, by the operator through the web.
    driver.get(base + "/actions")
    log_rows = driver.find_elements(By.XPATH, "//main//table//tr[td]")
    shot("6d-action-log")
    check(len(log_rows) == 7, "the action log has the seven actions taken: hold, release, each of them all, of a selection, and a suppression (found %d)" % len(log_rows))
    check(log_rows and "suppress" in log_rows[0].text and "olga (web)" in log_rows[0].text,
          "its newest entry is the suppression, by olga through the web")

    # A script in a subject is text: nothing of it runs.
    driver.get(base + "/messages?domain=b.test")
    driver.find_element(By.XPATH, "//tr[td[contains(., 'carl@')] or td[contains(., 'script')]]/td/a").click()
    wait.until(ready.title_contains("Message"))
    shot("7-script-subject")
    check("pwned" not in driver.title, "the script in the subject did not run")
    check("<script>document.title" in driver.find_element(By.TAG_NAME, "main").text, "the subject shows as text")
    check(not driver.find_elements(By.XPATH, "//main//img"), "the markup in the subject made no element")

    # A forged POST, from another site or without the token, is refused.
    cookie = driver.get_cookie("spool_session")["value"]
    message_path = message_url[len(base):]
    check(post(message_path + "/hold", cookie, "") == 403, "a POST without the CSRF token gets 403")
    token = re.search(r'name="csrf" value="([0-9a-f]+)"', driver.page_source).group(1)
    check(post(message_path + "/hold", cookie, "csrf=" + token, origin="https://evil.test") == 403,
          "a cross-site POST gets 403, even with the token")
    check(held_count() == 0, "neither forged POST held anything")

    # A reader sees no action buttons, and a reader's POST is refused.
    driver.find_element(By.XPATH, "//header//button").click()  # sign out
    wait.until(ready.title_contains("Sign in"))
    sign_in("rita", "reader password")
    driver.get(base + message_path)
    wait.until(ready.title_contains("Message"))
    shot("8-reader")
    check(not driver.find_elements(By.XPATH, "//main//button"), "a reader sees no action buttons")
    reader_cookie = driver.get_cookie("spool_session")["value"]
    reader_token = re.search(r'name="csrf" value="([0-9a-f]+)"', driver.page_source).group(1)
    check(post(message_path + "/hold", reader_cookie, "csrf=" + reader_token) == 403, "a reader's POST gets 403")
finally:
    if driver:
        driver.quit()
    server.terminate()
    server.wait(timeout=30)

if failures:
    raise SystemExit("%d browser check(s) failed" % len(failures))
print("every browser check passed; screenshots in " + out)
