package agent_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gatescan/gatescan/agent"
	"github.com/gatescan/gatescan/agent/publish"
	"github.com/gatescan/gatescan/agent/web"
	"github.com/gatescan/gatescan/buffer"
	"github.com/gatescan/gatescan/config"
	"github.com/gatescan/gatescan/internal/agenttest"
	"github.com/gatescan/gatescan/internal/mqtttest"
	"github.com/gatescan/gatescan/internal/testbroker"
)

// The hostile-conditions part of the fault suite: the built binary against
// a broker that refuses large packets, and on a disk that fills up.

// writeNoisyScan writes a scan whose annotated image takes about 150 kB,
// over a 100 kB packet limit.
func writeNoisyScan(t testing.TB, inbox, id string) {
	t.Helper()
	agenttest.BlockScan(t, inbox, id, id, "L1", time.Now(), agenttest.NoisyBlock)
}

// hostileDaemon writes a fault config with extra mqtt and buffer keys,
// listening on a known address, and starts the binary on it.
func hostileDaemon(t *testing.T, bin, dir, broker, mqttExtra, bufferExtra string) (*config.Config, *daemon, string) {
	t.Helper()
	cfg, cfgPath := faultConfig(t, dir, broker, bufferExtra)
	addr := agenttest.FreeAddr(t)
	yaml, _ := os.ReadFile(cfgPath)
	yaml = bytes.Replace(yaml, []byte(`listen: "127.0.0.1:0"`), []byte(`listen: "`+addr+`"`), 1)
	yaml = bytes.Replace(yaml, []byte("reconnect_max: 1s}"), []byte("reconnect_max: 1s"+mqttExtra+"}"), 1)
	if err := os.WriteFile(cfgPath, yaml, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := config.Load(cfgPath); err != nil {
		t.Fatalf("fault config: %v", err)
	}
	d := startDaemon(t, bin, cfgPath)
	agenttest.Eventually(t, 30*time.Second, "daemon serving", func() bool { return alive(addr) })
	return cfg, d, addr
}

// alive reports whether the daemon at addr answers its health check.
func alive(addr string) bool {
	resp, err := http.Get("http://" + addr + "/healthz")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == 200
}

// daemonStatus is the part of /api/status these tests read.
type daemonStatus struct {
	Outbox web.OutboxStatus `json:"outbox"`
	MQTT   publish.State    `json:"mqtt"`
}

func getStatus(t *testing.T, addr string) (st daemonStatus) {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/api/status")
	if err != nil {
		t.Fatalf("daemon not answering: %v", err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	return st
}

func hasProblem(ps []publish.Problem, code string) bool {
	for _, p := range ps {
		if p.Code == code {
			return true
		}
	}
	return false
}

// lastStatus is the latest retained status the control room received.
func lastStatus(t *testing.T, in *mqtttest.Recorder, topics publish.Topics) publish.Status {
	t.Helper()
	var st publish.Status
	ps := in.Payloads(topics.Status())
	if len(ps) > 0 {
		if err := json.Unmarshal(ps[len(ps)-1], &st); err != nil {
			t.Fatal(err)
		}
	}
	return st
}

func running(d *daemon) bool {
	select {
	case <-d.done:
		return false
	default:
		return true
	}
}

// TestBrokerPacketLimit: mosquitto with max_packet_size 100000 closes the
// connection of a client that sends a bigger packet, so the annotated
// image of a noisy scan (about 150 kB) would block the outbox for ever.
// The daemon drops each such image after max_send_attempts, reports it on
// …/dropped and counts it; every result and alert arrives, and so do the
// images that fit. The broker URL carries a password: it never reaches
// the daemon's log.
func TestBrokerPacketLimit(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := agenttest.BuildBinary(t)
	b := testbroker.StartOpts(t, testbroker.Options{Extra: "max_packet_size 100000"})
	broker := fmt.Sprintf("tcp://gate:s3cret-pw@127.0.0.1:%d", b.Port)
	dir := t.TempDir()
	cfg, _ := faultConfig(t, dir, broker, "")
	topics := publish.NewTopics(cfg.Site, cfg.Gate)
	in := mqtttest.Listen(t, b.URL(), "packet-room", topics.Base+"/#")
	cfg, d, addr := hostileDaemon(t, bin, dir, broker, ", max_send_attempts: 3", "")
	scans := []string{"big-1", "small-1", "big-2", "small-2", "big-3"}
	for _, id := range scans {
		if strings.HasPrefix(id, "big") {
			writeNoisyScan(t, cfg.Scanner.Inbox, id)
		} else {
			writeTinyScan(t, cfg.Scanner.Inbox, id)
		}
	}
	agenttest.Eventually(t, 120*time.Second, "outbox delivered past the refused images", func() bool {
		return inboxEmpty(t, cfg.Scanner.Inbox) && getStatus(t, addr).Outbox.Pending == 0
	})
	got := results(t, in, topics.Inspections())
	order := distinct(t, cfg, got, scans)
	var dropped []string
	agenttest.Eventually(t, 10*time.Second, "drop reports", func() bool { return len(in.Payloads(topics.Dropped())) >= 3 })
	for _, p := range in.Payloads(topics.Dropped()) {
		var r agent.DropReport
		if err := json.Unmarshal(p, &r); err != nil {
			t.Fatal(err)
		}
		if r.Reason != "broker_refused" || len(r.Undelivered) != 1 || !r.Undelivered[0].Image || !strings.Contains(r.Why, "3 times") {
			t.Errorf("drop report %s", p)
			continue
		}
		dropped = append(dropped, r.Undelivered[0].Ref)
	}
	for _, r := range order {
		big := strings.HasPrefix(r.ScanID, "big")
		arrived := len(in.Payloads(topics.Image(r.InspectionID))) > 0
		reported := containsPayload([][]byte{[]byte(strings.Join(dropped, ","))}, r.InspectionID)
		switch {
		case big && (arrived || !reported):
			t.Errorf("%s: image arrived %v, reported dropped %v: want dropped and reported", r.ScanID, arrived, reported)
		case !big && (!arrived || reported):
			t.Errorf("%s: image arrived %v, reported dropped %v: want delivered", r.ScanID, arrived, reported)
		}
		if r.Verdict != "clear" && !containsPayload(in.Payloads(topics.Alerts()), r.InspectionID) {
			t.Errorf("%s: its %s alert did not arrive", r.ScanID, r.Verdict)
		}
	}
	st := getStatus(t, addr)
	if st.MQTT.Refused != 3 || st.MQTT.Stuck != nil || st.Outbox.Dropped != 3 {
		t.Errorf("status: %d images refused, stuck %+v, %d dropped: want 3, nothing stuck, 3", st.MQTT.Refused, st.MQTT.Stuck, st.Outbox.Dropped)
	}
	if !running(d) || !alive(addr) {
		t.Fatal("the daemon died")
	}
	d.kill()
	if log := d.log.String(); strings.Contains(log, "s3cret-pw") {
		t.Errorf("the broker password is in the daemon's log:\n%s", tail(log, 20))
	} else if !strings.Contains(log, "gate:xxxxx@127.0.0.1") {
		t.Errorf("the broker is not named (without its password) in the log:\n%s", tail(log, 20))
	}
}

// fill writes a ballast file so that about want bytes stay free on the
// file system of dir.
func fill(t *testing.T, ballast string, want int64) {
	t.Helper()
	free, err := buffer.FreeBytes(filepath.Dir(ballast))
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(ballast, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 1<<20)
	for n := free - want; n > 0; n -= int64(len(chunk)) {
		if _, err := f.Write(chunk[:min(int64(len(chunk)), n)]); err != nil {
			t.Fatalf("ballast: %v", err)
		}
	}
}

// TestDiskFullTmpfs runs the binary with its buffer and inbox on a 160 MB
// tmpfs (buffer.min_free_mb 60) that a ballast file fills: with room,
// results and images are kept; under the floor, inspection goes on,
// results are kept and delivered and images are not; under half of it,
// the buffer commits nothing and results are published live, a scan whose
// result cannot be sent (broker away) waits in the inbox; with room again
// it is inspected and delivered. Every scan's result arrives, the
// status says what happens, and the daemon never dies.
func TestDiskFullTmpfs(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	if os.Getuid() != 0 {
		t.Skip("mounting a small tmpfs to fill needs root (CI runs as root)")
	}
	dir := t.TempDir()
	disk := filepath.Join(dir, "disk")
	os.MkdirAll(disk, 0o755)
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=160m", "tmpfs", disk).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs here (%v: %s): the disk-full test needs CAP_SYS_ADMIN", err, out)
	}
	t.Cleanup(func() { syscall.Unmount(disk, syscall.MNT_DETACH) })
	bin := agenttest.BuildBinary(t)
	b := testbroker.StartOpts(t, testbroker.Options{Persist: true})
	cfg, _ := faultConfig(t, disk, b.URL(), "")
	topics := publish.NewTopics(cfg.Site, cfg.Gate)
	in := mqtttest.Listen(t, b.URL(), "disk-room", topics.Base+"/#")
	cfg, d, addr := hostileDaemon(t, bin, disk, b.URL(), "", ", min_free_mb: 60")
	ballast := filepath.Join(disk, "ballast")
	var scans []string
	scan := func(id string) {
		writeNoisyScan(t, cfg.Scanner.Inbox, id)
		scans = append(scans, id)
	}
	inspected := func(id string) func() bool {
		return func() bool {
			return containsPayload(in.Payloads(topics.Inspections()), `"scan_id":"`+id+`"`)
		}
	}
	imageOf := func(id string) bool {
		for _, m := range in.Messages() {
			if strings.HasPrefix(m.Topic(), topics.Base+"/inspections/") && strings.HasSuffix(m.Topic(), "/image") {
				if r := results(t, in, topics.Inspections()); len(r) > 0 {
					for _, x := range r {
						if x.ScanID == id && strings.Contains(m.Topic(), x.InspectionID) {
							return true
						}
					}
				}
			}
		}
		return false
	}

	// The default budget (max_disk_mb: 0): half the space the buffer
	// could take at start, about 80 of the 160 MB.
	if bgt := getStatus(t, addr).Outbox.Disk.BudgetBytes; bgt < 64<<20 || bgt > 81<<20 {
		t.Errorf("disk budget %d MB, want about half of the 160 MB free at start", bgt>>20)
	}
	scan("room-1")
	agenttest.Eventually(t, 60*time.Second, "room-1 delivered with its image", func() bool { return inspected("room-1")() && imageOf("room-1") })

	fill(t, ballast, 45<<20) // under 60 MB, over 30: low
	scan("low-1")
	scan("low-2")
	agenttest.Eventually(t, 60*time.Second, "low scans delivered", func() bool { return inspected("low-1")() && inspected("low-2")() })
	agenttest.Eventually(t, 10*time.Second, "disk_low on …/status", func() bool {
		return hasProblem(lastStatus(t, in, topics).Problems, "disk_low")
	})
	if imageOf("low-1") || imageOf("low-2") {
		t.Error("images kept and sent with the disk under buffer.min_free_mb")
	}
	// The images are made after their results are committed (and may be
	// published): their skipping is counted a moment later.
	agenttest.Eventually(t, 10*time.Second, "both images not kept", func() bool { return getStatus(t, addr).Outbox.Disk.ImagesNotKept >= 2 })
	if st := getStatus(t, addr); !hasProblem(st.MQTT.Problems, "disk_low") || st.Outbox.Disk.State != "low" || st.Outbox.Disk.ImagesNotKept < 2 {
		t.Errorf("the page's status: problems %+v, disk %+v: want disk_low and 2 images not kept", st.MQTT.Problems, st.Outbox.Disk)
	}

	fill(t, ballast, 12<<20) // under 30 MB: full
	scan("full-1")
	agenttest.Eventually(t, 60*time.Second, "full-1 delivered live", inspected("full-1"))
	agenttest.Eventually(t, 10*time.Second, "disk_full on …/status", func() bool {
		return hasProblem(lastStatus(t, in, topics).Problems, "disk_full")
	})
	// The broker away as well: the result has nowhere to go; the scan waits.
	b.Shutdown()
	agenttest.Eventually(t, 20*time.Second, "daemon noticing the broker gone", func() bool { return !getStatus(t, addr).MQTT.Connected })
	scan("full-2")
	time.Sleep(3 * time.Second)
	if _, err := os.Stat(filepath.Join(cfg.Scanner.Inbox, "full-2.json")); err != nil {
		t.Fatalf("full-2 left the inbox with neither buffer nor broker to take its result: %v", err)
	}
	if !running(d) || !alive(addr) {
		t.Fatalf("the daemon died with the disk full:\n%s", tail(d.log.String(), 30))
	}

	os.Remove(ballast)
	b.Restart()
	agenttest.Eventually(t, 60*time.Second, "full-2 inspected once there is room", inspected("full-2"))
	agenttest.Eventually(t, 20*time.Second, "problems cleared on …/status", func() bool {
		st := lastStatus(t, in, topics)
		return st.State == "online" && len(st.Problems) == 0
	})
	agenttest.Eventually(t, 20*time.Second, "inbox empty, outbox delivered", func() bool {
		return inboxEmpty(t, cfg.Scanner.Inbox) && getStatus(t, addr).Outbox.Pending == 0
	})
	distinct(t, cfg, results(t, in, topics.Inspections()), scans)
	log := d.log.String()
	for _, want := range []string{"buffer disk nearly full", "buffer disk full", "results published live", "buffer disk has room again"} {
		if !strings.Contains(log, want) {
			t.Errorf("the daemon never logged %q", want)
		}
	}
	if !running(d) {
		t.Fatalf("the daemon died:\n%s", tail(d.log.String(), 30))
	}
	if t.Failed() {
		t.Logf("daemon log:\n%s", tail(d.log.String(), 60))
	}
	// The images not kept with the disk low left no note that they were
	// pending: nothing for the next start to make again or count lost.
	d.kill()
	st, err := buffer.Open(cfg.Buffer.Dir, buffer.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	p, err := st.ImagesPending()
	for _, n := range p {
		t.Errorf("scan %s's images still noted as pending: %s", n.Key, n.Note)
	}
	if err != nil {
		t.Error(err)
	}
}
