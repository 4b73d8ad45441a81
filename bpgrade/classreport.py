"""The class report for staff: one self-contained HTML page of a gradebook's results.

Per exercise and case set (each a labelled section, listed at the top): the
score distribution, the pass rate per target, the submissions that did not run
(syntax errors, timeouts, forbidden modules: counted once each, not once per
target), the conceptual mistakes per target among those that ran, the slowest
submissions and the failing ones with the first line of why; then the similar
submissions. Drawn as inline SVG, each diagnosis code in the same colour in
every report (:data:`CODE_COLOURS`). The page needs no network, scripts or
fonts to be viewed, and it is well-formed XML, so that it can be parsed back.
"""

from __future__ import annotations

import html
import statistics
from collections import Counter
from itertools import groupby
from typing import Sequence

from .reports import Report, first_line, points_text, target_names
from .similarity import DEFAULT_THRESHOLD, Pair

#: How many submissions the slowest and the diagnoses lists show.
TOP = 10
#: Bar charts' label column: its width in pixels and the characters that fit in it.
_LABEL_W, _LABEL_FIT = 190, 26
#: The widest a character of the charts' 12 px labels draws, in pixels (for laying the legend out).
_CHAR_W = 7.5
#: One colour per diagnosis code, the same in every report; green is for passing alone.
CODE_COLOURS = {
    "missing": "#57606a", "shape": "#8250df", "nonfinite": "#bc4c00", "sign": "#cf222e", "scale": "#0969da",
    "transpose": "#e85aad", "relu_mask": "#bf8700", "activation_derivative": "#9a6700", "chain_rule": "#0550ae",
    "mistake": "#a40e26", "precision": "#6e7781", "error": "#d1242f", "not_implemented": "#8c959f",
    "memory": "#953800", "forbidden": "#24292f", "timeout": "#7d4e00", "no_submission": "#afb8c1",
    "unexplained": "#b35900",
}
_PASS = "#1a7f37"
_CSS = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 980px; color: #1f2328; }
h1 { font-size: 1.6em; } h2 { border-bottom: 1px solid #d0d7de; padding-bottom: .2em; margin-top: 2em; }
table { border-collapse: collapse; margin: .5em 0 1.5em; } td, th { border: 1px solid #d0d7de; padding: 3px 8px; }
th { background: #f6f8fa; text-align: left; } td.n { text-align: right; font-variant-numeric: tabular-nums; }
.summary span { display: inline-block; margin-right: 1.5em; } svg text { font: 12px system-ui, sans-serif; }
"""


def class_report(reports: Sequence[Report], *, title: str = "bpgrade class report", generated: str = "",
                 similar: Sequence[Pair] = (), threshold: float = DEFAULT_THRESHOLD) -> str:
    """The HTML page for ``reports`` (one section per exercise and seed), and the ``similar``
    pairs of submissions found at ``threshold`` (:mod:`bpgrade.similarity`).

    ``generated`` is a line saying where and when the page was made.
    """
    def key(r: Report):
        return r.exercise, -1 if r.seed is None else r.seed

    groups = [list(group) for _, group in groupby(sorted(reports, key=key), key=key)]
    e = html.escape
    body = "\n".join(_section(group) for group in groups) if groups else "<p>The gradebook holds no results.</p>"
    if len(groups) > 1:
        # Several exercises or case sets on one page: say so before the first one.
        listed = "".join(f"<li>{e(_heading(g[0]))} ({len(g)} submissions)</li>" for g in groups)
        contents = f"<p>This page holds {len(groups)} sections, one per exercise and case set:</p><ul>{listed}</ul>"
        body = contents + "\n" + body
    body += "\n" + _similar(similar, threshold)
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"/>"
            f"<title>{e(title)}</title><style>{_CSS}</style></head>\n<body><h1>{e(title)}</h1>"
            + (f"<p>{e(generated)}</p>" if generated else "") + f"\n{body}\n</body></html>\n")


def _similar(pairs: Sequence[Pair], threshold: float) -> str:
    """The pairs of nearly identical submissions, said to be for staff to look at, never a verdict."""
    e = html.escape
    rows = "".join(f"<tr><td>{e(p.a)}</td><td>{e(p.b)}</td><td>{p.similarity:.0%}</td><td><details><summary>"
                   f"{sum(map(len, p.shared.values()))} lines</summary><pre>"
                   + e("\n".join(f"{name}:\n" + "\n".join("  " + line for line in lines)
                                 for name, lines in p.shared.items())) + "</pre></details></td></tr>"
                   for p in pairs)
    table = (f"<table><thead><tr><th>submission</th><th>submission</th><th>similarity</th><th>shared lines"
             f"</th></tr></thead><tbody>{rows}</tbody></table>" if pairs else "<p>None.</p>")
    return (f"<section><h2>Similar submissions</h2><p>Pairs whose graded functions are at least {threshold:.0%} the "
            "same code once comments, docstrings, layout and names are set aside (<code>bpgrade similar</code>). "
            "For staff to look at, never a verdict: a short exercise leaves little room to differ, and a shared "
            f"template or hint makes code alike.</p>{table}</section>")


def _heading(report: Report) -> str:
    return f"{report.exercise}, case set seed {report.seed}"


def _anchor(report: Report) -> str:
    return "s-" + "".join(c if c.isalnum() else "-" for c in f"{report.exercise}-{report.seed}")


def _section(reports: list[Report]) -> str:
    e = html.escape
    first = reports[0]
    scores = [r.score for r in reports]
    full = sum(r.passed for r in reports)
    statuses = Counter(r.status for r in reports)
    summary = "".join(f"<span>{e(label)}: <b>{e(value)}</b></span>" for label, value in (
        ("submissions", str(len(reports))),
        ("mean score", f"{statistics.fmean(scores):.2f} / {points_text(first.max_score)}"),
        ("median", points_text(statistics.median(scores))),
        ("full marks", f"{full} ({100 * full / len(reports):.0f}%)"),
        ("status", ", ".join(f"{k} {v}" for k, v in statuses.most_common())),
    ))
    ran = [r for r in reports if r.status == "ok"]
    return "\n".join([
        f"<section id=\"{_anchor(first)}\"><h2>{e(_heading(first))}</h2>",
        f"<p class=\"summary\">{summary}</p>",
        "<h3>Score distribution</h3>", _score_histogram(scores, first.max_score),
        "<h3>Pass rate per target</h3>", _pass_rates(reports),
        f"<h3>Submissions that did not run ({len(reports) - len(ran)})</h3>", _not_run(reports),
        f"<h3>Mistakes per target, in the {len(ran)} submissions that ran</h3>", _diagnoses(ran),
        f"<h3>Slowest submissions (the {min(TOP, len(reports))} slowest)</h3>", _slowest(reports),
        "<h3>Failing submissions</h3>", _failing(reports),
        "</section>",
    ])


def _not_run(reports: list[Report]) -> str:
    """Whole-submission failures, once each: how many of each status, and each one's first line of why."""
    e = html.escape
    failed = sorted((r for r in reports if r.status != "ok"), key=lambda r: (r.status, r.submission))
    if not failed:
        return "<p>Every submission ran.</p>"
    counts = Counter(r.status for r in failed)
    rows = "".join(f"<tr><td>{e(r.submission)}</td><td>{_swatch(r.status)}{e(r.status)}</td><td>"
                   f"{e(first_line(r.message))}</td></tr>" for r in failed)
    return ("<p>" + ", ".join(f"{e(status)} ×{n}" for status, n in counts.most_common()) + "</p>"
            "<table><thead><tr><th>submission</th><th>status</th><th>why</th></tr></thead>"
            f"<tbody>{rows}</tbody></table>")


def _swatch(code: str) -> str:
    colour = CODE_COLOURS.get(code, CODE_COLOURS["unexplained"])
    return (f"<span style=\"display:inline-block;width:11px;height:11px;margin-right:4px;background:{colour}\">"
            "</span>")


def _svg(width: int, height: int, content: list[str], label: str) -> str:
    return (f"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" "
            f"viewBox=\"0 0 {width} {height}\" role=\"img\" aria-label=\"{html.escape(label)}\">"
            + "".join(content) + "</svg>")


def _text(x: float, y: float, text: str, anchor: str = "start", fit: int = 0) -> str:
    """A label; one longer than ``fit`` characters (when given) is cut, whole in its tooltip."""
    shown = text if not fit or len(text) <= fit else text[:fit - 1] + "…"
    tip = f"<title>{html.escape(text)}</title>" if shown != text else ""
    return f"<text x=\"{x:.1f}\" y=\"{y:.1f}\" text-anchor=\"{anchor}\">{tip}{html.escape(shown)}</text>"


def _score_histogram(scores: list[float], max_score: float) -> str:
    """Vertical bars: a bar per point up to 20 points (the last: full marks), else ten equal bins."""
    if max_score <= 20 and float(max_score).is_integer():
        edges = [float(i) for i in range(int(max_score) + 1)]
        # A bin a–b holds a <= score < b; the last, full marks alone.
        labels = [points_text(x) if x == max_score else f"{points_text(x)}–{points_text(x + 1)}" for x in edges]
    else:
        edges = [max_score * i / 10 for i in range(10)]
        labels = [f"{x:.3g}–{max_score * (i + 1) / 10:.3g}" for i, x in enumerate(edges)]
    counts = [0] * len(edges)
    for s in scores:
        counts[max(i for i, edge in enumerate(edges) if s >= edge or i == 0)] += 1
    bar, gap, plot_h, top, left = 44, 8, 160, 20, 10
    peak = max(counts) or 1
    content = []
    for i, (count, label) in enumerate(zip(counts, labels)):
        x = left + i * (bar + gap)
        h = plot_h * count / peak
        content.append(f"<rect x=\"{x}\" y=\"{top + plot_h - h:.1f}\" width=\"{bar}\" height=\"{h:.1f}\" "
                       f"fill=\"#0969da\"><title>{count} with score {html.escape(label)}</title></rect>")
        content.append(_text(x + bar / 2, top + plot_h - h - 4, str(count), "middle"))
        content.append(_text(x + bar / 2, top + plot_h + 16, label, "middle"))
    width = max(left * 2 + len(counts) * (bar + gap), 330)
    content.append(_text(left, top + plot_h + 36, "score (points; a bin a–b holds a ≤ score < b)"))
    return _svg(width, top + plot_h + 44, content, "score distribution")


def _hbars(rows: list[tuple[str, float, str]], scale: float, label: str, colour: str = _PASS) -> str:
    """Horizontal bars: ``(label, value, value text)`` per row, ``scale`` the full length's value."""
    label_w, bar_w, row_h = _LABEL_W, 480, 24
    content = []
    for i, (name, value, shown) in enumerate(rows):
        y = i * row_h + 4
        w = bar_w * value / scale if scale else 0
        content.append(_text(label_w - 8, y + 15, name, "end", _LABEL_FIT))
        content.append(f"<rect x=\"{label_w}\" y=\"{y}\" width=\"{bar_w}\" height=\"18\" fill=\"#eaeef2\"/>")
        content.append(f"<rect x=\"{label_w}\" y=\"{y}\" width=\"{w:.1f}\" height=\"18\" fill=\"{colour}\"/>")
        content.append(_text(label_w + bar_w + 8, y + 15, shown))
    return _svg(label_w + bar_w + 170, len(rows) * row_h + 8, content, label)


def _pass_rates(reports: list[Report]) -> str:
    rows = []
    for name in target_names(reports):
        results = [t for r in reports for t in r.targets if t.name == name]
        passed = sum(t.passed for t in results)
        rows.append((name, passed / len(results), f"{100 * passed / len(results):.0f}% ({passed}/{len(results)})"))
    return _hbars(rows, 1.0, "pass rate per target")


def _diagnoses(reports: list[Report]) -> str:
    """A stacked bar per target (each diagnosis code in its colour, each part with its count) over
    the number of ``reports`` (those that ran), and a table of each target's most common codes."""
    names = target_names(reports)
    by_target = {name: Counter(t.diagnosis.code if t.diagnosis else "unexplained"
                               for r in reports for t in r.targets if t.name == name and not t.passed)
                 for name in names}
    codes = [code for code, _ in sum(by_target.values(), Counter()).most_common()]
    if not codes:
        return "<p>No target failed in a submission that ran.</p>"
    label_w, bar_w, row_h = _LABEL_W, 480, 24
    content = []
    for i, name in enumerate(names):
        y, x = i * row_h + 4, float(label_w)
        content.append(_text(label_w - 8, y + 15, name, "end", _LABEL_FIT))
        for code, count in by_target[name].most_common():
            w = bar_w * count / len(reports)
            content.append(f"<rect x=\"{x:.1f}\" y=\"{y}\" width=\"{w:.1f}\" height=\"18\" "
                           f"fill=\"{CODE_COLOURS.get(code, CODE_COLOURS['unexplained'])}\">"
                           f"<title>{html.escape(name)}: {html.escape(code)} ×{count}</title></rect>")
            if w >= 8 * len(str(count)) + 6:  # the count inside its part, where it fits
                content.append(f"<text x=\"{x + w / 2:.1f}\" y=\"{y + 13}\" text-anchor=\"middle\" "
                               f"fill=\"#ffffff\">{count}</text>")
            x += w
        failed = sum(by_target[name].values())
        if failed:
            content.append(_text(x + 6, y + 15, f"{failed} of {len(reports)}"))
    # The legend, one item after another, to the next line where the next would not fit.
    legend_y, lx, ly, right = len(names) * row_h + 16, float(label_w), 0.0, label_w + bar_w + 110
    for code in codes:
        item = 16 + _CHAR_W * len(code) + 18
        if lx + item > right and lx > label_w:
            lx, ly = float(label_w), ly + 20
        content.append(f"<rect x=\"{lx:.1f}\" y=\"{legend_y + ly - 11:.1f}\" width=\"12\" height=\"12\" "
                       f"fill=\"{CODE_COLOURS.get(code, CODE_COLOURS['unexplained'])}\"/>")
        content.append(_text(lx + 16, legend_y + ly, code))
        lx += item
    chart = _svg(right, int(legend_y + ly + 10), content, "mistakes per target")
    e = html.escape
    rows = "".join(f"<tr><td>{e(name)}</td><td class=\"n\">{sum(by_target[name].values())}</td><td>"
                   + ", ".join(f"{e(code)} ×{n}" for code, n in by_target[name].most_common(3)) + "</td></tr>"
                   for name in names)
    return (chart + "<table><thead><tr><th>target</th><th>failed</th><th>most common diagnoses</th></tr></thead>"
            f"<tbody>{rows}</tbody></table>")


def _slowest(reports: list[Report]) -> str:
    slow = sorted(reports, key=lambda r: -r.seconds)[:TOP]
    rows = [(r.submission, r.seconds, f"{r.seconds:.2f} s ({r.status})") for r in slow]
    return _hbars(rows, max(r.seconds for r in slow) or 1.0, "slowest submissions", "#bf8700")


def _failing(reports: list[Report]) -> str:
    e = html.escape
    failing = sorted((r for r in reports if not r.passed), key=lambda r: (r.score, r.submission))
    if not failing:
        return "<p>Every submission got full marks.</p>"
    rows = "".join(
        f"<tr><td>{e(r.submission)}</td><td>{e(r.status)}</td><td class=\"n\">{r.points}</td><td>"
        + e(", ".join(f"{t.name} ({t.diagnosis.code if t.diagnosis else 'wrong'})" for t in r.targets
                      if not t.passed)) + f"</td><td>{e(r.reasons[0])}</td></tr>"
        for r in failing)
    return ("<table><thead><tr><th>submission</th><th>status</th><th>score</th><th>failed targets</th>"
            f"<th>why (first line)</th></tr></thead><tbody>{rows}</tbody></table>")
