/* The waiting-room board: listens to its event stream, fetches its content again on each
   event, and announces each new, recent call: chime, then the spoken call (the browser's
   Indonesian voice when it has one, else the audio the server renders). */
(function () {
  "use strict";
  var root = document.getElementById("board-live");
  if (!root) { return; }
  var seen = {};
  var queue = [];
  var speaking = false;
  var noVoiceShown = false;
  var lang = document.documentElement.lang || "id";
  var sound = root.getAttribute("data-sound") === "on" && localStorage.getItem("antrean-board-sound") !== "off";
  var status = document.getElementById("board-status");
  var note = document.getElementById("board-note");

  function calls() { return document.querySelectorAll("#board [data-call-key]"); }
  function remember() {
    Array.prototype.forEach.call(calls(), function (c) { seen[c.getAttribute("data-call-key")] = true; });
  }

  function voiceFor() {
    if (!window.speechSynthesis) { return null; }
    var voices = window.speechSynthesis.getVoices();
    for (var i = 0; i < voices.length; i++) {
      if (voices[i].lang && voices[i].lang.toLowerCase().indexOf(lang) === 0) { return voices[i]; }
    }
    return null;
  }

  function next() {
    if (speaking || !queue.length) { return; }
    speaking = true;
    var call = queue.shift();
    var done = function () { speaking = false; window.setTimeout(next, 400); };
    var big = document.querySelector("#board .now");
    if (big) { big.classList.remove("flash"); void big.offsetWidth; big.classList.add("flash"); }
    if (!sound) { done(); return; }
    if (window.antreanSound) { window.antreanSound.chime(); }
    window.setTimeout(function () {
      var voice = voiceFor();
      if (voice) {
        var u = new SpeechSynthesisUtterance(call.say);
        u.voice = voice; u.lang = voice.lang; u.rate = 0.9;
        u.onend = done; u.onerror = done;
        window.speechSynthesis.speak(u);
      } else if (call.audio) {
        var audio = new Audio(call.audio);
        audio.onended = done; audio.onerror = done;
        audio.play().catch(done);
      } else {
        if (note && !noVoiceShown) { note.hidden = false; noVoiceShown = true; }
        done();
      }
    }, 1200);
  }

  function announceNew() {
    Array.prototype.forEach.call(calls(), function (c) {
      var key = c.getAttribute("data-call-key");
      if (seen[key]) { return; }
      seen[key] = true;
      if (c.getAttribute("data-fresh") === "1") {
        queue.push({ say: c.getAttribute("data-say"), audio: c.getAttribute("data-audio") });
      }
    });
    next();
  }

  /* Each event of the stream carries the board as it is now, rendered by the server. */
  function show(event) {
    var box = document.createElement("div");
    box.innerHTML = event.data.trim();
    var fresh = box.querySelector("#board");
    var old = document.getElementById("board");
    if (fresh && old) { old.replaceWith(fresh); announceNew(); }
  }

  function setSound(on) {
    sound = on;
    localStorage.setItem("antrean-board-sound", on ? "on" : "off");
    var button = document.getElementById("board-sound");
    if (button) {
      button.textContent = button.getAttribute(on ? "data-on" : "data-off");
    }
  }

  remember();
  var button = document.getElementById("board-sound");
  if (button) {
    if (root.getAttribute("data-sound") !== "on") { button.hidden = true; }
    setSound(sound);
    button.addEventListener("click", function () { setSound(!sound); });
  }
  /* Browsers play sound only after a first tap or key on the page: any does. */
  function unlock() { if (sound && window.antreanSound) { window.antreanSound.on(); } }
  document.addEventListener("click", unlock);
  document.addEventListener("keydown", unlock);
  if (window.speechSynthesis) { window.speechSynthesis.getVoices(); }

  /* The browser reconnects a dropped stream by itself; one it gave up on (the server
     answered with an error while restarting) is opened again, a little later each time. */
  var wait = 1000;
  function connect() {
    var stream = new EventSource(root.getAttribute("data-board-src"));
    stream.addEventListener("board", show);
    stream.addEventListener("open", function () { wait = 1000; if (status) { status.hidden = true; } });
    stream.addEventListener("error", function () {
      if (status) { status.hidden = false; }
      if (stream.readyState === EventSource.CLOSED) {
        window.setTimeout(connect, wait);
        wait = Math.min(wait * 2, 30000);
      }
    });
  }
  connect();
  /* The clock in the facility's time zone, whatever the TV's own setting. */
  var format = new Intl.DateTimeFormat(lang, {
    hour: "2-digit", minute: "2-digit", hour12: false, timeZone: root.getAttribute("data-zone") || undefined
  });
  window.setInterval(function () {
    var clock = document.getElementById("board-clock");
    if (clock) { clock.textContent = format.format(new Date()); }
  }, 5000);
})();
