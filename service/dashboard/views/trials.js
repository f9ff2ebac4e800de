// A trial's pilot rules against production on its participants: the tiers under each, who
// moves, how scores change, and each group's fairness figures under both; live as facts arrive.

import { graphql } from "../api.js";
import { dumbbells, groupedBars, histogram } from "../charts.js";
import * as directory from "../directory.js";
import { h, replace } from "../dom.js";
import { date, decimal, signed } from "../format.js";
import { announce, controls, errorBox, field, flash, latestOnly, note, panel, select, stat, table, tierBadge } from "../widgets.js";
import { cycleSelect, personCell } from "./common.js";

const COMPARISON_FIELDS = `
  cycleId period position baselineVersion pilotVersion movedUp movedDown
  tiers { tier production pilot }
  rewardCostsProduction { ...rewardCosts }
  rewardCostsPilot { ...rewardCosts }
  people { employeeId code name department delta calibratedScore production { score tier } pilot { score tier } }
  fairness {
    grouping label
    production { n meanScore difference tiers { tier rate impactRatio belowFourFifths } }
    pilot { n meanScore difference tiers { tier rate impactRatio belowFourFifths } }
  }
`;

const REWARD_COSTS = `
  fragment rewardCosts on RewardCostSide {
    money { kind currency amount count }
    salaryShares { kind percent count }
    nonMonetary { kind count days }
  }
`;

const SUBSCRIPTION = `
  subscription TrialComparison($trialId: ID!, $cycleId: ID!) {
    trialComparisonUpdated(trialId: $trialId, cycleId: $cycleId) {
      position
      comparison { ${COMPARISON_FIELDS} }
    }
  }
  ${REWARD_COSTS}`;

const MOVERS_SHOWN = 30;

/** The cycle to compare on: the newest non-draft cycle within the trial's period. */
function cycleFor(trial, cycles) {
  const inPeriod = cycles.filter((cycle) => cycle.status !== "DRAFT" && (cycle.period === trial?.period || cycle.period.startsWith(`${trial?.period}-`)));
  return (inPeriod[0] ?? cycles.find((cycle) => cycle.status !== "DRAFT") ?? cycles[0])?.id ?? null;
}

/** Score changes in bins of a round width, for a histogram. */
function deltaBuckets(deltas) {
  if (deltas.length === 0) return [];
  const low = Math.floor(Math.min(...deltas));
  const high = Math.ceil(Math.max(...deltas));
  const span = Math.max(1, high - low);
  const width = [0.5, 1, 2, 5, 10, 20].find((candidate) => span / candidate <= 16) ?? 50;
  const start = Math.floor(low / width) * width;
  const buckets = [];
  for (let from = start; from <= high; from += width) {
    buckets.push({ low: Number(from.toFixed(2)), high: Number((from + width).toFixed(2)), count: 0 });
  }
  for (const delta of deltas) {
    const index = Math.min(buckets.length - 1, Math.floor((delta - start) / width));
    buckets[index].count += 1;
  }
  return buckets;
}

function comparisonView(comparison, trial) {
  const people = comparison.people;
  const deltas = people.map((person) => Number(person.delta)).filter(Number.isFinite);
  const meanDelta = deltas.length ? deltas.reduce((sum, value) => sum + value, 0) / deltas.length : null;
  const movers = people.filter((person) => person.production.tier !== person.pilot.tier);
  const biggest = [...people]
    .filter((person) => Number.isFinite(Number(person.delta)))
    .sort((a, b) => Math.abs(Number(b.delta)) - Math.abs(Number(a.delta)))
    .slice(0, MOVERS_SHOWN);
  const groupings = [...new Set(comparison.fairness.map((group) => group.grouping))];
  return [
    h(
      "div",
      { className: "stats" },
      stat("participants compared", String(people.length)),
      stat("moved up a tier", String(comparison.movedUp)),
      stat("moved down a tier", String(comparison.movedDown)),
      stat("mean score change", signed(meanDelta, 2)),
      stat("rules", `v${comparison.baselineVersion} → v${comparison.pilotVersion}`, `log position ${comparison.position}`),
    ),
    h(
      "div",
      { className: "chart-row" },
      groupedBars({
        title: `Tiers under production (v${comparison.baselineVersion}) and under the pilot (v${comparison.pilotVersion})`,
        description: "How many participants reach each tier under each rule set.",
        categories: comparison.tiers.map((tier) => tier.tier),
        series: [
          { name: `production v${comparison.baselineVersion}`, className: "production", values: comparison.tiers.map((tier) => tier.production) },
          { name: `pilot v${comparison.pilotVersion}`, className: "pilot", values: comparison.tiers.map((tier) => tier.pilot) },
        ],
      }),
      histogram({
        title: "Score change per participant (pilot minus production)",
        description: "How many participants' scores change by how much under the pilot.",
        buckets: deltaBuckets(deltas),
        xLabel: "score change (points)",
        className: "bar pilot",
      }),
    ),
    dumbbells({
      title: `The ${biggest.length} largest score changes`,
      description: "Each participant's score under production (hollow) and under the pilot (filled).",
      rows: biggest.map((person) => ({
        label: person.name,
        from: person.production.score,
        to: person.pilot.score,
        display: `${signed(person.delta, 2)}${person.production.tier !== person.pilot.tier ? ` ${person.production.tier ?? "—"}→${person.pilot.tier ?? "—"}` : ""}`,
        title: `${person.name} (${person.code}): ${decimal(person.production.score, 2)} (${person.production.tier ?? "no tier"}) → ${decimal(person.pilot.score, 2)} (${person.pilot.tier ?? "no tier"})`,
      })),
      fromLabel: `production v${comparison.baselineVersion}`,
      toLabel: `pilot v${comparison.pilotVersion}`,
    }),
    table({
      caption: `Movers: ${movers.length} ${movers.length === 1 ? "participant changes" : "participants change"} tier`,
      columns: [{ label: "Person" }, { label: "Production" }, { label: "Pilot" }, { label: "Change", numeric: true }],
      rows: movers.map((person) => [
        personCell(person, person.department),
        h("span", {}, tierBadge(person.production.tier), ` ${decimal(person.production.score, 2)}`),
        h("span", {}, tierBadge(person.pilot.tier), ` ${decimal(person.pilot.score, 2)}`),
        signed(person.delta, 2),
      ]),
      empty: "No participant changes tier under the pilot.",
      className: "movers",
    }),
    table({
      caption: "What the tier rewards each rule set proposes add up to",
      columns: [{ label: "Reward" }, { label: `Production v${comparison.baselineVersion}` }, { label: `Pilot v${comparison.pilotVersion}` }],
      rows: rewardCostRows(comparison.rewardCostsProduction, comparison.rewardCostsPilot),
      empty: "Neither rule set proposes tier rewards.",
      className: "reward-costs",
    }),
    groupings.map((grouping) => fairnessOf(comparison, grouping)),
    trial ? h("p", { className: "muted small" }, `Trial “${trial.name}”, ${trial.status}, started ${date(trial.startedOn)}, ${trial.participants} participants, ${trial.feedbackCount} feedback notes.`) : null,
  ];
}

/** Each proposed reward's line under production and under the pilot: money by currency,
 * salary shares and the rest counted (salaries are not recorded, so shares are not priced). */
function rewardCostRows(production, pilot) {
  const lines = new Map();
  const add = (side, key, label, value) => {
    const line = lines.get(key) ?? { label, production: "—", pilot: "—" };
    line[side] = value;
    lines.set(key, line);
  };
  for (const [side, costs] of [["production", production], ["pilot", pilot]]) {
    for (const m of costs.money) add(side, `m:${m.kind}:${m.currency}`, `${m.kind.toLowerCase()} (${m.currency})`, `${decimal(m.amount, 2)} ${m.currency} × ${m.count}`);
    for (const share of costs.salaryShares) add(side, `s:${share.kind}:${share.percent}`, `${share.kind.toLowerCase()}, ${decimal(share.percent, 1)} % of salary`, `${share.count} people`);
    for (const other of costs.nonMonetary) add(side, `o:${other.kind}`, other.kind.toLowerCase().replace(/_/g, " "), other.days ? `${other.count} (${decimal(other.days, 1)} days)` : String(other.count));
  }
  return [...lines.values()].map((line) => [line.label, line.production, line.pilot]);
}

/** One grouping's mean scores and top-tier impact ratios under production and the pilot. */
function fairnessOf(comparison, grouping) {
  const groups = comparison.fairness.filter((group) => group.grouping === grouping);
  const shown = groups.filter((group) => group.production && group.pilot);
  const hidden = groups.filter((group) => !group.production || !group.pilot).map((group) => group.label);
  // The highest tier anyone reaches under either rule set: an empty tier has no impact ratios.
  const topTier = comparison.tiers.find((tier) => tier.production + tier.pilot > 0)?.tier;
  const impact = (side) => side.tiers.find((tier) => tier.tier === topTier);
  return h(
    "section",
    { className: "grouping", "data-grouping": grouping },
    h("h3", {}, `Fairness by ${grouping}`),
    hidden.length ? h("p", { className: "muted" }, `Not shown (groups too small): ${hidden.join(", ")}.`) : null,
    h(
      "div",
      { className: "chart-row" },
      dumbbells({
        title: `Mean score by ${grouping}`,
        description: "Each group's mean score under production (hollow) and the pilot (filled).",
        rows: shown.map((group) => ({
          label: `${group.label} (n=${group.production.n})`,
          from: group.production.meanScore,
          to: group.pilot.meanScore,
          display: signed(group.pilot.meanScore - group.production.meanScore, 1),
        })),
        fromLabel: "production",
        toLabel: "pilot",
      }),
      topTier
        ? dumbbells({
            title: `Impact ratio of tier ${topTier} by ${grouping} (four-fifths rule at 0.8)`,
            description: `Each group's selection into tier ${topTier} relative to the most selected group, under production and the pilot.`,
            rows: shown.map((group) => {
              const before = impact(group.production);
              const after = impact(group.pilot);
              return {
                label: group.label,
                from: before?.impactRatio ?? null,
                to: after?.impactRatio ?? null,
                display: after?.belowFourFifths ? "▼ below 4/5" : before?.belowFourFifths ? "now ≥ 4/5" : "",
              };
            }),
            domain: [0, 1.2],
            fromLabel: "production",
            toLabel: "pilot",
            format: (value) => value.toFixed(2),
          })
        : null,
    ),
  );
}

export async function render(root, context) {
  const [trials, cycles] = await Promise.all([directory.trials(), directory.cycles()]);
  const heading = h("h1", {}, "Trials");
  if (trials.length === 0) {
    root.append(heading, note("No trial has been started yet. HR starts one with the startTrial mutation.", "empty"));
    return;
  }
  const running = trials.find((trial) => trial.status === "running") ?? trials[0];
  const trial = select(
    trials.map((each) => ({ value: each.id, label: `${each.name} (${each.status.replace(/_/g, " ")}, ${each.period}, v${each.ruleSetVersion})` })),
    running.id,
    { name: "trial" },
  );
  const cycle = cycleSelect(cycles, cycleFor(running, cycles));
  const groupBy = select(
    ["gender", "contract", "location", "age_band", "division"].map((value) => ({ value, label: value.replace(/_/g, " ") })),
    "gender",
    { name: "groupBy" },
  );
  trial.addEventListener("change", () => {
    cycle.value = cycleFor(trials.find((each) => each.id === trial.value), cycles) ?? cycle.value;
  });
  const problem = h("div");
  const result = panel({ title: "Production against the pilot", className: "wide" });
  root.append(
    heading,
    controls({ onsubmit: () => load(), fields: [field("Trial", trial), field("Review cycle", cycle), field("Fairness by", groupBy)], submit: "Compare", problem }),
    result.element,
  );
  const live = context.slot();

  const loads = latestOnly();

  async function load() {
    const run = loads.start();
    replace(problem);
    live.end();
    const chosen = trials.find((each) => each.id === trial.value);
    result.status("Comparing…");
    try {
      const comparison = (
        await graphql(`query Compare($trialId: ID!, $cycleId: ID!, $groupBy: [String!]) { trialComparison(trialId: $trialId, cycleId: $cycleId, groupBy: $groupBy) { ${COMPARISON_FIELDS} } } ${REWARD_COSTS}`, {
          trialId: trial.value,
          cycleId: cycle.value,
          groupBy: [groupBy.value],
        })
      ).trialComparison;
      if (!loads.isLatest(run)) return;
      result.status(chosen.status === "running" ? "" : `This trial is ${chosen.status.replace(/_/g, " ")}.`);
      result.show(comparisonView(comparison, chosen));
      let shown = comparison.position;
      live.follow("trialComparisonUpdated", {
        query: SUBSCRIPTION,
        variables: { trialId: trial.value, cycleId: cycle.value },
        onNext: (update) => {
          // The subscription answers first with the comparison as it stands: the one on screen.
          if (update.position <= shown) return;
          shown = update.position;
          result.status(`Updated live at log position ${update.position}`);
          result.show(comparisonView(update.comparison, chosen));
          flash(result.element);
          announce(`Trial comparison updated: ${update.comparison.movedUp} move up, ${update.comparison.movedDown} move down`);
        },
        onError: (error) => replace(problem, errorBox(error, "keep the comparison live")),
      });
    } catch (error) {
      if (!loads.isLatest(run)) return;
      result.status("");
      result.fail(error, "compare the trial with production");
    }
  }

  await load();
}
