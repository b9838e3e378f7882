// One complaint: its header, routing actions, open conflicts, the referral
// and the office's answer, the field work (visits with check-in/out distances
// to the office, attendance findings, calls, notes), the evidence with its
// EXIF, flags and hash chain, and the timeline of every change. Refreshed
// live when a feed event names it.
import { addLabels, api, errorText, blobURL, distanceM, download, eventComplaints, feedSubscribe, fmtDate, fmtDuration, fmtNumber, h, onLeave, refocus, route, session, t } from "../core.js";
import {
  activeDue, agencyName, assignDialog, closeDialog, deviceName, dueState, fmtDistance, groupCode, localDigits, people, personName, reference,
  routingButtons, sep, statusBadge,
} from "./routing.js";
import { complaintNumbers, conflictCard } from "./review.js";

addLabels({
  fa: {
    "complaint.title": "شکایت", "complaint.heading": "شکایت {n}", "complaint.back": "بازگشت به کارتابل",
    "complaint.office": "اداره", "complaint.category": "موضوع", "complaint.priority": "اولویت", "complaint.callTime": "زمان تماس",
    "complaint.due": "مهلت", "complaint.tracking": "کد پیگیری", "complaint.caller": "تماس‌گیرنده", "complaint.callId": "شناسه تماس", "complaint.phone": "تلفن",
    "complaint.assignment": "رسیدگی", "complaint.outcome": "نتیجه", "complaint.description": "شرح", "complaint.noCaller": "(ثبت نشده)",
    "complaint.overdue": "معوق", "complaint.referralDue": "مهلت پاسخ دستگاه",
    "complaint.conflicts": "تعارض‌های باز این شکایت",
    "complaint.referral": "ارجاع به دستگاه", "complaint.referredAt": "زمان ارجاع", "complaint.referredBy": "ارجاع‌دهنده", "complaint.note": "یادداشت",
    "complaint.ackAt": "تأیید دریافت", "complaint.answer": "پاسخ دستگاه", "complaint.answeredBy": "پاسخ‌دهنده", "complaint.attachments": "{n} پیوست (در بخش مدارک)",
    "complaint.noAnswer": "دستگاه هنوز پاسخ نداده است.",
    "complaint.referralAction.corrected": "مشکل برطرف شد", "complaint.referralAction.disciplinary": "اقدام انضباطی", "complaint.referralAction.not_confirmed": "تأیید نشد", "complaint.referralAction.other": "سایر",
    "complaint.fieldwork": "کار میدانی", "complaint.visits": "بازدیدها", "complaint.noVisits": "بازدیدی ثبت نشده است.",
    "complaint.checkIn": "ورود", "complaint.checkOut": "خروج", "complaint.fromOffice": "{d} از اداره", "complaint.accuracy": "دقت {n} متر",
    "complaint.stay": "مدت حضور: {d}", "complaint.notYet": "هنوز ثبت نشده", "complaint.summary": "خلاصه", "complaint.far": "دور از اداره",
    "complaint.findings": "یافته‌های حضور و غیاب", "complaint.noFindings": "یافته‌ای ثبت نشده است.",
    "complaint.expected": "کارکنان مورد انتظار", "complaint.present": "حاضر", "complaint.absent": "غایب", "complaint.clients": "مراجعان منتظر",
    "complaint.desks": "باجه‌های باز", "complaint.nonWork": "کار غیراداری", "complaint.observedAt": "زمان مشاهده", "complaint.absentees": "غایبان",
    "complaint.reason.leave": "مرخصی", "complaint.reason.mission": "مأموریت", "complaint.reason.unexcused": "غیبت بدون مجوز", "complaint.reason.unknown": "نامعلوم",
    "complaint.calls": "تماس‌های بازرس تلفنی", "complaint.noCalls": "تماسی ثبت نشده است.", "complaint.callee": "طرف تماس", "complaint.number": "شماره",
    "complaint.started": "زمان", "complaint.duration": "مدت", "complaint.callOutcome": "نتیجه",
    "complaint.callOutcome.reached": "پاسخ داد", "complaint.callOutcome.no_answer": "پاسخ نداد", "complaint.callOutcome.busy": "مشغول", "complaint.callOutcome.wrong_number": "شماره اشتباه",
    "complaint.notes": "یادداشت‌ها", "complaint.noNotes": "یادداشتی نیست.", "complaint.by": "توسط {name}",
    "complaint.evidence": "مدارک", "complaint.noEvidence": "مدرکی ثبت نشده است.",
    "complaint.chainOk": "زنجیره مدارک پیوسته است ({n} حلقه)", "complaint.chainBroken": "زنجیره مدارک در حلقه {n} گسسته است",
    "complaint.ev.awaiting_upload": "در انتظار فایل", "complaint.ev.stored": "ذخیره‌شده", "complaint.ev.rejected": "ردشده", "complaint.ev.missing": "فایل نرسیده",
    "complaint.flag.captured_outside_visit": "خارج از زمان بازدید", "complaint.flag.far_from_office": "دور از اداره",
    "complaint.flag.declared_type_differs": "نوع فایل متفاوت", "complaint.flag.no_capture_time": "بدون زمان عکس‌برداری",
    "complaint.kind.photo": "عکس", "complaint.kind.document": "سند", "complaint.kind.statement": "صورت‌جلسه",
    "complaint.exifTime": "زمان عکس (EXIF)", "complaint.camera": "دوربین", "complaint.gps": "مکان (EXIF)", "complaint.deviceTime": "زمان اعلام‌شده دستگاه",
    "complaint.deviceGps": "مکان اعلام‌شده دستگاه", "complaint.chain": "حلقه {n}", "complaint.size": "{n} کیلوبایت", "complaint.open": "نمایش کامل",
    "complaint.openPhoto": "نمایش کامل عکس {n}", "complaint.download": "دریافت فایل", "complaint.close": "بستن", "complaint.noThumb": "بدون پیش‌نمایش",
    "complaint.timeline": "تاریخچه تغییرات", "complaint.actor": "انجام‌دهنده", "complaint.device": "دستگاه", "complaint.time": "زمان", "complaint.change": "تغییر",
    "complaint.fromTo": "از «{from}» به «{to}»",
    "complaint.h.complaint.created": "شکایت ثبت شد", "complaint.h.complaint.assigned": "ارجاع به بازرس", "complaint.h.complaint.reassigned": "ارجاع دوباره",
    "complaint.h.complaint.referred": "ارجاع به دستگاه", "complaint.h.complaint.withdrawn": "بسته شد (انصراف)", "complaint.h.complaint.started": "بازرس رسیدگی را آغاز کرد",
    "complaint.h.complaint.outcome": "بازرس نتیجه را ثبت کرد", "complaint.h.complaint.needs_review": "به بازبینی رفت",
    "complaint.h.complaint.review_accept": "بازبینی: پذیرفته شد", "complaint.h.complaint.review_overrule": "بازبینی: نقض شد",
    "complaint.h.complaint.updated": "شکایت ویرایش شد", "complaint.h.complaint.referral_acknowledged": "دستگاه دریافت را تأیید کرد",
    "complaint.h.complaint.referral_answered": "دستگاه پاسخ داد", "complaint.h.complaint.closed": "با پاسخ دستگاه بسته شد", "complaint.h.complaint.sla_breached": "مهلت گذشت",
    "complaint.h.visit.created": "بازدید ثبت شد", "complaint.h.visit.updated": "بازدید به‌روز شد", "complaint.h.visit.deleted": "بازدید حذف شد",
    "complaint.h.finding.created": "یافته حضور و غیاب ثبت شد", "complaint.h.call.created": "تماس تلفنی ثبت شد", "complaint.h.note.created": "یادداشت ثبت شد",
    "complaint.h.evidence.created": "مدرک اعلام شد", "complaint.h.evidence.stored": "فایل مدرک ذخیره شد", "complaint.h.evidence.rejected": "فایل مدرک رد شد",
    "complaint.h.evidence.thumbnail": "پیش‌نمایش مدرک ساخته شد", "complaint.h.conflict.created": "تعارض ثبت شد",
    "complaint.h.conflict.resolved_accept": "تعارض پذیرفته شد", "complaint.h.conflict.resolved_overrule": "تعارض نقض شد",
    "complaint.d.inspector": "بازرس", "complaint.d.previous_inspector": "بازرس قبلی", "complaint.d.mode": "شیوه", "complaint.d.note": "یادداشت",
    "complaint.d.reason": "دلیل", "complaint.d.outcome": "نتیجه", "complaint.d.fields": "فیلدها", "complaint.d.rule": "قاعده", "complaint.d.status": "وضعیت فایل",
    "complaint.d.category": "موضوع", "complaint.d.priority": "اولویت", "complaint.d.action": "اقدام دستگاه", "complaint.d.device_time": "زمان دستگاه",
    "complaint.d.due": "مهلت", "complaint.d.kind": "نوع",
    "complaint.vf.check_in": "ورود", "complaint.vf.check_out": "خروج", "complaint.vf.summary": "خلاصه", "complaint.vf.office_code": "اداره", "complaint.vf.complaint_ids": "شکایت‌ها",
  },
  en: {
    "complaint.title": "Complaint", "complaint.heading": "Complaint {n}", "complaint.back": "Back to the board",
    "complaint.office": "Office", "complaint.category": "Category", "complaint.priority": "Priority", "complaint.callTime": "Call time",
    "complaint.due": "Due", "complaint.tracking": "Tracking code", "complaint.caller": "Caller", "complaint.callId": "Call id", "complaint.phone": "phone",
    "complaint.assignment": "Handled by", "complaint.outcome": "Outcome", "complaint.description": "Description", "complaint.noCaller": "(not given)",
    "complaint.overdue": "Overdue", "complaint.referralDue": "Office's answer due",
    "complaint.conflicts": "Open conflicts of this complaint",
    "complaint.referral": "Referral to the office", "complaint.referredAt": "Referred", "complaint.referredBy": "Referred by", "complaint.note": "Note",
    "complaint.ackAt": "Acknowledged", "complaint.answer": "The office's answer", "complaint.answeredBy": "Answered by", "complaint.attachments": "{n} attachment(s) (under Evidence)",
    "complaint.noAnswer": "The office has not answered yet.",
    "complaint.referralAction.corrected": "Corrected", "complaint.referralAction.disciplinary": "Disciplinary action", "complaint.referralAction.not_confirmed": "Not confirmed", "complaint.referralAction.other": "Other",
    "complaint.fieldwork": "Field work", "complaint.visits": "Visits", "complaint.noVisits": "No visit recorded.",
    "complaint.checkIn": "Check-in", "complaint.checkOut": "Check-out", "complaint.fromOffice": "{d} from the office", "complaint.accuracy": "accuracy {n} m",
    "complaint.stay": "On site: {d}", "complaint.notYet": "not yet", "complaint.summary": "Summary", "complaint.far": "far from the office",
    "complaint.findings": "Attendance findings", "complaint.noFindings": "No finding recorded.",
    "complaint.expected": "Staff expected", "complaint.present": "Present", "complaint.absent": "Absent", "complaint.clients": "Clients waiting",
    "complaint.desks": "Desks open", "complaint.nonWork": "Non-work activity", "complaint.observedAt": "Observed", "complaint.absentees": "Absentees",
    "complaint.reason.leave": "Leave", "complaint.reason.mission": "Mission", "complaint.reason.unexcused": "Unexcused", "complaint.reason.unknown": "Unknown",
    "complaint.calls": "Phone inspector's calls", "complaint.noCalls": "No call recorded.", "complaint.callee": "Callee", "complaint.number": "Number",
    "complaint.started": "Time", "complaint.duration": "Duration", "complaint.callOutcome": "Outcome",
    "complaint.callOutcome.reached": "Reached", "complaint.callOutcome.no_answer": "No answer", "complaint.callOutcome.busy": "Busy", "complaint.callOutcome.wrong_number": "Wrong number",
    "complaint.notes": "Notes", "complaint.noNotes": "No note.", "complaint.by": "by {name}",
    "complaint.evidence": "Evidence", "complaint.noEvidence": "No evidence recorded.",
    "complaint.chainOk": "The evidence chain is linked ({n} links)", "complaint.chainBroken": "The evidence chain breaks at link {n}",
    "complaint.ev.awaiting_upload": "Awaiting file", "complaint.ev.stored": "Stored", "complaint.ev.rejected": "Rejected", "complaint.ev.missing": "File overdue",
    "complaint.flag.captured_outside_visit": "Outside the visit", "complaint.flag.far_from_office": "Far from the office",
    "complaint.flag.declared_type_differs": "Type differs", "complaint.flag.no_capture_time": "No capture time",
    "complaint.kind.photo": "Photo", "complaint.kind.document": "Document", "complaint.kind.statement": "Statement",
    "complaint.exifTime": "Taken (EXIF)", "complaint.camera": "Camera", "complaint.gps": "Place (EXIF)", "complaint.deviceTime": "Device's capture time",
    "complaint.deviceGps": "Device's place", "complaint.chain": "Link {n}", "complaint.size": "{n} KB", "complaint.open": "Full view",
    "complaint.openPhoto": "Full view of photo {n}", "complaint.download": "Download", "complaint.close": "Close", "complaint.noThumb": "No preview",
    "complaint.timeline": "Timeline", "complaint.actor": "By", "complaint.device": "Device", "complaint.time": "Time", "complaint.change": "Change",
    "complaint.fromTo": "from “{from}” to “{to}”",
    "complaint.h.complaint.created": "Complaint recorded", "complaint.h.complaint.assigned": "Assigned", "complaint.h.complaint.reassigned": "Reassigned",
    "complaint.h.complaint.referred": "Referred to the office", "complaint.h.complaint.withdrawn": "Withdrawn", "complaint.h.complaint.started": "Inspector started",
    "complaint.h.complaint.outcome": "Inspector's outcome", "complaint.h.complaint.needs_review": "Sent to review",
    "complaint.h.complaint.review_accept": "Review: accepted", "complaint.h.complaint.review_overrule": "Review: overruled",
    "complaint.h.complaint.updated": "Complaint edited", "complaint.h.complaint.referral_acknowledged": "Office acknowledged",
    "complaint.h.complaint.referral_answered": "Office answered", "complaint.h.complaint.closed": "Closed on the office's answer", "complaint.h.complaint.sla_breached": "Due time passed",
    "complaint.h.visit.created": "Visit recorded", "complaint.h.visit.updated": "Visit updated", "complaint.h.visit.deleted": "Visit deleted",
    "complaint.h.finding.created": "Attendance finding recorded", "complaint.h.call.created": "Call recorded", "complaint.h.note.created": "Note written",
    "complaint.h.evidence.created": "Evidence declared", "complaint.h.evidence.stored": "Evidence file stored", "complaint.h.evidence.rejected": "Evidence file rejected",
    "complaint.h.evidence.thumbnail": "Evidence preview made", "complaint.h.conflict.created": "Conflict recorded",
    "complaint.h.conflict.resolved_accept": "Conflict accepted", "complaint.h.conflict.resolved_overrule": "Conflict overruled",
    "complaint.d.inspector": "Inspector", "complaint.d.previous_inspector": "Previous inspector", "complaint.d.mode": "Mode", "complaint.d.note": "Note",
    "complaint.d.reason": "Reason", "complaint.d.outcome": "Outcome", "complaint.d.fields": "Fields", "complaint.d.rule": "Rule", "complaint.d.status": "File status",
    "complaint.d.category": "Category", "complaint.d.priority": "Priority", "complaint.d.action": "Office's action", "complaint.d.device_time": "Device time",
    "complaint.d.due": "Due", "complaint.d.kind": "Kind",
    "complaint.vf.check_in": "check-in", "complaint.vf.check_out": "check-out", "complaint.vf.summary": "summary", "complaint.vf.office_code": "office", "complaint.vf.complaint_ids": "complaints",
  },
});

const FAR_M = 500; // the server's default --evidence-max-distance

route("#/complaint/:id", {
  title: "complaint.title", roles: ["dispatcher", "supervisor", "admin"],
  async render(main, params) {
    const [ref, who] = await Promise.all([reference(), people().catch(() => new Map())]);
    const screen = new Detail(main, params.id, ref, who);
    await screen.start();
  },
});

/**
 * who_ is a user's name; for an account the console cannot read, what it is
 * known to be (roleHint: "office" for a liaison's steps), or a short id (the
 * whole one on hover).
 */
function who_(map, id, roleHint) {
  const name = personName(map, id);
  if (name !== id) return name;
  if (roleHint) return h("span", { title: id }, t("role." + roleHint));
  return h("span", { class: "ltr", title: id }, id.length > 12 ? id.slice(0, 8) + "…" : id);
}

// The changes only dispatch makes, and those only an office liaison makes: an
// account the console cannot read is named by its role there.
const DISPATCH_ACTIONS = ["created", "assigned", "reassigned", "referred", "withdrawn", "closed", "review_accept", "review_overrule", "updated"];
function actorRole(e) {
  if ((e.kind || "complaint") === "complaint") {
    if (e.action.startsWith("referral_")) return "office";
    if (DISPATCH_ACTIONS.includes(e.action)) return "dispatcher";
  }
  if (e.kind === "evidence" && e.data?.office) return "office";
  if (e.kind === "conflict" && e.action.startsWith("resolved_")) return "dispatcher";
  return "";
}

function dl(pairs) {
  return h("dl", { class: "facts" }, pairs.filter(Boolean).map(([k, ...v]) => h("div", {}, h("dt", {}, k), h("dd", {}, ...v))));
}

class Detail {
  constructor(main, id, ref, who) {
    Object.assign(this, { main, id, ref, who });
    this.thumbs = new Map(); // evidence id → object URL
    this.complaints = new Map();
    this.sections = {};
    for (const k of ["header", "conflicts", "referral", "fieldwork", "evidence", "timeline"]) this.sections[k] = h("div", { class: "section-" + k });
  }

  async start() {
    this.main.append(h("p", {}, h("a", { href: "#/board" }, t("complaint.back"))), ...Object.values(this.sections));
    await this.load();
    let timer;
    const unsub = feedSubscribe((ev) => {
      if (ev.type === "reset" || eventComplaints(ev).includes(this.id)) {
        clearTimeout(timer);
        timer = setTimeout(() => this.load(), 250);
      }
    });
    onLeave(() => {
      unsub();
      clearTimeout(timer);
      for (const u of this.thumbs.values()) URL.revokeObjectURL(u);
    });
  }

  async load() {
    const [c, fw, ev, cf] = await Promise.all([
      api("GET", "/v1/complaints/" + this.id),
      api("GET", `/v1/complaints/${this.id}/fieldwork`),
      api("GET", `/v1/complaints/${this.id}/evidence`),
      api("GET", "/v1/conflicts?" + new URLSearchParams({ status: "open", complaint: this.id, limit: "100" })),
    ]);
    this.c = c;
    this.complaints.set(c.id, c);
    this.office = this.ref.offices.get(c.office_code);
    document.title = t("complaint.heading", { n: "#" + localDigits(c.number) }) + " — " + t("core.brand");
    const keep = this.main.contains(document.activeElement) ? document.activeElement : null;
    this.sections.header.replaceChildren(this.header(c));
    this.sections.conflicts.replaceChildren(...this.conflicts(cf.items));
    this.sections.referral.replaceChildren(...this.referral(c));
    this.sections.fieldwork.replaceChildren(this.fieldwork(fw));
    this.sections.evidence.replaceChildren(this.evidence(ev.items));
    this.sections.timeline.replaceChildren(this.timeline(c.history || []));
    refocus(keep, document.getElementById("complaint-title"));
  }

  refresh = () => this.load();

  header(c) {
    const o = this.office;
    const due = dueState(c);
    const a = c.assignment;
    const routed = c.status === "referred_to_workplace" || c.status === "referral_answered";
    return h("section", { class: "card complaint-head", "aria-labelledby": "complaint-title" },
      h("div", { class: "head-line" },
        h("h1", { id: "complaint-title", tabindex: "-1" }, t("complaint.heading", { n: "#" + localDigits(c.number) })),
        statusBadge(c.status),
        due.overdue ? h("span", { class: "badge danger", id: "complaint-overdue" }, t("complaint.overdue")) : null,
        h("span", { class: "badge prio-" + c.priority }, t("priority." + c.priority))),
      dl([
        [t("complaint.office"), o?.name_fa || c.office_code, " — ", agencyName(this.ref, c.agency_code), o ? sep() + o.city : "",
          h("div", { class: "muted" }, h("span", { class: "ltr" }, c.office_code), o?.phone ? [" · ", t("complaint.phone"), " ", h("span", { class: "ltr" }, localDigits(o.phone))] : null)],
        [t("complaint.category"), t("category." + c.category)],
        [t("complaint.callTime"), fmtDate(c.call_time)],
        [t(c.status === "referred_to_workplace" ? "complaint.referralDue" : "complaint.due"), fmtDate(due.open ? activeDue(c) : c.due_at), " ",
          due.open ? h("span", { class: "due-left " + (due.overdue ? "over" : "") }, due.text) : null],
        c.tracking_code ? [t("complaint.tracking"), h("span", { class: "code", dir: "ltr", id: "complaint-tracking" }, groupCode(c.tracking_code))] : null,
        // Every role of this screen may see the caller; the API leaves it out when none was given.
        [t("complaint.caller"), c.caller && (c.caller.name || c.caller.phone)
          ? [c.caller.name || "", c.caller.phone ? [" ", h("span", { class: "ltr", id: "complaint-caller-phone" }, localDigits(c.caller.phone))] : ""]
          : h("span", { class: "muted" }, t("complaint.noCaller"))],
        c.call_id ? [t("complaint.callId"), h("span", { class: "ltr" }, c.call_id)] : null,
        a && !routed ? [t("complaint.assignment"), who_(this.who, a.inspector_id), " ", h("span", { class: "badge" }, t("mode." + a.mode)), " ",
          h("span", { class: "muted" }, fmtDate(a.assigned_at)), a.note ? h("div", { class: "muted" }, a.note) : null] : null,
        c.outcome ? [t("complaint.outcome"), t("outcome." + c.outcome.value), c.outcome.statement ? h("div", {}, c.outcome.statement) : null,
          h("div", { class: "muted" }, c.outcome.closed_by ? who_(this.who, c.outcome.closed_by, "dispatcher") : who_(this.who, c.outcome.inspector_id), " — ", fmtDate(c.outcome.recorded_at))] : null,
      ]),
      h("div", { class: "description" }, h("h2", {}, t("complaint.description")), h("p", {}, c.description)),
      // An answered referral is decided in its own section, just below.
      h("div", { class: "actions", id: "complaint-actions" }, c.status === "referral_answered" ? null : routingButtons(c, o, this.refresh)));
  }

  conflicts(items) {
    if (!items.length) return [];
    complaintNumbers(items, this.complaints);
    return [h("section", { class: "card", "aria-labelledby": "complaint-conflicts" },
      h("h2", { id: "complaint-conflicts" }, t("complaint.conflicts")),
      items.map((cf) => conflictCard(cf, { who: this.who, complaints: this.complaints }, this.refresh)))];
  }

  referral(c) {
    const r = c.referral;
    if (!r) return [];
    const ans = r.answer;
    const actions = [];
    if (c.status === "referral_answered" && session.role === "dispatcher") {
      actions.push(h("button", { type: "button", id: "referral-close", onclick: () => closeDialog(c, this.refresh) }, t("routing.close")),
        h("button", { type: "button", class: "secondary", id: "referral-inspect", onclick: () => assignDialog(c, this.office, this.refresh) }, t("routing.toInspection")));
    }
    return [h("section", { class: "card", "aria-labelledby": "complaint-referral" },
      h("h2", { id: "complaint-referral" }, t("complaint.referral")),
      dl([
        [t("complaint.referredAt"), fmtDate(r.referred_at), " — ", who_(this.who, r.referred_by, "dispatcher")],
        r.note ? [t("complaint.note"), r.note] : null,
        [t("complaint.referralDue"), fmtDate(r.due_at)],
        r.acknowledged_at ? [t("complaint.ackAt"), fmtDate(r.acknowledged_at), " — ", who_(this.who, r.acknowledged_by, "office")] : null,
      ]),
      ans ? h("div", { class: "answer" }, h("h3", {}, t("complaint.answer")),
        h("p", {}, h("span", { class: "badge info" }, t("complaint.referralAction." + ans.action)), " ", h("span", { class: "muted" }, fmtDate(ans.answered_at), " — ", who_(this.who, ans.answered_by, "office"))),
        h("p", { class: "answer-text" }, ans.text),
        ans.evidence_ids?.length ? h("p", { class: "muted" }, t("complaint.attachments", { n: ans.evidence_ids.length })) : null)
        : h("p", { class: "muted" }, t("complaint.noAnswer")),
      actions.length ? h("div", { class: "actions" }, actions) : null)];
  }

  fieldwork(fw) {
    const loc = this.office?.location;
    const place = (g) => {
      if (!g) return h("span", { class: "muted" }, t("complaint.notYet"));
      const d = loc ? distanceM(g, loc) : null;
      return [fmtDate(g.device_time), " — ",
        d !== null ? h("span", { class: "badge " + (d > FAR_M ? "danger" : "ok") }, t("complaint.fromOffice", { d: fmtDistance(d) })) : null, " ",
        h("span", { class: "muted" }, t("complaint.accuracy", { n: Math.round(g.accuracy_m) }))];
    };
    const visits = fw.visits.map((v) => {
      const stay = v.check_in && v.check_out ? (new Date(v.check_out.device_time) - new Date(v.check_in.device_time)) / 1000 : null;
      return h("li", { class: "visit" },
        h("div", {}, h("strong", {}, who_(this.who, v.inspector_id)), v.office_code !== this.c.office_code ? h("span", { class: "badge warn ltr" }, v.office_code) : null),
        dl([[t("complaint.checkIn"), place(v.check_in)], [t("complaint.checkOut"), place(v.check_out)],
          stay !== null ? [t("complaint.duration"), fmtDuration(Math.max(0, stay))] : null,
          v.summary ? [t("complaint.summary"), v.summary] : null]));
    });
    const reasons = ["unexcused", "leave", "mission", "unknown"];
    const findings = fw.findings.map((f) => {
      const abs = f.absentees || [];
      return h("li", { class: "finding" },
        h("div", { class: "counts" },
          [["expected", f.staff_expected], ["present", f.staff_present], ["absent", Math.max(0, f.staff_expected - f.staff_present)], ["clients", f.clients_waiting], ["desks", f.desks_open]]
            .map(([k, n]) => h("div", { class: "count" + (k === "absent" && n > 0 ? " bad" : "") }, h("span", { class: "n" }, fmtNumber(n)), h("span", { class: "muted" }, t("complaint." + k))))),
        abs.length ? h("div", {}, h("h4", {}, t("complaint.absentees")), h("ul", { class: "absentees" },
          reasons.filter((r) => abs.some((a) => a.reason === r)).map((r) => h("li", {},
            h("span", { class: "badge " + (r === "unexcused" ? "danger" : "") }, t("complaint.reason." + r) + " (" + fmtNumber(abs.filter((a) => a.reason === r).length) + ")"), " ",
            abs.filter((a) => a.reason === r).map((a) => a.name + (a.position ? " — " + a.position : "")).join(sep()))))) : null,
        f.non_work_activity?.length ? h("div", {}, h("h4", {}, t("complaint.nonWork")), h("ul", {}, f.non_work_activity.map((x) => h("li", {}, x)))) : null,
        h("p", { class: "muted" }, t("complaint.observedAt"), ": ", fmtDate(f.observed_at), " — ", who_(this.who, f.inspector_id)));
    });
    const calls = fw.calls.length ? h("table", { class: "calls" },
      h("thead", {}, h("tr", {}, ["started", "callee", "number", "duration", "callOutcome", "note"].map((k) => h("th", { scope: "col" }, t("complaint." + k))))),
      h("tbody", {}, fw.calls.map((c) => h("tr", {},
        h("td", {}, fmtDate(c.started_at), h("div", { class: "muted" }, who_(this.who, c.inspector_id))),
        h("td", {}, c.callee_name || "–", c.callee_role ? h("div", { class: "muted" }, c.callee_role) : null),
        h("td", { class: "ltr" }, localDigits(c.number)),
        h("td", {}, fmtDuration(c.duration_s)),
        h("td", {}, h("span", { class: "badge " + (c.outcome === "reached" ? "ok" : "warn") }, t("complaint.callOutcome." + c.outcome))),
        h("td", {}, c.notes || ""))))) : h("p", { class: "muted" }, t("complaint.noCalls"));
    const notes = fw.notes.length ? h("ul", { class: "notes" }, fw.notes.map((n) => h("li", {}, h("p", {}, n.text),
      h("div", { class: "muted" }, n.written_at && !n.written_at.startsWith("0001") ? fmtDate(n.written_at) : "–", " — ", who_(this.who, n.inspector_id)))))
      : h("p", { class: "muted" }, t("complaint.noNotes"));
    return h("section", { class: "card", "aria-labelledby": "complaint-fieldwork" },
      h("h2", { id: "complaint-fieldwork" }, t("complaint.fieldwork")),
      h("div", { class: "grid2" },
        h("div", {}, h("h3", {}, t("complaint.visits")), visits.length ? h("ul", { class: "plain" }, visits) : h("p", { class: "muted" }, t("complaint.noVisits"))),
        h("div", {}, h("h3", {}, t("complaint.findings")), findings.length ? h("ul", { class: "plain" }, findings) : h("p", { class: "muted" }, t("complaint.noFindings")))),
      h("h3", {}, t("complaint.calls")), calls,
      h("h3", {}, t("complaint.notes")), notes);
  }

  evidence(items) {
    const loc = this.office?.location;
    let broken = 0;
    items.forEach((e, i) => {
      if (!broken && (e.chain_seq !== i + 1 || e.chain_prev !== (i ? items[i - 1].chain_hash : ""))) broken = i + 1;
    });
    const chain = items.length ? h("p", { id: "evidence-chain" }, h("span", { class: "badge " + (broken ? "danger" : "ok") },
      broken ? t("complaint.chainBroken", { n: broken }) : t("complaint.chainOk", { n: items.length }))) : null;
    const cards = items.map((e) => {
      const p = e.photo || {};
      const exifPlace = p.lat !== undefined && p.lng !== undefined ? { lat: p.lat, lng: p.lng } : null;
      const exifDist = exifPlace && loc ? distanceM(exifPlace, loc) : null;
      const devDist = e.location && loc ? distanceM(e.location, loc) : null;
      const isImage = (e.sniffed_type || e.content_type).startsWith("image/");
      let preview;
      if (e.status === "stored" && e.thumbnail) {
        const img = h("img", { alt: t("complaint.kind." + e.kind) + " " + localDigits(e.chain_seq), width: 160, height: 120 });
        this.thumb(e.id, img);
        preview = h("button", { type: "button", class: "thumb", "aria-label": t("complaint.openPhoto", { n: localDigits(e.chain_seq) }), onclick: () => this.full(e) }, img);
      } else if (e.status === "stored" && isImage) {
        preview = h("button", { type: "button", class: "thumb none", onclick: () => this.full(e) }, t("complaint.open"));
      } else if (e.status === "stored") {
        preview = h("button", { type: "button", class: "thumb none", onclick: () => download(`/v1/evidence/${e.id}/content`, e.id + ".pdf") }, t("complaint.download"));
      } else preview = h("div", { class: "thumb none" }, t("complaint.noThumb"));
      return h("li", { class: "evidence-card card", dataset: { id: e.id, status: e.status } }, preview,
        h("div", { class: "badges" },
          h("span", { class: "badge" }, t("complaint.kind." + e.kind)),
          h("span", { class: "badge " + (e.status === "stored" ? "ok" : e.status === "rejected" ? "danger" : "warn") }, t("complaint.ev." + e.status)),
          e.media_missing ? h("span", { class: "badge danger" }, t("complaint.ev.missing")) : null,
          (e.flags || []).map((f) => h("span", { class: "badge danger flag", dataset: { flag: f } }, t("complaint.flag." + f)))),
        e.reason ? h("p", { class: "error" }, e.reason) : null,
        dl([
          p.captured_at ? [t("complaint.exifTime"), fmtDate(p.captured_at)] : [t("complaint.deviceTime"), fmtDate(e.captured_at)],
          p.make || p.model ? [t("complaint.camera"), h("span", { class: "ltr" }, [p.make, p.model].filter(Boolean).join(" "))] : null,
          exifPlace ? [t("complaint.gps"), h("span", { class: "ltr" }, fmtNumber(exifPlace.lat, { maximumFractionDigits: 5 }) + sep() + fmtNumber(exifPlace.lng, { maximumFractionDigits: 5 })),
            exifDist !== null ? h("div", {}, h("span", { class: "badge " + (exifDist > FAR_M ? "danger" : "ok") }, t("complaint.fromOffice", { d: fmtDistance(exifDist) }))) : null] : null,
          !exifPlace && e.location ? [t("complaint.deviceGps"), devDist !== null ? t("complaint.fromOffice", { d: fmtDistance(devDist) }) : "–"] : null,
          [t("complaint.chain", { n: localDigits(e.chain_seq) }), h("code", { class: "ltr hash", title: e.chain_hash }, e.chain_hash.slice(0, 16) + "…")],
          [t("complaint.by", { name: "" }).trim(), who_(this.who, e.inspector_id), " ", h("span", { class: "muted" }, deviceName(e.device_id))],
          e.note ? [t("complaint.note"), e.note] : null,
        ]));
    });
    return h("section", { class: "card", "aria-labelledby": "complaint-evidence" },
      h("h2", { id: "complaint-evidence" }, t("complaint.evidence")), chain,
      cards.length ? h("ul", { class: "evidence-list" }, cards) : h("p", { class: "muted" }, t("complaint.noEvidence")));
  }

  async thumb(id, img) {
    try {
      if (!this.thumbs.has(id)) this.thumbs.set(id, await blobURL(`/v1/evidence/${id}/thumbnail`));
      img.src = this.thumbs.get(id);
    } catch (_) {
      img.alt = t("complaint.noThumb");
    }
  }

  /** full shows a stored photo in a dialog; Esc or the button closes it. */
  async full(e) {
    const closeBtn = h("button", { type: "button", class: "secondary" }, t("complaint.close"));
    const img = h("img", { alt: t("complaint.kind." + e.kind) + " " + localDigits(e.chain_seq) });
    const p = e.photo || {};
    const dlg = h("dialog", { class: "photo-dialog", "aria-label": t("complaint.openPhoto", { n: localDigits(e.chain_seq) }) },
      h("figure", {}, img, h("figcaption", { class: "muted" },
        p.captured_at ? fmtDate(p.captured_at) : fmtDate(e.captured_at), [p.make, p.model].filter(Boolean).length ? " — " + [p.make, p.model].filter(Boolean).join(" ") : "",
        (e.flags || []).map((f) => [" ", h("span", { class: "badge danger" }, t("complaint.flag." + f))]))),
      h("div", { class: "actions" }, closeBtn));
    let url = null;
    closeBtn.addEventListener("click", () => dlg.close());
    dlg.addEventListener("close", () => { dlg.remove(); if (url) URL.revokeObjectURL(url); });
    document.body.append(dlg);
    dlg.showModal();
    closeBtn.focus();
    try {
      url = await blobURL(`/v1/evidence/${e.id}/content`);
      img.src = url;
    } catch (err) {
      img.replaceWith(h("p", { class: "error", role: "alert" }, errorText(err)));
    }
  }

  timeline(history) {
    const status = (s) => t("status." + s);
    const detail = (hEntry) => {
      const d = hEntry.data || {};
      const out = [];
      if (d.from && d.to && hEntry.kind === "complaint") out.push(t("complaint.fromTo", { from: status(d.from), to: status(d.to) }));
      const named = (k) => d[k] ? [t("complaint.d." + k), who_(this.who, d[k])] : null;
      const plain = (k, fmt = (x) => x) => d[k] ? [t("complaint.d." + k), fmt(d[k])] : null;
      const rows = [
        named("inspector"), named("previous_inspector"), plain("mode", (m) => t("mode." + m)),
        plain("outcome", (o) => t("outcome." + o)), plain("category", (c) => t("category." + c)), plain("priority", (p) => t("priority." + p)),
        plain("action", (a) => t("complaint.referralAction." + a)), plain("rule", (r) => t("review.rule." + r)),
        plain("fields", (f) => f.split(",").map((x) => t("complaint.vf." + x) === "complaint.vf." + x ? x : t("complaint.vf." + x)).join(sep())),
        hEntry.kind === "evidence" ? plain("status", (s) => t("complaint.ev." + s)) : null,
        plain("reason"), plain("note"), plain("device_time", fmtDate),
      ].filter(Boolean);
      for (const [k, v] of rows) out.push(h("span", { class: "kv" }, k + ": ", v));
      return out;
    };
    const rows = history.map((e) => {
      const key = `complaint.h.${e.kind || "complaint"}.${e.action}`;
      const label = t(key) === key ? `${e.kind || ""} · ${e.action}` : t(key);
      return h("tr", { dataset: { kind: e.kind || "complaint", action: e.action } },
        h("td", { "data-label": t("complaint.time") }, fmtDate(e.at)),
        h("td", { "data-label": t("complaint.change") }, h("strong", {}, label), h("div", { class: "details" }, detail(e))),
        h("td", { "data-label": t("complaint.actor") }, who_(this.who, e.actor, actorRole(e))),
        h("td", { "data-label": t("complaint.device"), class: "muted" }, deviceName(e.device)));
    });
    return h("section", { class: "card", "aria-labelledby": "complaint-timeline" },
      h("h2", { id: "complaint-timeline" }, t("complaint.timeline")),
      h("table", { class: "timeline", id: "complaint-timeline-table" },
        h("thead", {}, h("tr", {}, ["time", "change", "actor", "device"].map((k) => h("th", { scope: "col" }, t("complaint." + k))))),
        h("tbody", {}, rows)));
  }
}
