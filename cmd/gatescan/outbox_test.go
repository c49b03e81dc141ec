package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatescan/gatescan/agent"
	"github.com/gatescan/gatescan/buffer"
	"github.com/gatescan/gatescan/config"
	"github.com/gatescan/gatescan/internal/agenttest"
)

// TestOutboxStatus reads the outbox of a buffer another process holds open,
// as the daemon does, plain and encrypted.
func TestOutboxStatus(t *testing.T) {
	key := bytes.Repeat([]byte{7}, 32)
	keyFile := filepath.Join(t.TempDir(), "buffer.key")
	os.WriteFile(keyFile, []byte(fmt.Sprintf("%x\n", key)), 0o600)
	for _, c := range []struct {
		name string
		key  []byte
		args []string
		err  string
	}{
		{name: "plain"},
		{name: "encrypted", key: key, args: []string{"--key-file", keyFile}},
		{name: "encrypted without the key", key: key, err: "encrypted"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			s, err := buffer.Open(dir, buffer.Options{EncryptionKey: c.key, SyncWrites: true})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			for i := range 5 {
				msgs := []buffer.Message{{Topic: "i", QoS: 1, Payload: []byte("r")}, {Topic: "a", QoS: 1, Payload: []byte("r"), Alert: true}}
				if _, err := s.CommitScan(fmt.Sprint("scan-", i), nil, msgs); err != nil {
					t.Fatal(err)
				}
			}
			if err := s.Ack(4); err != nil {
				t.Fatal(err)
			}
			var out, errb bytes.Buffer
			err = dispatch(append([]string{"outbox", "status", "--dir", dir}, c.args...), &out, &errb)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("error %v, want one saying %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("outbox status: %v (%s)", err, errb.String())
			}
			var st outboxStatus
			if err := json.Unmarshal(out.Bytes(), &st); err != nil {
				t.Fatalf("output is not JSON: %v\n%s", err, out.String())
			}
			if st.Pending != 6 || st.PendingAlerts != 3 || st.Kept != 4 || st.LastSeq != 10 || st.Oldest.IsZero() || st.DiskBytes == 0 || st.Dir != dir {
				t.Errorf("status %+v: want 6 pending (3 alerts), 4 kept, last 10", st)
			}
			// The holder's store is untouched and still its own.
			if _, err := s.CommitScan("after", nil, []buffer.Message{{Topic: "i", Payload: []byte("r")}}); err != nil {
				t.Errorf("the store in use broke: %v", err)
			}
		})
	}
	var out, errb bytes.Buffer
	if err := dispatch([]string{"outbox", "status"}, &out, &errb); err == nil || !strings.Contains(err.Error(), "--dir") {
		t.Errorf("no directory: %v, want an error naming --dir", err)
	}
	if err := dispatch([]string{"outbox", "status", "--dir", t.TempDir()}, &out, &errb); err == nil || !strings.Contains(err.Error(), "not a gatescan buffer") {
		t.Errorf("empty directory: %v, want it called not a buffer", err)
	}
}

// TestOutboxStatusFromDaemon: with the config of a running daemon, the
// status comes from the daemon itself (no copy), with its token; with the
// daemon stopped, from a copy of its buffer.
func TestOutboxStatusFromDaemon(t *testing.T) {
	dir := t.TempDir()
	addr := agenttest.FreeAddr(t)
	yaml := fmt.Sprintf(`site: ob-port
gate: g7
mqtt: {broker: "tcp://127.0.0.1:1", reconnect_min: 1s, reconnect_max: 2s}
buffer: {dir: %q, sync_writes: false}
scanner: {inbox: %q}
declarations: {inbox: %q}
http: {listen: %q, token: secret-token}
lanes:
  - id: L1
`, filepath.Join(dir, "buffer"), filepath.Join(dir, "scans"), filepath.Join(dir, "decl"), addr)
	cfgPath := filepath.Join(dir, "gatescan.yaml")
	if err := os.WriteFile(cfgPath, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	stop := agenttest.Start(t, agent.New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), agent.Options{}))
	status := func() outboxStatus {
		t.Helper()
		var out, errb bytes.Buffer
		if err := dispatch([]string{"outbox", "status", "--config", cfgPath}, &out, &errb); err != nil {
			t.Fatalf("outbox status: %v (%s)", err, errb.String())
		}
		var st outboxStatus
		if err := json.Unmarshal(out.Bytes(), &st); err != nil {
			t.Fatalf("output is not JSON: %v\n%s", err, out.String())
		}
		return st
	}
	st := status()
	if st.Source != "daemon" || st.Dir != cfg.Buffer.Dir || st.DiskBytes == 0 {
		t.Errorf("running daemon: status %+v, want it from the daemon", st)
	}
	stop()
	if cp := status(); cp.Source != "copy" || cp.Dir != cfg.Buffer.Dir || cp.Pending != st.Pending || cp.LastSeq != st.LastSeq {
		t.Errorf("daemon stopped: status %+v, want the same outbox (%+v) read from a copy", cp, st)
	}
}
