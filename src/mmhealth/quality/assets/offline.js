/* mmhealth: the part of jQuery, Bootstrap and bootstrap-table that Great Expectations' Data Docs use, so the
   pages work with no network. Installed by mmhealth.quality.datadocs; see its docstring for why. */
(function () {
  "use strict";
  var handlers = new WeakMap();

  function listFor(el, name) {
    var map = handlers.get(el);
    if (!map) { map = {}; handlers.set(el, map); }
    return (map[name] = map[name] || []);
  }
  function trigger(el, name, args) {
    var map = handlers.get(el);
    (map && map[name] || []).forEach(function (fn) { fn.apply(el, [{ type: name, target: el }].concat(args)); });
  }
  function resolve(fn) { return typeof fn === "function" ? fn : (typeof fn === "string" ? window[fn] : null); }

  function Wrapped(elements) {
    this.elements = elements;
    this.length = elements.length;
    for (var i = 0; i < elements.length; i++) { this[i] = elements[i]; }
  }
  var W = Wrapped.prototype;
  W.each = function (fn) { this.elements.forEach(function (el, i) { fn.call(el, i, el); }); return this; };
  W.on = function (name, fn) {
    this.each(function (_, el) {
      if (name.indexOf(".") < 0) { el.addEventListener(name, fn); } else { listFor(el, name).push(fn); }
    });
    return this;
  };
  W.ready = function (fn) {
    if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", fn); } else { fn(); }
    return this;
  };
  W.addClass = function (c) { return this.each(function (_, el) { el.classList.add(c); }); };
  W.removeClass = function (c) { return this.each(function (_, el) { el.classList.remove(c); }); };
  W.toggleClass = function (c) { return this.each(function (_, el) { el.classList.toggle(c); }); };
  W.show = W.fadeIn = function () { return this.each(function (_, el) { el.style.display = ""; }); };
  W.hide = W.fadeOut = function () { return this.each(function (_, el) { el.style.display = "none"; }); };
  W.parent = function () {
    return new Wrapped(this.elements.map(function (el) { return el.parentElement; }).filter(Boolean));
  };
  W.data = function (key) { return this.elements.length ? this.elements[0].getAttribute("data-" + key) : undefined; };
  W.attr = function (key) { return this.elements.length ? this.elements[0].getAttribute(key) : undefined; };
  W.modal = function () { return this; };
  W.tooltip = W.popover = W.modal;
  W.bootstrapTable = function (opts) {
    if (typeof opts === "string") { return this; } /* clearFilterControl, resetSearch: nothing to reset */
    return this.each(function (_, table) { renderTable(table, opts || {}); });
  };

  function renderTable(table, opts) {
    var columns = opts.columns || [];
    var rows = (opts.data || []).slice();
    var sortName = opts.sortName, desc = opts.sortOrder === "desc";
    var rowAttributes = resolve(opts.rowAttributes), rowStyle = resolve(opts.rowStyle);
    table.classList.add("mmh-table");

    function sortKey(row) {
      var col = columns.filter(function (c) { return c.field === sortName; })[0];
      var key = col && col.sortName ? col.sortName : sortName;
      return row[key];
    }
    function draw() {
      if (sortName) {
        rows.sort(function (a, b) {
          var x = sortKey(a), y = sortKey(b);
          return (x > y ? 1 : x < y ? -1 : 0) * (desc ? -1 : 1);
        });
      }
      table.innerHTML = "";
      var thead = table.createTHead(), hr = thead.insertRow();
      columns.forEach(function (c) {
        var th = document.createElement("th");
        th.innerHTML = c.title || c.field;
        if (c.sortable) {
          th.classList.add("mmh-sortable");
          th.addEventListener("click", function () {
            desc = sortName === c.field ? !desc : false;
            sortName = c.field;
            draw();
          });
        }
        hr.appendChild(th);
      });
      var tbody = table.createTBody();
      rows.forEach(function (row, i) {
        var tr = tbody.insertRow();
        var attrs = rowAttributes ? rowAttributes(row, i) : {};
        Object.keys(attrs || {}).forEach(function (k) { tr.setAttribute(k, attrs[k]); });
        var style = rowStyle ? rowStyle(row, i) : null;
        if (style && style.css) { Object.keys(style.css).forEach(function (k) { tr.style[k] = style.css[k]; }); }
        columns.forEach(function (c) {
          var td = tr.insertCell();
          td.innerHTML = row[c.field] === undefined || row[c.field] === null ? "" : String(row[c.field]);
          if (c.align) { td.style.textAlign = c.align; }
        });
        tr.addEventListener("click", function () { trigger(table, "click-row.bs.table", [row, new Wrapped([tr])]); });
      });
    }
    draw();
  }

  function $(arg) {
    if (typeof arg === "function") { return new Wrapped([document]).ready(arg); }
    if (arg instanceof Wrapped) { return arg; }
    if (typeof arg === "string") {
      try { return new Wrapped(Array.prototype.slice.call(document.querySelectorAll(arg))); }
      catch (e) { return new Wrapped([]); }
    }
    return new Wrapped(arg ? [arg] : []);
  }
  window.$ = window.jQuery = $;

  /* Vega charts need the Vega libraries; offline they become a note, not an error. */
  window.vegaEmbed = function (target) {
    var el = typeof target === "string" ? document.querySelector(target) : target;
    if (el) { el.innerHTML = '<p class="mmh-note">Chart omitted: Vega is not bundled with offline Data Docs.</p>'; }
    return Promise.resolve({});
  };

  /* Bootstrap tabs and collapses, by their data attributes. */
  document.addEventListener("click", function (event) {
    var el = event.target.closest ? event.target.closest("[data-toggle]") : null;
    if (!el) { return; }
    var kind = el.getAttribute("data-toggle");
    var sel = el.getAttribute("data-target") || el.getAttribute("href");
    if (!sel || sel.charAt(0) !== "#" || kind === "table") { return; }
    var target = document.querySelector(sel);
    if (!target) { return; }
    event.preventDefault();
    if (kind === "tab" || kind === "pill") {
      var pane = target.parentElement;
      Array.prototype.forEach.call(pane.children, function (p) { p.classList.remove("active", "show"); });
      target.classList.add("active", "show");
      var nav = el.closest(".nav");
      if (nav) { Array.prototype.forEach.call(nav.querySelectorAll("[data-toggle]"), function (n) { n.classList.remove("active"); }); }
      el.classList.add("active");
    } else if (kind === "collapse") {
      target.classList.toggle("show");
    }
  });
})();
