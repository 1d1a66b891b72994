"""Nothing outside the allowed media folders reaches the browser through an upload.

The hole this closes: an upload named a server folder (``.ssh``) as its media folder and a
row's audio path (``id_rsa``), and the Review page's audio player served the private key.
Here a fake key and a fake ``.env`` lie beside the project file, and an upload tries every
way the Datasets page offers to reach them: no folder at all, ``../`` and absolute paths in
the file, the allowed folder's sub-folder box, a link out of the allowed folder, a secret
under an audio name, archives with ``../id_rsa`` and link members, an archive whose paths
climb out of it. After each try, every ``<audio>``/``<img>`` source on the Datasets and
Review pages, and every media response the browser received, is fetched: none holds a byte
sequence of the secrets. A legitimate archive with a real WAV imports and plays.

Each test runs twice: against a server with no allowed media folder, and against one
started with one allowed folder (``$ERRORANALYSIS_MEDIA_ROOTS``, what ``serve --media-root``
sets).
"""

from __future__ import annotations

import io
import re
import stat
import wave
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from e2e_helpers import no_exception, open_page, wait_idle
from playwright.sync_api import Page, Response, expect
from store_support import add_run

from erroranalysis.archive import media_area
from erroranalysis.importing import read_dataset
from erroranalysis.media import MEDIA_ROOTS_ENV
from erroranalysis.store import open_project

pytestmark = pytest.mark.browser

# Distinctive bytes of each secret: none of them may reach the browser.
KEY_MARK = b"e2e-private-key-7f3a9c"
TOKEN_MARK = b"e2e-api-token-51c9d2"
SECRET_KEY = (
    b"-----BEGIN OPENSSH PRIVATE KEY-----\n" + KEY_MARK + b"\n-----END OPENSSH PRIVATE KEY-----\n"
)
SECRET_ENV = b"API_TOKEN=" + TOKEN_MARK + b"\n"
MARKS = (KEY_MARK, TOKEN_MARK, b"BEGIN OPENSSH", b"API_TOKEN")
OUTCOME_TIMEOUT_MS = 30_000
FOLDER_LABEL = "Media folder on the server (optional)"


def wav_bytes(seconds: float = 1.0, rate: int = 8000) -> bytes:
    sink = io.BytesIO()
    with wave.open(sink, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        tone = np.sin(2 * np.pi * 440 * np.arange(int(seconds * rate)) / rate) * 8000
        out.writeframes(tone.astype(np.int16).tobytes())
    return sink.getvalue()


CLIP = wav_bytes()


@dataclass(frozen=True)
class Setting:
    """The project folder of one server: the project file, the secrets, the allowed folder."""

    folder: Path
    db: Path
    allowed: Path | None  # the folder the operator allowed, if any

    @property
    def ssh(self) -> Path:
        return self.folder / ".ssh"


@pytest.fixture(scope="module", params=["no allowed folder", "one allowed folder"])
def setting(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Setting:
    folder = tmp_path_factory.mktemp("media")
    (folder / ".ssh").mkdir()
    (folder / ".ssh" / "id_rsa").write_bytes(SECRET_KEY)
    (folder / "work").mkdir()
    (folder / "work" / ".env").write_bytes(SECRET_ENV)
    allowed = folder / "allowed"
    (allowed / "clips").mkdir(parents=True)
    (allowed / "clips" / "ok.wav").write_bytes(CLIP)
    (allowed / "clips" / "key.wav").write_bytes(SECRET_KEY)  # a secret under an audio name
    (allowed / "out").symlink_to(folder / ".ssh", target_is_directory=True)

    db = folder / "project.db"
    base = folder / "base.csv"
    base.write_text("id,label,prediction\nb1,yes,no\nb2,no,no\nb3,yes,yes\nb4,no,yes\n")
    with open_project(db) as project:
        project.dataset("base", create=True).import_result(read_dataset(base), actor="setup")
        # A run stored before uploads were restricted: its media folder is .ssh itself.
        frame = pd.DataFrame(
            {"id": ["old1"], "label": ["a"], "prediction": ["b"], "correct": [False]}
        ).assign(audio=["id_rsa"])
        add_run(project, "legacy", frame, media_root=folder / ".ssh", actor="setup")
    with_root = request.param == "one allowed folder"
    return Setting(folder=folder, db=db, allowed=allowed if with_root else None)


@pytest.fixture(scope="module")
def project_file(setting: Setting) -> Path:
    return setting.db


@pytest.fixture(scope="module")
def app_env(setting: Setting) -> dict[str, str]:
    return {MEDIA_ROOTS_ENV: str(setting.allowed) if setting.allowed else ""}


# ---------------------------------------------------------------------- what the browser got
class Watch:
    """Every media response the page received while the test ran."""

    def __init__(self, page: Page) -> None:
        self.urls: set[str] = set()
        page.on("response", self._seen)

    def _seen(self, response: Response) -> None:
        if "/media/" in response.url:
            self.urls.add(response.url)


@pytest.fixture
def watch(page: Page) -> Watch:
    return Watch(page)


def media_sources(page: Page) -> list[str]:
    return page.eval_on_selector_all(
        "audio, video, img, source",
        "els => els.map(e => e.currentSrc || e.src || '').filter(Boolean)",
    )


def assert_nothing_secret(page: Page, watch: Watch) -> list[bytes]:
    """No secret in the page's text, its media sources, or any media response; the bodies
    of the page's media sources (for a test that expects one)."""
    html = page.content().encode()
    assert not [m for m in MARKS if m in html]
    sources = media_sources(page)
    bodies = []
    for url in dict.fromkeys([*sources, *sorted(watch.urls)]):
        if url.startswith("data:"):
            body = url.encode()
        else:
            response = page.request.get(url)
            body = response.body()
        assert not [m for m in MARKS if m in body], url
        if url in sources:
            bodies.append(body)
    return bodies


# ---------------------------------------------------------------------- driving the page
def zip_of(members: list[tuple[str | zipfile.ZipInfo, bytes]]) -> bytes:
    sink = io.BytesIO()
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, content in members:
            archive.writestr(name, content)
    return sink.getvalue()


def link(name: str, target: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.create_system = 3
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return info


def csv_of(rows: list[tuple[str, str]]) -> bytes:
    """A predictions file whose examples are all errors, with these (id, audio) values."""
    return ("id,label,prediction,audio\n" + "".join(f"{i},a,b,{a}\n" for i, a in rows)).encode()


def upload(page: Page, url: str, name: str, data: bytes) -> None:
    open_page(page, url)
    expect(page.get_by_text("Where media can come from.")).to_be_visible()
    page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(
        files=[{"name": name, "mimeType": "application/octet-stream", "buffer": data}]
    )
    wait_idle(page)


def open_folders(page: Page) -> None:
    """Open the list of media folders the page offers."""
    box = page.get_by_role("combobox", name=FOLDER_LABEL)
    wait_idle(page)
    # A click that lands while the page redraws is dropped; ArrowDown opens it as well.
    for _ in range(5):
        box.click()
        if box.get_attribute("aria-expanded") != "true":
            box.press("ArrowDown")
        try:
            expect(box).to_have_attribute("aria-expanded", "true", timeout=2_000)
            break
        except AssertionError:
            page.keyboard.press("Escape")
    expect(page.get_by_role("option").first).to_be_visible()


def submit(page: Page, *, folder: Path | None = None, sub: str = "") -> None:
    if folder is not None:
        open_folders(page)
        page.get_by_role("option", name=str(folder), exact=True).click()
        wait_idle(page)
    if sub:
        page.get_by_role("textbox", name="Sub-folder (optional)").fill(sub)
    page.get_by_role("button", name=re.compile("Validate and import")).click()


def expect_outcome(page: Page, text: str) -> None:
    expect(page.get_by_text(text).first).to_be_visible(timeout=OUTCOME_TIMEOUT_MS)
    wait_idle(page)
    no_exception(page)


def dataset_names(db: Path) -> list[str]:
    # Read-only: the server has the file open, and a writer closing its last connection
    # would checkpoint the -wal under the server.
    with open_project(db, readonly=True) as project:
        return project.dataset_names()


def review(page: Page, app, dataset: str, example: str) -> None:
    open_page(page, app.page_url("review", dataset=dataset, example=example))
    expect(page.get_by_role("heading", name=f"Example {example}", exact=True)).to_be_visible()
    wait_idle(page)
    no_exception(page)


def settle_media(page: Page) -> None:
    """Wait until the example's media slot is drawn: a player, or a message saying why not
    (the player may come after the heading, and a check before it would prove nothing)."""
    drawn = page.locator("audio").or_(page.get_by_text(re.compile("^Not shown: ")))
    expect(drawn.first).to_be_visible()
    wait_idle(page)


# ---------------------------------------------------------------------- the attacks
CLIMBING = [
    ("p1", "id_rsa"),  # the report's own row, with no folder to find it in
    ("p2", ".env"),
    ("p3", "../.ssh/id_rsa"),
    ("p4", "../../.ssh/id_rsa"),
    ("p5", "../work/.env"),
    ("p6", "out/id_rsa"),  # through the link out of the allowed folder
]


def test_the_page_offers_no_folder_but_the_allowed_ones(
    app, page: Page, setting: Setting, watch: Watch
):
    upload(page, app.page_url("datasets"), "offer.csv", csv_of([("o1", "id_rsa")]))
    expect(page.get_by_role("button", name=re.compile("Validate and import"))).to_be_visible()
    # No box to type a server folder into, ever.
    expect(page.get_by_role("combobox", name=FOLDER_LABEL)).to_have_count(
        0 if setting.allowed is None else 1
    )
    if setting.allowed is None:
        expect(page.get_by_role("textbox", name="Sub-folder (optional)")).to_have_count(0)
        expect(page.get_by_text("the operator allowed no folder on this server")).to_be_visible()
        return
    open_folders(page)
    expect(page.get_by_role("option")).to_have_count(2)
    options = page.get_by_role("option").all_inner_texts()
    assert [o.strip() for o in options] == ["(none)", str(setting.allowed)]
    # Typing a folder into the box only filters the allowed ones; it adds none.
    page.keyboard.type(str(setting.ssh))
    expect(page.get_by_role("option", name=str(setting.allowed))).to_have_count(0)
    page.keyboard.press("Enter")
    page.keyboard.press("Escape")
    wait_idle(page)
    box = page.get_by_role("combobox", name=FOLDER_LABEL)
    assert box.input_value() in ("(none)", str(setting.allowed), "")
    page.get_by_role("button", name=re.compile("Validate and import")).click()
    expect_outcome(page, "Nothing was imported")  # "id_rsa" has no folder to be found in
    assert "offer" not in dataset_names(setting.db)
    assert_nothing_secret(page, watch)


@pytest.mark.parametrize("with_folder", [False, True], ids=["no folder", "allowed folder"])
def test_paths_in_an_upload_cannot_reach_the_secrets(
    app, page: Page, setting: Setting, watch: Watch, with_folder: bool
):
    if with_folder and setting.allowed is None:
        pytest.skip("this server allows no folder")
    rows = [
        *CLIMBING,
        ("p7", str(setting.ssh / "id_rsa")),
        ("p8", str(setting.folder / "work/.env")),
    ]
    name = f"climb-{'folder' if with_folder else 'none'}"
    upload(page, app.page_url("datasets"), f"{name}.csv", csv_of(rows))
    submit(page, folder=setting.allowed if with_folder else None)
    expect_outcome(page, "Nothing was imported")
    assert name not in dataset_names(setting.db)
    assert_nothing_secret(page, watch)


@pytest.mark.parametrize(
    ("sub", "reason"),
    [
        ("../.ssh", "leads outside the media root"),
        ("..", "leads outside the media root"),
        ("out", "leads outside the media root"),
        ("{ssh}", "is an absolute path"),
        ("../work", "leads outside the media root"),
    ],
)
def test_the_sub_folder_box_cannot_leave_the_allowed_folder(
    app, page: Page, setting: Setting, watch: Watch, sub: str, reason: str
):
    if setting.allowed is None:
        pytest.skip("no sub-folder box without an allowed folder")
    upload(page, app.page_url("datasets"), "sub.csv", csv_of([("s1", "id_rsa"), ("s2", ".env")]))
    submit(page, folder=setting.allowed, sub=sub.format(ssh=setting.ssh))
    expect_outcome(page, reason)
    assert "sub" not in dataset_names(setting.db)
    assert_nothing_secret(page, watch)


def test_a_secret_under_an_audio_name_is_not_sent(app, page: Page, setting: Setting, watch: Watch):
    if setting.allowed is None:
        pytest.skip("needs an allowed folder")
    upload(page, app.page_url("datasets"), "disguised.csv", csv_of([("d1", "clips/key.wav")]))
    submit(page, folder=setting.allowed)
    expect_outcome(page, "Imported 1 examples")
    review(page, app, "disguised", "d1")
    settle_media(page)
    assert_nothing_secret(page, watch)
    assert media_sources(page) == []
    expect(page.get_by_text("is not audio")).to_be_visible()


def test_a_run_stored_with_a_secret_folder_does_not_serve_it(
    app, page: Page, setting: Setting, watch: Watch
):
    # A project file written before uploads were restricted still holds such a run.
    review(page, app, "legacy", "old1")
    settle_media(page)
    assert_nothing_secret(page, watch)
    assert media_sources(page) == []
    expect(page.get_by_text("is not audio")).to_be_visible()


@pytest.mark.parametrize(
    ("members", "reason"),
    [
        ([("preds.csv", csv_of([("z1", "id_rsa")])), ("../id_rsa", b"x")], "leads outside"),
        ([("preds.csv", csv_of([("z1", "x")])), ("../../.ssh/id_rsa", b"x")], "leads outside"),
        ([("preds.csv", csv_of([("z1", "x")])), ("/tmp/id_rsa", b"x")], "absolute path"),
        (
            [("preds.csv", csv_of([("z1", "clips/a.wav")])), (link("clips/a.wav", "x"), b"")],
            "is a symbolic link",
        ),
    ],
    ids=["dotdot-member", "dotdot-to-ssh", "absolute-member", "link-member"],
)
def test_a_crafted_archive_is_refused(
    app, page: Page, setting: Setting, watch: Watch, members, reason
):
    # The link member's target is set below: ZipInfo entries carry it as their content.
    members = [
        (m, str(setting.ssh / "id_rsa").encode()) if isinstance(m, zipfile.ZipInfo) else (m, c)
        for m, c in members
    ]
    before = sorted(p.name for p in media_area(setting.db).rglob("*"))
    upload(page, app.page_url("datasets"), "crafted.zip", zip_of(members))
    expect_outcome(page, reason)
    expect(page.get_by_role("button", name=re.compile("Validate and import"))).to_have_count(0)
    assert sorted(p.name for p in media_area(setting.db).rglob("*")) == before
    assert "crafted" not in dataset_names(setting.db)
    assert_nothing_secret(page, watch)


def test_an_archive_whose_paths_climb_out_of_it_is_refused(
    app, page: Page, setting: Setting, watch: Watch
):
    # Extracted into project.media/DATASET/RUN-HASH/, "../../../.ssh/id_rsa" would reach the
    # key beside the project file.
    rows = [
        ("c1", "../../../.ssh/id_rsa"),
        ("c2", "../../../../.ssh/id_rsa"),
        ("c3", "../../../work/.env"),
    ]
    upload(page, app.page_url("datasets"), "climber.zip", zip_of([("preds.csv", csv_of(rows))]))
    submit(page)
    expect_outcome(page, "Nothing was imported")
    assert "climber" not in dataset_names(setting.db)
    assert not list(media_area(setting.db).glob("climber/*"))  # its extracted files are gone
    assert_nothing_secret(page, watch)


def test_a_legitimate_archive_imports_and_plays(app, page: Page, setting: Setting, watch: Watch):
    data = zip_of(
        [("speech/preds.csv", csv_of([("w1", "clips/w1.wav")])), ("speech/clips/w1.wav", CLIP)]
    )
    name = "legit" if setting.allowed is None else "legit-with-root"
    upload(page, app.page_url("datasets"), f"{name}.zip", data)
    expect(page.get_by_text("Media paths are read inside the archive")).to_be_visible()
    submit(page)
    expect_outcome(page, "Imported 1 examples")
    with open_project(setting.db, readonly=True) as project:
        root = project.dataset(name).run().media_root
    assert root.is_relative_to(media_area(setting.db)) and (root / "clips" / "w1.wav").is_file()

    review(page, app, name, "w1")
    player = page.locator("audio")
    expect(player).to_have_count(1)
    duration = player.evaluate(
        """a => new Promise((done, fail) => {
            if (a.readyState >= 1) return done(a.duration);
            a.addEventListener("loadedmetadata", () => done(a.duration));
            a.addEventListener("error", () => fail(new Error("cannot play: " + a.error.code)));
            a.load();
        })"""
    )
    assert duration == pytest.approx(1.0, abs=0.05)
    [body] = assert_nothing_secret(page, watch)
    assert body == CLIP
    response = page.request.get(media_sources(page)[0])
    assert response.headers["content-type"].startswith("audio/wav")


@pytest.mark.parametrize(
    "path",
    ["/media/id_rsa", "/media/../.ssh/id_rsa", "/app/static/id_rsa", "/.ssh/id_rsa", "/work/.env"],
)
def test_the_server_serves_no_file_by_its_path(app, page: Page, path: str):
    response = page.request.get(app.url + path)
    assert not [m for m in MARKS if m in response.body()]
