// Live updates of the technicians' page. The server renders everything;
// this script polls /api/page once a second, puts the live values (weights,
// line states, outbox) into the elements marked data-live, and fetches a
// section again, rendered by the server, when its version changes.
(function () {
  'use strict';
  var every = 1000;

  // Marks each inspection image once the browser has decoded it, so that
  // a broken image is visible to tests and to the eye (data-loaded).
  function markImages(root) {
    root.querySelectorAll('img.scan').forEach(function (img) {
      var done = function () { img.dataset.loaded = img.naturalWidth > 0 ? 'true' : 'false'; };
      if (img.complete) { done(); } else {
        img.addEventListener('load', done);
        img.addEventListener('error', done);
      }
    });
  }

  function apply(live) {
    document.querySelectorAll('[data-live]').forEach(function (el) {
      var v = live[el.dataset.live];
      if (!v) { return; }
      if (el.textContent !== v.text) { el.textContent = v.text; }
      if (el.dataset.state !== v.state) { el.dataset.state = v.state; }
    });
  }

  function refetch(el, name) {
    return fetch('/part/' + name, { cache: 'no-store', credentials: 'same-origin' }).then(function (r) {
      if (!r.ok) { throw new Error('section ' + name + ': HTTP ' + r.status); }
      return r.text();
    }).then(function (text) {
      var tmp = document.createElement('div');
      tmp.innerHTML = text;
      var fresh = tmp.querySelector('[data-part="' + name + '"]');
      if (fresh) { el.replaceWith(fresh); markImages(fresh); }
    });
  }

  function say(text) { document.getElementById('updated').textContent = text; }

  function poll() {
    fetch('/api/page', { cache: 'no-store', credentials: 'same-origin' }).then(function (r) {
      if (!r.ok) { throw new Error('HTTP ' + r.status); }
      return r.json();
    }).then(function (p) {
      var pending = [];
      Object.keys(p.parts).forEach(function (name) {
        var el = document.querySelector('[data-part="' + name + '"]');
        if (el && el.dataset.version !== p.parts[name]) { pending.push(refetch(el, name)); }
      });
      return Promise.all(pending).then(function () {
        apply(p.live);
        document.body.dataset.connection = 'ok';
        say('live, ' + new Date().toLocaleTimeString());
      });
    }).catch(function (e) {
      document.body.dataset.connection = 'lost';
      say('agent not answering (' + e.message + ')');
    }).then(function () { setTimeout(poll, every); });
  }

  markImages(document);
  setTimeout(poll, every);
})();
