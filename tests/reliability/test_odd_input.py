"""Odd input at the door: dates at the edges of the calendar, webhook URLs, repositories,
paths in mlops.toml and symlinks in a model's commit. Each ends in exit 0 or one line and
exit 2, never exit 70 (a bug); nothing accepted holds a control character, and nothing
outside the repository is read or written through a link.

The properties run the CLI in this process through `main` (the console script itself, ~30
ms a call); the examples that used to end in exit 70 also run as a real `mlops` process."""

from __future__ import annotations

import contextlib
import errno
import io
import json
import os
import tarfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlsplit

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from mlops_tui import domain, modelconfig, timefmt
from mlops_tui.errors import ConfigError, InvalidInput, MlopsError
from mlops_tui.services import builds, lifecycle, queries, testing, webhooks
from mlops_tui.services.context import Context
from mlops_tui.store import open_store
from tests.reliability.helpers import mlops

# Examples share the test's database and repository on purpose: one per backend, not one per
# example, so that a property costs seconds.
SHARED = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
# Zones at the ends of the offsets (UTC+14, UTC-11), one with a half hour, and UTC.
ZONES = ("UTC", "Pacific/Kiritimati", "Pacific/Pago_Pago", "America/St_Johns")


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """`mlops ARGS` in this process: (exit code, stdout, stderr)."""
    from mlops_tui.cli import main

    code = 0
    try:
        main(list(args))
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
    out = capsys.readouterr()
    return code, out.out, out.err


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    """`mlops ARGS` in this process: (exit code, stderr)."""
    code, _, err = run_cli(capsys, *args)
    return code, err


def cli_json(capsys: pytest.CaptureFixture[str], *args: str) -> Any:
    code, out, err = run_cli(capsys, *args, "--json")
    assert code == 0, err
    return json.loads(out)


def refused(code: int, err: str) -> bool:
    """Exit 2 with one line, or exit 0; anything else (70 above all) fails the test."""
    assert code in (0, 2), (code, err)
    if code == 2:
        assert err.startswith("mlops: ") and err.count("\n") == 1, err
        assert "internal error" not in err and "Traceback" not in err
    return code == 2


@pytest.fixture
def on_db(db_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Each backend, for the CLI run in this process."""
    monkeypatch.setenv("MLOPS_DB", db_url)
    return db_url


@pytest.fixture
def on_sqlite(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """One SQLite file, for what the CLI adds to a service (reading the arguments, printing
    the error) that does not depend on the backend; the services run on both."""
    db = str(tmp_path / "cli.db")
    monkeypatch.setenv("MLOPS_DB", db)
    return db


@contextlib.contextmanager
def local_zone(zone: str) -> Iterator[None]:
    """Run with the process's local time zone set to `zone`, as a user's TZ would."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = zone
    time.tzset()
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = before
        time.tzset()


# -- dates ----------------------------------------------------------------------------
offsets = st.integers(-(24 * 60 - 1), 24 * 60 - 1).map(lambda m: timezone(timedelta(minutes=m)))
dates = st.one_of(
    st.datetimes(timezones=st.none() | offsets | st.timezones()).map(lambda d: d.isoformat()),
    st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(1, 1, 5)).map(str),
    st.datetimes(min_value=datetime(9999, 12, 27), max_value=datetime(9999, 12, 31)).map(str),
    st.dates().map(str),
    st.builds(
        "{}{}{}".format,
        st.integers(0, 999_999),
        st.sampled_from(["m", "min", "h", "d", "w"]),
        st.sampled_from(["", " ago"]),
    ),
    st.sampled_from(["now", "today", "yesterday", "0", "-1d", "1e9d", "9999999w"]),
)


@settings(max_examples=200, deadline=None)
@given(text=dates, zone=st.sampled_from(ZONES))
@example(text="0001-01-01", zone="UTC")
@example(text="0001-01-03", zone="Pacific/Kiritimati")
@example(text="0001-01-03T00:00", zone="Pacific/Pago_Pago")
@example(text="9999-12-31", zone="UTC")
@example(text="9999-12-29T23:59:59.999999", zone="Pacific/Pago_Pago")
@example(text="9999-12-29T23:59:59-23:59", zone="UTC")
@example(text="999999w", zone="UTC")
def test_a_parsed_date_survives_every_later_shift(text: str, zone: str) -> None:
    """What the parser accepts can be shown in any zone and compared with any stored time:
    the overflows used to come later, in astimezone or in `since + max_age`."""
    with local_zone(zone):
        try:
            when = timefmt.parse_when(text, now=NOW)
        except InvalidInput as exc:
            assert "cannot read the date" in exc.message or "too far" in exc.message
            assert "\n" not in exc.message
            return
        assert when.utcoffset() == timedelta(0)
        assert timefmt.EARLIEST <= when <= timefmt.LATEST
        assert len(timefmt.local(when)) == 16  # `0001-01-03 10:29`: the year padded
        for minutes in (-(24 * 60 - 1), 0, 24 * 60 - 1):
            when.astimezone(timezone(timedelta(minutes=minutes)))
        assert timefmt.ago(when, NOW) and timefmt.ago(NOW, when)


@settings(SHARED, max_examples=20)
@given(text=dates, zone=st.sampled_from(ZONES), form=st.integers(0, 3))
@example(text="0001-01-01", zone="UTC", form=0)
@example(text="0001-01-01", zone="UTC", form=1)
@example(text="0001-01-01", zone="UTC", form=2)
@example(text="9999-12-29", zone="Pacific/Kiritimati", form=1)
@example(text="9999-12-29", zone="UTC", form=3)
def test_any_date_through_the_cli_options(
    capsys: pytest.CaptureFixture[str], on_db: str, text: str, zone: str, form: int
) -> None:
    args = [
        ("history", "--since", text),
        ("status", "--at", text),
        ("history", "--between", text, "now"),
        ("history", "--between", "0001-01-03", text),
    ][form]
    with local_zone(zone):
        code, err = cli(capsys, *args)
    if refused(code, err) and "--between" not in args:
        assert "date" in err


DATE_EXAMPLES = [
    ("history", "--since", "0001-01-01"),
    ("status", "--at", "0001-01-01"),
    ("history", "--between", "0001-01-01", "now"),
    ("history", "--since", "999999w"),
    ("status", "--at", "999999w"),
    ("history", "--since", "9999-12-31"),
    ("status", "--at", "9999-12-31T23:59:59-12:00"),
    ("history", "--between", "now", "9999-12-31"),
    ("status", "--at", "0001-01-01T00:00+14:00"),
]


def test_dates_out_of_range_are_bad_dates(tmp_path: Path, monkeypatch, capsys) -> None:
    """Refused before any database is opened, so one backend says it for both."""
    db = str(tmp_path / "mlops.db")
    monkeypatch.setenv("MLOPS_DB", db)
    for args in DATE_EXAMPLES:
        for zone in ZONES:
            with local_zone(zone):
                code, err = cli(capsys, *args)
            assert code == 2, (args, zone, err)
            assert err.startswith("mlops: the date '") and err.count("\n") == 1
            assert "too far in the past or future" in err
    for args in DATE_EXAMPLES[:3]:  # the examples that used to end in exit 70
        done = mlops(*args, db=db, TZ="Pacific/Kiritimati")
        assert done.returncode == 2
        assert done.stderr == (
            "mlops: the date '0001-01-01' is too far in the past or future: use one from "
            "0001-01-03 to 9999-12-29 (UTC)\n"
        )


def test_the_edges_that_are_in_range_work(on_db: str, capsys) -> None:
    """A production model at the far edges: the history reads fine from the first day to
    the last; status reads the past back to its first day and refuses the future."""
    db_url = on_db
    assert cli(capsys, "model", "add", "edge", "--owner", "tester")[0] == 0
    sha = "a" * 40
    assert cli(capsys, "record", "build", "edge", "--commit", sha, "--image", "edge:1")[0] == 0
    assert cli(capsys, "record", "deploy", "edge", "--version", "1") == (0, "")
    with local_zone("Pacific/Kiritimati"):
        code, err = cli(capsys, "status", "--at", "9999-12-29")
        assert code == 2 and "is in the future" in err
    with local_zone("Pacific/Pago_Pago"):
        code, err = cli(capsys, "status", "--at", "0001-01-03")
        assert code == 2 and "too far" in err  # 0001-01-02 in UTC
        assert cli(capsys, "status", "--at", "0001-01-04") == (
            0,
            "no models existed yet at 0001-01-04 00:00\n",
        )
    whole = cli_json(capsys, "history", "--between", "0001-01-03", "9999-12-29")
    assert [e["kind"] for e in whole][-1] == "model.created"
    late = mlops("status", "--at", "9999-12-29", db=db_url, TZ="Pacific/Pago_Pago")
    assert late.returncode == 2 and "is in the future" in late.stderr


def test_durations_in_mlops_toml_cannot_overflow_the_clock() -> None:
    for value in ('"99999999999999d"', '"36501d"', "1e300"):
        with pytest.raises(ConfigError, match=r"\[monitor\]\.max_age: .* too long"):
            modelconfig.parse(f"[monitor]\nmax_age = {value}\n")
    assert modelconfig.parse('[monitor]\nmax_age = "36500d"\n').monitor_max_age == 36500 * 86400


# -- webhook URLs ---------------------------------------------------------------------
url_like = st.builds(
    "{}{}{}{}{}".format,
    st.sampled_from(["http://", "https://", "HTTPS://", "ftp://", "file://", "javascript:", ""]),
    st.sampled_from(["", "", "u@", "u:p@", ":@", "-o@"]),
    st.one_of(
        st.sampled_from(["h", "127.0.0.1", "[::1]", "[zz]", "", "a..b", "-h", "ex.com.", "h_1"]),
        st.text(max_size=8),
    ),
    st.one_of(
        st.just(""),
        st.integers(-1, 10**6).map(":{}".format),
        st.text(max_size=5).map(":{}".format),
    ),
    st.one_of(st.just("/hook"), st.text(max_size=12).map("/{}".format)),
)
urls = st.one_of(url_like, st.text(max_size=40))
URL_EXAMPLES = [
    "http://host:99999/x",
    "http://host:0/x",
    "http://host:80x/",
    "http://host:1:2/x",
    "http:///x",
    "http://:8080/x",
    "http://user:secret@host/x",
    "http://user@host/x",
    "http://host/\x1b[2J",
    "http://host/a\nb",
    "http://host/\x7f",
    "http://host/\u202eevil",
    "http://host\t/x",
    "ftp://host/x",
    "file:///etc/passwd",
    "gopher://host/",
    "javascript:alert(1)",
    "http://[::1]x/",
    "http://-oProxyCommand=x/",
]


def _accepted_url_is_sound(url: str) -> None:
    assert not domain.has_control(url) and url.isascii() and url == url.strip()
    parts = urlsplit(url)
    assert parts.scheme.lower() in ("http", "https")
    assert parts.hostname and "@" not in parts.netloc
    assert parts.port is None or 1 <= parts.port <= 65535


@settings(SHARED, max_examples=60)
@given(url=urls)
def test_webhook_urls_are_kept_sound_or_refused(ctx: Context, url: str) -> None:
    before = queries.head(ctx)
    try:
        hook = webhooks.add(ctx, url)
    except InvalidInput as exc:
        assert exc.message.startswith("invalid webhook URL") and "\n" not in exc.message
        assert queries.head(ctx) == before  # nothing written
        return
    _accepted_url_is_sound(hook.url)
    assert hook.url == url.strip()
    webhooks.remove(ctx, hook.id)


@settings(SHARED, max_examples=25)
@given(url=urls)
def test_webhook_urls_through_the_cli(capsys, on_sqlite: str, url: str) -> None:
    code, err = cli(capsys, "webhook", "add", "--", url)
    if not refused(code, err):
        (hook,) = cli_json(capsys, "webhook", "list")
        _accepted_url_is_sound(hook["url"])
        assert cli(capsys, "webhook", "remove", str(hook["id"]))[0] == 0


def test_bad_webhook_urls_are_refused_when_added(ctx: Context, db_url: str) -> None:
    for url in URL_EXAMPLES:
        with pytest.raises(InvalidInput, match=r"^invalid webhook URL [^\n]*$"):
            webhooks.add(ctx, url)
    assert queries.head(ctx) == 0 and webhooks.webhooks(ctx) == []
    done = mlops("webhook", "add", "http://127.0.0.1:99999/hooks", db=db_url)
    assert done.returncode == 2
    assert done.stderr == (
        "mlops: invalid webhook URL 'http://127.0.0.1:99999/hooks': its port must be a number "
        "from 1 to 65535 (an IPv6 host in [brackets])\n"
    )
    assert webhooks.add(ctx, "http://127.0.0.1:8765/hooks").url == "http://127.0.0.1:8765/hooks"


def test_bad_webhook_urls_through_the_cli(on_sqlite: str, capsys) -> None:
    for url in URL_EXAMPLES:
        code, err = cli(capsys, "webhook", "add", "--", url)
        assert code == 2 and err.startswith("mlops: invalid webhook URL"), (url, err)
        assert err.count("\n") == 1
    assert cli_json(capsys, "webhook", "list") == []


# -- repositories ---------------------------------------------------------------------
repo_like = st.builds(
    "{}{}".format,
    st.sampled_from(
        [
            *("", "/", "./", "~/", "-", "--", "file://", "file:///", "ssh://", "https://"),
            *("http://", "git://", "ext::", "fd::", "git@", "me@", "C:\\", "git@h:", "ssh://u:p@"),
        ]
    ),
    st.text(max_size=20),
)
repos = st.one_of(repo_like, st.text(max_size=30))
REPO_EXAMPLES = [
    "repo\nx",
    "repo\tx",
    "\x1b[31mred",
    "re\x7fpo",
    "re\x00po",
    "re\u202epo",
    "-u",
    "--upload-pack=touch /tmp/pwned",
    "ext::sh -c touch% /tmp/pwned",
    "fd::17",
    "git://host/repo.git",
    "ftp://host/repo.git",
    "https://user:token@github.com/a/b.git",
    "ssh://host:99999/repo",
    "ssh://-oProxyCommand=touch%20x/repo",
    "git@-oProxyCommand=x:repo",
    "git@github.com:",
    "deploy@host:repo.git",
    "file://",
]
GOOD_REPOS = [
    "/srv/models/churn",
    "file:///srv/models/churn",
    "ssh://git@host:2222/models/churn.git",
    "https://github.com/team/churn.git",
    "http://git.local/churn",
    "git@github.com:team/churn.git",
]


def _accepted_repo_is_sound(repo: str | None, given: str) -> None:
    if repo is None:
        assert not given.strip()
        return
    assert not domain.has_control(repo) and not repo.startswith("-")
    assert (
        repo.startswith("/")
        or repo.lower().startswith(("file://", "ssh://", "http://", "https://"))
        or repo.startswith("git@")
    ), repo
    assert "::" not in repo.split("/", 1)[0]


@settings(SHARED, max_examples=60)
@given(repo=repos)
def test_repos_are_kept_sound_or_refused(ctx: Context, repo: str) -> None:
    name = "r-" + uuid.uuid4().hex[:8]
    try:
        lifecycle.add_model(ctx, name, owner=ctx.actor, repo=repo)
    except InvalidInput as exc:
        assert "repo" in exc.message and "\n" not in exc.message
        assert not any(m.name == name for m in queries.models(ctx))  # nothing written
        return
    _accepted_repo_is_sound(queries.model(ctx, name).repo, repo)


@settings(SHARED, max_examples=25)
@given(repo=repos, command=st.sampled_from(["add", "set"]))
def test_repos_through_the_cli(capsys, on_sqlite: str, repo: str, command: str) -> None:
    name = "r-" + uuid.uuid4().hex[:8]
    if command == "set":
        assert cli(capsys, "model", "add", name, "--owner", "tester")[0] == 0
        code, err = cli(capsys, "model", "set", name, f"--repo={repo}")
    else:
        code, err = cli(capsys, "model", "add", name, "--owner", "tester", f"--repo={repo}")
    if not refused(code, err):
        stored = cli_json(capsys, "model", "show", name)["repo"]
        if command == "set" and not repo.strip():
            assert stored is None
        else:
            _accepted_repo_is_sound(stored, repo)


def test_bad_repos_are_refused_when_added_or_set(ctx: Context, db_url: str) -> None:
    lifecycle.add_model(ctx, "kept", owner=ctx.actor, repo="/srv/a")
    head = queries.head(ctx)
    for repo in REPO_EXAMPLES:
        with pytest.raises(InvalidInput, match=r"^(invalid )?repo [^\n]*$"):
            lifecycle.add_model(ctx, "new", owner=ctx.actor, repo=repo)
        with pytest.raises(InvalidInput, match=r"^(invalid )?repo [^\n]*$"):
            lifecycle.edit_model(ctx, "kept", repo=repo)
    assert queries.head(ctx) == head and [m.name for m in queries.models(ctx)] == ["kept"]
    for repo in GOOD_REPOS:
        assert lifecycle.edit_model(ctx, "kept", repo=repo).model.repo == repo
    for args, line in (
        (
            ("model", "add", "x", "--owner", "tester", "--repo", "-u"),
            "mlops: invalid repo '-u': it starts with '-' (Git would read an option)\n",
        ),
        (
            ("model", "set", "kept", "--repo", "a\nb"),
            "mlops: repo 'a\\nb' contains control characters; use a plain path or URL\n",
        ),
    ):
        done = mlops(*args, db=db_url)
        assert (done.returncode, done.stderr) == (2, line)
    assert queries.model(ctx, "kept").repo == GOOD_REPOS[-1]


def test_bad_repos_through_the_cli(on_sqlite: str, capsys) -> None:
    assert cli(capsys, "model", "add", "kept", "--owner", "tester", "--repo", "/srv/a")[0] == 0
    for repo in REPO_EXAMPLES:
        for args in (("model", "add", "new", "--owner", "tester"), ("model", "set", "kept")):
            code, err = cli(capsys, *args, f"--repo={repo}")
            assert code == 2, (args, repo, err)
            assert err.startswith(("mlops: invalid repo", "mlops: repo ")), err
            assert err.count("\n") == 1
    assert [m["name"] for m in cli_json(capsys, "model", "list")] == ["kept"]
    assert cli_json(capsys, "model", "show", "kept")["repo"] == "/srv/a"


# -- paths in mlops.toml --------------------------------------------------------------
paths = st.one_of(
    st.text(max_size=12),
    st.lists(
        st.sampled_from([".", "..", "", "sub", "Dockerfile", "/", "a", "\\", "~"]), max_size=5
    ).map("/".join),
)


class RecordingEngine:
    """Stands for Docker where the question is only what a build would be sent (real builds
    are in the explicit tests below: a property cannot afford a second each)."""

    def __init__(self) -> None:
        self.sent: list[tuple[list[str], str]] = []
        self.links: dict[str, str] = {}

    def build(self, context: io.BytesIO, *, dockerfile: str, **_: Any) -> Iterator[str]:
        with tarfile.open(fileobj=context) as tar:
            self.sent.append((tar.getnames(), dockerfile))
            self.links = {m.name: m.linkname for m in tar.getmembers() if m.issym()}
        yield "Step 1/1 : FROM scratch"
        return SimpleNamespace(id="sha256:" + uuid.uuid4().hex)


def _toml_string(s: str) -> str:
    return json.dumps(s, ensure_ascii=False)


@pytest.fixture
def sqlite_ctx(tmp_path: Path) -> Iterator[Context]:
    with open_store(str(tmp_path / "mlops.db")) as store:
        yield Context(store, "alice")


@settings(SHARED, max_examples=25)
@given(context=paths, dockerfile=paths)
@example(context="./", dockerfile="Dockerfile")
@example(context="sub/", dockerfile="sub/Dockerfile")
@example(context=".", dockerfile="./Dockerfile")
@example(context="sub", dockerfile="./sub//Dockerfile")
@example(context="..", dockerfile="Dockerfile")
@example(context="/", dockerfile="/etc/passwd")
@example(context="Dockerfile", dockerfile="Dockerfile")
def test_any_context_and_dockerfile_build_inside_the_repository_or_are_refused(
    sqlite_ctx: Context, gitrepo, context: str, dockerfile: str
) -> None:
    ctx = sqlite_ctx
    if not queries.models(ctx):
        gitrepo.commit("files", Dockerfile="FROM scratch\n", sub__Dockerfile="FROM scratch\n")
        lifecycle.add_model(ctx, "paths", owner="alice", repo=str(gitrepo.path))
    toml = f"[build]\ncontext = {_toml_string(context)}\ndockerfile = {_toml_string(dockerfile)}\n"
    (gitrepo.path / "mlops.toml").write_text(toml)
    gitrepo.repo.git.add("--all")
    gitrepo.repo.git.commit("--allow-empty", "-m", "paths")
    engine = RecordingEngine()
    try:
        builds.build(ctx, "paths", engine=engine)
    except MlopsError as exc:
        assert exc.exit_code == 2 and "\n" not in exc.message, exc.message
        assert not engine.sent
        return
    cfg = modelconfig.parse(toml)
    ((names, sent_dockerfile),) = engine.sent
    assert cfg.context in (".", "sub") and not os.path.isabs(sent_dockerfile)
    assert not sent_dockerfile.startswith("..")
    expected = (
        {"Dockerfile", "mlops.toml", "sub", "sub/Dockerfile"}
        if cfg.context == "."
        else {"Dockerfile"}
    )
    assert {n.removeprefix("./").rstrip("/") for n in names} - {"", "."} == expected


def test_context_spellings_build_with_docker(on_sqlite: str, capsys, gitrepo, base_image) -> None:
    gitrepo.commit(
        "two contexts",
        Dockerfile=f"FROM {base_image}\nCOPY Dockerfile /root.txt\n",
        sub__Dockerfile=f"FROM {base_image}\nCOPY Dockerfile /sub.txt\n",
    )
    name = "ctx-" + uuid.uuid4().hex[:8]
    assert (
        cli(capsys, "model", "add", name, "--owner", "tester", "--repo", str(gitrepo.path))[0] == 0
    )
    try:
        toml = '[build]\ncontext = "./sub//"\ndockerfile = "./sub/./Dockerfile"\n'
        gitrepo.commit("spelling", **{"mlops.toml": toml})
        assert cli(capsys, "build", name)[0] == 0
        for toml, why in (
            ('[build]\ncontext = "../"\n', "'../' must be a path inside the repository"),
            ('[build]\ncontext = "/etc"\n', "'/etc' must be a path inside the repository"),
            ('[build]\ndockerfile = "sub/../Dockerfile"\n', "must be a path inside the rep"),
            ('[build]\ncontext = "Dockerfile"\n', "'Dockerfile' is not a folder"),
            ('[build]\ncontext = "sub\\n"\n', "contains control characters"),
        ):
            gitrepo.commit("bad", **{"mlops.toml": toml})
            code, err = cli(capsys, "build", name)
            assert code == 2 and err.count("\n") == 1 and why in err, (toml, err)
        made = cli_json(capsys, "builds", name)
        assert [b["status"] for b in made] == ["succeeded"]  # the refused: not recorded
    finally:
        _remove_images([f"{name}:v1"])


def test_context_dot_slash_builds(on_db: str, capsys, gitrepo, base_image) -> None:
    """`context = "./"` used to end in exit 70."""
    gitrepo.commit(
        "dot slash",
        Dockerfile=f"FROM {base_image}\nCOPY Dockerfile /root.txt\n",
        **{"mlops.toml": '[build]\ncontext = "./"\n'},
    )
    name = "dot-" + uuid.uuid4().hex[:8]
    assert (
        cli(capsys, "model", "add", name, "--owner", "tester", "--repo", str(gitrepo.path))[0] == 0
    )
    try:
        code, out, err = run_cli(capsys, "build", name)
        assert code == 0 and f"built {name} v1 from" in out, err
    finally:
        _remove_images([f"{name}:v1"])


def _remove_images(tags: list[str]) -> None:
    import docker

    client = docker.from_env()
    for tag in tags:
        with contextlib.suppress(Exception):
            client.images.remove(tag, force=True)


# -- symlinks in a model's commit ---------------------------------------------------
LINK_NAMES = ("data", "d", "sub/inner")
targets = st.one_of(
    st.sampled_from(
        [
            *("/etc", "/", "//etc", "../../x", "..", ".", "sub", "sub/..", "sub/../..", "d/../etc"),
            *("./Dockerfile", "sub/inner/../../..", "data", "d/..", "../work/x", "a/b/../../../x"),
        ]
    ),
    st.lists(st.sampled_from(["..", ".", "sub", "d", "data", "etc", "inner", ""]), max_size=5)
    .map("/".join)
    .filter(bool),
)
link_sets = st.dictionaries(st.sampled_from(LINK_NAMES), targets, min_size=1, max_size=3)


def kernel_says(links: dict[str, str], scratch: Path) -> str:
    """What the kernel makes of these links, made for real in an empty folder of a random
    name (a target cannot come back into it by its name): "outside" when one resolves out
    of the folder, "loop" when one cannot be resolved, else "inside"."""
    root = scratch / uuid.uuid4().hex
    for name, target in links.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        os.symlink(target, root / name)
    verdict = "inside"
    for name in links:
        try:
            os.stat(root / name)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                return "loop"
        real = os.path.realpath(root / name)
        if real != str(root) and not real.startswith(f"{root}{os.sep}"):
            verdict = "outside"
    return verdict


def commit_links(gitrepo, links: dict[str, str], message: str = "links") -> str:
    for name in LINK_NAMES:
        path = gitrepo.path / name
        if path.is_symlink() or path.exists():
            gitrepo.repo.git.rm("-q", "--cached", "--ignore-unmatch", name)
            path.unlink()
    for name, target in links.items():
        (gitrepo.path / name).parent.mkdir(parents=True, exist_ok=True)
        os.symlink(target, gitrepo.path / name)
    gitrepo.repo.git.add("--all")
    gitrepo.repo.git.commit("--allow-empty", "-m", message)
    return gitrepo.repo.head.commit.hexsha


LINKED_TOML = '[test]\ncommand = ["sh", "-c", "ls -la > /dev/null"]\n'


@settings(SHARED, max_examples=25)
@given(links=link_sets)
@example(links={"data": "/etc"})
@example(links={"data": "../../x"})
@example(links={"d": ".", "data": "d/../etc"})
@example(links={"sub/inner": "../Dockerfile"})
def test_symlinks_in_a_commit_are_refused_unless_they_stay_inside(
    sqlite_ctx: Context, gitrepo, tmp_path_factory, links: dict[str, str]
) -> None:
    """`mlops test` really checks the commit out and runs a command in it; `mlops build`
    goes as far as what Docker would be sent. The verdict is the kernel's, on real links."""
    ctx = sqlite_ctx
    if not queries.models(ctx):
        name = "linked-" + uuid.uuid4().hex[:8]
        gitrepo.commit(
            "files",
            Dockerfile="FROM scratch\nCOPY . /ctx/\n",
            sub__file="inside\n",
            **{"mlops.toml": LINKED_TOML},
        )
        lifecycle.add_model(ctx, name, owner="alice", repo=str(gitrepo.path))
    (name,) = (m.name for m in queries.models(ctx))
    sha = commit_links(gitrepo, links)
    verdict = kernel_says(links, tmp_path_factory.mktemp("kernel"))
    before = (len(builds.builds(ctx, name, limit=999)), len(testing.test_runs(ctx, name, 999)))
    builds.record(ctx, name, commit=sha, image="linked:ci")  # a version at this commit
    try:
        run = testing.run(ctx, name)
    except InvalidInput as exc:
        assert verdict in ("outside", "loop"), (links, exc.message)
        assert "\n" not in exc.message and sha[:12] in exc.message
        engine = RecordingEngine()
        with pytest.raises(InvalidInput) as again:
            builds.build(ctx, name, engine=engine)
        assert again.value.message == exc.message and not engine.sent
        after = (len(builds.builds(ctx, name, limit=999)), len(testing.test_runs(ctx, name, 999)))
        assert after == (before[0] + 1, before[1])  # only the CI build: nothing else recorded
        return
    assert verdict == "inside", links
    assert run.status == "passed"
    engine = RecordingEngine()
    assert builds.build(ctx, name, engine=engine).build.status == "succeeded"
    assert engine.links == links  # sent as committed, each one staying inside
    assert kernel_says(engine.links, tmp_path_factory.mktemp("sent")) == "inside"


def test_a_link_out_of_the_build_context_is_refused(
    on_sqlite: str, capsys, gitrepo, base_image
) -> None:
    """Inside the repository but out of `context = "sub"`: Docker would see a link leading
    out of what it was sent, so the build is refused the same way."""
    gitrepo.commit(
        "sub context",
        sub__Dockerfile=f"FROM {base_image}\nCOPY . /ctx/\n",
        **{"mlops.toml": '[build]\ncontext = "sub"\ndockerfile = "sub/Dockerfile"\n'},
    )
    sha = commit_links(gitrepo, {"sub/inner": "../mlops.toml"})
    assert (
        cli(capsys, "model", "add", "sub", "--owner", "tester", "--repo", str(gitrepo.path))[0] == 0
    )
    assert cli(capsys, "build", "sub") == (
        2,
        f"mlops: 'sub/inner' at {sha[:12]} is a symlink to '../mlops.toml' that leaves sub/: "
        "commit the files themselves, or a link that stays inside\n",
    )


def _refusal(path: str, target: str, sha: str) -> str:
    return (
        f"mlops: '{path}' at {sha[:12]} is a symlink to '{target}' that leaves the repository: "
        "commit the files themselves, or a link that stays inside\n"
    )


def _linked_model(gitrepo, base_image, links: dict[str, str], toml: str) -> str:
    gitrepo.commit(
        "model",
        Dockerfile=f"FROM {base_image}\nCOPY . /ctx/\n",
        sub__file="inside\n",
        **{"mlops.toml": toml},
    )
    return commit_links(gitrepo, links)


@pytest.mark.parametrize(
    ("links", "path", "target"),
    [
        ({"data": "/etc"}, "data", "/etc"),
        ({"data": "../../x"}, "data", "../../x"),
        ({"d": ".", "sub/inner": "../d/../etc"}, "sub/inner", "../d/../etc"),
    ],
)
def test_mlops_test_and_build_refuse_a_link_out_of_the_repository(
    on_sqlite: str, capsys, gitrepo, base_image, links: dict[str, str], path: str, target: str
) -> None:
    sha = _linked_model(gitrepo, base_image, links, '[test]\ncommand = ["cat", "data/passwd"]\n')
    assert (
        cli(capsys, "model", "add", "sym", "--owner", "tester", "--repo", str(gitrepo.path))[0] == 0
    )
    assert cli(capsys, "record", "build", "sym", "--commit", sha, "--image", "x:1")[0] == 0
    for command in ("test", "build"):
        assert run_cli(capsys, command, "sym") == (2, "", _refusal(path, target, sha)), command
    assert cli_json(capsys, "tests", "sym") == []
    assert len(cli_json(capsys, "builds", "sym")) == 1  # CI's, recorded above: nothing else


def test_a_link_out_of_the_repository_through_the_process(
    on_db: str, capsys, gitrepo, base_image
) -> None:
    """The example that used to end in exit 70, as a user runs it, on both backends."""
    sha = _linked_model(
        gitrepo, base_image, {"data": "/etc"}, '[test]\ncommand = ["cat", "data/passwd"]\n'
    )
    name = "sym-" + uuid.uuid4().hex[:8]
    assert (
        cli(capsys, "model", "add", name, "--owner", "tester", "--repo", str(gitrepo.path))[0] == 0
    )
    assert cli(capsys, "record", "build", name, "--commit", sha, "--image", "x:1")[0] == 0
    for command in ("test", "build"):
        done = mlops(command, name, db=on_db)
        assert (done.returncode, done.stdout, done.stderr) == (2, "", _refusal("data", "/etc", sha))
    assert cli_json(capsys, "tests", name) == []


def test_a_link_that_stays_inside_is_built_and_tested(
    on_sqlite: str, capsys, gitrepo, base_image
) -> None:
    _linked_model(
        gitrepo,
        base_image,
        {"data": "sub", "d": "./sub/../Dockerfile"},
        '[test]\ncommand = ["cat", "data/file"]\n',
    )
    name = "in-" + uuid.uuid4().hex[:8]
    assert (
        cli(capsys, "model", "add", name, "--owner", "tester", "--repo", str(gitrepo.path))[0] == 0
    )
    try:
        assert cli(capsys, "build", name)[0] == 0
        code, out, err = run_cli(capsys, "test", name)
        assert code == 0 and "│ inside" in out, err
    finally:
        _remove_images([f"{name}:v1"])
