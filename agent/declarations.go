package agent

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/gatescan/gatescan/drivers/declaration"
	"github.com/gatescan/gatescan/drivers/inbox"
)

// storeDeclaration validates and stores one declaration from the inbox; a
// newer one for the same container replaces the older (putDeclaration).
func (a *Agent) storeDeclaration(data []byte) (*declaration.Declaration, error) {
	d, invalid, err := a.putDeclaration(data, false)
	if invalid != nil {
		return nil, invalid
	}
	return d, err
}

// putDeclaration validates a declaration and stores it unless the one
// stored for its container is newer. invalid is why the declaration itself
// is bad (sending it again would not help); err is why a valid one could
// not be stored. Declarations are ordered by their own issued_at or
// revision whatever the order they arrive in; without either the later
// arrival wins, except a retained copy the broker replays after a
// reconnect, which never replaces what is stored.
func (a *Agent) putDeclaration(data []byte, retained bool) (d *declaration.Declaration, invalid, err error) {
	d, invalid = declaration.Parse(data)
	if invalid != nil {
		return nil, invalid, nil
	}
	// One at a time: paho runs handlers concurrently, and an amendment
	// must not be overwritten by the version it replaces arriving alongside.
	a.declMu.Lock()
	defer a.declMu.Unlock()
	why := ""
	stored, err := a.store.StoreDeclarationIf(d.ContainerID, data, a.Config().Declarations.Expiry, func(old []byte) bool {
		od, err := declaration.Parse(old)
		if err != nil {
			return true // a stored copy that no longer parses: replace it
		}
		newer, decided := d.Supersedes(od)
		switch {
		case decided && !newer:
			why = fmt.Sprintf("the stored version (declaration %s, issued_at %s, revision %d) is as new or newer", od.DeclarationID, stamp(od.IssuedAt), od.Revision)
		case !decided && retained:
			why = "a retained copy replayed by the broker, and neither it nor the stored version carries issued_at or revision"
		default:
			return true
		}
		return false
	})
	if err != nil {
		a.metrics.Declarations.WithLabelValues("store_failed").Inc()
		a.log.Error("declaration not stored", "declaration_id", d.DeclarationID, "container_id", d.ContainerID, "err", err)
		return d, nil, fmt.Errorf("store declaration %s of %s: %w", d.DeclarationID, d.ContainerID, err)
	}
	if !stored {
		a.metrics.Declarations.WithLabelValues("stale").Inc()
		a.log.Info("older declaration ignored", "declaration_id", d.DeclarationID, "container_id", d.ContainerID,
			"issued_at", stamp(d.IssuedAt), "revision", d.Revision, "retained", retained, "why", why)
		return d, nil, nil
	}
	a.metrics.Declarations.WithLabelValues("accepted").Inc()
	a.log.Info("declaration stored", "declaration_id", d.DeclarationID, "container_id", d.ContainerID, "items", len(d.Items),
		"issued_at", stamp(d.IssuedAt), "revision", d.Revision)
	a.wakeWaitingScans()
	return d, nil, nil
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return "none"
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// declarationFromMQTT runs on one of the MQTT client's goroutines. It
// returns an error, and the message stays unacknowledged, only when a
// valid declaration could not be stored.
func (a *Agent) declarationFromMQTT(payload []byte, retained bool) error {
	_, invalid, err := a.putDeclaration(payload, retained)
	if invalid != nil {
		a.metrics.Declarations.WithLabelValues("rejected").Inc()
		a.log.Error("declaration from MQTT rejected", "err", invalid, "bytes", len(payload))
	}
	return err
}

// watchDeclarations stores the declaration files of the inbox once they
// have settled. Only what is invalid (not a regular file, not a valid
// declaration) goes to rejected/; a file that cannot be read or stored
// (the disk full, the buffer failing) stays where it is and is tried
// again at the next rescan: it is the customs system's only copy.
func (a *Agent) watchDeclarations(ctx context.Context) {
	cfg := a.Config()
	w := &inbox.Watcher{Dir: cfg.Declarations.Inbox, Suffix: ".json", Rescan: cfg.Scanner.Rescan, Settle: cfg.Declarations.SettleTime, Log: a.log}
	reject := func(path string, err error) {
		a.metrics.Declarations.WithLabelValues("rejected").Inc()
		a.log.Error("declaration file rejected", "file", filepath.Base(path), "err", err)
		if rerr := inbox.Reject(cfg.Declarations.Inbox, err, path); rerr != nil {
			a.log.Error("cannot move rejected declaration", "file", path, "err", rerr)
		}
	}
	err := w.Watch(ctx, func(path string) {
		b, err := inbox.ReadRegular(path, declaration.MaxBytes)
		switch {
		case errors.Is(err, os.ErrNotExist):
			return
		case errors.Is(err, inbox.ErrNotRegular) || errors.Is(err, inbox.ErrTooLarge):
			reject(path, err)
			return
		case err != nil:
			a.log.Error("declaration file unreadable; will retry", "file", filepath.Base(path), "err", err, "retry_in", cfg.Scanner.Rescan)
			return
		}
		if _, err := declaration.Parse(b); err != nil {
			reject(path, err)
			return
		}
		if _, err := a.storeDeclaration(b); err != nil { // counted as store_failed by putDeclaration
			a.log.Error("declaration valid but not stored; left in the inbox, will retry", "file", filepath.Base(path), "err", err, "retry_in", cfg.Scanner.Rescan)
			return
		}
		_ = os.Remove(path) // stored: the file has served its purpose
	})
	if err != nil {
		a.log.Error("declarations inbox stopped", "err", err)
	}
}
