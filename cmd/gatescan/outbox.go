package main

import (
	"encoding/json"
	"flag"
	"io"
	"os"

	"github.com/gatescan/gatescan/buffer"
	"github.com/gatescan/gatescan/config"
)

// outboxStatus is what `gatescan outbox status` prints.
type outboxStatus struct {
	Dir string `json:"dir"`
	buffer.Stats
}

// cmdOutbox reports the state of a buffer's outbox. It reads a copy of the
// buffer, never the directory itself: the daemon holds Badger's lock on it,
// and a tool holding it would keep a restarting daemon out.
func cmdOutbox(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "status" {
		return badInput("outbox: use `outbox status --dir DIR` (or --config FILE)")
	}
	fs := flag.NewFlagSet("outbox status", flag.ContinueOnError)
	dir := fs.String("dir", "", "the buffer directory (buffer.dir)")
	cfgPath := fs.String("config", "", "take the directory and the encryption key from this config")
	keyFile := fs.String("key-file", "", "the buffer's encryption key (buffer.encryption_key_file)")
	pos, err := parse(fs, args[1:])
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return badInput("outbox status: unexpected %q", pos[0])
	}
	if *cfgPath != "" {
		c, err := config.Load(*cfgPath)
		if err != nil {
			return badInput("config %s: %v", *cfgPath, err)
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
		if o.EncryptionKey, err = buffer.LoadKey(*keyFile); err != nil {
			return badInput("outbox status: %v", err)
		}
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
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(outboxStatus{Dir: *dir, Stats: st})
}
