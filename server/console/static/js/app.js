// The console's entry point: the screens register their routes, then the
// router draws the screen the address names.
import { render } from "./core.js";
import "./screens/login.js";
import "./screens/home.js";
import "./screens/board.js";
import "./screens/intake.js";
import "./screens/complaint.js";
import "./screens/review.js";
import "./screens/phone.js";
import "./screens/office.js";
import "./screens/reports.js";
import "./screens/admin.js";

window.addEventListener("hashchange", render);
render();
