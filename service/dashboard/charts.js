// SVG charts drawn here, in plain JavaScript: horizontal bars, histograms, grouped bars, 100 %
// stacked shares, intervals (the caterpillar plot) and dumbbells.
//
// Each chart is a <figure>: a caption, an <svg role="img"> with a <title> and <desc> for screen
// readers and a <title> tooltip on every mark, and the numbers again as a table under
// "Show the numbers". Colours come from classes styled in styles.css; whatever a colour says
// (a flag, a breach) is also said in text, so a grey-scale print loses nothing.

import { h, s, uid } from "./dom.js";

const WIDTH = 640;
const LABEL_WIDTH = 170;
const VALUE_WIDTH = 92;
const ROW = 22;
const TOP = 12;
const AXIS = 26;
const LABEL_CHARS = 24;

function scale([d0, d1], [r0, r1]) {
  const span = d1 - d0 || 1;
  return (value) => r0 + ((value - d0) / span) * (r1 - r0);
}

function finite(value) {
  return value !== null && value !== undefined && Number.isFinite(Number(value));
}

function clip(label) {
  const text = String(label);
  return text.length > LABEL_CHARS ? `${text.slice(0, LABEL_CHARS - 1)}…` : text;
}

function round(number) {
  return Math.round(number * 100) / 100;
}

/** A class name safe to build from data (a tier name): letters and digits, else "other". */
export function tierClass(tier) {
  return /^[A-Za-z0-9]{1,3}$/.test(tier ?? "") ? `tier-${tier}` : "tier-other";
}

function frame(width, height, title, description) {
  const titleId = uid("chart-title");
  const descId = uid("chart-desc");
  return s(
    "svg",
    {
      viewBox: `0 0 ${width} ${round(height)}`,
      role: "img",
      "aria-labelledby": `${titleId} ${descId}`,
      preserveAspectRatio: "xMinYMin meet",
    },
    s("title", { id: titleId }, title),
    s("desc", { id: descId }, description),
  );
}

function numbersTable(columns, rows) {
  return h(
    "details",
    { className: "chart-numbers" },
    h("summary", {}, "Show the numbers"),
    h(
      "table",
      {},
      h("thead", {}, h("tr", {}, columns.map((column) => h("th", { scope: "col" }, column)))),
      h("tbody", {}, rows.map((row) => h("tr", {}, row.map((cell) => h("td", {}, cell))))),
    ),
  );
}

function figure({ title, svg, legend = null, note = null, numbers = null, className = "" }) {
  return h(
    "figure",
    { className: `chart ${className}`.trim() },
    h("figcaption", {}, title),
    svg,
    legend,
    note ? h("p", { className: "chart-note" }, note) : null,
    numbers,
  );
}

/** A legend: [{label, className}] as swatches with their text. */
export function legend(entries) {
  return h(
    "ul",
    { className: "legend" },
    entries.map((entry) =>
      h("li", {}, h("span", { className: `swatch ${entry.className}`, "aria-hidden": "true" }), entry.label),
    ),
  );
}

function axis(svg, x, domain, ticks, y, format) {
  for (const tick of ticks) {
    if (tick < domain[0] || tick > domain[1]) continue;
    const at = x(tick);
    svg.append(s("line", { x1: at, x2: at, y1: TOP - 4, y2: y, className: "grid" }));
    svg.append(s("text", { x: at, y: y + 14, className: "tick", "text-anchor": "middle" }, format(tick)));
  }
}

function niceTicks([d0, d1], count = 5) {
  const span = d1 - d0;
  if (!(span > 0)) return [d0];
  const raw = span / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * power).find((candidate) => span / candidate <= count) ?? raw;
  const ticks = [];
  for (let tick = Math.ceil(d0 / step) * step; tick <= d1 + step / 1e6; tick += step) ticks.push(round(tick));
  return ticks;
}

/**
 * Horizontal bars, one row each: {label, value, display, className, title}.
 * `reference`: {value, label} draws a dashed line (the four-fifths line, say).
 */
export function horizontalBars({ title, description, rows, domain, reference = null, format = String, note = null, columns }) {
  const drawn = rows.filter((row) => finite(row.value));
  const max = domain?.[1] ?? Math.max(1, ...drawn.map((row) => Number(row.value)), reference?.value ?? 0);
  const min = domain?.[0] ?? Math.min(0, ...drawn.map((row) => Number(row.value)));
  const height = TOP + rows.length * ROW + AXIS;
  const svg = frame(WIDTH, height, title, description);
  const x = scale([min, max], [LABEL_WIDTH, WIDTH - VALUE_WIDTH]);
  const bottom = TOP + rows.length * ROW;
  axis(svg, x, [min, max], niceTicks([min, max]), bottom, format);
  rows.forEach((row, index) => {
    const y = TOP + index * ROW;
    svg.append(s("text", { x: LABEL_WIDTH - 8, y: y + ROW / 2 + 4, className: "label", "text-anchor": "end" }, clip(row.label)));
    if (!finite(row.value)) {
      svg.append(s("text", { x: LABEL_WIDTH + 4, y: y + ROW / 2 + 4, className: "value muted" }, row.display ?? "no figure"));
      return;
    }
    const clamp = (value) => Math.max(min, Math.min(max, value));
    const base = x(clamp(0));
    const end = x(clamp(Number(row.value)));
    const bar = s(
      "rect",
      { x: round(Math.min(base, end)), y: y + 3, width: round(Math.max(1, Math.abs(end - base))), height: ROW - 6, className: `bar ${row.className ?? ""}`.trim() },
      s("title", {}, row.title ?? `${row.label}: ${row.display ?? format(Number(row.value))}`),
    );
    svg.append(bar);
    svg.append(s("text", { x: WIDTH - VALUE_WIDTH + 6, y: y + ROW / 2 + 4, className: "value" }, row.display ?? format(Number(row.value))));
  });
  if (reference && finite(reference.value)) {
    const at = x(reference.value);
    svg.append(s("line", { x1: at, x2: at, y1: TOP - 6, y2: bottom, className: "reference" }));
    svg.append(s("text", { x: at + 4, y: TOP - 2 + 6, className: "reference-label" }, reference.label));
  }
  return figure({
    title,
    svg,
    note,
    numbers: numbersTable(columns ?? ["", "value"], rows.map((row) => [row.label, row.display ?? format(row.value)])),
  });
}

/** A histogram of score buckets [{low, high, count}]. */
export function histogram({ title, description, buckets, xLabel = "score", className = "bar" }) {
  const height = 190;
  const bottom = height - AXIS - 8;
  const left = 40;
  const svg = frame(WIDTH, height, title, description);
  const maxCount = Math.max(1, ...buckets.map((bucket) => bucket.count));
  const y = scale([0, maxCount], [bottom, TOP]);
  const width = (WIDTH - left - 10) / Math.max(1, buckets.length);
  for (const tick of niceTicks([0, maxCount], 4).filter(Number.isInteger)) {
    svg.append(s("line", { x1: left, x2: WIDTH - 10, y1: y(tick), y2: y(tick), className: "grid" }));
    svg.append(s("text", { x: left - 6, y: y(tick) + 4, className: "tick", "text-anchor": "end" }, String(tick)));
  }
  buckets.forEach((bucket, index) => {
    const x = left + index * width;
    if (bucket.count > 0) svg.append(
      s(
        "rect",
        { x: round(x + 2), y: round(y(bucket.count)), width: round(Math.max(1, width - 4)), height: round(bottom - y(bucket.count)), className },
        s("title", {}, `${bucket.low}–${bucket.high}: ${bucket.count}`),
      ),
    );
    svg.append(s("text", { x: round(x + width / 2), y: bottom + 14, className: "tick", "text-anchor": "middle" }, String(bucket.low)));
  });
  svg.append(s("text", { x: WIDTH - 10, y: height - 4, className: "axis-label", "text-anchor": "end" }, xLabel));
  return figure({
    title,
    svg,
    numbers: numbersTable([xLabel, "count"], buckets.map((bucket) => [`${bucket.low}–${bucket.high}`, bucket.count])),
  });
}

/**
 * Vertical bars grouped by category: categories ["A", "B"], series [{name, className, values}].
 * Values are counts (or anything non-negative); a missing value is 0.
 */
export function groupedBars({ title, description, categories, series, note = null, categoryClass = null }) {
  const height = 210;
  const bottom = height - AXIS - 6;
  const left = 40;
  const svg = frame(WIDTH, height, title, description);
  const max = Math.max(1, ...series.flatMap((serie) => serie.values.map((v) => Number(v) || 0)));
  const y = scale([0, max], [bottom, TOP]);
  const groupWidth = (WIDTH - left - 10) / Math.max(1, categories.length);
  const barWidth = Math.min(48, (groupWidth - 16) / Math.max(1, series.length));
  for (const tick of niceTicks([0, max], 4).filter(Number.isInteger)) {
    svg.append(s("line", { x1: left, x2: WIDTH - 10, y1: y(tick), y2: y(tick), className: "grid" }));
    svg.append(s("text", { x: left - 6, y: y(tick) + 4, className: "tick", "text-anchor": "end" }, String(tick)));
  }
  categories.forEach((category, index) => {
    const centre = left + index * groupWidth + groupWidth / 2;
    const start = centre - (barWidth * series.length) / 2;
    series.forEach((serie, position) => {
      const value = Number(serie.values[index]) || 0;
      const x = start + position * barWidth;
      const extra = categoryClass ? categoryClass(category) : "";
      svg.append(
        s(
          "rect",
          { x: round(x + 1), y: round(y(value)), width: round(barWidth - 2), height: round(bottom - y(value)), className: `bar ${serie.className} ${extra}`.trim() },
          s("title", {}, `${category}, ${serie.name}: ${value}`),
        ),
      );
      svg.append(s("text", { x: round(x + barWidth / 2), y: round(y(value) - 4), className: "value", "text-anchor": "middle" }, String(value)));
    });
    svg.append(s("text", { x: round(centre), y: bottom + 16, className: "label", "text-anchor": "middle" }, clip(category)));
  });
  return figure({
    title,
    svg,
    note,
    legend: series.length > 1 ? legend(series.map((serie) => ({ label: serie.name, className: serie.className }))) : null,
    numbers: numbersTable(
      ["", ...series.map((serie) => serie.name)],
      categories.map((category, index) => [category, ...series.map((serie) => serie.values[index] ?? 0)]),
    ),
  });
}

/**
 * 100 % stacked horizontal bars: rows [{label, parts: [{key, value}]}] with values as shares
 * (they are normalised to their row's total); keys name the parts in order.
 */
export function stackedShares({ title, description, rows, keys, classFor, format = (v) => `${Math.round(v * 100)} %` }) {
  const height = TOP + rows.length * ROW + 8;
  const svg = frame(WIDTH, height, title, description);
  const x = scale([0, 1], [LABEL_WIDTH, WIDTH - 12]);
  rows.forEach((row, index) => {
    const y = TOP + index * ROW;
    svg.append(s("text", { x: LABEL_WIDTH - 8, y: y + ROW / 2 + 4, className: "label", "text-anchor": "end" }, clip(row.label)));
    const total = row.parts.reduce((sum, part) => sum + (Number(part.value) || 0), 0);
    if (!(total > 0)) {
      svg.append(s("text", { x: LABEL_WIDTH + 4, y: y + ROW / 2 + 4, className: "value muted" }, "no figures"));
      return;
    }
    let at = 0;
    for (const key of keys) {
      const part = row.parts.find((candidate) => candidate.key === key);
      const share = (Number(part?.value) || 0) / total;
      if (share <= 0) continue;
      const x0 = x(at);
      const x1 = x(at + share);
      svg.append(
        s(
          "rect",
          { x: round(x0), y: y + 3, width: round(Math.max(0.5, x1 - x0)), height: ROW - 6, className: `bar ${classFor(key)}` },
          s("title", {}, `${row.label}, ${key}: ${format(share)}`),
        ),
      );
      if (x1 - x0 > 34) {
        svg.append(s("text", { x: round((x0 + x1) / 2), y: y + ROW / 2 + 4, className: "inside", "text-anchor": "middle" }, format(share)));
      }
      at += share;
    }
  });
  return figure({
    title,
    svg,
    legend: legend(keys.map((key) => ({ label: key, className: classFor(key) }))),
    numbers: numbersTable(
      ["", ...keys],
      rows.map((row) => {
        const total = row.parts.reduce((sum, part) => sum + (Number(part.value) || 0), 0);
        return [row.label, ...keys.map((key) => {
          const part = row.parts.find((candidate) => candidate.key === key);
          return total > 0 ? format((Number(part?.value) || 0) / total) : "—";
        })];
      }),
    ),
  });
}

/**
 * Intervals, one row each: {label, estimate, low, high, className, mark, title}: a dot with its
 * interval (the caterpillar plot of rater leniency; group means with their spread).
 * `zero` draws a solid line at a value; `thresholds` dashed lines; `band` [low, high] a shaded
 * range behind everything (e.g. where the middle 95 % of raters lie).
 */
export function intervals({ title, description, rows, domain, zero = null, thresholds = [], band = null, bandLabel = "", format = (v) => v.toFixed(2), note = null, columns }) {
  const values = rows.flatMap((row) => [row.low, row.high, row.estimate]).filter(finite).map(Number);
  const lo = domain?.[0] ?? Math.min(...values, ...(band ?? []), ...thresholds, zero ?? Infinity);
  const hi = domain?.[1] ?? Math.max(...values, ...(band ?? []), ...thresholds, zero ?? -Infinity);
  const pad = (hi - lo) * 0.05 || 0.5;
  const bounds = [lo - pad, hi + pad];
  const height = TOP + Math.max(1, rows.length) * ROW + AXIS;
  const bottom = TOP + Math.max(1, rows.length) * ROW;
  const svg = frame(WIDTH, height, title, description);
  const x = scale(bounds, [LABEL_WIDTH, WIDTH - VALUE_WIDTH]);
  if (band && band.every(finite)) {
    svg.append(
      s(
        "rect",
        { x: round(x(band[0])), y: TOP - 4, width: round(x(band[1]) - x(band[0])), height: bottom - TOP + 4, className: "band" },
        s("title", {}, bandLabel),
      ),
    );
  }
  axis(svg, x, bounds, niceTicks(bounds), bottom, format);
  if (zero !== null) svg.append(s("line", { x1: x(zero), x2: x(zero), y1: TOP - 6, y2: bottom, className: "zero" }));
  for (const threshold of thresholds) {
    svg.append(s("line", { x1: x(threshold), x2: x(threshold), y1: TOP - 6, y2: bottom, className: "reference" }));
  }
  rows.forEach((row, index) => {
    const y = TOP + index * ROW + ROW / 2;
    svg.append(s("text", { x: LABEL_WIDTH - 8, y: y + 4, className: "label", "text-anchor": "end" }, clip(row.label)));
    if (!finite(row.estimate)) return;
    const tooltip = row.title ?? `${row.label}: ${format(Number(row.estimate))}`;
    if (finite(row.low) && finite(row.high)) {
      svg.append(s("line", { x1: x(Number(row.low)), x2: x(Number(row.high)), y1: y, y2: y, className: `whisker ${row.className ?? ""}`.trim() }, s("title", {}, tooltip)));
    }
    const cx = x(Number(row.estimate));
    const mark = row.mark === "square"
      ? s("rect", { x: round(cx - 5), y: y - 5, width: 10, height: 10, className: `dot ${row.className ?? ""}`.trim() }, s("title", {}, tooltip))
      : s("circle", { cx: round(cx), cy: y, r: 5, className: `dot ${row.className ?? ""}`.trim() }, s("title", {}, tooltip));
    svg.append(mark);
    svg.append(s("text", { x: WIDTH - VALUE_WIDTH + 6, y: y + 4, className: "value" }, row.display ?? format(Number(row.estimate))));
  });
  return figure({
    title,
    svg,
    note,
    numbers: numbersTable(
      columns ?? ["", "estimate", "low", "high"],
      rows.map((row) => [row.label, ...[row.estimate, row.low, row.high].map((v) => (finite(v) ? format(Number(v)) : "—"))]),
    ),
  });
}

/** Dumbbells: rows [{label, from, to, title}] drawn as a line from `from` (hollow) to `to` (filled). */
export function dumbbells({ title, description, rows, domain, fromLabel, toLabel, format = (v) => v.toFixed(1) }) {
  const values = rows.flatMap((row) => [row.from, row.to]).filter(finite).map(Number);
  const bounds = domain ?? [Math.min(0, ...values), Math.max(100, ...values)];
  const height = TOP + Math.max(1, rows.length) * ROW + AXIS;
  const bottom = TOP + Math.max(1, rows.length) * ROW;
  const svg = frame(WIDTH, height, title, description);
  const x = scale(bounds, [LABEL_WIDTH, WIDTH - VALUE_WIDTH]);
  axis(svg, x, bounds, niceTicks(bounds), bottom, format);
  rows.forEach((row, index) => {
    const y = TOP + index * ROW + ROW / 2;
    svg.append(s("text", { x: LABEL_WIDTH - 8, y: y + 4, className: "label", "text-anchor": "end" }, clip(row.label)));
    if (!finite(row.from) || !finite(row.to)) return;
    const from = x(Number(row.from));
    const to = x(Number(row.to));
    const tooltip = row.title ?? `${row.label}: ${format(Number(row.from))} → ${format(Number(row.to))}`;
    const direction = Number(row.to) >= Number(row.from) ? "up" : "down";
    svg.append(s("line", { x1: round(from), x2: round(to), y1: y, y2: y, className: `connector ${direction}` }, s("title", {}, tooltip)));
    svg.append(s("circle", { cx: round(from), cy: y, r: 4.5, className: "dot from" }, s("title", {}, `${fromLabel}: ${format(Number(row.from))}`)));
    svg.append(s("circle", { cx: round(to), cy: y, r: 4.5, className: `dot to ${direction}` }, s("title", {}, `${toLabel}: ${format(Number(row.to))}`)));
    svg.append(s("text", { x: WIDTH - VALUE_WIDTH + 6, y: y + 4, className: "value" }, row.display ?? ""));
  });
  return figure({
    title,
    svg,
    legend: legend([
      { label: fromLabel, className: "from" },
      { label: toLabel, className: "to" },
    ]),
    numbers: numbersTable(["", fromLabel, toLabel], rows.map((row) => [row.label, finite(row.from) ? format(Number(row.from)) : "—", finite(row.to) ? format(Number(row.to)) : "—"])),
  });
}

/** A small inline bar for a table cell: a score out of `max`, tier-coloured. */
export function scoreBar(score, { max = 120, tier = null, label = "" } = {}) {
  const width = 110;
  const svg = s("svg", { viewBox: `0 0 ${width} 12`, className: "score-bar", "aria-hidden": "true", focusable: "false" });
  svg.append(s("rect", { x: 0, y: 2, width, height: 8, className: "track" }));
  if (finite(score)) {
    const share = Math.max(0, Math.min(1, Number(score) / max));
    svg.append(s("rect", { x: 0, y: 2, width: round(share * width), height: 8, className: `bar ${tierClass(tier)}` }, s("title", {}, label)));
  }
  return svg;
}

/**
 * A progress bullet for a goal: its actual progress (bar) against the expected progress on
 * the straight line (tick), both in percent of the way from baseline to target.
 */
export function progressBullet({ actual, expected, label }) {
  const width = 160;
  const x = scale([0, 100], [0, width]);
  const clamp = (value) => Math.max(0, Math.min(100, Number(value)));
  const svg = s("svg", { viewBox: `0 0 ${width} 16`, className: "bullet", role: "img", "aria-label": label });
  svg.append(s("rect", { x: 0, y: 4, width, height: 8, className: "track" }));
  if (finite(actual)) svg.append(s("rect", { x: 0, y: 4, width: round(x(clamp(actual))), height: 8, className: "bar actual" }));
  if (finite(expected)) svg.append(s("line", { x1: round(x(clamp(expected))), x2: round(x(clamp(expected))), y1: 0, y2: 16, className: "expected" }));
  return svg;
}
