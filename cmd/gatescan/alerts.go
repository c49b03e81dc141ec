package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/gatescan/gatescan/agent/inspection"
	"github.com/gatescan/gatescan/agent/publish"
)

// alertsOptions are `gatescan alerts`' flags.
type alertsOptions struct {
	broker, site, gate string
	// shared is the shared-subscription group: consoles in one group split
	// the alerts between them; without it each console sees all.
	shared string
	// save is where each alert's JSON and annotated image are written.
	save string
	// clientID, when set, makes the session persistent: the broker keeps
	// queuing alerts for the console while it is away.
	clientID, username string
	// reconnectMax bounds the wait between attempts to reach the broker.
	reconnectMax time.Duration
}

func cmdAlerts(fs *flag.FlagSet, args []string, stdout, stderr io.Writer) error {
	var o alertsOptions
	fs.StringVar(&o.broker, "broker", "", "the control room's MQTT broker: tcp://HOST:1883, ssl://HOST:8883, ws://...")
	fs.StringVar(&o.site, "site", "+", "only this site's gates (default: every site)")
	fs.StringVar(&o.gate, "gate", "+", "only this gate (default: every gate)")
	fs.StringVar(&o.shared, "shared", "", "shared-subscription group: consoles of one group split the alerts (default: each sees all)")
	fs.StringVar(&o.save, "save", "", "write each alert as DIR/INSPECTION_ID.json with its annotated image beside it as .jpg")
	fs.StringVar(&o.clientID, "client-id", "", "MQTT client id; with one the session is persistent and the broker queues alerts while the console is away")
	fs.StringVar(&o.username, "username", "", "MQTT user name; the password is read from $GATESCAN_MQTT_PASSWORD")
	o.reconnectMax = 10 * time.Second
	if _, err := parse(fs, args); err != nil {
		return err
	}
	if o.broker == "" {
		return badInput("alerts: --broker is required, e.g. --broker tcp://control-room:1883")
	}
	for name, v := range map[string]string{"--site": o.site, "--gate": o.gate} {
		if v == "" || (v != "+" && strings.ContainsAny(v, "/+#")) {
			return badInput("alerts: %s %q: a name without /, + or # (leave it out for all)", name, v)
		}
	}
	if strings.ContainsAny(o.shared, "/+#") {
		return badInput("alerts: --shared %q: a group name without /, + or #", o.shared)
	}
	if o.save != "" {
		if err := os.MkdirAll(o.save, 0o755); err != nil {
			return badInput("alerts: --save: %v", err)
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	return runAlerts(ctx, o, stdout, stderr)
}

// runAlerts prints the gates' alerts until ctx ends, reconnecting and
// subscribing again whenever the broker goes away.
func runAlerts(ctx context.Context, o alertsOptions, stdout, stderr io.Writer) error {
	topics := publish.NewTopics(o.site, o.gate)
	alerts := topics.Alerts()
	if o.shared != "" {
		alerts = "$share/" + o.shared + "/" + alerts
	}
	filters := map[string]byte{alerts: 1}
	if o.save != "" {
		// Images are not shared: the console that prints an alert must get
		// its image whichever console the broker gave the image to.
		filters[topics.Image("+")] = 1
	}
	c := newAlertConsole(stdout, stderr, o.save)

	opts := mqtt.NewClientOptions().AddBroker(o.broker).
		SetAutoReconnect(true).SetConnectRetry(true).
		SetConnectRetryInterval(time.Second).SetMaxReconnectInterval(o.reconnectMax).
		SetOrderMatters(true)
	if o.clientID != "" {
		opts.SetClientID(o.clientID).SetCleanSession(false)
	} else {
		host, _ := os.Hostname()
		opts.SetClientID(fmt.Sprintf("gatescan-alerts-%s-%08x", host, rand.Uint32()))
	}
	if o.username != "" {
		opts.SetUsername(o.username).SetPassword(os.Getenv("GATESCAN_MQTT_PASSWORD"))
	}
	opts.SetConnectionLostHandler(func(_ mqtt.Client, err error) {
		fmt.Fprintf(stderr, "gatescan alerts: connection to %s lost (%v); reconnecting\n", o.broker, err)
	})
	// Subscribed again on every connection: a restarted broker without
	// persistence has forgotten the subscriptions.
	opts.SetOnConnectHandler(func(cl mqtt.Client) {
		tok := cl.SubscribeMultiple(filters, func(_ mqtt.Client, m mqtt.Message) {
			if strings.HasSuffix(m.Topic(), "/image") {
				c.image(m.Topic(), m.Payload())
			} else {
				c.alert(m.Payload())
			}
		})
		go func() {
			if !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
				fmt.Fprintf(stderr, "gatescan alerts: subscribe to %s: %v\n", alerts, tok.Error())
				return
			}
			fmt.Fprintf(stderr, "gatescan alerts: subscribed to %s on %s\n", alerts, o.broker)
		}()
	})
	cl := mqtt.NewClient(opts)
	// With ConnectRetry the token completes only once connected; the
	// console waits for the broker however long it takes.
	tok := cl.Connect()
	select {
	case <-tok.Done():
		if err := tok.Error(); err != nil {
			return fmt.Errorf("alerts: connect to %s: %w", o.broker, err)
		}
	case <-ctx.Done():
	}
	<-ctx.Done()
	cl.Disconnect(250)
	return nil
}

// alertConsole prints each alert once and saves it with its image.
type alertConsole struct {
	out, errOut io.Writer
	save        string

	mu   sync.Mutex
	seen *recentIDs
	// images wait here for their alert (an image may come first, and most
	// images are of clear inspections, which the console drops).
	images *recentIDs
	blobs  map[string][]byte
}

// keepIDs bounds the inspection ids remembered against redeliveries, and
// keepImages the images waiting for their alert.
const (
	keepIDs    = 100000
	keepImages = 64
)

func newAlertConsole(out, errOut io.Writer, save string) *alertConsole {
	c := &alertConsole{out: out, errOut: errOut, save: save, seen: newRecentIDs(keepIDs), images: newRecentIDs(keepImages), blobs: map[string][]byte{}}
	c.images.evicted = func(id string) { delete(c.blobs, id) }
	return c
}

// safeID is an inspection id that can name a file.
var safeID = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)

func (c *alertConsole) alert(payload []byte) {
	var r inspection.Result
	if err := json.Unmarshal(payload, &r); err != nil || r.InspectionID == "" {
		fmt.Fprintf(c.errOut, "gatescan alerts: a message that is not an inspection result (%d bytes): %v\n", len(payload), err)
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.seen.add(r.InspectionID) {
		return // a redelivery
	}
	fmt.Fprintf(c.out, "%s/%s%s\n", r.Site, r.Gate, formatLine(&r))
	if c.save == "" {
		return
	}
	if !safeID.MatchString(r.InspectionID) {
		fmt.Fprintf(c.errOut, "gatescan alerts: inspection id %q cannot name a file; not saved\n", r.InspectionID)
		return
	}
	c.write(r.InspectionID+".json", payload)
	if jpg, ok := c.blobs[r.InspectionID]; ok {
		c.write(r.InspectionID+".jpg", jpg)
		c.images.remove(r.InspectionID)
	}
}

func (c *alertConsole) image(topic string, jpg []byte) {
	// …/inspections/{inspection_id}/image
	parts := strings.Split(topic, "/")
	if len(parts) < 3 {
		return
	}
	id := parts[len(parts)-2]
	if !safeID.MatchString(id) {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.seen.has(id) {
		c.write(id+".jpg", jpg)
		return
	}
	c.images.add(id)
	c.blobs[id] = jpg
}

// write puts a file in the save directory whole or not at all.
func (c *alertConsole) write(name string, b []byte) {
	path := filepath.Join(c.save, name)
	tmp := path + ".tmp"
	err := os.WriteFile(tmp, b, 0o644)
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		fmt.Fprintf(c.errOut, "gatescan alerts: %v\n", err)
	}
}

// recentIDs is a set of the last n ids added, oldest forgotten first.
type recentIDs struct {
	n       int
	order   []string
	set     map[string]bool
	evicted func(id string)
}

func newRecentIDs(n int) *recentIDs { return &recentIDs{n: n, set: map[string]bool{}} }

func (s *recentIDs) has(id string) bool { return s.set[id] }

// add reports whether id is new.
func (s *recentIDs) add(id string) bool {
	if s.set[id] {
		return false
	}
	s.set[id] = true
	s.order = append(s.order, id)
	for len(s.order) > s.n {
		old := s.order[0]
		s.order = s.order[1:]
		if s.set[old] {
			delete(s.set, old)
			if s.evicted != nil {
				s.evicted(old)
			}
		}
	}
	return true
}

// remove forgets id before its turn (its place in the order is then
// skipped).
func (s *recentIDs) remove(id string) {
	delete(s.set, id)
	if s.evicted != nil {
		s.evicted(id)
	}
}
