"""Schedule text → cron: ``every 5 minutes``, ``weekdays at 08:30``, or cron itself.

Cron has five fields (minute hour day month weekday); a sixth, trailing field is seconds
(``* * * * * */2``), which ``every N seconds`` produces — useful for tests and demos.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cron_descriptor import get_description
from croniter import croniter

from omega_jupyter.exceptions import InvalidScheduleError

EXAMPLES = (
    "'*/5 * * * *', 'every minute', 'every 5 minutes', 'hourly', 'daily at 06:00', "
    "'weekdays at 08:30', 'mondays and fridays at 06:00', 'every 2 hours on weekends'"
)

_DAYS = {
    "sunday": "0",
    "monday": "1",
    "tuesday": "2",
    "wednesday": "3",
    "thursday": "4",
    "friday": "5",
    "saturday": "6",
}
_DAY_GROUPS = {"weekday": "1-5", "weekend": "0,6", "day": "*"}
_AT_RE = re.compile(r"\bat (?P<h>\d{1,2})(?::(?P<m>\d{2}))?\s*(?P<ampm>am|pm)?$")
_FREQ_RE = re.compile(
    r"^(?:every (?:(?P<n>\d+) )?(?P<unit>second|minute|hour)s?"
    r"|(?P<word>hourly|daily|weekly|monthly))\b"
)


def _fail(text: str, why: str) -> InvalidScheduleError:
    return InvalidScheduleError(
        f"cannot read schedule {text!r}: {why}. Examples that work: {EXAMPLES}"
    )


def to_cron(text: str) -> str:
    """The cron expression for ``text`` (cron is returned as is, once validated)."""
    if not isinstance(text, str) or not text.strip():
        raise _fail(str(text), "it is empty")
    clean = " ".join(text.lower().replace(",", " , ").split()).replace(" ,", ",")
    if re.fullmatch(r"[\d*/,\-a-z]+(?: [\d*/,\-a-z?]+){4,5}", clean) and not re.search(
        r"[a-z]{4,}", clean
    ):
        if not croniter.is_valid(clean):
            raise _fail(text, "it is not a valid cron expression")
        return clean
    return _parse_text(text, clean)


def _parse_text(original: str, clean: str) -> str:
    hour, minute, second = "0", "0", None
    at = _AT_RE.search(clean)
    if at:
        h, m = int(at["h"]), int(at["m"] or 0)
        if at["ampm"] == "pm" and h < 12:
            h += 12
        if at["ampm"] == "am" and h == 12:
            h = 0
        if h > 23 or m > 59:
            raise _fail(original, f"{at.group(0)!r} is not a time of day")
        hour, minute = str(h), str(m)
        clean = clean[: at.start()].strip()
    freq = _FREQ_RE.search(clean)
    day_of_month = "*"
    if freq:
        clean = clean[freq.end() :].strip()
        n = int(freq["n"]) if freq["n"] else 1
        if n < 1:
            raise _fail(original, "the interval must be at least 1")
        unit, word = freq["unit"], freq["word"]
        step = "*" if n == 1 else f"*/{n}"
        if (unit in ("second", "minute") or word == "hourly") and at:
            raise _fail(original, "'at' goes with daily or weekday schedules")
        if unit == "second":
            second, minute, hour = step, "*", "*"
        elif unit == "minute":
            minute, hour = step, "*"
        elif unit == "hour" or word == "hourly":
            minute, hour = (minute if at else "0"), step if unit else "*"
        elif word == "monthly":
            day_of_month = "1"
    weekdays = _parse_days(original, clean, weekly=bool(freq and freq["word"] == "weekly"))
    if not freq and not at and weekdays == "*":
        raise _fail(original, "no frequency, day or time found")
    fields = [minute, hour, day_of_month, "*", weekdays]
    if second is not None:
        fields.append(second)
    cron = " ".join(fields)
    if not croniter.is_valid(cron):
        raise _fail(original, "it does not make a valid schedule")
    return cron


def _parse_days(original: str, text: str, weekly: bool) -> str:
    text = re.sub(r"^(on|every)\b", "", text).strip()
    if not text:
        return "0" if weekly else "*"
    found: list[str] = []
    for word in re.split(r"[\s,]+|\band\b", text):
        word = word.strip()
        if not word:
            continue
        key = word[:-1] if word.endswith("s") else word
        match = _DAY_GROUPS.get(key) or _DAYS.get(key)
        if match is None:
            match = next((v for k, v in _DAYS.items() if len(key) >= 3 and k.startswith(key)), None)
        if match is None:
            raise _fail(original, f"{word!r} is not a day")
        found.append(match)
    if "*" in found:
        return "*"
    return ",".join(dict.fromkeys(found))


def zone(name: str | None) -> tzinfo:
    """The time zone a schedule's cron is read in (UTC by default)."""
    if not name:
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidScheduleError(
            f"unknown time zone {name!r}; use an IANA name such as 'Europe/Zurich'"
        ) from exc


def describe(cron: str) -> str:
    """A human description (``At 08:30 AM, Monday through Friday``)."""
    fields = cron.split()
    if len(fields) == 6:  # seconds last for croniter, first for cron-descriptor
        fields = [fields[5], *fields[:5]]
    try:
        return get_description(" ".join(fields))
    except Exception:  # descriptions are informative only
        return cron


def next_times(cron: str, after: datetime, count: int = 5, timezone: str | None = None) -> list:
    """The next ``count`` times (UTC) strictly after ``after``."""
    it = croniter(cron, after.astimezone(zone(timezone)))
    return [it.get_next(datetime).astimezone(UTC) for _ in range(count)]


def slots_between(
    cron: str, after: datetime, until: datetime, timezone: str | None = None, limit: int = 1000
) -> list[datetime]:
    """Slots in (after, until], oldest first, at most ``limit`` of the newest."""
    it = croniter(cron, after.astimezone(zone(timezone)))
    out: list[datetime] = []
    while True:
        slot = it.get_next(datetime).astimezone(UTC)
        if slot > until:
            return out
        out.append(slot)
        if len(out) > limit:
            out.pop(0)
