"""The web interview (issue 26) with its real parts: the server as a process on a loopback port, headless
Chromium through Selenium, 50 concurrent scripted respondents, kill -9 and restart, the SQLite store.

Every server here predicts with the Bayes posterior of the 1,000-person synthetic catalog (fast).
Set ``IVR_SCREENSHOTS=DIR`` to keep the question and result pages' screenshots there (docs/img).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")

ROOT = Path(__file__).resolve().parents[1]


class Server:
    """``python -m ivr.elicit serve --bayes`` as a child process on a free loopback port."""

    def __init__(self, catalog: Path, db: Path, *extra: str) -> None:
        self.args = [
            sys.executable,
            "-m",
            "ivr.elicit",
            "serve",
            "--bayes",
            "--data.catalog",
            str(catalog),
            "--db",
            str(db),
            "--port",
            "0",
            *extra,
        ]
        env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
        self.proc = subprocess.Popen(self.args, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT)
        self.lines: list[str] = []
        found = threading.Event()

        def read() -> None:
            for line in self.proc.stderr:
                self.lines.append(line)
                if re.search(r"interview at http://127\.0\.0\.1:(\d+)/", line):
                    found.set()

        threading.Thread(target=read, daemon=True).start()
        if not found.wait(120):
            self.stop()
            raise AssertionError("server did not start:\n" + "".join(self.lines))
        line = next(x for x in self.lines if "interview at" in x)
        self.port = int(re.search(r":(\d+)/", line).group(1))
        self.url = f"http://127.0.0.1:{self.port}"

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(30)

    def call(self, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            self.url + path, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read())


def answer_for(question: dict, turn: int) -> int | str:
    """A scripted respondent: skips every fourth question, otherwise picks an option by the turn."""
    return "skip" if turn % 4 == 3 else 1 + (turn * 7 + question["index"]) % len(question["options"])


def db_answers(db: Path) -> dict[str, list[tuple[int, int, int]]]:
    con = sqlite3.connect(db)
    try:
        rows = con.execute("SELECT token, seq, question, answer FROM answers ORDER BY token, seq").fetchall()
    finally:
        con.close()
    out: dict[str, list] = {}
    for token, seq, q, a in rows:
        out.setdefault(token, []).append((seq, q, a))
    return out


@pytest.fixture(scope="module")
def server(small_catalog_dir, tmp_path_factory):
    folder = tmp_path_factory.mktemp("serve")
    s = Server(small_catalog_dir, folder / "sessions.sqlite", "--max_questions", "6", "--max_open", "80")
    s.db = folder / "sessions.sqlite"
    yield s
    s.stop()


def test_browser_takes_a_whole_interview(server, tmp_path):
    """Headless Chromium: start page -> 6 question pages (answers, a skip) -> the result page with probabilities."""
    if not (shutil.which("chromium") and shutil.which("chromedriver")):
        pytest.skip("needs Debian's chromium and chromium-driver (.ci/run installs them)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    def submit(button_id: str) -> None:  # click, then wait for the next page (a click does not wait for it)
        page = driver.find_element(By.TAG_NAME, "main")
        driver.find_element(By.ID, button_id).click()
        WebDriverWait(driver, 60).until(expected_conditions.staleness_of(page))

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium")
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--window-size=900,1000",
        "--disable-dev-shm-usage",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
    ):
        options.add_argument(flag)
    from selenium.common.exceptions import SessionNotCreatedException, WebDriverException

    for attempt in (1, 2):  # a start can time out on a loaded 2-core CI machine: one more try, fresh profile
        try:
            driver = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)
            break
        except (SessionNotCreatedException, WebDriverException):
            if attempt == 2:
                raise
            options.arguments[-1] = f"--user-data-dir={tmp_path / 'chromium-profile-2'}"
    shots = Path(os.environ.get("IVR_SCREENSHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    try:
        driver.set_page_load_timeout(120)
        driver.get(server.url + "/")
        submit("start")
        token = driver.current_url.rsplit("/", 1)[1]
        clicked = []
        for turn in range(10):  # bounded: the rule ends it after 6
            if not driver.find_elements(By.ID, "answer"):
                break
            assert driver.find_element(By.TAG_NAME, "h1").text.startswith(f"Question {turn + 1}")
            assert driver.find_element(By.ID, "progress").get_attribute("value") == str(turn)
            radios = driver.find_elements(By.CSS_SELECTOR, "input[type=radio]")
            if turn == 1:
                driver.save_screenshot(str(shots / "interview_question.png"))
            if turn == 2:
                submit("skip")
                clicked.append("skip")
                continue
            if turn == 3:  # answering without choosing: the browser's own validation keeps the page
                driver.find_element(By.ID, "answer").click()
                assert driver.current_url.endswith(token) and driver.find_elements(By.ID, "answer")
            choice = turn % len(radios)
            driver.find_element(By.CSS_SELECTOR, f"label[for=option{choice + 1}]").click()
            submit("answer")
            clicked.append(choice + 1)
        assert len(clicked) == 6
        assert "predicted answers" in driver.find_element(By.TAG_NAME, "h1").text
        summary = driver.find_element(By.ID, "summary").text
        assert "after 6 questions (5 answered)" in summary and "maximum number of questions" in summary
        cells = driver.find_elements(By.CSS_SELECTOR, "td.num")
        assert cells and all(re.fullmatch(r"\d+%", c.text) for c in cells)
        tables = len(driver.find_elements(By.TAG_NAME, "caption"))
        driver.save_screenshot(str(shots / "interview_result.png"))
    finally:
        driver.quit()
    for name in ("interview_question.png", "interview_result.png"):
        assert (shots / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    status, view = server.call("GET", f"/api/sessions/{token}")
    assert status == 200 and view["done"] and view["reason"] == "max"
    recorded = db_answers(server.db)[token]
    assert [a + 1 if a >= 0 else "skip" for _, _, a in recorded] == clicked
    # the predictions the page showed are the API's
    status, pred = server.call("GET", f"/api/sessions/{token}/predictions")
    assert status == 200 and len(pred["probes"]) == tables


def test_fifty_concurrent_respondents_each_answer_recorded_once(server):
    """50 scripted respondents at once, each also replaying one answer: every answer is in the database once."""

    def respondent(i: int) -> list[tuple[int, int, int | str]]:
        status, view = server.call("POST", "/api/sessions")
        assert status == 201, view
        token, done, replayed = view["token"], [], False
        for turn in range(10):  # bounded: at most 6 questions
            if view["done"]:
                break
            q = view["question"]
            answer = answer_for(q, turn + i)
            status, new = server.call("POST", f"/api/sessions/{token}/answers", {"seq": view["seq"], "answer": answer})
            assert status == 200, new
            done.append((view["seq"], q["index"], answer))
            if not replayed:  # the same answer again (a double click): refused, nothing written
                status, err = server.call(
                    "POST", f"/api/sessions/{token}/answers", {"seq": view["seq"], "answer": answer}
                )
                assert status == 409 and "replayed" in err["error"]
                replayed = True
            view = new
        assert view["done"] and len(done) == 6
        return token, done

    with ThreadPoolExecutor(50) as pool:
        results = list(pool.map(respondent, range(50)))
    stored = db_answers(server.db)
    assert len({t for t, _ in results}) == 50
    for token, done in results:
        assert [(s, q, a + 1 if a >= 0 else "skip") for s, q, a in stored[token]] == done


def test_two_answers_to_one_question_at_once_one_wins(server):
    status, view = server.call("POST", "/api/sessions")
    token, seq = view["token"], view["seq"]
    barrier = threading.Barrier(8)

    def send(i: int) -> int:
        barrier.wait()
        return server.call("POST", f"/api/sessions/{token}/answers", {"seq": seq, "answer": 1 + i % 2})[0]

    with ThreadPoolExecutor(8) as pool:
        codes = sorted(pool.map(send, range(8)))
    assert codes == [200] + [409] * 7
    assert len(db_answers(server.db)[token]) == 1


def test_invalid_inputs_change_nothing(server):
    status, view = server.call("POST", "/api/sessions")
    token = view["token"]
    n_opt = len(view["question"]["options"])
    bad = [
        ({"seq": 0, "answer": n_opt + 1}, 422, f"options 1..{n_opt}"),
        ({"seq": 0, "answer": 0}, 422, "options"),
        ({"seq": 0, "answer": "maybe"}, 422, "option number"),
        ({"seq": 0, "answer": True}, 422, "invalid"),
        ({"seq": 5, "answer": 1}, 409, "not expected"),
        ({"seq": "0", "answer": 1}, 422, "seq"),
        ({"answer": 1}, 422, "seq"),
    ]
    for body, code, words in bad:
        status, err = server.call("POST", f"/api/sessions/{token}/answers", body)
        assert status == code and words in err["error"], (body, status, err)
    assert token not in db_answers(server.db)
    other = token[:-1] + ("A" if token[-1] != "A" else "B")  # a guessed neighbour token
    for method, path in (
        ("GET", f"/api/sessions/{other}"),
        ("POST", f"/api/sessions/{other}/answers"),
        ("GET", "/api/sessions/..%2Fx/predictions"),
        ("GET", f"/api/sessions/{other}/predictions"),
    ):
        status, err = server.call(method, path, {"seq": 0, "answer": 1} if method == "POST" else None)
        assert status == 404, (path, status, err)
    assert server.call("GET", "/api/sessions")[0] == 405  # nobody can list the sessions
    status, view = server.call("POST", f"/api/sessions/{token}/finish")
    assert status == 200 and view["done"] and view["reason"] == "respondent"
    status, err = server.call("POST", f"/api/sessions/{token}/answers", {"seq": 0, "answer": 1})
    assert status == 409 and "finished" in err["error"]
    schema = server.call("GET", "/openapi.json")[1]
    assert {"/api/sessions", "/api/sessions/{token}/answers", "/api/sessions/{token}/predictions"} <= set(
        schema["paths"]
    )


def test_server_listens_on_loopback_only(server):
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.connect(("10.255.255.255", 1))  # no packet is sent; it picks the outward address
        outward = probe.getsockname()[0]
    except OSError:
        outward = None
    finally:
        probe.close()
    if not outward or outward.startswith("127."):
        pytest.skip("this machine has no address besides loopback")
    with pytest.raises(OSError):
        socket.create_connection((outward, server.port), timeout=5).close()


def test_kill_9_mid_interview_then_restart_resumes_with_nothing_lost(small_catalog_dir, tmp_path):
    db = tmp_path / "sessions.sqlite"
    first = Server(small_catalog_dir, db, "--max_questions", "5", "--max_open", "2")
    try:
        _, view = first.call("POST", "/api/sessions")
        token, asked = view["token"], []
        for turn in range(2):
            asked.append((view["question"]["index"], answer_for(view["question"], turn)))
            status, view = first.call(
                "POST", f"/api/sessions/{token}/answers", {"seq": view["seq"], "answer": asked[-1][1]}
            )
            assert status == 200
        pending = view["question"]
    finally:
        first.stop(signal.SIGKILL)
    assert first.proc.returncode == -signal.SIGKILL
    con = sqlite3.connect(db)  # as if it had died after committing answer 2 but before choosing question 3
    con.execute("UPDATE sessions SET pending=NULL WHERE token=?", (token,))
    con.commit()
    con.close()
    second = Server(small_catalog_dir, db, "--max_questions", "5", "--max_open", "2")
    try:
        assert "1 open interview(s) resumed" in "".join(second.lines)
        asked.append((pending["index"], answer_for(pending, 2)))  # the respondent answers the page they saw
        status, view = second.call("POST", f"/api/sessions/{token}/answers", {"seq": 2, "answer": asked[-1][1]})
        assert status == 200 and view["seq"] == 3
        assert db_answers(db)[token][2][1] == pending["index"]  # the question chosen again is the one shown
        for turn in range(3, 10):
            if view["done"]:
                break
            asked.append((view["question"]["index"], answer_for(view["question"], turn)))
            status, view = second.call(
                "POST", f"/api/sessions/{token}/answers", {"seq": view["seq"], "answer": asked[-1][1]}
            )
            assert status == 200
        assert view["done"] and view["reason"] == "max" and len(asked) == 5
        # an uninterrupted interview with the same answers asks the same questions (nothing lost or repeated)
        _, fresh = second.call("POST", "/api/sessions")
        for turn, (q, a) in enumerate(asked):
            assert fresh["question"]["index"] == q
            _, fresh = second.call("POST", f"/api/sessions/{fresh['token']}/answers", {"seq": turn, "answer": a})
        assert fresh["done"]
        # the cap on open interviews: two are open at most
        assert second.call("POST", "/api/sessions")[0] == 201
        assert second.call("POST", "/api/sessions")[0] == 201
        status, err = second.call("POST", "/api/sessions")
        assert status == 503 and "--max_open 2" in err["error"]
    finally:
        second.stop()
    out = tmp_path / "export"
    subprocess.run(
        [sys.executable, "-m", "ivr.elicit", "export", "--db", str(db), "--out", str(out)],
        check=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        cwd=ROOT,
        capture_output=True,
    )
    index = json.loads((out / "index.json").read_text())
    assert [i["answers"] for i in index["interviews"]] == [5, 5, 0, 0]
    doc = json.loads((out / index["interviews"][0]["file"]).read_text())
    assert set(doc) >= {"setup", "probes", "ended", "turns"} and doc["ended"] == "finished"
    assert [t["answer"] for t in doc["turns"]] == [a for _, a in asked]
    assert all(len(t["predictions"]) == len(doc["probes"]) for t in doc["turns"])
