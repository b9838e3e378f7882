// The conflict review queue: every automatic decision on a device's change
// that waits for dispatch, with both values side by side, and accept /
// overrule. The complaint screen shows a complaint's open conflicts with the
// same card (conflictCard).
import { addLabels, api, errorText, feedSubscribe, fmtDate, h, hasLabel, lang, onLeave, refocus, route, session, t, toast } from "../core.js";
import { deviceName, localDigits, people, personName, showFieldErrors } from "./routing.js";

addLabels({
  fa: {
    "review.nav": "بازبینی", "review.title": "صف بازبینی تعارض‌ها", "review.open": "باز", "review.resolved": "رسیدگی‌شده",
    "review.tabs": "وضعیت تعارض", "review.empty": "تعارض بازی نیست.", "review.emptyResolved": "تعارض رسیدگی‌شده‌ای نیست.", "review.more": "بیشتر",
    "review.server": "مقدار سرور", "review.currentValue": "مقدار کنونی شکایت: {v}", "review.device": "مقدار دستگاه", "review.winner": "برنده", "review.none": "(بدون مقدار)",
    "review.complaint": "شکایت {n}", "review.inspector": "بازرس", "review.deviceId": "دستگاه", "review.at": "زمان", "review.holder": "اکنون نزد",
    "review.overruleOne": "با نقض، نتیجه بازرس اعمال می‌شود و شکایت بسته می‌شود (و به تماس‌گیرنده خبر می‌رود). ادامه؟",
    "review.record": "رکورد", "review.field": "فیلد", "review.note": "یادداشت (اختیاری)",
    "review.accept": "پذیرفتن", "review.overrule": "نقض و اعمال مقدار دستگاه", "review.done": "تعارض {r}: {a}",
    "review.resolution": "{a} توسط {by} در {at}", "review.count": "{n} تعارض",
    "review.rule.last_writer_wins": "آخرین نوشتن برنده است", "review.rule.merge": "ادغام", "review.rule.dispatch_wins": "تصمیم مرکز پیام برنده است",
    "review.rule.needs_review": "نتیجه پس از تغییر ارجاع", "review.rule.orphaned": "ویرایش بازدید حذف‌شده", "review.rule.orphaned_record": "ثبت برای بازدید حذف‌شده", "review.rule.append_only": "رکورد تکراری با محتوای متفاوت",
    "review.rule.invalid": "تغییر نامعتبر", "review.rule.sequence_gap": "شکاف در ترتیب دستگاه", "review.rule.server_behind": "کار ازدست‌رفته در بازگردانی",
    "review.label.parallel_update": "تغییر موازی", "review.label.conflict": "تعارض", "review.label.rejected": "ردشده",
    "review.action.accept": "پذیرفته شد", "review.action.overrule": "نقض شد", "review.action.merged": "ادغام خودکار",
    "review.hint.needs_review": "پذیرفتن: شکایت به وضعیت قبلی ({prev}) برمی‌گردد (تا وقتی نتیجه دیگری از آن در بازبینی است، در بازبینی می‌ماند). نقض: نتیجه بازرس اعمال و شکایت بسته می‌شود؛ اگر نتیجه دیگری باز است، نخست آن را بپذیرید.",
    "review.hint.last_writer_wins": "پذیرفتن: مقدار کنونی می‌ماند. نقض: مقدار بازنده نوشته می‌شود.",
    "review.hint.orphaned": "پذیرفتن: بازدید حذف‌شده می‌ماند. نقض: بازدید با ویرایش دستگاه بازگردانده می‌شود.",
    "review.hint.orphaned_record": "پذیرفتن: ثبت نمی‌شود. نقض (پس از بازگرداندن بازدید): همان‌گونه که دستگاه فرستاده ثبت می‌شود.",
    "review.hint.dispatch_wins": "پذیرفتن: مقدار مرکز پیام می‌ماند. نقض: مقدار دستگاه اعمال می‌شود.",
    "review.hint.none": "چیزی برای اعمال نیست؛ فقط می‌توان پذیرفت.",
    "review.select": "انتخاب این تعارض", "review.selectAll": "انتخاب همه", "review.selected": "{n} انتخاب‌شده",
    "review.acceptSelected": "پذیرفتن انتخاب‌شده‌ها", "review.overruleSelected": "نقض انتخاب‌شده‌ها",
    "review.settled": "{ok} تعارض رسیدگی شد، {bad} رد شد", "review.refused": "{id}: {d}",
    "review.same": "مقدارها یکسان‌اند: پذیرفتن، آن را می‌بندد.",
    "review.overruleConfirm": "{n} تعارض نقض و مقدار دستگاه در همه اعمال شود؟ {o} مورد از آن‌ها نتیجه بازرس است و شکایتش را می‌بندد.",
    "review.kind.complaint": "شکایت", "review.kind.visit": "بازدید", "review.kind.finding": "یافته", "review.kind.note": "یادداشت",
    "review.kind.call": "تماس", "review.kind.evidence": "مدرک",
    "review.key.value": "نتیجه", "review.key.outcome": "نتیجه", "review.key.statement": "شرح", "review.key.inspector_id": "بازرس",
    "review.key.recorded_at": "زمان ثبت", "review.key.status": "وضعیت", "review.key.category": "موضوع", "review.key.priority": "اولویت",
    "review.key.description": "شرح شکایت", "review.key.office_code": "اداره", "review.key.text": "متن", "review.key.at": "زمان",
    "review.key.complaint_id": "شکایت", "review.key.visit_id": "بازدید", "review.key.note": "یادداشت",
  },
  en: {
    "review.nav": "Review", "review.title": "Conflict review queue", "review.open": "Open", "review.resolved": "Resolved",
    "review.tabs": "Conflict status", "review.empty": "No open conflict.", "review.emptyResolved": "No resolved conflict.", "review.more": "More",
    "review.server": "Server value", "review.currentValue": "The complaint's value now: {v}", "review.device": "Device value", "review.winner": "winner", "review.none": "(no value)",
    "review.complaint": "Complaint {n}", "review.inspector": "Inspector", "review.deviceId": "Device", "review.at": "Time", "review.holder": "Now with",
    "review.overruleOne": "Overruling applies the inspector's outcome and closes the complaint (the caller is told). Go on?",
    "review.record": "Record", "review.field": "Field", "review.note": "Note (optional)",
    "review.accept": "Accept", "review.overrule": "Overrule: apply the device's value", "review.done": "Conflict {r}: {a}",
    "review.resolution": "{a} by {by} at {at}", "review.count": "{n} conflicts",
    "review.rule.last_writer_wins": "Last writer wins", "review.rule.merge": "Merged", "review.rule.dispatch_wins": "Dispatch wins",
    "review.rule.needs_review": "Outcome after rerouting", "review.rule.orphaned": "Edit to a deleted visit", "review.rule.orphaned_record": "Record for a deleted visit", "review.rule.append_only": "Same record, other content",
    "review.rule.invalid": "Invalid change", "review.rule.sequence_gap": "Device sequence gap", "review.rule.server_behind": "Lost in a server restore",
    "review.label.parallel_update": "Parallel update", "review.label.conflict": "Conflict", "review.label.rejected": "Rejected",
    "review.action.accept": "Accepted", "review.action.overrule": "Overruled", "review.action.merged": "Merged automatically",
    "review.hint.needs_review": "Accept: the complaint goes back to {prev} (it stays under review while another outcome of it is). Overrule: the inspector's outcome is applied and the complaint closes; if another outcome is open, accept that one first.",
    "review.hint.last_writer_wins": "Accept: the current value stays. Overrule: the losing value is written.",
    "review.hint.orphaned": "Accept: the visit stays deleted. Overrule: the visit comes back with the device's edits.",
    "review.hint.orphaned_record": "Accept: it is not recorded. Overrule (once the visit is restored): it is recorded as the device sent it.",
    "review.hint.dispatch_wins": "Accept: dispatch's value stays. Overrule: the device's value is applied.",
    "review.hint.none": "Nothing to apply; it can only be accepted.",
    "review.select": "Select this conflict", "review.selectAll": "Select all", "review.selected": "{n} selected",
    "review.acceptSelected": "Accept selected", "review.overruleSelected": "Overrule selected",
    "review.settled": "{ok} conflicts settled, {bad} refused", "review.refused": "{id}: {d}",
    "review.same": "Both values are the same: accepting closes it.",
    "review.overruleConfirm": "Overrule {n} conflicts and apply the device's value to each? {o} of them are inspectors' outcomes, which close their complaints.",
    "review.kind.complaint": "complaint", "review.kind.visit": "visit", "review.kind.finding": "finding", "review.kind.note": "note",
    "review.kind.call": "call", "review.kind.evidence": "evidence",
    "review.key.value": "outcome", "review.key.inspector_id": "inspector", "review.key.recorded_at": "recorded at",
  },
});

/** ruleKey names a record's rule for its label and hint: a finding or note for a deleted visit is not an edit of it. */
function ruleKey(c) {
  return c.rule === "orphaned" && c.record_kind && c.record_kind !== "visit" ? "orphaned_record" : c.rule;
}

/** canOverrule says whether overruling c has a value to apply (else the server answers 409). */
export function canOverrule(c) {
  if (["needs_review", "last_writer_wins", "orphaned"].includes(c.rule)) return true;
  // A record may name several fields (comma-separated): overrule applies its category and priority.
  return c.rule === "dispatch_wins" && (c.field || "").split(",").some((f) => ["category", "priority"].includes(f));
}

// Fields whose values the console names in words, and the keys of a held
// outcome or record shown as their own lines.
const enumFields = ["category", "priority", "status", "outcome"];
const timeKeys = ["recorded_at", "at", "created_at", "checked_in_at", "checked_out_at", "called_at", "written_at", "captured_at"];

/** valueText words one value of field in the console's language. */
function valueText(field, v, who) {
  if (v === null || v === undefined || v === "") return t("review.none");
  if (typeof v === "string" && enumFields.includes(field) && hasLabel(field + "." + v)) return t(field + "." + v);
  if (typeof v === "string" && field === "value" && hasLabel("outcome." + v)) return t("outcome." + v);
  if (typeof v === "string" && timeKeys.includes(field)) return fmtDate(v);
  if (typeof v === "string" && field.endsWith("inspector_id")) return personName(who, v);
  if (typeof v === "string" || typeof v === "number" || typeof v === "boolean") return String(v);
  return JSON.stringify(v);
}

/**
 * pretty shows a side's value: a word for a single value of a known field
 * (not "\"urgent\""), a line a key for a record or a held outcome, with
 * times and people named; the ids a device and the server use between
 * them (mutation, record) are left out.
 */
function pretty(v, field, who) {
  if (v === undefined || v === null) return h("p", {}, t("review.none"));
  if (typeof v !== "object" || Array.isArray(v)) return h("p", {}, valueText(field || "", v, who));
  const rows = Object.entries(v).filter(([k]) => !["mutation_id", "id", "version", "device_seq"].includes(k));
  return h("dl", { class: "value" }, rows.map(([k, x]) => h("div", {},
    h("dt", {}, hasLabel("review.key." + k) ? t("review.key." + k) : k),
    h("dd", {}, valueText(k, x, who)))));
}

/** sameValues reports a record whose two sides hold the same value: accepting it settles nothing but the record. */
function sameValues(cf) {
  return cf.server_value !== undefined && cf.server_value !== null && JSON.stringify(cf.server_value) === JSON.stringify(cf.device_value);
}

/**
 * conflictCard draws one conflict: what, who, when, both values side by side,
 * and (for dispatch, while open) accept and overrule with a note.
 * ctx: {who: people map, complaints: Map id → complaint (number) }.
 */
export function conflictCard(cf, ctx, onResolved) {
  const complaint = ctx.complaints?.get(cf.complaint_id);
  const cnum = complaint?.number;
  // A device's edit to a complaint it no longer held was recorded without the
  // server's value: the complaint's value now stands in for it.
  const current = (cf.server_value === undefined || cf.server_value === null) && cf.record_kind === "complaint" && complaint && cf.field in complaint
    ? complaint[cf.field] : undefined;
  const side = (key, value, wins, note) => h("div", { class: "side " + (wins ? "wins" : "") },
    h("div", { class: "side-head" }, h("strong", {}, t("review." + key)), wins ? h("span", { class: "badge ok" }, t("review.winner")) : null),
    h("div", { class: "value-box", tabindex: "0", "aria-label": t("review." + key) }, pretty(value, cf.field, ctx.who)),
    note ? h("div", { class: "muted" }, note) : null);
  const meta = (k, ...v) => h("div", {}, h("dt", {}, t("review." + k)), h("dd", {}, ...v));
  const card = h("article", { class: "card conflict", dataset: { id: cf.id, rule: cf.rule }, "aria-labelledby": "cf-" + cf.id },
    h("div", { class: "conflict-head" },
      h("h3", { id: "cf-" + cf.id }, t("review.rule." + ruleKey(cf))),
      h("span", { class: "badge " + (cf.label === "rejected" ? "danger" : cf.label === "conflict" ? "warn" : "") }, t("review.label." + cf.label)),
      cf.complaint_id ? h("a", { href: "#/complaint/" + cf.complaint_id }, cnum ? t("review.complaint", { n: "#" + localDigits(cnum) }) : t("review.complaint", { n: "" })) : null),
    h("dl", { class: "meta" },
      meta("record", h("span", {}, (hasLabel("review.kind." + cf.record_kind) ? t("review.kind." + cf.record_kind) : cf.record_kind) +
        (cf.field ? " · " + cf.field.split(",").map((f) => hasLabel("review.key." + f) ? t("review.key." + f) : f).join("، ") : ""))),
      meta("inspector", personName(ctx.who, cf.inspector_id)),
      meta("deviceId", deviceName(cf.device_id)),
      // Why a late outcome lost: who holds the complaint now.
      cf.rule === "needs_review" && complaint?.assignment
        ? meta("holder", personName(ctx.who, complaint.assignment.inspector_id), " (", t("mode." + complaint.assignment.mode), ") — ", fmtDate(complaint.assignment.assigned_at))
        : null,
      meta("at", fmtDate(cf.created_at))),
    // The server's words are English: the rule (above) and the hint say it in Persian.
    lang() === "en" ? h("p", { class: "muted message" }, cf.message) : null,
    sameValues(cf) ? h("p", { class: "badge info same" }, t("review.same")) : null,
    h("div", { class: "sides" }, side("server", cf.server_value, cf.winner === "server" || cf.winner === "both",
      current !== undefined ? t("review.currentValue", { v: ["category", "priority", "status"].includes(cf.field) ? t(cf.field + "." + current) : JSON.stringify(current) }) : null),
      side("device", cf.device_value, cf.winner === "device" || cf.winner === "both")));
  if (cf.status === "resolved" && cf.resolution) {
    const r = cf.resolution;
    card.append(h("p", { class: "resolution" }, t("review.resolution", { a: t("review.action." + r.action), by: personName(ctx.who, r.by), at: fmtDate(r.at) }),
      r.note ? h("span", {}, " — ", r.note) : null));
  } else if (session?.role === "dispatcher") {
    const over = canOverrule(cf);
    const noteId = "cf-note-" + cf.id;
    const note = h("input", { id: noteId, type: "text", maxlength: 2000, "data-field": "note" });
    const errors = h("div", { "aria-live": "assertive" });
    const hint = over ? t("review.hint." + ruleKey(cf), { prev: cf.previous_status ? t("status." + cf.previous_status) : "–" }) : t("review.hint.none");
    const form = h("form", { class: "resolve" },
      h("p", { class: "muted" }, hint),
      h("div", { class: "field" }, h("label", { for: noteId }, t("review.note")), note),
      errors,
      h("div", { class: "actions" },
        h("button", { type: "submit", value: "accept", dataset: { action: "accept" } }, t("review.accept")),
        over ? h("button", { type: "submit", value: "overrule", class: "danger", dataset: { action: "overrule" } }, t("review.overrule")) : null));
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const action = e.submitter?.value || "accept";
      if (action === "overrule" && cf.rule === "needs_review" && !confirm(t("review.overruleOne"))) return;
      for (const b of form.querySelectorAll("button")) b.disabled = true;
      try {
        const res = await api("POST", `/v1/conflicts/${cf.id}/resolve`, { action, note: note.value.trim() || undefined });
        toast(t("review.done", { r: t("review.rule." + ruleKey(cf)), a: t("review.action." + action) }));
        onResolved?.(res);
      } catch (err) {
        showFieldErrors(form, errors, err);
      } finally {
        for (const b of form.querySelectorAll("button")) b.disabled = false;
      }
    });
    card.append(form);
  }
  return card;
}

/** complaintNumbers reads the numbers of the complaints conflicts name, a few at a time. */
export async function complaintNumbers(conflicts, cache) {
  const ids = [...new Set(conflicts.map((c) => c.complaint_id).filter((id) => id && !cache.has(id)))];
  await Promise.all(ids.map(async (id) => {
    try { cache.set(id, await api("GET", "/v1/complaints/" + id)); } catch (_) { cache.set(id, null); }
  }));
}

route("#/review", {
  title: "review.title", nav: "review.nav", roles: ["dispatcher", "supervisor", "admin"],
  async render(main) {
    const who = await people().catch(() => new Map());
    const complaints = new Map();
    let status = "open";
    let next = "";
    let seq = 0;
    const list = h("div", { class: "conflict-list", id: "review-list" });
    const countEl = h("span", { class: "muted", "aria-live": "polite" });
    const empty = h("p", { class: "muted", hidden: true, tabindex: "-1" });
    const errors = h("div", { "aria-live": "assertive" });
    const more = h("button", { type: "button", class: "secondary", hidden: true, onclick: () => load(true) }, t("review.more"));
    // Dispatch settles the selected open conflicts in one request (POST /v1/conflicts/settle).
    const canSettle = session?.role === "dispatcher";
    const selectedCount = h("span", { class: "muted", "aria-live": "polite" });
    const boxes = () => [...list.querySelectorAll("input[data-select]")];
    const chosen = () => boxes().filter((b) => b.checked).map((b) => b.dataset.select);
    const settleButtons = [];
    const refresh = () => {
      const n = chosen().length;
      selectedCount.textContent = n ? t("review.selected", { n: localDigits(n) }) : "";
      for (const b of settleButtons) b.disabled = n === 0;
      allBox.checked = n > 0 && n === boxes().length;
    };
    const allId = "review-select-all";
    const allBox = h("input", { id: allId, type: "checkbox", onchange: () => { for (const b of boxes()) b.checked = allBox.checked; refresh(); } });
    async function settle(action) {
      const ids = chosen();
      if (!ids.length) return;
      if (action === "overrule") {
        // Overruling applies each device's value: an inspector's outcome closes its complaint.
        const outcomes = boxes().filter((b) => b.checked && b.closest("article")?.dataset.rule === "needs_review").length;
        if (!confirm(t("review.overruleConfirm", { n: localDigits(ids.length), o: localDigits(outcomes) }))) return;
      }
      for (const b of settleButtons) b.disabled = true;
      errors.replaceChildren();
      try {
        const res = await api("POST", "/v1/conflicts/settle", { ids, action });
        const bad = res.results.filter((r) => r.status !== 200);
        toast(t("review.settled", { ok: localDigits(res.results.length - bad.length), bad: localDigits(bad.length) }));
        for (const r of bad) errors.append(h("div", { class: "error", role: "alert" }, t("review.refused", { id: r.id, d: r.problem?.code ? errorText({ code: r.problem.code, message: r.problem.detail }) : r.status })));
      } catch (err) {
        errors.append(h("div", { class: "error", role: "alert" }, errorText(err)));
      }
      await load(false, true, 0);
    }
    for (const action of ["accept", "overrule"]) {
      settleButtons.push(h("button", { type: "button", class: action === "overrule" ? "danger" : "", disabled: true, dataset: { settle: action },
        onclick: () => settle(action) }, t("review." + action + "Selected")));
    }
    const bulk = h("div", { class: "actions bulk", hidden: true },
      h("label", { for: allId }, allBox, " ", t("review.selectAll")), ...settleButtons, selectedCount);
    const tabs = h("div", { class: "tabs", role: "group", "aria-label": t("review.tabs") },
      ["open", "resolved"].map((s) => h("button", { type: "button", class: "tab", "aria-pressed": String(s === status), dataset: { tab: s }, onclick: (e) => {
        status = s;
        for (const b of tabs.children) b.setAttribute("aria-pressed", String(b === e.currentTarget));
        load(false);
      } }, t("review." + s))));

    // focusAt: after a conflict is settled, the focus goes to the card now in
    // its place (the next one), or to the list's end, not to the page's start.
    async function load(append, keepErrors, focusAt = -1) {
      const my = ++seq;
      if (!keepErrors) errors.replaceChildren();
      try {
        const p = new URLSearchParams({ status, limit: "25" });
        if (append && next) p.set("cursor", next);
        const page = await api("GET", "/v1/conflicts?" + p);
        if (!append) complaints.clear(); // who holds a complaint now is read afresh with the list
        await complaintNumbers(page.items, complaints);
        if (my !== seq) return;
        const prev = !append && list.contains(document.activeElement) ? document.activeElement : null;
        if (prev && focusAt < 0) focusAt = [...list.children].findIndex((c) => c.contains(prev));
        if (!append) list.replaceChildren();
        for (const cf of page.items) {
          const card = conflictCard(cf, { who, complaints }, () => load(false, false, [...list.children].indexOf(card)));
          if (canSettle && cf.status === "open") {
            const boxId = "cf-select-" + cf.id;
            card.querySelector(".conflict-head").prepend(h("input", { id: boxId, type: "checkbox", dataset: { select: cf.id },
              "aria-label": t("review.select") + " — " + t("review.rule." + ruleKey(cf)), onchange: refresh }));
          }
          list.append(card);
        }
        bulk.hidden = !(canSettle && status === "open" && list.children.length > 0);
        refresh();
        next = page.next_cursor || "";
        more.hidden = !next;
        empty.hidden = list.children.length > 0;
        empty.textContent = t(status === "open" ? "review.empty" : "review.emptyResolved");
        countEl.textContent = t("review.count", { n: list.children.length }) + (next ? "+" : "");
        if (focusAt >= 0) {
          const card = list.children[Math.min(focusAt, list.children.length - 1)];
          const fallback = card?.querySelector("input, .value-box, button:not([disabled])") || (empty.hidden ? null : empty) || more;
          if (prev) refocus(prev, fallback);
          else fallback?.focus();
        }
      } catch (err) {
        if (my === seq) errors.append(h("div", { class: "error", role: "alert" }, errorText(err)));
      }
    }

    main.append(h("div", { class: "board-head" }, h("h1", {}, t("review.title")), countEl), tabs, bulk, errors, list, empty, h("div", { class: "actions" }, more));
    await load(false);
    let timer;
    const unsub = feedSubscribe((ev) => {
      if (ev.type === "reset" || ev.conflict || ev.type === "complaint.needs_review" || ev.type === "complaint.reviewed" ||
        (ev.type === "complaint.routed" && complaints.has(ev.complaint_id))) {
        // Not while the dispatcher is typing a note in this list or has conflicts selected.
        clearTimeout(timer);
        timer = setTimeout(function again() {
          if (chosen().length > 0 || (list.contains(document.activeElement) && document.activeElement.tagName === "INPUT" && document.activeElement.value)) {
            timer = setTimeout(again, 3000);
            return;
          }
          load(false);
        }, 300);
      }
    });
    onLeave(() => { unsub(); clearTimeout(timer); });
  },
});
