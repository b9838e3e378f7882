// Home: each role starts on its own screen.
import { navigate, route, session } from "../core.js";

const start = {
  dispatcher: "#/board", supervisor: "#/reports", admin: "#/admin",
  office: "#/office", inspector: "#/phone",
};

route("#/", {
  render() { navigate(start[session?.role] || "#/login"); },
});
