// Accessibility basics of the page as it is shown, run in the page by the
// browser tests. It returns a list of problems, each naming the element at
// fault; an empty list passes. What it checks:
//   - every visible input, select and textarea has an accessible name
//     (aria-labelledby, aria-label, a <label for>, a wrapping label, title);
//   - every visible button and link has a name, which contains its visible
//     text (label in name); a <label for> names an element that exists;
//   - every image has an alt attribute, and [role=img] has a name;
//   - the page has a heading (h1 or h2) in its main area;
//   - visible text (and the values of form controls) contrasts with its
//     background at 4.5:1 or more, from the computed colours, blending
//     transparent backgrounds down to the page.
// The focus order is checked by the Go side (it presses Tab); tabbables()
// below lists what it should visit, in DOM order.
(() => {
  const problems = [];
  const describe = (el) => {
    let s = el.tagName.toLowerCase();
    if (el.id) s += "#" + el.id;
    if (el.className && typeof el.className === "string") s += "." + el.className.trim().split(/\s+/).join(".");
    for (const a of ["name", "type", "href", "role"]) if (el.getAttribute(a)) s += `[${a}=${el.getAttribute(a)}]`;
    const text = (el.textContent || el.value || "").replace(/\s+/g, " ").trim();
    if (text) s += ` "${text.slice(0, 40)}"`;
    return s;
  };
  const visible = (el) => {
    if (el.closest("[hidden]")) return false;
    const s = getComputedStyle(el);
    if (s.display === "none" || s.visibility === "hidden") return false;
    return el.getClientRects().length > 0;
  };
  const norm = (s) => String(s || "").replace(/\s+/g, " ").trim();
  const nameOf = (el) => {
    const by = el.getAttribute("aria-labelledby");
    if (by) {
      const t = norm(by.split(/\s+/).map((id) => document.getElementById(id)?.textContent || "").join(" "));
      if (t) return t;
    }
    if (norm(el.getAttribute("aria-label"))) return norm(el.getAttribute("aria-label"));
    if (el.labels && el.labels.length) {
      const t = norm([...el.labels].map((l) => l.textContent).join(" "));
      if (t) return t;
    }
    if (el.tagName === "IMG") return norm(el.getAttribute("alt"));
    if (el.tagName === "INPUT" && ["submit", "button", "reset"].includes(el.type)) return norm(el.value);
    if (!["INPUT", "SELECT", "TEXTAREA"].includes(el.tagName)) {
      // Text of the element, with the alt of its images.
      const parts = [];
      const walk = (n) => {
        for (const c of n.childNodes) {
          if (c.nodeType === Node.TEXT_NODE) parts.push(c.textContent);
          else if (c.nodeType === Node.ELEMENT_NODE) {
            if (c.tagName === "IMG") parts.push(c.getAttribute("alt") || "");
            else if (c.getAttribute("aria-label")) parts.push(c.getAttribute("aria-label"));
            else walk(c);
          }
        }
      };
      walk(el);
      if (norm(parts.join(" "))) return norm(parts.join(" "));
    }
    return norm(el.getAttribute("title"));
  };

  // Names of form controls.
  for (const el of document.querySelectorAll("input, select, textarea")) {
    if (el.type === "hidden" || !visible(el)) continue;
    if (!nameOf(el)) problems.push("a form control without a label: " + describe(el));
  }
  for (const l of document.querySelectorAll("label[for]")) {
    if (!document.getElementById(l.htmlFor)) problems.push(`a label for a missing element #${l.htmlFor}: ` + describe(l));
  }
  // Names of buttons and links.
  for (const el of document.querySelectorAll("button, a[href], [role=button], input[type=submit], input[type=button], summary")) {
    if (!visible(el) && !el.matches("a.skip")) continue;
    if (!nameOf(el)) problems.push("a button or link without a name: " + describe(el));
    // Label in name (WCAG 2.5.3): a user who says what they see must hit it.
    const label = el.getAttribute("aria-label");
    const shown = norm(el.textContent);
    if (label && shown && !norm(label).toLowerCase().includes(shown.toLowerCase())) {
      problems.push(`a button or link whose name "${norm(label)}" does not contain its visible text: ` + describe(el));
    }
  }
  // Images.
  for (const el of document.querySelectorAll("img")) {
    if (!el.hasAttribute("alt")) problems.push("an image without alt: " + describe(el) + " src=" + (el.getAttribute("src") || "").slice(0, 60));
  }
  for (const el of document.querySelectorAll("[role=img]")) {
    if (visible(el) && !nameOf(el)) problems.push("a [role=img] without a name: " + describe(el));
  }
  // Headings.
  const main = document.getElementById("main") || document.body;
  if (![...main.querySelectorAll("h1, h2")].some(visible)) problems.push("the main area has no visible h1 or h2 heading");

  // Contrast.
  const canvas = document.createElement("canvas");
  canvas.width = canvas.height = 1;
  const cx = canvas.getContext("2d", { willReadFrequently: true });
  const rgba = (color) => {
    // Any CSS colour (rgb, oklch, color(), named) through the canvas.
    cx.clearRect(0, 0, 1, 1);
    cx.fillStyle = "rgba(0, 0, 0, 0)";
    cx.fillStyle = color;
    cx.fillRect(0, 0, 1, 1);
    const d = cx.getImageData(0, 0, 1, 1).data;
    return [d[0], d[1], d[2], d[3] / 255];
  };
  const over = (top, bottom) => {
    const a = top[3];
    return [0, 1, 2].map((i) => top[i] * a + bottom[i] * (1 - a)).concat([1]);
  };
  const luminance = (c) => {
    const [r, g, b] = c.slice(0, 3).map((v) => {
      v /= 255;
      return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const ratio = (a, b) => {
    const [l1, l2] = [luminance(a), luminance(b)].sort((x, y) => y - x);
    return (l1 + 0.05) / (l2 + 0.05);
  };
  // background is the colour behind el, or null when an image is behind it.
  const background = (el) => {
    const layers = [];
    for (let n = el; n && n.nodeType === Node.ELEMENT_NODE; n = n.parentElement) {
      const s = getComputedStyle(n);
      if (s.backgroundImage && s.backgroundImage !== "none") return null;
      const c = rgba(s.backgroundColor);
      if (c[3] > 0) layers.push(c);
      if (c[3] >= 1) break;
    }
    let bg = [255, 255, 255, 1]; // the canvas under everything
    for (const c of layers.reverse()) bg = over(c, bg);
    return bg;
  };
  const seen = new Set();
  const checkText = (el) => {
    if (seen.has(el)) return;
    seen.add(el);
    if (!visible(el) || el.closest("[aria-hidden=true]")) return;
    if (el.matches(":disabled") || el.closest("[disabled], [aria-disabled=true]")) return; // WCAG exempts inactive controls
    const s = getComputedStyle(el);
    if (parseFloat(s.opacity) === 0) return;
    const bg = background(el);
    if (!bg) return;
    const fg = over(rgba(s.color), bg);
    const r = ratio(fg, bg);
    if (r < 4.5) problems.push(`text contrast ${r.toFixed(2)}:1 < 4.5:1 (${s.color} on ${"rgb(" + bg.slice(0, 3).map(Math.round).join(", ") + ")"}): ` + describe(el));
  };
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    if (!n.textContent.trim()) continue;
    const el = n.parentElement;
    if (!el || ["SCRIPT", "STYLE", "NOSCRIPT", "OPTION", "TITLE"].includes(el.tagName)) continue;
    if (el.closest("svg")) continue; // chart text is checked as SVG fill, below
    checkText(el);
  }
  for (const el of document.querySelectorAll("input, select, textarea")) {
    if (el.type === "hidden" || el.type === "checkbox" || el.type === "radio") continue;
    if (el.value || el.tagName === "SELECT") checkText(el);
  }
  // SVG text (charts): its fill against the background.
  for (const el of document.querySelectorAll("svg text")) {
    if (!visible(el) || !el.textContent.trim()) continue;
    const bg = background(el.closest("svg").parentElement);
    if (!bg) continue;
    const fill = getComputedStyle(el).fill;
    if (!fill || fill === "none" || fill.startsWith("url")) continue;
    const r = ratio(over(rgba(fill), bg), bg);
    if (r < 4.5) problems.push(`chart text contrast ${r.toFixed(2)}:1 < 4.5:1: ` + describe(el));
  }
  return problems;
})()
