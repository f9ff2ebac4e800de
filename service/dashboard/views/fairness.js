// A review cycle's fairness audit as charts: rater leniency with intervals (a caterpillar
// plot), each group's tiers and mean ratings, the impact ratios of each selection against the
// four-fifths rule, and the findings flagged. Run live (computed, not recorded) or re-run a
// recorded audit to see that it reproduces.

import { graphql } from "../api.js";
import { horizontalBars, intervals, stackedShares, tierClass } from "../charts.js";
import * as directory from "../directory.js";
import { h, replace } from "../dom.js";
import { dateTime, decimal, shortId } from "../format.js";
import { button, controls, errorBox, field, input, latestOnly, note, panel, select, stat, table } from "../widgets.js";
import { cycleSelect, defaultCycle } from "./common.js";

const Z95 = 1.959963984540054;
const DEFAULT_GROUPS = ["gender", "contract", "location"];
const KNOWN_ATTRIBUTES = ["gender", "contract", "location", "age_band", "tenure_band", "division", "department"];

const REPORT_FIELDS = `
  auditId cycleId position methodVersion digest recordedDigest reproduced attributes
  flags { kind subject attribute outcome holds effectMeasure pre { n effect pAdjusted } post { n effect pAdjusted } }
  reliability { source ratings icc1 icc1k alphaInterval rwgMean insufficient }
  groupings { name people excludedUnknown minSize insufficient groups { label suppressed n meanScore difference hedgesG pAdjusted } }
  reportJson
`;

const VERSION_LABEL = { post: "after calibration", pre: "as submitted" };

function tierKeys(selections) {
  return selections
    .filter((table) => String(table.outcome ?? "").startsWith("tier:") && !table.insufficient)
    .map((table) => table.outcome.slice("tier:".length))
    .sort();
}

/** Caterpillar plots of rater leniency, one per rater source. */
function leniencyCharts(analysis, names, version) {
  return analysis.leniency.map((source) => {
    if (source.insufficient) {
      return h("div", { className: "chart-note" }, h("strong", {}, `${source.source}: `), source.insufficient);
    }
    const spread = Math.sqrt(Math.max(0, source.tau2 ?? 0)) * Z95;
    const threshold = source.rule?.practical_threshold ?? 0.5;
    const rows = [...source.flagged]
      .sort((a, b) => b.shrunk - a.shrunk)
      .map((rater) => ({
        label: names.get(rater.rater) ?? shortId(rater.rater),
        estimate: rater.shrunk,
        low: rater.shrunk - Z95 * rater.se,
        high: rater.shrunk + Z95 * rater.se,
        className: rater.flag === "lenient" ? "lenient" : "severe",
        mark: rater.flag === "lenient" ? "circle" : "square",
        display: `${rater.flag} ${rater.shrunk >= 0 ? "+" : "−"}${Math.abs(rater.shrunk).toFixed(2)}`,
        title: `${names.get(rater.rater) ?? rater.rater}: ${rater.flag}, ${rater.shrunk.toFixed(2)} scale points (95 % interval ${(rater.shrunk - Z95 * rater.se).toFixed(2)} to ${(rater.shrunk + Z95 * rater.se).toFixed(2)}), ${rater.n_ratees} ratees, corrected p ${rater.p_adjusted}`,
      }));
    const summary = `${source.raters} ${source.source} raters, ${source.flagged_count} flagged (${VERSION_LABEL[version]})`;
    if (rows.length === 0) {
      return h("div", { className: "chart-note" }, h("strong", {}, `${source.source}: `), `${summary}; no rater's leniency stands out.`);
    }
    return intervals({
      title: `Rater leniency, ${source.source}: ${summary}`,
      description: "Each flagged rater's shrunken leniency estimate in scale points, with its 95 % interval; the shaded band is where 95 % of raters of the source lie; dashed lines mark the practical threshold.",
      rows,
      zero: 0,
      thresholds: [-threshold, threshold],
      band: [-spread, spread],
      bandLabel: `95 % of ${source.source} raters: ±${spread.toFixed(2)} scale points`,
      format: (value) => value.toFixed(1),
      note: `Circles: lenient; squares: severe. The audit publishes only the raters it flags; the band (±${spread.toFixed(2)}) shows the spread of all ${source.raters}. Dashed lines: the practical threshold of ±${threshold}.`,
      columns: ["rater", "estimate", "95 % low", "95 % high"],
    });
  });
}

/** One grouping's charts: tiers per group, mean rating per group, impact ratios of an outcome. */
function groupingCharts(disparity, version, outcome) {
  const name = disparity.grouping;
  const charts = [];
  const tiers = tierKeys(disparity.selections);
  if (tiers.length) {
    const labels = disparity.counts.map((group) => group.label);
    charts.push(
      stackedShares({
        title: `Tiers by ${name}`,
        description: `The share of each ${name} group in each tier.`,
        rows: labels.map((label) => ({
          label,
          parts: tiers.map((tier) => ({
            key: tier,
            value: disparity.selections.find((table) => table.outcome === `tier:${tier}`)?.groups?.find((group) => group.label === label)?.rate ?? 0,
          })),
        })),
        keys: tiers,
        classFor: tierClass,
      }),
    );
  }
  const ratings = disparity.ratings?.mean_rating?.[version];
  if (ratings && !ratings.insufficient) {
    charts.push(
      intervals({
        title: `Mean rating by ${name} (${VERSION_LABEL[version]}), ± 1 SD`,
        description: `Each ${name} group's mean 360 rating, with one standard deviation either side.`,
        rows: ratings.groups.map((group) => ({
          label: `${group.label} (n=${group.n})`,
          estimate: group.mean,
          low: group.mean - group.sd,
          high: group.mean + group.sd,
          className: group.significant ? "severe" : "neutral",
          display: `${group.mean.toFixed(2)}${group.significant ? " ▲" : ""}`,
          title: `${group.label}: mean ${group.mean.toFixed(2)}, SD ${group.sd.toFixed(2)}, difference to the rest ${group.difference.toFixed(2)}, corrected p ${group.p_adjusted}`,
        })),
        format: (value) => value.toFixed(1),
        columns: ["group", "mean", "−1 SD", "+1 SD"],
      }),
    );
  }
  const selection = disparity.selections.find((table) => table.outcome === outcome);
  if (selection && !selection.insufficient) {
    charts.push(
      horizontalBars({
        title: `Impact ratio of ${outcome} by ${name}`,
        description: `Each group's selection rate into ${outcome} divided by the most selected group's; below 0.8 breaches the four-fifths rule.`,
        rows: selection.groups.map((group) => ({
          label: group.label,
          value: group.impact_ratio,
          className: group.below_four_fifths ? "below" : "",
          display: `${group.impact_ratio === null ? "—" : group.impact_ratio.toFixed(2)}${group.below_four_fifths ? " ▼ below 4/5" : ""}${group.reference ? " (reference)" : ""}`,
          title: `${group.label}: ${group.selected} of ${group.n} selected (${(group.rate * 100).toFixed(0)} %), impact ratio ${group.impact_ratio?.toFixed(2)}`,
        })),
        domain: [0, Math.max(1.2, ...selection.groups.map((group) => group.impact_ratio ?? 0))],
        reference: { value: 0.8, label: "four-fifths" },
        format: (value) => value.toFixed(1),
        columns: ["group", "impact ratio"],
        note: selection.suppressed?.length ? `Not shown: ${selection.suppressed.map((group) => `${group.label} (${group.reason})`).join(", ")}.` : null,
      }),
    );
  } else if (selection?.insufficient) {
    charts.push(note(`${outcome} by ${name}: ${selection.insufficient}`));
  }
  const left = disparity.suppressed?.length ? `Groups not shown: ${disparity.suppressed.map((group) => `${group.label} (${group.reason})`).join(", ")}.` : null;
  return h(
    "section",
    { className: "grouping", "data-grouping": name },
    h("h3", {}, `By ${name}`),
    h("p", { className: "muted" }, `${disparity.analysed ?? disparity.people} of ${disparity.people} people compared; groups need at least ${disparity.min_size}.`, left ? ` ${left}` : ""),
    h("div", { className: "chart-row" }, charts),
  );
}

function flagsTable(flags, names) {
  return table({
    caption: "Findings flagged",
    columns: [{ label: "Finding" }, { label: "Who or which group" }, { label: "Attribute" }, { label: "Holds" }, { label: "Effect", numeric: true }, { label: "Corrected p", numeric: true }],
    rows: flags.map((flag) => {
      const evidence = flag.post ?? flag.pre;
      return [
        h("span", { className: `flag flag-${flag.kind.replace(/[^a-z_]/g, "")}` }, flag.kind.replace(/_/g, " ")),
        names.get(flag.subject) ?? flag.subject,
        flag.outcome ? `${flag.attribute} · ${flag.outcome}` : flag.attribute,
        flag.holds === "both" ? "before and after calibration" : flag.holds === "pre" ? "as submitted only" : "after calibration only",
        evidence?.effect === null || evidence?.effect === undefined ? "—" : `${evidence.effect.toFixed(2)} (${flag.effectMeasure})`,
        evidence?.pAdjusted === null || evidence?.pAdjusted === undefined ? "—" : evidence.pAdjusted.toPrecision(2),
      ];
    }),
    empty: "Nothing flagged.",
  });
}

function reliabilityTable(reliability) {
  return table({
    caption: "Agreement among raters (after calibration)",
    columns: [{ label: "Source" }, { label: "Ratings", numeric: true }, { label: "ICC(1)", numeric: true }, { label: "ICC(1,k)", numeric: true }, { label: "Krippendorff's α", numeric: true }, { label: "rwg", numeric: true }],
    rows: reliability.map((row) =>
      row.insufficient && row.icc1 === null
        ? [row.source, String(row.ratings), h("span", { className: "muted" }, row.insufficient), "", "", ""]
        : [row.source, String(row.ratings), decimal(row.icc1, 2), decimal(row.icc1k, 2), decimal(row.alphaInterval, 2), decimal(row.rwgMean, 2)],
    ),
  });
}

export async function render(root, context) {
  const cycles = await directory.cycles();
  const cycle = cycleSelect(cycles, defaultCycle(cycles));
  const groups = h("fieldset", { className: "group-by" }, h("legend", {}, "Group by"));
  const version = select(
    [
      { value: "post", label: "after calibration" },
      { value: "pre", label: "as submitted" },
    ],
    "post",
    { name: "version" },
  );
  const outcome = select([{ value: "tier:A", label: "tier:A" }], "tier:A", { name: "outcome" });
  const problem = h("div");
  const reportPanel = panel({ title: "Fairness audit", className: "wide" });
  const recorded = panel({ title: "Recorded audits", className: "wide", description: "Audits recorded for this cycle; re-running one recomputes it from what it recorded and says whether the report is the same." });
  root.append(
    h("h1", {}, "Fairness"),
    controls({
      onsubmit: () => runLive(),
      fields: [field("Review cycle", cycle), groups, field("Ratings", version), field("Selection", outcome)],
      submit: "Run audit",
      problem,
    }),
    reportPanel.element,
    recorded.element,
  );

  let attributes = KNOWN_ATTRIBUTES;
  let chosen = new Set(DEFAULT_GROUPS);
  function renderGroupChoices() {
    replace(
      groups,
      h("legend", {}, "Group by"),
      attributes.map((attribute) =>
        h(
          "label",
          { className: "choice" },
          input({
            type: "checkbox",
            name: "groupBy",
            value: attribute,
            checked: chosen.has(attribute),
            onchange: (event) => (event.target.checked ? chosen.add(attribute) : chosen.delete(attribute)),
          }),
          ` ${attribute.replace(/_/g, " ")}`,
        ),
      ),
    );
  }
  renderGroupChoices();

  let shown = null; // the report on screen, re-drawn when the version or outcome changes

  /** The names of the people a report names: flagged raters and findings' subjects. */
  function namesIn(report) {
    const canonical = JSON.parse(report.reportJson);
    const raters = Object.values(canonical.ratings).flatMap((analysis) =>
      analysis.leniency.flatMap((source) => (source.flagged ?? []).map((rater) => rater.rater)),
    );
    return directory.namesFor([...raters, ...report.flags.map((flag) => flag.subject)]);
  }

  function draw(report, heading, names) {
    const canonical = JSON.parse(report.reportJson);
    const outcomes = [...new Set(canonical.disparities.flatMap((disparity) => disparity.selections.map((table) => table.outcome)))].sort();
    const wanted = outcomes.includes(outcome.value) ? outcome.value : outcomes[0];
    replace(outcome, outcomes.map((value) => h("option", { value, selected: value === wanted }, value)));
    if (wanted) outcome.value = wanted;
    attributes = report.attributes.length ? report.attributes : attributes;
    renderGroupChoices();
    const analysis = canonical.ratings[version.value];
    reportPanel.show(
      h("p", { className: "muted" }, heading),
      h(
        "div",
        { className: "stats" },
        stat("people", String(canonical.population.subjects)),
        stat("ratings", String(canonical.population.ratings)),
        stat("raters", String(canonical.population.raters)),
        stat("findings flagged", String(report.flags.length)),
        stat("log position", String(report.position)),
      ),
      report.reproduced === null || report.reproduced === undefined
        ? null
        : h("p", { className: report.reproduced ? "ok" : "error", role: "status" }, report.reproduced ? "✓ Re-run reproduced the recorded report exactly (same digest)." : `✗ Re-run differs from the recorded report: digest ${report.digest} instead of ${report.recordedDigest}.`),
      flagsTable(report.flags, names),
      h("h3", {}, "Rater severity and leniency"),
      h("div", { className: "chart-row" }, leniencyCharts(analysis, names, version.value)),
      canonical.disparities.map((disparity) => groupingCharts(disparity, version.value, outcome.value)),
      reliabilityTable(report.reliability),
      h("p", { className: "muted small" }, `Method ${report.methodVersion}; report digest `, h("code", {}, report.digest)),
    );
  }

  version.addEventListener("change", () => shown && draw(...shown));
  outcome.addEventListener("change", () => shown && draw(...shown));

  const loads = latestOnly();
  const recordedLoads = latestOnly();

  async function show(load, heading) {
    const run = loads.start();
    replace(problem);
    reportPanel.status("Running the audit…");
    try {
      const report = await load();
      const names = await namesIn(report);
      if (!loads.isLatest(run)) return;
      reportPanel.status("");
      shown = [report, heading(report), names];
      draw(...shown);
    } catch (error) {
      if (!loads.isLatest(run)) return;
      reportPanel.status("");
      reportPanel.fail(error, "run the fairness audit");
    }
  }

  function runLive() {
    if (chosen.size === 0) {
      replace(problem, errorBox(new Error("choose at least one attribute to group by"), "run the audit"));
      return Promise.resolve();
    }
    const groupBy = attributes.filter((attribute) => chosen.has(attribute));
    return Promise.all([
      show(
        async () => (await graphql(`query Audit($cycleId: ID!, $groupBy: [String!]!) { fairnessAudit(cycleId: $cycleId, groupBy: $groupBy) { ${REPORT_FIELDS} } }`, { cycleId: cycle.value, groupBy })).fairnessAudit,
        (report) => `Computed now from the log up to position ${report.position}, grouped by ${groupBy.join(", ")}; not recorded.`,
      ),
      loadRecorded(),
    ]);
  }

  async function loadRecorded() {
    const run = recordedLoads.start();
    try {
      const audits = (await graphql(`query Recorded($cycleId: ID!) { fairnessAudits(cycleId: $cycleId) { id position methodVersion parametersJson digest flags recordedAt recordedBy } }`, { cycleId: cycle.value })).fairnessAudits;
      const names = await directory.namesFor(audits.map((audit) => audit.recordedBy));
      if (!recordedLoads.isLatest(run)) return;
      recorded.show(
        table({
          columns: [{ label: "Recorded" }, { label: "By" }, { label: "Grouped by" }, { label: "Log position", numeric: true }, { label: "Flags", numeric: true }, { label: "" }],
          rows: audits.map((audit) => {
            let groupBy = "";
            try {
              groupBy = (JSON.parse(audit.parametersJson).group_by ?? []).join(", ");
            } catch {
              groupBy = "—";
            }
            return [
              dateTime(audit.recordedAt),
              names.get(audit.recordedBy) ?? audit.recordedBy,
              groupBy,
              String(audit.position),
              String(audit.flags),
              button("Re-run", () =>
                show(
                  async () => (await graphql(`query Rerun($auditId: ID!) { rerunFairnessAudit(auditId: $auditId) { ${REPORT_FIELDS} } }`, { auditId: audit.id })).rerunFairnessAudit,
                  () => `Recorded audit ${audit.id} re-run from what it recorded (log position ${audit.position}, grouped by ${groupBy}).`,
                ),
              ),
            ];
          }),
          empty: "No audit recorded for this cycle yet.",
        }),
      );
    } catch (error) {
      if (!recordedLoads.isLatest(run)) return;
      recorded.fail(error, "list the recorded audits");
    }
  }

  await runLive();
}
