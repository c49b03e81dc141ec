package agent

import (
	"fmt"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/gatescan/gatescan/agent/publish"
	"github.com/gatescan/gatescan/config"
	"github.com/gatescan/gatescan/internal/testbroker"
	"github.com/gatescan/gatescan/internal/testkit"
)

// TestDeclarationsOverMQTTAcrossBrokerRestart sends declarations on the
// site's topic through a real mosquitto, restarts the broker (which keeps
// no sessions: persistence is off), and sends more: the agent must
// resubscribe on reconnect and store them all; an invalid one is counted
// and does not disturb the rest.
func TestDeclarationsOverMQTTAcrossBrokerRestart(t *testing.T) {
	b := testbroker.Start(t)
	cfg := joinConfig(t, time.Second)
	cfg.MQTT.Broker = b.URL()
	cfg.MQTT.Keepalive = time.Second
	a := runAgent(t, cfg)

	send := func(payload string) {
		t.Helper()
		c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(b.URL()).SetClientID(fmt.Sprintf("customs-%d", time.Now().UnixNano())))
		if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Fatalf("customs client: %v", tok.Error())
		}
		defer c.Disconnect(100)
		if tok := c.Publish(publish.Declarations(cfg.Site), 1, false, payload); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Fatalf("publish: %v", tok.Error())
		}
	}
	stored := func(id string) bool {
		d, err := a.joiner().declaration(id)
		return err == nil && d != nil
	}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for time.Now().Before(deadline) {
			if cond() {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Fatalf("%s: not within 30s", what)
	}
	waitFor("agent connected", func() bool { return a.pub.State().Connected })
	// Retry the first publish until the agent's subscription is in place.
	waitFor("first declaration stored", func() bool {
		send(fmt.Sprintf(declJSON, "1", "CSQU3054383"))
		time.Sleep(200 * time.Millisecond)
		return stored("CSQU3054383")
	})
	send(`{"declaration_id": "broken"`)

	b.Stop()
	waitFor("agent notices the broker is gone", func() bool { return !a.pub.State().Connected })
	b.Restart()
	waitFor("agent reconnected", func() bool { return a.pub.State().Connected })
	waitFor("declaration after restart stored", func() bool {
		send(fmt.Sprintf(declJSON, "2", "MSKU9070323"))
		time.Sleep(200 * time.Millisecond)
		return stored("MSKU9070323")
	})
	if !stored("CSQU3054383") {
		t.Fatal("declaration from before the restart lost")
	}
	if n := counterValue(t, a, "gatescan_declarations_total", "outcome", "rejected"); n < 1 {
		t.Errorf("invalid declaration not counted as rejected (%v)", n)
	}
}

// versioned is a declaration of container with an id, an optional
// issued_at and revision, and a description telling the versions apart.
func versioned(id, container, issued string, rev int, desc string) string {
	extra := ""
	if issued != "" {
		extra += fmt.Sprintf(`,"issued_at":%q`, issued)
	}
	if rev > 0 {
		extra += fmt.Sprintf(`,"revision":%d`, rev)
	}
	return fmt.Sprintf(`{"declaration_id":%q,"container_id":%q,"container_type":"22G1","container_tare_kg":2200,"declared_gross_kg":5200,"items":[{"hs_code":"610910","description":%q,"gross_kg":3000}]%s}`,
		id, container, desc, extra)
}

// persistentBroker is a broker that keeps sessions across its restarts,
// and a join config for an agent on it that notices a restart within a
// second or so.
func persistentBroker(t *testing.T) (*testbroker.Broker, *config.Config) {
	b := testbroker.StartOpts(t, testbroker.Options{Persist: true})
	cfg := joinConfig(t, time.Second)
	cfg.MQTT.Broker = b.URL()
	cfg.MQTT.Keepalive = time.Second
	cfg.MQTT.ReconnectMin, cfg.MQTT.ReconnectMax = 50*time.Millisecond, 200*time.Millisecond
	return b, cfg
}

// customs connects the customs system's client, named clientID, to b and
// returns how it publishes a declaration for site, retained or not.
func customs(t *testing.T, b *testbroker.Broker, site, clientID string) func(retained bool, payload string) {
	t.Helper()
	c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(b.URL()).SetClientID(clientID))
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("customs client: %v", tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(100) })
	return func(retained bool, payload string) {
		t.Helper()
		if tok := c.Publish(publish.Declarations(site), 1, retained, payload); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Fatalf("publish: %v", tok.Error())
		}
	}
}

// eventually polls cond for up to 20 s, long enough for a broker restart.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testkit.Eventually(t, 20*time.Second, what, cond)
}

// description is the description of the first item of the declaration
// a holds for container, "" if none.
func description(a *Agent, container string) string {
	d, err := a.joiner().declaration(container)
	if err != nil || d == nil {
		return ""
	}
	return d.Items[0].Description
}

// TestDeclarationVersionsOverMQTT: the newer version of a container's
// declaration wins whatever the order versions arrive in (by issued_at,
// or the revision of the same declaration); a retained copy the broker
// replays on reconnecting never replaces a newer live one; a retained
// declaration waiting on the broker when the agent starts is stored.
func TestDeclarationVersionsOverMQTT(t *testing.T) {
	b, cfg := persistentBroker(t)
	send := customs(t, b, cfg.Site, "customs")
	// Retained on the broker before the agent exists: it comes with the
	// first subscription, right after the first CONNACK.
	send(true, versioned("R-1", "CSQU3054383", "", 0, "retained first version"))
	a := runAgent(t, cfg)
	desc := func(container string) string { return description(a, container) }
	eventually(t, "retained declaration stored at start", func() bool { return desc("CSQU3054383") == "retained first version" })

	// A live amendment without ordering fields: the later arrival wins.
	send(false, versioned("R-1", "CSQU3054383", "", 0, "live amendment"))
	eventually(t, "live amendment stored", func() bool { return desc("CSQU3054383") == "live amendment" })

	// Versions that carry their order, sent newest first.
	send(false, versioned("V-1", "MSKU9070323", "2026-12-06T10:05:00Z", 2, "revision 2"))
	eventually(t, "revision 2 stored", func() bool { return desc("MSKU9070323") == "revision 2" })
	send(false, versioned("V-1", "MSKU9070323", "2026-12-06T10:00:00Z", 1, "revision 1, late"))
	send(false, versioned("V-1", "MSKU9070323", "", 1, "revision 1 without a time"))
	send(false, versioned("X-9", "MSKU9070323", "2026-12-05T09:00:00Z", 0, "another declaration, older"))

	stale := func() float64 { return counterValue(t, a, "gatescan_declarations_total", "outcome", "stale") }
	eventually(t, "the three older versions ignored", func() bool { return stale() >= 3 })
	// The broker restarts; on reconnecting the agent subscribes again and
	// gets the retained first version once more.
	b.Shutdown()
	eventually(t, "agent notices", func() bool { return !a.pub.State().Connected })
	b.Restart()
	eventually(t, "agent reconnected", func() bool { return a.pub.State().Connected })
	// At least: a copy whose PUBACK the shutdown cut off comes again too.
	eventually(t, "the replayed retained copy ignored", func() bool { return stale() >= 4 })
	if d := desc("CSQU3054383"); d != "live amendment" {
		t.Errorf("CSQU3054383 holds %q after the retained copy came back: want the live amendment", d)
	}
	if d := desc("MSKU9070323"); d != "revision 2" {
		t.Errorf("MSKU9070323 holds %q: want revision 2, whatever came after", d)
	}
	// A newer one still replaces it.
	send(false, versioned("V-1", "MSKU9070323", "2026-12-06T11:00:00Z", 3, "revision 3"))
	eventually(t, "revision 3 stored", func() bool { return desc("MSKU9070323") == "revision 3" })
}

// TestDeclarationStoreFailureNotAcked: a declaration from MQTT that the
// buffer cannot store (its disk under the reserve) is logged, counted as
// store_failed and not acknowledged; the broker sends it again on the
// next connection, and once there is room it is stored.
func TestDeclarationStoreFailureNotAcked(t *testing.T) {
	b, cfg := persistentBroker(t)
	a := runAgent(t, cfg)
	publishDecl := customs(t, b, cfg.Site, "customs-sf")
	send := func(payload string) { t.Helper(); publishDecl(false, payload) }
	desc := func(container string) string { return description(a, container) }
	eventually(t, "subscribed", func() bool {
		send(versioned("S-0", "CSQU3054383", "", 0, "probe"))
		time.Sleep(100 * time.Millisecond)
		return desc("CSQU3054383") == "probe"
	})
	free, err := a.store.FreeBytes()
	if err != nil {
		t.Fatal(err)
	}
	a.store.SetReserve(4 * (free + 1<<40)) // the disk "full": every write refused
	send(versioned("S-1", "MSKU9070323", "", 0, "arrived while the disk was full"))
	eventually(t, "store failure counted", func() bool {
		return counterValue(t, a, "gatescan_declarations_total", "outcome", "store_failed") >= 1
	})
	if desc("MSKU9070323") != "" {
		t.Fatal("stored with every write refused")
	}
	a.store.SetReserve(0) // room again; the broker still holds it unacknowledged
	b.Shutdown()
	eventually(t, "agent notices", func() bool { return !a.pub.State().Connected })
	b.Restart()
	eventually(t, "the unacknowledged declaration sent again and stored", func() bool {
		return desc("MSKU9070323") == "arrived while the disk was full"
	})
}
