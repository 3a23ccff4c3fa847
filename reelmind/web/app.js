// ReelMind's page: search, a user's recommendations and "more like this", over the JSON API of the same server.
// The page's state is its URL (/?q=..., /?user=..., /?similar=<video id>), so any view can be shared or reloaded.
"use strict";

const $ = (id) => document.getElementById(id);
const MATCH_LABELS = { speech: "said", screen: "on screen", document: "about" };
let current = null; // the video in the player: {video_id, title, media_url}

async function api(path) {
  const response = await fetch(path, { credentials: "same-origin" });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(body.error || `${response.status} ${response.statusText}`);
  return body;
}

function clock(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === "dataset") Object.assign(node.dataset, value);
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node[key] = value;
  }
  for (const child of children) if (child != null) node.append(child);
  return node;
}

function momentText(moment, match) {
  if (!moment) return null;
  const span = moment.start === moment.end ? clock(moment.start) : `${clock(moment.start)}–${clock(moment.end)}`;
  return el("p", { className: "moment" }, el("span", { className: "kind", textContent: MATCH_LABELS[match] || match }),
            `${span} `, moment.text ? `“${moment.text}”` : "");
}

// One video as a card: thumbnail (a click plays it, from the matched moment if any), title, why it is here.
function card(item, extra) {
  const start = item.moment ? item.moment.start : 0;
  const picture = item.thumbnail_url
    ? el("img", { src: item.thumbnail_url, alt: item.title })
    : el("span", { className: "noimg", textContent: item.has_video === false ? "♪ audio" : "no picture" });
  const thumb = el("button", { type: "button", className: "thumb", title: `Play ${item.title}`,
                               onclick: () => play(item, start) },
                   picture, item.moment ? el("span", { className: "at", textContent: clock(start) }) : null);
  const title = el("h3", {}, item.rank ? el("span", { className: "rank", textContent: `${item.rank}.` }) : null,
                   item.title);
  const more = el("button", { type: "button", className: "more", textContent: "More like this",
                              onclick: () => navigate({ similar: item.video_id }) });
  return el("li", { className: "card", dataset: { videoId: item.video_id, start: String(start) } },
            thumb, el("div", { className: "body" }, title, extra, more));
}

function play(item, start) {
  const video = $("video");
  $("player").hidden = false;
  $("playing-title").textContent = item.title;
  $("playing-moment").textContent = item.moment ? `from ${clock(start)}` : "";
  current = item;
  const seek = () => { video.currentTime = start; video.play().catch(() => {}); };
  if (video.dataset.videoId === item.video_id && video.readyState >= 1) {
    seek();
  } else {
    video.dataset.videoId = item.video_id;
    video.addEventListener("loadedmetadata", seek, { once: true });
    video.src = item.media_url;
  }
  $("player").scrollIntoView({ block: "nearest" });
}

function show(title, items, extra) {
  $("results-title").hidden = false;
  $("results-title").textContent = title;
  $("results").replaceChildren(...items.map((item) => card(item, extra(item))));
  $("status").textContent = items.length ? "" : "Nothing to show.";
}

async function render() {
  const params = new URLSearchParams(location.search);
  const q = params.get("q"), user = params.get("user"), similar = params.get("similar");
  $("q").value = q || "";
  $("user").value = user || "";
  $("results").replaceChildren();
  $("results-title").hidden = true;
  document.body.dataset.state = "loading";
  try {
    if (q) {
      $("status").textContent = "Searching…";
      const body = await api(`/search?${new URLSearchParams({ q, k: 12 })}`);
      show(`Results for “${q}”`, body.results, (hit) => momentText(hit.moment, hit.match));
    } else if (user) {
      $("status").textContent = "Loading picks…";
      const body = await api(`/users/${encodeURIComponent(user)}/recommendations?k=12`);
      show(`Picked for ${user}`, body.results, (pick) => el("p", { className: "reason", textContent: pick.reason }));
    } else if (similar) {
      const [video, body] = await Promise.all([api(`/videos/${encodeURIComponent(similar)}`),
                                               api(`/videos/${encodeURIComponent(similar)}/similar?k=12`)]);
      show(`More like “${video.title}”`, body.results,
           (hit) => el("p", { className: "reason", textContent: hit.reason }));
    } else {
      $("status").textContent = "Search in English or Chinese, or pick a user to see their recommendations.";
    }
    document.body.dataset.state = "ready";
  } catch (error) {
    $("status").textContent = `Error: ${error.message}`;
    document.body.dataset.state = "error";
  }
}

function navigate(params) {
  const query = new URLSearchParams(Object.entries(params).filter(([, v]) => v)).toString();
  history.pushState(null, "", query ? `/?${query}` : "/");
  render();
}

async function loadUsers() {
  try {
    const body = await api("/users");
    const select = $("user");
    for (const u of body.users) select.append(el("option", { value: u.user_id, textContent: u.user_id }));
    select.value = new URLSearchParams(location.search).get("user") || "";
  } catch (error) {
    $("status").textContent = `Error: ${error.message}`;
  }
}

$("search-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const q = $("q").value.trim();
  if (q) navigate({ q });
});
$("user").addEventListener("change", () => navigate({ user: $("user").value }));
$("more-like-this").addEventListener("click", () => current && navigate({ similar: current.video_id }));
window.addEventListener("popstate", render);
loadUsers();
render();
