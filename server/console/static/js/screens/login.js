// Sign-in: the same accounts and roles as the API; the refresh token goes
// into an HttpOnly cookie the page's script never sees.
import { addLabels, field, h, navigate, route, showError, signIn, t } from "../core.js";

addLabels({
  fa: { "login.title": "ورود", "login.username": "نام کاربری", "login.password": "گذرواژه", "login.submit": "ورود",
    "login.wrong": "نام کاربری یا گذرواژه درست نیست.", "login.tooMany": "تلاش‌های زیاد؛ کمی بعد دوباره امتحان کنید.",
    "login.disabled": "این حساب غیرفعال است.", "login.busy": "سامانه شلوغ است؛ چند لحظه بعد دوباره امتحان کنید." },
  en: { "login.title": "Sign in", "login.username": "Username", "login.password": "Password", "login.submit": "Sign in",
    "login.wrong": "Wrong username or password.", "login.tooMany": "Too many attempts; try again in a minute.",
    "login.disabled": "This account is disabled.", "login.busy": "The server is busy; try again in a moment." },
});

route("#/login", {
  title: "login.title",
  render(main) {
    const user = h("input", { name: "username", autocomplete: "username", required: true, autofocus: true, dir: "ltr" });
    const pass = h("input", { name: "password", type: "password", autocomplete: "current-password", required: true, dir: "ltr" });
    const errors = h("div", { "aria-live": "assertive" });
    const form = h("form", { class: "card login", onsubmit: async (e) => {
      e.preventDefault();
      try {
        await signIn(user.value.trim(), pass.value);
        navigate("#/");
      } catch (err) {
        // The server's words are English; the reasons a person can act on are said here.
        const known = { unauthorized: "login.wrong", rate_limited: "login.tooMany", account_disabled: "login.disabled", busy: "login.busy" };
        showError(errors, known[err.code] ? { message: t(known[err.code]) } : err);
        pass.select();
      }
    } },
    h("h1", {}, t("core.brand") + " — " + t("login.title")),
    field("username", t("login.username"), user),
    field("password", t("login.password"), pass),
    errors,
    h("div", { class: "actions" }, h("button", { type: "submit" }, t("login.submit"))));
    main.append(form);
    user.focus();
  },
});
