// Package layering holds the test that keeps the project's layers apart:
// the detector, the drivers and the buffer are libraries the agent uses,
// and none of them may reach back into the agent, the config or the
// commands.
package layering
