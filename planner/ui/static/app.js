// The planner's page: tabs and forms drawn from the server's key tables (/api/meta), answers
// from /api/form/NAME and /api/whatif.  Plain JavaScript, no build step, no network beyond
// this server.  The page's state lives in the URL's query string, so a link reproduces it.
"use strict";

const WHATIF = { name: "whatif", title: "What if?", command: "run" };
const state = { meta: null, tab: null, values: {}, seq: 0, timer: null };

// --- small helpers -----------------------------------------------------------------------

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "text") node.textContent = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === "") continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

const $ = (sel) => document.querySelector(sel);

function toast(text) {
  const t = $("#toast");
  t.textContent = text;
  t.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { t.hidden = true; }, 1800);
}

async function copy(text, what) {
  try {
    await navigator.clipboard.writeText(text);
  } catch (e) {            // no clipboard API (plain http on another host): select and copy
    const area = el("textarea", {}, text);
    document.body.append(area);
    area.select();
    document.execCommand("copy");
    area.remove();
  }
  toast(`Copied ${what}`);
}

function cell(v) {
  if (v === null || v === undefined) return "";
  if (typeof v === "number") {
    if (Number.isInteger(v)) return v.toLocaleString("en-US");
    const a = Math.abs(v);
    return a !== 0 && (a >= 1e7 || a < 1e-3) ? v.toExponential(3) : String(+v.toPrecision(4));
  }
  return String(v);
}

// A file picked in the browser, read into `area` (the file never reaches the server as a file).
function upload(text, id, accept, area, then) {
  return el("label", { class: "file" }, text,
    el("input", { type: "file", id, accept, onchange: async (e) => {
      const file = e.target.files[0];
      if (!file) return;
      area.value = await file.text();
      then();
    } }));
}

function download(name, blob) {
  const url = URL.createObjectURL(blob);
  const a = el("a", { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 5000);
}

// --- start-up ----------------------------------------------------------------------------

async function init() {
  const res = await fetch("/api/meta");
  state.meta = await res.json();
  $("#version").textContent = "planner " + (state.meta.version || "");
  document.body.append(
    el("datalist", { id: "dl-models" },
      state.meta.models.map((m) => el("option", { value: m.name, label: m.label }))),
    el("datalist", { id: "dl-devices" },
      state.meta.devices.map((d) => el("option", { value: d.name, label: d.label }))));
  const nav = $("#tabs");
  for (const t of tabs()) {
    nav.append(el("button", { role: "tab", id: "tab-" + t.name, "data-tab": t.name,
      title: t.title, onclick: () => { selectTab(t.name, hasValues(t.name)); pushUrl(); } },
    t.tab || t.title));
  }
  window.addEventListener("popstate", fromUrl);
  fromUrl();
}

function tabs() { return [...state.meta.forms, WHATIF]; }
function formOf(name) { return state.meta.forms.find((f) => f.name === name); }
function hasValues(name) { return Object.keys(state.values[name] || {}).length > 0; }

function fromUrl() {
  const q = new URLSearchParams(location.search);
  let tab = q.get("tab") || state.meta.forms[0].name;
  if (!tabs().some((t) => t.name === tab)) tab = state.meta.forms[0].name;
  const values = {};
  for (const [k, v] of q) if (k !== "tab") values[k] = v;
  state.values[tab] = values;
  selectTab(tab, Object.keys(values).length > 0);
}

function urlOf(tab, values) {
  const q = new URLSearchParams({ tab, ...values });
  return location.pathname + "?" + q.toString();
}

function pushUrl() {
  history.replaceState(null, "", urlOf(state.tab, state.values[state.tab] || {}));
}

function selectTab(name, run) {
  state.tab = name;
  state.seq++;
  for (const b of document.querySelectorAll("#tabs button")) {
    b.setAttribute("aria-selected", String(b.dataset.tab === name));
  }
  const answer = $("#answer");
  answer.hidden = true;
  answer.replaceChildren();
  answer.dataset.status = "";
  if (name === WHATIF.name) renderWhatif(); else renderForm(formOf(name));
  if (run) submit();
}

// --- forms from key tables ---------------------------------------------------------------

function renderForm(form) {
  const values = state.values[form.name] || {};
  const area = $("#form-area");
  const main = el("div", { class: "fields" });
  const more = el("div", { class: "fields" });
  let moreGiven = false;
  for (const f of form.fields) {
    (f.main ? main : more).append(renderField(f, values));
    if (!f.main && values[f.name]) moreGiven = true;
  }
  const node = el("form", { id: "form", "data-form": form.name, novalidate: true,
    onsubmit: (e) => { e.preventDefault(); submit(); },
    onchange: () => scheduleSubmit() },
  main,
  more.children.length ? el("details", { class: "more", open: moreGiven },
    el("summary", {}, `More options (${more.children.length})`), more) : null,
  el("div", { class: "buttons" },
    el("button", { type: "submit", id: "submit" }, "Answer"),
    el("button", { type: "button", class: "secondary", id: "clear",
      onclick: () => { state.values[form.name] = {}; pushUrl(); selectTab(form.name, false); } },
    "Clear")));
  area.replaceChildren(
    el("h2", {}, form.title),
    el("p", { class: "blurb" }, form.blurb, " ",
      el("span", { class: "muted" }, "Inputs take units: 300B, 16GiB, 30d, $2.50/h.")),
    node);
}

function hint(f) {
  const parts = [];
  if (f.default) parts.push(`default ${f.default}`);
  if (f.valid && f.widget !== "select") parts.push(`valid ${f.valid}`);
  if (f.example) parts.push(`e.g. ${f.example}`);
  return parts.join(" · ");
}

function renderField(f, values) {
  const id = "f-" + f.name;
  const value = values[f.name] || "";
  let input;
  const extra = [];
  if (f.widget === "select" || f.widget === "tristate") {
    const choices = f.widget === "tristate" ? [["true", "on"], ["false", "off"]]
      : f.choices.map((c) => [c, c]);
    input = el("select", { id, name: f.name },
      el("option", { value: "" }, f.default ? `default (${f.default})` : "default"),
      choices.map(([v, t]) => el("option", { value: v, selected: v === value }, t)));
  } else if (f.widget === "checkbox") {
    input = el("input", { type: "checkbox", id, name: f.name,
      checked: ["true", "on", "1", "yes"].includes(value.toLowerCase()) });
  } else {
    input = el("input", { type: "text", id, name: f.name, value, autocomplete: "off",
      spellcheck: "false", placeholder: f.example ? "e.g. " + f.example.split(",")[0] : "" });
    if (f.widget === "model") {
      input.setAttribute("list", "dl-models");
      input.placeholder = "zoo name, e.g. llama-2-7b";
      extra.push(configPicker(values), el("div", { class: "info", id: "info-" + f.name }));
      input.addEventListener("input", () => info(f.name, input.value, state.meta.models));
    } else if (f.widget === "device") {
      input.setAttribute("list", "dl-devices");
      input.placeholder = "profile, e.g. h100-sxm";
      extra.push(el("div", { class: "info", id: "info-" + f.name }));
      input.addEventListener("input", () => info(f.name, input.value, state.meta.devices));
    }
    if (f.placeholder) input.placeholder = f.placeholder;   // e.g. a comma-separated list
  }
  const wrap = el("div", { class: "field" + (f.widget === "model" ? " wide" : ""),
    "data-field": f.name },
  el("label", { for: id, title: f.help }, f.label,
    f.unit ? el("span", { class: "unit" }, f.unit) : null,
    el("code", { class: "opt" }, f.option)),
  input, ...extra,
  el("div", { class: "help" }, f.help),
  el("div", { class: "hint" }, hint(f)),
  el("div", { class: "err", id: "err-" + f.name, role: "alert" }));
  if (f.widget === "model" || f.widget === "device") {
    setTimeout(() => info(f.name, value, f.widget === "model" ? state.meta.models
      : state.meta.devices), 0);
  }
  return wrap;
}

function info(name, text, rows) {
  const box = document.getElementById("info-" + name);
  if (!box) return;
  const hits = [];
  for (const part of text.split(",")) {     // a repeatable field holds several names
    const t = part.trim().toLowerCase();
    const hit = t && rows.find((r) => r.name === t || r.aliases.some((a) => a.toLowerCase() === t));
    if (hit) hits.push(`${hit.name}: ${hit.label}`);
  }
  box.textContent = hits.join("; ");
}

function configPicker(values) {
  const given = Boolean(values.config);
  const area = el("textarea", { id: "f-config", name: "config", rows: 8, spellcheck: "false",
    placeholder: "{\n  \"model_type\": \"llama\",\n  \"hidden_size\": 4096,\n  ...\n}" },
  values.config || "");
  const box = el("div", { class: "config", id: "config-box", hidden: !given },
    el("label", { for: "f-config" }, "config.json (Hugging Face)"), area,
    el("div", { class: "row" },
      upload("Upload config.json ", "config-file", ".json,application/json", area,
        scheduleSubmit),
      el("button", { type: "button", class: "link", onclick: () => {
        area.value = "";
        box.hidden = true;
        scheduleSubmit();
      } }, "use a zoo name instead")));
  const toggle = el("button", { type: "button", class: "link", id: "paste-config",
    onclick: () => {
      box.hidden = false;
      const model = document.getElementById("f-model");
      if (model) model.value = "";
      area.focus();
    } }, "or paste a config.json");
  return el("div", {}, toggle, box);
}

function collect(form) {
  const out = {};
  for (const f of form.fields) {
    const input = document.getElementById("f-" + f.name);
    if (!input) continue;
    if (f.widget === "checkbox") {
      if (input.checked) out[f.name] = "true";
    } else if (input.value.trim()) {
      out[f.name] = input.value.trim();
    }
  }
  const config = document.getElementById("f-config");
  const box = document.getElementById("config-box");
  if (config && box && !box.hidden && config.value.trim()) out.config = config.value.trim();
  return out;
}

function scheduleSubmit() {
  clearTimeout(state.timer);
  state.timer = setTimeout(submit, 350);
}

function busy(answer) {
  answer.dataset.status = "busy";
  answer.classList.add("busy");
}

async function submit() {
  clearTimeout(state.timer);
  if (state.tab === WHATIF.name) return runWhatif();
  const form = formOf(state.tab);
  const values = collect(form);
  state.values[form.name] = values;
  pushUrl();
  const seq = ++state.seq;
  const answer = $("#answer");
  busy(answer);
  let data;
  try {
    const res = await fetch(`/api/form/${form.name}?` + new URLSearchParams(values));
    data = await res.json();
  } catch (e) {
    data = { ok: false, error: "the planner server does not answer (is `planner ui` still running?)", errors: {} };
  }
  if (seq !== state.seq) return;           // a later request (or another tab) took over
  for (const e of document.querySelectorAll(".err")) e.textContent = "";
  for (const e of document.querySelectorAll(".field.invalid")) e.classList.remove("invalid");
  answer.classList.remove("busy");
  answer.hidden = false;
  if (!data.ok) return showError(answer, data);
  showAnswer(answer, form, data);
}

function showError(answer, data) {
  const fields = Object.entries(data.errors || {}).filter(([k]) => k);
  for (const [name, msg] of fields) {
    const box = document.getElementById("err-" + name);
    if (box) {
      box.textContent = msg;
      box.closest(".field").classList.add("invalid");
      const details = box.closest("details");
      if (details) details.open = true;
    }
  }
  const general = data.error || (fields.length ? "" : "unknown error");
  answer.replaceChildren(el("div", { class: "error", id: "error" },
    el("strong", {}, "Error: "),
    general || `${fields.length} field${fields.length > 1 ? "s" : ""} need${fields.length > 1 ? "" : "s"} fixing (marked below each).`));
  answer.dataset.status = "error";
}

function actions(links, cli, note, extra) {
  return el("div", { class: "actions" },
    el("button", { type: "button", id: "copy-link",
      onclick: () => copy(location.href, "the link") }, "Copy link"),
    el("button", { type: "button", id: "copy-cli", onclick: () => copy(cli, "the command") },
      "Copy as CLI command"),
    ...links,
    extra || null,
    el("div", { class: "cli" }, el("code", { id: "cli" }, cli),
      note ? el("span", { class: "muted" }, ` (${note})`) : null));
}

function showAnswer(answer, form, data) {
  const parts = [];
  if (data.warning) parts.push(el("div", { class: "warning" }, el("strong", {}, "Warning: "), data.warning));
  if (data.headline.length) {
    parts.push(el("div", { class: "cards", id: "headline" }, data.headline.map((h) =>
      el("div", { class: "card" }, el("div", { class: "label" }, h.label),
        el("div", { class: "value" }, h.value), el("div", { class: "note" }, h.note)))));
  }
  if (data.bars) parts.push(bars(data.bars));
  const links = Object.entries(data.downloads).map(([fmt, url]) =>
    el("a", { class: "button", href: url, download: "", id: "download-" + fmt },
      "Download " + fmt.toUpperCase()));
  parts.push(actions(links, data.cli, data.cli_note));
  if (data.charts) {
    parts.push(el("div", { class: "charts" }, data.charts.map((c) => chart(c))));
  } else if (data.charts_note) {
    parts.push(el("p", { class: "muted" }, "Charts: " + data.charts_note));
  }
  if (data.text) {
    parts.push(el("details", { open: true }, el("summary", {}, `As \`planner ${form.command}\` prints it`),
      el("pre", { id: "text" }, data.text)));
  }
  parts.push(el("details", {}, el("summary", {}, "JSON record (--json, base units)"),
    el("pre", { id: "json" }, JSON.stringify(data.record, null, 2))));
  answer.replaceChildren(...parts);
  answer.dataset.status = "ok";
}

function bars(b) {
  const top = Math.max(b.total, b.capacity || 0);
  const segs = b.parts.map((p, i) => el("div", { class: "seg s" + (i % 6),
    style: null, title: `${p.label}: ${p.text}`, "data-width": (100 * p.value / top).toFixed(3) }));
  const bar = el("div", { class: "bar" }, segs);
  if (b.capacity) {
    bar.append(el("div", { class: "cap", "data-left": (100 * b.capacity / top).toFixed(3),
      title: `capacity ${b.capacity_text}` }));
  }
  const legend = el("div", { class: "legend" }, b.parts.map((p, i) =>
    el("span", {}, el("i", { class: "s" + (i % 6) }), `${p.label} ${p.text}`)),
  el("span", { class: "muted" }, `total ${b.total_text}` +
    (b.capacity ? ` of ${b.capacity_text}` : "")));
  const box = el("div", { class: "bars" }, el("div", { class: "label" }, b.title), bar, legend);
  // widths set through the CSSOM (the page's policy allows no inline style attributes)
  for (const s of box.querySelectorAll("[data-width]")) s.style.width = s.dataset.width + "%";
  for (const s of box.querySelectorAll("[data-left]")) s.style.left = s.dataset.left + "%";
  return box;
}

function chart(c) {
  const fig = el("figure", { class: "chart", "data-chart": c.name },
    el("div", { class: "muted" }, "drawing…"), el("figcaption", {}, c.title));
  fetch(c.url).then(async (res) => {
    if (res.ok) {
      const img = el("img", { alt: c.title, src: URL.createObjectURL(await res.blob()) });
      fig.firstChild.replaceWith(img);
    } else {
      const data = await res.json().catch(() => ({ error: res.statusText }));
      fig.firstChild.replaceWith(el("div", { class: "muted" }, "No chart: " + data.error));
    }
  });
  return fig;
}

// --- What if? ----------------------------------------------------------------------------

function renderWhatif() {
  const values = state.values[WHATIF.name] || {};
  const examples = state.meta.examples;
  const text = values.scenario || (values.example && examples[values.example]) || "";
  const area = el("textarea", { id: "scenario", rows: 18, spellcheck: "false",
    placeholder: "title = \"My plan\"\n[model]\nname = \"llama-2-7b\"\n[train]\ntokens = \"2T\"\nhardware = [\"a100-80gb\", \"h100-sxm\"]\ngpus = {start = 256, stop = 2048, step = 256}" }, text);
  area.dataset.example = values.example || "";
  const select = el("select", { id: "example", onchange: () => {
    area.value = examples[select.value] || "";
    area.dataset.example = select.value;
    if (select.value) submit();
  } }, el("option", { value: "" }, "—"),
  Object.keys(examples).map((n) => el("option", { value: n, selected: n === values.example }, n)));
  $("#form-area").replaceChildren(
    el("h2", {}, WHATIF.title),
    el("p", { class: "blurb" }, "Paste a scenario TOML, upload one, or start from an example. ",
      "Lists and ranges are swept, distributions drawn (Monte-Carlo), [expect] checked - as ",
      el("code", {}, "planner run"), ` does, up to ${state.meta.limits.max_rows.toLocaleString("en-US")} rows. `,
      el("span", { class: "muted" }, "[model] takes a zoo name or an inline architecture (the page reads no files).")),
    el("form", { id: "form", "data-form": "whatif", onsubmit: (e) => { e.preventDefault(); submit(); } },
      el("div", { class: "row" },
        el("label", {}, "Example ", select),
        upload("Upload ", "scenario-file", ".toml,text/plain", area, () => {
          area.dataset.example = "";
          select.value = "";
        })),
      area,
      el("div", { class: "err", id: "err-scenario", role: "alert" }),
      el("div", { class: "buttons" },
        el("button", { type: "submit", id: "submit" }, "Run"),
        el("button", { type: "button", class: "secondary", id: "clear", onclick: () => {
          area.value = ""; select.value = ""; area.dataset.example = "";
        } }, "Clear"))));
}

function whatifValues(text) {
  const area = $("#scenario");
  const ex = area.dataset.example;
  if (ex && state.meta.examples[ex] === text) return { example: ex };
  return text.length <= 8000 ? { scenario: text } : {};
}

async function post(path, text) {
  return fetch(path, { method: "POST", body: text,
    headers: { "Content-Type": "text/plain; charset=utf-8", "X-Planner": "1" } });
}

async function runWhatif() {
  const text = $("#scenario").value;
  state.values[WHATIF.name] = whatifValues(text);
  pushUrl();
  const seq = ++state.seq;
  const answer = $("#answer");
  busy(answer);
  $("#err-scenario").textContent = "";
  let data;
  try {
    data = await (await post("/api/whatif", text)).json();
  } catch (e) {
    data = { ok: false, error: "the planner server does not answer (is `planner ui` still running?)" };
  }
  if (seq !== state.seq) return;
  answer.classList.remove("busy");
  answer.hidden = false;
  if (!data.ok) {
    $("#err-scenario").textContent = data.error;
    return showError(answer, { error: data.error, errors: {} });
  }
  const parts = [el("div", { class: "cards", id: "headline" },
    el("div", { class: "card" }, el("div", { class: "label" }, "rows"),
      el("div", { class: "value" }, data.rows.toLocaleString("en-US")),
      el("div", { class: "note" }, `${data.sections.length} section${data.sections.length > 1 ? "s" : ""}`)),
    ...data.sections.flatMap((s) => s.expect.map((c) =>
      el("div", { class: "card " + (c.ok ? "ok" : "bad") },
        el("div", { class: "label" }, c.metric), el("div", { class: "value" }, c.ok ? "OK" : "MISMATCH"),
        el("div", { class: "note" }, `got ${cell(c.got)}, expected ${cell(c.expected)}${c.tolerance ? " " + c.tolerance : ""}`)))))];
  const links = ["csv", "json"].map((fmt) => el("button", { type: "button", id: "download-" + fmt,
    onclick: async () => {
      const res = await post(`/api/whatif/download.${fmt}`, text);
      if (!res.ok) { toast((await res.json()).error); return; }
      download(`planner-scenario.${fmt}`, await res.blob());
    } }, "Download " + fmt.toUpperCase()));
  links.push(el("button", { type: "button", id: "download-toml",
    onclick: () => download("scenario.toml", new Blob([text], { type: "application/toml" })) },
  "Download TOML"));
  const note = state.values[WHATIF.name].example ? `planner run scenarios/${state.values[WHATIF.name].example}.toml`
    : "the scenario saved as scenario.toml";
  parts.push(actions(links, data.cli, note));
  const charts = el("div", { class: "charts", id: "whatif-charts" }, el("p", { class: "muted" }, "drawing charts…"));
  parts.push(charts);
  parts.push(el("details", { open: true }, el("summary", {}, "As `planner run` prints it"),
    el("pre", { id: "text" }, data.text)));
  for (const s of data.sections) {
    parts.push(el("details", {}, el("summary", {}, `${s.title} [${s.kind}]: first ${s.head.length} of ${s.rows.toLocaleString("en-US")} rows, every column`),
      el("div", { class: "scroll" }, el("table", { class: "rows" },
        el("thead", {}, el("tr", {}, s.columns.map((c) => el("th", {}, c)))),
        el("tbody", {}, s.head.map((r) => el("tr", {}, r.map((v) => el("td", {}, cell(v))))))))));
  }
  if (data.assumptions.length) {
    parts.push(el("details", {}, el("summary", {}, "Assumptions and sources"),
      el("ul", {}, data.assumptions.map((a) => el("li", {}, a.text, el("span", { class: "muted" }, ` (${a.source})`))))));
  }
  answer.replaceChildren(...parts);
  answer.dataset.status = "ok";
  const res = await post("/api/whatif/charts", text);
  const got = await res.json().catch(() => ({ ok: false, error: res.statusText }));
  if (seq !== state.seq) return;
  charts.replaceChildren(...(got.ok ? (got.charts.length ? got.charts.map((c) =>
    el("figure", { class: "chart", "data-chart": c.name }, el("img", { src: c.src, alt: c.name }),
      el("figcaption", {}, c.name.replaceAll("_", " ")))) : [el("p", { class: "muted" }, "No chart: nothing varies that a chart shows (GPUs, devices, context, quantisation).")])
    : [el("p", { class: "muted" }, "No charts: " + got.error)]));
}

document.addEventListener("DOMContentLoaded", init);
