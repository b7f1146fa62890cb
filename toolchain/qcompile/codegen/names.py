"""C identifiers and comments from untrusted names.

Model and tensor names come from the source model file, so they may contain anything:
quotes, ``*/``, newlines, unicode, C keywords, leading digits, or collide after
sanitising. Names therefore reach C in exactly two ways:

- as identifiers, through :func:`c_identifier` / :class:`Namer` ([A-Za-z0-9_] only,
  never starting with a digit or an underscore, never a keyword, bounded length,
  unique within the generated sources);
- inside ``/* ... */`` comments, through :func:`comment_text` (printable ASCII only,
  ``*/`` and ``/*`` broken up, no line breaks).
"""

from __future__ import annotations

import re

C_KEYWORDS = frozenset(
    """auto break case char const continue default do double else enum extern float for goto if inline
    int long register restrict return short signed sizeof static struct switch typedef union unsigned
    void volatile while _Bool _Complex _Imaginary _Alignas _Alignof _Atomic _Generic _Noreturn
    _Static_assert _Thread_local asm bool true false NULL main""".split()
)

MODEL_NAME_MAX = 32
PART_MAX = 40


def sanitize(text: str, max_len: int = PART_MAX) -> str:
    """[A-Za-z0-9_] only, runs of replaced characters collapsed, no leading/trailing '_'."""
    out = re.sub(r"[^A-Za-z0-9_]+", "_", text)
    out = re.sub(r"_{2,}", "_", out).strip("_")
    return out[:max_len].rstrip("_")


def model_identifier(name: str) -> str:
    """The C name of a model: prefix of every symbol, macro and file it generates.

    Names that could collide with the runtime's ``qc_``/``QC_`` namespace, start with a
    digit or are keywords get an ``m_`` prefix; names that sanitise to nothing become
    ``model``. (Leading underscores, reserved to the implementation, are stripped.)
    """
    ident = sanitize(name, MODEL_NAME_MAX)
    if not ident:
        return "model"
    lowered = ident.lower()
    if ident[0].isdigit() or ident in C_KEYWORDS or lowered.startswith("qc"):
        ident = ("m_" + ident)[:MODEL_NAME_MAX].rstrip("_")
    return ident


class Namer:
    """Hands out unique identifiers ``<prefix>_<sanitized part>`` (suffix ``_2``, ``_3``... on clashes).

    Uniqueness is case-insensitive so the upper-cased macro names derived from the same
    identifiers cannot clash either.
    """

    def __init__(self) -> None:
        self._used: set[str] = set()

    def reserve(self, ident: str) -> None:
        self._used.add(ident.lower())

    def unique(self, prefix: str, part: str) -> str:
        base = f"{prefix}_{sanitize(part) or 'x'}"
        ident = base
        counter = 2
        while ident.lower() in self._used:
            ident = f"{base}_{counter}"
            counter += 1
        self._used.add(ident.lower())
        return ident


def comment_text(text: str, max_len: int = 120) -> str:
    """Text safe inside a C block comment: printable ASCII (others as \\xNN / \\uNNNN escapes),
    comment delimiters broken up, truncated with '...'."""
    chars = []
    for ch in str(text):
        code = ord(ch)
        if 0x20 <= code < 0x7F:
            chars.append(ch)
        elif code < 0x100:
            chars.append(f"\\x{code:02x}")
        elif code < 0x10000:
            chars.append(f"\\u{code:04x}")
        else:
            chars.append(f"\\U{code:08x}")
    out = "".join(chars)
    if len(out) > max_len:
        out = out[: max_len - 3] + "..."
    prev = None
    while prev != out:
        prev = out
        out = out.replace("*/", "*_/").replace("/*", "/_*")
    # A trailing backslash or '??/' would not end the comment (no newline follows), but keep
    # it visibly separate from the closing delimiter anyway.
    if out.endswith(("\\", "/", "*")):
        out += " "
    return out
