// A manager's team: their direct reports' scorecards (live), the goals at risk (live), the
// month's 1:1 coverage and a feed of what is being recorded.

import { graphql } from "../api.js";
import { progressBullet } from "../charts.js";
import { h, replace } from "../dom.js";
import { currentMonth, currentQuarter, date, decimal, periodsOverlap } from "../format.js";
import { announce, button, controls, errorBox, field, flash, input, latestOnly, note, panel, stat, table } from "../widgets.js";
import { SCORECARD_COLUMNS, SCORECARD_FIELDS, distributionCharts, periodField, periodProblem, personCell, scorecardCells } from "./common.js";

const TEAM_QUERY = `
  query Team($manager: ID!, $period: String!, $after: String) {
    readModels { position }
    employees(managerId: $manager, first: 200, after: $after) {
      pageInfo { hasNextPage endCursor }
      edges { node { id code name jobTitle department { id name } scorecard(period: $period) { ${SCORECARD_FIELDS} } } }
    }
  }`;

const COVERAGE_QUERY = `
  query Coverage($month: String!) {
    oneOnOneCoverage(month: $month) {
      month coveredCount uncoveredCount
      reports { employee { id code name } oneOnOnes lastOneOnOne covered }
    }
  }`;

const AT_RISK_FIELDS = `
  position expectedProgress actualProgress threshold ruleSetVersion
  goal { id title metric unit period target baseline latestValue latestAsOf ownerId employee { id code name } }
`;

const SCORECARD_SUBSCRIPTION = `
  subscription TeamScorecards($departmentId: ID, $period: String, $afterPosition: Int) {
    scorecardUpdated(departmentId: $departmentId, period: $period, afterPosition: $afterPosition) {
      position
      scorecard { ${SCORECARD_FIELDS} }
    }
  }`;

const PROGRESS_SUBSCRIPTION = `
  subscription TeamProgress($departmentId: ID, $afterPosition: Int) {
    goalProgressRecorded(departmentId: $departmentId, afterPosition: $afterPosition) {
      position
      goal { id title unit latestValue latestAsOf ownerId employee { id code name } }
    }
  }`;

const AT_RISK_SUBSCRIPTION = `
  subscription TeamAtRisk($departmentId: ID, $afterPosition: Int) {
    goalAtRisk(departmentId: $departmentId, afterPosition: $afterPosition) { ${AT_RISK_FIELDS} }
  }`;

const ALERTS_SHOWN = 10;

async function loadTeam(manager, period) {
  const members = [];
  let position = 0;
  let after = null;
  for (;;) {
    const data = await graphql(TEAM_QUERY, { manager, period, after });
    if (after === null) position = data.readModels.position;
    members.push(...data.employees.edges.map((edge) => edge.node));
    if (!data.employees.pageInfo.hasNextPage) break;
    after = data.employees.pageInfo.endCursor;
  }
  members.sort((a, b) => a.name.localeCompare(b.name));
  return { members, position };
}

/** Tier counts and 10-point score buckets of the team, shaped as the API's Distribution. */
function teamDistribution(scorecards) {
  const scored = scorecards.filter((card) => card?.score !== null && card?.score !== undefined);
  const tiers = new Map();
  const buckets = new Map();
  for (const card of scored) {
    if (card.tier) tiers.set(card.tier, (tiers.get(card.tier) ?? 0) + 1);
    const low = Math.floor(Number(card.score) / 10) * 10;
    buckets.set(low, (buckets.get(low) ?? 0) + 1);
  }
  return {
    tiers: [...tiers.keys()].sort().map((tier) => ({ tier, count: tiers.get(tier) })),
    buckets: [...buckets.keys()].sort((a, b) => a - b).map((low) => ({ low, high: low + 10, count: buckets.get(low) })),
  };
}

export async function render(root, context) {
  const manager = context.viewer.employeeId;
  const period = periodField(currentQuarter());
  const month = input({ type: "month", name: "month", value: currentMonth(), required: true });
  const riskDate = input({ type: "date", name: "asOfDate" });
  const problem = h("div");
  const form = controls({
    onsubmit: () => load(),
    fields: [
      period.element,
      field("1:1 month", month),
      context.features.query("atRiskGoals") ? field("At risk on", riskDate, "empty: each goal's latest measurement") : null,
    ],
    problem,
  });
  const summary = h("div", { className: "stats", "data-testid": "team-summary" });
  const scorecards = panel({ title: "Team scorecards", className: "wide" });
  const charts = h("div");
  const atRisk = panel({ title: "Goals at risk", className: "wide", description: "Goals whose progress trails the straight line from baseline to target by more than the rule set's threshold." });
  const coverage = panel({ title: "1:1 coverage", className: "scrolling" });
  const activity = panel({ title: "Live activity" });
  const feed = h("ol", { className: "feed", "aria-label": "Recent updates" });
  root.append(
    h("h1", {}, "My team"),
    form,
    summary,
    h("div", { className: "grid" }, scorecards.element, atRisk.element, coverage.element, activity.element),
  );

  const rows = new Map(); // employee id -> {member, scorecard, element}
  let subscriptions = [];

  function stopLive() {
    for (const end of subscriptions) end?.();
    subscriptions = [];
  }
  context.onDispose(stopLive);

  function renderSummary() {
    const cards = [...rows.values()].map((row) => row.scorecard);
    const scored = cards.filter((card) => card?.score !== null && card?.score !== undefined);
    const mean = scored.length ? scored.reduce((sum, card) => sum + Number(card.score), 0) / scored.length : null;
    replace(
      summary,
      stat("people", String(rows.size)),
      stat("with a score", String(scored.length)),
      stat("mean score", decimal(mean, 1)),
    );
    replace(charts, scored.length ? distributionCharts(teamDistribution(cards), "the team") : null);
  }

  function renderRow(row) {
    const cells = [personCell(row.member, row.member.jobTitle), ...scorecardCells(row.scorecard)];
    replace(row.element, cells.map((cell, index) => h("td", { className: SCORECARD_COLUMNS[index - 1]?.numeric ? "num" : "" }, cell)));
  }

  function renderScorecards(periodValue) {
    if (rows.size === 0) {
      scorecards.show(note("No one reports to you.", "empty"));
      return;
    }
    const body = h("tbody");
    for (const row of rows.values()) {
      row.element = h("tr", { "data-employee": row.member.id });
      renderRow(row);
      body.append(row.element);
    }
    scorecards.show(
      h(
        "div",
        { className: "table-wrap" },
        h(
          "table",
          { "data-testid": "team-scorecards" },
          h("caption", {}, `Scorecards for ${periodValue}`),
          h("thead", {}, h("tr", {}, [{ label: "Person" }, ...SCORECARD_COLUMNS].map((column) => h("th", { scope: "col", className: column.numeric ? "num" : "" }, column.label)))),
          body,
        ),
      ),
      charts,
    );
  }

  function addActivity(text) {
    feed.prepend(h("li", {}, h("time", {}, new Date().toLocaleTimeString("en-GB")), " ", text));
    while (feed.children.length > 30) feed.lastElementChild.remove();
  }

  function applyScorecard(scorecard) {
    const row = rows.get(scorecard.ownerId);
    if (!row || (row.scorecard && row.scorecard.position > scorecard.position)) return;
    row.scorecard = scorecard;
    renderRow(row);
    flash(row.element);
    renderSummary();
    const text = `${row.member.name}: score ${decimal(scorecard.score, 2)}${scorecard.tier ? `, tier ${scorecard.tier}` : ""}`;
    announce(text);
    addActivity(text);
  }

  async function loadCoverage(run) {
    coverage.status("Loading…");
    try {
      const data = (await graphql(COVERAGE_QUERY, { month: month.value })).oneOnOneCoverage;
      if (!loads.isLatest(run)) return;
      coverage.status("");
      coverage.show(
        h("div", { className: "stats" }, stat("covered", String(data.coveredCount)), stat("without a 1:1", String(data.uncoveredCount))),
        table({
          caption: `1:1s in ${data.month}`,
          columns: [{ label: "Person" }, { label: "1:1s", numeric: true }, { label: "Last 1:1" }, { label: "Covered" }],
          // Those without a 1:1 first: they are who the manager has to see.
          rows: [...data.reports].sort((a, b) => Number(a.covered) - Number(b.covered) || a.employee.name.localeCompare(b.employee.name)).map((report) => [
            personCell(report.employee),
            String(report.oneOnOnes),
            date(report.lastOneOnOne),
            h("span", { className: report.covered ? "ok" : "warn" }, report.covered ? "✓ yes" : "✗ no"),
          ]),
          empty: "No direct reports.",
        }),
      );
    } catch (error) {
      if (!loads.isLatest(run)) return;
      coverage.status("");
      coverage.fail(error, "load the 1:1 coverage");
    }
  }

  const alerts = new Map(); // goal id -> alert

  let showAllAlerts = false;

  function renderAtRisk() {
    const periodValue = period.control.value;
    // The goals of periods that overlap the one on screen (a year's goal when a quarter is
    // shown, a quarter's when a month is); most behind first.
    const list = [...alerts.values()]
      .filter((alert) => periodsOverlap(alert.goal.period, periodValue))
      .sort((a, b) => (a.actualProgress - a.expectedProgress) - (b.actualProgress - b.expectedProgress));
    if (list.length === 0) {
      atRisk.show(note(`No goal of ${periodValue} is behind its trajectory.`, "empty ok"));
      return;
    }
    const shown = showAllAlerts ? list : list.slice(0, ALERTS_SHOWN);
    atRisk.show(
      h("p", { className: "muted", "data-testid": "at-risk-count" }, `${list.length} ${list.length === 1 ? "goal" : "goals"} of ${periodValue} behind the line.`),
      table({
        columns: [{ label: "Goal" }, { label: "Owner" }, { label: "Progress against expected" }, { label: "Behind", numeric: true }],
        rows: shown.map((alert) => [
          h("div", {}, h("span", { className: "goal-title" }, alert.goal.title), h("span", { className: "person-detail" }, ` ${alert.goal.period}`)),
          personCell(alert.goal.employee),
          h(
            "div",
            { className: "bullet-cell" },
            progressBullet({
              actual: alert.actualProgress,
              expected: alert.expectedProgress,
              label: `${decimal(alert.actualProgress, 0)} % done where ${decimal(alert.expectedProgress, 0)} % was expected`,
            }),
            h("span", {}, `${decimal(alert.actualProgress, 0)} % of ${decimal(alert.expectedProgress, 0)} %`),
          ),
          `${decimal(Number(alert.expectedProgress) - Number(alert.actualProgress), 1)} pts (limit ${decimal(alert.threshold, 0)})`,
        ]),
        className: "at-risk",
        rowAttributes: (index) => ({ "data-goal": shown[index].goal.id }),
      }),
      list.length > shown.length
        ? button(`Show all ${list.length}`, () => {
            showAllAlerts = true;
            renderAtRisk();
          })
        : null,
    );
  }

  async function loadAtRisk(run = null) {
    if (!context.features.query("atRiskGoals")) {
      atRisk.show(note("This server does not report goals at risk yet."));
      return null;
    }
    atRisk.status("Loading…");
    try {
      const data = await graphql(
        `query AtRisk($manager: ID, $asOfDate: Date) { readModels { position } atRiskGoals(managerId: $manager, asOfDate: $asOfDate) { ${AT_RISK_FIELDS} } }`,
        { manager, asOfDate: riskDate.value || null },
      );
      if (run !== null && !loads.isLatest(run)) return null;
      alerts.clear();
      for (const alert of data.atRiskGoals) alerts.set(alert.goal.id, alert);
      atRisk.status("");
      renderAtRisk();
      return data.readModels.position;
    } catch (error) {
      if (run !== null && !loads.isLatest(run)) return null;
      atRisk.status("");
      atRisk.fail(error, "load the goals at risk");
      return null;
    }
  }

  function goLive(departmentIds, periodValue, position, riskPosition) {
    stopLive();
    const onError = (error) => replace(problem, errorBox(error, "keep the team live"));
    for (const departmentId of departmentIds) {
      subscriptions.push(
        context.subscribe("scorecardUpdated", {
          query: SCORECARD_SUBSCRIPTION,
          variables: { departmentId, period: periodValue },
          position,
          onNext: (update) => applyScorecard(update.scorecard),
          onError,
        }),
        context.subscribe("goalProgressRecorded", {
          query: PROGRESS_SUBSCRIPTION,
          variables: { departmentId },
          position,
          onNext: (update) => {
            const who = rows.get(update.goal.ownerId)?.member.name ?? update.goal.employee?.name ?? "a department goal";
            addActivity(`${who}: “${update.goal.title}” measured; latest ${update.goal.latestValue}${update.goal.unit ? ` ${update.goal.unit}` : ""} as of ${date(update.goal.latestAsOf)}`);
            if (alerts.has(update.goal.id)) loadAtRisk();
          },
          onError,
        }),
      );
      if (riskPosition !== null) {
        subscriptions.push(
          context.subscribe("goalAtRisk", {
            query: AT_RISK_SUBSCRIPTION,
            variables: { departmentId },
            position: riskPosition,
            onNext: (alert) => {
              alerts.set(alert.goal.id, alert);
              renderAtRisk();
              const text = `At risk: “${alert.goal.title}” of ${alert.goal.employee?.name ?? "the department"}`;
              announce(text);
              addActivity(text);
            },
            onError,
          }),
        );
      }
    }
    const live = subscriptions.some(Boolean);
    activity.show(
      live
        ? note("Updates to your team's scorecards and goals appear here as they are recorded.")
        : h(
            "div",
            {},
            note("This server sends no live updates; refresh to see what changed."),
            button("Refresh", () => load(), { "data-testid": "refresh" }),
          ),
      feed,
    );
  }

  const loads = latestOnly();

  async function load() {
    const run = loads.start();
    replace(problem);
    const wrong = periodProblem(period.control.value);
    if (wrong) {
      replace(problem, errorBox(wrong, "show the team"));
      return;
    }
    const periodValue = period.control.value;
    scorecards.status("Loading…");
    stopLive();
    const [team, riskPosition] = await Promise.all([
      loadTeam(manager, periodValue).catch((error) => error),
      loadAtRisk(run),
      loadCoverage(run),
    ]);
    if (!loads.isLatest(run)) return;
    scorecards.status("");
    if (team instanceof Error) {
      scorecards.fail(team, "load the team's scorecards");
      return;
    }
    rows.clear();
    for (const member of team.members) rows.set(member.id, { member, scorecard: member.scorecard, element: null });
    renderScorecards(periodValue);
    renderSummary();
    const departments = [...new Set(team.members.map((member) => member.department?.id).filter(Boolean))];
    goLive(departments, periodValue, team.position, riskPosition);
  }

  await load();
}
