// Package scaletest provides an indicator protocol for the tests of what
// carries readings (serial lines, simulators), the same whatever protocols
// package scale has, as net/http/httptest does for HTTP.
package scaletest
