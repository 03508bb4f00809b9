// genjournal dashboard: live updates over Server-Sent Events. Vanilla JS, no build step.
//
// Every event is a journal envelope (the `history --json` shape); its SSE id is its journal
// position, so the browser's automatic reconnect (Last-Event-ID) resumes exactly where it
// stopped. Text from the journal is only ever set with textContent, never as HTML.
"use strict";

(function () {
  const SUCCESS = new Set(["StyleCreated", "RoomGenerated", "ImageGenerated"]);
  const FAILURE = new Set(["StyleFailed", "RoomFailed", "ImageFailed"]);
  const FEED_MAX = 300;
  const body = document.body;
  const page = body.dataset.page;
  const csrf = (document.querySelector('meta[name="csrf"]') || {}).content || "";
  const liveBadge = document.getElementById("live");

  function setLive(state, text) {
    if (!liveBadge) return;
    liveBadge.dataset.state = state;
    liveBadge.textContent = text;
  }

  // --- the grid: cells hold sets of parts (done / failed / running) ------------------

  const board = readJSON("board-data");
  const cells = new Map(); // "slug|cellKey" -> {el, need, done, failed, running}
  const styleIndex = new Map(); // slug -> [number, name]
  const roomIndex = new Map(); // slug -> [number, name]

  function readJSON(id) {
    const el = document.getElementById(id);
    return el ? JSON.parse(el.textContent) : null;
  }

  function parts(text) {
    return new Set((text || "").split(" ").filter(Boolean));
  }

  function range(n) {
    return Array.from({ length: n }, (_, i) => String(i));
  }

  if (board) {
    board.styles.forEach(([slug, name], i) => styleIndex.set(slug, [i + 1, name]));
    board.rooms.forEach(([slug, name], i) => roomIndex.set(slug, [i + 1, name]));
    document.querySelectorAll("td.cell[data-cell]").forEach((el) => {
      const key = el.dataset.cell.split("|")[1];
      let need;
      if (key === "content") need = ["content"];
      else if (key === "images") need = range(board.imagesPerStyle);
      else need = ["room"].concat(range(board.imagesPerRoom));
      cells.set(el.dataset.cell, {
        el,
        need,
        done: parts(el.dataset.done),
        failed: parts(el.dataset.failed),
        running: parts(el.dataset.running),
      });
    });
  }

  // The same mapping as genjournal/web/board.py: cell_of.
  function cellOf(step) {
    if (step === "content") return ["content", "content"];
    if (step.startsWith("image:style:")) return ["images", step.split(":").pop()];
    if (step.startsWith("room:")) return [step, "room"];
    if (step.startsWith("image:room:")) {
      const rest = step.slice("image:room:".length);
      const cut = rest.lastIndexOf(":");
      return ["room:" + rest.slice(0, cut), rest.slice(cut + 1)];
    }
    return null;
  }

  function stateOf(cell) {
    if (cell.need.every((p) => cell.done.has(p))) return "done";
    if (cell.running.size) return "running";
    if (cell.failed.size) return "failed";
    return "pending";
  }

  function paint(cell) {
    const state = stateOf(cell);
    cell.el.className = "cell " + state + (state !== "done" && cell.done.size ? " started" : "");
    cell.el.dataset.done = Array.from(cell.done).sort().join(" ");
    cell.el.dataset.failed = Array.from(cell.failed).sort().join(" ");
    cell.el.dataset.running = Array.from(cell.running).sort().join(" ");
  }

  // Tooltips are built on hover, so the page does not carry 1,500 of them.
  function describeCell(cell, slug, key) {
    const style = (styleIndex.get(slug) || [0, slug])[1];
    const label = key === "content" ? "Content" : key === "images" ? "Images"
      : (roomIndex.get(key.slice("room:".length)) || [0, key])[1];
    const bits = [];
    if (cell.need.includes("content")) bits.push("content " + (cell.done.has("content") ? "✓" : "–"));
    if (cell.need.includes("room")) bits.push("profile " + (cell.done.has("room") ? "✓" : "–"));
    const images = cell.need.filter((p) => /^\d+$/.test(p));
    if (images.length) bits.push("images " + images.filter((p) => cell.done.has(p)).length + "/" + images.length);
    if (cell.failed.size) bits.push("failed: " + Array.from(cell.failed).sort().join(", "));
    if (cell.running.size) bits.push("running: " + Array.from(cell.running).sort().join(", "));
    return style + " · " + label + ": " + bits.join(" · ");
  }

  const gridTable = document.getElementById("grid");
  if (gridTable) {
    gridTable.addEventListener("mouseover", (event) => {
      const el = event.target.closest ? event.target.closest("td.cell") : null;
      if (!el) return;
      const cell = cells.get(el.dataset.cell);
      const [slug, key] = el.dataset.cell.split("|");
      if (cell) el.title = describeCell(cell, slug, key);
    });
  }

  function rowStatus(slug) {
    const row = document.querySelector('tr[data-slug="' + CSS.escape(slug) + '"]');
    if (!row) return;
    const mine = Array.from(cells.values()).filter((c) => c.el.parentElement === row);
    const content = cells.get(slug + "|content");
    let status;
    if (!content.done.has("content")) status = content.failed.size ? "failed" : "pending";
    else if (mine.every((c) => stateOf(c) === "done")) status = "complete";
    else if (mine.some((c) => c.done.has("room"))) status = "partial";
    else status = "basic";
    const badge = row.querySelector("[data-row-status]");
    if (badge && badge.textContent !== status) {
      badge.textContent = status;
      badge.className = "badge " + status;
    }
  }

  function touch(stream, step, change) {
    if (!stream.startsWith("style:") || !step) return;
    const slug = stream.slice("style:".length);
    const located = cellOf(step);
    if (!located) return;
    const cell = cells.get(slug + "|" + located[0]);
    if (!cell) return;
    change(cell, located[1]);
    paint(cell);
    rowStatus(slug);
  }

  function applyToGrid(env) {
    if (env.type === "StepStarted") {
      touch(env.data.stream, env.data.step, (c, p) => c.running.add(p));
    } else if (SUCCESS.has(env.type)) {
      touch(env.stream, env.step, (c, p) => { c.done.add(p); c.failed.delete(p); c.running.delete(p); });
    } else if (FAILURE.has(env.type)) {
      touch(env.stream, env.step, (c, p) => { if (!c.done.has(p)) c.failed.add(p); c.running.delete(p); });
    } else if (env.type === "RunStarted" || env.type === "RunFinished") {
      cells.forEach((c) => { if (c.running.size) { c.running.clear(); paint(c); } });
    }
  }

  // --- the feed: one line per journaled event, like `genjournal run`'s progress ----

  function describe(env) {
    if (env.type === "RunStarted") {
      return "Run " + env.run_id + " started: " + env.data.steps_pending + " of " + env.data.steps_planned + " steps to run";
    }
    if (env.type === "RunFinished") return "Run " + env.run_id + " finished: " + env.data.outcome;
    const stream = env.type === "StepStarted" ? env.data.stream : env.stream;
    const step = env.type === "StepStarted" ? env.data.step : env.step;
    if (!stream.startsWith("style:") || !step) return env.type + " on " + stream;
    const slug = stream.slice("style:".length);
    const [number, name] = styleIndex.get(slug) || ["?", slug];
    const styles = styleIndex.size || "?";
    let label = "Style " + number + "/" + styles + ": " + name;
    const located = cellOf(step);
    if (located && located[0] === "content") label += " — content";
    else if (located && located[0] === "images") label += " — image " + (Number(located[1]) + 1) + "/" + board.imagesPerStyle;
    else if (located) {
      const roomSlug = located[0].slice("room:".length);
      const [rn, rname] = roomIndex.get(roomSlug) || ["?", roomSlug];
      label = "Room " + rn + "/" + (roomIndex.size || "?") + ": " + rname + " (" + name + ")";
      if (located[1] !== "room") label += " — image " + (Number(located[1]) + 1) + "/" + board.imagesPerRoom;
    }
    if (env.type === "StepStarted") return label + " — requested";
    if (SUCCESS.has(env.type)) return label + " — saved";
    if (FAILURE.has(env.type)) {
      const error = env.data.error || {};
      return label + " — failed: " + (error.kind || "") + ": " + (error.message || "");
    }
    return label + " — " + env.type;
  }

  const feed = document.getElementById("feed");

  function addToFeed(env) {
    if (!feed) return;
    const li = document.createElement("li");
    li.dataset.position = String(env.position);
    if (FAILURE.has(env.type)) li.className = "failed";
    if (env.type === "RunStarted" || env.type === "RunFinished") li.className = "run";
    const pos = document.createElement("span");
    pos.className = "pos";
    pos.textContent = "#" + env.position;
    li.appendChild(pos);
    li.appendChild(document.createTextNode(describe(env)));
    feed.insertBefore(li, feed.firstChild);
    while (feed.childElementCount > FEED_MAX) feed.removeChild(feed.lastChild);
  }

  // --- counts: always the server's /api/status (== `genjournal status --json`) ------

  let statusTimer = null;
  function refreshStatusSoon() {
    if (statusTimer !== null) return;
    statusTimer = setTimeout(async () => {
      statusTimer = null;
      const asOf = body.dataset.lastEvent || "";
      try {
        const response = await fetch("/api/status", { headers: { accept: "application/json" } });
        if (!response.ok) return;
        const status = await response.json();
        document.querySelectorAll("[data-status]").forEach((el) => {
          const value = el.dataset.status.split(".").reduce((obj, key) => (obj == null ? obj : obj[key]), status);
          if (value === undefined) return;
          el.textContent = el.dataset.format === "money" ? money(value) : number(value);
        });
        // The counts now include every event received before the request went out.
        body.dataset.statusPosition = asOf;
      } catch (err) {
        // The next event retries; the counts stay as they were.
      }
    }, 400);
  }

  function number(value) {
    return value == null ? "–" : Number(value).toLocaleString("en-US");
  }

  function money(value) {
    if (value == null) return "unknown";
    const digits = value > 0 && value < 0.01 ? 4 : 2;
    return "$" + Number(value).toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
  }

  // --- runs ------------------------------------------------------------------------

  const runForm = document.getElementById("run-form");
  const runMessage = document.getElementById("run-message");
  const runState = document.getElementById("run-state");

  function say(text, isError) {
    if (!runMessage) return;
    runMessage.textContent = text;
    runMessage.className = "run-message" + (isError ? " error" : "");
  }

  async function control(path, payload) {
    const response = await fetch(path, {
      method: "POST",
      headers: { "content-type": "application/json", "x-genjournal-csrf": csrf },
      body: JSON.stringify(payload),
    });
    const answer = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(answer.error || response.statusText);
    return answer;
  }

  async function refreshRuns() {
    if (!runState) return;
    try {
      const response = await fetch("/api/runs");
      if (!response.ok) return;
      const runs = await response.json();
      runState.textContent = runs.active
        ? "Run " + runs.active.run_id + " is running (pid " + runs.active.pid + ", since " + runs.active.since + ")."
        : "No run is in progress.";
      const last = runs.last_started_here;
      if (last && !last.running && last.exit_code !== 0 && last.exit_code !== 130 && last.log_tail.length) {
        say("The last run exited with " + last.exit_code + ": " + last.log_tail[last.log_tail.length - 1], true);
      }
    } catch (err) {
      // Shown again on the next run event.
    }
  }

  // --- curation: "regenerate" on the style page journals a StepRegenerationRequested ----

  const styleArticle = document.querySelector("article.style");
  if (styleArticle) {
    const slug = styleArticle.dataset.stream.replace(/^style:/, "");
    styleArticle.querySelectorAll("form.regen-form").forEach((form) => {
      form.addEventListener("submit", async (event) => {
        event.preventDefault();
        const message = form.querySelector(".regen-message");
        const payload = { step: form.dataset.step, reason: form.elements.reason.value };
        if (form.elements.keep_images) payload.keep_images = form.elements.keep_images.checked;
        if (form.elements.cascade) payload.cascade = form.elements.cascade.checked;
        message.textContent = "marking…";
        try {
          const answer = await control("/api/styles/" + encodeURIComponent(slug) + "/regenerate", payload);
          message.textContent =
            "marked " + answer.count + " step(s); the next run makes them (request " + answer.request + ")";
          form.querySelector("button").disabled = true;
        } catch (err) {
          message.textContent = err.message;
        }
      });
    });
  }

  if (runForm) {
    runForm.addEventListener("submit", async (event) => {
      event.preventDefault();
      const limit = runForm.elements.limit.value.trim();
      const subcategories = Array.from(runForm.querySelectorAll('input[name="subcategories"]:checked')).map((o) => o.value);
      say("starting…");
      try {
        const answer = await control("/api/runs", { limit: limit ? Number(limit) : null, subcategories });
        say("started: " + answer.command + " (pid " + answer.pid + ")");
        setTimeout(refreshRuns, 1500);
      } catch (err) {
        say(err.message, true);
      }
    });
    const picked = document.getElementById("picked");
    runForm.addEventListener("change", () => {
      const names = Array.from(runForm.querySelectorAll('input[name="subcategories"]:checked'))
        .map((o) => o.parentElement.textContent.trim());
      if (picked) picked.textContent = names.length ? names.join(", ") : "all with pending work";
    });
    document.getElementById("run-stop").addEventListener("click", async () => {
      say("stopping…");
      try {
        const answer = await control("/api/runs/stop", {});
        say("SIGTERM sent to pid " + answer.pid + "; in-flight calls finish and are journaled");
      } catch (err) {
        say(err.message, true);
      }
    });
  }

  // --- the stream ----------------------------------------------------------------------

  function startFrom() {
    if (board) return board.position;
    const holder = document.querySelector("[data-position]");
    return holder ? Number(holder.dataset.position) : null;
  }

  function handle(env) {
    body.dataset.lastEvent = String(env.position);
    if (page === "overview") {
      applyToGrid(env);
      addToFeed(env);
      if (SUCCESS.has(env.type) || FAILURE.has(env.type) || env.type.startsWith("Run")) refreshStatusSoon();
      if (env.type.startsWith("Run")) refreshRuns();
    } else if (page === "style") {
      const article = document.querySelector("article.style");
      const stale = document.getElementById("stale");
      if (article && stale && env.stream === article.dataset.stream) stale.hidden = false;
    }
  }

  function connect() {
    if (!window.EventSource || (page !== "overview" && page !== "style")) return;
    const after = startFrom();
    const source = new EventSource("/events" + (after !== null ? "?after=" + after : ""));
    source.onopen = () => setLive("open", "live");
    source.onerror = () => setLive("retry", "reconnecting…");
    source.onmessage = (message) => handle(JSON.parse(message.data));
  }

  connect();
})();
