// Live updates: the Socket.IO connection to the board's room, and the tracking of one
// solve job at a time. Job progress arrives by Socket.IO; a slow poll of the job's status
// backs it up, so a job still finishes on screen when the socket is down.

import { api } from "./board_util.js";

const POLL_MS = 1500;
const TERMINAL = new Set(["succeeded", "failed", "cancelled"]);

/** Join the board's room; `handlers` maps event names to callbacks. Returns the socket,
 * or null when the Socket.IO client is not loaded. */
export function connectBoard(room, handlers, onState) {
  if (typeof window.io !== "function") {
    onState(false);
    return null;
  }
  const socket = window.io({ transports: ["websocket", "polling"] });
  // Live only once the server has let us into the room (it answers the join).
  socket.on("connect", () => socket.emit("join", { room }, (answer) => onState(Boolean(answer && answer.ok))));
  socket.on("disconnect", () => onState(false));
  socket.on("connect_error", () => onState(false));
  for (const [event, handler] of Object.entries(handlers)) socket.on(event, handler);
  return socket;
}

/** Follows one job until it ends: `onProgress(progress)`, then `onEnd(job)` once. */
export class JobTracker {
  constructor(apiBase, query, { onProgress, onEnd }) {
    this.apiBase = apiBase;
    this.query = query;
    this.onProgress = onProgress;
    this.onEnd = onEnd;
    this.jobId = null;
    this.timer = null;
    // A short job can end before the request that started it has answered: its end
    // event is kept here until start() learns the job's id.
    this.early = new Map();
  }

  get active() {
    return this.jobId !== null;
  }

  start(jobId) {
    this.stop();
    this.jobId = jobId;
    const ended = this.early.get(jobId);
    this.early.clear();
    if (ended) {
      window.setTimeout(() => this.finished(ended), 0);
      return;
    }
    this.timer = window.setInterval(() => this.poll(), POLL_MS);
  }

  /** Keep the end of a job not (yet) followed; false if it was already known. */
  remember(event) {
    if (this.early.has(event.job_id)) return false;
    this.early.set(event.job_id, event);
    return true;
  }

  stop() {
    if (this.timer !== null) window.clearInterval(this.timer);
    this.timer = null;
    this.jobId = null;
  }

  url(suffix = "") {
    const q = this.query ? `?${this.query}` : "";
    return `${this.apiBase}/jobs/${encodeURIComponent(this.jobId)}${suffix}${q}`;
  }

  async poll() {
    if (!this.jobId) return;
    const id = this.jobId;
    try {
      const job = await api("GET", this.url());
      if (id !== this.jobId) return;
      if (job.progress) this.onProgress({ job_id: id, status: job.status, ...job.progress });
      if (TERMINAL.has(job.status)) this.finish(job);
    } catch {
      // A missed poll is retried on the next tick; the socket may still deliver the end.
    }
  }

  /** A progress event from the socket, for whichever job it is about. */
  progress(event) {
    if (event.job_id === this.jobId) this.onProgress({ status: "running", ...event });
  }

  /** A finished event from the socket (it carries no error text: fetch the job for it). */
  async finished(event) {
    if (event.job_id !== this.jobId) return;
    if (event.status === "failed") {
      await this.poll();
      return;
    }
    this.finish({ id: event.job_id, status: event.status, plan_version_id: event.plan_version_id });
  }

  finish(job) {
    if (job.id !== undefined && job.id !== this.jobId) return;
    this.stop();
    this.onEnd(job);
  }

  async cancel() {
    if (!this.jobId) return;
    await api("POST", this.url("/cancel"), {});
  }
}
