"""Object names and their modifiers, accepted wherever a name is.

``sales[a,b]`` selects columns, ``sales[^c]`` all columns but ``c``, ``model@3`` a version,
``model@prod`` a tag and ``model^`` the version before the latest.

The name grammar (one rule for the Python API, CLI, REST and magics, which all validate here):
a name is 1-255 characters of any printable text, without leading or trailing whitespace; it
must not contain

- control characters (``\n``, ``\t``, NUL …) or invisible format characters, among them the
  bidirectional overrides and isolates (U+202A-U+202E, U+2066-U+2069, U+200E, U+200F) that
  make a name display differently from what it is;
- ``[ ] @ ^``, which write modifiers, nor ``* ?``, which write patterns in ``list``;
- empty folders: ``/`` separates folders (``team/sales``), never at the start or end, never
  doubled.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass

from omega_jupyter.exceptions import InvalidNameError

MAX_NAME_LENGTH = 255
_MODIFIER_CHARS = set("[]@^")
_PATTERN_CHARS = set("*?")
# Control (Cc), format (Cf: bidi overrides, zero-width characters), line and paragraph
# separators and surrogates: characters that hide or disguise what a name is.
_INVISIBLE_CATEGORIES = {"Cc", "Cf", "Zl", "Zp", "Cs"}
_BUCKET_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$")
_REF_RE = re.compile(
    r"""^(?P<name>[^\[\]@^]+?)
        (?:\[(?P<columns>[^\[\]]*)\])?
        (?:@(?P<version>[^\[\]@^]+))?
        (?P<previous>\^)?$""",
    re.VERBOSE,
)


@dataclass(frozen=True)
class ObjectRef:
    """A parsed reference: the plain name plus any modifiers."""

    name: str
    columns: tuple[str, ...] | None = None
    exclude: bool = False  # True: ``columns`` lists the columns to leave out
    version: int | None = None
    tag: str | None = None
    previous: bool = False

    @property
    def has_modifiers(self) -> bool:
        return bool(self.columns or self.version or self.tag or self.previous)


def validate_name(name: object) -> str:
    """Return ``name`` if it may name an object, else raise :class:`InvalidNameError`.

    Names are stored as values, never spliced into SQL, so quotes and semicolons are harmless;
    what is refused is what would make names ambiguous or unprintable.
    """
    if not isinstance(name, str):
        raise InvalidNameError(f"a name must be a string, not {type(name).__name__}")
    if not name or not name.strip():
        raise InvalidNameError("a name must not be empty")
    if name != name.strip():
        raise InvalidNameError(f"name {name!r} must not start or end with whitespace")
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidNameError(f"name is longer than {MAX_NAME_LENGTH} characters")
    hidden = [ch for ch in name if unicodedata.category(ch) in _INVISIBLE_CATEGORIES]
    if hidden:
        codes = ", ".join(sorted({f"U+{ord(ch):04X}" for ch in hidden}))
        raise InvalidNameError(
            f"name {name!r} contains control or invisible formatting characters ({codes})"
        )
    bad = _MODIFIER_CHARS & set(name)
    if bad:
        raise InvalidNameError(
            f"name {name!r} contains {''.join(sorted(bad))!r}, reserved for modifiers "
            "(name[a,b], name[^c], name@3, name@tag, name^)"
        )
    pattern = _PATTERN_CHARS & set(name)
    if pattern:
        raise InvalidNameError(
            f"name {name!r} contains {''.join(sorted(pattern))!r}, reserved for patterns "
            "(list('sales*'))"
        )
    if name.startswith("/") or name.endswith("/") or "//" in name:
        raise InvalidNameError(f"name {name!r}: folders are written as 'folder/name'")
    return name


def validate_bucket(bucket: object) -> str:
    if not isinstance(bucket, str) or not _BUCKET_RE.match(bucket):
        raise InvalidNameError(
            f"bucket {bucket!r} is invalid: use 1-63 letters, digits, '_' or '-', "
            "starting with a letter or digit"
        )
    return bucket


def parse_ref(text: object) -> ObjectRef:
    """Parse ``text`` into an :class:`ObjectRef`; raise :class:`InvalidNameError` if malformed."""
    if not isinstance(text, str):
        raise InvalidNameError(f"a name must be a string, not {type(text).__name__}")
    match = _REF_RE.match(text)
    if not match:
        validate_name(text)  # gives the more specific message when there is one
        raise InvalidNameError(f"cannot parse name {text!r}")
    name = validate_name(match["name"])
    columns: tuple[str, ...] | None = None
    exclude = False
    if match["columns"] is not None:
        spec = match["columns"].strip()
        if spec.startswith("^"):
            exclude, spec = True, spec[1:]
        columns = tuple(c.strip() for c in spec.split(",") if c.strip())
        if not columns:
            raise InvalidNameError(f"{text!r}: empty column list in [...]")
    version: int | None = None
    tag: str | None = None
    if match["version"] is not None:
        raw = match["version"].strip()
        if raw.isdigit():
            version = int(raw)
            if version < 1:
                raise InvalidNameError(f"{text!r}: versions start at 1")
        else:
            tag = raw
    previous = bool(match["previous"])
    if previous and (version or tag):
        raise InvalidNameError(f"{text!r}: use either @version/@tag or ^, not both")
    return ObjectRef(name, columns, exclude, version, tag, previous)


def bucket_schema_name(bucket: str) -> str:
    """A PostgreSQL schema name for a bucket: readable, lower-case and collision-free."""
    slug = re.sub(r"[^a-z0-9_]", "_", bucket.lower())[:40]
    digest = hashlib.sha1(bucket.encode()).hexdigest()[:8]
    return f"omb_{slug}_{digest}"


def _ranges(codes: list[int]) -> str:
    """A regex character-class body for ``codes`` (sorted), as ``\\uXXXX`` escapes and ranges."""
    parts: list[str] = []
    start = prev = codes[0]
    for code in [*codes[1:], -1]:
        if code == prev + 1:
            prev = code
            continue
        parts.append(f"\\u{start:04X}" if start == prev else f"\\u{start:04X}-\\u{prev:04X}")
        start = prev = code
    return "".join(parts)


# The scripts the pattern of :func:`name_pattern` lists: Latin, Greek and Cyrillic (test data
# generators expand a pattern's ranges character by character: all of Unicode takes seconds).
PATTERN_BLOCKS = ((0x20, 0x24F), (0x370, 0x4FF))


def name_pattern() -> str:
    """A regular expression for names (the OpenAPI document's): the characters of
    ``PATTERN_BLOCKS`` that :func:`validate_name` allows, neither whitespace nor ``/`` first
    or last, ``/`` never doubled. Every name it matches is valid; valid names in other scripts
    are not described. Written with ``\\uXXXX`` escapes only, so ECMA-262, Python and Rust
    engines read it alike."""
    inner, edge = [], []
    for first, last in PATTERN_BLOCKS:
        for code in range(first, last + 1):
            ch = chr(code)
            if (
                unicodedata.category(ch) in _INVISIBLE_CATEGORIES
                or ch in _MODIFIER_CHARS
                or ch in _PATTERN_CHARS
                or ch == "/"
            ):
                continue
            inner.append(code)
            if not ch.isspace():
                edge.append(code)
    mid, end = _ranges(inner), _ranges(edge)
    # first character, then segments (at most one '/' before each non-'/' character), and a
    # last character that is neither whitespace nor '/'
    return f"^[{end}](?:(?:/?[{mid}])*/?[{end}])?$"
