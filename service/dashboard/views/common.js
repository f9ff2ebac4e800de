// Pieces several views share: the scorecard fields they ask for, scorecard cells, the period,
// department and cycle pickers, and a department's score distribution drawn as charts.

import { groupedBars, histogram, scoreBar, tierClass } from "../charts.js";
import { h } from "../dom.js";
import { PERIOD_PATTERN, count, decimal, isPeriod, periodChoices } from "../format.js";
import { field, input, select, stat, tierBadge } from "../widgets.js";

export const SCORECARD_FIELDS = `
  ownerId ownerKind period departmentId ruleSetVersion score coverage tier goalCount measuredCount position
`;

export const DISTRIBUTION_FIELDS = `
  count mean median standardDeviation minimum maximum
  tiers { tier count }
  buckets { low high count }
`;

/** A person's name with their code beneath, for a table's first column. */
export function personCell(person, detail = null) {
  if (!person) return "—";
  return h(
    "div",
    { className: "person" },
    h("span", { className: "person-name" }, person.name),
    h("span", { className: "person-detail" }, [person.code, detail].filter(Boolean).join(" · ")),
  );
}

export function scoreCell(scorecard) {
  const score = scorecard?.score ?? null;
  return h(
    "div",
    { className: "score-cell" },
    h("span", { className: "score-number" }, decimal(score, 2)),
    scoreBar(score, { tier: scorecard?.tier, label: `score ${decimal(score, 2)}` }),
  );
}

/** Measured goals out of all, with the weight measured. */
export function measuredCell(scorecard) {
  if (!scorecard) return "no goals";
  return `${scorecard.measuredCount} of ${scorecard.goalCount} (${decimal(scorecard.coverage, 0)} %)`;
}

/** The cells of a scorecard row after the person: score, tier, measured, rule set, position. */
export function scorecardCells(scorecard) {
  return [
    scoreCell(scorecard),
    tierBadge(scorecard?.tier ?? null),
    measuredCell(scorecard),
    scorecard ? `v${scorecard.ruleSetVersion}` : "—",
    scorecard ? String(scorecard.position) : "—",
  ];
}

export const SCORECARD_COLUMNS = [
  { label: "Score" },
  { label: "Tier" },
  { label: "Goals measured" },
  { label: "Rules" },
  { label: "Log position", numeric: true },
];

/** What is wrong with a period typed in, or null when it is one the API accepts. */
export function periodProblem(value) {
  return isPeriod(value) ? null : new Error(`“${value}” is not a period: use 2026, 2026-Q3 or 2026-07`);
}

let periodListAdded = false;

/** A period input (2026, 2026-Q3, 2026-07) with suggestions. */
export function periodInput(value, attributes = {}) {
  if (!periodListAdded) {
    document.body.append(h("datalist", { id: "period-choices" }, periodChoices().map((period) => h("option", { value: period }))));
    periodListAdded = true;
  }
  return input({
    type: "text",
    name: "period",
    value,
    required: true,
    pattern: PERIOD_PATTERN,
    list: "period-choices",
    size: 9,
    title: "a year (2026), a quarter (2026-Q3) or a month (2026-07)",
    ...attributes,
  });
}

export function periodField(value, attributes = {}) {
  const control = periodInput(value, attributes);
  return { control, element: field("Period", control, "2026, 2026-Q3 or 2026-07") };
}

/** A department <select>, indented by depth. */
export function departmentSelect(departments, value = null, attributes = {}) {
  return select(
    departments.map((department) => ({
      value: department.id,
      label: `${"\u00a0\u00a0".repeat(department.depth)}${department.name} (${department.code})`,
    })),
    value ?? departments[0]?.id ?? null,
    { name: "department", ...attributes },
  );
}

export function cycleSelect(cycles, value = null, attributes = {}) {
  return select(
    cycles.map((cycle) => ({ value: cycle.id, label: `${cycle.name} (${cycle.period}, ${cycle.status.toLowerCase()})` })),
    value ?? cycles[0]?.id ?? null,
    { name: "cycle", ...attributes },
  );
}

/** The cycle to start with: the newest closed one (its results are final), else the newest begun. */
export function defaultCycle(cycles) {
  const closed = cycles.find((cycle) => cycle.status === "CLOSED");
  return (closed ?? cycles.find((cycle) => cycle.status !== "DRAFT") ?? cycles[0])?.id ?? null;
}

/** Mean, median, spread and range of a distribution as figures. */
export function distributionStats(distribution) {
  return h(
    "div",
    { className: "stats" },
    stat("scored", count(distribution.count)),
    stat("mean", decimal(distribution.mean, 1)),
    stat("median", decimal(distribution.median, 1)),
    stat("std. deviation", decimal(distribution.standardDeviation, 1)),
    stat("range", distribution.count ? `${decimal(distribution.minimum, 0)}–${decimal(distribution.maximum, 0)}` : "—"),
  );
}

/**
 * Score buckets from 0 to the highest one, the empty ones too (the API lists only buckets
 * with someone in them), so that a histogram's gaps show.
 */
export function everyBucket(buckets, width = 10) {
  const counts = new Map(buckets.map((bucket) => [bucket.low, bucket.count]));
  const top = Math.max(100, ...buckets.map((bucket) => bucket.high));
  const filled = [];
  for (let low = 0; low < top; low += width) filled.push({ low, high: low + width, count: counts.get(low) ?? 0 });
  return filled;
}

/** A distribution as a score histogram and tier counts. */
export function distributionCharts(distribution, what) {
  const tiers = distribution.tiers.map((tier) => tier.tier);
  return h(
    "div",
    { className: "chart-row" },
    histogram({
      title: `Scores of ${what}`,
      description: `How many of ${what} scored in each band of 10 points.`,
      buckets: everyBucket(distribution.buckets),
    }),
    groupedBars({
      title: `Tiers of ${what}`,
      description: `How many of ${what} reached each tier.`,
      categories: tiers,
      series: [{ name: "people", className: "", values: distribution.tiers.map((tier) => tier.count) }],
      categoryClass: tierClass,
    }),
  );
}
