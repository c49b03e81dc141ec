package embedbroker

import (
	"strings"
	"sync/atomic"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

func connect(t *testing.T, url, user, pass string) error {
	t.Helper()
	o := paho.NewClientOptions().AddBroker(url).SetClientID("t-" + user + pass).SetConnectRetry(false).SetAutoReconnect(false)
	if user != "" {
		o.SetUsername(user).SetPassword(pass)
	}
	c := paho.NewClient(o)
	tok := c.Connect()
	if !tok.WaitTimeout(10 * time.Second) {
		t.Fatal("no CONNACK within 10s")
	}
	if tok.Error() == nil {
		c.Disconnect(50)
	}
	return tok.Error()
}

// TestOpenOnlyOnLoopback: without credentials the broker lets anyone in,
// so it refuses to listen anywhere but loopback.
func TestOpenOnlyOnLoopback(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:0", ":0", "[::]:0"} {
		b, err := Start(addr, nil, nil)
		if err == nil {
			b.Close()
			t.Errorf("%s: started without credentials", addr)
		} else if !strings.Contains(err.Error(), "loopback") {
			t.Errorf("%s: %v, want a reason", addr, err)
		}
	}
	b, err := Start("127.0.0.1:0", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := connect(t, b.URL(), "", ""); err != nil {
		t.Errorf("anonymous client on loopback: %v", err)
	}
}

// TestCredentialsRequired: with credentials, a client without them or
// with a wrong password is refused; the password is read at every
// connection (a rotated one applies at once).
func TestCredentialsRequired(t *testing.T) {
	var pw atomic.Value
	pw.Store("first")
	b, err := Start("127.0.0.1:0", func() (string, string) { return "gate", pw.Load().(string) }, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	for _, c := range []struct {
		user, pass string
		ok         bool
	}{{"", "", false}, {"gate", "wrong", false}, {"other", "first", false}, {"gate", "first", true}} {
		if err := connect(t, b.URL(), c.user, c.pass); (err == nil) != c.ok {
			t.Errorf("user %q password %q: %v, want ok=%v", c.user, c.pass, err, c.ok)
		}
	}
	pw.Store("second")
	if err := connect(t, b.URL(), "gate", "first"); err == nil {
		t.Error("old password still accepted after rotation")
	}
	if err := connect(t, b.URL(), "gate", "second"); err != nil {
		t.Errorf("rotated password: %v", err)
	}
}
