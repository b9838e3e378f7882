// Reports: the supervisors' home. The figures of GET /v1/reports/* with the
// API's own filters (a period in Iran dates, province, agency, office,
// category), each report as a chart (inline SVG built node by node, with a
// title and description) beside its table, and exported as CSV or .xlsx in
// the console's language.
import {
  addLabels, api, download, field, fmtDate, fmtDuration, iranParts, fmtNumber, fmtPercent, h, lang, normalizeText,
  digitsToASCII, route, showError, t,
} from "../core.js";
import { addDays, iranToday, isoDate, jalaliText, parseDate, toGregorian, toJalali } from "./jalali.js";
import { localDigits } from "./routing.js";

addLabels({
  fa: {
    "reports.title": "گزارش‌ها", "reports.nav": "گزارش‌ها",
    "reports.filters": "بازه و پالایه‌ها", "reports.from": "از تاریخ", "reports.to": "تا تاریخ (همان روز هم)",
    "reports.dateHint": "خورشیدی، مانند ۱۴۰۵/۰۹/۰۱ (میلادی هم پذیرفته است)", "reports.badDate": "تاریخ را مانند ۱۴۰۵/۰۹/۰۱ بنویسید",
    "reports.province": "استان", "reports.agency": "دستگاه", "reports.office": "شعبه", "reports.category": "موضوع",
    "reports.all": "همه", "reports.apply": "نمایش", "reports.presets": "بازه‌های آماده",
    "reports.preset.month": "این ماه", "reports.preset.30d": "۳۰ روز گذشته", "reports.preset.year": "امسال",
    "reports.period": "بازه: {from} تا {to}", "reports.catchingUp": "گزارش‌ها هنوز در حال خواندن آخرین تغییرها هستند؛ ارقام ممکن است کمی عقب باشند.",
    "reports.loading": "در حال بارگیری…", "reports.empty": "در این بازه چیزی برای نمایش نیست.",
    "reports.inspectorLeft": "{name} (غیرفعال)", "reports.csv": "خروجی CSV", "reports.xlsx": "خروجی اکسل", "reports.exportOf": "{button} — {what}",
    "reports.trend": "روند ماهانه (خورشیدی)", "reports.trend.desc": "شمار شکایت‌ها در هر ماه خورشیدی، به تفکیک موضوع.",
    "reports.month": "ماه", "reports.complaints": "شکایت‌ها", "reports.substantiated": "تأییدشده",
    "reports.agencies": "رتبه‌بندی دستگاه‌ها", "reports.agencies.desc": "دستگاه‌ها به ترتیب شمار شکایت‌ها.",
    "reports.offices": "رتبه‌بندی شعبه‌ها", "reports.offices.desc": "شعبه‌ها به ترتیب شمار شکایت‌ها (ده شعبه نخست در نمودار).",
    "reports.substRate": "نرخ تأیید", "reports.slaShare": "سهم در مهلت", "reports.referrals": "ارجاع به دستگاه",
    "reports.referralsCell": "{referred} (پاسخ {answered}، دیرکرد {overdue})", "reports.absenceRate": "نرخ غیبت",
    "reports.repeat": "متخلفان تکراری", "reports.repeat.desc": "شعبه‌هایی با دست‌کم {min} شکایت تأییدشده در {days} روز تا پایان بازه.",
    "reports.min": "کمینه شکایت تأییدشده", "reports.window": "پنجره (روز)", "reports.previous": "پنجره پیش", "reports.change": "تغییر",
    "reports.attendance": "حضور و غیاب", "reports.attendance.desc": "نرخ غیبت از یافته‌های بازرسان در بازدیدها.",
    "reports.groupBy": "به تفکیک", "reports.byAgency": "دستگاه", "reports.byOffice": "شعبه",
    "reports.findings": "یافته‌ها", "reports.expected": "کارکنان مورد انتظار", "reports.present": "حاضر",
    "reports.reason.leave": "مرخصی", "reports.reason.mission": "مأموریت", "reports.reason.unexcused": "غیبت بی‌عذر", "reports.reason.unknown": "نامعلوم",
    "reports.nonWork": "کار غیراداری", "reports.waiting": "مراجعان منتظر (میانه / بیشینه)",
    "reports.absentees": "غایبان به تفکیک علت", "reports.absentees.desc": "جمع غایبان در یافته‌های بازه، به تفکیک علت.",
    "reports.sla": "مهلت رسیدگی (SLA)", "reports.sla.desc": "سهم شکایت‌هایی که در مهلت رسیدگی شدند.",
    "reports.due": "سنجیده", "reports.within": "در مهلت", "reports.breaches": "تخطی‌ها",
    "reports.toRouting": "تا ارجاع (میانه)", "reports.toAction": "تا نخستین اقدام (میانه)", "reports.toOutcome": "تا نتیجه (میانه / صدک ۹۰)",
    "reports.inspectors": "بازرسان", "reports.inspector": "بازرس", "reports.open": "کار باز", "reports.visits": "بازدید", "reports.calls": "تماس",
    "reports.outcomes": "نتیجه‌ها", "reports.assignToOutcome": "از ارجاع تا نتیجه (میانه)",
    "reports.chartOf": "نمودار: {what}", "reports.valuesIn": "مقدار هر ردیف در جدول زیر آمده است.",
    "reports.asOf": "بارگذاری‌شده در {at}",
  },
  en: {
    "reports.title": "Reports", "reports.nav": "Reports",
    "reports.filters": "Period and filters", "reports.from": "From", "reports.to": "To (inclusive)",
    "reports.dateHint": "Solar Hijri such as 1405/09/01, or Gregorian 2026-11-22", "reports.badDate": "Write the date as 1405/09/01 or 2026-11-22",
    "reports.province": "Province", "reports.agency": "Agency", "reports.office": "Office", "reports.category": "Category",
    "reports.all": "All", "reports.apply": "Show", "reports.presets": "Presets",
    "reports.preset.month": "This Solar Hijri month", "reports.preset.30d": "Last 30 days", "reports.preset.year": "This year",
    "reports.period": "Period: {from} to {to}", "reports.catchingUp": "The reports are still reading the latest changes; figures may lag a little.",
    "reports.loading": "Loading…", "reports.empty": "Nothing to show in this period.",
    "reports.inspectorLeft": "{name} (disabled)", "reports.csv": "Export CSV", "reports.xlsx": "Export Excel", "reports.exportOf": "{button} — {what}",
    "reports.trend": "Trend by Solar Hijri month", "reports.trend.desc": "Complaints called in each Solar Hijri month, by category.",
    "reports.month": "Month", "reports.complaints": "Complaints", "reports.substantiated": "Substantiated",
    "reports.agencies": "Agency ranking", "reports.agencies.desc": "Agencies by number of complaints.",
    "reports.offices": "Office ranking", "reports.offices.desc": "Offices by number of complaints (the first ten in the chart).",
    "reports.substRate": "Substantiated rate", "reports.slaShare": "Within SLA", "reports.referrals": "Referrals",
    "reports.referralsCell": "{referred} ({answered} answered, {overdue} overdue)", "reports.absenceRate": "Absence rate",
    "reports.repeat": "Repeat offenders", "reports.repeat.desc": "Offices with at least {min} substantiated complaints in the {days} days to the end of the period.",
    "reports.min": "Least substantiated", "reports.window": "Window (days)", "reports.previous": "Window before", "reports.change": "Change",
    "reports.attendance": "Attendance", "reports.attendance.desc": "Absence rate from the inspectors' findings on visits.",
    "reports.groupBy": "By", "reports.byAgency": "Agency", "reports.byOffice": "Office",
    "reports.findings": "Findings", "reports.expected": "Staff expected", "reports.present": "Present",
    "reports.reason.leave": "Leave", "reports.reason.mission": "Mission", "reports.reason.unexcused": "Unexcused", "reports.reason.unknown": "Unknown",
    "reports.nonWork": "Non-work activity", "reports.waiting": "Clients waiting (median / most)",
    "reports.absentees": "Absentees by reason", "reports.absentees.desc": "Absent staff in the period's findings, by reason.",
    "reports.sla": "Service level (SLA)", "reports.sla.desc": "Share of complaints handled within their due time.",
    "reports.due": "Measured", "reports.within": "Within", "reports.breaches": "Breaches",
    "reports.toRouting": "To routing (median)", "reports.toAction": "To first action (median)", "reports.toOutcome": "To outcome (median / p90)",
    "reports.inspectors": "Inspectors", "reports.inspector": "Inspector", "reports.open": "Open", "reports.visits": "Visits", "reports.calls": "Calls",
    "reports.outcomes": "Outcomes", "reports.assignToOutcome": "Assignment to outcome (median)",
    "reports.chartOf": "Chart: {what}", "reports.valuesIn": "Each row's value is in the table below.",
    "reports.asOf": "loaded at {at}",
  },
});

const categories = ["absent_employee", "non_work_activity", "client_crowding", "other"];
const reasons = ["leave", "mission", "unexcused", "unknown"];
const substantiatedOutcomes = ["substantiated", "resolved_on_spot", "referred_for_discipline"];

// The filters survive leaving the screen and coming back.
const state = { preset: "30d", from: "", to: "", province: "", agency: "", office: "", category: "", min: 3, window: 90, group: "agency" };
let reference = null; // {agencies: Map, offices: Map, provinces: [], inspectors: Map}

// ---- dates ----------------------------------------------------------------

/** showDate writes a Gregorian date the way the date inputs take it: Solar Hijri in Persian. */
function showDate(g) {
  return lang() === "fa" ? localDigits(jalaliText(g)) : isoDate(g);
}

function presetRange(preset) {
  const today = iranToday();
  switch (preset) {
    case "month": {
      const j = toJalali(today.gy, today.gm, today.gd);
      return { from: toGregorian(j.jy, j.jm, 1), to: today };
    }
    case "year": {
      const j = toJalali(today.gy, today.gm, today.gd);
      return { from: toGregorian(j.jy, 1, 1), to: today };
    }
    default:
      return { from: addDays(today, -29), to: today };
  }
}

// ---- query ------------------------------------------------------------------
function query(extra = {}) {
  const q = new URLSearchParams();
  if (state.from) q.set("from", state.from);
  if (state.to) q.set("to", state.to);
  for (const k of ["province", "agency", "office", "category"]) if (state[k]) q.set(k, state[k]);
  for (const [k, v] of Object.entries(extra)) q.set(k, v);
  return q;
}

function repeatQuery(extra = {}) {
  const q = query(extra);
  q.delete("from");
  q.set("min", String(state.min));
  q.set("window", state.window + "d");
  return q;
}

async function loadReference() {
  if (reference) return reference;
  const [agencies, offices, inspectors] = await Promise.all([
    api("GET", "/v1/agencies"), api("GET", "/v1/offices"), api("GET", "/v1/people").catch(() => ({ items: [] })),
  ]);
  // One entry a province however its name was typed (Arabic or Persian letters): the API's filter folds them too.
  const byFolded = new Map();
  for (const o of offices.items) if (!byFolded.has(normalizeText(o.province))) byFolded.set(normalizeText(o.province), o.province);
  const provinces = [...byFolded.values()].sort((a, b) => a.localeCompare(b, "fa"));
  reference = {
    agencies: new Map(agencies.items.map((a) => [a.code, a])),
    offices: new Map(offices.items.map((o) => [o.code, o])),
    inspectors: new Map(inspectors.items.map((u) => [u.id, u])),
    provinces,
  };
  return reference;
}

const agencyName = (code) => {
  const a = reference?.agencies.get(code);
  if (!a) return code;
  return lang() === "en" && a.name_en ? a.name_en : a.name_fa;
};
const officeName = (code) => reference?.offices.get(code)?.name_fa || code;
/** inspectorName names an inspector, those who have left too (marked), from /v1/people. */
const inspectorName = (id) => {
  const u = reference?.inspectors.get(id);
  if (!u) return id;
  return u.disabled ? t("reports.inspectorLeft", { name: u.display_name }) : u.display_name;
};

// ---- SVG charts -----------------------------------------------------------
const SVG = "http://www.w3.org/2000/svg";
let chartSeq = 0;

function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== null && v !== undefined) el.setAttribute(k, String(v));
  for (const c of children.flat()) if (c !== null && c !== undefined) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return el;
}

// Persian labels are isolated right to left inside the chart's fixed left-to-right drawing.
const isolate = (text) => (lang() === "fa" ? "\u2067" + text + "\u2069" : text);

function svgRoot(width, height, title, desc) {
  const id = "chart-" + ++chartSeq;
  return s("svg", { class: "chart", viewBox: `0 0 ${width} ${height}`, role: "img", "aria-labelledby": `${id}-t ${id}-d`, focusable: "false" },
    s("title", { id: id + "-t" }, title), s("desc", { id: id + "-d" }, desc));
}

/**
 * hbarChart draws horizontal bars: rows [{label, value, text}], one bar per
 * row, the label on the reading side. Right to left in Persian.
 */
/** chartWidth is the drawing's width in its own units: the space it will take, so that its text stays readable on a narrow screen. */
function chartWidth(half) {
  const main = document.getElementById("main");
  let w = (main?.clientWidth || 800) - 64;
  if (half && w > 700) w = w / 2 - 12;
  return Math.max(300, Math.min(760, Math.round(w)));
}

function hbarChart(title, desc, rows, { max, cls = "bar", half = false } = {}) {
  const W = chartWidth(half), rowH = 26, labelW = Math.min(230, Math.round(W * 0.38)), valueW = 56, top = 6;
  const maxChars = Math.max(12, Math.floor(labelW / (lang() === "fa" ? 6.2 : 7.4)));
  const H = top * 2 + rows.length * rowH;
  const rtl = lang() === "fa";
  const top1 = max ?? Math.max(1, ...rows.map((r) => r.value || 0));
  const span = W - labelW - valueW - 10;
  const svg = svgRoot(W, H, title, desc);
  rows.forEach((r, i) => {
    const y = top + i * rowH;
    const w = Math.max(r.value > 0 ? 2 : 0, Math.round(((r.value || 0) / top1) * span));
    const barX = rtl ? W - labelW - w : labelW;
    const label = r.label.length > maxChars ? r.label.slice(0, maxChars - 1) + "…" : r.label;
    svg.append(
      s("text", { x: rtl ? W - 4 : labelW - 8, y: y + rowH / 2 + 4, "text-anchor": "end", class: "chart-label" }, isolate(label)),
      s("rect", { x: barX, y: y + 4, width: w, height: rowH - 8, rx: 3, class: cls }),
      s("text", { x: rtl ? barX - 6 : barX + w + 6, y: y + rowH / 2 + 4, "text-anchor": rtl ? "end" : "start", class: "chart-value" }, r.text),
    );
  });
  return svg;
}

/** columnChart draws stacked columns, one per period, oldest at the reading start. */
function columnChart(title, desc, cols, series) {
  // A few months take a few columns' width, not the whole line.
  const W = Math.min(chartWidth(false), Math.max(560, 54 + cols.length * 110)), H = 236, left = 44, bottom = 24, top = 12, right = 10;
  const rtl = lang() === "fa";
  const totals = cols.map((c) => series.reduce((n, sr) => n + (c.values[sr.key] || 0), 0));
  const max = niceMax(Math.max(1, ...totals));
  const plotW = W - left - right, plotH = H - top - bottom;
  const svg = svgRoot(W, H, title, desc);
  const axisX = rtl ? W - left : left;
  for (let k = 0; k <= 4; k++) {
    const v = (max / 4) * k, y = top + plotH - (v / max) * plotH;
    svg.append(s("line", { x1: rtl ? right : left, x2: rtl ? W - left : W - right, y1: y, y2: y, class: "chart-grid" }),
      s("text", { x: rtl ? axisX + 6 : axisX - 6, y: y + 4, "text-anchor": rtl ? "start" : "end", class: "chart-value" }, fmtNumber(v)));
  }
  const slot = plotW / Math.max(1, cols.length);
  const bw = Math.min(48, slot * 0.7);
  cols.forEach((c, i) => {
    const cx = rtl ? W - left - slot * (i + 0.5) : left + slot * (i + 0.5);
    let y = top + plotH;
    for (const sr of series) {
      const v = c.values[sr.key] || 0;
      if (!v) continue;
      const hgt = (v / max) * plotH;
      y -= hgt;
      svg.append(s("rect", { x: cx - bw / 2, y, width: bw, height: hgt, class: "bar " + sr.cls }));
    }
    if (totals[i]) svg.append(s("text", { x: cx, y: y - 4, "text-anchor": "middle", class: "chart-value" }, fmtNumber(totals[i])));
    svg.append(s("text", { x: cx, y: H - bottom + 17, "text-anchor": "middle", class: "chart-label" }, isolate(c.label)));
  });
  return svg;
}

/** chartLegend names a chart's series in HTML, which wraps however long the names are. */
function chartLegend(series) {
  return h("ul", { class: "chart-legend" }, series.map((sr) => h("li", {}, h("span", { class: "swatch " + sr.cls, "aria-hidden": "true" }), sr.label)));
}

/** niceMax is the top of a count axis of four steps: whole, round steps (1, 2, 3, 4, 5, 6, 8, 10, 20, 25…), never half a complaint. */
function niceMax(v) {
  const need = Math.max(1, Math.ceil(v / 4));
  const p = 10 ** Math.floor(Math.log10(need));
  for (const m of [1, 2, 2.5, 3, 4, 5, 6, 8, 10]) if (Number.isInteger(m * p) && m * p >= need) return 4 * m * p;
  return 4 * need;
}

// ---- tables -------------------------------------------------------------
function table(caption, headers, rows) {
  return h("div", { class: "table-wrap" }, h("table", { class: "report-table" },
    h("caption", {}, caption),
    h("thead", {}, h("tr", {}, headers.map((x) => h("th", { scope: "col" }, x)))),
    h("tbody", {}, rows.length ? rows.map((r) => h("tr", {}, r.map((c, i) => (i === 0 ? h("th", { scope: "row" }, c) : h("td", { class: "num" }, c)))))
      : h("tr", {}, h("td", { colspan: headers.length, class: "muted" }, t("reports.empty"))))));
}

/** fileDate writes a YYYY-MM-DD date for a file name: Solar Hijri in Persian, with ASCII digits. */
function fileDate(iso) {
  if (!iso || lang() !== "fa") return iso || "";
  const [gy, gm, gd] = iso.split("-").map(Number);
  const { jy, jm, jd } = toJalali(gy, gm, gd);
  return `${jy}-${String(jm).padStart(2, "0")}-${String(jd).padStart(2, "0")}`;
}

function exportButtons(what, path, q) {
  const stamp = fileDate(state.from) + (state.to ? "_" + fileDate(state.to) : "");
  const mk = (format) => h("button", {
    type: "button", class: "secondary",
    "aria-label": t("reports.exportOf", { what, button: t(format === "csv" ? "reports.csv" : "reports.xlsx") }),
    onclick: async (e) => {
      const btn = e.currentTarget;
      btn.disabled = true;
      try {
        const qq = new URLSearchParams(q);
        qq.set("format", format);
        qq.set("lang", lang());
        const name = path.split("/").pop();
        await download(`${path}?${qq}`, `favad-${name}${stamp ? "-" + stamp : ""}.${format}`);
      } catch (err) {
        showError(btn.parentElement.nextElementSibling, err);
      } finally {
        btn.disabled = false;
      }
    },
  }, t(format === "csv" ? "reports.csv" : "reports.xlsx"));
  return [h("div", { class: "actions export" }, mk("csv"), mk("xlsx")), h("div", { "aria-live": "polite" })];
}

function section(id, title, desc, ...content) {
  return h("section", { class: "card report", "aria-labelledby": id },
    h("h2", { id }, title), desc ? h("p", { class: "muted" }, desc) : null, content);
}

/** monthLabel names a Solar Hijri month as it is said: «آبان ۱۴۰۵», "Aban 1405". */
const monthLabel = (p) => {
  const parts = iranParts(p.start, lang() === "fa" ? "fa-IR-u-ca-persian-nu-arabext" : "en-GB-u-ca-persian", { year: "numeric", month: "long" });
  return `${parts.month} ${parts.year}`;
};

const substantiated = (o) => substantiatedOutcomes.reduce((n, k) => n + (o[k] || 0), 0);
const median = (d) => (d && d.count ? fmtDuration(d.median_s) : "–");

// ---- the sections ---------------------------------------------------------
function trendSection(ts) {
  const series = categories.map((c, i) => ({ key: c, label: t("category." + c), cls: "s" + (i + 1) }));
  const cols = ts.points.map((p) => ({ label: monthLabel(p), values: p.by_category }));
  const title = t("reports.trend");
  const rows = ts.points.map((p) => [monthLabel(p), fmtNumber(p.complaints), ...categories.map((c) => fmtNumber(p.by_category[c])), fmtNumber(substantiated(p.outcomes))]);
  return section("r-trend", title, t("reports.trend.desc"),
    h("figure", { class: "chart-box" }, columnChart(t("reports.chartOf", { what: title }), t("reports.trend.desc") + " " + t("reports.valuesIn"), cols, series), chartLegend(series)),
    table(title, [t("reports.month"), t("reports.complaints"), ...categories.map((c) => t("category." + c)), t("reports.substantiated")], rows),
    exportButtons(title, "/v1/reports/timeseries", query({ by: "month" })));
}

function rankingSection(kind, rep) {
  const agencyKind = kind === "agencies";
  const title = t("reports." + kind);
  const name = (r) => (agencyKind ? agencyName(r.agency_code) : officeName(r.office_code));
  const top = rep.items.slice(0, agencyKind ? 15 : 10);
  const chart = rep.items.length
    ? h("figure", { class: "chart-box" }, hbarChart(t("reports.chartOf", { what: title }), t("reports." + kind + ".desc") + " " + t("reports.valuesIn"),
      top.map((r) => ({ label: name(r), value: r.complaints, text: fmtNumber(r.complaints) }))))
    : null;
  const headers = [t(agencyKind ? "reports.agency" : "reports.office"), ...(agencyKind ? [] : [t("reports.agency")]),
    t("reports.complaints"), t("reports.substRate"), t("reports.slaShare"), t("reports.referrals"), t("reports.absenceRate")];
  const rows = rep.items.map((r) => [name(r), ...(agencyKind ? [] : [agencyName(r.agency_code)]),
    fmtNumber(r.complaints), fmtPercent(r.substantiated_rate), fmtPercent(r.sla.within_share),
    t("reports.referralsCell", { referred: r.referrals.referred, answered: r.referrals.answered, overdue: r.referrals.overdue }),
    fmtPercent(r.attendance.absence_rate)]);
  return section("r-" + kind, title, t("reports." + kind + ".desc"), chart, table(title, headers, rows),
    exportButtons(title, "/v1/reports/" + kind, query()));
}

function repeatSection(rep, rerun) {
  const title = t("reports.repeat");
  const min = h("input", { value: fmtNumber(state.min, { useGrouping: false }), inputmode: "numeric", autocomplete: "off", dir: "ltr" });
  const win = h("input", { value: fmtNumber(state.window, { useGrouping: false }), inputmode: "numeric", autocomplete: "off", dir: "ltr" });
  const form = h("form", { class: "row narrow", onsubmit: (e) => {
    e.preventDefault();
    state.min = Math.max(1, Math.min(10000, Number(digitsToASCII(min.value)) || 3));
    state.window = Math.max(1, Math.min(731, Number(digitsToASCII(win.value)) || 90));
    rerun();
  } }, field("rep-min", t("reports.min"), min), field("rep-window", t("reports.window"), win),
  h("div", {}, h("button", { type: "submit" }, t("reports.apply"))));
  const rows = rep.items.map((r) => [officeName(r.office_code), agencyName(r.agency_code), fmtNumber(r.complaints), fmtNumber(r.substantiated),
    fmtNumber(r.previous), h("span", { class: r.change > 0 ? "badge danger" : r.change < 0 ? "badge ok" : "badge" }, (r.change > 0 ? "+" : "") + fmtNumber(r.change))]);
  const days = Math.round(rep.window_s / 86400);
  const desc = t("reports.repeat.desc", { min: rep.min_substantiated, days });
  const chart = rep.items.length
    ? h("figure", { class: "chart-box" }, hbarChart(t("reports.chartOf", { what: title }), desc + " " + t("reports.valuesIn"),
      rep.items.slice(0, 10).map((r) => ({ label: officeName(r.office_code), value: r.substantiated, text: fmtNumber(r.substantiated) })), { cls: "bar s2" }))
    : null;
  return section("r-repeat", title, desc, form, chart,
    table(title, [t("reports.office"), t("reports.agency"), t("reports.complaints"), t("reports.substantiated"), t("reports.previous"), t("reports.change")], rows),
    exportButtons(title, "/v1/reports/repeat-offenders", repeatQuery()));
}

function groupPicker(rerender) {
  const sel = h("select", { onchange: () => { state.group = sel.value; rerender(); } },
    h("option", { value: "agency", selected: state.group === "agency" }, t("reports.byAgency")),
    h("option", { value: "office", selected: state.group === "office" }, t("reports.byOffice")));
  return sel;
}

function attendanceSection(agencies, offices, rerender) {
  const byOffice = state.group === "office";
  const rep = byOffice ? offices : agencies;
  const name = (r) => (byOffice ? officeName(r.office_code) : agencyName(r.agency_code));
  const title = t("reports.attendance");
  const withFindings = rep.items.filter((r) => r.attendance.findings > 0)
    .sort((a, b) => (b.attendance.absence_rate ?? -1) - (a.attendance.absence_rate ?? -1));
  const totals = Object.fromEntries(reasons.map((k) => [k, rep.items.reduce((n, r) => n + r.attendance.absentees[k], 0)]));
  const sel = groupPicker(rerender);
  const charts = withFindings.length ? h("div", { class: "grid2" },
    h("figure", { class: "chart-box" }, hbarChart(t("reports.chartOf", { what: t("reports.absenceRate") }), t("reports.attendance.desc") + " " + t("reports.valuesIn"),
      withFindings.slice(0, 10).map((r) => ({ label: name(r), value: r.attendance.absence_rate || 0, text: fmtPercent(r.attendance.absence_rate) })), { max: 1, cls: "bar s3", half: true })),
    h("figure", { class: "chart-box" }, hbarChart(t("reports.chartOf", { what: t("reports.absentees") }), t("reports.absentees.desc") + " " +
      reasons.map((k) => t("reports.reason." + k) + ": " + fmtNumber(totals[k])).join("، "),
      reasons.map((k) => ({ label: t("reports.reason." + k), value: totals[k], text: fmtNumber(totals[k]) })), { cls: "bar s4", half: true })))
    : null;
  const rows = withFindings.map((r) => {
    const a = r.attendance;
    return [name(r), fmtNumber(a.findings), fmtNumber(a.staff_expected), fmtNumber(a.staff_present), fmtPercent(a.absence_rate),
      ...reasons.map((k) => fmtNumber(a.absentees[k])), fmtNumber(a.non_work_activities),
      a.clients_waiting_max === undefined ? "–" : fmtNumber(a.clients_waiting_median) + " / " + fmtNumber(a.clients_waiting_max)];
  });
  return section("r-attendance", title, t("reports.attendance.desc"),
    h("div", { class: "row narrow" }, field("att-group", t("reports.groupBy"), sel)), charts,
    table(title, [t(byOffice ? "reports.office" : "reports.agency"), t("reports.findings"), t("reports.expected"), t("reports.present"), t("reports.absenceRate"),
      ...reasons.map((k) => t("reports.reason." + k)), t("reports.nonWork"), t("reports.waiting")], rows),
    exportButtons(title, byOffice ? "/v1/reports/offices" : "/v1/reports/agencies", query()));
}

function slaSection(agencies, offices, rerender) {
  const byOffice = state.group === "office";
  const rep = byOffice ? offices : agencies;
  const name = (r) => (byOffice ? officeName(r.office_code) : agencyName(r.agency_code));
  const title = t("reports.sla");
  const measured = rep.items.filter((r) => r.sla.due > 0 || r.sla.breaches > 0);
  const chart = measured.length ? h("figure", { class: "chart-box" }, hbarChart(t("reports.chartOf", { what: t("reports.slaShare") }), t("reports.sla.desc") + " " + t("reports.valuesIn"),
    measured.slice(0, 15).map((r) => ({ label: name(r), value: r.sla.within_share || 0, text: fmtPercent(r.sla.within_share) })), { max: 1, cls: "bar s1" })) : null;
  const rows = rep.items.map((r) => [name(r), fmtNumber(r.complaints), fmtNumber(r.sla.due), fmtNumber(r.sla.within), fmtPercent(r.sla.within_share), fmtNumber(r.sla.breaches),
    median(r.to_first_routing), median(r.to_first_action), r.to_outcome.count ? fmtDuration(r.to_outcome.median_s) + " / " + fmtDuration(r.to_outcome.p90_s) : "–"]);
  return section("r-sla", title, t("reports.sla.desc"),
    h("div", { class: "row narrow" }, field("sla-group", t("reports.groupBy"), groupPicker(rerender))), chart,
    table(title, [t(byOffice ? "reports.office" : "reports.agency"), t("reports.complaints"), t("reports.due"), t("reports.within"), t("reports.slaShare"), t("reports.breaches"),
      t("reports.toRouting"), t("reports.toAction"), t("reports.toOutcome")], rows),
    exportButtons(title, byOffice ? "/v1/reports/offices" : "/v1/reports/agencies", query()));
}

function inspectorsSection(rep) {
  const title = t("reports.inspectors");
  const rows = rep.items.map((r) => [inspectorName(r.inspector_id), fmtNumber(r.open), fmtNumber(r.visits), fmtNumber(r.calls),
    fmtNumber(Object.values(r.outcomes).reduce((a, b) => a + b, 0)), fmtNumber(substantiated(r.outcomes)), median(r.assignment_to_outcome)]);
  return section("r-inspectors", title, null,
    table(title, [t("reports.inspector"), t("reports.open"), t("reports.visits"), t("reports.calls"), t("reports.outcomes"), t("reports.substantiated"), t("reports.assignToOutcome")], rows),
    exportButtons(title, "/v1/reports/inspectors", query()));
}

// ---- the screen -----------------------------------------------------------
function filterForm(ref, onApply) {
  if (!state.from && !state.to) {
    const r = presetRange(state.preset);
    state.from = isoDate(r.from);
    state.to = isoDate(r.to);
  }
  const fromG = parseDate(state.from), toG = parseDate(state.to);
  const from = h("input", { value: fromG ? showDate(fromG) : "", dir: "ltr", inputmode: "numeric", autocomplete: "off", placeholder: lang() === "fa" ? "۱۴۰۵/۰۹/۰۱" : "1405/09/01" });
  const to = h("input", { value: toG ? showDate(toG) : "", dir: "ltr", inputmode: "numeric", autocomplete: "off", placeholder: lang() === "fa" ? "۱۴۰۵/۰۹/۳۰" : "1405/09/30" });
  from.setAttribute("aria-describedby", "rep-date-hint");
  to.setAttribute("aria-describedby", "rep-date-hint");
  const province = h("select", {}, h("option", { value: "" }, t("reports.all")),
    ref.provinces.map((p) => h("option", { value: p, selected: state.province === p }, p)));
  const agency = h("select", {}, h("option", { value: "" }, t("reports.all")),
    [...ref.agencies.values()].sort((a, b) => agencyName(a.code).localeCompare(agencyName(b.code), lang()))
      .map((a) => h("option", { value: a.code, selected: state.agency === a.code }, agencyName(a.code))));
  const office = h("select", {});
  const fillOffices = () => {
    const list = [...ref.offices.values()].filter((o) => (!agency.value || o.agency_code === agency.value) &&
      (!province.value || normalizeText(o.province) === normalizeText(province.value)))
      .sort((a, b) => a.name_fa.localeCompare(b.name_fa, "fa"));
    const keep = office.value || state.office;
    office.replaceChildren(h("option", { value: "" }, t("reports.all")), ...list.map((o) => h("option", { value: o.code, selected: keep === o.code }, o.name_fa + " — " + o.city)));
  };
  agency.addEventListener("change", fillOffices);
  province.addEventListener("change", fillOffices);
  fillOffices();
  const category = h("select", {}, h("option", { value: "" }, t("reports.all")),
    categories.map((c) => h("option", { value: c, selected: state.category === c }, t("category." + c))));
  const errors = h("div", { "aria-live": "assertive" });
  const presets = h("div", { class: "actions", role: "group", "aria-label": t("reports.presets") },
    ["month", "30d", "year"].map((p) => h("button", { type: "button", class: "secondary", "aria-pressed": state.preset === p ? "true" : "false",
      onclick: () => {
        const r = presetRange(p);
        state.preset = p;
        state.from = isoDate(r.from);
        state.to = isoDate(r.to);
        from.value = showDate(r.from);
        to.value = showDate(r.to);
        submit();
      } }, t("reports.preset." + p))));
  const submit = () => {
    errors.replaceChildren();
    const f = from.value.trim() ? parseDate(digitsToASCII(from.value)) : null;
    const tt = to.value.trim() ? parseDate(digitsToASCII(to.value)) : null;
    const bad = [];
    if (from.value.trim() && !f) bad.push({ field: t("reports.from"), message: t("reports.badDate") });
    if (to.value.trim() && !tt) bad.push({ field: t("reports.to"), message: t("reports.badDate") });
    if (bad.length) { showError(errors, { message: t("reports.badDate"), fields: bad }); return; }
    const changedDates = (f ? isoDate(f) : "") !== state.from || (tt ? isoDate(tt) : "") !== state.to;
    if (changedDates) state.preset = "";
    state.from = f ? isoDate(f) : "";
    state.to = tt ? isoDate(tt) : "";
    Object.assign(state, { province: province.value, agency: agency.value, office: office.value, category: category.value });
    onApply(errors);
  };
  const form = h("form", { class: "card filters", onsubmit: (e) => { e.preventDefault(); submit(); } },
    h("h2", {}, t("reports.filters")),
    presets,
    h("div", { class: "row" },
      field("rep-from", t("reports.from"), from),
      field("rep-to", t("reports.to"), to),
      field("rep-province", t("reports.province"), province),
      field("rep-agency", t("reports.agency"), agency),
      field("rep-office", t("reports.office"), office),
      field("rep-category", t("reports.category"), category)),
    h("div", { class: "muted", id: "rep-date-hint" }, t("reports.dateHint")),
    h("div", { class: "actions" }, h("button", { type: "submit" }, t("reports.apply"))),
    errors);
  return form;
}

route("#/reports", {
  title: "reports.title", nav: "reports.nav", roles: ["supervisor", "dispatcher", "admin"],
  async render(main) {
    main.append(h("h1", {}, t("reports.title")));
    const ref = await loadReference();
    const out = h("div", { "aria-live": "polite", "aria-busy": "false" });
    let data = null;
    const draw = () => {
      if (!data) return;
      const [ag, of, rep, ins, ts] = data;
      const fromG = parseDate(isoOf(ag.from)), toG = parseDate(isoOf(new Date(new Date(ag.to).getTime() - 1)));
      out.replaceChildren(...[
        h("p", { class: "period" }, t("reports.period", { from: fromG ? showDate(fromG) : "–", to: toG ? showDate(toG) : "–" }),
          ag.catching_up ? null : [" ", h("span", { class: "muted" }, "(" + t("reports.asOf", { at: fmtDate(new Date()) }) + ")")]),
        ag.catching_up ? h("p", { class: "warning", role: "status" }, t("reports.catchingUp")) : null,
        trendSection(ts),
        rankingSection("agencies", ag),
        rankingSection("offices", of),
        repeatSection(rep, () => reload(null, true)),
        attendanceSection(ag, of, draw),
        slaSection(ag, of, draw),
        inspectorsSection(ins)].filter(Boolean));
    };
    const reload = async (errors, repeatOnly) => {
      out.setAttribute("aria-busy", "true");
      if (!repeatOnly) out.replaceChildren(h("p", { class: "muted" }, t("reports.loading")));
      try {
        if (repeatOnly && data) {
          data[2] = await api("GET", "/v1/reports/repeat-offenders?" + repeatQuery());
        } else {
          const q = query();
          data = await Promise.all([
            api("GET", "/v1/reports/agencies?" + q), api("GET", "/v1/reports/offices?" + q),
            api("GET", "/v1/reports/repeat-offenders?" + repeatQuery()), api("GET", "/v1/reports/inspectors?" + q),
            api("GET", "/v1/reports/timeseries?" + query({ by: "month" })),
          ]);
        }
        draw();
        if (repeatOnly) document.getElementById("r-repeat")?.scrollIntoView({ block: "start" });
      } catch (err) {
        out.replaceChildren();
        showError(errors || out, err);
      } finally {
        out.setAttribute("aria-busy", "false");
      }
    };
    main.append(filterForm(ref, (errors) => reload(errors)), out);
    await reload();
  },
});

/** isoOf is the Iran-local date of a moment, YYYY-MM-DD. */
function isoOf(v) {
  return isoDate(iranToday(v instanceof Date ? v : new Date(v)));
}
