// Dispatch's shared pieces: reference data (offices, agencies, people), due
// times, and the routing actions (assign, reassign, refer, withdraw, close)
// with their dialogs. Used by the board and the complaint screens; it
// registers no route of its own.
import { addLabels, api, distanceM, errorText, field, fieldErrorText, fmtDate, fmtDuration, fmtNumber, h, lang, refocus, session, t, toast } from "../core.js";

addLabels({
  fa: {
    "routing.assign": "ارجاع به بازرس", "routing.reassign": "ارجاع دوباره", "routing.refer": "ارجاع به دستگاه", "routing.withdraw": "بستن (انصراف)",
    "routing.close": "بستن با پاسخ دستگاه", "routing.toInspection": "ارجاع به بازرسی", "routing.cancel": "انصراف",
    "routing.assignTitle": "ارجاع شکایت {n} به بازرس", "routing.referTitle": "ارجاع شکایت {n} به دستگاه", "routing.withdrawTitle": "بستن شکایت {n}",
    "routing.closeTitle": "بستن شکایت {n} با پاسخ دستگاه",
    "routing.inspector": "بازرس", "routing.fieldGroup": "بازرسان حضوری", "routing.phoneGroup": "بازرسان تلفنی",
    "routing.open": "{n} پرونده باز", "routing.distance": "{d} تا اداره", "routing.noPosition": "بدون موقعیت ثبت‌شده",
    "routing.lastSeen": "آخرین ورود: {t}", "routing.current": "(بازرس فعلی)", "routing.noInspectors": "بازرس فعالی نیست.",
    "routing.note": "یادداشت برای بازرس", "routing.referNote": "یادداشت برای دستگاه", "routing.reason": "دلیل بستن",
    "routing.reasonHint": "مثلاً: تماس تکراری؛ همان شکایت شماره ۴۱", "routing.outcome": "نتیجه", "routing.chooseOutcome": "— نتیجه را برگزینید —", "routing.statement": "شرح",
    "routing.pickOne": "یک بازرس را انتخاب کنید.", "routing.done": "شکایت {n}: {s}",
    "routing.m": "{n} متر", "routing.km": "{n} کیلومتر", "routing.system": "سامانه",
    "routing.left": "{d} مانده", "routing.over": "{d} گذشته", "routing.officeUnknown": "اداره {code}",
    "routing.assignee": "{name} ({mode})",
    "routing.deviceConsole": "کنسول وب", "routing.devicePhone": "گوشی",
    "routing.noLiaison": "هیچ حساب رابطی برای این اداره نیست: تا مدیر سامانه حسابی برایش نسازد، کسی این ارجاع را نمی‌بیند و پاسخی نمی‌آید.",
    "routing.err.invalidFields": "برخی خانه‌ها نادرست‌اند؛ پیام کنار هر خانه را ببینید.",
    "routing.err.required": "این خانه لازم است.", "routing.err.invalid": "مقدار نامعتبر است.", "routing.err.too_long": "بیش از اندازه بلند است.",
    "routing.err.unknown": "پیدا نشد.", "routing.err.in_future": "نمی‌تواند در آینده باشد.",
    "routing.err.office_code.required": "اداره را از فهرست انتخاب کنید.", "routing.err.office_code.unknown": "این اداره پیدا نشد یا حذف شده است.",
    "routing.err.category.invalid": "موضوع را انتخاب کنید.", "routing.err.description.required": "شرح آنچه تماس‌گیرنده دیده را بنویسید.",
    "routing.err.call_time.required": "زمان تماس را وارد کنید.", "routing.err.call_time.in_future": "زمان تماس نمی‌تواند در آینده باشد.",
    "routing.err.caller.phone.invalid": "فقط رقم، فاصله، خط تیره و یک + در ابتدا.", "routing.err.reason.required": "دلیل بستن را بنویسید.",
    "routing.err.inspector_id.required": "یک بازرس را انتخاب کنید.",
  },
  en: {
    "routing.assign": "Assign", "routing.reassign": "Reassign", "routing.refer": "Refer to office", "routing.withdraw": "Withdraw",
    "routing.close": "Close on the answer", "routing.toInspection": "Route to inspection", "routing.cancel": "Cancel",
    "routing.assignTitle": "Assign complaint {n} to an inspector", "routing.referTitle": "Refer complaint {n} to the office", "routing.withdrawTitle": "Withdraw complaint {n}",
    "routing.closeTitle": "Close complaint {n} on the office's answer",
    "routing.inspector": "Inspector", "routing.fieldGroup": "Field inspectors", "routing.phoneGroup": "Phone inspectors",
    "routing.open": "{n} open", "routing.distance": "{d} from the office", "routing.noPosition": "no check-in yet",
    "routing.lastSeen": "last check-in: {t}", "routing.current": "(current)", "routing.noInspectors": "No active inspector.",
    "routing.note": "Note to the inspector", "routing.referNote": "Note to the office", "routing.reason": "Reason",
    "routing.reasonHint": "e.g. a duplicate of complaint 41", "routing.outcome": "Outcome", "routing.chooseOutcome": "— choose the outcome —", "routing.statement": "Statement",
    "routing.pickOne": "Choose an inspector.", "routing.done": "Complaint {n}: {s}",
    "routing.m": "{n} m", "routing.km": "{n} km", "routing.system": "system",
    "routing.left": "{d} left", "routing.over": "{d} over", "routing.officeUnknown": "office {code}",
    "routing.assignee": "{name} ({mode})",
    "routing.deviceConsole": "web console", "routing.devicePhone": "phone",
    "routing.noLiaison": "No office account answers for this office: until an admin makes one, nobody sees this referral and no answer will come.",
  },
});

/** OPEN_STATUSES are the statuses dispatch still has work on. */
export const OPEN_STATUSES = ["received", "assigned", "in_progress", "referred_to_workplace", "referral_answered", "needs_review"];
export const CLOSED_STATUSES = ["resolved", "not_substantiated", "withdrawn"];
export const ALL_STATUSES = [...OPEN_STATUSES, ...CLOSED_STATUSES];
export const CATEGORIES = ["absent_employee", "non_work_activity", "client_crowding", "other"];
export const PRIORITIES = ["urgent", "high", "normal", "low"];
export const OUTCOMES = ["substantiated", "not_substantiated", "resolved_on_spot", "referred_for_discipline"];

// ---- reference data -------------------------------------------------------
let refCache = null;
/** reference loads the offices and agencies once a few minutes: {offices: Map, agencies: Map, list}. */
export function reference() {
  if (!refCache || Date.now() - refCache.at > 5 * 60 * 1000) {
    const p = Promise.all([api("GET", "/v1/offices"), api("GET", "/v1/agencies")]).then(([o, a]) => {
      const agencies = new Map(a.items.map((x) => [x.code, x]));
      return { offices: new Map(o.items.map((x) => [x.code, x])), agencies, list: o.items };
    });
    p.catch(() => { refCache = null; });
    refCache = { at: Date.now(), p };
  }
  return refCache.p;
}

/** forgetReference drops the cached offices and agencies: the next reference() loads them. */
export function forgetReference() { refCache = null; }

/** agencyName is an agency's name in the console's language. */
export function agencyName(ref, code) {
  const a = ref.agencies.get(code);
  if (!a) return code || "";
  return lang() === "en" && a.name_en ? a.name_en : a.name_fa;
}

/** officeName is an office's name, or its code when it is unknown. */
export function officeName(ref, code) {
  return ref.offices.get(code)?.name_fa || t("routing.officeUnknown", { code });
}

let peopleCache = null;
/** people maps user ids to names: every account for dispatch, supervisors and admins, and the signed-in user. */
export function people() {
  if (!peopleCache || Date.now() - peopleCache.at > 60 * 1000) {
    const overseer = ["dispatcher", "supervisor", "admin"].includes(session?.role);
    const p = (overseer ? api("GET", "/v1/people") : Promise.resolve({ items: [] })).then((l) => {
      const m = new Map(l.items.map((u) => [u.id, u]));
      if (session) m.set(session.id, session);
      return m;
    });
    p.catch(() => { peopleCache = null; });
    peopleCache = { at: Date.now(), p };
  }
  return peopleCache.p;
}

/** forgetPeople drops the cached names: the next people() loads them. */
export function forgetPeople() { peopleCache = null; }

/**
 * deviceName names a device by what it is (the console in a browser, or a
 * phone, with the end of its id to tell phones apart); the whole id on hover.
 */
export function deviceName(id) {
  if (!id) return "–";
  const console_ = id.startsWith("console-");
  return h("span", { title: id }, t(console_ ? "routing.deviceConsole" : "routing.devicePhone"), console_ ? "" : [" ", h("span", { class: "ltr" }, "…" + id.slice(-4))]);
}

/** personName is a user's name from people(), "system", or the id itself. */
export function personName(map, id) {
  if (!id) return "–";
  if (id === "system") return t("routing.system");
  return map?.get(id)?.display_name || id;
}

// ---- formatting -------------------------------------------------------------
/** localDigits writes ASCII digits as Persian ones in Persian. */
export function localDigits(s) {
  const str = String(s ?? "");
  return lang() === "fa" ? str.replace(/[0-9]/g, (d) => "۰۱۲۳۴۵۶۷۸۹"[d]) : str;
}

/** sep is the list separator of the console's language. */
export function sep() { return lang() === "fa" ? "، " : ", "; }

/** groupCode writes a 12-digit tracking code as 4-4-4. */
export function groupCode(code) {
  if (!code) return "–";
  return localDigits(String(code).replace(/(\d{4})(?=\d)/g, "$1 "));
}

/** fmtDistance shows metres, or kilometres past one. */
export function fmtDistance(m) {
  if (m === null || m === undefined) return "–";
  if (m < 1000) return t("routing.m", { n: m });
  return t("routing.km", { n: fmtNumber(m / 1000, { maximumFractionDigits: 1 }) });
}

/** activeDue is the due time that runs now: the office's while referred to it. */
export function activeDue(c) {
  if (c.referral && c.status === "referred_to_workplace") return c.referral.due_at;
  if (c.referral && c.status === "referral_answered" && new Date(c.referral.due_at) > new Date(c.due_at)) return c.referral.due_at;
  return c.due_at;
}

/** dueState says whether an open complaint is overdue and by how much: {open, overdue, seconds, text}. */
export function dueState(c, now = Date.now()) {
  const open = !CLOSED_STATUSES.includes(c.status);
  const due = new Date(activeDue(c)).getTime();
  const sec = Math.round((due - now) / 1000);
  if (!open) return { open, overdue: false, seconds: sec, text: "" };
  const overdue = sec < 0;
  return { open, overdue, seconds: sec, text: t(overdue ? "routing.over" : "routing.left", { d: fmtDuration(Math.abs(sec)) }) };
}

/** statusBadge is a complaint's status as a badge. */
export function statusBadge(status) {
  const cls = { needs_review: "warn", referral_answered: "warn", resolved: "ok", not_substantiated: "ok", withdrawn: "" }[status] ?? "info";
  return h("span", { class: "badge status-badge " + cls, dataset: { status } }, t("status." + status));
}

// ---- field errors -------------------------------------------------------------
/** fieldMessage is a field error in the console's language: Persian by field and code, else the server's English. */
function fieldMessage(f) {
  if (lang() !== "fa") return f.message;
  for (const key of [`routing.err.${f.field}.${f.code}`, `routing.err.${f.code}`]) if (t(key) !== key) return t(key);
  return fieldErrorText(f);
}

/**
 * showFieldErrors writes an API error's fields beside the inputs that carry
 * data-field (the field's name, or a prefix of it), and the rest in box.
 */
export function showFieldErrors(form, box, err) {
  for (const el of form.querySelectorAll(".field-error")) el.remove();
  for (const el of form.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
  for (const el of form.querySelectorAll("[aria-describedby]")) {
    // The error texts just removed no longer describe their fields.
    const ids = el.getAttribute("aria-describedby").split(/\s+/).filter((id) => id && !id.endsWith("-error"));
    if (ids.length) el.setAttribute("aria-describedby", ids.join(" "));
    else el.removeAttribute("aria-describedby");
  }
  box.replaceChildren();
  if (!err) return;
  const rest = [];
  let first = null;
  for (const f of err.fields || []) {
    const input = [...form.querySelectorAll("[data-field]")].find((el) => f.field === el.dataset.field || f.field.startsWith(el.dataset.field + "."));
    if (!input) { rest.push(f); continue; }
    const id = input.id + "-error";
    input.setAttribute("aria-invalid", "true");
    const msg = h("div", { class: "field-error error", id }, fieldMessage(f));
    input.setAttribute("aria-describedby", [input.getAttribute("aria-describedby"), id].filter(Boolean).join(" "));
    const holder = input.closest(".field, fieldset");
    if (holder) holder.append(msg);
    else input.after(msg);
    // Mended, the field says so at once, not at the next submit.
    const stop = new AbortController(); // both listeners go once either fires
    const mended = () => {
      stop.abort();
      if (!msg.isConnected) return; // a later round's error, not this one
      msg.remove();
      input.removeAttribute("aria-invalid");
      const ids = (input.getAttribute("aria-describedby") || "").split(/\s+/).filter((x) => x && x !== id);
      if (ids.length) input.setAttribute("aria-describedby", ids.join(" "));
      else input.removeAttribute("aria-describedby");
    };
    input.addEventListener("input", mended, { signal: stop.signal });
    input.addEventListener("change", mended, { signal: stop.signal });
    // The first wrong field in the form's order, not the server's list's.
    if (!first || (first.compareDocumentPosition(input) & Node.DOCUMENT_POSITION_PRECEDING)) first = input;
  }
  const headline = err.status === 422 && lang() === "fa" ? t("routing.err.invalidFields") : errorText(err);
  box.append(h("div", { class: "error", role: "alert" }, headline, rest.map((f) => h("div", {}, `${f.field}: ${fieldMessage(f)}`))));
  first?.focus();
}

// ---- dialogs --------------------------------------------------------------------
/** openDialog shows a modal form; submit(form) resolves to close it, or throws an ApiError shown in it. */
function openDialog(title, body, submitLabel, submit, opts = {}) {
  const errors = h("div", { "aria-live": "assertive" });
  const titleId = "dlg-" + Math.random().toString(36).slice(2);
  const cancel = h("button", { type: "button", class: "secondary" }, t("routing.cancel"));
  const ok = h("button", { type: "submit", class: opts.danger ? "danger" : "" }, submitLabel);
  // novalidate: the server's refusals, in the console's words, not the browser's bubbles.
  const form = h("form", { class: "dialog-form", novalidate: true }, h("h2", { id: titleId }, title), body, errors, h("div", { class: "actions" }, ok, cancel));
  const dlg = h("dialog", { "aria-labelledby": titleId, class: "routing-dialog" }, form);
  cancel.addEventListener("click", () => dlg.close());
  // The control that opened the dialog may be redrawn by what the dialog did.
  const opener = document.activeElement;
  dlg.addEventListener("close", () => {
    dlg.remove();
    setTimeout(() => refocus(opener, document.getElementById("main")), 0);
  });
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    ok.disabled = true;
    try {
      await submit(form);
      dlg.close();
    } catch (err) {
      showFieldErrors(form, errors, err);
    } finally {
      ok.disabled = false;
    }
  });
  document.body.append(dlg);
  dlg.showModal();
  (form.querySelector("[autofocus]") || form.querySelector("input:not([type=hidden]), select, textarea"))?.focus();
  return dlg;
}

/** assignDialog lets dispatch pick an inspector, with each one's workload and distance to the office. */
export async function assignDialog(c, office, onDone) {
  const list = (await api("GET", "/v1/inspectors")).items;
  const loc = office?.location;
  const rows = list.map((u) => ({ u, dist: loc && u.last_position ? distanceM(u.last_position, loc) : null }));
  const byDist = (a, b) => (a.dist ?? Infinity) - (b.dist ?? Infinity) || a.u.open - b.u.open;
  const byLoad = (a, b) => a.u.open - b.u.open || (a.dist ?? Infinity) - (b.dist ?? Infinity);
  const current = c.assignment?.inspector_id;
  const radio = (r, i) => {
    const id = "pick-" + r.u.id;
    const isCurrent = current === r.u.id && ["assigned", "in_progress"].includes(c.status);
    const input = h("input", { type: "radio", name: "inspector", value: r.u.id, id, "data-field": i === 0 ? "inspector_id" : null, disabled: isCurrent, dataset: { mode: r.u.mode } });
    return h("div", { class: "pick" + (isCurrent ? " current" : "") }, input,
      h("label", { for: id },
        h("span", { class: "pick-name" }, r.u.display_name, isCurrent ? " " + t("routing.current") : ""),
        h("span", { class: "badge" }, t("mode." + r.u.mode)),
        h("span", { class: "badge " + (r.u.open > 2 ? "warn" : "") }, t("routing.open", { n: r.u.open })),
        h("span", { class: "muted" }, r.dist !== null ? t("routing.distance", { d: fmtDistance(r.dist) }) : t("routing.noPosition")),
        r.u.last_position ? h("span", { class: "muted" }, t("routing.lastSeen", { t: fmtDate(r.u.last_position.at) })) : null));
  };
  const field_ = rows.filter((r) => r.u.mode === "field").sort(byDist);
  const phone = rows.filter((r) => r.u.mode === "phone").sort(byLoad);
  let i = 0;
  const group = (label, rs) => rs.length ? h("fieldset", { class: "picker" }, h("legend", {}, label), rs.map((r) => radio(r, i++))) : null;
  const note = h("textarea", { name: "note", maxlength: 2000, rows: 2, "data-field": "note" });
  const body = h("div", {},
    list.length ? null : h("p", { class: "muted" }, t("routing.noInspectors")),
    group(t("routing.fieldGroup"), field_), group(t("routing.phoneGroup"), phone),
    field("assign-note", t("routing.note"), note));
  const title = t("routing.assignTitle", { n: c.number });
  const dlg = openDialog(title, body, t(current ? "routing.reassign" : "routing.assign"), async (form) => {
    const picked = form.querySelector("input[name=inspector]:checked");
    if (!picked) throw Object.assign(new Error(t("routing.pickOne")), { fields: [] });
    const res = await api("POST", `/v1/complaints/${c.id}/assign`, { inspector_id: picked.value, mode: picked.dataset.mode, note: note.value.trim() || undefined });
    toast(t("routing.done", { n: res.number, s: t("status." + res.status) }));
    onDone?.(res);
  });
  // Focus the first choosable inspector, so that arrows and Enter pick at once.
  dlg.querySelector("input[name=inspector]:not(:disabled)")?.focus();
}

export async function referDialog(c, onDone) {
  const note = h("textarea", { name: "note", maxlength: 2000, rows: 3, "data-field": "note" });
  // Nobody would read a referral to an office without an office account: said before it is sent.
  const office = await api("GET", "/v1/offices/" + encodeURIComponent(c.office_code)).catch(() => null);
  const warning = office?.liaison === false ? h("p", { class: "warning", id: "refer-no-liaison" }, t("routing.noLiaison")) : null;
  if (warning) note.setAttribute("aria-describedby", "refer-no-liaison");
  openDialog(t("routing.referTitle", { n: c.number }), h("div", {}, warning, field("refer-note", t("routing.referNote"), note)), t("routing.refer"), async () => {
    const res = await api("POST", `/v1/complaints/${c.id}/refer`, { note: note.value.trim() || undefined });
    toast(t("routing.done", { n: res.number, s: t("status." + res.status) }));
    onDone?.(res);
  });
}

export function withdrawDialog(c, onDone) {
  const reason = h("textarea", { name: "reason", maxlength: 2000, rows: 3, required: true, "data-field": "reason" });
  openDialog(t("routing.withdrawTitle", { n: c.number }), field("withdraw-reason", t("routing.reason"), reason, t("routing.reasonHint")), t("routing.withdraw"), async () => {
    const res = await api("POST", `/v1/complaints/${c.id}/withdraw`, { reason: reason.value.trim() });
    toast(t("routing.done", { n: res.number, s: t("status." + res.status) }));
    onDone?.(res);
  }, { danger: true });
}

export function closeDialog(c, onDone) {
  // No outcome is chosen for dispatch: closing on "substantiated" by an Enter is a wrong result.
  const outcome = h("select", { name: "outcome", required: true, "data-field": "outcome" },
    h("option", { value: "", selected: true }, t("routing.chooseOutcome")),
    OUTCOMES.map((o) => h("option", { value: o }, t("outcome." + o))));
  const statement = h("textarea", { name: "statement", maxlength: 4000, rows: 3, "data-field": "statement" });
  openDialog(t("routing.closeTitle", { n: c.number }), h("div", {}, field("close-outcome", t("routing.outcome"), outcome), field("close-statement", t("routing.statement"), statement)),
    t("routing.close"), async () => {
      const res = await api("POST", `/v1/complaints/${c.id}/close`, { outcome: outcome.value, statement: statement.value.trim() || undefined });
      toast(t("routing.done", { n: res.number, s: t("status." + res.status) }));
      onDone?.(res);
    });
}

/** routingButtons are the routing actions dispatch may take on c now (none for other roles). */
export function routingButtons(c, office, onDone) {
  if (session?.role !== "dispatcher") return [];
  const s = c.status;
  const out = [];
  const btn = (label, fn, cls = "secondary") => h("button", { type: "button", class: cls + " small", onclick: fn, dataset: { action: label } }, t("routing." + label));
  if (s === "referral_answered") {
    out.push(btn("close", () => closeDialog(c, onDone), ""));
    out.push(btn("toInspection", () => assignDialog(c, office, onDone)));
  } else if (s === "received") {
    out.push(btn("assign", () => assignDialog(c, office, onDone), ""));
  } else if (["assigned", "in_progress", "needs_review", "referred_to_workplace"].includes(s)) {
    out.push(btn(c.assignment ? "reassign" : "assign", () => assignDialog(c, office, onDone)));
  }
  if (["received", "assigned", "in_progress", "needs_review"].includes(s)) out.push(btn("refer", () => referDialog(c, onDone)));
  if (["received", "assigned", "in_progress", "needs_review", "referred_to_workplace"].includes(s)) out.push(btn("withdraw", () => withdrawDialog(c, onDone), "secondary danger-text"));
  return out;
}
