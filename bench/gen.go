package bench

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/idgraph/cdp/graph"
)

// GenConfig sizes a generated population.
type GenConfig struct {
	// People is the number of real people. Visitors who never identify
	// (one in ten of People) come on top.
	People int
	// Events is the number of messages to deliver, duplicates included.
	// Zero means about ten per person. Every person's identifiers need a
	// few messages to be linked at all; when Events is smaller than that,
	// the population gets what it needs and Events is exceeded.
	Events int
	// Seed makes the population: the same config gives the same bytes.
	Seed uint64
}

// EventsPerPerson is the number of messages per person when GenConfig.Events
// is zero, and the ratio `cdp bench --events` uses to size the population.
const EventsPerPerson = 10

// Dataset is a generated population.
type Dataset struct {
	Config GenConfig
	// Messages are Segment messages, one JSON object each, in delivery
	// order. Duplicate deliveries are byte-identical copies.
	Messages [][]byte
	Truth    *Truth
	Stats    GenStats
}

// GenStats counts what a population holds.
type GenStats struct {
	People        int `json:"people"`
	Registered    int `json:"registered"`
	Visitors      int `json:"visitors"`
	FamilyDevices int `json:"family_devices"`
	OfficeEmails  int `json:"office_emails"`
	PhoneChanges  int `json:"phone_changes"`
	DottedEmails  int `json:"dotted_emails"`
	JunkMessages  int `json:"junk_messages"`
	Messages      int `json:"messages"`
	Duplicates    int `json:"duplicates"`
}

// The generated population lives in this window of event time.
var (
	genStart = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	genSpan  = 180 * 24 * time.Hour
)

// Files written by Dataset.Write.
const (
	EventsFile = "events.ndjson"
	TruthFile  = "truth.csv"
	RulesFile  = "rules.json"
)

// Generate builds a population with its ground truth. It fails only on a
// generator bug: an identifier claimed by two people, or a junk value that
// the bench rules would not drop.
func Generate(cfg GenConfig) (*Dataset, error) {
	if cfg.People < 1 {
		return nil, fmt.Errorf("people must be at least 1, got %d", cfg.People)
	}
	if cfg.Events < 0 {
		return nil, fmt.Errorf("events must not be negative, got %d", cfg.Events)
	}
	if cfg.Events == 0 {
		cfg.Events = cfg.People * EventsPerPerson
	}
	rules, err := Rules()
	if err != nil {
		return nil, fmt.Errorf("bench rules: %w", err)
	}
	g := &generator{
		cfg:   cfg,
		rng:   newRand(cfg.Seed),
		norm:  graph.NewNormalizer(rules),
		used:  map[string]bool{},
		seen:  map[string]string{},
		truth: map[string]*truthEntry{},
	}
	if err := g.run(); err != nil {
		return nil, err
	}
	return g.dataset()
}

// Write stores the dataset in dir as events.ndjson, truth.csv and rules.json.
func (d *Dataset) Write(dir string) error {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("output dir: %w", err)
	}
	var buf bytes.Buffer
	for _, m := range d.Messages {
		buf.Write(m)
		buf.WriteByte('\n')
	}
	if err := os.WriteFile(filepath.Join(dir, EventsFile), buf.Bytes(), 0o640); err != nil {
		return err
	}
	buf.Reset()
	if err := d.Truth.Write(&buf); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, TruthFile), buf.Bytes(), 0o640); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, RulesFile), []byte(RulesJSON), 0o640)
}

// message is a Segment-spec message as SDKs and sources send it.
type message struct {
	Type        string         `json:"type"`
	MessageID   string         `json:"messageId"`
	Timestamp   string         `json:"timestamp"`
	UserID      string         `json:"userId,omitempty"`
	AnonymousID string         `json:"anonymousId,omitempty"`
	Event       string         `json:"event,omitempty"`
	Name        string         `json:"name,omitempty"`
	Properties  map[string]any `json:"properties,omitempty"`
	Traits      map[string]any `json:"traits,omitempty"`
	Context     msgContext     `json:"context"`
}

type msgContext struct {
	Channel   string         `json:"channel"`
	Traits    map[string]any `json:"traits,omitempty"`
	Device    *msgDevice     `json:"device,omitempty"`
	App       *msgApp        `json:"app,omitempty"`
	Page      *msgPage       `json:"page,omitempty"`
	UserAgent string         `json:"userAgent,omitempty"`
}

type msgDevice struct {
	ID    string `json:"id"`
	Type  string `json:"type"`
	Model string `json:"model,omitempty"`
}

type msgApp struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

type msgPage struct {
	Path string `json:"path"`
	URL  string `json:"url"`
}

// Channels of the generated events (context.channel).
const (
	chanWeb    = "web"
	chanMobile = "mobile"
	chanEmail  = "email"
	chanStore  = "store"
	chanCRM    = "crm"
)

type phoneNumber struct {
	italian bool
	a, b, c string // US: area, exchange, line; Italy: "3xx", then 3 and 4 digits
}

type device struct {
	id, anon, kind, model string
}

type person struct {
	id         string
	registered bool
	userID     string
	first      string
	last       string
	primary    string // canonical email; every person has one
	second     string
	dotted     string // a dot variant of a gmail primary: a distinct key
	phones     []phoneNumber
	changeAt   time.Time
	browsers   []string
	devices    []device
	start      time.Time
	family     *sharedGroup
	office     *sharedGroup
}

// sharedGroup is an identifier several people use: a family tablet or an
// office mailbox. It belongs to none of them alone.
type sharedGroup struct {
	name    string
	members []*person
	device  device // family tablet
	email   string // office mailbox
}

type draft struct {
	at  time.Time
	msg message
}

type truthEntry struct {
	role    string
	persons []string
}

type generator struct {
	cfg    GenConfig
	rng    *rand.Rand
	norm   *graph.Normalizer
	used   map[string]bool // raw values handed out, to keep them unique
	seen   map[string]string
	truth  map[string]*truthEntry
	people []*person
	drafts []draft
	stats  GenStats
	err    error
}

func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 0x6364702d62656e63)) }

func (g *generator) fail(format string, args ...any) {
	if g.err == nil {
		g.err = fmt.Errorf(format, args...)
	}
}

// own records an identifier value that belongs to p and returns it.
func (g *generator) own(p *person, typ, raw string) string {
	g.record(typ, raw, RoleOwn, []string{p.id})
	return raw
}

// shared records an identifier used by every member of sg.
func (g *generator) shared(sg *sharedGroup, typ, raw string) string {
	ids := make([]string, len(sg.members))
	for i, m := range sg.members {
		ids[i] = m.id
	}
	g.record(typ, raw, RoleShared, ids)
	return raw
}

// junk records a placeholder value; the bench rules must drop it.
func (g *generator) junk(typ, raw string) string {
	g.record(typ, raw, RoleJunk, nil)
	return raw
}

func (g *generator) record(typ, raw, role string, persons []string) {
	// Normalizing a phone is costly and most values recur: remember who
	// claimed each raw value, and check a repeat against that.
	memo := typ + "\x00" + raw
	claim := role + "\x00" + strings.Join(persons, ";")
	if prev, ok := g.seen[memo]; ok {
		if prev != claim {
			g.fail("%s %q is claimed as %q and as %q", typ, raw, prev, claim)
		}
		return
	}
	g.seen[memo] = claim
	n, why := g.norm.Normalize(graph.IdentifierRef{Type: typ, Value: raw})
	if role == RoleJunk {
		if why == "" {
			g.fail("junk %s %q is not dropped by the bench rules (it normalizes to %s)", typ, raw, n.Key())
			return
		}
		key := typ + ":" + raw
		if _, ok := g.truth[key]; !ok {
			g.truth[key] = &truthEntry{role: RoleJunk}
		}
		return
	}
	if why != "" {
		g.fail("%s %q of %v is dropped by normalization (%s)", typ, raw, persons, why)
		return
	}
	key := n.Key()
	e, ok := g.truth[key]
	if !ok {
		g.truth[key] = &truthEntry{role: role, persons: persons}
		return
	}
	if e.role != role || strings.Join(e.persons, ";") != strings.Join(persons, ";") {
		g.fail("identifier %s is claimed by %s %v and by %s %v", key, e.role, e.persons, role, persons)
	}
}

func (g *generator) pick(xs []string) string { return xs[g.rng.IntN(len(xs))] }

func (g *generator) chance(p float64) bool { return g.rng.Float64() < p }

// unique calls gen until it gives a value not handed out before.
func (g *generator) unique(gen func(attempt int) string) string {
	for attempt := 0; ; attempt++ {
		v := gen(attempt)
		if !g.used[v] {
			g.used[v] = true
			return v
		}
	}
}

func (g *generator) uuid() string {
	hi, lo := g.rng.Uint64(), g.rng.Uint64()
	return fmt.Sprintf("%08x-%04x-4%03x-%04x-%012x", hi>>32, (hi>>16)&0xffff, hi&0xfff, 0x8000|(lo>>48)&0x3fff, lo&0xffffffffffff)
}

func (g *generator) run() error {
	n := g.cfg.People
	width := len(fmt.Sprint(n))
	for i := 0; i < n; i++ {
		g.people = append(g.people, g.newPerson(fmt.Sprintf("P%0*d", width, i+1)))
	}
	g.groupFamilies()
	g.groupOffices()
	for _, p := range g.people {
		g.lifeOf(p)
	}
	for _, sg := range g.families() {
		g.familyEvents(sg)
	}
	for _, sg := range g.offices() {
		g.officeEvents(sg)
	}
	g.visitors()
	target := g.cfg.Events - g.cfg.Events/100
	for len(g.drafts) < target {
		g.extra()
	}
	return g.err
}

var (
	firstNames = []string{"maria", "giulia", "francesca", "sara", "laura", "anna", "emma", "olivia", "ava", "sophia",
		"mia", "isabella", "chloe", "grace", "lucia", "marco", "luca", "giuseppe", "andrea", "matteo",
		"james", "john", "robert", "michael", "david", "william", "daniel", "joseph", "thomas", "charles",
		"noah", "liam", "ethan", "mason", "lucas", "aiden", "elena", "paolo", "chiara", "riccardo"}
	lastNames = []string{"rossi", "russo", "ferrari", "esposito", "bianchi", "romano", "colombo", "ricci", "marino", "greco",
		"bruno", "gallo", "conti", "deluca", "mancini", "costa", "smith", "johnson", "williams", "brown",
		"jones", "garcia", "miller", "davis", "rodriguez", "martinez", "hernandez", "lopez", "wilson", "anderson",
		"thomas", "taylor", "moore", "jackson", "martin", "lee", "thompson", "white", "harris", "clark"}
	personalDomains = []string{"gmail.com", "gmail.com", "gmail.com", "yahoo.com", "outlook.com", "hotmail.com", "icloud.com", "libero.it", "proton.me", "aol.com"}
	workDomains     = []string{"acme.com", "globex.com", "initech.com", "umbrella.io", "hooli.com", "stark.io", "wayne.co", "tyrell.com"}
	companyNames    = []string{"northwind", "contoso", "fabrikam", "adventureworks", "wideworld", "tailspin", "litware", "proseware", "lucerne", "margie"}
	// US area codes in service; lines are random, so the numbers are
	// possible (and mostly valid) but made up.
	areaCodes = []string{"201", "202", "206", "212", "213", "214", "215", "248", "267", "301", "303", "305", "310", "312",
		"313", "314", "347", "404", "415", "425", "469", "503", "512", "602", "612", "617", "646", "702", "704", "713",
		"718", "720", "773", "786", "801", "818", "832", "858", "904", "917", "919", "949", "972", "978"}
	itMobilePrefixes = []string{"320", "324", "328", "329", "330", "333", "334", "335", "338", "339", "340", "342", "345", "346", "347", "348", "349", "366", "380", "388", "389", "392", "393"}
	pages            = []string{"/", "/products", "/products/shoes", "/products/bags", "/sale", "/cart", "/checkout", "/account", "/blog", "/stores"}
	screens          = []string{"Home", "Catalog", "Product", "Cart", "Checkout", "Profile", "Orders"}
	trackNames       = []string{"Product Viewed", "Product Added", "Cart Viewed", "Checkout Started", "Order Completed", "Products Searched"}
	iosModels        = []string{"iPhone15,2", "iPhone14,5", "iPhone16,1", "iPad13,1"}
	androidModels    = []string{"Pixel 8", "SM-S911B", "SM-A546B", "moto g84"}
)

func (g *generator) newPerson(id string) *person {
	p := &person{id: id, registered: g.chance(0.7)}
	p.first, p.last = g.pick(firstNames), g.pick(lastNames)
	p.start = genStart.Add(time.Duration(g.rng.Int64N(int64(genSpan / 2))))
	if p.registered {
		g.stats.Registered++
		p.userID = g.unique(func(int) string { return fmt.Sprintf("u_%010d", g.rng.Int64N(1e10)) })
	}
	domain := g.pick(personalDomains)
	p.primary = g.email(p, domain)
	if g.chance(0.3) {
		p.second = g.email(p, g.pick(workDomains))
	}
	if domain == "gmail.com" && g.chance(0.25) {
		local, _, _ := strings.Cut(p.primary, "@")
		var dotted string
		if strings.Contains(local, ".") {
			dotted = strings.ReplaceAll(local, ".", "")
		} else {
			dotted = local[:1] + "." + local[1:]
		}
		dotted += "@gmail.com"
		if !g.used[dotted] {
			g.used[dotted] = true
			p.dotted = dotted
			g.stats.DottedEmails++
		}
	}
	if g.chance(0.8) {
		italian := g.chance(0.15)
		p.phones = append(p.phones, g.phone(italian))
		if g.chance(0.1) {
			p.phones = append(p.phones, g.phone(italian))
			p.changeAt = p.start.Add(time.Duration(g.rng.Int64N(int64(genStart.Add(genSpan).Sub(p.start)))))
			g.stats.PhoneChanges++
		}
	}
	for i, nb := 0, 1+g.rng.IntN(3); i < nb; i++ {
		p.browsers = append(p.browsers, g.unique(func(int) string { return g.uuid() }))
	}
	if p.registered && g.chance(0.5) {
		for i, nd := 0, 1+boolInt(g.chance(0.15)); i < nd; i++ {
			p.devices = append(p.devices, g.newDevice())
		}
	}
	return p
}

// title capitalizes an ASCII name.
func title(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func (g *generator) newDevice() device {
	d := device{anon: g.unique(func(int) string { return g.uuid() })}
	if g.chance(0.55) {
		d.kind, d.model = "ios", g.pick(iosModels)
		d.id = g.unique(func(int) string { return strings.ToUpper(g.uuid()) })
	} else {
		d.kind, d.model = "android", g.pick(androidModels)
		d.id = g.unique(func(int) string { return fmt.Sprintf("%016x", g.rng.Uint64()) })
	}
	return d
}

// email returns a new canonical (lowercase) address for p at domain.
func (g *generator) email(p *person, domain string) string {
	style := g.rng.IntN(4)
	return g.unique(func(attempt int) string {
		var local string
		switch style {
		case 0:
			local = p.first + "." + p.last
		case 1:
			local = p.first[:1] + p.last
		case 2:
			local = p.first + p.last
		default:
			local = p.first + "_" + p.last
		}
		if attempt > 0 {
			local += fmt.Sprint(g.rng.IntN(10 * (attempt + 1) * 100))
		}
		return local + "@" + domain
	})
}

func (g *generator) phone(italian bool) phoneNumber {
	var ph phoneNumber
	g.unique(func(int) string {
		if italian {
			ph = phoneNumber{italian: true, a: g.pick(itMobilePrefixes), b: fmt.Sprintf("%03d", g.rng.IntN(1000)), c: fmt.Sprintf("%04d", g.rng.IntN(10000))}
		} else {
			// Exchanges 200-999, never N11 nor 555 (reserved for fiction).
			ex := 200 + g.rng.IntN(800)
			for ex%100 == 11 || ex == 555 {
				ex = 200 + g.rng.IntN(800)
			}
			ph = phoneNumber{a: g.pick(areaCodes), b: fmt.Sprint(ex), c: fmt.Sprintf("%04d", g.rng.IntN(10000))}
		}
		return ph.a + ph.b + ph.c + fmt.Sprint(italian)
	})
	return ph
}

// format writes the number the way some form or export would.
func (g *generator) format(ph phoneNumber) string {
	a, b, c := ph.a, ph.b, ph.c
	if ph.italian {
		switch g.rng.IntN(6) {
		case 0:
			return "+39 " + a + " " + b + " " + c
		case 1:
			return "+39" + a + b + c
		case 2:
			return "+39-" + a + "-" + b + c
		case 3:
			return "(+39) " + a + " " + b + " " + c
		case 4:
			return "011 39 " + a + " " + b + c
		default:
			return "+39 " + a + "." + b + "." + c
		}
	}
	switch g.rng.IntN(8) {
	case 0:
		return "(" + a + ") " + b + "-" + c
	case 1:
		return a + "-" + b + "-" + c
	case 2:
		return a + "." + b + "." + c
	case 3:
		return "+1 " + a + " " + b + " " + c
	case 4:
		return "1-" + a + "-" + b + "-" + c
	case 5:
		return "+1" + a + b + c
	case 6:
		return a + b + c
	default:
		return "+1 (" + a + ") " + b + "-" + c
	}
}

// variant writes an email the way people type it: the same address up to
// case and surrounding whitespace, so it normalizes to the same key.
func (g *generator) variant(email string) string {
	switch g.rng.IntN(8) {
	case 0:
		return strings.ToUpper(email)
	case 1:
		local, domain, _ := strings.Cut(email, "@")
		return strings.ToUpper(local[:1]) + local[1:] + "@" + strings.ToUpper(domain[:1]) + domain[1:]
	case 2:
		return "  " + email + " "
	case 3:
		return email + "\t"
	default:
		return email
	}
}

// phoneAt is the number p used at t: the old one before a change.
func (p *person) phoneAt(t time.Time) (phoneNumber, bool) {
	switch {
	case len(p.phones) == 0:
		return phoneNumber{}, false
	case len(p.phones) > 1 && !t.Before(p.changeAt):
		return p.phones[1], true
	default:
		return p.phones[0], true
	}
}

// when returns a time in p's life, from start to the end of the window.
func (g *generator) when(p *person) time.Time {
	return p.start.Add(time.Duration(g.rng.Int64N(int64(genStart.Add(genSpan).Sub(p.start)))))
}

func (g *generator) emit(at time.Time, m message) { g.drafts = append(g.drafts, draft{at: at, msg: m}) }

func (g *generator) webContext(path string) msgContext {
	return msgContext{Channel: chanWeb, Page: &msgPage{Path: path, URL: "https://shop.example.com" + path},
		UserAgent: "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36"}
}

func (g *generator) mobileContext(p *person, d device, shared *sharedGroup) msgContext {
	id := d.id
	if shared != nil {
		id = g.shared(shared, graph.TypeDeviceID, id)
	} else {
		id = g.own(p, graph.TypeDeviceID, id)
	}
	return msgContext{Channel: chanMobile, Device: &msgDevice{ID: id, Type: d.kind, Model: d.model}, App: &msgApp{Name: "Shop", Version: "4.2.1"}}
}

func (g *generator) phoneTrait(p *person, at time.Time) (string, bool) {
	ph, ok := p.phoneAt(at)
	if !ok {
		return "", false
	}
	return g.own(p, graph.TypePhone, g.format(ph)), true
}

// lifeOf emits the messages that tie each of p's identifiers to the others:
// without them the truth would claim links no event carries.
func (g *generator) lifeOf(p *person) {
	hub := func(m *message) {
		if p.registered {
			m.UserID = g.own(p, graph.TypeUserID, p.userID)
		}
	}
	// Browsing anonymously, then identifying (login or newsletter form).
	for _, b := range p.browsers {
		t := g.when(p)
		path := g.pick(pages)
		g.emit(t, message{Type: "page", Name: path, AnonymousID: g.own(p, graph.TypeAnonymousID, b), Context: g.webContext(path)})
		m := message{Type: "identify", AnonymousID: g.own(p, graph.TypeAnonymousID, b),
			Traits:  map[string]any{"email": g.own(p, graph.TypeEmail, g.variant(p.primary)), "firstName": title(p.first), "lastName": title(p.last)},
			Context: g.webContext("/account")}
		hub(&m)
		g.emit(t.Add(3*time.Minute), m)
	}
	// The app: anonymous screens, then sign-in.
	for _, d := range p.devices {
		t := g.when(p)
		g.emit(t, message{Type: "screen", Name: "Home", AnonymousID: g.own(p, graph.TypeAnonymousID, d.anon), Context: g.mobileContext(p, d, nil)})
		m := message{Type: "track", Event: "Signed In", AnonymousID: g.own(p, graph.TypeAnonymousID, d.anon), Context: g.mobileContext(p, d, nil)}
		hub(&m)
		g.emit(t.Add(time.Minute), m)
	}
	// A CRM export row (registered customers) or a loyalty card signup.
	if p.registered || g.chance(0.5) {
		t := p.start.Add(time.Hour)
		traits := map[string]any{"email": g.own(p, graph.TypeEmail, g.variant(p.primary)), "name": title(p.first) + " " + title(p.last)}
		if ph, ok := g.phoneTrait(p, t); ok {
			traits["phone"] = ph
		}
		m := message{Type: "identify", Traits: traits, Context: msgContext{Channel: chanCRM}}
		hub(&m)
		g.emit(t, m)
	}
	// In store: the receipt asks for a phone and an email.
	if len(p.phones) > 0 {
		// Before any change, so that the old number is tied to the email.
		t := g.when(p)
		if len(p.phones) > 1 && !t.Before(p.changeAt) {
			t = p.start.Add(p.changeAt.Sub(p.start) / 2)
		}
		g.storeOrder(p, t, true)
	}
	// After a phone change, the new number comes in with a known identifier.
	if len(p.phones) > 1 {
		t := p.changeAt.Add(time.Duration(g.rng.Int64N(int64(48 * time.Hour))))
		ph, _ := g.phoneTrait(p, t)
		if p.registered {
			g.emit(t, message{Type: "identify", UserID: g.own(p, graph.TypeUserID, p.userID), Traits: map[string]any{"phone": ph}, Context: msgContext{Channel: chanCRM}})
		} else {
			g.emit(t, message{Type: "track", Event: "Order Completed", Properties: map[string]any{"total": 42.5},
				Context: msgContext{Channel: chanStore, Traits: map[string]any{"email": g.own(p, graph.TypeEmail, g.variant(p.primary)), "phone": ph}}})
		}
	}
	// A second address: given at work, or in another web form.
	if p.second != "" {
		t := g.when(p)
		m := message{Type: "identify", Traits: map[string]any{"email": g.own(p, graph.TypeEmail, g.variant(p.second))}, Context: msgContext{Channel: chanCRM}}
		if p.registered {
			hub(&m)
		} else {
			m.AnonymousID = g.own(p, graph.TypeAnonymousID, p.browsers[0])
			m.Context = g.webContext("/newsletter")
		}
		g.emit(t, m)
	}
	// The dotted spelling of a gmail address is another key; it is the same
	// person only because this form carried a known identifier with it.
	if p.dotted != "" {
		t := g.when(p)
		m := message{Type: "identify", AnonymousID: g.own(p, graph.TypeAnonymousID, p.browsers[len(p.browsers)-1]),
			Traits: map[string]any{"email": g.own(p, graph.TypeEmail, g.variant(p.dotted))}, Context: g.webContext("/checkout")}
		hub(&m)
		g.emit(t, m)
	}
	// The newsletter: the email platform knows the address only.
	g.emailOpened(p, g.when(p))
	if g.chance(0.03) {
		g.junkMessage(p)
	}
}

func (g *generator) storeOrder(p *person, t time.Time, withEmail bool) {
	traits := map[string]any{}
	if ph, ok := g.phoneTrait(p, t); ok {
		traits["phone"] = ph
	}
	if withEmail || len(traits) == 0 {
		traits["email"] = g.own(p, graph.TypeEmail, g.variant(p.primary))
	}
	g.emit(t, message{Type: "track", Event: "Order Completed", Properties: map[string]any{"total": float64(5+g.rng.IntN(400)) + 0.99, "store": fmt.Sprintf("store-%02d", g.rng.IntN(40))},
		Context: msgContext{Channel: chanStore, Traits: traits}})
}

func (g *generator) emailOpened(p *person, t time.Time) {
	addr := p.primary
	if p.second != "" && g.chance(0.3) {
		addr = p.second
	}
	name := "Email Opened"
	if g.chance(0.3) {
		name = "Email Link Clicked"
	}
	g.emit(t, message{Type: "track", Event: name, Properties: map[string]any{"campaign": fmt.Sprintf("c%03d", g.rng.IntN(60))},
		Context: msgContext{Channel: chanEmail, Traits: map[string]any{"email": g.own(p, graph.TypeEmail, addr)}}})
}

// junkMessage sends what broken forms and SDKs send: placeholders next to a
// real identifier, or nothing usable at all.
func (g *generator) junkMessage(p *person) {
	g.stats.JunkMessages++
	t := g.when(p)
	b := g.own(p, graph.TypeAnonymousID, p.browsers[0])
	switch k := g.rng.IntN(6); {
	case k == 0:
		m := message{Type: "identify", AnonymousID: b, Traits: map[string]any{"email": g.junk(graph.TypeEmail, g.pick([]string{"test@test.com", "TEST@TEST.COM ", "none@none.com", "noemail@noemail.com"}))}, Context: g.webContext("/signup")}
		if p.registered {
			m.UserID = g.own(p, graph.TypeUserID, p.userID)
		}
		g.emit(t, m)
	case k == 1:
		g.emit(t, message{Type: "identify", UserID: g.junk(graph.TypeUserID, g.pick([]string{"null", "undefined", "0", "-1"})), AnonymousID: b, Context: g.webContext("/account")})
	case k == 2:
		g.emit(t, message{Type: "track", Event: "Order Completed", Properties: map[string]any{"total": 9.99},
			Context: msgContext{Channel: chanStore, Traits: map[string]any{
				"phone": g.junk(graph.TypePhone, g.pick([]string{"0000", "000-000-0000", "123-456-7890", "555-555-5555"})),
				"email": g.own(p, graph.TypeEmail, p.primary)}}})
	case k == 3 && len(p.devices) > 0:
		d := p.devices[0]
		g.emit(t, message{Type: "track", Event: "App Opened", UserID: g.own(p, graph.TypeUserID, p.userID), AnonymousID: g.own(p, graph.TypeAnonymousID, d.anon),
			Context: msgContext{Channel: chanMobile, Device: &msgDevice{ID: g.junk(graph.TypeDeviceID, "00000000-0000-0000-0000-000000000000"), Type: "ios"}, App: &msgApp{Name: "Shop", Version: "4.2.1"}}})
	case k == 4:
		// Nothing usable: the collector refuses it, item by item.
		g.emit(t, message{Type: "track", Event: "Button Clicked", AnonymousID: g.junk(graph.TypeAnonymousID, g.pick([]string{"undefined", "null", "anonymous"})), Context: g.webContext("/")})
	default:
		g.emit(t, message{Type: "identify", AnonymousID: b, Traits: map[string]any{"email": g.junk(graph.TypeEmail, g.pick([]string{"N/A", "none", "-"}))}, Context: g.webContext("/signup")})
	}
}

// groupFamilies puts about 8% of registered people into households of two
// or three that share a tablet with the shop app on it.
func (g *generator) groupFamilies() {
	g.partition(8, 2, func(members []*person) {
		sg := &sharedGroup{name: fmt.Sprintf("family-%d", g.stats.FamilyDevices+1), members: members, device: g.newDevice()}
		for _, m := range sg.members {
			m.family = sg
		}
		g.stats.FamilyDevices++
	})
}

// groupOffices puts about 5% of registered people into offices of two to
// five that all give the office mailbox as their email somewhere.
func (g *generator) groupOffices() {
	g.partition(5, 4, func(members []*person) {
		g.stats.OfficeEmails++
		company := g.pick(companyNames)
		sg := &sharedGroup{name: fmt.Sprintf("office-%d", g.stats.OfficeEmails), members: members,
			email: g.unique(func(attempt int) string { return fmt.Sprintf("info@%s%d.com", company, g.rng.IntN(100*(attempt+1))) })}
		for _, m := range sg.members {
			m.office = sg
		}
	})
}

// partition shuffles the registered people and splits the first pct% of
// them into groups of 2 to 1+spread, calling form with each group's members
// in id order.
func (g *generator) partition(pct, spread int, form func(members []*person)) {
	var reg []*person
	for _, p := range g.people {
		if p.registered {
			reg = append(reg, p)
		}
	}
	g.rng.Shuffle(len(reg), func(i, j int) { reg[i], reg[j] = reg[j], reg[i] })
	n := len(reg) * pct / 100
	for i := 0; i+1 < n; {
		size := 2 + g.rng.IntN(spread)
		if i+size > n {
			size = n - i
		}
		if size < 2 {
			break
		}
		form(sortedMembers(reg[i : i+size]))
		i += size
	}
}

func sortedMembers(ps []*person) []*person {
	out := append([]*person(nil), ps...)
	sort.Slice(out, func(i, j int) bool { return out[i].id < out[j].id })
	return out
}

func (g *generator) families() []*sharedGroup {
	return g.groupsOf(func(p *person) *sharedGroup { return p.family })
}
func (g *generator) offices() []*sharedGroup {
	return g.groupsOf(func(p *person) *sharedGroup { return p.office })
}

func (g *generator) groupsOf(of func(*person) *sharedGroup) []*sharedGroup {
	var out []*sharedGroup
	seen := map[*sharedGroup]bool{}
	for _, p := range g.people {
		if sg := of(p); sg != nil && !seen[sg] {
			seen[sg] = true
			out = append(out, sg)
		}
	}
	return out
}

// familyEvents: the tablet is used signed out, then each member signs in
// on it. Only a user_id ever comes with the tablet's identifiers, so the
// user_id limit keeps the members apart whatever the arrival order.
func (g *generator) familyEvents(sg *sharedGroup) {
	first := sg.members[0]
	t := g.when(first)
	d := sg.device
	g.emit(t, message{Type: "screen", Name: "Home", AnonymousID: g.shared(sg, graph.TypeAnonymousID, d.anon), Context: g.mobileContext(first, d, sg)})
	for _, m := range sg.members {
		g.familySignIn(sg, m, g.when(m))
	}
}

func (g *generator) familySignIn(sg *sharedGroup, m *person, t time.Time) {
	d := sg.device
	g.emit(t, message{Type: "track", Event: "Signed In", UserID: g.own(m, graph.TypeUserID, m.userID),
		AnonymousID: g.shared(sg, graph.TypeAnonymousID, d.anon), Context: g.mobileContext(m, d, sg)})
}

// officeEvents: each member puts the office mailbox in the CRM with their
// user id, and the mailbox opens newsletters on its own.
func (g *generator) officeEvents(sg *sharedGroup) {
	for _, m := range sg.members {
		g.emit(g.when(m), message{Type: "identify", UserID: g.own(m, graph.TypeUserID, m.userID),
			Traits: map[string]any{"email": g.shared(sg, graph.TypeEmail, g.variant(sg.email)), "company": sg.email[5:]}, Context: msgContext{Channel: chanCRM}})
	}
	g.emit(g.when(sg.members[0]), message{Type: "track", Event: "Email Opened", Properties: map[string]any{"campaign": "b2b"},
		Context: msgContext{Channel: chanEmail, Traits: map[string]any{"email": g.shared(sg, graph.TypeEmail, sg.email)}}})
}

// visitors browse and never identify: one in ten of the people count, each
// with one anonymous id that must stay alone.
func (g *generator) visitors() {
	n := g.cfg.People / 10
	width := len(fmt.Sprint(n))
	for i := 0; i < n; i++ {
		v := &person{id: fmt.Sprintf("V%0*d", width, i+1), start: genStart.Add(time.Duration(g.rng.Int64N(int64(genSpan))))}
		anon := g.unique(func(int) string { return g.uuid() })
		g.stats.Visitors++
		for j, k := 0, 1+g.rng.IntN(3); j < k; j++ {
			path := g.pick(pages)
			g.emit(g.when(v), message{Type: "page", Name: path, AnonymousID: g.own(v, graph.TypeAnonymousID, anon), Context: g.webContext(path)})
		}
	}
}

// extra is one more everyday message from someone, using only identifiers
// that are theirs (or their family tablet with their user id).
func (g *generator) extra() {
	p := g.people[g.rng.IntN(len(g.people))]
	t := g.when(p)
	switch k := g.rng.IntN(10); {
	case k < 4:
		b := p.browsers[g.rng.IntN(len(p.browsers))]
		path := g.pick(pages)
		var m message
		if g.chance(0.5) {
			m = message{Type: "page", Name: path, AnonymousID: g.own(p, graph.TypeAnonymousID, b), Context: g.webContext(path)}
		} else {
			m = message{Type: "track", Event: g.pick(trackNames), Properties: map[string]any{"path": path, "value": g.rng.IntN(300)}, AnonymousID: g.own(p, graph.TypeAnonymousID, b), Context: g.webContext(path)}
		}
		if p.registered && g.chance(0.5) {
			m.UserID = g.own(p, graph.TypeUserID, p.userID)
		}
		g.emit(t, m)
	case k < 6 && len(p.devices) > 0:
		d := p.devices[g.rng.IntN(len(p.devices))]
		m := message{Type: "screen", Name: g.pick(screens), UserID: g.own(p, graph.TypeUserID, p.userID), AnonymousID: g.own(p, graph.TypeAnonymousID, d.anon), Context: g.mobileContext(p, d, nil)}
		if g.chance(0.4) {
			m = message{Type: "track", Event: g.pick(trackNames), Properties: map[string]any{"screen": g.pick(screens)}, UserID: m.UserID, AnonymousID: m.AnonymousID, Context: m.Context}
		}
		g.emit(t, m)
	case k == 6 && p.family != nil:
		g.familySignIn(p.family, p, t)
	case k < 8:
		g.emailOpened(p, t)
	default:
		g.storeOrder(p, t, g.chance(0.3))
	}
}

// dataset orders the drafts by event time, numbers them, adds duplicate
// deliveries a little later in the stream, and builds the truth.
func (g *generator) dataset() (*Dataset, error) {
	order := make([]int, len(g.drafts))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(i, j int) bool { return g.drafts[order[i]].at.Before(g.drafts[order[j]].at) })
	base := make([][]byte, len(g.drafts))
	for i, o := range order {
		d := &g.drafts[o]
		d.msg.MessageID = fmt.Sprintf("m-%x-%08d", g.cfg.Seed, i+1)
		d.msg.Timestamp = d.at.Format("2006-01-02T15:04:05.000Z")
		b, err := json.Marshal(d.msg)
		if err != nil {
			return nil, fmt.Errorf("encode message %d: %w", i, err)
		}
		base[i] = b
	}
	// Duplicates: the same bytes delivered again up to 2,000 messages later,
	// as an SDK retrying after a timeout does.
	dups := g.cfg.Events - len(base)
	if dups < len(base)/100 {
		dups = len(base) / 100
	}
	later := map[int][][]byte{}
	for i := 0; i < dups; i++ {
		src := g.rng.IntN(len(base))
		dst := src + 1 + g.rng.IntN(2000)
		if dst > len(base) {
			dst = len(base)
		}
		later[dst] = append(later[dst], base[src])
	}
	out := make([][]byte, 0, len(base)+dups)
	for i := 0; i <= len(base); i++ {
		out = append(out, later[i]...)
		if i < len(base) {
			out = append(out, base[i])
		}
	}
	g.stats.People = len(g.people)
	g.stats.Messages = len(out)
	g.stats.Duplicates = dups
	t := &Truth{rows: make(map[string]TruthRow, len(g.truth))}
	for k, e := range g.truth {
		t.rows[k] = TruthRow{Key: k, Role: e.role, Persons: e.persons}
	}
	return &Dataset{Config: g.cfg, Messages: out, Truth: t, Stats: g.stats}, nil
}
