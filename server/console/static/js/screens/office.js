// Office liaisons: the complaints dispatch referred to their offices (the API
// never sends them the caller), each with its answer's due time, an
// acknowledgement, and the answer with optional files: declared in the answer
// (id, size, type, SHA-256), then uploaded over tus like an inspector's evidence.
import { addLabels, api, fmtDate, h, rawFetch, route, showError, t, toast, ApiError } from "../core.js";
import { sha256Hex, uuidv4 } from "./ids.js";

addLabels({
  fa: {
    "office.title": "شکایت‌های ارجاعی", "office.nav": "شکایت‌های ارجاعی",
    "office.intro": "شکایت‌هایی که مرکز پیام برای پاسخ به دستگاه شما ارجاع داده است. مشخصات تماس‌گیرنده نزد مرکز پیام می‌ماند.",
    "office.show": "نمایش", "office.open": "منتظر پاسخ", "office.answered": "پاسخ‌داده", "office.all": "همه", "office.refresh": "به‌روزرسانی",
    "office.number": "شکایت شماره {n}", "office.callTime": "زمان تماس", "office.referredAt": "زمان ارجاع", "office.due": "مهلت پاسخ",
    "office.overdue": "مهلت گذشته", "office.dueIn": "مانده تا مهلت", "office.note": "یادداشت مرکز پیام",
    "office.ack": "اعلام رؤیت", "office.acked": "رؤیت شد: {at}", "office.notAcked": "هنوز رؤیت نشده",
    "office.answer": "پاسخ دستگاه", "office.action": "اقدام انجام‌شده",
    "office.action.corrected": "مشکل برطرف شد", "office.action.disciplinary": "اقدام انضباطی", "office.action.not_confirmed": "تأیید نشد", "office.action.other": "سایر",
    "office.text": "شرح پاسخ", "office.textHint": "آنچه دستگاه یافت و انجام داد (حداکثر ۴۰۰۰ نویسه)",
    "office.files": "پیوست‌ها (اختیاری)", "office.filesHint": "عکس (JPEG، PNG، HEIC، WebP) یا PDF، حداکثر ۱۰ فایل و هر کدام تا ۲۵ مگابایت",
    "office.send": "ثبت پاسخ", "office.sending": "در حال ثبت…", "office.hashing": "محاسبه اثر انگشت فایل‌ها…",
    "office.sent": "پاسخ ثبت شد", "office.answeredAt": "پاسخ داده شد: {at}",
    "office.badType": "نوع فایل {name} پذیرفته نیست", "office.tooBig": "فایل {name} بزرگ‌تر از ۲۵ مگابایت است", "office.tooMany": "حداکثر ۱۰ فایل",
    "office.upload": "بارگذاری {name}", "office.uploading": "در حال بارگذاری {name}…", "office.uploaded": "{name} بارگذاری شد",
    "office.uploadFailed": "بارگذاری {name} ناموفق بود", "office.retry": "تلاش دوباره", "office.attachments": "پیوست‌ها: {n}",
    "office.none": "شکایتی در این فهرست نیست.", "office.more": "موارد بیشتر", "office.required": "شرح پاسخ را بنویسید",
    "office.chooseAction": "اقدام را انتخاب کنید", "office.empty": "فایل {name} خالی است", "office.notSent": "پاسخ فرستاده نشد:",
    "office.alreadyAnswered": "این شکایت پیش‌تر پاسخ داده شده است؛ پاسخ ثبت‌شده در زیر آمده است.",
    "office.missing": "پیوست «{name}» به سرور نرسیده است؛ همان فایل را دوباره انتخاب کنید.", "office.missingFile": "پیوست {n}",
    "office.chooseAgain": "انتخاب دوباره «{name}»", "office.notTheFile": "این همان فایل نیست (اندازه یا محتوایش فرق دارد).",
  },
  en: {
    "office.title": "Referred complaints", "office.nav": "Referred complaints",
    "office.intro": "Complaints the message center referred to your office for an answer. The caller's details stay with the message center.",
    "office.show": "Show", "office.open": "Awaiting answer", "office.answered": "Answered", "office.all": "All", "office.refresh": "Refresh",
    "office.number": "Complaint {n}", "office.callTime": "Called", "office.referredAt": "Referred", "office.due": "Answer due",
    "office.overdue": "Overdue", "office.dueIn": "Due in", "office.note": "Message center's note",
    "office.ack": "Acknowledge", "office.acked": "Acknowledged {at}", "office.notAcked": "Not acknowledged yet",
    "office.answer": "The office's answer", "office.action": "Action taken",
    "office.action.corrected": "Corrected", "office.action.disciplinary": "Disciplinary action", "office.action.not_confirmed": "Not confirmed", "office.action.other": "Other",
    "office.text": "Answer", "office.textHint": "What the office found and did (at most 4000 characters)",
    "office.files": "Attachments (optional)", "office.filesHint": "Photos (JPEG, PNG, HEIC, WebP) or PDF, at most 10 files of up to 25 MB each",
    "office.send": "Send the answer", "office.sending": "Sending…", "office.hashing": "Fingerprinting the files…",
    "office.sent": "Answer sent", "office.answeredAt": "Answered {at}",
    "office.badType": "{name}: this type of file is not accepted", "office.tooBig": "{name} is larger than 25 MB", "office.tooMany": "At most 10 files",
    "office.upload": "Upload {name}", "office.uploading": "Uploading {name}…", "office.uploaded": "{name} uploaded",
    "office.uploadFailed": "Uploading {name} failed", "office.retry": "Retry", "office.attachments": "Attachments: {n}",
    "office.none": "No complaints in this list.", "office.more": "More", "office.required": "Write the answer",
    "office.chooseAction": "Choose the action taken", "office.empty": "{name} is empty", "office.notSent": "The answer was not sent:",
    "office.alreadyAnswered": "This complaint was answered already; the answer on record is below.",
    "office.missing": "The attachment “{name}” has not reached the server; choose the same file again.", "office.missingFile": "attachment {n}",
    "office.chooseAgain": "Choose “{name}” again", "office.notTheFile": "This is not the same file (its size or content differs).",
  },
});

const actions = ["corrected", "disciplinary", "not_confirmed", "other"];
const allowedTypes = ["image/jpeg", "image/png", "image/heic", "image/webp", "application/pdf"];
const maxSize = 25 * 1024 * 1024;
const statusFilters = { open: "referred_to_workplace", answered: "referral_answered", all: "" };
let shown = "open";
const officeNames = new Map();

// Files whose upload failed after the answer declared them, kept for a retry
// while the page lives: evidence id → {file, sha}.
const pendingUploads = new Map();

function b64(s) { return btoa(unescape(encodeURIComponent(s))); }

/** tusUpload sends one file over tus 1.0: create, then one PATCH from offset 0. */
export async function tusUpload(evidenceID, sha, file) {
  const type = file.type || "application/octet-stream";
  const created = await rawFetch("POST", "/v1/uploads", undefined, {
    "Tus-Resumable": "1.0.0", "Upload-Length": String(file.size),
    "Upload-Metadata": `evidence_id ${b64(evidenceID)},sha256 ${b64(sha)},filetype ${b64(type)}`,
  });
  if (created.status !== 201) throw new ApiError(created.status, await created.json().catch(() => null));
  const location = created.headers.get("Location");
  const sent = await rawFetch("PATCH", location, file, {
    "Tus-Resumable": "1.0.0", "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream",
  });
  if (sent.status !== 204 && sent.status !== 200) throw new ApiError(sent.status, await sent.json().catch(() => null));
  return sent.headers.get("Favad-Evidence-Status") || "stored";
}

async function officeName(code) {
  if (!officeNames.has(code)) {
    officeNames.set(code, api("GET", "/v1/offices/" + encodeURIComponent(code)).then((o) => o.name_fa).catch(() => code));
  }
  return officeNames.get(code);
}

function dueBadge(c) {
  const due = c.referral?.due_at;
  if (!due) return null;
  const late = c.status === "referred_to_workplace" && new Date(due) < new Date();
  return h("span", { class: late ? "badge danger" : "badge warn" }, late ? t("office.overdue") + " — " : "", t("office.due") + ": " + fmtDate(due));
}

function answerView(c) {
  const a = c.referral?.answer;
  if (!a) return null;
  return h("div", { class: "inline-form" },
    h("h3", {}, t("office.answer")),
    h("div", { class: "meta" }, h("span", { class: "badge ok" }, t("office.action." + a.action)), h("span", {}, t("office.answeredAt", { at: fmtDate(a.answered_at) }))),
    h("p", { class: "desc" }, a.text),
    a.evidence_ids?.length ? h("div", { class: "muted" }, t("office.attachments", { n: a.evidence_ids.length })) : null,
    uploadsView(a.evidence_ids || []), missingView(a.evidence_ids || []));
}

/**
 * missingView asks the server for the answer's attachments that never
 * arrived (an upload failed, and the page was closed before its retry) and
 * offers to choose each file again; the bytes must be the ones declared.
 */
function missingView(ids) {
  const box = h("div", { "aria-live": "polite" });
  ids.forEach(async (id, i) => {
    if (pendingUploads.has(id)) return; // offered by uploadsView
    let ev;
    try { ev = await api("GET", "/v1/evidence/" + encodeURIComponent(id)); } catch (_) { return; }
    if (ev.status !== "awaiting_upload") return;
    const name = ev.note || t("office.missingFile", { n: i + 1 });
    const input = h("input", { type: "file", id: "again-" + id, accept: ev.content_type, "aria-label": t("office.chooseAgain", { name }) });
    const status = h("span", {}, t("office.missing", { name }));
    const err = h("div", {});
    input.addEventListener("change", async () => {
      const f = input.files[0];
      if (!f) return;
      err.replaceChildren();
      input.disabled = true;
      try {
        if (f.size !== ev.size || (await sha256Hex(f)) !== ev.sha256) throw new Error(t("office.notTheFile"));
        status.textContent = t("office.uploading", { name });
        await tusUpload(id, ev.sha256, retype(f, ev.content_type));
        status.textContent = t("office.uploaded", { name });
        input.remove();
      } catch (e) {
        status.textContent = t("office.missing", { name });
        showError(err, e);
        input.disabled = false;
      }
    });
    box.append(h("div", { class: "field missing-upload" }, status, " ", input, err));
  });
  return box;
}

/** uploadsView lists files still to upload after an answer, with a retry button each. */
function uploadsView(ids) {
  const box = h("div", { "aria-live": "polite" });
  for (const id of ids) {
    const p = pendingUploads.get(id);
    if (!p) continue;
    box.append(uploadRow(id, p));
  }
  return box;
}

function uploadRow(id, p) {
  const status = h("span", {}, t("office.uploadFailed", { name: p.file.name }));
  const err = h("div", {});
  const retry = h("button", { type: "button", class: "secondary", onclick: async () => {
    retry.disabled = true;
    status.textContent = t("office.uploading", { name: p.file.name });
    try {
      await tusUpload(id, p.sha, p.file);
      pendingUploads.delete(id);
      status.textContent = t("office.uploaded", { name: p.file.name });
      retry.remove();
      err.replaceChildren();
    } catch (e) {
      status.textContent = t("office.uploadFailed", { name: p.file.name });
      showError(err, e);
      retry.disabled = false;
    }
  } }, t("office.retry"));
  return h("div", { class: "row" }, h("div", {}, status, " ", retry, err));
}

function answerForm(c, onDone) {
  const idp = "ans-" + c.id;
  const radios = actions.map((a) => h("label", {}, h("input", { type: "radio", name: idp + "-action", value: a, required: true }), t("office.action." + a)));
  const text = h("textarea", { id: idp + "-text", maxlength: 4000, required: true, "aria-describedby": idp + "-text-hint" });
  const files = h("input", { id: idp + "-files", type: "file", multiple: true, accept: allowedTypes.join(",") + ",.heic", "aria-describedby": idp + "-files-hint" });
  const errors = h("div", { "aria-live": "assertive" });
  const progress = h("div", { class: "muted", "aria-live": "polite" });
  const send = h("button", { type: "submit" }, t("office.send"));
  // Each file keeps its evidence id and hash across retries: an answer sent
  // again after a lost reply is the same answer, which the server recognises.
  const prepared = new Map();
  const form = h("form", { class: "inline-form", novalidate: true, onsubmit: async (e) => {
    e.preventDefault();
    errors.replaceChildren();
    const action = form.querySelector(`input[name="${idp}-action"]:checked`)?.value;
    const problems = [];
    if (!action) problems.push({ field: t("office.action"), message: t("office.chooseAction") });
    if (!text.value.trim()) problems.push({ field: t("office.text"), message: t("office.required") });
    const list = [...files.files];
    if (list.length > 10) problems.push({ field: t("office.files"), message: t("office.tooMany") });
    for (const f of list) {
      if (!allowedTypes.includes(typeOf(f))) problems.push({ field: t("office.files"), message: t("office.badType", { name: f.name }) });
      else if (f.size === 0) problems.push({ field: t("office.files"), message: t("office.empty", { name: f.name }) });
      else if (f.size > maxSize) problems.push({ field: t("office.files"), message: t("office.tooBig", { name: f.name }) });
    }
    if (problems.length) {
      showError(errors, { message: t("office.notSent"), fields: problems });
      return;
    }
    send.disabled = true;
    try {
      progress.textContent = list.length ? t("office.hashing") : t("office.sending");
      const attachments = [];
      for (const f of list) {
        const key = [f.name, f.size, f.lastModified].join("|");
        if (!prepared.has(key)) prepared.set(key, { id: uuidv4(), sha: await sha256Hex(f) });
        const { id, sha } = prepared.get(key);
        const type = typeOf(f);
        attachments.push({ id, kind: type === "application/pdf" ? "document" : "photo", content_type: type, size: f.size, sha256: sha,
          note: f.name.slice(0, 200), file: f });
      }
      progress.textContent = t("office.sending");
      const body = { action, text: text.value.trim() };
      if (attachments.length) body.attachments = attachments.map(({ file, ...a }) => a);
      const updated = await api("POST", `/v1/complaints/${encodeURIComponent(c.id)}/referral/answer`, body);
      toast(t("office.sent"));
      for (const a of attachments) {
        progress.textContent = t("office.uploading", { name: a.file.name });
        try {
          await tusUpload(a.id, a.sha256, retype(a.file, a.content_type));
        } catch (err) {
          pendingUploads.set(a.id, { file: retype(a.file, a.content_type), sha: a.sha256 });
        }
      }
      onDone(updated);
    } catch (err) {
      if (err.status === 409) {
        // Answered already (another tab, a colleague): show the answer on record.
        const now = await api("GET", `/v1/complaints/${encodeURIComponent(c.id)}`).catch(() => null);
        if (now?.referral?.answer) { onDone(now, t("office.alreadyAnswered")); return; }
      }
      showError(errors, err);
      send.disabled = false;
      progress.textContent = "";
    }
  } },
  h("h3", {}, t("office.answer")),
  h("fieldset", {}, h("legend", {}, t("office.action")), h("div", { class: "radio-row" }, radios)),
  h("div", { class: "field" }, h("label", { for: text.id }, t("office.text")), text, h("div", { class: "muted", id: idp + "-text-hint" }, t("office.textHint"))),
  h("div", { class: "field" }, h("label", { for: files.id }, t("office.files")), files, h("div", { class: "muted", id: idp + "-files-hint" }, t("office.filesHint"))),
  errors, progress,
  h("div", { class: "actions" }, send));
  return form;
}

// Some browsers leave a HEIC file's type empty: name it from its extension.
function typeOf(f) {
  if (f.type) return f.type.toLowerCase();
  return /\.heic$/i.test(f.name) ? "image/heic" : "";
}

function retype(f, type) { return f.type === type ? f : new File([f], f.name, { type }); }

async function card(c, draw, notice) {
  const name = await officeName(c.office_code);
  // The card is drawn again after what the liaison did on it: the focus goes to its heading, which says what it is now.
  const redraw = async (updated, note) => { await draw(updated, note); document.getElementById("c-" + c.id)?.focus(); };
  const errors = h("div", { "aria-live": "assertive" }, notice ? h("div", { class: "warning", role: "status" }, notice) : null);
  const ref = c.referral || {};
  const late = c.status === "referred_to_workplace" && ref.due_at && new Date(ref.due_at) < new Date();
  const ack = c.status === "referred_to_workplace" && !ref.acknowledged_at
    ? h("button", { type: "button", class: "secondary", onclick: async (e) => {
      const btn = e.currentTarget; // gone from the event once it awaits
      btn.disabled = true;
      try { await redraw(await api("POST", `/v1/complaints/${encodeURIComponent(c.id)}/referral/acknowledge`)); } catch (err) { showError(errors, err); btn.disabled = false; }
    } }, t("office.ack"))
    : null;
  return h("article", { class: "card" + (late ? " overdue-card" : ""), "aria-labelledby": "c-" + c.id },
    h("h2", { id: "c-" + c.id, tabindex: "-1" }, t("office.number", { n: c.number }), " — ", name),
    h("div", { class: "meta" },
      h("span", { class: "badge" }, t("status." + c.status)), h("span", { class: "badge" }, t("category." + c.category)),
      h("span", { class: "badge" }, t("priority." + c.priority)), dueBadge(c)),
    h("div", { class: "meta" },
      h("span", {}, t("office.callTime") + ": " + fmtDate(c.call_time)), h("span", {}, t("office.referredAt") + ": " + fmtDate(ref.referred_at)),
      h("span", {}, ref.acknowledged_at ? t("office.acked", { at: fmtDate(ref.acknowledged_at) }) : t("office.notAcked"))),
    h("p", { class: "desc" }, c.description),
    ref.note ? h("p", { class: "desc" }, h("strong", {}, t("office.note") + ": "), ref.note) : null,
    ack ? h("div", { class: "actions" }, ack) : null, errors,
    c.status === "referred_to_workplace" ? answerForm(c, redraw) : answerView(c));
}

route("#/office", {
  title: "office.title", nav: "office.nav", roles: ["office"],
  async render(main) {
    const list = h("div", { "aria-live": "polite" });
    const sel = h("select", { id: "office-show", onchange: () => { shown = sel.value; load(); } },
      Object.keys(statusFilters).map((k) => h("option", { value: k, selected: shown === k }, t("office." + k))));
    main.append(h("h1", {}, t("office.title")), h("p", { class: "muted" }, t("office.intro")),
      h("div", { class: "row narrow toolbar" }, h("div", { class: "field" }, h("label", { for: "office-show" }, t("office.show")), sel),
        h("div", {}, h("button", { type: "button", class: "secondary", onclick: () => load() }, t("office.refresh")))),
      list);
    const load = async (cursor) => {
      if (!cursor) list.replaceChildren();
      const q = new URLSearchParams({ limit: "20" });
      if (statusFilters[shown]) q.set("status", statusFilters[shown]);
      if (cursor) q.set("cursor", cursor);
      try {
        const page = await api("GET", "/v1/referrals?" + q);
        list.querySelector(".more")?.remove();
        if (!page.items.length && !cursor) list.append(h("p", { class: "card muted" }, t("office.none")));
        for (const c of page.items) {
          const slot = h("div", {});
          const draw = async (updated, notice) => { slot.replaceChildren(await card(updated, draw, notice)); };
          await draw(c);
          list.append(slot);
        }
        if (page.next_cursor) list.append(h("div", { class: "actions more" }, h("button", { type: "button", class: "secondary", onclick: () => load(page.next_cursor) }, t("office.more"))));
      } catch (err) {
        showError(list, err);
      }
    };
    await load();
  },
});
