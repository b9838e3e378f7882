// Admin: accounts (create with role, mode and region or office binding,
// disable and enable, reset a password), devices (list, revoke), the
// enrolment QR code a phone app scans to sign an inspector in without a
// password, and the offices CSV import with its line and column errors.
import { addLabels, api, ApiError, fmtDate, fieldErrorText, fmtNumber, h, lang, rawFetch, route, session, showError, t, toast } from "../core.js";
import { forgetPeople, forgetReference } from "./routing.js";

addLabels({
  fa: {
    "admin.title": "مدیریت سامانه", "admin.nav": "مدیریت",
    "admin.accounts": "حساب‌ها", "admin.devices": "دستگاه‌ها", "admin.enrol": "ثبت گوشی بازرس با کد QR", "admin.import": "ورود شعبه‌ها از فایل CSV",
    "admin.filterRole": "نقش", "admin.all": "همه",
    "admin.username": "نام کاربری", "admin.usernameRule": "۳ تا ۴۰ حرف لاتین، رقم، نقطه، خط تیره یا زیرخط؛ با حرف یا رقم آغاز شود", "admin.displayName": "نام نمایشی", "admin.role": "نقش", "admin.mode": "شیوه کار", "admin.scope": "محدوده",
    "admin.status": "وضعیت", "admin.actions": "کارها", "admin.active": "فعال", "admin.disabled": "غیرفعال",
    "admin.disable": "غیرفعال کردن", "admin.enable": "فعال کردن", "admin.resetPassword": "گذرواژه تازه", "admin.newPassword": "گذرواژه تازه (دست‌کم ۱۰ نویسه)",
    "admin.setPassword": "ثبت گذرواژه", "admin.passwordSet": "گذرواژه {user} عوض شد و همه نشست‌هایش بسته شد",
    "admin.confirmDisable": "حساب {user} غیرفعال شود؟ همه نشست‌هایش همین حالا بسته می‌شود.", "admin.enrolPhone": "کد QR گوشی",
    "admin.newAccount": "حساب تازه", "admin.password": "گذرواژه (دست‌کم ۱۰ نویسه)", "admin.province": "استان", "admin.cities": "شهرها (اختیاری، با ویرگول جدا کنید)",
    "admin.binding": "اتصال حساب دستگاه", "admin.bindOffice": "یک شعبه", "admin.bindAgency": "همه شعبه‌های یک دستگاه",
    "admin.office": "شعبه", "admin.agency": "دستگاه", "admin.provinceOptional": "استان (اختیاری)",
    "admin.create": "ساخت حساب", "admin.created": "حساب {user} ساخته شد", "admin.choose": "انتخاب کنید",
    "admin.device": "شناسه دستگاه", "admin.user": "کاربر", "admin.firstSeen": "نخستین ورود", "admin.lastSeen": "آخرین ورود", "admin.push": "اعلان",
    "admin.revoked": "باطل شده {at}", "admin.accountDisabled": "حساب غیرفعال؛ نشست‌ها بسته‌اند", "admin.revoke": "ابطال", "admin.confirmRevoke": "دستگاه {id} باطل شود؟ نشست‌هایش همین حالا بسته می‌شود و دیگر نمی‌تواند وارد شود.",
    "admin.noDevices": "دستگاهی نیست.",
    "admin.enrolIntro": "برای بازرسی که گوشی تازه دارد یک کد یک‌بارمصرف بسازید؛ برنامه فواد روی گوشی این کد QR را می‌خواند و بی‌گذرواژه وارد می‌شود. کد ۱۵ دقیقه اعتبار دارد و فقط یک بار پذیرفته می‌شود.",
    "admin.inspector": "بازرس", "admin.makeCode": "ساخت کد QR", "admin.code": "کد (برای ورود دستی)", "admin.expires": "اعتبار تا {at}",
    "admin.server": "نشانی سرور: {url}", "admin.qrAlt": "کد QR ثبت گوشی برای {user}، تا {at}",
    "admin.importIntro": "فایل CSV با ستون‌های office_code، agency_code، agency_name_fa، agency_name_en، office_name_fa، city_fa، city_en، latitude، longitude، phone، opens، closes، workdays (و در صورت نیاز province و address). همه یا هیچ: اگر یک سطر ایراد داشته باشد هیچ چیز وارد نمی‌شود.",
    "admin.file": "فایل CSV", "admin.importProvince": "استانِ سطرهای بی‌استان (اگر فایل ستون province ندارد لازم است)", "admin.sameAsLine": "نگاه کنید به سطر {n}",
    "admin.hint.workdays": "بازه‌ای مانند Sat-Wed یا فهرستی مانند sat,sun,mon", "admin.hint.latitude": "عددی اعشاری مانند 36.2790",
    "admin.hint.longitude": "عددی اعشاری مانند 50.0040", "admin.hint.opens": "ساعت به شکل 07:30", "admin.hint.closes": "ساعت به شکل 14:30",
    "admin.hint.phone": "رقم، فاصله و خط تیره، مانند 028-33000101", "admin.hint.office_code": "حروف لاتین بزرگ، رقم و خط تیره، مانند QZ-SSO-01",
    "admin.hint.agency_code": "حروف لاتین بزرگ، رقم و خط تیره، مانند SSO", "admin.doImport": "ورود فایل",
    "admin.imported": "ورود انجام شد: {ac} دستگاه تازه، {au} دستگاه به‌روز، {oc} شعبه تازه، {ou} شعبه به‌روز، {un} بی‌تغییر",
    "admin.importErrors": "ایرادهای فایل (هیچ چیز وارد نشد)", "admin.line": "سطر", "admin.column": "ستون", "admin.problem": "ایراد", "admin.message": "توضیح",
    "admin.noFile": "فایلی انتخاب نشده",
  },
  en: {
    "admin.title": "Administration", "admin.nav": "Admin",
    "admin.accounts": "Accounts", "admin.devices": "Devices", "admin.enrol": "Enrol an inspector's phone with a QR code", "admin.import": "Import offices from CSV",
    "admin.filterRole": "Role", "admin.all": "All",
    "admin.username": "Username", "admin.usernameRule": "3–40 Latin letters, digits, dots, dashes or underscores, starting with a letter or digit", "admin.displayName": "Display name", "admin.role": "Role", "admin.mode": "Mode", "admin.scope": "Scope",
    "admin.status": "Status", "admin.actions": "Actions", "admin.active": "Active", "admin.disabled": "Disabled",
    "admin.disable": "Disable", "admin.enable": "Enable", "admin.resetPassword": "New password", "admin.newPassword": "New password (at least 10 characters)",
    "admin.setPassword": "Set password", "admin.passwordSet": "{user}'s password changed; their sessions ended",
    "admin.confirmDisable": "Disable {user}? Every session of theirs ends now.", "admin.enrolPhone": "Phone QR code",
    "admin.newAccount": "New account", "admin.password": "Password (at least 10 characters)", "admin.province": "Province", "admin.cities": "Cities (optional, comma-separated)",
    "admin.binding": "Office account bound to", "admin.bindOffice": "One office", "admin.bindAgency": "Every office of an agency",
    "admin.office": "Office", "admin.agency": "Agency", "admin.provinceOptional": "Province (optional)",
    "admin.create": "Create account", "admin.created": "Account {user} created", "admin.choose": "Choose",
    "admin.device": "Device id", "admin.user": "User", "admin.firstSeen": "First sign-in", "admin.lastSeen": "Last sign-in", "admin.push": "Push",
    "admin.revoked": "Revoked {at}", "admin.accountDisabled": "account disabled; sessions closed", "admin.revoke": "Revoke", "admin.confirmRevoke": "Revoke device {id}? Its sessions end now and it cannot sign in again.",
    "admin.noDevices": "No devices.",
    "admin.enrolIntro": "Make a one-time code for an inspector with a new phone: the FAVAD app scans this QR code and signs in without a password. The code is good for 15 minutes, once.",
    "admin.inspector": "Inspector", "admin.makeCode": "Make the QR code", "admin.code": "Code (to type by hand)", "admin.expires": "Good until {at}",
    "admin.server": "Server address: {url}", "admin.qrAlt": "Phone enrolment QR code for {user}, good until {at}",
    "admin.importIntro": "A CSV file with the columns office_code, agency_code, agency_name_fa, agency_name_en, office_name_fa, city_fa, city_en, latitude, longitude, phone, opens, closes, workdays (and optionally province, address). All or nothing: if any row has a problem nothing is imported.",
    "admin.file": "CSV file", "admin.importProvince": "Province of rows without one (required when the file has no province column)", "admin.sameAsLine": "see line {n}", "admin.doImport": "Import",
    "admin.imported": "Imported: {ac} agencies created, {au} updated; {oc} offices created, {ou} updated, {un} unchanged",
    "admin.importErrors": "Problems in the file (nothing was imported)", "admin.line": "Line", "admin.column": "Column", "admin.problem": "Problem", "admin.message": "Detail",
    "admin.noFile": "No file chosen",
  },
});

const roles = ["dispatcher", "inspector", "supervisor", "admin", "office"];
const state = { role: "" };
let ref = null; // {offices, agencies, provinces}

async function reference() {
  if (ref) return ref;
  const [offices, agencies] = await Promise.all([api("GET", "/v1/offices"), api("GET", "/v1/agencies")]);
  ref = {
    offices: offices.items.sort((a, b) => a.name_fa.localeCompare(b.name_fa, "fa")),
    agencies: agencies.items,
    provinces: [...new Set(offices.items.map((o) => o.province))].sort(),
  };
  return ref;
}

const agencyName = (a) => (lang() === "en" && a.name_en ? a.name_en : a.name_fa);

function table(caption, headers, rows, empty) {
  return h("div", { class: "table-wrap" }, h("table", {},
    h("caption", { class: "sr-caption" }, caption),
    h("thead", {}, h("tr", {}, headers.map((x) => h("th", { scope: "col" }, x)))),
    h("tbody", {}, rows.length ? rows : h("tr", {}, h("td", { colspan: headers.length, class: "muted" }, empty || "–")))));
}

function section(id, title, ...content) {
  return h("section", { class: "card", "aria-labelledby": id }, h("h2", { id }, title), content);
}

function selectOf(id, options, value, placeholder) {
  return h("select", { id }, placeholder !== undefined ? h("option", { value: "" }, placeholder) : null,
    options.map(([v, label]) => h("option", { value: v, selected: v === value }, label)));
}

// ---- accounts -------------------------------------------------------------
function scopeText(u) {
  if (u.office_code) {
    const o = ref.offices.find((x) => x.code === u.office_code);
    return t("admin.office") + ": " + (o ? o.name_fa : u.office_code);
  }
  if (u.agency_code) {
    const a = ref.agencies.find((x) => x.code === u.agency_code);
    return t("admin.agency") + ": " + (a ? agencyName(a) : u.agency_code) + (u.region ? " — " + u.region.province : "");
  }
  if (u.region) return u.region.province + (u.region.cities?.length ? " (" + u.region.cities.join("، ") + ")" : "");
  return "–";
}

function userRow(u, reload, enrolFor) {
  const errors = h("div", { "aria-live": "assertive" });
  const toggle = h("button", { type: "button", class: u.disabled ? "secondary" : "secondary danger-text",
    disabled: u.id === session.id,
    onclick: async () => {
      if (!u.disabled && !confirm(t("admin.confirmDisable", { user: u.username }))) return;
      try {
        await api("POST", `/v1/users/${encodeURIComponent(u.id)}/${u.disabled ? "enable" : "disable"}`);
        await reload();
      } catch (err) { showError(errors, err); }
    } }, t(u.disabled ? "admin.enable" : "admin.disable"));
  const pw = h("input", { type: "password", id: "pw-" + u.id, minlength: 10, required: true, autocomplete: "new-password", dir: "ltr" });
  const reset = h("details", { class: "row-details" }, h("summary", {}, t("admin.resetPassword")),
    h("form", { onsubmit: async (e) => {
      e.preventDefault();
      try {
        await api("POST", `/v1/users/${encodeURIComponent(u.id)}/reset-password`, { password: pw.value });
        pw.value = "";
        reset.open = false;
        toast(t("admin.passwordSet", { user: u.username }));
      } catch (err) { showError(errors, err); }
    } }, h("label", { for: pw.id }, t("admin.newPassword")), pw, h("div", { class: "actions" }, h("button", { type: "submit" }, t("admin.setPassword")))));
  const enrol = u.role === "inspector" && !u.disabled
    ? h("button", { type: "button", class: "secondary", onclick: () => enrolFor(u.id) }, t("admin.enrolPhone")) : null;
  return h("tr", { class: u.disabled ? "muted-row" : null },
    h("td", {}, h("span", { class: "ltr" }, u.username)), h("td", {}, u.display_name),
    h("td", {}, t("role." + u.role) + (u.mode ? " — " + t("mode." + u.mode) : "")), h("td", {}, scopeText(u)),
    h("td", {}, h("span", { class: u.disabled ? "badge danger" : "badge ok" }, t(u.disabled ? "admin.disabled" : "admin.active"))),
    h("td", {}, h("div", { class: "actions tight" }, toggle, enrol), reset, errors));
}

function newAccountForm(onCreated) {
  const username = h("input", { id: "na-username", required: true, dir: "ltr", autocomplete: "off", pattern: "[A-Za-z0-9][A-Za-z0-9._\\-]{2,39}", title: t("admin.usernameRule") });
  const display = h("input", { id: "na-display", required: true, autocomplete: "off" });
  const role = selectOf("na-role", roles.map((r) => [r, t("role." + r)]), "inspector");
  const mode = selectOf("na-mode", [["field", t("mode.field")], ["phone", t("mode.phone")]], "field");
  const province = h("input", { id: "na-province", list: "na-provinces", autocomplete: "off", value: ref.provinces[0] || "" });
  const cities = h("input", { id: "na-cities", autocomplete: "off" });
  const bindOffice = h("input", { type: "radio", name: "na-bind", value: "office", checked: true });
  const bindAgency = h("input", { type: "radio", name: "na-bind", value: "agency" });
  const office = selectOf("na-office", ref.offices.map((o) => [o.code, o.name_fa + " (" + o.code + ")"]), "", t("admin.choose"));
  const agency = selectOf("na-agency", ref.agencies.map((a) => [a.code, agencyName(a)]), "", t("admin.choose"));
  const agencyProvince = h("input", { id: "na-agency-province", list: "na-provinces", autocomplete: "off" });
  const password = h("input", { id: "na-password", type: "password", required: true, minlength: 10, autocomplete: "new-password", dir: "ltr" });
  const errors = h("div", { "aria-live": "assertive" });
  const inspectorPart = h("div", { class: "row" },
    h("div", { class: "field" }, h("label", { for: mode.id }, t("admin.mode")), mode),
    h("div", { class: "field" }, h("label", { for: province.id }, t("admin.province")), province),
    h("div", { class: "field" }, h("label", { for: cities.id }, t("admin.cities")), cities));
  const officePart = h("div", {},
    h("fieldset", {}, h("legend", {}, t("admin.binding")), h("div", { class: "radio-row" },
      h("label", {}, bindOffice, t("admin.bindOffice")), h("label", {}, bindAgency, t("admin.bindAgency")))),
    h("div", { class: "row" },
      h("div", { class: "field", dataset: { bind: "office" } }, h("label", { for: office.id }, t("admin.office")), office),
      h("div", { class: "field", dataset: { bind: "agency" } }, h("label", { for: agency.id }, t("admin.agency")), agency),
      h("div", { class: "field", dataset: { bind: "agency" } }, h("label", { for: agencyProvince.id }, t("admin.provinceOptional")), agencyProvince)));
  const sync = () => {
    inspectorPart.hidden = role.value !== "inspector";
    officePart.hidden = role.value !== "office";
    const byAgency = bindAgency.checked;
    for (const el of officePart.querySelectorAll("[data-bind]")) el.hidden = (el.dataset.bind === "agency") !== byAgency;
  };
  role.addEventListener("change", sync);
  bindOffice.addEventListener("change", sync);
  bindAgency.addEventListener("change", sync);
  sync();
  const form = h("form", { novalidate: true, onsubmit: async (e) => {
    e.preventDefault();
    errors.replaceChildren();
    const body = { username: username.value.trim().toLowerCase(), display_name: display.value.trim(), role: role.value, password: password.value };
    if (role.value === "inspector") {
      body.mode = mode.value;
      body.region = { province: province.value.trim(), cities: cities.value.split(/[,،]/).map((x) => x.trim()).filter(Boolean) };
    }
    if (role.value === "office") {
      if (bindAgency.checked) {
        body.agency_code = agency.value;
        if (agencyProvince.value.trim()) body.region = { province: agencyProvince.value.trim() };
      } else {
        body.office_code = office.value;
      }
    }
    try {
      const u = await api("POST", "/v1/users", body);
      forgetPeople(); // the dispatch screens name the new account
      toast(t("admin.created", { user: u.username }));
      form.reset();
      sync();
      await onCreated();
    } catch (err) { showError(errors, err); }
  } },
  h("h3", {}, t("admin.newAccount")),
  h("datalist", { id: "na-provinces" }, ref.provinces.map((p) => h("option", { value: p }))),
  h("div", { class: "row" },
    h("div", { class: "field" }, h("label", { for: username.id }, t("admin.username")), username),
    h("div", { class: "field" }, h("label", { for: display.id }, t("admin.displayName")), display),
    h("div", { class: "field" }, h("label", { for: role.id }, t("admin.role")), role),
    h("div", { class: "field" }, h("label", { for: password.id }, t("admin.password")), password)),
  inspectorPart, officePart, errors,
  h("div", { class: "actions" }, h("button", { type: "submit" }, t("admin.create"))));
  return form;
}

// ---- devices --------------------------------------------------------------
function deviceRows(devices, users, reload) {
  const byID = new Map(users.map((u) => [u.id, u]));
  return devices.map((d) => {
    const errors = h("div", { "aria-live": "assertive" });
    const u = byID.get(d.user_id);
    const revoke = d.revoked_at ? null : h("button", { type: "button", class: "secondary danger-text", onclick: async () => {
      if (!confirm(t("admin.confirmRevoke", { id: d.id }))) return;
      try {
        await api("POST", `/v1/devices/${encodeURIComponent(d.id)}/revoke`);
        await reload();
      } catch (err) { showError(errors, err); }
    } }, t("admin.revoke"));
    return h("tr", { class: d.revoked_at ? "muted-row" : null },
      h("td", {}, h("span", { class: "code-text" }, d.id)), h("td", {}, u ? u.display_name + " (" + u.username + ")" : d.user_id),
      h("td", {}, fmtDate(d.first_seen)), h("td", {}, fmtDate(d.last_seen)),
      h("td", {}, d.push ? d.push.platform + (d.push.app_version ? " " + d.push.app_version : "") : "–"),
      h("td", {}, d.revoked_at ? h("span", { class: "badge danger" }, t("admin.revoked", { at: fmtDate(d.revoked_at) }))
        : u?.disabled ? h("span", { class: "badge warn" }, t("admin.accountDisabled")) // its sessions ended with the account
          : h("span", { class: "badge ok" }, t("admin.active"))),
      h("td", {}, revoke, errors));
  });
}

// ---- enrolment ----------------------------------------------------------
function enrolSection(users) {
  let inspectors = [];
  const who = selectOf("enrol-user", [], "", t("admin.choose"));
  who.required = true;
  // The accounts change under it (made, disabled): its list follows, and a code
  // issued stays on screen while the inspector scans or types it.
  const setUsers = (list) => {
    inspectors = list.filter((u) => u.role === "inspector" && !u.disabled);
    const keep = who.value;
    who.replaceChildren(h("option", { value: "" }, t("admin.choose")),
      ...inspectors.map((u) => h("option", { value: u.id, selected: u.id === keep }, u.display_name + " (" + u.username + ", " + t("mode." + u.mode) + ")")));
  };
  setUsers(users);
  const out = h("div", { "aria-live": "polite" });
  const errors = h("div", { "aria-live": "assertive" });
  const form = h("form", { class: "row narrow", onsubmit: async (e) => {
    e.preventDefault();
    errors.replaceChildren();
    out.replaceChildren();
    try {
      const en = await api("POST", "/v1/enrolments", { user_id: who.value });
      const u = inspectors.find((x) => x.id === en.user_id);
      const name = u ? u.display_name : en.user_id;
      out.replaceChildren(h("div", { class: "qr" },
        h("img", { src: en.qr_png, alt: t("admin.qrAlt", { user: name, at: fmtDate(en.expires_at) }) }),
        h("div", {},
          h("p", {}, h("strong", {}, name)),
          h("p", {}, t("admin.code") + ": ", h("span", { class: "big-code code-text" }, en.code)),
          h("p", { class: "badge warn" }, t("admin.expires", { at: fmtDate(en.expires_at) })),
          h("p", { class: "muted" }, t("admin.server", { url: en.server })))));
    } catch (err) { showError(errors, err); }
  } },
  h("div", { class: "field" }, h("label", { for: who.id }, t("admin.inspector")), who),
  h("div", {}, h("button", { type: "submit" }, t("admin.makeCode"))));
  const el = section("a-enrol", t("admin.enrol"), h("p", { class: "muted" }, t("admin.enrolIntro")), form, errors, out);
  el.setUsers = setUsers;
  el.choose = (id) => {
    who.value = id;
    el.scrollIntoView({ block: "start" });
    who.focus();
  };
  return el;
}

// ---- offices import -------------------------------------------------------
function importSection(onImported) {
  const file = h("input", { id: "imp-file", type: "file", accept: ".csv,text/csv", required: true });
  const province = h("input", { id: "imp-province", list: "na-provinces", autocomplete: "off" });
  const out = h("div", { "aria-live": "polite" });
  const form = h("form", { onsubmit: async (e) => {
    e.preventDefault();
    out.replaceChildren();
    const f = file.files[0];
    if (!f) { showError(out, { message: t("admin.noFile") }); return; }
    const q = province.value.trim() ? "?province=" + encodeURIComponent(province.value.trim()) : "";
    const btn = form.querySelector("button[type=submit]");
    btn.disabled = true;
    try {
      const r = await rawFetch("POST", "/v1/offices/import" + q, f, { "Content-Type": "text/csv" });
      const body = await r.json().catch(() => null);
      if (r.ok) {
        out.append(h("p", { class: "badge ok", role: "status" }, t("admin.imported",
          { ac: body.agencies_created, au: body.agencies_updated, oc: body.offices_created, ou: body.offices_updated, un: body.unchanged })));
        ref = null; // the office lists changed
        forgetReference(); // the dispatch screens' copy too
        await onImported?.();
      } else if (r.status === 422 && body?.errors?.length) {
        out.append(h("p", { class: "error", role: "alert" }, t("admin.importErrors")),
          table(t("admin.importErrors"), [t("admin.line"), t("admin.column"), t("admin.problem"), t("admin.message")],
            body.errors.map((fe) => {
              const m = /^line (\d+)(?::\s*(.*))?$/.exec(fe.field);
              const column = m ? m[2] || "–" : fe.field;
              // In Persian the problem in words; the server's English detail only where it names another line.
              const other = /line (\d+)/.exec(fe.message);
              const hint = "admin.hint." + (m?.[2] || "");
              const detail = lang() !== "fa" ? fe.message
                : other && ["duplicate", "mismatch"].includes(fe.code) ? t("admin.sameAsLine", { n: fmtNumber(Number(other[1]), { useGrouping: false }) })
                  : fe.code === "invalid" && hasLabel(hint) ? t(hint)
                    : ["malformed", "control_character", "invalid_utf8"].includes(fe.code) ? h("span", { class: "ltr" }, fe.message) // where in the file
                      : "";
              return h("tr", {}, h("td", { class: "num" }, m ? fmtNumber(Number(m[1]), { useGrouping: false }) : "–"),
                h("td", {}, h("span", { class: "code-text" }, column)), h("td", {}, fieldErrorText(fe)), h("td", {}, detail));
            })));
      } else {
        throw new ApiError(r.status, body);
      }
    } catch (err) {
      showError(out, err);
    } finally {
      btn.disabled = false;
    }
  } },
  h("p", { class: "muted" }, t("admin.importIntro")),
  h("div", { class: "row" },
    h("div", { class: "field" }, h("label", { for: file.id }, t("admin.file")), file),
    h("div", { class: "field" }, h("label", { for: province.id }, t("admin.importProvince")), province)),
  h("div", { class: "actions" }, h("button", { type: "submit" }, t("admin.doImport"))));
  return section("a-import", t("admin.import"), form, out);
}

route("#/admin", {
  title: "admin.title", nav: "admin.nav", roles: ["admin"],
  async render(main) {
    main.append(h("h1", {}, t("admin.title")));
    await reference();
    const accountsBody = h("div", {});
    const devicesBody = h("div", {});
    const errors = h("div", { "aria-live": "assertive" });
    let enrol;
    const roleFilter = selectOf("a-role", roles.map((r) => [r, t("role." + r)]), state.role, t("admin.all"));
    roleFilter.addEventListener("change", () => { state.role = roleFilter.value; load(); });
    const load = async () => {
      try {
        const [users, devices] = await Promise.all([api("GET", "/v1/users"), api("GET", "/v1/devices")]);
        const shown = users.items.filter((u) => !state.role || u.role === state.role);
        accountsBody.replaceChildren(table(t("admin.accounts"),
          [t("admin.username"), t("admin.displayName"), t("admin.role"), t("admin.scope"), t("admin.status"), t("admin.actions")],
          shown.map((u) => userRow(u, load, (id) => enrol.choose(id)))));
        devicesBody.replaceChildren(table(t("admin.devices"),
          [t("admin.device"), t("admin.user"), t("admin.firstSeen"), t("admin.lastSeen"), t("admin.push"), t("admin.status"), t("admin.actions")],
          deviceRows(devices.items, users.items, load), t("admin.noDevices")));
        if (enrol) enrol.setUsers(users.items);
        else enrol = enrolSection(users.items);
        return enrol;
      } catch (err) {
        showError(errors, err);
        return null;
      }
    };
    const first = await load();
    const accountForm = h("div", { class: "inline-form" }, newAccountForm(load));
    main.append(errors,
      section("a-accounts", t("admin.accounts"),
        h("div", { class: "row narrow toolbar" }, h("div", { class: "field" }, h("label", { for: roleFilter.id }, t("admin.filterRole")), roleFilter)),
        accountsBody, accountForm),
      first || h("div", {}),
      section("a-devices", t("admin.devices"), devicesBody),
      importSection(async () => {
        // Offices just imported are offered to the next account at once.
        await reference();
        accountForm.replaceChildren(newAccountForm(load));
      }));
  },
});
