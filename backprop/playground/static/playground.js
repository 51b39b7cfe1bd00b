// backprop playground: the page. Plain JavaScript, no build step, nothing loaded from outside.
// Every number of the network (z, a, δ, ∂J/∂W, the updates) comes from the server, which
// computes it with the library (bp.trace); this file only draws and formats.
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const NEG = [245, 147, 34], POS = [8, 119, 189], WHITE = [255, 255, 255];
  const CLASS_COLORS = [NEG, POS, [46, 160, 67], [214, 39, 40], [148, 103, 189], [140, 86, 75],
    [227, 119, 194], [127, 127, 127], [188, 189, 34], [23, 190, 207]];
  const SVG = "http://www.w3.org/2000/svg";

  const app = {
    options: null, settings: null, session: null, state: null, trace: null, traceStale: false,
    playing: false, busy: false, selected: null, csvText: null, csvInfo: null, epochsPerRequest: 1,
    generation: 0, geometry: null,
  };
  window.playground = app; // for the browser test and for the curious, from the console

  // ------------------------------------------------------------------ helpers
  async function api(method, path, body) {
    const init = { method, headers: {} };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const response = await fetch(path, init);
    const text = await response.text();
    let data;
    try { data = JSON.parse(text); } catch (e) { data = { error: text || response.statusText }; }
    if (!response.ok) throw new Error(data.error || response.statusText);
    return data;
  }

  function say(text, kind = "info") {
    const box = $("message");
    box.textContent = text || "";
    box.className = text ? kind : "";
  }

  function fmt(v) {
    if (v === null || v === undefined) return "–";
    if (!Number.isFinite(v)) return String(v);
    if (v === 0) return "0";
    const a = Math.abs(v);
    if (a >= 1e4 || a < 1e-3) return v.toExponential(3);
    return String(Number(v.toPrecision(4)));
  }

  const mix = (c1, c2, t) => [0, 1, 2].map((i) => Math.round(c1[i] + (c2[i] - c1[i]) * t));
  const css = (c) => `rgb(${c[0]},${c[1]},${c[2]})`;

  function diverging(t) { // t in [-1, 1]: orange, white, blue
    return t < 0 ? mix(WHITE, NEG, Math.min(1, -t)) : mix(WHITE, POS, Math.min(1, t));
  }

  function decode(b64) {
    const raw = atob(b64), bytes = new Uint8Array(raw.length);
    for (let i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
    return bytes;
  }

  function el(tag, attrs = {}, text) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function sub(name, m, j) { return `${name}<sup>${m}</sup>${j === undefined ? "" : `<sub>${j}</sub>`}`; }

  // ------------------------------------------------------------------ settings and the URL
  function settingsFromHash() {
    const hash = location.hash.slice(1);
    if (!hash) return {};
    try { return JSON.parse(decodeURIComponent(hash)); } catch (e) {
      say("The link's settings could not be read; showing the defaults.", "error");
      return {};
    }
  }

  function shareUrl() {
    return `${location.origin}${location.pathname}#${encodeURIComponent(JSON.stringify(app.settings))}`;
  }

  function writeControls() {
    const s = app.settings;
    for (const input of document.querySelectorAll("[data-setting]")) {
      const key = input.dataset.setting;
      if (input.type === "checkbox") input.checked = !!s[key];
      else input.value = s[key];
    }
    $("noise-value").textContent = s.noise;
    $("train-ratio-value").textContent = `${Math.round(s.train_ratio * 100)}%`;
    $("init_value").hidden = s.init !== "equal";
    $("reg_lambda").hidden = s.regularization === "none";
    $("batch_size").hidden = s.batch !== "minibatch";
    for (const button of document.querySelectorAll(".datasets button")) {
      button.classList.toggle("selected", button.dataset.name === s.dataset);
    }
  }

  function readControl(input) {
    const key = input.dataset.setting;
    let value;
    if (input.type === "checkbox") value = input.checked;
    else if (input.type === "number" || input.type === "range") value = Number(input.value);
    else value = input.value;
    if (input.type === "number" && input.value === "") return; // half typed: wait
    app.settings[key] = value;
    rebuild();
  }

  function fillSelect(select, values, labels) {
    select.innerHTML = "";
    values.forEach((v, i) => select.appendChild(el("option", { value: v }, labels ? labels[i] : v)));
  }

  // ------------------------------------------------------------------ sessions
  let rebuildTimer = null;
  function rebuild(delay = 250) {
    clearTimeout(rebuildTimer);
    rebuildTimer = setTimeout(createSession, delay);
  }

  async function createSession() {
    pause();
    const generation = ++app.generation;
    writeControls();
    const body = { settings: app.settings };
    if (app.settings.dataset === "csv") body.csv = app.csvText;
    try {
      const session = await api("POST", "/api/sessions", body);
      if (generation !== app.generation) return;
      app.session = session;
      app.settings = session.settings;
      app.state = session.state;
      app.trace = null;
      app.selected = null;
      app.epochsPerRequest = 1;
      history.replaceState(null, "", `#${encodeURIComponent(JSON.stringify(app.settings))}`);
      writeControls();
      fillSelect($("loss"), app.options.losses[session.data.task]);
      $("loss").value = session.loss;
      $("example-index").max = session.data.train.x.length - 1;
      $("accuracy-line").hidden = session.data.task !== "classification";
      for (const id of ["trace-button", "random-example"]) $(id).disabled = !session.traceable;
      $("apply-button").disabled = true;
      say(`${session.data.source}: ${session.data.train.x.length} training and ${session.data.test.x.length} test rows, `
        + `${session.data.task}; ${session.parameters} parameters.`);
      buildNetwork();
      renderAll();
      renderTrace();
    } catch (error) {
      if (generation === app.generation) say(error.message, "error");
    }
  }

  // ------------------------------------------------------------------ training
  function setPlaying(playing) {
    app.playing = playing;
    $("play").textContent = playing ? "❚❚" : "▶";
  }
  function pause() { setPlaying(false); }

  async function trainOnce(epochs) {
    const session = app.session, generation = app.generation;
    const started = performance.now();
    const state = await api("POST", `/api/sessions/${session.id}/train`, { epochs });
    if (generation !== app.generation) return null;
    app.state = state;
    if (app.trace) app.traceStale = true;
    renderAll();
    if (app.trace) renderTrace();
    if (state.diverged) {
      pause();
      say(state.diverged, "error");
    }
    return performance.now() - started;
  }

  async function playLoop() {
    if (app.busy) return;
    app.busy = true;
    try {
      while (app.playing) {
        if (!app.session) { // pressed while the network is being built: wait for it
          await new Promise((resolve) => setTimeout(resolve, 100));
          continue;
        }
        const ms = await trainOnce(app.epochsPerRequest);
        if (ms === null) break;
        // Aim at about 150 ms per request: smooth drawing, few requests.
        const factor = Math.max(0.5, Math.min(2, 150 / Math.max(ms, 1)));
        app.epochsPerRequest = Math.max(1, Math.min(100, Math.round(app.epochsPerRequest * factor)));
        await new Promise((resolve) => requestAnimationFrame(resolve));
      }
    } catch (error) {
      pause();
      say(error.message, "error");
    } finally {
      app.busy = false;
    }
  }

  // ------------------------------------------------------------------ the datasets' buttons
  function thumbnail(name, canvas) {
    const ctx = canvas.getContext("2d"), n = 120, size = canvas.width;
    let seed = 7;
    const rand = () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
    ctx.fillStyle = "#fff";
    ctx.fillRect(0, 0, size, size);
    for (let i = 0; i < n; i++) {
      const label = i % 2;
      let x, y;
      const t = rand() * Math.PI * 2, r = rand();
      if (name === "circle") { const rr = label ? 0.45 * r : 0.65 + 0.3 * r; x = rr * Math.cos(t); y = rr * Math.sin(t); }
      else if (name === "xor") { x = rand() * 2 - 1; y = rand() * 2 - 1; if ((x * y > 0) !== !!label) y = -y; }
      else if (name === "gaussians") { const c = label ? 0.45 : -0.45; x = c + (rand() - 0.5) * 0.6; y = c + (rand() - 0.5) * 0.6; }
      else if (name === "spiral") { const s = i / n, a = 1.75 * 2 * Math.PI * s + (label ? Math.PI : 0); x = 0.9 * s * Math.sin(a); y = 0.9 * s * Math.cos(a); }
      else if (name === "moons") { const a = rand() * Math.PI; x = label ? 0.5 - 0.8 * Math.cos(a) + 0.1 : 0.8 * Math.cos(a) - 0.3; y = label ? 0.25 - 0.8 * Math.sin(a) + 0.2 : 0.8 * Math.sin(a) - 0.3; }
      else { x = rand() * 2 - 1; y = rand() * 2 - 1; }
      ctx.fillStyle = css(label ? POS : NEG);
      ctx.beginPath();
      ctx.arc((x + 1) / 2 * size, (1 - y) / 2 * size, 2, 0, 2 * Math.PI);
      ctx.fill();
    }
  }

  function buildDatasetButtons() {
    const box = $("datasets");
    box.innerHTML = "";
    for (const dataset of app.options.datasets) {
      const button = el("button", { "data-name": dataset.name, title: dataset.description });
      const canvas = el("canvas", { width: 56, height: 56 });
      thumbnail(dataset.name, canvas);
      button.appendChild(canvas);
      button.appendChild(el("span", {}, dataset.name));
      button.addEventListener("click", () => {
        if (app.settings.dataset === "csv") app.settings.loss = "";
        app.settings.dataset = dataset.name;
        rebuild(0);
      });
      box.appendChild(button);
    }
  }

  // ------------------------------------------------------------------ the network diagram
  function buildNetwork() {
    const session = app.session, sizes = session.sizes;
    const container = $("network"), svg = $("edges");
    for (const node of [...container.querySelectorAll(".neuron, .neuron-label")]) node.remove();
    svg.innerHTML = "";
    const width = container.clientWidth || 600;
    const maxN = Math.max(...sizes);
    const box = maxN > 16 ? 14 : maxN > 8 ? 26 : 38;
    const gap = maxN > 16 ? 4 : 10;
    const height = maxN * (box + gap) + 10;
    container.style.height = `${height + 24}px`; // and a line for the columns' labels
    svg.setAttribute("width", width);
    svg.setAttribute("height", height);
    const columns = sizes.length, margin = 36;
    const xs = sizes.map((_, i) => margin + i * (width - 2 * margin - box - 60) / Math.max(columns - 1, 1));
    const positions = sizes.map((n, i) => {
      const top = (height - n * (box + gap)) / 2;
      return Array.from({ length: n }, (_, j) => ({ x: xs[i], y: top + j * (box + gap) }));
    });
    app.geometry = { box, positions, neurons: [], edges: [] };

    // Edges first, under the neurons: one line per weight W^m_jk (neuron k of layer m−1 → neuron j of m).
    const withHits = sizes.slice(1).reduce((sum, n, i) => sum + n * sizes[i], 0) <= 3000;
    for (let m = 1; m < columns; m++) {
      app.geometry.edges[m] = [];
      for (let j = 0; j < sizes[m]; j++) {
        app.geometry.edges[m][j] = [];
        for (let k = 0; k < sizes[m - 1]; k++) {
          const from = positions[m - 1][k], to = positions[m][j];
          const coords = { x1: from.x + box + 2, y1: from.y + box / 2, x2: to.x, y2: to.y + box / 2 };
          const line = document.createElementNS(SVG, "line");
          for (const [key, value] of Object.entries(coords)) line.setAttribute(key, value);
          line.dataset.layer = m; line.dataset.row = j; line.dataset.col = k;
          line.classList.add("weight");
          svg.appendChild(line);
          if (withHits) {
            const hit = document.createElementNS(SVG, "line");
            for (const [key, value] of Object.entries(coords)) hit.setAttribute(key, value);
            hit.classList.add("hit");
            hit.dataset.layer = m; hit.dataset.row = j; hit.dataset.col = k;
            hit.addEventListener("click", () => select({ kind: "weight", layer: m, row: j, col: k }));
            svg.appendChild(hit);
          } else {
            line.addEventListener("click", () => select({ kind: "weight", layer: m, row: j, col: k }));
          }
          app.geometry.edges[m][j][k] = line;
        }
      }
    }
    // Neurons: each a small canvas with its own output over the plane.
    const grid = session.grid[1];
    sizes.forEach((n, m) => {
      app.geometry.neurons[m] = [];
      for (let j = 0; j < n; j++) {
        const p = positions[m][j];
        const node = el("div", { class: "neuron", "data-layer": m, "data-neuron": j,
          title: m === 0 ? session.data.features[j] : `layer ${m}, neuron ${j + 1}` });
        Object.assign(node.style, { left: `${p.x}px`, top: `${p.y}px`, width: `${box}px`, height: `${box}px` });
        const canvas = el("canvas", { width: grid, height: grid });
        node.appendChild(canvas);
        node.appendChild(el("div", { class: "value" }));
        node.addEventListener("click", () => select({ kind: "neuron", layer: m, neuron: j }));
        container.appendChild(node);
        app.geometry.neurons[m][j] = node;
        if (m === 0) drawInput(canvas, j);
      }
    });
    const label = (text, x) => {
      const node = el("div", { class: "neuron-label" }, text);
      Object.assign(node.style, { left: `${x - 10}px`, top: `${height + 4}px` });
      container.appendChild(node);
    };
    label("input a⁰", xs[0]);
    label(`output: ${session.activations[session.activations.length - 1]}`, xs[columns - 1]);
    buildLayerControls(xs, box);
    $("param-count").textContent = `(${session.parameters} parameters)`;
  }

  function drawInput(canvas, feature) {
    const ctx = canvas.getContext("2d"), n = canvas.width, image = ctx.createImageData(n, n);
    for (let r = 0; r < n; r++) {
      for (let c = 0; c < n; c++) {
        const t = feature === 0 ? (2 * c / (n - 1) - 1) : (1 - 2 * r / (n - 1));
        const color = diverging(t), i = 4 * (r * n + c);
        image.data.set([...color, 255], i);
      }
    }
    ctx.putImageData(image, 0, 0);
  }

  function buildLayerControls(xs, box) {
    const box_ = $("layer-controls");
    box_.innerHTML = "";
    const layers = app.settings.layers;
    layers.forEach((layer, i) => {
      const control = el("div", { class: "layer-control" });
      control.style.left = `${xs[i + 1] + box / 2}px`;
      control.appendChild(el("div", { class: "title" }, `layer ${i + 1}: ${layer.neurons}`));
      const minus = el("button", { title: "one neuron fewer" }, "−"), plus = el("button", { title: "one neuron more" }, "+");
      minus.addEventListener("click", () => { if (layer.neurons > 1) { layer.neurons -= 1; rebuild(0); } });
      plus.addEventListener("click", () => { if (layer.neurons < 64) { layer.neurons += 1; rebuild(0); } });
      control.append(minus, " ", plus);
      const activation = el("select", { "data-layer": i, class: "activation" });
      fillSelect(activation, app.options.activations);
      activation.value = layer.activation;
      activation.addEventListener("change", () => { layer.activation = activation.value; rebuild(0); });
      control.appendChild(el("br"));
      control.appendChild(activation);
      if (layer.activation === "step") {
        const k = el("input", { type: "number", step: "any", value: layer.k, title: "the threshold k: a = 1 for z ≥ k" });
        k.addEventListener("change", () => { layer.k = Number(k.value); rebuild(0); });
        control.append(el("br"), "k ", k);
      }
      box_.appendChild(control);
    });
    if (app.session.data.task === "regression") {
      const control = el("div", { class: "layer-control" });
      control.style.left = `${xs[xs.length - 1] + box / 2}px`;
      control.appendChild(el("div", { class: "title" }, "output"));
      const activation = el("select", { class: "activation" });
      fillSelect(activation, app.options.activations);
      activation.value = app.settings.output_activation;
      activation.addEventListener("change", () => { app.settings.output_activation = activation.value; rebuild(0); });
      control.appendChild(activation);
      box_.appendChild(control);
    }
    $("layer-count").textContent = `${layers.length} hidden layer${layers.length === 1 ? "" : "s"}`;
  }

  function renderNetwork() {
    const state = app.state, geometry = app.geometry;
    if (!state || !geometry) return;
    state.neurons.forEach((layer, index) => {
      const m = index + 1;
      layer.forEach((neuron, j) => {
        const node = geometry.neurons[m] && geometry.neurons[m][j];
        if (!node) return;
        const canvas = node.querySelector("canvas"), ctx = canvas.getContext("2d"), n = canvas.width;
        const bytes = decode(neuron.plane), image = ctx.createImageData(n, n);
        for (let i = 0; i < n * n; i++) image.data.set([...diverging(bytes[i] / 127.5 - 1), 255], 4 * i);
        ctx.putImageData(image, 0, 0);
        node.title = `layer ${m}, neuron ${j + 1}: a from ${fmt(-neuron.scale)} to ${fmt(neuron.scale)} over the plane`;
      });
    });
    let largest = 0;
    for (const layer of state.weights) for (const row of layer.W) for (const w of row) largest = Math.max(largest, Math.abs(w) || 0);
    largest = largest || 1;
    state.weights.forEach((layer, index) => {
      const m = index + 1;
      layer.W.forEach((row, j) => row.forEach((w, k) => {
        const line = geometry.edges[m] && geometry.edges[m][j] && geometry.edges[m][j][k];
        if (!line) return;
        const t = Number.isFinite(w) ? Math.abs(w) / largest : 0;
        line.setAttribute("stroke", css(w >= 0 ? POS : NEG));
        line.setAttribute("stroke-width", (0.4 + 5 * t).toFixed(2));
        line.setAttribute("stroke-opacity", (0.25 + 0.75 * t).toFixed(2));
        line.dataset.value = w;
      }));
    });
    renderNeuronValues();
    markSelection();
  }

  function renderNeuronValues() {
    const geometry = app.geometry, trace = app.trace;
    if (!geometry) return;
    geometry.neurons.forEach((layer, m) => layer.forEach((node, j) => {
      const box = node.querySelector(".value");
      if (!trace || geometry.box < 38) { box.innerHTML = ""; return; } // no room beside small boxes
      if (m === 0) { box.innerHTML = `a ${fmt(trace.x[j])}`; return; }
      const record = trace.layers[m - 1];
      box.innerHTML = `a ${fmt(record.a[j])}<br><span class="d">δ ${fmt(record.delta[j])}</span>`;
    }));
  }

  // ------------------------------------------------------------------ the output heatmap and curves
  function toPixel(point, extent, size) {
    return [(point[0] - extent[0]) / (extent[1] - extent[0]) * size,
      (extent[3] - point[1]) / (extent[3] - extent[2]) * size];
  }

  function pointColor(value) {
    const data = app.session.data;
    if (data.task === "classification") return CLASS_COLORS[data.classes.indexOf(value) % CLASS_COLORS.length];
    const [low, high] = data.target_range;
    return diverging(2 * (value - low) / ((high - low) || 1) - 1);
  }

  function renderHeatmap() {
    const canvas = $("heatmap"), ctx = canvas.getContext("2d"), session = app.session, output = app.state.output;
    const n = session.grid[0], planes = output.planes.map(decode);
    const off = document.createElement("canvas");
    off.width = off.height = n;
    const octx = off.getContext("2d"), image = octx.createImageData(n, n);
    for (let i = 0; i < n * n; i++) {
      let color;
      if (output.kind === "classes") {
        const K = planes.length;
        let best = 0, mixed = [0, 0, 0];
        for (let k = 0; k < K; k++) {
          const p = planes[k][i] / 255;
          best = Math.max(best, p);
          const c = CLASS_COLORS[k % CLASS_COLORS.length];
          mixed = mixed.map((v, d) => v + p * c[d]);
        }
        const confidence = K > 1 ? (best - 1 / K) / (1 - 1 / K) : best;
        color = mix(WHITE, mixed, 0.85 * Math.max(0, confidence));
      } else {
        color = diverging(0.85 * (planes[0][i] / 127.5 - 1));
      }
      image.data.set([...color, 255], 4 * i);
    }
    octx.putImageData(image, 0, 0);
    ctx.imageSmoothingEnabled = true;
    ctx.drawImage(off, 0, 0, canvas.width, canvas.height);
    const data = session.data, extent = data.extent, size = canvas.width;
    const draw = (points, labels, test) => points.forEach((point, i) => {
      const [x, y] = toPixel(point, extent, size);
      ctx.beginPath();
      ctx.arc(x, y, 3.2, 0, 2 * Math.PI);
      ctx.fillStyle = css(pointColor(labels[i]));
      ctx.fill();
      ctx.lineWidth = test ? 1.6 : 1;
      ctx.strokeStyle = test ? "#000" : "#fff";
      ctx.stroke();
    });
    draw(data.train.x, data.train.y, false);
    if ($("show-test").checked) draw(data.test.x, data.test.y, true);
    if (app.trace) {
      const [x, y] = toPixel(app.trace.x_raw, extent, size);
      ctx.beginPath();
      ctx.arc(x, y, 7, 0, 2 * Math.PI);
      ctx.lineWidth = 2.5;
      ctx.strokeStyle = "#111";
      ctx.stroke();
    }
  }

  function renderCurves() {
    const canvas = $("curves"), ctx = canvas.getContext("2d"), history = app.state.history;
    const train = history.loss || [], test = history.val_loss || [];
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    const values = train.concat(test).filter((v) => v !== null && Number.isFinite(v));
    const pad = 18, w = canvas.width - 2 * pad, h = canvas.height - 2 * pad;
    ctx.font = "10px sans-serif";
    ctx.fillStyle = "#777";
    if (!values.length) { ctx.fillText("loss curves appear here as training runs", pad, canvas.height / 2); return; }
    const high = Math.max(...values), n = Math.max(train.length, 2);
    const line = (series, color) => {
      ctx.beginPath();
      series.forEach((v, i) => {
        if (v === null) return;
        const x = pad + i / (n - 1) * w, y = pad + h - v / (high || 1) * h;
        if (i === 0) ctx.moveTo(x, y); else ctx.lineTo(x, y);
      });
      ctx.strokeStyle = color;
      ctx.lineWidth = 1.6;
      ctx.stroke();
    };
    ctx.strokeStyle = "#ddd";
    ctx.strokeRect(pad, pad, w, h);
    line(train, "#333");
    line(test, css(POS));
    ctx.fillStyle = "#777";
    ctx.fillText(fmt(high), 2, pad - 4);
    ctx.fillText("0", 2, pad + h);
    ctx.fillText(`epoch ${train.length}`, pad + w - 50, canvas.height - 4);
    ctx.fillStyle = "#333"; ctx.fillText("— train", pad + w - 100, pad + 12);
    ctx.fillStyle = css(POS); ctx.fillText("— test", pad + w - 50, pad + 12);
  }

  function renderWarnings() {
    const list = $("warnings"), warnings = app.state.warnings;
    list.innerHTML = "";
    if (!warnings.length) { list.appendChild(el("li", { class: "none" }, "No warnings.")); return; }
    for (const warning of warnings) {
      const item = el("li");
      item.appendChild(el("span", { class: "when" }, `epoch ${warning.epoch}: `));
      item.appendChild(document.createTextNode(warning.message.replace(/^GradientMonitor: /, "")));
      list.appendChild(item);
    }
  }

  function renderAll() {
    if (!app.state) return;
    const history = app.state.history, last = (key) => (history[key] || []).slice(-1)[0];
    $("epoch").textContent = String(app.state.epoch).padStart(3, "0");
    $("train-loss").textContent = fmt(last("loss"));
    $("test-loss").textContent = fmt(last("val_loss"));
    $("test-accuracy").textContent = last("val_accuracy") === undefined ? "–" : `${(100 * last("val_accuracy")).toFixed(1)}%`;
    renderNetwork();
    renderHeatmap();
    renderCurves();
    renderWarnings();
  }

  // ------------------------------------------------------------------ one example: bp.trace
  async function traceExample() {
    if (!app.session) return;
    if (!app.session.traceable) {
      say("bp.trace follows Dense and activation layers only: turn batch norm off to step through an example.", "error");
      return;
    }
    pause();
    const split = $("example-split").value, index = Number($("example-index").value);
    try {
      app.trace = await api("POST", `/api/sessions/${app.session.id}/trace`, { split, index });
      app.traceStale = false;
      $("apply-button").disabled = false;
      if (!app.selected) app.selected = { kind: "neuron", layer: 1, neuron: 0 };
      renderTrace();
      renderHeatmap();
    } catch (error) { say(error.message, "error"); }
  }

  async function applyUpdate() {
    if (!app.trace) return;
    pause();
    try {
      const result = await api("POST", `/api/sessions/${app.session.id}/apply`,
        { split: app.trace.split, index: app.trace.index });
      app.state = result.state;
      app.trace = result.trace;
      app.traceStale = true;
      renderAll();
      renderTrace();
      say(`Applied W ← W − α ∂J/∂W (α = ${app.trace.lr}) and b ← b − α ∂J/∂b to every layer, with the gradients shown. `
        + "Step again to see the example's new forward pass.");
    } catch (error) { say(error.message, "error"); }
  }

  function renderTrace() {
    const trace = app.trace, tables = $("trace-tables"), example = $("example");
    tables.innerHTML = "";
    if (!trace) {
      example.innerHTML = app.session && !app.session.traceable
        ? "<span class='hint'>Batch normalisation is on: bp.trace cannot step through it.</span>" : "";
      renderDetail();
      renderNeuronValues();
      return;
    }
    const data = app.session.data;
    example.innerHTML = "";
    const info = el("div", { id: "example-info", "data-x": JSON.stringify(trace.x), "data-target": JSON.stringify(trace.target),
      "data-split": trace.split, "data-index": trace.index });
    info.innerHTML = `${trace.split} row ${trace.index}: ${data.features[0]} = ${fmt(trace.x_raw[0])}, `
      + `${data.features[1]} = ${fmt(trace.x_raw[1])} → a⁰ = (${trace.x.map(fmt).join(", ")}) (standardised); `
      + `${data.target} = <b>${trace.label}</b>; J = ${trace.loss_name}(a<sup>L</sup>, y) = <b>${fmt(trace.loss)}</b>. `
      + `The four equations agree with the engine's gradients to ${trace.max_residual.toExponential(1)}.`
      + (app.traceStale ? " <b>The weights have changed since this step: step again.</b>" : "")
      + (trace.notes.length ? `<br><span class="hint">${trace.notes.join(" ")}</span>` : "");
    example.appendChild(info);
    trace.layers.forEach((layer, index) => {
      const m = index + 1, table = el("table", { class: "layer" });
      table.innerHTML = `<caption>layer ${m}: ${layer.activation}</caption>`
        + `<tr><th>j</th><th>z<sup>${m}</sup></th><th>a<sup>${m}</sup></th><th>δ<sup>${m}</sup></th></tr>`;
      layer.z.forEach((z, j) => {
        const row = el("tr", { "data-layer": m, "data-neuron": j });
        row.innerHTML = `<td>${j + 1}</td><td>${fmt(z)}</td><td>${fmt(layer.a[j])}</td><td>${fmt(layer.delta[j])}</td>`;
        row.addEventListener("click", () => select({ kind: "neuron", layer: m, neuron: j }));
        table.appendChild(row);
      });
      tables.appendChild(table);
    });
    renderDetail();
    renderNeuronValues();
    markSelection();
  }

  function select(what) {
    app.selected = what;
    markSelection();
    renderDetail();
  }

  function markSelection() {
    const s = app.selected;
    for (const node of document.querySelectorAll(".neuron.selected, tr.selected")) node.classList.remove("selected");
    for (const line of document.querySelectorAll("#edges line.selected")) line.classList.remove("selected");
    if (!s || !app.geometry) return;
    if (s.kind === "neuron") {
      const node = app.geometry.neurons[s.layer] && app.geometry.neurons[s.layer][s.neuron];
      if (node) node.classList.add("selected");
      const row = document.querySelector(`tr[data-layer="${s.layer}"][data-neuron="${s.neuron}"]`);
      if (row) row.classList.add("selected");
    } else {
      const line = app.geometry.edges[s.layer] && app.geometry.edges[s.layer][s.row] && app.geometry.edges[s.layer][s.row][s.col];
      if (line) line.classList.add("selected");
    }
  }

  function terms(left, right, limit = 8) {
    const shown = left.slice(0, limit).map((v, i) => `(${fmt(v)} × ${fmt(right[i])})`);
    return shown.join(" + ") + (left.length > limit ? ` + … (${left.length - limit} more)` : "");
  }

  function number(value, cls = "") { return `<span class="${cls}" data-value="${value}">${fmt(value)}</span>`; }

  function renderDetail() {
    const detail = $("detail"), s = app.selected, trace = app.trace;
    if (!s) { detail.innerHTML = "<p class='hint'>Click a neuron or a weight.</p>"; return; }
    if (!trace) {
      detail.innerHTML = s.kind === "neuron"
        ? `<h4>Layer ${s.layer}, neuron ${s.neuron + 1}</h4><p class="hint">Press “Step” to see its z, a and δ for one example.</p>`
        : `<h4>Weight W<sup>${s.layer}</sup><sub>${s.row + 1},${s.col + 1}</sub> = ${fmt(app.state.weights[s.layer - 1].W[s.row][s.col])}</h4>`
          + "<p class='hint'>Press “Step” to see its gradient and update for one example.</p>";
      return;
    }
    const L = trace.layers.length;
    let html = "";
    if (s.kind === "neuron" && s.layer === 0) {
      const j = s.neuron;
      html = `<h4>Input ${app.session.data.features[j]}</h4>`
        + `<div class="eq">a${"⁰"}<sub>${j + 1}</sub> = (x − mean) / std = (${fmt(trace.x_raw[j])} − mean) / std = ${number(trace.x[j], "result")}</div>`
        + "<p class='hint'>mean and std of the training rows (the model file stores them for backprop predict).</p>";
    } else if (s.kind === "neuron") {
      const m = s.layer, j = s.neuron, layer = trace.layers[m - 1];
      const jj = j + 1;
      html = `<h4>Layer ${m}, neuron ${jj} <span class="hint">(${layer.description})</span></h4>`;
      html += "<div><b>Forward</b></div>";
      html += `<div class="eq">${sub("z", m, jj)} = Σ<sub>k</sub> ${sub("W", m, `${jj}k`)} ${sub("a", m - 1, "k")} + ${sub("b", m, jj)}`
        + ` = ${terms(layer.W[j], layer.a_prev)} + ${fmt(layer.b[j])} = ${number(layer.z[j], "z result")}</div>`;
      html += `<div class="eq">${sub("a", m, jj)} = f(${sub("z", m, jj)}) = ${layer.activation}(${fmt(layer.z[j])}) = ${number(layer.a[j], "a result")}</div>`;
      html += "<div><b>Backward</b></div>";
      if (m === L) {
        if (layer.jacobian) {
          const column = layer.df.map((row) => row[j]);
          html += `<div class="eq">(1) ${sub("δ", "L", jj)} = Σ<sub>k</sub> (∂a<sub>k</sub>/∂z<sub>${jj}</sub>) ∂J/∂a<sub>k</sub>`
            + ` = ${terms(column, layer.dJ_da)} = ${number(layer.delta[j], "delta result")}</div>`
            + `<div class="eq">  with ∂a/∂z = diag(a) − a aᵀ (softmax); for cross-entropy this is a<sub>${jj}</sub> − y<sub>${jj}</sub>`
            + ` = ${fmt(layer.a[j])} − ${fmt(trace.y[j])}</div>`;
        } else {
          html += `<div class="eq">(1) ${sub("δ", "L", jj)} = f′(${sub("z", "L", jj)}) · ∂J/∂${sub("a", "L", jj)}`
            + ` = ${fmt(layer.df[j])} × ${fmt(layer.dJ_da[j])} = ${number(layer.delta[j], "delta result")}</div>`;
        }
        html += `<div class="hint">checked against the engine: |residual of (1)| ≤ ${fmtResidual(trace, "output_delta", m)}</div>`;
      } else {
        const above = trace.layers[m], column = above.W.map((row) => row[j]);
        html += `<div class="eq">(2) ${sub("δ", m, jj)} = f′(${sub("z", m, jj)}) · Σ<sub>k</sub> ${sub("W", m + 1, `k${jj}`)} ${sub("δ", m + 1, "k")}`
          + ` = ${fmt(layer.df[j])} × [${terms(column, above.delta)}] = ${number(layer.delta[j], "delta result")}</div>`;
        html += `<div class="hint">checked against the engine: |residual of (2)| ≤ ${fmtResidual(trace, "hidden_delta", m)}</div>`;
      }
      html += `<div class="eq">(4) ∂J/∂${sub("b", m, jj)} = ${sub("δ", m, jj)} = ${number(layer.db[j])}</div>`;
      html += `<div class="eq">update: b ← b − α ∂J/∂b = ${fmt(layer.b[j])} − ${trace.lr} × ${fmt(layer.db[j])} = ${number(layer.b_new[j])}</div>`;
    } else {
      const m = s.layer, j = s.row, k = s.col, layer = trace.layers[m - 1];
      const name = `${sub("W", m, `${j + 1},${k + 1}`)}`;
      const penalty = layer.penalty_dW ? layer.penalty_dW[j][k] : null;
      html = `<h4>Weight ${name}: from neuron ${k + 1} of layer ${m - 1} to neuron ${j + 1} of layer ${m}</h4>`
        + `<div class="eq">${name} = ${number(layer.W[j][k], "w")}</div>`
        + `<div class="eq">(3) ∂J/∂${name} = ${sub("δ", m, j + 1)} · ${sub("a", m - 1, k + 1)} = ${fmt(layer.delta[j])} × ${fmt(layer.a_prev[k])}`
        + ` = ${number(layer.dW[j][k], "dw result")}</div>`;
      if (penalty !== null) {
        html += `<div class="eq">+ the penalty's gradient (${app.settings.regularization.toUpperCase()}, λ = ${app.settings.reg_lambda}): ${fmt(penalty)}</div>`;
      }
      const gradient = penalty === null ? fmt(layer.dW[j][k]) : `(${fmt(layer.dW[j][k])} + ${fmt(penalty)})`;
      html += `<div class="eq">update: W ← W − α ∂J/∂W = ${fmt(layer.W[j][k])} − ${trace.lr} × ${gradient} = ${number(layer.W_new[j][k], "w-new result")}</div>`
        + `<div class="hint">checked against the engine: |residual of (3)| ≤ ${fmtResidual(trace, "weight_gradient", m)}</div>`;
    }
    detail.innerHTML = html;
  }

  function fmtResidual(trace, key, m) {
    const value = (trace.residuals[key] || {})[String(m)];
    return value === undefined ? "–" : value.toExponential(1);
  }

  // ------------------------------------------------------------------ CSV upload
  async function readCsv(file) {
    try {
      const text = await file.text();
      const info = await api("POST", "/api/csv", { csv: text });
      app.csvText = text;
      app.csvInfo = info;
      const names = info.columns.map((c) => c.name), numeric = info.columns.filter((c) => c.numeric).map((c) => c.name);
      fillSelect($("csv-x1"), numeric);
      fillSelect($("csv-x2"), numeric);
      fillSelect($("csv-target"), names);
      if (numeric.length > 1) $("csv-x2").value = numeric[1];
      $("csv-target").value = names[names.length - 1];
      $("csv-columns").hidden = false;
      say(`${file.name}: ${info.rows} rows, ${names.length} columns. Choose two numeric features and a target.`);
    } catch (error) { say(error.message, "error"); }
  }

  function useCsv() {
    Object.assign(app.settings, {
      dataset: "csv", features: [$("csv-x1").value, $("csv-x2").value], target: $("csv-target").value,
      task: $("csv-task").value, loss: "",
    });
    rebuild(0);
  }

  // ------------------------------------------------------------------ share and download
  async function share() {
    const url = shareUrl(), box = $("share-url");
    box.hidden = false;
    box.value = url;
    box.select();
    try { await navigator.clipboard.writeText(url); say("Link copied: it opens this setup (not an uploaded CSV)."); }
    catch (e) { say("Copy this link: it opens this setup (not an uploaded CSV)."); }
  }

  async function download() {
    if (!app.session) return;
    try {
      const response = await fetch(`/api/sessions/${app.session.id}/model.safetensors`);
      if (!response.ok) {
        const data = await response.json().catch(() => ({}));
        throw new Error(data.error || response.statusText);
      }
      const blob = await response.blob(), link = el("a", { href: URL.createObjectURL(blob), download: "playground.safetensors" });
      document.body.appendChild(link);
      link.click();
      link.remove();
      say("Saved playground.safetensors: backprop predict playground.safetensors rows.csv reads it.");
    } catch (error) { say(error.message, "error"); }
  }

  // ------------------------------------------------------------------ start
  async function start() {
    try {
      app.options = await api("GET", "/api/options");
    } catch (error) { say(error.message, "error"); return; }
    const options = app.options;
    fillSelect($("optimizer"), options.optimizers);
    fillSelect($("batch"), options.batch_modes.map((b) => b.name), options.batch_modes.map((b) => b.name));
    fillSelect($("init"), options.initialisations.map((i) => i.name));
    fillSelect($("regularization"), options.regularizations);
    for (const option of $("init").options) {
      option.title = options.initialisations.find((i) => i.name === option.value).description;
    }
    buildDatasetButtons();
    app.settings = Object.assign(structuredClone(options.defaults), settingsFromHash());
    if (app.settings.dataset === "csv") {
      say("A shared link does not carry the CSV itself: upload it again, or pick a dataset.", "error");
      app.settings.dataset = options.defaults.dataset;
      app.settings.loss = "";
    }
    for (const input of document.querySelectorAll("[data-setting]")) input.addEventListener("change", () => readControl(input));
    $("noise").addEventListener("input", () => { $("noise-value").textContent = $("noise").value; });
    $("train_ratio").addEventListener("input", () => {
      $("train-ratio-value").textContent = `${Math.round($("train_ratio").value * 100)}%`;
    });
    $("play").addEventListener("click", () => { setPlaying(!app.playing); if (app.playing) playLoop(); });
    $("step-epoch").addEventListener("click", async () => {
      pause();
      try { await trainOnce(1); } catch (error) { say(error.message, "error"); }
    });
    $("reset").addEventListener("click", () => createSession());
    $("add-layer").addEventListener("click", () => {
      if (app.settings.layers.length < options.limits.hidden_layers[1]) {
        app.settings.layers.push({ neurons: 4, activation: app.settings.layers.slice(-1)[0]?.activation || "tanh", k: 0 });
        rebuild(0);
      }
    });
    $("remove-layer").addEventListener("click", () => {
      if (app.settings.layers.length) { app.settings.layers.pop(); rebuild(0); }
    });
    $("show-test").addEventListener("change", () => renderHeatmap());
    $("trace-button").addEventListener("click", traceExample);
    $("apply-button").addEventListener("click", applyUpdate);
    $("random-example").addEventListener("click", () => {
      const split = $("example-split").value, n = app.session.data[split].x.length;
      $("example-index").value = Math.floor(Math.random() * n);
      traceExample();
    });
    $("example-split").addEventListener("change", () => {
      $("example-index").max = app.session.data[$("example-split").value].x.length - 1;
    });
    $("heatmap").addEventListener("click", (event) => {
      if (!app.session) return;
      const canvas = $("heatmap"), rect = canvas.getBoundingClientRect();
      const px = (event.clientX - rect.left) / rect.width * canvas.width, py = (event.clientY - rect.top) / rect.height * canvas.height;
      let best = null;
      for (const split of $("show-test").checked ? ["train", "test"] : ["train"]) {
        app.session.data[split].x.forEach((point, index) => {
          const [x, y] = toPixel(point, app.session.data.extent, canvas.width), d = (x - px) ** 2 + (y - py) ** 2;
          if (!best || d < best.d) best = { d, split, index };
        });
      }
      if (best) {
        $("example-split").value = best.split;
        $("example-index").value = best.index;
        traceExample();
      }
    });
    $("csv-file").addEventListener("change", () => { const file = $("csv-file").files[0]; if (file) readCsv(file); });
    $("csv-use").addEventListener("click", useCsv);
    $("share").addEventListener("click", share);
    $("download").addEventListener("click", download);
    window.addEventListener("hashchange", () => { // a shared link pasted into this tab
      const wanted = settingsFromHash();
      if (JSON.stringify(wanted) !== JSON.stringify(app.settings)) {
        app.settings = Object.assign(structuredClone(app.options.defaults), wanted);
        rebuild(0);
      }
    });
    window.addEventListener("resize", () => { if (app.session) { buildNetwork(); renderNetwork(); } });
    await createSession();
  }

  start();
})();
