/* antrean: the few lines of script the pages use besides HTMX. Every page works without it;
   it makes live parts update themselves and turns on alerts. */
(function () {
  "use strict";

  function focusSummary() {
    var el = document.querySelector("[data-autofocus]");
    if (el) { el.focus(); }
  }

  var audio = null;
  function soundOn() {
    if (!audio) {
      var Ctx = window.AudioContext || window.webkitAudioContext;
      if (Ctx) { audio = new Ctx(); }
    }
    if (audio && audio.state === "suspended") { audio.resume(); }
    return !!audio;
  }

  /* Two tones, the second lower: "ding-dong". Made here, so no sound file is downloaded. */
  function chime() {
    if (!audio || audio.state !== "running") { return; }
    var t = audio.currentTime;
    [[0, 880], [0.4, 660]].forEach(function (p) {
      var osc = audio.createOscillator(), gain = audio.createGain();
      osc.frequency.value = p[1];
      osc.connect(gain); gain.connect(audio.destination);
      gain.gain.setValueAtTime(0.0001, t + p[0]);
      gain.gain.exponentialRampToValueAtTime(0.5, t + p[0] + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, t + p[0] + 0.6);
      osc.start(t + p[0]); osc.stop(t + p[0] + 0.65);
    });
  }

  function alertCall(el) {
    el.classList.remove("flash");
    void el.offsetWidth; /* restart the flash */
    el.classList.add("flash");
    chime();
    if (navigator.vibrate) { navigator.vibrate([400, 200, 400, 200, 400]); }
    var title = el.getAttribute("data-call-title");
    if (title) { document.title = title; }
  }

  /* A live part: listens to a server-sent event stream and, on each event, fetches its own
     fresh HTML from the server (rendered there, in the reader's language). A reconnecting
     stream resumes from the last event it saw, so nothing is missed. */
  function live(el) {
    var busy = false, again = false;
    var status = document.querySelector("[data-live-status]");
    function say(key) {
      if (status) { status.textContent = status.getAttribute("data-" + key) || ""; }
    }
    var target = el.getAttribute("data-live-target");
    function swap(html) {
      var box = document.createElement("div");
      box.innerHTML = html.trim();
      var fresh = box.querySelector("#" + target);
      var old = document.getElementById(target);
      if (!fresh || !old) { return; }
      var before = old.getAttribute("data-call") || "";
      var focused = document.activeElement && old.contains(document.activeElement) ? document.activeElement.id : null;
      old.replaceWith(fresh);
      if (window.htmx) { window.htmx.process(fresh); }
      if (focused && document.getElementById(focused)) { document.getElementById(focused).focus(); }
      var after = fresh.getAttribute("data-call") || "";
      if (after && after !== before) { alertCall(fresh); }
    }
    function refresh() {
      if (busy) { again = true; return; }
      busy = true;
      fetch(el.getAttribute("data-live-part"), {
        headers: { "HX-Request": "true" }, credentials: "same-origin", cache: "no-store"
      }).then(function (r) { return r.ok ? r.text() : null; })
        .then(function (html) { if (html !== null) { swap(html); } })
        .catch(function () { /* the stream's reconnect brings the next try */ })
        .then(function () { busy = false; if (again) { again = false; refresh(); } });
    }
    /* Changes that touch this part only a little (others moving in the same line): fetched
       after a random wait of up to a few seconds, so many readers spread their requests. */
    var later = el.getAttribute("data-live-later");
    var pending = null;
    function soon() {
      if (pending) { return; }
      pending = window.setTimeout(function () { pending = null; refresh(); }, 500 + Math.random() * 4000);
    }
    /* The browser reconnects a dropped stream by itself; one it gave up on (an error answer
       while the server restarts) is opened again, a little later each time. */
    var wait = 1000;
    function connect() {
      var stream = new EventSource(el.getAttribute("data-live-src"));
      streams.push({ el: el, stream: stream });
      stream.addEventListener("snapshot", refresh);
      stream.addEventListener("queue", refresh);
      stream.addEventListener("mine", refresh);
      if (later) { stream.addEventListener(later, soon); }
      stream.addEventListener("open", function () { wait = 1000; say("live"); });
      stream.addEventListener("error", function () {
        say("offline");
        if (stream.readyState === EventSource.CLOSED && document.body.contains(el)) {
          window.setTimeout(connect, wait);
          wait = Math.min(wait * 2, 30000);
        }
      });
    }
    connect();
  }

  /* Function keys on the console (F2 call next, F3 call again, F4 start, F8 finish): each
     presses the visible button that shows it. */
  function shortcut(e) {
    if (!/^F\d+$/.test(e.key) || e.altKey || e.ctrlKey || e.metaKey) { return; }
    var button = document.querySelector('button[data-key="' + e.key + '"]:not([disabled])');
    if (button) { e.preventDefault(); button.click(); }
  }

  /* A booking's QR code read with the device camera, where the browser can (BarcodeDetector);
     elsewhere the button stays hidden and the code is typed. */
  function scanner(button) {
    if (!("BarcodeDetector" in window) || !navigator.mediaDevices) { return; }
    var name = button.getAttribute("data-scan-qr");
    var input = document.getElementById(name);
    var video = document.querySelector('[data-scanner="' + name + '"]');
    if (!input || !video) { return; }
    button.hidden = false;
    button.addEventListener("click", function () {
      var detector = new window.BarcodeDetector({ formats: ["qr_code"] });
      navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } }).then(function (media) {
        video.srcObject = media; video.hidden = false; video.play();
        function stop() { media.getTracks().forEach(function (t) { t.stop(); }); video.hidden = true; }
        function look() {
          if (video.hidden) { return; }
          detector.detect(video).then(function (codes) {
            if (codes.length) { input.value = codes[0].rawValue; stop(); input.form.requestSubmit(); }
            else { window.requestAnimationFrame(look); }
          }, function () { window.requestAnimationFrame(look); });
        }
        look();
      }, function () { button.hidden = true; });
    });
  }

  var streams = [];

  /* Pages swapped in by HTMX (boosted links) start their own live parts; the streams of a
     page that is gone are closed. */
  function start() {
    focusSummary();
    streams = streams.filter(function (s) {
      if (document.body.contains(s.el)) { return true; }
      s.stream.close();
      return false;
    });
    Array.prototype.forEach.call(document.querySelectorAll("[data-live-src]"), function (el) {
      if (el.hasAttribute("data-started")) { return; }
      el.setAttribute("data-started", "");
      live(el);
    });
    Array.prototype.forEach.call(document.querySelectorAll("[data-scan-qr]"), function (b) {
      if (b.hasAttribute("data-started")) { return; }
      b.setAttribute("data-started", "");
      scanner(b);
    });
    Array.prototype.forEach.call(document.querySelectorAll("[data-sound-toggle]"), function (b) {
      if (b.hasAttribute("data-started")) { return; }
      b.setAttribute("data-started", "");
      b.addEventListener("click", function () {
        if (soundOn()) {
          chime();
          b.textContent = b.getAttribute("data-on-text") || b.textContent;
        }
        if (navigator.vibrate) { navigator.vibrate(100); }
      });
    });
  }

  /* Printing a ticket: the button, the kiosk's automatic print, and the kiosk going back to
     its start page by itself so the next patient finds it ready. */
  function printing() {
    Array.prototype.forEach.call(document.querySelectorAll("[data-print]"), function (b) {
      b.addEventListener("click", function () { window.print(); });
    });
    if (document.querySelector("[data-autoprint]")) { window.setTimeout(function () { window.print(); }, 300); }
    var back = document.querySelector("[data-return-after]");
    if (back) {
      window.setTimeout(function () { window.location.href = back.getAttribute("href"); },
        1000 * parseInt(back.getAttribute("data-return-after"), 10));
    }
  }

  window.antreanSound = { on: soundOn, chime: chime };
  document.addEventListener("DOMContentLoaded", printing);
  document.addEventListener("DOMContentLoaded", start);
  document.addEventListener("keydown", shortcut);
  document.addEventListener("htmx:afterSettle", start);
})();
