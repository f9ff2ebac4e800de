// Numbers, dates and periods as the dashboard shows them.

const DASH = "—";

/** A decimal from the API ("71.88") with `digits` decimals, or a dash when there is none. */
export function decimal(value, digits = 1) {
  if (value === null || value === undefined || value === "") return DASH;
  const number = Number(value);
  return Number.isFinite(number) ? number.toFixed(digits) : DASH;
}

/** A signed difference: +3.2, −1.0. */
export function signed(value, digits = 1) {
  if (value === null || value === undefined) return DASH;
  const number = Number(value);
  if (!Number.isFinite(number)) return DASH;
  const text = Math.abs(number).toFixed(digits);
  if (Number(text) === 0) return text;
  return number > 0 ? `+${text}` : `−${text}`;
}

/** A share between 0 and 1 as a percentage. */
export function percent(share, digits = 0) {
  if (share === null || share === undefined) return DASH;
  return `${(Number(share) * 100).toFixed(digits)} %`;
}

export function count(value) {
  return value === null || value === undefined ? DASH : Number(value).toLocaleString("en");
}

/** A moment from the API (ISO 8601 with zone) in the reader's time zone, to the second. */
export function dateTime(iso) {
  if (!iso) return DASH;
  const moment = new Date(iso);
  if (Number.isNaN(moment.getTime())) return iso;
  return moment.toLocaleString("en-GB", {
    year: "numeric",
    month: "short",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
  });
}

export function date(iso) {
  if (!iso) return DASH;
  const moment = new Date(`${iso}T00:00:00`);
  if (Number.isNaN(moment.getTime())) return iso;
  return moment.toLocaleDateString("en-GB", { year: "numeric", month: "short", day: "2-digit" });
}

function pad(number) {
  return String(number).padStart(2, "0");
}

/** Today's quarter, month and year as the API names periods: 2026-Q4, 2026-11, 2026. */
export function currentQuarter(today = new Date()) {
  return `${today.getFullYear()}-Q${Math.floor(today.getMonth() / 3) + 1}`;
}

export function currentMonth(today = new Date()) {
  return `${today.getFullYear()}-${pad(today.getMonth() + 1)}`;
}

export function isoDate(today = new Date()) {
  return `${today.getFullYear()}-${pad(today.getMonth() + 1)}-${pad(today.getDate())}`;
}

/** The value of an <input type="datetime-local"> for a moment, in the reader's time zone. */
export function localInputValue(moment = new Date()) {
  return (
    `${moment.getFullYear()}-${pad(moment.getMonth() + 1)}-${pad(moment.getDate())}` +
    `T${pad(moment.getHours())}:${pad(moment.getMinutes())}:${pad(moment.getSeconds())}`
  );
}

/**
 * An <input type="datetime-local"> value (the reader's local time) as an ISO moment with its
 * zone, which the API requires; null when the input is empty or not a moment.
 */
export function fromLocalInput(value) {
  if (!value) return null;
  const moment = new Date(value);
  return Number.isNaN(moment.getTime()) ? null : moment.toISOString();
}

/** A period the API accepts: a year, a quarter or a month. */
export const PERIOD_PATTERN = "\\d{4}(-Q[1-4]|-(0[1-9]|1[0-2]))?";

export function isPeriod(text) {
  return new RegExp(`^${PERIOD_PATTERN}$`).test(text);
}

/** Periods to offer in a list: this year, its quarters and the previous year's. */
export function periodChoices(today = new Date()) {
  const year = today.getFullYear();
  const choices = [];
  for (const y of [year, year - 1]) {
    choices.push(String(y));
    for (let q = 1; q <= 4; q += 1) choices.push(`${y}-Q${q}`);
  }
  return choices;
}

/** A long id, shortened for a table cell (the full id goes in a title). */
export function shortId(id) {
  return id && id.length > 12 ? `${id.slice(0, 8)}…` : (id ?? DASH);
}

/** The months a period covers, as [year, first month, last month]; null when it is no period. */
function months(period) {
  const match = /^(\d{4})(?:-Q([1-4])|-(\d{2}))?$/.exec(period ?? "");
  if (!match) return null;
  const year = Number(match[1]);
  if (match[2]) return [year, 3 * Number(match[2]) - 2, 3 * Number(match[2])];
  if (match[3]) return [year, Number(match[3]), Number(match[3])];
  return [year, 1, 12];
}

/** Whether two periods share a month: a year's goal overlaps each of its quarters. */
export function periodsOverlap(a, b) {
  const first = months(a);
  const second = months(b);
  if (!first || !second || first[0] !== second[0]) return false;
  return first[1] <= second[2] && second[1] <= first[2];
}
