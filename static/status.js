// Pushgateway status page: tabs, group filter (by label or metric name), families loaded when
// a group is opened, deletes with a confirmation dialog, and relative ages for timestamps.
// No dependencies.
(() => {
  'use strict';

  // Prefix of every URL: the external path prefix, or "." (relative to the route prefix).
  const base = document.body.dataset.base || '.';
  const $ = (id) => document.getElementById(id);
  const list = $('group-list');
  const dialog = $('confirm');
  const toastBox = $('toast');

  // --- Tabs -------------------------------------------------------------------------------

  function showTab() {
    const name = location.hash === '#status' ? 'status' : 'groups';
    for (const view of document.querySelectorAll('.view')) {
      view.hidden = view.dataset.view !== name;
    }
    for (const tab of document.querySelectorAll('.tab[data-tab]')) {
      if (tab.dataset.tab === name) tab.setAttribute('aria-current', 'page');
      else tab.removeAttribute('aria-current');
    }
  }
  window.addEventListener('hashchange', showTab);
  showTab();

  // --- Relative ages ----------------------------------------------------------------------

  const relative = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });
  const units = [['year', 31536000], ['month', 2592000], ['day', 86400], ['hour', 3600], ['minute', 60]];

  function age(date) {
    const seconds = (date.getTime() - Date.now()) / 1000;
    for (const [unit, size] of units) {
      if (Math.abs(seconds) >= size) return relative.format(Math.round(seconds / size), unit);
    }
    return Math.abs(seconds) < 10 ? 'just now' : relative.format(Math.round(seconds), 'second');
  }

  // The server's absolute time moves to the title; "started" keeps its absolute text.
  function humanizeTimes(root) {
    for (const t of root.querySelectorAll('time[datetime]:not([data-absolute])')) {
      const date = new Date(t.dateTime);
      if (Number.isNaN(date.getTime())) continue;
      if (!t.title) t.title = t.textContent;
      t.textContent = age(date);
    }
  }
  humanizeTimes(document);
  setInterval(() => humanizeTimes(document), 30000);

  // --- Toast and confirmation -------------------------------------------------------------

  let toastTimer;
  function toast(message, bad = false) {
    toastBox.textContent = message;
    toastBox.classList.toggle('bad', bad);
    toastBox.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { toastBox.hidden = true; }, bad ? 8000 : 3000);
  }

  // Resolves true when the user confirms.
  function confirmAction(title, text, okLabel) {
    $('confirm-title').textContent = title;
    $('confirm-text').textContent = text;
    $('confirm-ok').textContent = okLabel;
    dialog.returnValue = '';
    return new Promise((resolve) => {
      dialog.addEventListener('close', () => resolve(dialog.returnValue === 'ok'), { once: true });
      dialog.showModal();
      $('confirm-cancel').focus();
    });
  }

  // --- Counters and filter ----------------------------------------------------------------

  const groups = () => Array.from(list.children);

  function updateCounts() {
    const all = groups();
    const failing = all.filter((item) => item.classList.contains('is-failed')).length;
    $('group-count').textContent = all.length;
    $('stat-groups').textContent = all.length;
    $('stat-failing').textContent = failing;
    $('stat-failing').parentElement.classList.toggle('stat-bad', failing > 0);
    $('empty').hidden = all.length > 0;
    const deleteAll = $('delete-all');
    if (deleteAll) deleteAll.disabled = all.length === 0;
    applyFilter();
  }

  const filter = $('filter');
  const onlyFailed = $('only-failed');
  // Rows removed by another script (delete_groups.js) update the counters too.
  document.addEventListener('groups-removed', updateCounts);

  // Lower-cased label text of each row, computed on first use.
  const searchText = new WeakMap();

  // The metric names each row's group pushes (the page's #metric-names index: every name
  // once, and per row the positions of its names), so the filter finds a metric without
  // loading any group.
  const metricNames = [];
  const lowerNames = [];
  const namesOf = new WeakMap();
  (() => {
    const index = JSON.parse($('metric-names').textContent);
    const rows = groups();
    if (index.groups.length !== rows.length) return;
    metricNames.push(...index.names);
    lowerNames.push(...index.names.map((n) => n.toLowerCase()));
    rows.forEach((row, i) => namesOf.set(row, index.groups[i]));
  })();

  // At most this many matched names are listed under a row.
  const SHOWN_NAMES = 5;

  // Lists under `item` the metric names (positions in metricNames) that matched, or removes
  // the list when none did.
  function showMatchedNames(item, matched) {
    let box = item.querySelector(':scope > .matched-names');
    const key = matched.join(',');
    if (!matched.length) {
      if (box) box.remove();
      return;
    }
    if (box && box.dataset.key === key) return;
    if (!box) {
      box = document.createElement('div');
      box.className = 'matched-names';
      item.querySelector(':scope > .row').after(box);
    }
    box.dataset.key = key;
    const label = document.createElement('span');
    label.className = 'matched-label';
    label.textContent = matched.length === 1 ? 'metric' : 'metrics';
    const parts = [label];
    for (const position of matched.slice(0, SHOWN_NAMES)) {
      const name = document.createElement('code');
      name.textContent = metricNames[position];
      parts.push(name);
    }
    if (matched.length > SHOWN_NAMES) parts.push(`and ${matched.length - SHOWN_NAMES} more`);
    box.replaceChildren(...parts);
  }

  function applyFilter() {
    const terms = filter.value.toLowerCase().split(/\s+/).filter(Boolean);
    // For each term, the positions of the metric names containing it.
    const nameHits = terms.map((t) => {
      const hits = new Set();
      lowerNames.forEach((name, position) => { if (name.includes(t)) hits.add(position); });
      return hits;
    });
    let shown = 0;
    const all = groups();
    for (const item of all) {
      let text = searchText.get(item);
      if (text === undefined) {
        text = item.querySelector('.labels').textContent.toLowerCase();
        searchText.set(item, text);
      }
      const names = namesOf.get(item) || [];
      const matched = [];
      // Every term must be in the labels or in one of the group's metric names.
      let match = !onlyFailed.checked || item.classList.contains('is-failed');
      for (let k = 0; match && k < terms.length; k += 1) {
        let inNames = false;
        for (const position of names) {
          if (nameHits[k].has(position)) {
            inNames = true;
            if (!matched.includes(position)) matched.push(position);
          }
        }
        match = inNames || text.includes(terms[k]);
      }
      if (item.hidden === match) item.hidden = !match;
      showMatchedNames(item, match ? matched.sort((a, b) => a - b) : []);
      if (match) shown += 1;
    }
    $('no-match').hidden = shown > 0 || all.length === 0;
  }

  let filterTimer;
  filter.addEventListener('input', () => {
    clearTimeout(filterTimer);
    filterTimer = setTimeout(applyFilter, 120);
  });
  onlyFailed.addEventListener('change', applyFilter);

  // --- Families, loaded when a group is opened --------------------------------------------

  // The families container is created on first open, to keep the page small.
  function familiesBox(item) {
    let box = item.querySelector('.families');
    if (!box) {
      box = document.createElement('div');
      box.className = 'families';
      item.append(box);
    }
    return box;
  }

  async function loadFamilies(item) {
    const box = familiesBox(item);
    if (box.dataset.state === 'loading' || box.dataset.state === 'loaded') return;
    box.dataset.state = 'loading';
    box.innerHTML = '<p class="loading">Loading metrics…</p>';
    try {
      const response = await fetch(`${base}/status/group${item.dataset.path}`);
      if (response.status === 404) {
        box.dataset.state = 'gone';
        box.innerHTML = '<p class="notice bad">This group no longer exists. Reload the page to see the current groups.</p>';
        return;
      }
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      // The fragment is server-rendered HTML with every value escaped.
      box.innerHTML = await response.text();
      box.dataset.state = 'loaded';
      humanizeTimes(item);
    } catch (error) {
      // Closing and reopening the group retries.
      box.dataset.state = 'failed';
      box.innerHTML = '';
      const p = document.createElement('p');
      p.className = 'notice bad';
      p.textContent = `Could not load the metrics (${error.message}). Close and reopen the group to retry.`;
      box.append(p);
    }
  }

  function toggleGroup(item) {
    const open = item.classList.toggle('open');
    item.querySelector('.toggle').setAttribute('aria-expanded', String(open));
    if (open) loadFamilies(item);
  }

  // --- Deletes ----------------------------------------------------------------------------

  async function failure(response) {
    const text = (await response.text()).trim();
    return `HTTP ${response.status}${text ? `: ${text}` : ''}`;
  }

  // One listener for all rows: a click anywhere on a row opens or closes the group, except
  // on its delete button.
  list.addEventListener('click', (event) => {
    const row = event.target.closest('.row');
    if (!row) return;
    const item = row.closest('.group');
    const button = event.target.closest('button.delete');
    if (button) deleteGroup(item, button);
    else if (!window.getSelection().toString()) toggleGroup(item);
  });

  async function deleteGroup(item, button) {
    const labels = Array.from(item.querySelectorAll('.labels .badge'), (b) => b.textContent).join(', ');
    const ok = await confirmAction('Delete this group?',
      `The group {${labels}} and all its metrics will be deleted.`, 'Delete group');
    if (!ok) return;
    button.disabled = true;
    try {
      const response = await fetch(`${base}/metrics${item.dataset.path}`, { method: 'DELETE' });
      if (!response.ok) throw new Error(await failure(response));
      item.remove();
      updateCounts();
      toast('Group deleted');
    } catch (error) {
      button.disabled = false;
      toast(`Delete failed: ${error.message}`, true);
    }
  }

  const deleteAll = $('delete-all');
  if (deleteAll) {
    deleteAll.addEventListener('click', async () => {
      const n = groups().length;
      const ok = await confirmAction('Delete all groups?',
        `Every group (${n} shown here, and any pushed since the page loaded) and all their metrics will be deleted.`,
        'Delete all groups');
      if (!ok) return;
      deleteAll.disabled = true;
      try {
        const response = await fetch(`${base}/api/v1/admin/wipe`, { method: 'PUT' });
        if (!response.ok) throw new Error(await failure(response));
        list.replaceChildren();
        updateCounts();
        toast('All groups deleted');
      } catch (error) {
        deleteAll.disabled = false;
        toast(`Delete failed: ${error.message}`, true);
      }
    });
  }
})();
