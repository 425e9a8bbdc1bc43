"""Checks on what people type: names, free text, tags, Git refs, repositories, URLs and
e-mail addresses. Each returns the value (cleaned where that is safe) or raises
`InvalidInput` with one line a person can act on.

Nothing here may load more than `re` and `unicodedata` up front: `mlops status` imports it.
"""

from __future__ import annotations

import re
import unicodedata

from mlops_tui.errors import InvalidInput

MODEL_NAME_RE = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
USER_NAME_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._@+-]{0,63}")
# C0 and C1 controls, DEL: they can rewrite a terminal when a note is shown.
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
MAX_NOTE = 4000
MAX_DESCRIPTION = 4000
MAX_TAGS = 20

# -- names, free text, tags ------------------------------------------------------------------


def validate_model_name(name: str) -> str:
    if not isinstance(name, str) or not MODEL_NAME_RE.fullmatch(name):
        shown = repr(name) if isinstance(name, str) else type(name).__name__
        if isinstance(name, str) and len(name) > 64:
            shown = f"{name[:20]!r}… ({len(name)} characters)"
        raise InvalidInput(
            f"invalid model name {shown}: use lowercase letters, digits, '.', '_' and '-', "
            "starting with a letter or digit, at most 64 characters"
        )
    return name


def validate_user(name: str, what: str = "user name") -> str:
    if not isinstance(name, str) or not USER_NAME_RE.fullmatch(name):
        raise InvalidInput(
            f"invalid {what} {name!r}: use letters, digits, '.', '_', '@', '+' and '-', "
            "at most 64 characters"
        )
    return name


def clean_text(value: str | None, what: str, limit: int) -> str | None:
    """Refuse text that would be unreadable in a terminal or a history entry."""
    if value is None:
        return None
    if _CONTROL_RE.search(value):
        raise InvalidInput(f"{what} contains control characters; use plain text")
    if len(value) > limit:
        raise InvalidInput(f"{what} is too long ({len(value):,} characters; at most {limit:,})")
    value = value.strip()
    return value or None


def validate_tags(tags: list[str]) -> list[str]:
    out: list[str] = []
    for tag in tags:
        tag = tag.strip().lower()
        if not MODEL_NAME_RE.fullmatch(tag) or len(tag) > 32:
            raise InvalidInput(
                f"invalid tag {tag!r}: lowercase letters, digits, '.', '_' and '-', at most 32"
            )
        if tag not in out:
            out.append(tag)
    if len(out) > MAX_TAGS:
        raise InvalidInput(f"too many tags ({len(out)}; at most {MAX_TAGS})")
    return out


def has_control(text: str) -> bool:
    """Whether `text` holds anything of Unicode's category C: controls (newline, tab, ESC,
    DEL, NUL), format characters (bidi overrides, zero-width), surrogates, private use and
    unassigned code points, all of which can hide what a value really says."""
    return any(unicodedata.category(c)[0] == "C" for c in text)


_EMAIL_RE = re.compile(r"[^@\s]{1,64}@[^@\s]{1,190}")


def validate_email(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    if not _EMAIL_RE.fullmatch(value) or _CONTROL_RE.search(value):
        raise InvalidInput(f"invalid email {value!r}: use name@example.com")
    return value


# -- Git: refs, commits, repositories --------------------------------------------------------

_SHA_RE = re.compile(r"[0-9a-f]{7,64}")
# What git check-ref-format refuses, plus a leading '-' (it would read as an option).
_BAD_REF = re.compile(
    r"(^-)|(\.\.)|(@\{)|([\x00-\x20\x7f~^:?*\[\\])|(/\.)|(^/)|(/$)|(\.lock$)|(\.$)"
)


def validate_ref(ref: str, what: str = "ref") -> str:
    """A Git ref or commit a user typed, safe to hand to git as an argument."""
    if not isinstance(ref, str) or not ref or len(ref) > 200 or _BAD_REF.search(ref) or ref == "@":
        raise InvalidInput(
            f"invalid {what} {ref!r}: use a branch, tag or commit such as main, v1.2 or 3f2a9c1"
        )
    return ref


def validate_sha(sha: str) -> str:
    if not isinstance(sha, str) or not _SHA_RE.fullmatch(sha.lower()):
        raise InvalidInput(f"invalid commit {sha!r}: use its hexadecimal SHA (7 to 64 digits)")
    return sha.lower()


_LABEL = r"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?"
_HOST_RE = re.compile(rf"{_LABEL}(?:\.{_LABEL})*\.?")
# host[:port] or [IPv6][:port]: what urlsplit leaves unchecked (`[::1]x`, `a b`, `-oX`).
_HOSTPORT_RE = re.compile(rf"(?:\[[0-9A-Fa-f:.]+\]|{_HOST_RE.pattern})(?::[0-9]*)?")

_REPO_SCHEMES = ("file", "ssh", "http", "https")
# A transport Git would run instead of reading a path: `scheme://…` or `transport::address`.
_REPO_SCHEME_RE = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)(://|::)")
# Git's scp-like syntax `user@host:path`: an @ and then a colon, before any slash.
_SCP_RE = re.compile(r"([^/:]*)@([^/:]*):(.*)", re.DOTALL)
MAX_REPO = 1024


def validate_repo(value: str | None) -> str | None:
    """A model's repository as given to `--repo` (None or blank: none), before Git sees it.

    A local path, `file://`, `ssh://`, `http(s)://` or `git@host:path`. Git runs other
    transports (`ext::sh -c …` runs a command), reads a leading `-` as an option, and a
    control character would rewrite the terminal wherever the repo is shown; a password in
    a URL would sit in the history for everyone to read.
    """
    if value is None:
        return None
    if not isinstance(value, str) or has_control(value):
        raise InvalidInput(
            f"repo {str(value)[:80]!r} contains control characters; use a plain path or URL"
        )
    value = value.strip()
    if not value:
        return None
    shown = repr(value[:80]) + ("…" if len(value) > 80 else "")
    if len(value) > MAX_REPO:
        raise InvalidInput(f"repo {shown} is too long ({len(value):,} characters; at most 1,024)")
    if value.startswith("-"):
        raise InvalidInput(f"invalid repo {shown}: it starts with '-' (Git would read an option)")
    if m := _REPO_SCHEME_RE.match(value):
        scheme = m.group(1).lower()
        if m.group(2) == "::" or scheme not in _REPO_SCHEMES:
            raise InvalidInput(
                f"invalid repo {shown}: use a local path, file://, ssh://, https://, http:// "
                "or git@host:path"
            )
        _repo_url(value, scheme, shown)
    elif (m := _SCP_RE.match(value)) and not (
        m.group(1) == "git"
        and _HOST_RE.fullmatch(m.group(2))
        and m.group(3)
        and not m.group(3).startswith("-")
    ):
        raise InvalidInput(
            f"invalid repo {shown}: use git@host:path, or ssh://user@host/path for another user"
        )
    return value


def _repo_url(value: str, scheme: str, shown: str) -> None:
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(value)
        host, port = parts.hostname, parts.port
    except ValueError:  # a port that is not a number up to 65535, or a bad [IPv6] address
        raise InvalidInput(
            f"invalid repo {shown}: its port must be a number from 1 to 65535 "
            "(an IPv6 host in [brackets])"
        ) from None
    if scheme == "file":
        if not parts.path.strip("/") or parts.netloc not in ("", "localhost"):
            raise InvalidInput(f"invalid repo {shown}: use file:///absolute/path")
        return
    if parts.password is not None:
        raise InvalidInput(
            f"invalid repo {shown}: no password in it (use an SSH key or a credential helper)"
        )
    user, _, hostport = parts.netloc.rpartition("@")
    if user.startswith("-") or not host or not _HOSTPORT_RE.fullmatch(hostport):
        raise InvalidInput(f"invalid repo {shown}: it needs a host, e.g. {scheme}://host/path")
    if port == 0:
        raise InvalidInput(f"invalid repo {shown}: its port must be a number from 1 to 65535")
    if not parts.path.strip("/"):
        raise InvalidInput(f"invalid repo {shown}: use {scheme}://host[:port]/path")


# -- webhooks: URLs, secrets -----------------------------------------------------------------

_ENV_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")


def validate_webhook_url(url: str) -> str:
    """Only http(s) to a named host and a real port, without credentials: a file:// or
    ftp:// URL would read or reach what it must not, a bad port would only fail at each
    delivery, and a password would sit in the history for everyone to read. ASCII only, as
    urllib sends it (a host in punycode, a path %-encoded)."""
    from urllib.parse import urlsplit  # not at the top: `mlops status` never needs it

    raw = url if isinstance(url, str) else ""
    url = raw.strip()

    def bad(why: str) -> InvalidInput:
        return InvalidInput(f"invalid webhook URL {url[:80]!r}: {why}")

    if has_control(raw):
        raise bad("it contains control characters")
    if not url.isascii() or any(c.isspace() for c in url) or len(url) > 2000:
        raise bad("use http://host[:port]/path or https://… (ASCII, no spaces, %-encoded)")
    try:
        parts = urlsplit(url)
        scheme, host, port = parts.scheme.lower(), parts.hostname, parts.port
    except ValueError:  # a port that is not a number up to 65535, or a bad [IPv6] address
        raise bad(
            "its port must be a number from 1 to 65535 (an IPv6 host in [brackets])"
        ) from None
    if scheme not in ("http", "https"):
        raise bad("use http://host[:port]/path or https://…")
    if "@" in parts.netloc:
        raise bad("no user or password in it: deliveries are signed with a secret instead")
    if not host or not _HOSTPORT_RE.fullmatch(parts.netloc) or len(host) > 253:
        raise bad("it needs a host name or address, e.g. http://chat.example.com/hook")
    if port == 0:
        raise bad("its port must be a number from 1 to 65535")
    return url


def validate_env_name(name: str) -> str:
    if not isinstance(name, str) or not _ENV_RE.fullmatch(name):
        raise InvalidInput(
            f"invalid environment variable name {name!r}: letters, digits and '_', "
            "not starting with a digit"
        )
    return name
