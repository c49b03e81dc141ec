package agent

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gatescan/gatescan/buffer"
	"github.com/gatescan/gatescan/internal/agenttest"
)

func stored(a *Agent, containerID string) bool {
	d, err := a.joiner().declaration(containerID)
	return err == nil && d != nil
}

func noRejected(t *testing.T, inbox string) {
	t.Helper()
	if es, _ := os.ReadDir(filepath.Join(inbox, "rejected")); len(es) > 0 {
		t.Errorf("%d files rejected: %v", len(es), es[0].Name())
	}
}

// TestDeclarationWrittenInPlace: a customs system that writes a
// declaration in place, in two goes, has it stored, not rejected half
// written.
func TestDeclarationWrittenInPlace(t *testing.T) {
	cfg := scanConfig(t, time.Second, "")
	cfg.Declarations.SettleTime = 500 * time.Millisecond
	a := runAgent(t, cfg)
	decl := []byte(fmt.Sprintf(declJSON, "HALF", "CSQU3054383"))
	p := filepath.Join(cfg.Declarations.Inbox, "half.json")
	if err := os.WriteFile(p, decl[:len(decl)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	time.Sleep(250 * time.Millisecond) // the customs system is slow
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write(decl[len(decl)/2:])
	f.Close()
	agenttest.Eventually(t, 10*time.Second, "declaration stored", func() bool { return stored(a, "CSQU3054383") })
	noRejected(t, cfg.Declarations.Inbox)
}

// TestDeclarationKeptWhenNotStored: a valid declaration the buffer cannot
// store (here read only; a full disk alike) stays in the inbox, is not
// rejected, and is stored once the buffer takes writes again.
func TestDeclarationKeptWhenNotStored(t *testing.T) {
	cfg := scanConfig(t, time.Second, "")
	st, err := buffer.Open(cfg.Buffer.Dir, buffer.Options{})
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	ro, err := buffer.Open(cfg.Buffer.Dir, buffer.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	a := New(cfg, quietLog(), Options{})
	a.store, a.scans = ro, newScanQueue()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { a.watchDeclarations(ctx); close(done) }()
	agenttest.Put(t, cfg.Declarations.Inbox, "d.json", []byte(fmt.Sprintf(declJSON, "KEEP", "CSQU3054383")))
	time.Sleep(time.Second) // first sight and a few rescans
	cancel()
	<-done
	ro.Close()
	if _, err := os.Stat(filepath.Join(cfg.Declarations.Inbox, "d.json")); err != nil {
		t.Fatalf("valid declaration not kept in the inbox: %v", err)
	}
	noRejected(t, cfg.Declarations.Inbox)
	if n := count(a.metrics.Declarations.WithLabelValues("store_failed")); n < 2 {
		t.Errorf("%v store failures counted, want one per try", n)
	}

	a = runAgent(t, cfg)
	agenttest.Eventually(t, 10*time.Second, "declaration stored once the buffer writes", func() bool { return stored(a, "CSQU3054383") })
}

// TestSpecialFilesInInboxes: a FIFO in each inbox and a link in the
// declarations inbox block nothing: they go to rejected/ saying what they
// are, and the declaration and scan that follow are stored and inspected.
func TestSpecialFilesInInboxes(t *testing.T) {
	cfg := scanConfig(t, 30*time.Second, "")
	a := runAgent(t, cfg)
	time.Sleep(300 * time.Millisecond) // the watchers watching
	for _, d := range []string{cfg.Scanner.Inbox, cfg.Declarations.Inbox} {
		if err := syscall.Mkfifo(filepath.Join(d, "fifo.json"), 0o644); err != nil {
			t.Skip(err)
		}
	}
	secret := filepath.Join(t.TempDir(), "secret.json")
	os.WriteFile(secret, []byte(fmt.Sprintf(declJSON, "LINK", "MSCU1234565")), 0o644)
	os.Symlink(secret, filepath.Join(cfg.Declarations.Inbox, "link.json"))
	time.Sleep(200 * time.Millisecond) // the FIFOs seen first
	agenttest.Put(t, cfg.Declarations.Inbox, "d.json", []byte(fmt.Sprintf(declJSON, "REAL", "CSQU3054383")))
	agenttest.TinyScan(t, cfg.Scanner.Inbox, "scan", "after-fifo", "L1", time.Now(), "CSQU3054383")
	r := waitResult(t, a, "after-fifo", 20*time.Second)
	if r.DeclarationID != "D-REAL" {
		t.Errorf("scan inspected with declaration %q, want D-REAL", r.DeclarationID)
	}
	if stored(a, "MSCU1234565") {
		t.Error("declaration read through a symbolic link")
	}
	for _, c := range []struct{ dir, name, what string }{
		{cfg.Scanner.Inbox, "fifo", "FIFO"}, {cfg.Declarations.Inbox, "fifo", "FIFO"}, {cfg.Declarations.Inbox, "link", "symbolic link"},
	} {
		b, err := os.ReadFile(filepath.Join(c.dir, "rejected", c.name+".error"))
		if err != nil || !strings.Contains(string(b), c.what) {
			t.Errorf("%s/%s: rejected with %q (%v), want it to say %s", filepath.Base(c.dir), c.name, b, err, c.what)
		}
	}
	if _, err := os.Lstat(secret); err != nil {
		t.Errorf("the link's target was touched: %v", err)
	}
}
