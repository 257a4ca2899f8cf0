"""The overview's chart, drawn on the server as SVG: no chart library, no script, no CDN.

Only numbers and dates go into the markup, so it is safe to mark as such.
"""

from __future__ import annotations

from datetime import date, timedelta

from markupsafe import Markup

WIDTH, HEIGHT, PAD = 640, 160, 24


def bars(opened: list[int], resolved: list[int], start: date) -> Markup:
    """Backorders opened (dark) and resolved (light) per day, side by side."""
    days = len(opened)
    top = max([*opened, *resolved, 1])
    slot = (WIDTH - PAD) / max(days, 1)
    bar = max(slot / 2 - 1, 1)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT + PAD}" '
        f'role="img" aria-label="Backorders opened and resolved per day, last {days} days">'
    ]
    for i, (made, done) in enumerate(zip(opened, resolved, strict=True)):
        x = PAD + i * slot
        for offset, value, colour, what in (
            (0, made, "#1f4e79", "opened"),
            (bar, done, "#8fb3d9", "resolved"),
        ):
            h = HEIGHT * value / top
            day = start + timedelta(days=i)
            parts.append(
                f'<rect x="{x + offset:.1f}" y="{HEIGHT - h:.1f}" width="{bar:.1f}" '
                f'height="{h:.1f}" fill="{colour}"><title>{day.isoformat()}: {value} {what}'
                "</title></rect>"
            )
    parts.append(
        f'<text x="{PAD}" y="{HEIGHT + 16}" font-size="11">{start.isoformat()}</text>'
        f'<text x="{WIDTH}" y="{HEIGHT + 16}" font-size="11" text-anchor="end">'
        f"{(start + timedelta(days=days - 1)).isoformat()}</text>"
        f'<text x="0" y="12" font-size="11">{top}</text></svg>'
    )
    return Markup("".join(parts))  # noqa: S704 (numbers and dates only)


def demand(
    history: list[float], censored: list[bool], forecast: list[float], start: date
) -> Markup:
    """A variant's daily demand (dark; grey where the day was out of stock and so says nothing)
    and the forecast's next days (light), one bar a day."""
    values = [*history, *forecast]
    top = max([*values, 1.0])
    slot = (WIDTH - PAD) / max(len(values), 1)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT + PAD}" '
        f'role="img" aria-label="Daily demand, last {len(history)} days, and the forecast">'
    ]
    for i, value in enumerate(values):
        past = i < len(history)
        colour = ("#c7c7cc" if censored[i] else "#1f4e79") if past else "#8fb3d9"
        h = HEIGHT * value / top
        day = start + timedelta(days=i)
        what = ("out of stock" if censored[i] else "ordered") if past else "forecast"
        parts.append(
            f'<rect x="{PAD + i * slot:.1f}" y="{HEIGHT - h:.1f}" width="{max(slot - 1, 1):.1f}" '
            f'height="{h:.1f}" fill="{colour}"><title>{day.isoformat()}: {value:.1f} {what}'
            "</title></rect>"
        )
    parts.append(
        f'<text x="{PAD}" y="{HEIGHT + 16}" font-size="11">{start.isoformat()}</text>'
        f'<text x="0" y="12" font-size="11">{top:.0f}</text></svg>'
    )
    return Markup("".join(parts))  # noqa: S704 (numbers and dates only)
