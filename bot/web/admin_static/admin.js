// Admin pages: live flow validation, the flow sandbox, SMS part counters. No inline scripts (CSP).
"use strict";

(function () {
  // --- SMS parts, as bot/channels/sms_encoding.py counts them --------------------------------
  const GSM7 = new Set(Array.from(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?" +
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"));
  const GSM7_EXT = new Set(Array.from("\f^{}\\[~]|€"));

  function countParts(costs, single, part) {
    const total = costs.reduce((a, b) => a + b, 0);
    if (total === 0) return 0;
    if (total <= single) return 1;
    let parts = 1, used = 0;
    for (const cost of costs) {
      if (used + cost > part) { parts += 1; used = 0; }
      used += cost;
    }
    return parts;
  }

  function smsParts(text) {
    const chars = Array.from(text.normalize("NFC").replace(/\{[A-Za-z_][A-Za-z0-9_]*\}/g, "R-4821"));
    if (chars.every((c) => GSM7.has(c) || GSM7_EXT.has(c))) {
      return countParts(chars.map((c) => (GSM7_EXT.has(c) ? 2 : 1)), 160, 153);
    }
    return countParts(chars.map((c) => (c.codePointAt(0) > 0xffff ? 2 : 1)), 70, 67);
  }

  for (const area of document.querySelectorAll("textarea[data-segments]")) {
    const out = document.getElementById(area.dataset.segments);
    const update = () => {
      const n = smsParts(area.value);
      out.querySelector("span").textContent = String(n);
      out.dataset.parts = String(n);
      out.classList.toggle("many", n > 1);
    };
    area.addEventListener("input", update);
    update();
  }

  // --- the flow editor ----------------------------------------------------------------------
  const form = document.getElementById("flow-form");
  if (!form) return;
  const csrf = form.querySelector("input[name=csrf]").value;
  const source = document.getElementById("source");
  const status = document.getElementById("check-status");
  const problems = document.getElementById("problems");
  const warnings = document.getElementById("warnings");
  const diagram = document.getElementById("diagram");

  async function post(url, body) {
    const response = await fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify(body),
      credentials: "same-origin",
    });
    if (!response.ok) throw new Error(String(response.status));
    return response.json();
  }

  function fillList(list, items, empty) {
    list.replaceChildren();
    for (const p of items) {
      const li = document.createElement("li");
      li.textContent = `${p.file}:${p.line}: ${p.message}`;
      li.dataset.line = String(p.line);
      list.appendChild(li);
    }
    if (!items.length && empty) {
      const li = document.createElement("li");
      li.className = "none";
      li.textContent = empty;
      list.appendChild(li);
    }
  }

  let timer = null;
  let seq = 0;
  async function check() {
    const mine = ++seq;
    status.dataset.state = "checking";
    status.textContent = status.dataset.checking || "…";
    try {
      const result = await post(form.dataset.check, { source: source.value });
      if (mine !== seq) return; // a newer check is under way
      status.dataset.state = result.ok ? "ok" : "error";
      status.textContent = result.ok ? (status.dataset.okText || "✓") : (status.dataset.errorText || "✗");
      fillList(problems, result.problems, "");
      fillList(warnings, result.warnings, warnings.dataset.none || "");
      if (result.diagram) {
        const doc = new DOMParser().parseFromString(result.diagram, "image/svg+xml");
        diagram.replaceChildren(document.importNode(doc.documentElement, true));
      }
      document.getElementById("publish").disabled = !result.ok;
    } catch (err) {
      status.dataset.state = "offline";
    }
  }
  status.dataset.okText = status.textContent;
  status.dataset.errorText = status.dataset.errorText || "✗";
  source.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(check, 300);
  });

  // --- the sandbox --------------------------------------------------------------------------
  const log = document.getElementById("try-log");
  const buttons = document.getElementById("try-buttons");
  const lang = document.getElementById("try-language");

  function say(who, text) {
    const li = document.createElement("li");
    li.className = "msg " + who;
    li.textContent = text;
    log.appendChild(li);
    log.scrollTop = log.scrollHeight;
  }

  async function trial(body) {
    const result = await post(form.dataset.try, { source: source.value, language: lang.value, ...body });
    buttons.replaceChildren();
    if (!result.ok) {
      say("error", result.problems.join("\n"));
      return;
    }
    if (result.reply) say("bot", result.reply);
    for (const b of result.buttons) {
      const button = document.createElement("button");
      button.type = "button";
      button.textContent = b.label;
      button.addEventListener("click", () => { say("me", b.label); trial({ text: b.label, button: b.value }); });
      buttons.appendChild(button);
    }
    if (result.ended) say("system", "—");
  }

  document.getElementById("try-start").addEventListener("click", () => {
    log.replaceChildren();
    trial({ restart: true });
  });
  document.getElementById("try-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const input = document.getElementById("try-text");
    if (!input.value.trim()) return;
    say("me", input.value);
    trial({ text: input.value });
    input.value = "";
  });
})();
