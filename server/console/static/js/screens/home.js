// Home: each role starts on its own screen.
import { h, hasRoute, navigate, route, session, t } from "../core.js";

const start = {
  dispatcher: "#/board", supervisor: "#/reports", admin: "#/admin",
  office: "#/office", inspector: "#/phone",
};

route("#/", {
  render(main) {
    const to = start[session?.role];
    if (to && hasRoute(to)) navigate(to);
    else main.append(h("div", { class: "card" }, h("h1", {}, t("core.noScreen"))));
  },
});
