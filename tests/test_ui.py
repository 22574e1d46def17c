"""The Gradio app served on 127.0.0.1: memory per browser session, the side panel, errors as chat messages.

Driven through `gradio_client` (each Client is one browser session) and, when Chromium is installed, through
a real headless browser. The app runs on a 400-film catalog with no LLM, so the rule-based dialogue answers:
it asks questions until three preference signals are known, then lists five picks.
"""

import logging
import os
import shutil
import socket
import tempfile
from pathlib import Path

import pytest
from gradio_client import Client

from agent.session import ChatSession
from index.build import build_baseline
from index.store import BASELINE, ENRICHED
from index.workspace import Workspace
from tools.preferences import Preferences
from tools.services import MovieServices
from ui.app import APOLOGY, serve
from ui.cli import main
from ui.panel import signals_markdown

ARTIFACTS = Path(__file__).parent / "artifacts"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    ws = Workspace.open(tmp_path_factory.mktemp("ui"), llm_choice="none", limit=400)
    build_baseline(ws, show_progress=False)
    return ws


@pytest.fixture(scope="module")
def app_url(workspace):
    demo = serve(MovieServices.from_workspace(workspace), "127.0.0.1", free_port(), block=False)
    yield demo.local_url
    demo.close()


def chat(client: Client, text: str, collection: str = BASELINE) -> tuple[str, str]:
    """One turn: (the answer, the side panel's Markdown)."""
    return client.predict(text, collection, api_name="/chat")


def is_picks(answer: str) -> bool:
    return answer.startswith("Here are five picks") and answer.count("\n") >= 5 and answer.count("**") == 10


def test_the_second_turn_builds_on_the_first(app_url):
    person = Client(app_url, verbose=False)
    first, _ = chat(person, "Something tense from the 90s")
    second, panel = chat(person, "subtitles are fine")
    assert not is_picks(first) and first.rstrip("_)").count("?")
    assert is_picks(second), second  # mood and era from the first turn, language from this one
    assert "3 of 5 signals" in panel and "tense" in panel and "subtitles fine" in panel
    newcomer, _ = chat(Client(app_url, verbose=False), "subtitles are fine")
    assert not is_picks(newcomer)  # the same words alone are one signal: the picks came from memory


def test_two_people_at_once_keep_separate_memories(app_url):
    ann, bob = Client(app_url, verbose=False), Client(app_url, verbose=False)
    chat(ann, "Something tense from the 90s")
    chat(bob, "I want something funny")
    ann_answer, ann_panel = chat(ann, "subtitles are fine")
    bob_answer, bob_panel = chat(bob, "subtitles are fine")
    assert is_picks(ann_answer) and not is_picks(bob_answer)  # Bob has two signals, not Ann's three plus his
    assert "tense" in ann_panel and "funny" not in ann_panel
    assert "funny" in bob_panel and "tense" not in bob_panel and "90s" not in bob_panel
    assert "2 of 5 signals" in bob_panel


def test_a_missing_collection_is_said_in_the_chat(app_url):
    person = Client(app_url, verbose=False)
    answer, _ = chat(person, "Something tense from the 90s", collection=ENRICHED)
    assert "'enriched' collection is not built" in answer and "movierec enrich" in answer
    assert "Traceback" not in answer
    answer, _ = chat(person, "Something tense from the 90s", collection=BASELINE)
    assert "subtitles" in answer  # the same server and session go on answering


def test_an_unexpected_failure_is_an_apology_and_a_logged_traceback(app_url, monkeypatch, caplog):
    async def broken(self, text):
        raise RuntimeError("internal detail nobody should see")
        yield  # an async generator, like the real one

    monkeypatch.setattr(ChatSession, "stream", broken)
    with caplog.at_level(logging.ERROR, logger="movierec.ui"):
        answer, _ = chat(Client(app_url, verbose=False), "Something tense")
    assert answer == APOLOGY
    assert any("internal detail" in r.exc_text for r in caplog.records if r.exc_text)


def test_the_panel_lists_every_signal_kind():
    empty = signals_markdown(Preferences())
    assert "0 of 5 signals" in empty and "3 more before I recommend" in empty and empty.count("_not yet_") == 5
    prefs = Preferences(moods=("tense",), avoid_genres=("Horror",), era="the 90s", year_min=1990, year_max=1999)
    panel = signals_markdown(prefs)
    assert "enough to recommend" in panel and panel.count("_not yet_") == 2
    assert "**Genres**: not Horror" in panel and "**Era**: the 90s (1990–1999)" in panel


def test_ui_without_an_index_says_what_to_run(tmp_path, capsys):
    assert main(["--llm", "none", "--data-dir", str(tmp_path), "ui", "--port", str(free_port())]) == 2
    assert capsys.readouterr().err.strip() == "movierec: the index is not built yet: run `movierec index` first"


def test_ui_on_a_taken_port_fails_in_one_line(workspace, capsys):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code = main(["--llm", "none", "--data-dir", str(workspace.root), "ui", "--port", str(port)])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1
    assert err.startswith(f"movierec: cannot listen on 127.0.0.1:{port}") and "--port" in err


# --- in a real browser ---

def chromium_driver():
    missing = [name for name in ("chromium", "chromedriver") if not shutil.which(name)]
    if missing:
        if os.environ.get("MOVIEREC_REQUIRE_BROWSER"):  # .ci/run installs them: absent there is a failure
            pytest.fail(f"MOVIEREC_REQUIRE_BROWSER is set but {', '.join(missing)} is missing")
        pytest.skip(f"needs Debian's {' and '.join(missing)} (apt-get install chromium chromium-driver)")
    webdriver = pytest.importorskip("selenium.webdriver", reason="needs selenium (pip install -e '.[dev]')")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium")
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-quic", "--no-first-run", "--disable-sync",
                 f"--user-data-dir={tempfile.mkdtemp(prefix='movierec-chromium-')}", "--window-size=1400,1000"):
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)


@pytest.mark.browser
def test_a_person_chats_in_the_browser_and_can_start_over(app_url):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    driver = chromium_driver()
    try:
        driver.get(app_url)
        wait = WebDriverWait(driver, 60)

        def say(text):
            answers = len(driver.find_elements(By.CSS_SELECTOR, "[data-testid='bot']"))
            box = wait.until(lambda d: next((b for b in d.find_elements(By.CSS_SELECTOR, "textarea")
                                             if b.is_displayed() and b.is_enabled()), None))
            box.send_keys(text)
            wait.until(lambda d: box.get_attribute("value") == text)
            box.send_keys(Keys.ENTER)
            wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "[data-testid='bot']")) > answers)
            return driver.find_elements(By.CSS_SELECTOR, "[data-testid='bot']")[-1]

        wait.until(lambda d: "Something tense from the 90s" in d.find_element(By.TAG_NAME, "body").text)
        question = say("Something tense from the 90s")
        assert "subtitles" in question.text
        picks = say("subtitles are fine")
        wait.until(lambda d: len(picks.find_elements(By.CSS_SELECTOR, "li")) == 5)
        titles = [strong.text for strong in picks.find_elements(By.CSS_SELECTOR, "li strong")]
        assert len(titles) == 5 and all(title and "**" not in title for title in titles)  # Markdown, rendered
        panel = driver.find_element(By.ID, "signals").text
        assert "3 of 5 signals" in panel and "subtitles fine" in panel
        ARTIFACTS.mkdir(exist_ok=True)
        assert driver.save_screenshot(str(ARTIFACTS / "ui_chat.png"))

        driver.find_element(By.CSS_SELECTOR, "button[aria-label='Clear']").click()  # the chat's trash can
        wait.until(lambda d: not d.find_elements(By.CSS_SELECTOR, "[data-testid='bot']"))
        fresh = say("subtitles are fine")
        assert not fresh.find_elements(By.CSS_SELECTOR, "li")  # started over: one signal, so a question
        assert "1 of 5 signals" in driver.find_element(By.ID, "signals").text
    finally:
        driver.quit()
