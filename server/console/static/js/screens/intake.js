// Intake: a 128 call becomes a complaint in under 30 seconds with the
// keyboard alone. Type the office (Arabic/Persian letters and digits fold),
// arrows and Enter pick it; category, priority, description, the caller;
// Enter (or Ctrl+Enter in the description) records it, and the tracking code
// is shown big to read to the caller.
import { addLabels, api, digitsToASCII, fmtDate, fmtLongDate, h, lang, normalizeText, route, session, t } from "../core.js";
import { iranInstant, iranToday, isoDate, jalaliText, nowIranClock } from "./jalali.js";
import { CATEGORIES, OPEN_STATUSES, PRIORITIES, agencyName, forgetReference, groupCode, localDigits, reference, sep, showFieldErrors, statusBadge } from "./routing.js";

addLabels({
  fa: {
    "intake.nav": "ثبت تماس", "intake.title": "ثبت تماس ۱۲۸",
    "intake.office": "اداره", "intake.officeHint": "نام، شهر یا کد اداره را بنویسید؛ با ↑ و ↓ انتخاب و با Enter تأیید کنید.",
    "intake.noMatch": "اداره‌ای با این نام پیدا نشد.", "intake.change": "تغییر اداره", "intake.chosen": "اداره انتخاب‌شده",
    "intake.category": "موضوع", "intake.priority": "اولویت", "intake.description": "شرح شکایت",
    "intake.descriptionHint": "آنچه تماس‌گیرنده دیده است. Ctrl+Enter: ثبت.",
    "intake.callerName": "نام تماس‌گیرنده", "intake.callerPhone": "تلفن تماس‌گیرنده", "intake.callDate": "تاریخ تماس", "intake.callClock": "ساعت تماس (به وقت ایران)",
    "intake.callDateHint": "مثلاً ۱۴۰۵/۰۹/۱۴", "intake.callClockHint": "مثلاً ۱۰:۳۰",
    "intake.badDate": "تاریخ را به شکل سال/ماه/روز خورشیدی بنویسید، مثلاً ۱۴۰۵/۰۹/۱۴.", "intake.badClock": "ساعت را به شکل ساعت:دقیقه بنویسید، مثلاً ۱۰:۳۰.",
    "intake.future": "زمان تماس نمی‌تواند در آینده باشد.",
    "routing.err.call_time.bad_date": "تاریخ را به شکل سال/ماه/روز خورشیدی بنویسید، مثلاً ۱۴۰۵/۰۹/۱۴.",
    "routing.err.call_clock.invalid": "ساعت را به شکل ساعت:دقیقه بنویسید، مثلاً ۱۰:۳۰.", "routing.err.call_clock.in_future": "زمان تماس نمی‌تواند در آینده باشد.",
    "intake.callId": "شناسه تماس", "intake.callIdHint": "خالی بماند تا خودکار ساخته شود.", "intake.more": "جزئیات تماس",
    "intake.submit": "ثبت شکایت", "intake.submitAnyway": "ثبت با وجود شکایت باز",
    "intake.dupTitle": "این اداره {n} شکایت باز با همین موضوع دارد:", "intake.dupShort": "{n} شکایت باز با همین موضوع برای این اداره (فهرست پایین فرم)", "intake.dupAsk": "اگر تماس تکراری نیست، دوباره «ثبت» را بزنید.",
    "intake.done": "شکایت ثبت شد", "intake.number": "شماره شکایت", "intake.tracking": "کد پیگیری — برای تماس‌گیرنده بخوانید",
    "intake.draft": "تماسی که در حال ثبت بود بازگردانده شد.", "intake.dropDraft": "پاک کردن فرم",
    "intake.newCall": "تماس جدید", "intake.open": "مشاهده شکایت", "intake.officeLine": "{office} — {agency}، {city}",
  },
  en: {
    "intake.nav": "New call", "intake.title": "Record a 128 call",
    "intake.office": "Office", "intake.officeHint": "Type the office's name, city or code; ↑ and ↓ choose, Enter confirms.",
    "intake.noMatch": "No office by that name.", "intake.change": "Change office", "intake.chosen": "Chosen office",
    "intake.category": "Category", "intake.priority": "Priority", "intake.description": "Description",
    "intake.descriptionHint": "What the caller saw. Ctrl+Enter records.",
    "intake.callerName": "Caller's name", "intake.callerPhone": "Caller's phone", "intake.callDate": "Call date", "intake.callClock": "Call time (Iran time)",
    "intake.callDateHint": "e.g. 2026-12-05 or 1405/09/14", "intake.callClockHint": "e.g. 10:30",
    "intake.badDate": "Write the date as year-month-day, e.g. 2026-12-05 (or Solar Hijri 1405/09/14).", "intake.badClock": "Write the time as hours:minutes, e.g. 10:30.",
    "intake.future": "The call cannot be in the future.",
    "intake.callId": "Call id", "intake.callIdHint": "Leave empty to generate one.", "intake.more": "Call details",
    "intake.submit": "Record complaint", "intake.submitAnyway": "Record despite the open complaint",
    "intake.dupTitle": "This office has {n} open complaint(s) of the same category:", "intake.dupShort": "{n} open complaint(s) of this category at this office (listed below)", "intake.dupAsk": "If this is not the same call, press Record again.",
    "intake.done": "Complaint recorded", "intake.number": "Complaint number", "intake.tracking": "Tracking code — read it to the caller",
    "intake.draft": "The call being recorded was brought back.", "intake.dropDraft": "Clear the form",
    "intake.newCall": "New call", "intake.open": "Open complaint", "intake.officeLine": "{office} — {agency}, {city}",
  },
});

const MAX_MATCHES = 8;

// A call being typed is kept in this tab's session storage until its
// tracking code is shown: a reload, a slip to another screen or a lost
// answer loses nothing, and the call keeps its call id, so that sending it
// again after a lost answer never makes a second complaint.
const DRAFT_KEY = "favad.intake.draft";
// A draft is its user's: another signing in to this tab (a session that
// ended without "sign out") never sees it.
function loadDraft() {
  let d = null;
  try { d = JSON.parse(sessionStorage.getItem(DRAFT_KEY) || "null"); } catch (_) { /* unreadable: none */ }
  if (d && d.user !== session?.id) { dropDraft(); return null; }
  return d;
}
function saveDraft(d) {
  try { sessionStorage.setItem(DRAFT_KEY, JSON.stringify({ ...d, user: session?.id })); } catch (_) { /* private mode: nothing kept */ }
}
function dropDraft() {
  try { sessionStorage.removeItem(DRAFT_KEY); } catch (_) { /* nothing kept */ }
}

function newCallID() {
  const d = new Date();
  const stamp = d.toISOString().replace(/[-:T]/g, "").slice(0, 14);
  return "CONSOLE-" + stamp + "-" + crypto.randomUUID().slice(0, 4).toUpperCase();
}

/** matchOffices ranks offices whose name, city, code, agency or address hold every word typed. */
export function matchOffices(ref, query) {
  const words = normalizeText(query).split(" ").filter(Boolean);
  if (!words.length) return [];
  const out = [];
  for (const o of ref.list) {
    const name = normalizeText(o.name_fa);
    const hay = [name, normalizeText(o.city), o.code.toLowerCase(), normalizeText(agencyName(ref, o.agency_code)), normalizeText(o.address)].join(" \n ");
    if (!words.every((w) => hay.includes(w))) continue;
    const q = words.join(" ");
    const rank = o.code.toLowerCase() === q ? 0 : name.startsWith(q) ? 1 : words.every((w) => name.includes(w)) ? 2 : 3;
    out.push({ o, rank });
  }
  out.sort((a, b) => a.rank - b.rank || a.o.name_fa.length - b.o.name_fa.length || a.o.code.localeCompare(b.o.code));
  return out.slice(0, MAX_MATCHES).map((x) => x.o);
}

route("#/intake", {
  title: "intake.title", nav: "intake.nav", roles: ["dispatcher"],
  async render(main) {
    const ref = await reference();
    drawForm(main, ref);
  },
});

function drawForm(main, ref) {
  const state = { office: null, matches: [], active: -1, dups: [], dupAck: false, callId: "", dupSeq: 0 };

  // --- the office combobox ---
  const officeInput = h("input", { id: "intake-office", type: "text", role: "combobox", autocomplete: "off", spellcheck: "false",
    "aria-autocomplete": "list", "aria-expanded": "false", "aria-controls": "intake-office-list", "data-field": "office_code", autofocus: true });
  const list = h("ul", { id: "intake-office-list", role: "listbox", class: "combo-list", "aria-label": t("intake.office"), hidden: true });
  const noMatch = h("div", { class: "muted", role: "status", "aria-live": "polite" });
  const chosen = h("div", { class: "chosen-office", "aria-live": "polite" });

  const showList = () => {
    list.replaceChildren(...state.matches.map((o, i) => h("li", {
      id: "intake-opt-" + i, role: "option", class: "combo-option", "aria-selected": i === state.active ? "true" : "false", dataset: { code: o.code },
      onmousedown: (e) => { e.preventDefault(); pick(o); },
    }, h("span", { class: "opt-name" }, o.name_fa), h("span", { class: "muted" }, " — " + agencyName(ref, o.agency_code) + sep() + o.city),
    h("span", { class: "muted ltr opt-code" }, o.code))));
    const open = state.matches.length > 0;
    list.hidden = !open;
    officeInput.setAttribute("aria-expanded", String(open));
    if (open && state.active >= 0) {
      officeInput.setAttribute("aria-activedescendant", "intake-opt-" + state.active);
      list.children[state.active]?.scrollIntoView({ block: "nearest" });
    } else officeInput.removeAttribute("aria-activedescendant");
    noMatch.textContent = officeInput.value.trim() && !open && !state.office ? t("intake.noMatch") : "";
  };
  const pick = (o) => {
    state.office = o;
    state.matches = [];
    state.active = -1;
    officeInput.value = o.name_fa;
    showList();
    chosen.replaceChildren(h("div", { class: "card chosen" },
      h("div", { class: "chosen-name" }, o.name_fa),
      h("div", {}, agencyName(ref, o.agency_code), sep(), o.city, " — ", h("span", { class: "ltr" }, o.code)),
      o.address ? h("div", { class: "muted" }, o.address) : null,
      o.phone ? h("div", { class: "muted ltr" }, localDigits(o.phone)) : null));
    state.dupAck = false;
    checkDuplicates();
    category.focus();
    writeDraft();
  };
  let refreshedAt = Date.now();
  officeInput.addEventListener("input", async () => {
    if (state.office) { state.office = null; chosen.replaceChildren(); state.dups = []; drawDups(); }
    state.matches = matchOffices(ref, officeInput.value);
    if (!state.matches.length && officeInput.value.trim().length >= 2 && Date.now() - refreshedAt > 10000) {
      // An office added since the list was loaded (an admin's import): look again, at most every 10 s.
      refreshedAt = Date.now();
      forgetReference();
      try { ref = await reference(); } catch (_) { /* keep the list held */ }
      state.matches = matchOffices(ref, officeInput.value);
    }
    state.active = state.matches.length ? 0 : -1;
    showList();
  });
  officeInput.addEventListener("keydown", (e) => {
    const n = state.matches.length;
    if (e.key === "ArrowDown" && n) { e.preventDefault(); state.active = (state.active + 1) % n; showList(); }
    else if (e.key === "ArrowUp" && n) { e.preventDefault(); state.active = (state.active - 1 + n) % n; showList(); }
    else if (e.key === "Enter" && n && state.active >= 0) { e.preventDefault(); pick(state.matches[state.active]); }
    else if (e.key === "Escape" && n) { e.preventDefault(); state.matches = []; showList(); }
  });
  officeInput.addEventListener("blur", () => setTimeout(() => { if (document.activeElement !== officeInput) { state.matches = []; showList(); } }, 100));

  // --- the rest of the form ---
  const category = h("select", { id: "intake-category", required: true, "data-field": "category" },
    h("option", { value: "" }, "—"), CATEGORIES.map((c) => h("option", { value: c }, t("category." + c))));
  const priority = h("select", { id: "intake-priority", "data-field": "priority" },
    PRIORITIES.map((p) => h("option", { value: p, selected: p === "normal" }, t("priority." + p))));
  const description = h("textarea", { id: "intake-description", required: true, maxlength: 4000, rows: 3, "data-field": "description" });
  const callerName = h("input", { id: "intake-caller-name", type: "text", maxlength: 200, autocomplete: "off", "data-field": "caller.name" });
  const callerPhone = h("input", { id: "intake-caller-phone", type: "tel", inputmode: "tel", dir: "ltr", autocomplete: "off", maxlength: 22, "data-field": "caller.phone" });
  // The call's date as dispatch says it (Solar Hijri in Persian, with either digits) and its Iran time of day.
  const callDate = h("input", { id: "intake-call-date", type: "text", dir: "ltr", autocomplete: "off", "data-field": "call_time",
    value: lang() === "fa" ? localDigits(jalaliText(iranToday())) : isoDate(iranToday()) });
  const callClock = h("input", { id: "intake-call-clock", type: "text", dir: "ltr", inputmode: "numeric", autocomplete: "off", "data-field": "call_clock",
    value: localDigits(nowIranClock()) });
  const callWhen = () => iranInstant(digitsToASCII(callDate.value), digitsToASCII(callClock.value));
  const callTimeShown = h("span", {});
  const showCallTime = () => { const w = callWhen(); callTimeShown.textContent = w.iso ? fmtLongDate(w.iso) : t("intake.callDateHint"); };
  showCallTime();
  callDate.addEventListener("input", showCallTime);
  callClock.addEventListener("input", showCallTime);
  const callId = h("input", { id: "intake-call-id", type: "text", dir: "ltr", maxlength: 100, autocomplete: "off", "data-field": "call_id" });
  category.addEventListener("change", () => { state.dupAck = false; checkDuplicates(); });

  const dupBox = h("div", { class: "dup-box", tabindex: "-1", "aria-live": "polite" });
  const errors = h("div", { "aria-live": "assertive" });
  const submit = h("button", { type: "submit", id: "intake-submit" }, t("intake.submit"));

  const dupNote = h("div", { class: "dup-note", role: "status" });
  const drawDups = () => {
    submit.textContent = t(state.dups.length && state.dupAck ? "intake.submitAnyway" : "intake.submit");
    dupNote.replaceChildren(...(state.dups.length ? [h("span", { class: "badge warn" }, "⚠ " + t("intake.dupShort", { n: state.dups.length }))] : []));
    if (!state.dups.length) { dupBox.replaceChildren(); dupBox.className = "dup-box"; return; }
    dupBox.className = "dup-box warning";
    dupBox.replaceChildren(...[
      h("strong", {}, t("intake.dupTitle", { n: state.dups.length })),
      h("ul", {}, state.dups.map((c) => h("li", {},
        h("a", { href: "#/complaint/" + c.id, target: "_blank", rel: "noopener" }, "#" + localDigits(c.number)), " ",
        statusBadge(c.status), " ", h("span", { class: "muted" }, fmtDate(c.call_time)), " — ", c.description.slice(0, 90)))),
      state.dupAck ? h("div", {}, t("intake.dupAsk")) : null].filter(Boolean));
  };
  async function checkDuplicates() {
    const seq = ++state.dupSeq;
    if (!state.office || !category.value) { state.dups = []; drawDups(); return; }
    const q = new URLSearchParams({ office: state.office.code, category: category.value, status: OPEN_STATUSES.join(","), limit: "10" });
    try {
      const page = await api("GET", "/v1/complaints?" + q);
      // This very call, sent before a reload whose answer was lost, is no other complaint.
      const mine = callId.value.trim() || state.callId;
      if (seq === state.dupSeq) { state.dups = page.items.filter((c) => !mine || c.call_id !== mine); drawDups(); }
    } catch (_) { /* the warning is a help, not a gate */ }
  }

  const form = h("form", { class: "card intake-form", novalidate: true },
    h("h1", {}, t("intake.title")),
    h("div", { class: "field combo" }, h("label", { for: "intake-office" }, t("intake.office")), officeInput, list,
      h("div", { class: "muted", id: "intake-office-hint" }, t("intake.officeHint")), noMatch),
    chosen,
    h("div", { class: "row" },
      h("div", { class: "field" }, h("label", { for: "intake-category" }, t("intake.category")), category),
      h("div", { class: "field" }, h("label", { for: "intake-priority" }, t("intake.priority")), priority)),
    dupNote,
    h("div", { class: "field" }, h("label", { for: "intake-description" }, t("intake.description")), description,
      h("div", { class: "muted", id: "intake-description-hint" }, t("intake.descriptionHint"))),
    h("div", { class: "row" },
      h("div", { class: "field" }, h("label", { for: "intake-caller-name" }, t("intake.callerName")), callerName),
      h("div", { class: "field" }, h("label", { for: "intake-caller-phone" }, t("intake.callerPhone")), callerPhone)),
    h("div", { class: "row" },
      h("div", { class: "field" }, h("label", { for: "intake-call-date" }, t("intake.callDate")), callDate, h("div", { class: "muted", id: "intake-call-date-hint" }, callTimeShown)),
      h("div", { class: "field" }, h("label", { for: "intake-call-clock" }, t("intake.callClock")), callClock, h("div", { class: "muted", id: "intake-call-clock-hint" }, t("intake.callClockHint")))),
    h("div", { class: "row" },
      h("div", { class: "field" }, h("label", { for: "intake-call-id" }, t("intake.callId")), callId, h("div", { class: "muted", id: "intake-call-id-hint" }, t("intake.callIdHint")))),
    dupBox,
    errors,
    h("div", { class: "actions" }, submit));
  officeInput.setAttribute("aria-describedby", "intake-office-hint");
  description.setAttribute("aria-describedby", "intake-description-hint");
  callDate.setAttribute("aria-describedby", "intake-call-date-hint");
  callClock.setAttribute("aria-describedby", "intake-call-clock-hint");
  callId.setAttribute("aria-describedby", "intake-call-id-hint");

  form.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) { e.preventDefault(); form.requestSubmit(); }
  });
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    // A date or time the console cannot read, or a call not yet made, is said beside its field before anything is sent.
    const when = callWhen();
    const bad = [];
    if (!when.date) bad.push({ field: "call_time", code: "bad_date", message: t("intake.badDate") });
    if (!when.clock) bad.push({ field: "call_clock", code: "invalid", message: t("intake.badClock") });
    else if (when.iso && new Date(when.iso) > new Date(Date.now() + 5 * 60 * 1000)) bad.push({ field: "call_clock", code: "in_future", message: t("intake.future") });
    if (bad.length) { showFieldErrors(form, errors, { status: 422, message: bad[0].message, fields: bad }); return; }
    if (state.dups.length && !state.dupAck) {
      state.dupAck = true;
      drawDups();
      dupBox.focus();
      return;
    }
    // One call id per call, kept across retries so that a lost answer never makes a second complaint.
    const cid = callId.value.trim() || (state.callId ||= newCallID());
    writeDraft(); // with its call id: sent again after a reload, it is the same call
    const caller = callerName.value.trim() || callerPhone.value.trim() ? { name: callerName.value.trim(), phone: callerPhone.value.trim() } : undefined;
    const body = {
      call_id: cid, category: category.value, description: description.value.trim(), call_time: when.iso,
      office_code: state.office?.code || "", priority: priority.value, caller,
    };
    submit.disabled = true;
    try {
      const c = await api("POST", "/v1/complaints", body);
      dropDraft();
      drawDone(main, ref, c);
    } catch (err) {
      showFieldErrors(form, errors, err);
    } finally {
      submit.disabled = false;
    }
  });

  // --- the draft: kept as it is typed, brought back when the screen is drawn again ---
  const kept = { description, callerName, callerPhone, callDate, callClock, callId };
  function writeDraft() {
    const d = { office: state.office?.code || "", officeText: officeInput.value, category: category.value, priority: priority.value, generatedCallId: state.callId };
    for (const [k, el] of Object.entries(kept)) d[k] = el.value;
    const typed = d.office || d.officeText.trim() || d.category || d.description.trim() || d.callerName.trim() || d.callerPhone.trim() || d.callId.trim();
    if (typed || d.generatedCallId) saveDraft(d);
    else dropDraft();
  }
  form.addEventListener("input", writeDraft);
  form.addEventListener("change", writeDraft);
  const draft = loadDraft();
  if (draft) {
    for (const [k, el] of Object.entries(kept)) if (typeof draft[k] === "string") el.value = draft[k];
    if (draft.category) category.value = draft.category;
    if (draft.priority) priority.value = draft.priority;
    state.callId = draft.generatedCallId || "";
    const o = draft.office && ref.offices.get(draft.office);
    if (o) pick(o);
    else officeInput.value = draft.officeText || "";
    showCallTime();
    const clear = h("button", { type: "button", class: "secondary small", id: "intake-drop-draft", onclick: () => { dropDraft(); drawForm(main, ref); } }, t("intake.dropDraft"));
    form.insertBefore(h("div", { class: "dup-note", role: "status" }, h("span", { class: "badge" }, t("intake.draft")), " ", clear), form.children[1]);
  }

  main.replaceChildren(form);
  officeInput.focus();
  // The router focuses <main> once a screen is drawn; the call starts in the office search.
  setTimeout(() => { if (document.activeElement === main || document.activeElement === document.body) officeInput.focus(); }, 0);
}

function drawDone(main, ref, c) {
  const o = ref.offices.get(c.office_code);
  const again = h("button", { type: "button", id: "intake-new" }, t("intake.newCall"));
  again.addEventListener("click", () => drawForm(main, ref));
  const card = h("section", { class: "card intake-done", "aria-labelledby": "intake-done-title" },
    h("h1", { id: "intake-done-title" }, t("intake.done")),
    h("div", { class: "done-grid" },
      h("div", {}, h("div", { class: "muted" }, t("intake.number")), h("div", { class: "big-number", id: "intake-number" }, localDigits(c.number))),
      h("div", {}, h("div", { class: "muted" }, t("intake.tracking")), h("div", { class: "big-code", id: "intake-tracking", dir: "ltr" }, groupCode(c.tracking_code)))),
    h("p", {}, t("intake.officeLine", { office: o?.name_fa || c.office_code, agency: agencyName(ref, c.agency_code), city: o?.city || "" }),
      " — ", t("category." + c.category), " — ", t("priority." + c.priority)),
    h("div", { class: "actions" }, again, h("a", { class: "button secondary", href: "#/complaint/" + c.id, id: "intake-open" }, t("intake.open"))));
  main.replaceChildren(card);
  again.focus();
}
