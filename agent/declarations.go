package agent

import (
	"context"
	"errors"
	"os"
	"path/filepath"

	"github.com/gatescan/gatescan/drivers/declaration"
	"github.com/gatescan/gatescan/drivers/inbox"
)

// storeDeclaration validates and stores one declaration; a newer one for
// the same container replaces the older.
func (a *Agent) storeDeclaration(data []byte) (*declaration.Declaration, error) {
	d, err := declaration.Parse(data)
	if err != nil {
		return nil, err
	}
	if err := a.store.StoreDeclaration(d.ContainerID, data, a.Config().Declarations.Expiry); err != nil {
		return nil, err
	}
	a.metrics.Declarations.WithLabelValues("accepted").Inc()
	a.log.Info("declaration stored", "declaration_id", d.DeclarationID, "container_id", d.ContainerID, "items", len(d.Items))
	a.wakeWaitingScans()
	return d, nil
}

// declarationFromMQTT runs on the MQTT client's goroutine.
func (a *Agent) declarationFromMQTT(payload []byte) {
	if _, err := a.storeDeclaration(payload); err != nil {
		a.metrics.Declarations.WithLabelValues("rejected").Inc()
		a.log.Error("declaration from MQTT rejected", "err", err, "bytes", len(payload))
	}
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
		if _, err := a.storeDeclaration(b); err != nil {
			a.metrics.Declarations.WithLabelValues("store_failed").Inc()
			a.log.Error("declaration valid but not stored; left in the inbox, will retry", "file", filepath.Base(path), "err", err, "retry_in", cfg.Scanner.Rescan)
			return
		}
		_ = os.Remove(path) // stored: the file has served its purpose
	})
	if err != nil {
		a.log.Error("declarations inbox stopped", "err", err)
	}
}
