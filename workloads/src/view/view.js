// epsim step-through view. Data: #epsim-data holds each pane's packed data (base64 of
// zlib-deflated bytes: a JSON header and columns of numbers viewed in place as typed
// arrays; see workloads/src/view/encode.rs). The machine is rebuilt from the change log,
// with a checkpoint every `check` records made on demand and, after the first paint, in
// the background, so that opening is quick and a jump to any record is fast.
"use strict";
const POISON1 = 0x00100100, POISON2 = 0x00200200;
const KIND = { op: 0, drain: 1, irq: 2, sw: 3, sleep: 4, exit: 5, allocfail: 6, note: 7, sys: 8, ret: 9 };
const STATUS = ["running", "runnable", "sleeping", "exited"];
const MASKS = [[1, "EPOLLIN"], [2, "EPOLLPRI"], [4, "EPOLLOUT"], [8, "EPOLLERR"], [0x10, "EPOLLHUP"],
  [0x40, "EPOLLRDNORM"], [0x80, "EPOLLRDBAND"], [0x100, "EPOLLWRNORM"], [0x200, "EPOLLWRBAND"],
  [0x2000, "EPOLLRDHUP"], [0x10000000, "EPOLLEXCLUSIVE"], [0x20000000, "EPOLLWAKEUP"],
  [0x40000000, "EPOLLONESHOT"], [0x80000000, "EPOLLET"]];
const LIST_DRAW_MAX = 48, TABLE_ROWS_MAX = 120;
// Value codes (encode.rs): below 0 the address of word -(v + 1), from BIG a table entry.
const BIG = 0x40000000;

function esc(s) { return String(s).replace(/[&<>"]/g, c => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c])); }

class Pane {
  constructor(root, D, index, view) {
    this.root = root; this.D = D; this.index = index; this.view = view;
    const R = D.records; this.n = R.step.length; this.C = D.changes;
    for (const column of [R.step, R.time, D.change_end]) for (let i = 1; i < column.length; i++) column[i] += column[i - 1];
    this.check = Math.max(256, Math.ceil(D.words * this.n / 4e6));
    this.indexBlocks();
    this.indexRecords();
    this.startCheckpoints();
    this.build();
    this.cursor = -1;
    this.selectedCpu = null;
  }
  // Blocks never move or get reused: one table for the whole run (encode.rs: `blocks`).
  indexBlocks() {
    const D = this.D, B = D.blocks;
    this.blocks = []; this.wordBlock = new Int32Array(Math.max(1, D.words)).fill(-1);
    this.layoutFieldIndex = D.layouts.map(([, fields]) => { const m = {}; fields.forEach((f, i) => m[f] = i); return m; });
    for (let k = 0; k < B.length; k += 5) {
      const b = { start: B[k], layout: B[k + 1], id: this.dec(B[k + 2]), alloc: B[k + 3], freed: B[k + 4] === -2 ? Infinity : B[k + 4] };
      b.kind = D.layouts[b.layout][0]; b.fields = D.layouts[b.layout][1];
      const bi = this.blocks.length; this.blocks.push(b);
      for (let f = 0; f < b.fields.length; f++) this.wordBlock[b.start + f] = bi;
    }
    this.blockByName = new Map();
    for (const b of this.blocks) this.blockByName.set(b.kind + b.id, b);
  }
  // A value code as the value: a number, a hex string past 2^53, or (negative) an address.
  dec(v) { return v >= BIG ? this.D.big[v - BIG] : v; }
  skip(i) {
    const C = this.C;
    switch (C[i]) {
      case 0: return i + 4; case 1: return i + 2; case 2: return i + 3;
      case 3: return i + 3 + 2 * C[i + 2];
      case 4: { const h = C[i + 2]; const w = C[i + 3 + h]; return i + 4 + h + w; }
      case 5: return i + 3 + 2 * C[i + 2];
      case 6: return i + 4; case 7: return i + 5; case 8: return i + 2;
      default: throw new Error("bad change opcode " + C[i] + " at " + i);
    }
  }
  indexRecords() {
    const R = this.D.records, n = this.n, cpus = this.D.cpus;
    // Per CPU, its records that are steps (not notes), as typed arrays.
    const counts = new Int32Array(cpus);
    for (let i = 0; i < n; i++) if (R.kind[i] !== KIND.note && R.kind[i] !== KIND.ret) counts[R.cpu[i]]++;
    this.perCpu = Array.from(counts, k => new Int32Array(k)); const fill = new Int32Array(cpus);
    const syscalls = []; this.taskCalls = new Map();
    for (let i = 0; i < n; i++) {
      const k = R.kind[i];
      if (k !== KIND.note && k !== KIND.ret) { const c = R.cpu[i]; this.perCpu[c][fill[c]++] = i; }
      if (k === KIND.sys || k === KIND.ret) {
        if (k === KIND.sys) syscalls.push(i);
        // Per task: its syscall entries and returns, to say which call it is in.
        const t = R.task[i]; let calls = this.taskCalls.get(t); if (!calls) this.taskCalls.set(t, calls = []); calls.push(i);
      }
    }
    this.syscalls = Int32Array.from(syscalls);
    this.reportAt = new Map();
    this.D.reports.forEach((r, k) => { if (!this.reportAt.has(r.record)) this.reportAt.set(r.record, []); this.reportAt.get(r.record).push(k); });
    this.reportRecords = [...this.reportAt.keys()].sort((a, b) => a - b);
    this.tmin = n ? R.time[0] : 0; this.tmax = 1;
    for (let i = 0; i < n; i++) { const t = R.time[i]; if (t < this.tmin) this.tmin = t; if (t > this.tmax) this.tmax = t; }
  }
  // The system call each record belongs to, as (task, ordinal of that task's calls), for
  // aligning two runs (made for pages of two panes only).
  indexCalls() {
    const R = this.D.records; this.callKey = new Array(this.n); const ordinal = new Map(); let last = "";
    for (let i = 0; i < this.n; i++) {
      if (R.kind[i] === KIND.sys) { const t = R.task[i]; const o = (ordinal.get(t) || 0) + 1; ordinal.set(t, o); last = this.taskName(t) + "#" + o; }
      this.callKey[i] = last;
    }
  }
  // The narration of record i.
  text(i) { const R = this.D.records; return R.lines[R.line[i]]; }
  taskName(t) { return t < 0 ? "idle" : (this.D.tasks[t] || "task" + t); }
  fresh() {
    return { vals: new Int32Array(Math.max(1, this.D.words)), bufs: Array.from({ length: this.D.cpus }, () => []), locks: new Map(), wqs: new Map(),
      tasks: new Map(), cpus: Array.from({ length: this.D.cpus }, () => ({ task: -1, irq: -1, irqs: 1 })), loc: new Array(this.D.cpus).fill(-1), upto: 0 };
  }
  clone(s) {
    return { vals: s.vals.slice(), bufs: s.bufs.map(b => b.slice()), locks: new Map(s.locks), wqs: new Map(s.wqs), tasks: new Map(s.tasks),
      cpus: s.cpus.map(c => Object.assign({}, c)), loc: s.loc.slice(), upto: s.upto };
  }
  // Applies the changes [s.upto, end) to s.
  apply(s, end) {
    const C = this.C, D = this.D, R = D.records;
    let i = s.upto;
    while (i < end) {
      switch (C[i]) {
        case 2: s.vals[C[i + 1]] = C[i + 2]; break;
        case 3: { const n = C[i + 2], b = []; for (let k = 0; k < n; k++) b.push([C[i + 3 + 2 * k], C[i + 4 + 2 * k]]); s.bufs[C[i + 1]] = b; break; }
        case 4: { const h = C[i + 2], holders = C.slice(i + 3, i + 3 + h), w = C[i + 3 + h]; const waiters = C.slice(i + 4 + h, i + 4 + h + w);
          if (h === 0 && w === 0) s.locks.delete(C[i + 1]); else s.locks.set(C[i + 1], [holders, waiters]); break; }
        case 5: { const n = C[i + 2], e = []; for (let k = 0; k < n; k++) e.push([C[i + 3 + 2 * k], C[i + 4 + 2 * k]]);
          if (n === 0) s.wqs.delete(C[i + 1]); else s.wqs.set(C[i + 1], e); break; }
        case 6: s.tasks.set(C[i + 1], [C[i + 2], C[i + 3]]); break;
        case 7: s.cpus[C[i + 1]] = { task: C[i + 2], irq: C[i + 3], irqs: C[i + 4] }; break;
        case 8: { const r = Math.max(0, this.recordOfChange(i) ); s.loc[R.cpu[Math.min(r, this.n - 1)]] = C[i + 1]; break; }
      }
      i = this.skip(i);
    }
    s.upto = end;
  }
  // The record after which the change at offset i was seen (-1: as built).
  recordOfChange(i) {
    const E = this.D.change_end; let lo = 0, hi = E.length - 1;
    while (lo < hi) { const m = (lo + hi) >> 1; if (E[m] > i) hi = m; else lo = m + 1; }
    return lo - 1;
  }
  // Checkpoint k is the machine after record k * check. Made on demand (a jump past the
  // last one extends them) and, once the page is drawn, a slice at a time in the
  // background; the first paint needs only the first.
  startCheckpoints() {
    this.checkpoints = []; this.building = this.fresh();
    if (this.n) this.extendCheckpoints(0);
    this.state = this.n ? this.clone(this.checkpoints[0]) : this.building; this.stateAt = 0;
  }
  extendCheckpoints(k) {
    while (this.checkpoints.length <= k && this.checkpoints.length * this.check < this.n) {
      this.apply(this.building, this.D.change_end[this.checkpoints.length * this.check + 1]);
      this.checkpoints.push(this.clone(this.building));
    }
  }
  // Makes the remaining checkpoints in slices of a few milliseconds, between events.
  buildInBackground() {
    const slice = () => {
      const t0 = performance.now();
      while (this.checkpoints.length * this.check < this.n && performance.now() - t0 < 8) this.extendCheckpoints(this.checkpoints.length);
      if (this.checkpoints.length * this.check < this.n) setTimeout(slice, 0);
      else { this.building = null; performance.mark("epsim-checkpoints-done"); }
    };
    setTimeout(slice, 0);
  }
  stateAfter(c) {
    const end = this.D.change_end[c + 1], k = Math.floor(c / this.check);
    // On from the cursor's state when it is behind c and no checkpoint is nearer.
    if (this.state && this.stateAt <= c && this.state.upto <= end && this.stateAt >= k * this.check) { this.apply(this.state, end); this.stateAt = c; return this.state; }
    this.extendCheckpoints(k);
    const s = this.clone(this.checkpoints[k]); this.apply(s, end); this.state = s; this.stateAt = c; return s;
  }
  // ---- names ----
  wordName(w) {
    const bi = this.wordBlock[w]; if (bi < 0) return "w" + w;
    const b = this.blocks[bi]; return b.kind + b.id + "." + b.fields[w - b.start];
  }
  linkName(w) { return this.wordName(w).replace(/\.next$/, ""); }
  valueName(v, chain) {
    v = this.dec(v);
    if (typeof v === "string") return v === "0xffffffffffffffff" ? (chain ? "EP_UNACTIVE_PTR" : "-1") : v;
    if (v < 0) return "&" + this.linkName(-v - 1);
    if (v === POISON1) return "LIST_POISON1"; if (v === POISON2) return "LIST_POISON2";
    if (v === 0) return "NULL";
    return v > 0xffff ? "0x" + v.toString(16) : String(v);
  }
  valueHtml(v, chain) {
    const t = esc(this.valueName(v, chain)); v = this.dec(v);
    if (v === POISON1 || v === POISON2) return `<span class="poison">${t}</span>`;
    return t;
  }
  fieldWord(b, f) { const i = this.layoutFieldIndex[b.layout][f]; return i === undefined ? -1 : b.start + i; }
  isFreed(b, c) { return b.freed <= c; }
  // ---- the diagrams ----
  // Follows a list_head from its head word; returns the nodes and how it ends.
  walk(s, headWord) {
    const nodes = []; const seen = new Set([headWord]); let v = s.vals[headWord], prev = headWord, end = "closed";
    while (true) {
      if (typeof v !== "number" || v >= 0) { end = "broken"; break; }
      const w = -v - 1; if (w === headWord) break;
      if (seen.has(w)) { end = "cycle"; nodes.push({ w, cycle: true }); break; }
      if (nodes.length >= 100000) { end = "long"; break; }
      seen.add(w); nodes.push({ w, next: s.vals[w], prev: s.vals[w + 1], back: s.vals[w + 1] === -(prev + 1) });
      prev = w; v = s.vals[w];
    }
    return { nodes, end, endValue: v, headBack: s.vals[headWord + 1] === -(prev + 1) };
  }
  walkChain(s, headWord, link) {
    const nodes = []; const seen = new Set(); let v = s.vals[headWord];
    while (typeof v === "number" && v < 0) {
      const w = -v - 1; if (seen.has(w)) { nodes.push({ w, cycle: true }); break; } seen.add(w);
      const bi = this.wordBlock[w]; const b = this.blocks[bi]; const lw = b ? this.fieldWord(b, link) : -1;
      nodes.push({ w, next: lw >= 0 ? s.vals[lw] : 0 }); if (lw < 0 || nodes.length > 100000) break; v = s.vals[lw];
    }
    return { nodes, endValue: v };
  }
  nodeHtml(c, w, extra) {
    const bi = this.wordBlock[w], b = this.blocks[bi];
    const freed = b && this.isFreed(b, c);
    const name = b ? b.kind + b.id : "w" + w;
    return `<span class="node${freed ? " freed" : ""}" data-item="${esc(name)}">${esc(name)}${freed ? " (freed)" : ""}${extra}</span>`;
  }
  listHtml(s, c, list, b, onList) {
    if (list.shape === "double") {
      const hw = this.fieldWord(b, list.field + ".next"); if (hw < 0) return "";
      const r = this.walk(s, hw);
      const headSelf = s.vals[hw] === -(hw + 1) && s.vals[hw + 1] === -(hw + 1);
      if (list.kind === "stack" && (headSelf || s.vals[hw] === 0) ) return "";
      const items = r.nodes.filter(n => !n.cycle).map(n => { const bb = this.blocks[this.wordBlock[n.w]]; return bb ? bb.kind + bb.id : "w" + n.w; });
      let h = `<div class="listbox" data-list="${esc(list.field)}" data-owner="${esc(b.kind + b.id)}" data-items="${esc(items.join(" "))}">`;
      h += `<div><b>${esc(b.kind + b.id)}</b> · ${esc(list.title)} — `;
      if (s.vals[hw] === 0) h += `<span class="bad">head is zero (never initialised)</span>`;
      else if (headSelf) h += `<span class="self">empty (head self-linked)</span>`;
      else h += `${r.nodes.length} item${r.nodes.length === 1 ? "" : "s"}`;
      h += `</div><div class="list"><span class="node head">${esc(list.field)}<span class="w">next ${this.valueHtml(s.vals[hw])}</span><span class="w">prev ${this.valueHtml(s.vals[hw + 1])}</span></span>`;
      r.nodes.slice(0, LIST_DRAW_MAX).forEach((n, k) => {
        onList.set(n.w, b.kind + b.id + "." + list.field);
        if (n.cycle) { h += `<span class="arrow">→</span><span class="bad">cycle back to ${esc(this.linkName(n.w))}</span>`; return; }
        const link = this.wordName(n.w).split(".").slice(1, -1).join(".");
        h += `<span class="arrow">→</span>` + this.nodeHtml(c, n.w, `<span class="w">${esc(link)}</span><span class="w">next ${this.valueHtml(n.next)}</span><span class="w">prev ${this.valueHtml(n.prev)}${n.back ? "" : ' <span class="bad">≠ back</span>'}</span>`);
      });
      if (r.nodes.length > LIST_DRAW_MAX) h += `<span class="muted"> … ${r.nodes.length - LIST_DRAW_MAX} more</span>`;
      if (r.end === "broken") h += `<span class="arrow">→</span><span class="bad">${this.valueHtml(r.endValue)} (the walk cannot go on)</span>`;
      else if (r.nodes.length && r.end === "closed") h += `<span class="arrow">→</span><span class="muted">back to head${r.headBack ? "" : ' <span class="bad">(head.prev ≠ last)</span>'}</span>`;
      return h + "</div></div>";
    }
    const hw = this.fieldWord(b, list.field); if (hw < 0) return "";
    const v = s.vals[hw];
    let h = `<div class="listbox" data-list="${esc(list.field)}" data-owner="${esc(b.kind + b.id)}"><div><b>${esc(b.kind + b.id)}</b> · ${esc(list.title)} — `;
    const value = this.dec(v);
    if (value === list.inactive || value === "0xffffffffffffffff") return h + `<span class="muted">EP_UNACTIVE_PTR (no transfer running)</span></div></div>`;
    const r = this.walkChain(s, hw, list.link);
    h += `${r.nodes.length} chained</div><div class="list"><span class="node head">${esc(list.field)}<span class="w">${this.valueHtml(v, true)}</span></span>`;
    r.nodes.slice(0, LIST_DRAW_MAX).forEach(n => { onList.set(n.w, b.kind + b.id + "." + list.field); h += `<span class="arrow">→</span>` + this.nodeHtml(c, n.w, `<span class="w">${esc(list.link)} ${this.valueHtml(n.next, true)}</span>`); });
    return h + `<span class="arrow">→</span><span class="muted">${this.valueHtml(r.endValue, true)}</span></div></div>`;
  }
  linkState(s, w) {
    const n = s.vals[w], p = s.vals[w + 1];
    if (n === 0 && p === 0) return `<span class="bad">zero (not initialised)</span>`;
    if (n === -(w + 1) && p === -(w + 1)) return `<span class="self">self-linked (INIT_LIST_HEAD: on no list)</span>`;
    if (n === POISON1 || p === POISON2) return `<span class="poison">poisoned (list_del)</span>` + (n === POISON1 && p === POISON2 ? "" : ` next ${this.valueHtml(n)} prev ${this.valueHtml(p)}`);
    if (typeof n === "number" && n < 0 && typeof p === "number" && p < 0) return `<span class="ok">linked</span>`;
    return `<span class="bad">half-initialised: next ${this.valueHtml(n)}, prev ${this.valueHtml(p)}</span>`;
  }
  maskText(v) {
    v = this.dec(v); if (typeof v !== "number") return v;
    const names = MASKS.filter(([b]) => (v & b) !== 0 || (b === 0x80000000 && v >= 0x80000000)).map(([, n]) => n);
    return "0x" + v.toString(16) + (names.length ? " " + names.join("|") : "");
  }
  // ---- page ----
  build() {
    const D = this.D;
    this.root.innerHTML = `<h2>${esc(D.title)}</h2><div class="opts">${esc(D.scenario)} · ${esc(D.options)} · hash ${esc(D.hash)} · ${this.n} records</div>
      <div class="lanes"><canvas height="${18 * D.cpus + 14}"></canvas><div class="cursorline" style="height:${18 * D.cpus + 14}px"></div></div>
      <div class="controls"><input type="range" min="0" max="${Math.max(0, this.n - 1)}" value="0" aria-label="step"><span class="pos"></span>
      <label>go to step <input class="goto" size="7" aria-label="go to step"></label></div>
      <div class="now"></div><div class="diverge" hidden></div><div class="reports"></div><div class="grid"></div>
      <details><summary>results</summary><div class="results"></div></details>`;
    // The results text can be megabytes: put in the page when first opened.
    const details = this.root.querySelector("details");
    details.addEventListener("toggle", () => { const r = details.querySelector(".results"); if (details.open && !r.textContent) r.textContent = D.results; });
    this.canvas = this.root.querySelector("canvas"); this.line = this.root.querySelector(".cursorline");
    this.slider = this.root.querySelector("input[type=range]");
    this.slider.addEventListener("input", () => this.view.moveTo(this, +this.slider.value));
    this.canvas.addEventListener("click", e => this.click(e));
    const go = this.root.querySelector(".goto");
    go.addEventListener("keydown", e => { if (e.key === "Enter") { const step = +go.value; const i = this.D.records.step.findIndex(x => x >= step); if (i >= 0) this.view.moveTo(this, i); e.stopPropagation(); go.blur(); } else e.stopPropagation(); });
    this.root.addEventListener("mousedown", () => this.view.activate(this));
    const reports = this.root.querySelector(".reports");
    reports.innerHTML = D.reports.map((r, k) => `<div data-report="${k}">report at step ${r.step}: <b>${esc(r.kind)}</b> — ${esc(r.message)}</div>`).join("");
    this.zoom = 1; this.drawLanes();
  }
  xOf(t) { const w = this.canvas.width; const span = (this.tmax - this.tmin) / this.zoom; let t0 = this.tmin;
    if (this.zoom > 1 && this.cursor >= 0) t0 = Math.min(Math.max(this.tmin, this.D.records.time[this.cursor] - span / 2), this.tmax - span);
    this.t0 = t0; this.span = span; return (t - t0) / span * (w - 60) + 56; }
  // One mark per kind per pixel column: a long run draws a few thousand rectangles, not
  // one per record.
  drawLanes() {
    const cv = this.canvas, D = this.D, R = D.records; cv.width = Math.max(300, cv.clientWidth || 800);
    const g = cv.getContext("2d"); g.clearRect(0, 0, cv.width, cv.height); g.font = "11px sans-serif";
    this.xOf(0);
    const W = cv.width, x0 = 56, scale = (W - 60) / this.span, t0 = this.t0;
    const bits = new Uint8Array(W * D.cpus);
    for (let i = 0; i < this.n; i++) {
      const k = R.kind[i]; if (k === KIND.note || k === KIND.ret) continue;
      const x = Math.floor((R.time[i] - t0) * scale + x0); if (x < x0 || x >= W) continue;
      bits[R.cpu[i] * W + x] |= k === KIND.sys ? 1 : k === KIND.drain ? 2 : k === KIND.irq ? 4 : k === KIND.sleep ? 8 : k === KIND.sw ? 16 : 32;
    }
    const styles = [[32, "#556", 3, 1, 8], [16, "#0a0", 3, 1, 8], [8, "#999", 3, 1, 8], [4, "#9b30d9", 3, 1, 8], [2, "#e08a00", 3, 1, 8], [1, "#2a7ae2", 0, 2, 14]];
    for (let c = 0; c < D.cpus; c++) {
      const y = 4 + 18 * c; g.fillStyle = "#f3f5f8"; g.fillRect(x0, y, W - x0, 14); g.fillStyle = "#333"; g.fillText("cpu" + c, 4, y + 11);
      for (const [bit, color, dy, w, h] of styles) {
        g.fillStyle = color;
        for (let x = x0; x < W; x++) if (bits[c * W + x] & bit) g.fillRect(x, y + dy, w, h);
      }
    }
    g.fillStyle = "#d00";
    for (const r of this.reportRecords) { const x = this.xOf(R.time[r]); g.fillRect(x - 2, 4 + 18 * R.cpu[r], 5, 14); }
    g.fillStyle = "#555"; g.fillText((this.t0 / 1000).toFixed(3) + "us", x0, 18 * D.cpus + 13);
    const right = ((this.t0 + this.span) / 1000).toFixed(3) + "us"; g.fillText(right, W - g.measureText(right).width - 2, 18 * D.cpus + 13);
    this.drawnZoomAt = this.zoom > 1 ? this.cursor : null;
  }
  // A wait-queue entry's function, named when the entry was made (encode.rs); an
  // ep_poll_callback whose epitem is freed at record c says so.
  wakeFunctionHtml(f, c) {
    const entry = this.D.wake_functions[f]; if (!entry) return "?";
    const [text, item] = entry, b = item ? this.blockByName.get(item) : null;
    return esc(text) + (b && this.isFreed(b, c) ? ' <span class="bad">(epitem freed)</span>' : "");
  }
  click(e) {
    const rect = this.canvas.getBoundingClientRect(); const x = (e.clientX - rect.left) * this.canvas.width / rect.width;
    const cpu = Math.min(this.D.cpus - 1, Math.max(0, Math.floor((e.clientY - rect.top - 4) / 18)));
    const t = this.t0 + (x - 56) / (this.canvas.width - 60) * this.span; const list = this.perCpu[cpu]; if (!list.length) return;
    let best = list[0], d = Infinity; for (const i of list) { const dd = Math.abs(this.D.records.time[i] - t); if (dd < d) { d = dd; best = i; } }
    this.view.moveTo(this, best);
  }
  currentCall(t, c) {
    const calls = this.taskCalls.get(t); if (!calls) return null; let lo = 0, hi = calls.length - 1, f = -1;
    while (lo <= hi) { const m = (lo + hi) >> 1; if (calls[m] <= c) { f = m; lo = m + 1; } else hi = m - 1; }
    if (f < 0) return null; const i = calls[f]; const R = this.D.records;
    return R.kind[i] === KIND.sys ? R.lines[R.line[i]].replace(/^sys_/, "").replace(/\(\)$/, "") : null;
  }
  kernelFunction(c) {
    const R = this.D.records, cpu = R.cpu[c];
    for (let i = c, seen = 0; i >= 0 && seen < 400; i--, seen++) {
      if (R.cpu[i] !== cpu) continue; if (R.kind[i] === KIND.sys || R.kind[i] === KIND.ret) return R.kind[i] === KIND.sys ? R.lines[R.line[i]] : "(user space)";
      if (R.kind[i] === KIND.note && !R.lines[R.line[i]].startsWith(" ")) { const m = /^([A-Za-z_][A-Za-z0-9_]*)/.exec(R.lines[R.line[i]]); if (m) return m[1]; }
    }
    return "";
  }
  show(c) {
    if (!this.n) return;
    c = Math.max(0, Math.min(this.n - 1, c)); this.cursor = c;
    const D = this.D, R = D.records, s = this.stateAfter(c);
    this.slider.value = c; this.root.querySelector(".pos").textContent = `record ${c + 1}/${this.n}`;
    if (this.zoom > 1 && this.drawnZoomAt !== c) this.drawLanes(); else this.xOf(0);
    this.line.style.left = (this.xOf(R.time[c]) / this.canvas.width * this.canvas.clientWidth) + "px";
    const cpu = R.cpu[c];
    const loc = s.loc[cpu] >= 0 ? D.locations[s.loc[cpu]] : "";
    this.root.querySelector(".now").innerHTML = `<div>step <b class="step">${R.step[c]}</b> · ${(R.time[c] / 1000).toFixed(3)}us · cpu${cpu} · ${esc(this.taskName(R.task[c]))}${R.irq[c] ? " [irq]" : ""}</div>
      <div class="line">${esc(R.lines[R.line[c]])}</div><div class="where">in <span class="fn">${esc(this.kernelFunction(c))}</span>${loc ? " · port source " + esc(loc) : ""}</div>`;
    this.root.querySelectorAll(".reports div").forEach(el => { const r = D.reports[+el.dataset.report]; el.classList.toggle("here", r.record === c); });
    // Lists, then items.
    const onList = new Map(); let lists = "";
    for (const list of D.lists) for (const b of this.blocks) {
      if (b.kind !== list.kind || b.alloc > c) continue;
      if (this.isFreed(b, c) && list.kind === "stack") continue;
      lists += this.listHtml(s, c, list, b, onList);
    }
    let items = "", count = 0;
    if (D.item) for (const b of this.blocks) {
      if (b.kind !== D.item.kind || b.alloc > c) continue;
      if (++count > TABLE_ROWS_MAX) continue;
      const mw = this.fieldWord(b, D.item.mask);
      const links = D.item.links.map(l => { const w = this.fieldWord(b, l + ".next"); return w < 0 ? "" : `${esc(l)}: ${this.linkState(s, w)}${onList.has(w) ? " on " + esc(onList.get(w)) : ""}`; }).join("<br>");
      items += `<tr data-item="${esc(b.kind + b.id)}"><td>${esc(b.kind + b.id)}${this.isFreed(b, c) ? ' <span class="bad">freed</span>' : ""}</td><td>${mw >= 0 ? esc(this.maskText(s.vals[mw])).replace(/\|/g, "|<wbr>") : ""}</td><td>${links}</td></tr>`;
    }
    if (count > TABLE_ROWS_MAX) items += `<tr><td colspan=3 class="muted">… ${count - TABLE_ROWS_MAX} more</td></tr>`;
    const ctx = k => esc(D.contexts[k] || "ctx" + k);
    let locks = ""; for (const [id, [h, w]] of [...s.locks].sort((a, b) => a[0] - b[0])) {
      const [name, kind] = D.locks[id] || ["lock" + id, ""];
      locks += `<tr data-lock="${esc(name)}"><td>${esc(name)} <span class="muted">${esc(kind)}</span></td><td>${h.length ? "held by " + h.map(ctx).join(", ") : "free"}</td><td>${w.length ? "waiters: " + w.map(ctx).join(", ") : ""}</td></tr>`;
    }
    let wqs = ""; for (const [id, e] of [...s.wqs].sort((a, b) => a[0] - b[0])) {
      wqs += `<tr><td>${esc(D.waitqueues[id] || "wq" + id)}</td><td>${e.map(([f, x]) => this.wakeFunctionHtml(f, c) + (x ? " <i>exclusive</i>" : "")).join("<br>")}</td></tr>`;
    }
    let bufs = ""; s.bufs.forEach((b, k) => { bufs += `<tr data-cpu="${k}"><td>cpu${k}</td><td>${b.length ? b.map(([w, v]) => esc(this.wordName(w)) + " = " + this.valueHtml(v)).join("<br>") : '<span class="muted">empty</span>'}</td></tr>`; });
    let tasks = ""; for (const [t, [st, tc]] of [...s.tasks].sort((a, b) => a[0] - b[0])) {
      const call = st === 3 ? null : this.currentCall(t, c);
      tasks += `<tr data-task="${esc(this.taskName(t))}"><td>${esc(this.taskName(t))}</td><td>${STATUS[st]}${st === 0 || st === 1 ? " on cpu" + tc : ""}</td><td>${call ? "in " + esc(call) + "()" : '<span class="muted">user space</span>'}</td></tr>`;
    }
    let cpus = ""; s.cpus.forEach((x, k) => { cpus += `<tr><td>cpu${k}</td><td>${x.task >= 0 ? esc(this.taskName(x.task)) : "idle"}${x.irq >= 0 ? " + " + ctx(x.irq) : ""}</td><td>${x.irqs ? "irqs on" : "irqs off"}</td></tr>`; });
    this.root.querySelector(".grid").innerHTML =
      `<section class="lists" style="grid-column:1/-1"><h3>lists (from the link words)</h3>${lists || '<span class="muted">no eventpoll yet</span>'}</section>
       <section class="items"><h3>epitems</h3><table>${items || '<tr><td class="muted">none</td></tr>'}</table></section>
       <section class="locks"><h3>locks held or waited for</h3><table>${locks || '<tr><td class="muted">all free</td></tr>'}</table></section>
       <section class="waitqueues"><h3>wait queues</h3><table>${wqs || '<tr><td class="muted">all empty</td></tr>'}</table></section>
       <section class="buffers"><h3>store buffers</h3><table>${bufs}</table></section>
       <section class="tasks"><h3>tasks</h3><table>${tasks}</table></section>
       <section class="cpus"><h3>cpus</h3><table>${cpus}</table></section>`;
    const dv = this.root.querySelector(".diverge");
    if (this.divergence != null) { dv.hidden = false; dv.innerHTML = `first divergence at step ${R.step[this.divergence]} (record ${this.divergence + 1}): ${esc(R.lines[R.line[this.divergence]])}` + (c === this.divergence ? " ← here" : ""); }
  }
  // ---- navigation ----
  // The first entry of the sorted list after c (dir 1) or the last before it (dir -1); c
  // when there is none.
  nextOf(list, c, dir) {
    let lo = 0, hi = list.length; // the first index whose entry is > c
    while (lo < hi) { const m = (lo + hi) >> 1; if (list[m] > c) hi = m; else lo = m + 1; }
    if (dir > 0) return lo < list.length ? list[lo] : c;
    let k = lo - 1; while (k >= 0 && list[k] >= c) k--; return k >= 0 ? list[k] : c;
  }
}

class View {
  constructor(data) {
    this.panes = data.map((D, i) => new Pane(document.getElementById("pane" + i), D, i, this));
    this.active = this.panes[0];
    this.linked = this.panes.length > 1;
    if (this.linked) this.panes.forEach(p => p.indexCalls());
    if (this.linked && window.EPSIM_DIVERGENCE) this.panes.forEach((p, i) => p.divergence = window.EPSIM_DIVERGENCE[i]);
    this.panes.forEach(p => p.show(0));
    this.activate(this.active);
    // #step=N (the first record of step N) or #record=N opens the page there.
    if (window.EPSIM_START_TEXT) { const R = this.active.D.records, k = R.lines.indexOf(window.EPSIM_START_TEXT), i = k < 0 ? -1 : R.line.indexOf(k); if (i >= 0) this.moveTo(this.active, i); }
    const m = /^#(step|record)=(\d+)$/.exec(location.hash || "");
    if (m) { const p = this.active, v = +m[2]; const i = m[1] === "record" ? v : p.D.records.step.findIndex(x => x >= v); this.moveTo(p, i < 0 ? p.n - 1 : i); }
    document.addEventListener("keydown", e => this.key(e));
    window.addEventListener("resize", () => this.panes.forEach(p => { p.drawLanes(); p.show(p.cursor); }));
  }
  activate(p) { this.active = p; this.panes.forEach(q => q.root.classList.toggle("active", q === p)); }
  moveTo(p, c) {
    p.show(c);
    if (this.linked) for (const q of this.panes) if (q !== p) q.show(this.align(p, q, p.cursor));
  }
  // The record of q in the same system call (task and ordinal), as far into it as p is.
  align(p, q, c) {
    const key = p.callKey[c]; if (!key) return Math.min(c, q.n - 1);
    let start = p.callKey.indexOf(key), qs = q.callKey.indexOf(key);
    if (qs < 0) return Math.min(c, q.n - 1);
    let off = c - start, k = qs; while (off > 0 && k + 1 < q.n && q.callKey[k + 1] === key) { k++; off--; }
    return k;
  }
  key(e) {
    if (e.target && e.target.tagName === "INPUT" && e.target.type !== "range") return;
    const p = this.active, c = p.cursor, R = p.D.records; let to = null;
    switch (e.key) {
      case "ArrowRight": to = c + 1; break;
      case "ArrowLeft": to = c - 1; break;
      case "PageDown": to = c + 100; break;
      case "PageUp": to = c - 100; break;
      case "Home": to = 0; break;
      case "End": to = p.n - 1; break;
      case "n": case "N": { const cpu = p.selectedCpu != null ? p.selectedCpu : R.cpu[c]; to = p.nextOf(p.perCpu[cpu], c, e.key === "n" ? 1 : -1); break; }
      case "c": p.selectedCpu = ((p.selectedCpu != null ? p.selectedCpu : R.cpu[c]) + 1) % p.D.cpus; this.status(`"next step of this CPU" follows cpu${p.selectedCpu}`); return;
      case "s": case "S": to = p.nextOf(p.syscalls, c, e.key === "s" ? 1 : -1); break;
      case "r": case "R": to = p.nextOf(p.reportRecords, c, e.key === "r" ? 1 : -1); break;
      case "d": if (p.divergence != null) to = p.divergence; break;
      case "+": case "=": p.zoom = Math.min(1e6, p.zoom * 4); p.drawLanes(); to = c; break;
      case "-": p.zoom = Math.max(1, p.zoom / 4); p.drawLanes(); to = c; break;
      case "Tab": if (this.panes.length > 1 && !e.shiftKey) { const i = (this.panes.indexOf(p) + 1) % this.panes.length; this.activate(this.panes[i]); e.preventDefault(); } return;
      case "l": this.linked = this.panes.length > 1 && !this.linked; this.status(this.linked ? "cursors linked" : "cursors unlinked"); return;
      case "g": { const g = p.root.querySelector(".goto"); g.focus(); e.preventDefault(); return; }
      case "?": document.querySelector(".help").classList.toggle("shown"); return;
      default: return;
    }
    e.preventDefault();
    this.moveTo(p, Math.max(0, Math.min(p.n - 1, to)));
  }
  status(text) { const el = document.getElementById("status"); if (el) el.textContent = text; }
}

// One pane's packed data (encode.rs) as the object the panes read: the header's fields,
// and the columns as typed arrays over the inflated bytes.
async function unpack(base64) {
  let bytes;
  if (Uint8Array.fromBase64) bytes = Uint8Array.fromBase64(base64);
  else { const text = atob(base64); bytes = new Uint8Array(text.length); for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i); }
  const inflated = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("deflate"));
  const buffer = await new Response(inflated).arrayBuffer();
  const headerLength = new DataView(buffer).getUint32(0, true);
  const D = JSON.parse(new TextDecoder().decode(new Uint8Array(buffer, 4, headerLength)));
  const columns = {}; let offset = 4 + headerLength;
  for (const [name, kind, length] of D.columns) {
    offset = Math.ceil(offset / 8) * 8;
    columns[name] = kind === "f64" ? new Float64Array(buffer, offset, length) : new Int32Array(buffer, offset, length);
    offset += length * (kind === "f64" ? 8 : 4);
  }
  D.records = { step: columns.step, time: columns.time, cpu: columns.cpu, task: columns.task, irq: columns.irq, kind: columns.kind, line: columns.line, lines: D.lines };
  D.changes = columns.changes; D.change_end = columns.change_end; D.blocks = columns.blocks;
  return D;
}

// Opening: performance marks epsim-start, epsim-unpacked (base64, inflate, header),
// epsim-built (indexes, first checkpoint, first paint of every pane) for the benchmark's
// breakdown; window.epsimReady is the time from start to built, in milliseconds.
async function openView() {
  const t0 = performance.now(); performance.mark("epsim-start");
  try {
    const text = document.getElementById("epsim-data").textContent.trim();
    const data = await Promise.all(text.split(/\s+/).map(unpack));
    performance.mark("epsim-unpacked");
    window.epsim = new View(data);
    performance.mark("epsim-built");
    window.epsimReady = performance.now() - t0;
    document.body.dataset.ready = "1";
    window.epsim.panes.forEach(p => p.buildInBackground());
  } catch (error) {
    document.getElementById("panes").insertAdjacentHTML("afterbegin", `<p class="bad">This page could not unpack its data (${esc(error)}): it needs a browser with DecompressionStream (Chromium 80, Firefox 113, Safari 16.4 or later).</p>`);
    throw error;
  }
}
window.addEventListener("DOMContentLoaded", openView);
