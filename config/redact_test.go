package config

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"testing"
)

func TestRedact(t *testing.T) {
	_, perr := url.Parse("tcp://gate:s3cret@broker:x")
	for _, tc := range []struct{ in, want string }{
		{"tcp://gate:s3cret@broker:1883", "tcp://gate:xxxxx@broker:1883"},
		{"ssl://gate:p%40ss:w0rd@broker:8883/", "ssl://gate:xxxxx@broker:8883/"},
		{"tcp://gate@broker:1883", "tcp://gate@broker:1883"},
		{"tcp://broker:1883", "tcp://broker:1883"},
		{"connect to tcp://a:b@h:1 failed; retry tcp://c:d@h:2", "connect to tcp://a:xxxxx@h:1 failed; retry tcp://c:xxxxx@h:2"},
		{"mail ops@example.com", "mail ops@example.com"},
		{perr.Error(), `parse "tcp://gate:xxxxx@broker:x": invalid port ":x" after host`},
	} {
		if got := Redact(tc.in); got != tc.want {
			t.Errorf("Redact(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestPasswordNotInProblems: `config check` prints the problems, and a
// reload logs them: a broker URL's password must not be in them.
func TestPasswordNotInProblems(t *testing.T) {
	for _, broker := range []string{"http://gate:s3cret@broker:1883", "tcp://gate:s3cret@broker:x", "tcp://gate:s3cret@"} {
		_, err := Parse([]byte("mqtt:\n  broker: "+broker+"\n"), "t.yaml")
		if err == nil {
			t.Fatalf("%s accepted", broker)
		}
		if strings.Contains(err.Error(), "s3cret") || !strings.Contains(err.Error(), "mqtt.broker") {
			t.Errorf("problems for %s: %v", broker, err)
		}
	}
}

// TestLogRedacted: the daemon's logger (RedactAttr) scrubs passwords from
// messages, strings and errors alike.
func TestLogRedacted(t *testing.T) {
	var b bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&b, &slog.HandlerOptions{ReplaceAttr: RedactAttr}))
	err := fmt.Errorf("connect: %w", errors.New("dial tcp://gate:s3cret@h:1: refused"))
	log.Error("lost tcp://gate:s3cret@h:1", "broker", "tcp://gate:s3cret@h:1", "err", err, "n", 3)
	if out := b.String(); strings.Contains(out, "s3cret") || !strings.Contains(out, "gate:xxxxx@h:1") {
		t.Errorf("log line: %s", out)
	}
}

// TestEmbeddedListen: the built-in broker lets in whoever connects, so
// off loopback it needs credentials.
func TestEmbeddedListen(t *testing.T) {
	for _, tc := range []struct {
		yaml string
		ok   bool
	}{
		{"mqtt: {broker: embedded, embedded_listen: '127.0.0.1:1883'}", true},
		{"mqtt: {broker: embedded, embedded_listen: 'localhost:1883'}", true},
		{"mqtt: {broker: embedded, embedded_listen: '[::1]:1883'}", true},
		{"mqtt: {broker: embedded, embedded_listen: '0.0.0.0:1883'}", false},
		{"mqtt: {broker: embedded, embedded_listen: ':1883'}", false},
		{"mqtt: {broker: embedded, embedded_listen: '10.1.2.3:1883', username: gate}", false},
		{"mqtt: {broker: embedded, embedded_listen: '10.1.2.3:1883', username: gate, password: pw}", true},
		{"mqtt: {broker: embedded, embedded_listen: '0.0.0.0:1883', username: gate, password_file: /etc/pw}", true},
		{"mqtt: {broker: embedded, embedded_listen: 'nonsense'}", false},
	} {
		_, err := Parse([]byte(tc.yaml+"\n"), "t.yaml")
		if tc.ok && err != nil {
			t.Errorf("%s: %v", tc.yaml, err)
		}
		if !tc.ok && (err == nil || !strings.Contains(err.Error(), "mqtt.embedded_listen")) {
			t.Errorf("%s: %v, want a problem on mqtt.embedded_listen", tc.yaml, err)
		}
	}
}
