package agent

import (
	"fmt"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/gatescan/gatescan/agent/publish"
	"github.com/gatescan/gatescan/internal/testbroker"
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
