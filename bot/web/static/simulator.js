"use strict";
// The simulator chat. One WebSocket per tab; the server chooses the conversation's address (URN)
// and the tab keeps it in sessionStorage so a reload or a reconnect continues the same conversation.
// Server data is only ever put in the page with textContent, never as HTML.

const TEXTS = {
  sq: {
    title: "Simulatori i linjës së ndihmës",
    banner: "Simulator — asgjë këtu nuk arrin te një koordinator i vërtetë.",
    toggle: "English", toggle_label: "English (gjuha e faqes)",
    new: "Bisedë e re", chat: "Biseda",
    hint: "Shkruani si një person që kërkon ndihmë. Prekni një zgjedhje ose shkruani përgjigjen.",
    connecting: "Duke u lidhur…", open: "E lidhur", label: "Mesazhi juaj",
    placeholder: "Shkruani këtu…", send: "Dërgo", events: "Ngjarjet",
    events_hint: "Çfarë bëri sistemi pas çdo mesazhi.", no_events: "Ende asnjë ngjarje.",
    coord: "Telefoni i koordinatorit (DEMO)",
    coord_hint: "Rastet urgjente vijnë këtu si alarm. Pranoni me butonin ose me OK R-…; NDIHMË jep komandat.",
    coord_label: "Mesazhi i koordinatorit", coord_placeholder: "p.sh. R-1234 Jeni e sigurt?",
    coord_missing: "Nuk ka koordinator demo: nisni `helpline demo load`.",
    case: "Rasti", risk: "Rreziku", urgency: "Urgjenca", urgent: "URGJENT",
    yes: "po", no: "jo", points: "pikë", flags: "Shenjat",
    levels: { standard: "standard", medium: "mesatar", high: "i lartë" },
    ev: {
      case_opened: "U hap rasti", case_updated: "Rasti u përditësua",
      risk_assessed: "Rreziku u vlerësua", urgency_raised: "Rasti u bë urgjent",
      referral_requested: "U kërkua një koordinator", consent_recorded: "Pëlqimi për shërbim",
      language_changed: "Gjuha e bisedës u ndryshua", keyword_matched: "Fjalë kyçe",
      session_ended: "Biseda mbaroi", followup_started: "Ndjekja u nis",
      followup_answered: "Përgjigje në kontroll",
      erasure_requested: "U kërkua fshirja e të dhënave", input_rejected: "Përgjigjja nuk u kuptua",
    },
    errors: {
      bad_json: "Serveri nuk e lexoi mesazhin.", bad_message: "Mesazh i pavlefshëm.",
      empty: "Mesazhi është bosh.",
      too_long: "Mesazhi kalon 4000 shenja; nuk u ruajt.",
      rate_limited: "Shumë mesazhe njëherësh; prisni pak dhe provoni përsëri.",
      failed: "Sistemi nuk e mori mesazhin; provoni përsëri.",
    },
  },
  en: {
    title: "Helpline simulator",
    banner: "Simulator — nothing here reaches a real coordinator.",
    toggle: "Shqip", toggle_label: "Shqip (page language)",
    new: "New conversation", chat: "Conversation",
    hint: "Write as someone looking for help would. Tap an option or type the answer.",
    connecting: "Connecting…", open: "Connected", label: "Your message",
    placeholder: "Write here…", send: "Send", events: "Events",
    events_hint: "What the system did after each message.", no_events: "No events yet.",
    coord: "Coordinator's phone (DEMO)",
    coord_hint: "Urgent cases arrive here as alerts. Accept with the button or OK R-…; HELP lists the commands.",
    coord_label: "Coordinator's message", coord_placeholder: "e.g. R-1234 Are you safe?",
    coord_missing: "No demo coordinator: run `helpline demo load`.",
    case: "Case", risk: "Risk", urgency: "Urgency", urgent: "URGENT",
    yes: "yes", no: "no", points: "points", flags: "Flags",
    levels: { standard: "standard", medium: "medium", high: "high" },
    ev: {
      case_opened: "Case opened", case_updated: "Case updated",
      risk_assessed: "Risk assessed", urgency_raised: "Urgency raised",
      referral_requested: "Coordinator requested", consent_recorded: "Consent to a service",
      language_changed: "Conversation language changed", keyword_matched: "Keyword",
      session_ended: "Conversation ended", followup_started: "Follow-up started",
      followup_answered: "Check-in answered",
      erasure_requested: "Data erasure requested", input_rejected: "Answer not understood",
    },
    errors: {
      bad_json: "The server could not read the message.", bad_message: "Invalid message.",
      empty: "The message is empty.",
      too_long: "The message is over 4000 characters; nothing was stored.",
      rate_limited: "Too many messages at once; wait a moment and try again.",
      failed: "The system could not take the message; try again.",
    },
  },
};

const URN_KEY = "helpline-sim-urn";
const LANG_KEY = "helpline-sim-lang";
const MAX_TEXT = 4000;

let lang = localStorage.getItem(LANG_KEY) === "en" ? "en" : "sq";
let ws = null;
let generation = 0; // bumps on "New conversation", so a late close of the old socket is ignored
let attempts = 0;
let reconnectTimer = null;
const events = []; // kept so the panel can be redrawn in the other language

const $ = (id) => document.getElementById(id);
const t = () => TEXTS[lang];

function isOpen() {
  return ws !== null && ws.readyState === WebSocket.OPEN;
}

function showState(statusId, sendId, buttons, state) {
  const status = $(statusId);
  status.dataset.state = state;
  status.textContent = t()[state];
  $(sendId).disabled = state !== "open";
  document.querySelectorAll(buttons).forEach((b) => { b.disabled = state !== "open"; });
}

function setStatus(state) {
  showState("status", "send", "#messages .choices.current button", state);
}

function applyLanguage() {
  document.documentElement.lang = lang;
  document.querySelectorAll("[data-i18n]").forEach((el) => {
    el.textContent = t()[el.dataset.i18n];
  });
  const other = TEXTS[lang === "sq" ? "en" : "sq"];
  document.querySelectorAll("[data-i18n-other]").forEach((el) => {
    el.textContent = other[el.dataset.i18nOther];
    el.lang = lang === "sq" ? "en" : "sq";
  });
  document.querySelectorAll("[data-i18n-placeholder]").forEach((el) => {
    el.placeholder = t()[el.dataset.i18nPlaceholder];
  });
  const toggle = $("lang-toggle");
  toggle.textContent = t().toggle;
  toggle.lang = lang === "sq" ? "en" : "sq";
  toggle.setAttribute("aria-label", t().toggle_label);
  setStatus(isOpen() ? "open" : "connecting");
  setCoordStatus(coordOpen() ? "open" : "connecting");
  renderEvents();
}

function scrollToEnd() {
  const list = $("messages");
  list.scrollTop = list.scrollHeight;
}

function addBubble(kind, text) {
  const li = document.createElement("li");
  li.className = "msg " + kind;
  li.textContent = text;
  $("messages").appendChild(li);
  scrollToEnd();
  return li;
}

function addBotMessage(text, buttons) {
  // Only the newest message's options can be tapped, as they answer the question now waiting.
  document.querySelectorAll("#messages .choices.current").forEach((row) => {
    row.classList.remove("current");
    row.querySelectorAll("button").forEach((b) => { b.disabled = true; });
  });
  const li = addBubble("bot", text);
  if (buttons && buttons.length) {
    const row = document.createElement("div");
    row.className = "choices current";
    row.setAttribute("role", "group");
    buttons.forEach((option) => {
      const button = document.createElement("button");
      button.type = "button";
      button.textContent = option.label;
      button.dataset.value = option.value;
      button.disabled = !isOpen();
      button.addEventListener("click", () => {
        if (send({ button: option.value, label: option.label }, option.label)) {
          $("text").focus();
        }
      });
      row.appendChild(button);
    });
    li.appendChild(row);
  }
  scrollToEnd();
}

function addNote(text) {
  addBubble("note", text).setAttribute("role", "alert");
}

function detail(ev) {
  const s = t();
  switch (ev.event) {
    case "case_opened":
    case "case_updated": {
      const parts = [];
      if (ev.reference) parts.push(ev.reference);
      const info = ev.info || ev.changes || {};
      Object.keys(info).forEach((key) => {
        const value = info[key];
        if (value !== null && value !== undefined && typeof value !== "object") {
          parts.push(key + ": " + value);
        }
      });
      return parts.join(" · ");
    }
    case "risk_assessed":
      return (s.levels[ev.level] || ev.level) + " (" + ev.level + ")" +
        (ev.score !== undefined ? ", " + ev.score + " " + s.points : "");
    case "urgency_raised":
      return ev.reason || "";
    case "referral_requested":
      return [ev.urgent ? s.urgent : "", ev.reason || ""].filter(Boolean).join(" · ");
    case "consent_recorded":
      return ev.service + ": " + (ev.given ? s.yes : s.no);
    case "language_changed":
      return ev.language || "";
    case "keyword_matched":
      return ev.intent || "";
    case "session_ended":
    case "input_rejected":
      return ev.reason || "";
    case "followup_started":
      return ev.plan || "";
    case "followup_answered":
      return ev.outcome || "";
    default:
      return "";
  }
}

function eventItem(ev) {
  const li = document.createElement("li");
  li.dataset.event = ev.event;
  if (ev.level) li.dataset.level = ev.level;
  const time = document.createElement("time");
  time.dateTime = ev.at.toISOString();
  time.textContent = ev.at.toLocaleTimeString("en-GB", { hour12: false });
  const what = document.createElement("span");
  what.className = "what";
  what.textContent = t().ev[ev.event] || ev.event;
  li.append(time, what);
  const more = detail(ev);
  if (more) li.append(": " + more);
  if (Array.isArray(ev.flags) && ev.flags.length) {
    const flags = document.createElement("div");
    flags.setAttribute("aria-label", t().flags);
    ev.flags.forEach((flag) => {
      const chip = document.createElement("span");
      chip.className = "chip";
      chip.textContent = flag;
      flags.appendChild(chip);
    });
    li.appendChild(flags);
  }
  return li;
}

function renderSummary() {
  const s = t();
  let reference = "—";
  let level = null;
  let urgent = false;
  events.forEach((ev) => {
    if (ev.reference) reference = ev.reference;
    if (ev.event === "risk_assessed") level = ev.level;
    if (ev.event === "urgency_raised" || (ev.event === "referral_requested" && ev.urgent)) {
      urgent = true;
    }
  });
  $("case-ref").textContent = reference;
  $("risk-level").textContent = level || "—";
  $("risk-level").className = level ? "level-" + level : "";
  $("urgency").textContent = urgent ? s.urgent : "—";
  $("urgency").className = urgent ? "urgent" : "";
}

function renderEvents() {
  const list = $("events");
  list.replaceChildren(...events.map(eventItem));
  $("no-events").hidden = events.length > 0;
  renderSummary();
}

function addEvent(frame) {
  const ev = Object.assign({}, frame, { at: new Date() });
  events.push(ev);
  $("events").appendChild(eventItem(ev));
  $("no-events").hidden = true;
  renderSummary();
}

function send(frame, shown) {
  if (!isOpen()) return false;
  ws.send(JSON.stringify(frame));
  addBubble("me", shown);
  return true;
}

function clearConversation() {
  $("messages").replaceChildren();
  events.length = 0;
  renderEvents();
}

function scheduleReconnect(gen) {
  // Gentle: 0.5 s, 1 s, 2 s … up to 15 s, with jitter so many tabs do not return at once.
  const delay = Math.min(15000, 500 * 2 ** Math.min(attempts, 5)) * (0.75 + Math.random() / 2);
  attempts += 1;
  reconnectTimer = setTimeout(() => { if (gen === generation) connect(); }, delay);
}

function connect() {
  clearTimeout(reconnectTimer);
  const gen = generation;
  const stored = sessionStorage.getItem(URN_KEY) || "";
  const scheme = location.protocol === "https:" ? "wss://" : "ws://";
  const socket = new WebSocket(
    scheme + location.host + "/simulator/ws" + (stored ? "?urn=" + encodeURIComponent(stored) : ""));
  ws = socket;
  setStatus("connecting");
  socket.addEventListener("message", (e) => {
    if (gen !== generation) return;
    let frame;
    try { frame = JSON.parse(e.data); } catch { return; }
    if (frame.type === "hello") {
      attempts = 0;
      if (stored && frame.urn !== stored) clearConversation(); // the old one could not continue
      sessionStorage.setItem(URN_KEY, frame.urn);
      document.body.dataset.urn = frame.urn;
      setStatus("open");
    } else if (frame.type === "message") {
      addBotMessage(frame.text, frame.buttons);
    } else if (frame.type === "event") {
      addEvent(frame);
    } else if (frame.type === "error") {
      addNote(t().errors[frame.code] || frame.error || frame.code);
    }
  });
  socket.addEventListener("close", () => {
    if (gen !== generation) return;
    ws = null;
    setStatus("connecting");
    scheduleReconnect(gen);
  });
}

function newConversation() {
  generation += 1;
  attempts = 0;
  sessionStorage.removeItem(URN_KEY);
  delete document.body.dataset.urn;
  const old = ws;
  ws = null;
  if (old) old.close();
  clearConversation();
  connect();
  $("text").focus();
}

function submit() {
  const box = $("text");
  const text = box.value;
  if (!text.trim()) return;
  if (text.length > MAX_TEXT) { addNote(t().errors.too_long); return; }
  if (send({ text }, text)) box.value = "";
  box.focus();
}

document.addEventListener("DOMContentLoaded", () => {
  applyLanguage();
  $("composer").addEventListener("submit", (e) => { e.preventDefault(); submit(); });
  $("text").addEventListener("keydown", (e) => {
    // Enter sends, as in a phone's chat app; Shift+Enter makes a new line.
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); submit(); }
  });
  $("lang-toggle").addEventListener("click", () => {
    lang = lang === "sq" ? "en" : "sq";
    localStorage.setItem(LANG_KEY, lang);
    applyLanguage();
  });
  $("new-conversation").addEventListener("click", newConversation);
  $("coord-composer").addEventListener("submit", (e) => { e.preventDefault(); coordSubmit(); });
  $("coord-text").addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); coordSubmit(); }
  });
  connect();
  coordConnect();
});

// ---- the demo coordinator's phone: alerts arrive here; commands go back like an SMS would ----

let coordWs = null;
let coordUrn = null;
let coordAttempts = 0;

function coordOpen() {
  return coordWs !== null && coordWs.readyState === WebSocket.OPEN;
}

function setCoordStatus(state) {
  showState("coord-status", "coord-send", "#coord-messages .choices button", state);
}

function coordBubble(kind, text) {
  const li = document.createElement("li");
  li.className = "msg " + kind;
  li.textContent = text;
  const list = $("coord-messages");
  list.appendChild(li);
  list.scrollTop = list.scrollHeight;
  return li;
}

function coordSend(frame, shown) {
  if (!coordOpen()) return false;
  coordWs.send(JSON.stringify(frame));
  coordBubble("me", shown);
  return true;
}

function coordMessage(text, buttons) {
  const li = coordBubble("bot", text);
  if (buttons && buttons.length) {
    // Every alert keeps its button: a coordinator may accept an older one.
    const row = document.createElement("div");
    row.className = "choices";
    row.setAttribute("role", "group");
    buttons.forEach((option) => {
      const button = document.createElement("button");
      button.type = "button";
      button.textContent = option.label;
      button.disabled = !coordOpen();
      button.addEventListener("click", () => {
        coordSend({ button: option.value, label: option.label }, option.label);
      });
      row.appendChild(button);
    });
    li.appendChild(row);
  }
}

function coordSubmit() {
  const box = $("coord-text");
  const text = box.value;
  if (!text.trim()) return;
  if (coordSend({ text }, text)) box.value = "";
  box.focus();
}

async function coordConnect() {
  if (coordUrn === null) {
    let found = null;
    try {
      const resp = await fetch("/simulator/coordinator", { cache: "no-store" });
      if (resp.status === 404) {
        $("coord-missing").hidden = false;
        $("coord-status").hidden = true;
        return;
      }
      if (resp.ok) found = await resp.json();
    } catch { /* the server is away; try again below */ }
    if (!found) { coordRetry(); return; }
    coordUrn = found.urn;
  }
  const scheme = location.protocol === "https:" ? "wss://" : "ws://";
  const socket = new WebSocket(
    scheme + location.host + "/simulator/ws?urn=" + encodeURIComponent(coordUrn));
  coordWs = socket;
  setCoordStatus("connecting");
  socket.addEventListener("message", (e) => {
    let frame;
    try { frame = JSON.parse(e.data); } catch { return; }
    if (frame.type === "hello") {
      coordAttempts = 0;
      document.body.dataset.coordinator = frame.urn;
      setCoordStatus("open");
    } else if (frame.type === "message") {
      coordMessage(frame.text, frame.buttons);
    } else if (frame.type === "error") {
      coordBubble("note", t().errors[frame.code] || frame.error || frame.code);
    }
  });
  socket.addEventListener("close", () => {
    coordWs = null;
    setCoordStatus("connecting");
    coordRetry();
  });
}

function coordRetry() {
  const delay = Math.min(15000, 500 * 2 ** Math.min(coordAttempts, 5)) * (0.75 + Math.random() / 2);
  coordAttempts += 1;
  setTimeout(coordConnect, delay);
}
