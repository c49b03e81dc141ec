package agent

import (
	"crypto/sha256"
	"encoding/hex"
	"time"

	"github.com/gatescan/gatescan/agent/inspection"
	"github.com/gatescan/gatescan/buffer"
	"github.com/gatescan/gatescan/config"
	"github.com/gatescan/gatescan/drivers/scanin"
)

// scanIdentity is how the buffer knows a scan. A scan is identified by its
// lane, scan id, scan time and the XXH64 of its images: the same files
// delivered again are the same scan (committed once, cleaned up after), any
// other scan under an id already committed (a scanner's counter reset, two
// lanes numbering alike) is a scan of its own and is inspected.
type scanIdentity struct {
	// key is the scan id for the first scan committed under it, else the
	// scan id and a digest of the identity: the key its commit, attempts
	// and inspection ids derive from.
	key string
	// done: committed already under key; quarantined, as a quarantined
	// scan.
	done, quarantined bool
	// reused is the identity of the other scan committed under this
	// scan's id, when there is one.
	reused *buffer.ScanIdentity
	scan   *scanin.Scan
}

// identify finds the key of scan and whether it is committed. Only a scan
// whose id is taken has its images read for their digest here; the others
// are hashed as they are decoded.
func (a *Agent) identify(scan *scanin.Scan) (scanIdentity, error) {
	return identify(a.store, scan)
}

// ScanKey returns the key a scan is (or would be) committed under in
// store: `gatescan replay` finds a kept scan's stored results by it.
func ScanKey(store *buffer.Store, scan *scanin.Scan) (string, error) {
	id, err := identify(store, scan)
	return id.key, err
}

func identify(store *buffer.Store, scan *scanin.Scan) (scanIdentity, error) {
	sc := scan.Sidecar
	id := scanIdentity{key: sc.ScanID, scan: scan}
	prior, found, err := store.Committed(sc.ScanID)
	if err != nil || !found {
		return id, err
	}
	self, err := id.of(sc)
	if err != nil {
		return id, err
	}
	if prior.Identity.Same(self) {
		id.done, id.quarantined = true, prior.Quarantined
		return id, nil
	}
	// A record of an older version says nothing of its scan: this one is
	// inspected rather than taken for it.
	id.reused = prior.Identity
	if id.reused == nil {
		id.reused = &buffer.ScanIdentity{}
	}
	h := sha256.New()
	for _, s := range []string{self.Lane, self.ScannedAt.UTC().Format(time.RFC3339Nano), self.Images} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	id.key = sc.ScanID + "~" + hex.EncodeToString(h.Sum(nil)[:8])
	again, found, err := store.Committed(id.key)
	if err != nil {
		return id, err
	}
	id.done, id.quarantined = found, again.Quarantined
	return id, nil
}

// of is the identity stored with the scan's commit.
func (id scanIdentity) of(sc *scanin.Sidecar) (*buffer.ScanIdentity, error) {
	digest, err := id.scan.Digest()
	if err != nil {
		return nil, err
	}
	return &buffer.ScanIdentity{Lane: sc.Lane, ScannedAt: sc.ScannedAt.UTC(), Images: digest}, nil
}

// name gives the results of a scan whose id was reused inspection ids of
// their own (derived from its key as inspection.ID derives them from a
// scan id): ids stay unique across the two scans, and stable for this one.
func (id scanIdentity) name(cfg *config.Config, results []inspection.Result) {
	if id.key == id.scan.Sidecar.ScanID {
		return
	}
	for i := range results {
		results[i].InspectionID = inspection.ID(cfg.Site, cfg.Gate, id.key, i)
	}
}
