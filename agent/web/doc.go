// Package web is the agent's face to the people and tools around the gate
// box: the HTTP server with its health checks, /metrics, the status API and
// the technicians' page (server-rendered, its templates, style sheet and
// script embedded), and the ring of recent inspections the page shows.
//
// It reads the agent only through Source, so that the daemon's core need
// not know how it is shown, and the page cannot reach into the pipeline.
package web
