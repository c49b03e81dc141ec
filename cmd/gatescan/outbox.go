package main

import (
	"encoding/json"
	"flag"
	"io"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/gatescan/gatescan/agent"
	"github.com/gatescan/gatescan/buffer"
	"github.com/gatescan/gatescan/config"
)

// outboxStatus is what `gatescan outbox status` prints.
type outboxStatus struct {
	Dir string `json:"dir"`
	// Source is "daemon" when the running daemon answered, "copy" when a
	// copy of the buffer was read.
	Source string `json:"source"`
	buffer.Stats
}

// cmdOutboxStatus reports the state of a buffer's outbox. Given the
// config, it asks the daemon running with it first (its HTTP API: exact,
// and instant however large the buffer). Otherwise it reads a copy of the
// buffer, never the directory itself: the daemon holds Badger's lock on
// it, and a tool holding it would keep a restarting daemon out.
func cmdOutboxStatus(fs *flag.FlagSet, args []string, stdout, stderr io.Writer) error {
	dir := fs.String("dir", "", "the buffer directory (buffer.dir)")
	cfgPath := fs.String("config", "", "take the directory and the encryption key from this config")
	keyFile := fs.String("key-file", "", "the buffer's encryption key (buffer.encryption_key_file)")
	if err := parseFlagsOnly(fs, args); err != nil {
		return err
	}
	if *cfgPath != "" {
		c, err := config.Load(*cfgPath)
		if err != nil {
			return badInput("config %s: %v", *cfgPath, err)
		}
		if *dir == "" || *dir == c.Buffer.Dir {
			if st, ok := outboxFromDaemon(c); ok {
				return writeOutbox(stdout, outboxStatus{Dir: c.Buffer.Dir, Source: "daemon", Stats: st})
			}
		}
		if *dir == "" {
			*dir = c.Buffer.Dir
		}
		if *keyFile == "" {
			*keyFile = c.Buffer.EncryptionKeyFile
		}
	}
	if *dir == "" {
		return badInput("outbox status: give --dir DIR or --config FILE")
	}
	if _, err := os.Stat(*dir); err != nil {
		return badInput("outbox status: %v", err)
	}
	var o buffer.Options
	if *keyFile != "" {
		key, err := agent.ReadKeyFile("--key-file", *keyFile)
		if err != nil {
			return badInput("outbox status: %v", err)
		}
		o.EncryptionKey = key
	}
	s, done, err := buffer.OpenCopy(*dir, "", o)
	if err != nil {
		return err
	}
	defer done()
	st, err := s.Stats()
	if err != nil {
		return err
	}
	// The copy is written densely; the original's sparse logs take less.
	if u, err := buffer.DiskUsage(*dir); err == nil {
		st.DiskBytes, st.LSMBytes, st.VLogBytes = u.Total, u.LSM, u.VLog
	}
	return writeOutbox(stdout, outboxStatus{Dir: *dir, Source: "copy", Stats: st})
}

func writeOutbox(w io.Writer, st outboxStatus) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(st)
}

// outboxFromDaemon asks the daemon running with config c for its outbox
// through /api/status on http.listen (with http.token). ok is false when no
// daemon of that site and gate answers there.
func outboxFromDaemon(c *config.Config) (st buffer.Stats, ok bool) {
	host, port, err := net.SplitHostPort(c.HTTP.Listen)
	if err != nil || port == "0" {
		return st, false
	}
	switch host {
	case "", "0.0.0.0":
		host = "127.0.0.1"
	case "::":
		host = "::1"
	}
	req, err := http.NewRequest("GET", "http://"+net.JoinHostPort(host, port)+"/api/status", nil)
	if err != nil {
		return st, false
	}
	if token, err := c.HTTP.LoadToken(); err == nil && token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := (&http.Client{Timeout: 3 * time.Second}).Do(req)
	if err != nil {
		return st, false
	}
	defer resp.Body.Close()
	var s struct {
		Site, Gate string
		Outbox     struct {
			buffer.Stats
			Error string `json:"error"`
		} `json:"outbox"`
	}
	if resp.StatusCode != http.StatusOK || json.NewDecoder(io.LimitReader(resp.Body, 16<<20)).Decode(&s) != nil ||
		s.Site != c.Site || s.Gate != c.Gate || s.Outbox.Error != "" {
		return st, false
	}
	return s.Outbox.Stats, true
}
