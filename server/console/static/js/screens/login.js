// Sign-in: the same accounts and roles as the API; the refresh token goes
// into an HttpOnly cookie the page's script never sees.
import { addLabels, field, h, navigate, route, showError, signIn, t } from "../core.js";

addLabels({
  fa: { "login.title": "ورود", "login.username": "نام کاربری", "login.password": "گذرواژه", "login.submit": "ورود" },
  en: { "login.title": "Sign in", "login.username": "Username", "login.password": "Password", "login.submit": "Sign in" },
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
        showError(errors, err);
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
