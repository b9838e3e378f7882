// Phone inspectors work in the console through the same sync protocol as
// the phone app: their queue comes from GET /v1/sync/pull, and what they do
// (a call record, the complaint's outcome, an escalation to a field visit)
// goes to POST /v1/sync/push as mutations with UUIDv7 ids and this console's
// device sequence.
//
// The device sequence. The console signs in with core's device id
// ("console-…", kept in localStorage). Its mutations are numbered in
// localStorage under favad.seq.<user>.<device>, and each unacknowledged
// mutation waits in an outbox beside it (favad.outbox.<user>.<device>), so
// that a push whose answer was lost is sent again with the same id and
// sequence and the server answers it as a replay. Every pull and push also
// says the highest sequence the server holds for the device
// (last_device_seq); the next number is always above both, so a sequence is
// never reused, even by another account signed in on this browser before.
// The trade-off: clearing the browser's storage loses the device id, the
// counter and any unsent mutation together. core then makes a new console
// device id at the next sign-in and its sequences start again from 1 under
// that new id — never reusing the old device's numbers — but work queued
// and not yet acknowledged when the storage was cleared is gone (the console
// pushes at once, so that is at most the action in flight).
//
// The ledger. What the server acknowledged stays in a ledger beside the
// outbox (favad.ledger.<user>.<device>: the newest LEDGER_KEEP mutations of
// the last LEDGER_DAYS days, the newest always), with the highest
// acknowledged sequence (favad.acked.<user>.<device>). Every push says it
// (acked_through). A server restored from a backup that lost some of them
// answers 409 server_behind with the sequence it holds, and the console
// sends the ledger's mutations above it again, with their ids and
// sequences, before its new work — as the phone app does — so a failover
// loses nothing this browser still holds. A pull that shows the server
// holding less than was acknowledged sends them again at once.
//
// Its own call records. The console keeps each call record it created from
// its push's answer (keepOwn) and pulls with own_writes=omit, so a delta
// pull does not send them back; a full sync (every visit of the screen)
// still sends everything.
import { addLabels, api, ApiError, fmtDate, fmtDuration, h, lang, rawFetch, route, session, showError, t, toast, digitsToASCII, onLeave } from "../core.js";
import { uuidv7 } from "./ids.js";
import { localDigits } from "./routing.js";
import { iranInstant, iranToday, isoDate, jalaliText, nowIranClock } from "./jalali.js";

addLabels({
  fa: {
    "phone.title": "کارتابل تلفنی", "phone.nav": "کارتابل",
    "phone.fieldTitle": "بازرس حضوری", "phone.fieldText": "ابزار کار بازرسان حضوری برنامه تلفن همراه فواد است: بازدیدها، یافته‌ها و عکس‌ها را با آن ثبت کنید. این کنسول برای بازرسان تلفنی است.",
    "phone.intro": "شکایت‌هایی که برای پیگیری تلفنی به شما ارجاع شده است. مشخصات تماس‌گیرنده نزد مرکز پیام می‌ماند.",
    "phone.refresh": "به‌روزرسانی", "phone.updated": "به‌روز شده: {at}", "phone.none": "شکایت بازی در کارتابل شما نیست.",
    "phone.number": "شکایت شماره {n}", "phone.due": "مهلت", "phone.overdue": "مهلت گذشته", "phone.callTime": "زمان تماس شهروند",
    "phone.office": "دستگاه", "phone.officePhone": "تلفن", "phone.noPhone": "شماره‌ای ثبت نشده", "phone.hours": "ساعت کار: {opens} تا {closes}",
    "phone.dispatchNote": "یادداشت مرکز پیام", "phone.calls": "تماس‌های ثبت‌شده", "phone.noCalls": "هنوز تماسی ثبت نشده",
    "phone.recordCall": "ثبت تماس", "phone.callee": "طرف گفتگو", "phone.calleeRole": "سمت (اختیاری)", "phone.callNumber": "شماره گرفته‌شده",
    "phone.date": "تاریخ", "phone.start": "ساعت شروع", "phone.startHint": "مانند ۱۰:۳۰ (به وقت ایران)", "phone.duration": "مدت (دقیقه)",
    "phone.durationHint": "مانند ۴ یا ۴:۳۰", "phone.callOutcome": "نتیجه تماس", "phone.notes": "یادداشت (اختیاری)",
    "phone.co.reached": "پاسخ داد", "phone.co.no_answer": "پاسخ نداد", "phone.co.busy": "اشغال", "phone.co.wrong_number": "شماره اشتباه",
    "phone.saveCall": "ثبت تماس", "phone.callSaved": "تماس ثبت شد",
    "phone.outcome": "نتیجه رسیدگی", "phone.outcomeValue": "نتیجه", "phone.statement": "گزارش بازرس", "phone.saveOutcome": "ثبت نتیجه و بستن",
    "phone.outcomeSaved": "نتیجه ثبت شد", "phone.confirmOutcome": "نتیجه ثبت و شکایت بسته شود؟",
    "phone.escalate": "نیاز به بازدید حضوری", "phone.reason": "دلیل", "phone.reasonHint": "چرا رسیدگی تلفنی کافی نیست (حداکثر ۲۰۰۰ نویسه)",
    "phone.doEscalate": "بازگرداندن به مرکز پیام برای بازدید حضوری", "phone.escalated": "شکایت برای ارجاع به بازرس حضوری به مرکز پیام برگشت",
    "phone.confirmEscalate": "شکایت از کارتابل شما خارج و برای بازدید حضوری به مرکز پیام برگردانده شود؟",
    "phone.rejected": "ثبت نشد: {msg}", "phone.review": "ثبت شد و برای بازبینی مرکز پیام نگه داشته شد: {msg}",
    "phone.badTime": "ساعت را مانند ۱۰:۳۰ بنویسید", "phone.badDate": "تاریخ را مانند ۱۴۰۵/۰۹/۰۱ بنویسید", "phone.future": "زمان تماس نمی‌تواند در آینده باشد",
    "phone.badDuration": "مدت را به دقیقه بنویسید", "phone.required": "این بخش لازم است", "phone.upgrade": "این نسخه کنسول دیگر پذیرفته نیست؛ صفحه را دوباره بارگیری کنید.",
    "phone.pending": "{n} کار ثبت‌نشده در انتظار ارسال است", "phone.retry": "ارسال دوباره",
    "phone.show": "نمایش", "phone.hide": "بستن",
  },
  en: {
    "phone.title": "Phone queue", "phone.nav": "Queue",
    "phone.fieldTitle": "Field inspector", "phone.fieldText": "Field inspectors work with the FAVAD phone app: record visits, findings and photos there. This console is for phone inspectors.",
    "phone.intro": "Complaints routed to you for a phone resolution. The caller's details stay with the message center.",
    "phone.refresh": "Refresh", "phone.updated": "Updated {at}", "phone.none": "No open complaints in your queue.",
    "phone.number": "Complaint {n}", "phone.due": "Due", "phone.overdue": "Overdue", "phone.callTime": "Called in",
    "phone.office": "Office", "phone.officePhone": "Phone", "phone.noPhone": "no number on file", "phone.hours": "Hours: {opens}–{closes}",
    "phone.dispatchNote": "Message center's note", "phone.calls": "Calls recorded", "phone.noCalls": "No calls recorded yet",
    "phone.recordCall": "Record a call", "phone.callee": "Spoke with", "phone.calleeRole": "Their position (optional)", "phone.callNumber": "Number called",
    "phone.date": "Date", "phone.start": "Started at", "phone.startHint": "such as 10:30 (Iran time)", "phone.duration": "Duration (minutes)",
    "phone.durationHint": "such as 4 or 4:30", "phone.callOutcome": "How the call went", "phone.notes": "Notes (optional)",
    "phone.co.reached": "Reached", "phone.co.no_answer": "No answer", "phone.co.busy": "Busy", "phone.co.wrong_number": "Wrong number",
    "phone.saveCall": "Record the call", "phone.callSaved": "Call recorded",
    "phone.outcome": "Outcome", "phone.outcomeValue": "Outcome", "phone.statement": "Inspector's statement", "phone.saveOutcome": "Record the outcome and close",
    "phone.outcomeSaved": "Outcome recorded", "phone.confirmOutcome": "Record the outcome and close the complaint?",
    "phone.escalate": "Needs a field visit", "phone.reason": "Reason", "phone.reasonHint": "Why a phone resolution is not enough (at most 2000 characters)",
    "phone.doEscalate": "Hand back to dispatch for a field visit", "phone.escalated": "The complaint went back to dispatch for a field inspector",
    "phone.confirmEscalate": "Take the complaint out of your queue and hand it back to dispatch for a field visit?",
    "phone.rejected": "Not recorded: {msg}", "phone.review": "Recorded and kept for dispatch to review: {msg}",
    "phone.badTime": "Write the time as 10:30", "phone.badDate": "Write the date as 1405/09/01 or 2026-11-22", "phone.future": "A call cannot be in the future",
    "phone.badDuration": "Write the duration in minutes", "phone.required": "Required", "phone.upgrade": "This console version is no longer accepted; reload the page.",
    "phone.pending": "{n} unsent actions waiting", "phone.retry": "Send again",
    "phone.show": "Show", "phone.hide": "Hide",
  },
});

const APP_VERSION = "console-1";
const syncHeaders = { "Favad-Protocol": "1", "Favad-App-Version": APP_VERSION };
const callOutcomes = ["reached", "no_answer", "busy", "wrong_number"];
const outcomes = ["substantiated", "not_substantiated", "resolved_on_spot", "referred_for_discipline"];

// ---- the device's sequence and outbox ----------------------------------
const deviceID = () => localStorage.getItem("favad.device") || "unknown";
const key = (what) => `favad.${what}.${session.id}.${deviceID()}`;
let serverLastSeq = 0;

function nextSeq() {
  const local = Number(localStorage.getItem(key("seq")) || 0);
  const queued = outbox().reduce((m, x) => Math.max(m, x.device_seq), 0);
  const seq = Math.max(local, serverLastSeq, queued) + 1;
  localStorage.setItem(key("seq"), String(seq));
  return seq;
}

function outbox() {
  try { return JSON.parse(localStorage.getItem(key("outbox")) || "[]"); } catch (_) { return []; }
}
function setOutbox(list) {
  if (list.length) localStorage.setItem(key("outbox"), JSON.stringify(list));
  else localStorage.removeItem(key("outbox"));
}

const LEDGER_KEEP = 500;
const LEDGER_DAYS = 30;

function ledger() {
  try { return JSON.parse(localStorage.getItem(key("ledger")) || "[]"); } catch (_) { return []; }
}
const ackedThrough = () => Number(localStorage.getItem(key("acked")) || 0);

/** remember puts answered mutations in the ledger and raises acked_through. */
function remember(muts) {
  if (!muts.length) return;
  const now = Date.now();
  const ids = new Set(muts.map((m) => m.mutation_id));
  let list = ledger().filter((e) => !ids.has(e.m.mutation_id)).concat(muts.map((m) => ({ m, at: now })));
  list.sort((a, b) => a.m.device_seq - b.m.device_seq);
  const cutoff = now - LEDGER_DAYS * 86400000;
  list = list.filter((e, i) => i === list.length - 1 || e.at >= cutoff).slice(-LEDGER_KEEP);
  localStorage.setItem(key("ledger"), JSON.stringify(list));
  localStorage.setItem(key("acked"), String(muts.reduce((m, x) => Math.max(m, x.device_seq), ackedThrough())));
}

/**
 * sendPush posts mutations with acked_through. When the server lost some
 * of what it acknowledged (server_behind, or held, the sequence a pull
 * showed, below acked_through), the ledger's mutations above what it holds
 * go first, with the same ids and sequences, in pushes of at most 400. It
 * returns the last answer and every mutation answered.
 */
async function sendPush(muts, held) {
  const acked = ackedThrough();
  if (held === undefined && muts.length) {
    try {
      return { res: await syncFetch("POST", "/v1/sync/push", { mutations: muts, acked_through: acked }), sent: muts };
    } catch (err) {
      if (err.status !== 409 || err.code !== "server_behind") throw err;
      held = Number(err.problem.last_device_seq || 0);
    }
  }
  const ids = new Set(muts.map((m) => m.mutation_id));
  const again = ledger().map((e) => e.m).filter((m) => m.device_seq > (held || 0) && !ids.has(m.mutation_id));
  const all = again.concat(muts);
  let res = null;
  const results = [];
  for (let i = 0; i < all.length; i += 400) {
    res = await syncFetch("POST", "/v1/sync/push", { mutations: all.slice(i, i + 400), acked_through: again.length ? acked : held || 0 });
    results.push(...res.results);
  }
  return { res: res && { ...res, results }, sent: all };
}

/** mutation makes the next mutation of this console device. */
function mutation(kind, recordID, baseVersion, payload) {
  const now = new Date();
  return {
    mutation_id: uuidv7(), device_seq: nextSeq(), kind, record_id: recordID, base_version: baseVersion || 0,
    device_time: now.toISOString(), hlc: { wall_ms: now.getTime(), logical: 0 }, payload,
  };
}

async function syncFetch(method, path, body) {
  const r = await rawFetch(method, path, body, syncHeaders);
  const text = await r.text();
  const data = text ? JSON.parse(text) : null;
  if (r.status === 426) throw new ApiError(426, { detail: t("phone.upgrade"), code: "upgrade_required" });
  if (!r.ok) throw new ApiError(r.status, data);
  return data;
}

// withLock runs fn alone among this browser's tabs (when the browser has Web
// Locks), so that two tabs never number two mutations alike.
function withLock(fn) {
  if (navigator.locks?.request) return navigator.locks.request("favad-push-" + deviceID(), fn);
  return fn();
}

/**
 * push sends muts (after anything still in the outbox) and returns their
 * results. They are in the outbox until the server has answered, so a lost
 * answer is sent again, as the same mutations, on the next push or visit.
 */
function push(makeMuts) {
  return withLock(async () => {
    const muts = makeMuts();
    const all = outbox().concat(muts);
    setOutbox(all);
    let res, sent;
    try {
      ({ res, sent } = await sendPush(all));
    } catch (err) {
      // A batch refused whole (malformed, too large) was not applied and
      // would be refused again: drop it. Anything else (offline, a 5xx, an
      // expired session) keeps it for the next try.
      if ([400, 413, 415, 422].includes(err.status)) setOutbox([]);
      throw err;
    }
    serverLastSeq = Math.max(serverLastSeq, res.last_device_seq || 0);
    remember(sent);
    keepOwn(sent, res.results);
    setOutbox([]);
    const mine = new Set(muts.map((m) => m.mutation_id));
    return res.results.filter((r) => mine.has(r.mutation_id));
  });
}

/** resend sends the ledger's mutations the server no longer holds (a pull showed it behind). */
function resend() {
  return withLock(async () => {
    const held = serverLastSeq;
    if (held >= ackedThrough()) return;
    const { res, sent } = await sendPush([], held);
    if (res) serverLastSeq = Math.max(serverLastSeq, res.last_device_seq || 0);
    remember(sent);
    if (res) keepOwn(sent, res.results);
  });
}

// ---- the pulled records ---------------------------------------------------
const store = { complaints: new Map(), offices: new Map(), calls: new Map(), cursor: "", at: null };

function applyPage(page) {
  if (page.reset) for (const m of [store.complaints, store.offices, store.calls]) m.clear();
  for (const ch of page.changes) {
    const m = ch.kind === "complaint" ? store.complaints : ch.kind === "office" ? store.offices : ch.kind === "call" ? store.calls : null;
    if (!m) continue;
    if (ch.op === "remove") m.delete(ch.id);
    else m.set(ch.id, ch.record);
  }
  store.cursor = page.cursor;
  serverLastSeq = Math.max(serverLastSeq, page.last_device_seq || 0);
}

/**
 * keepOwn stores the call records this console created, as the server
 * stores them, from the answers to their push (applied, replays too): the
 * payload with the record's id, the account's id and the answer's version,
 * the number in ASCII digits. A delta pull with own_writes=omit leaves them out.
 */
function keepOwn(sent, results) {
  const byID = new Map(sent.map((m) => [m.mutation_id, m]));
  for (const r of results) {
    const m = byID.get(r.mutation_id);
    if (!m || m.kind !== "call.create" || r.status !== "applied") continue;
    store.calls.set(m.record_id, { callee_name: "", ...m.payload, number: digitsToASCII(m.payload.number || ""),
      id: m.record_id, inspector_id: session.id, version: r.version });
  }
}

/** pull reads the inspector's scope: a full sync the first time, then what changed (less this console's own call records). */
async function pull() {
  let changed = false;
  for (let i = 0; i < 100; i++) {
    const q = new URLSearchParams({ limit: "1000", own_writes: "omit" });
    if (store.cursor) q.set("cursor", store.cursor);
    const page = await syncFetch("GET", "/v1/sync/pull?" + q);
    changed = changed || page.changes.length > 0 || page.reset;
    applyPage(page);
    if (!page.has_more) break;
  }
  store.at = new Date();
  return changed;
}

async function officeOf(code) {
  if (store.offices.has(code)) return store.offices.get(code);
  try {
    const o = await api("GET", "/v1/offices/" + encodeURIComponent(code));
    store.offices.set(code, o);
    return o;
  } catch (_) {
    return { code, name_fa: code, phone: "" };
  }
}

// ---- forms ----------------------------------------------------------------

/** answer shows a push result: true when it was applied. */
function answer(r, errors, okMsg) {
  if (r.status === "applied" || r.status === "merged") { toast(okMsg); return true; }
  if (r.status === "resolved_by_rule") { toast(t("phone.review", { msg: r.message || r.rule })); return true; }
  showError(errors, { message: t("phone.rejected", { msg: r.message || r.code }), fields: r.fields || [] });
  return false;
}

function radioGroup(name, legend, values, labelKey, required = true) {
  return h("fieldset", {}, h("legend", {}, legend),
    h("div", { class: "radio-row" }, values.map((v) => h("label", {}, h("input", { type: "radio", name, value: v, required }), t(labelKey + v)))));
}

function callForm(c, office, done) {
  const p = "call-" + c.id;
  const callee = h("input", { id: p + "-callee", autocomplete: "off" });
  const role = h("input", { id: p + "-role", autocomplete: "off" });
  const number = h("input", { id: p + "-number", dir: "ltr", inputmode: "tel", value: office.phone || "", required: true, autocomplete: "off" });
  const date = h("input", { id: p + "-date", dir: "ltr", value: lang() === "fa" ? localDigits(jalaliText(iranToday())) : isoDate(iranToday()), required: true, autocomplete: "off" });
  const start = h("input", { id: p + "-start", dir: "ltr", value: localDigits(nowIranClock()), required: true, autocomplete: "off", "aria-describedby": p + "-start-hint" });
  const duration = h("input", { id: p + "-duration", dir: "ltr", inputmode: "decimal", required: true, autocomplete: "off", "aria-describedby": p + "-duration-hint" });
  const notes = h("textarea", { id: p + "-notes", maxlength: 2000 });
  const errors = h("div", { "aria-live": "assertive" });
  const form = h("form", { class: "inline-form", onsubmit: async (e) => {
    e.preventDefault();
    errors.replaceChildren();
    const outcome = form.querySelector(`input[name="${p}-outcome"]:checked`)?.value;
    const bad = [];
    const when = iranInstant(digitsToASCII(date.value), digitsToASCII(start.value));
    const dm = /^\s*(\d+)(?:\s*[:.]\s*(\d{1,2}))?\s*$/.exec(digitsToASCII(duration.value));
    if (!when.date) bad.push({ field: t("phone.date"), message: t("phone.badDate") });
    if (!when.clock) bad.push({ field: t("phone.start"), message: t("phone.badTime") });
    if (!dm || (dm[2] && Number(dm[2]) > 59)) bad.push({ field: t("phone.duration"), message: t("phone.badDuration") });
    if (!number.value.trim()) bad.push({ field: t("phone.callNumber"), message: t("phone.required") });
    if (!outcome) bad.push({ field: t("phone.callOutcome"), message: t("phone.required") });
    const startedAt = when.iso;
    if (startedAt && new Date(startedAt) > new Date()) bad.push({ field: t("phone.start"), message: t("phone.future") });
    if (bad.length) { showError(errors, { message: bad[0].message, fields: bad }); return; }
    const seconds = Number(dm[1]) * 60 + Number(dm[2] || 0);
    const payload = { complaint_id: c.id, number: digitsToASCII(number.value.trim()), started_at: startedAt, duration_s: seconds, outcome };
    if (callee.value.trim()) payload.callee_name = callee.value.trim();
    if (role.value.trim()) payload.callee_role = role.value.trim();
    if (notes.value.trim()) payload.notes = notes.value.trim();
    const btn = form.querySelector("button[type=submit]");
    btn.disabled = true;
    try {
      const results = await push(() => {
        const list = [];
        if (c.status === "assigned") list.push(mutation("complaint.start", c.id, c.version, {})); // the first call starts the work
        list.push(mutation("call.create", uuidv7(), 0, payload));
        return list;
      });
      if (answer(results[results.length - 1], errors, t("phone.callSaved"))) await done();
    } catch (err) {
      showError(errors, err);
    } finally {
      btn.disabled = false;
    }
  } },
  h("h3", {}, t("phone.recordCall")),
  h("div", { class: "row" },
    h("div", { class: "field" }, h("label", { for: callee.id }, t("phone.callee")), callee),
    h("div", { class: "field" }, h("label", { for: role.id }, t("phone.calleeRole")), role),
    h("div", { class: "field" }, h("label", { for: number.id }, t("phone.callNumber")), number)),
  h("div", { class: "row" },
    h("div", { class: "field" }, h("label", { for: date.id }, t("phone.date")), date),
    h("div", { class: "field" }, h("label", { for: start.id }, t("phone.start")), start, h("div", { class: "muted", id: p + "-start-hint" }, t("phone.startHint"))),
    h("div", { class: "field" }, h("label", { for: duration.id }, t("phone.duration")), duration, h("div", { class: "muted", id: p + "-duration-hint" }, t("phone.durationHint")))),
  radioGroup(p + "-outcome", t("phone.callOutcome"), callOutcomes, "phone.co."),
  h("div", { class: "field" }, h("label", { for: notes.id }, t("phone.notes")), notes),
  errors,
  h("div", { class: "actions" }, h("button", { type: "submit" }, t("phone.saveCall"))));
  return form;
}

function outcomeForm(c, done) {
  const p = "out-" + c.id;
  const statement = h("textarea", { id: p + "-statement", maxlength: 4000, required: true });
  const errors = h("div", { "aria-live": "assertive" });
  const form = h("form", { class: "inline-form", onsubmit: async (e) => {
    e.preventDefault();
    errors.replaceChildren();
    const value = form.querySelector(`input[name="${p}-value"]:checked`)?.value;
    const bad = [];
    if (!value) bad.push({ field: t("phone.outcomeValue"), message: t("phone.required") });
    if (!statement.value.trim()) bad.push({ field: t("phone.statement"), message: t("phone.required") });
    if (bad.length) { showError(errors, { message: bad[0].message, fields: bad }); return; }
    if (!confirm(t("phone.confirmOutcome"))) return;
    const btn = form.querySelector("button[type=submit]");
    btn.disabled = true;
    try {
      const [r] = await push(() => [mutation("complaint.outcome", c.id, c.version, { outcome: value, statement: statement.value.trim() })]);
      if (answer(r, errors, t("phone.outcomeSaved"))) await done();
    } catch (err) {
      showError(errors, err);
    } finally {
      btn.disabled = false;
    }
  } },
  h("h3", {}, t("phone.outcome")),
  radioGroup(p + "-value", t("phone.outcomeValue"), outcomes, "outcome."),
  h("div", { class: "field" }, h("label", { for: statement.id }, t("phone.statement")), statement),
  errors,
  h("div", { class: "actions" }, h("button", { type: "submit" }, t("phone.saveOutcome"))));
  return form;
}

function escalateForm(c, done) {
  const p = "esc-" + c.id;
  const reason = h("textarea", { id: p + "-reason", maxlength: 2000, required: true, "aria-describedby": p + "-hint" });
  const errors = h("div", { "aria-live": "assertive" });
  const form = h("form", { class: "inline-form", onsubmit: async (e) => {
    e.preventDefault();
    errors.replaceChildren();
    if (!reason.value.trim()) { showError(errors, { message: t("phone.required"), fields: [{ field: t("phone.reason"), message: t("phone.required") }] }); return; }
    if (!confirm(t("phone.confirmEscalate"))) return;
    const btn = form.querySelector("button[type=submit]");
    btn.disabled = true;
    try {
      const [r] = await push(() => [mutation("complaint.escalate", c.id, c.version, { reason: reason.value.trim() })]);
      if (answer(r, errors, t("phone.escalated"))) await done();
    } catch (err) {
      showError(errors, err);
    } finally {
      btn.disabled = false;
    }
  } },
  h("h3", {}, t("phone.escalate")),
  h("div", { class: "field" }, h("label", { for: reason.id }, t("phone.reason")), reason, h("div", { class: "muted", id: p + "-hint" }, t("phone.reasonHint"))),
  errors,
  h("div", { class: "actions" }, h("button", { type: "submit", class: "danger" }, t("phone.doEscalate"))));
  return form;
}

async function card(c, done) {
  const office = await officeOf(c.office_code);
  const overdue = c.overdue || new Date(c.due_at) < new Date();
  const calls = [...store.calls.values()].filter((x) => x.complaint_id === c.id).sort((a, b) => a.started_at.localeCompare(b.started_at));
  const tel = (office.phone || "").replace(/[^0-9+]/g, "");
  return h("article", { class: "card" + (overdue ? " overdue-card" : ""), "aria-labelledby": "pc-" + c.id },
    h("h2", { id: "pc-" + c.id }, t("phone.number", { n: c.number }), " — ", office.name_fa),
    h("div", { class: "meta" },
      h("span", { class: "badge" }, t("status." + c.status)), h("span", { class: "badge" }, t("category." + c.category)),
      h("span", { class: "badge" }, t("priority." + c.priority)),
      h("span", { class: overdue ? "badge danger" : "badge warn" }, (overdue ? t("phone.overdue") + " — " : "") + t("phone.due") + ": " + fmtDate(c.due_at)),
      h("span", {}, t("phone.callTime") + ": " + fmtDate(c.call_time))),
    h("p", { class: "desc" }, c.description),
    c.assignment?.note ? h("p", { class: "desc" }, h("strong", {}, t("phone.dispatchNote") + ": "), c.assignment.note) : null,
    h("div", { class: "meta" },
      h("span", {}, t("phone.officePhone") + ": "),
      tel ? h("a", { class: "phone-link", href: "tel:" + tel }, office.phone) : h("span", {}, t("phone.noPhone")),
      office.hours?.opens ? h("span", {}, t("phone.hours", { opens: localDigits(office.hours.opens), closes: localDigits(office.hours.closes) })) : null,
      office.address ? h("span", {}, office.address) : null),
    h("h3", {}, t("phone.calls")),
    calls.length ? h("ul", {}, calls.map((x) => h("li", {},
      fmtDate(x.started_at) + " — " + t("phone.co." + x.outcome) + " — " + fmtDuration(x.duration_s),
      x.callee_name ? " — " + x.callee_name + (x.callee_role ? " (" + x.callee_role + ")" : "") : "",
      x.notes ? h("div", { class: "muted desc" }, x.notes) : null)))
      : h("p", { class: "muted" }, t("phone.noCalls")),
    callForm(c, office, done),
    h("details", { class: "inline-form" }, h("summary", {}, t("phone.outcome")), outcomeForm(c, done)),
    h("details", { class: "inline-form" }, h("summary", {}, t("phone.escalate")), escalateForm(c, done)));
}

function fieldInspectorPage(main) {
  main.append(h("div", { class: "card login" }, h("h1", {}, t("phone.fieldTitle")), h("p", {}, t("phone.fieldText"))));
}

route("#/phone", {
  title: "phone.title", nav: "phone.nav", roles: ["inspector"],
  async render(main) {
    if (session.mode !== "phone") { fieldInspectorPage(main); return; }
    const status = h("span", { class: "muted", "aria-live": "polite" });
    const pending = h("div", {});
    const list = h("div", {});
    const errors = h("div", { "aria-live": "assertive" });
    const refreshBtn = h("button", { type: "button", class: "secondary", onclick: () => refresh(true) }, t("phone.refresh"));
    main.append(h("h1", {}, t("phone.title")), h("p", { class: "muted" }, t("phone.intro")),
      h("div", { class: "row narrow toolbar" }, h("div", {}, refreshBtn), h("div", {}, status)), pending, errors, list);

    const draw = async () => {
      const open = [...store.complaints.values()].filter((c) => c.status === "assigned" || c.status === "in_progress")
        .sort((a, b) => a.due_at.localeCompare(b.due_at));
      const cards = [];
      for (const c of open) cards.push(await card(c, () => refresh(true)));
      list.replaceChildren(...(cards.length ? cards : [h("p", { class: "card muted" }, t("phone.none"))]));
      status.textContent = store.at ? t("phone.updated", { at: fmtDate(store.at) }) : "";
      const waiting = outbox().length;
      pending.replaceChildren(...(waiting ? [h("div", { class: "warning" }, t("phone.pending", { n: waiting }), " ",
        h("button", { type: "button", class: "secondary", onclick: () => flush() }, t("phone.retry")))] : []));
    };
    // A form being filled is never redrawn under the user's hands.
    const busy = () => [...list.querySelectorAll("input:not([type=radio]), textarea")].some((x) => x.value && x.defaultValue !== x.value);
    const refresh = async (force) => {
      errors.replaceChildren();
      try {
        const changed = await pull();
        if (force || (changed && !busy())) await draw();
        else status.textContent = t("phone.updated", { at: fmtDate(store.at) });
      } catch (err) {
        showError(errors, err);
      }
    };
    const flush = async () => {
      try {
        if (outbox().length) await push(() => []);
      } catch (err) {
        showError(errors, err);
      }
      await refresh(true);
    };
    store.cursor = ""; // a full sync on every visit of the screen: the scope is small
    await pull().catch((err) => showError(errors, err));
    if (store.at && serverLastSeq < ackedThrough()) await resend().catch((err) => showError(errors, err));
    if (outbox().length) await flush();
    else await draw();
    const timer = setInterval(() => refresh(false), 60000);
    onLeave(() => clearInterval(timer));
  },
});
