package config

import (
	"log/slog"
	"regexp"
	"strings"
)

// reSecretURL finds the password of a URL's user info (scheme://user:pass@),
// wherever it stands in a text: an error from url.Parse or a client library
// quotes the whole URL.
var reSecretURL = regexp.MustCompile(`([A-Za-z][A-Za-z0-9+.-]*://[^\s:@/"']*):[^\s@/"']*@`)

// Redact returns s with the password of every user:pass@ URL in it
// replaced by "xxxxx", so that a broker URL can be logged or printed.
func Redact(s string) string {
	if !strings.Contains(s, "@") {
		return s
	}
	return reSecretURL.ReplaceAllString(s, "${1}:xxxxx@")
}

// RedactAttr is a slog.HandlerOptions.ReplaceAttr that applies Redact to
// every message, string and error a log line carries: no code path has to
// remember that a broker URL may hold a password.
func RedactAttr(_ []string, a slog.Attr) slog.Attr {
	switch a.Value.Kind() {
	case slog.KindString:
		if s := a.Value.String(); strings.Contains(s, "@") {
			a.Value = slog.StringValue(Redact(s))
		}
	case slog.KindAny:
		if err, ok := a.Value.Any().(error); ok {
			if s := err.Error(); strings.Contains(s, "@") {
				a.Value = slog.StringValue(Redact(s))
			}
		}
	}
	return a
}
