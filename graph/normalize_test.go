package graph

import (
	"strconv"
	"strings"
	"testing"
)

func TestNormalize(t *testing.T) {
	n := NewNormalizer(DefaultRules())
	cases := []struct {
		in       IdentifierRef
		want     string
		dropWhy  string
		scenario string
	}{
		{IdentifierRef{"email", "  Ann@Example.COM "}, "email:ann@example.com", "", "email trimmed and lowercased"},
		{IdentifierRef{"EMAIL", "a@b.co"}, "email:a@b.co", "", "type lowercased"},
		{IdentifierRef{"email", "not-an-email"}, "", DropInvalidEmail, "email without @"},
		{IdentifierRef{"phone", "+39 333 123 4567"}, "phone:+393331234567", "", "international with spaces"},
		{IdentifierRef{"phone", "+39-333-1234567"}, "phone:+393331234567", "", "international with dashes"},
		{IdentifierRef{"phone", "(415) 555-0132"}, "phone:+14155550132", "", "national in default region"},
		{IdentifierRef{"phone", "call me"}, "", DropInvalidPhone, "unparseable phone"},
		{IdentifierRef{"phone", "555-1234"}, "", DropInvalidPhone, "a local number without its area code has no E.164 form"},
		{IdentifierRef{"phone", "5551234"}, "", DropInvalidPhone, "seven digits, local only"},
		{IdentifierRef{"phone", "(000) 000-0000"}, "", DropBlocked, "zeros, formatted"},
		{IdentifierRef{"phone", "+1 000 000 0000"}, "", DropBlocked, "zeros with a country code"},
		{IdentifierRef{"phone", "+39 0000000000"}, "", DropBlocked, "zeros, Italy"},
		// A trunk prefix written after the country code, as business
		// cards print it: the same number as without it.
		{IdentifierRef{"phone", "+49 (0) 030 1234567"}, "phone:+49301234567", "", "trunk 0 twice after +49"},
		{IdentifierRef{"phone", "+49 30 1234567"}, "phone:+49301234567", "", "Berlin without the trunk 0"},
		{IdentifierRef{"phone", "+31 (0) 020 123 4567"}, "phone:+31201234567", "", "trunk 0 twice after +31"},
		{IdentifierRef{"phone", "+61 (0) 02 9876 5432"}, "phone:+61298765432", "", "trunk 0 twice after +61"},
		{IdentifierRef{"email", "ann@exa\u00a0mple.com"}, "", DropInvalidEmail, "a no-break space in the domain"},
		{IdentifierRef{"email", "ann\u00a0x@example.com"}, "", DropInvalidEmail, "a no-break space in the local part"},
		{IdentifierRef{"email", "ann@exa\u3000mple.com"}, "", DropInvalidEmail, "an ideographic space"},
		{IdentifierRef{"email", "ann@\uff20"}, "", DropInvalidEmail, "a fullwidth @ for a domain"},
		{IdentifierRef{"email", "a@."}, "", DropInvalidEmail, "a domain of one dot"},
		{IdentifierRef{"email", "a@b..c"}, "", DropInvalidEmail, "an empty label"},
		{IdentifierRef{"email", "a@b@c.com"}, "", DropInvalidEmail, "an @ in the local part's domain"},
		{IdentifierRef{"email", "Ann@Example.com."}, "email:ann@example.com", "", "a trailing root dot"},
		{IdentifierRef{"user_id", " U1 "}, "user_id:U1", "", "other values trimmed, case kept"},
		{IdentifierRef{"user_id", "null"}, "", DropBlocked, "null"},
		{IdentifierRef{"anonymous_id", "UNDEFINED"}, "", DropBlocked, "blocklist ignores case"},
		{IdentifierRef{"device_id", "0000"}, "", DropBlocked, "zeros"},
		{IdentifierRef{"device_id", "00-00"}, "", DropBlocked, "zeros and dashes"},
		{IdentifierRef{"device_id", "-1"}, "", DropBlocked, "-1"},
		// Compatibility forms of a placeholder (fullwidth, as an East
		// Asian keyboard types them) are the placeholder.
		{IdentifierRef{"user_id", "\uff10\uff10\uff10"}, "", DropBlocked, "fullwidth zeros"},
		{IdentifierRef{"user_id", "\uff4e\uff55\uff4c\uff4c"}, "", DropBlocked, "fullwidth null"},
		{IdentifierRef{"user_id", "\uff0d\uff11"}, "", DropBlocked, "fullwidth -1"},
		{IdentifierRef{"user_id", "\uff55\uff11"}, "user_id:\uff55\uff11", "", "fullwidth, not a placeholder: kept as typed"},
		{IdentifierRef{"device_id", "   "}, "", DropEmpty, "blank"},
		{IdentifierRef{"device_id", strings.Repeat("a", 1025)}, "", DropTooLong, "over 1024 bytes"},
		{IdentifierRef{"device_id", strings.Repeat("a", 1024)}, "device_id:" + strings.Repeat("a", 1024), "", "exactly 1024 bytes"},
		{IdentifierRef{"device_id", "a\xffb"}, "", DropInvalidUTF8, "invalid UTF-8"},
		{IdentifierRef{"device_id", "a\xed\xa0\x80b"}, "", DropUnpairedSurrogate, "high surrogate U+D800 in WTF-8"},
		{IdentifierRef{"user_id", "\xed\xb0\x80"}, "", DropUnpairedSurrogate, "low surrogate U+DC00 in WTF-8"},
		{IdentifierRef{"user_id", "u\x00x"}, "", DropControlChar, "NUL"},
		{IdentifierRef{"user_id", "u\rx"}, "", DropControlChar, "CR inside"},
		{IdentifierRef{"user_id", "u\nx"}, "", DropControlChar, "LF inside"},
		{IdentifierRef{"user_id", "u\tx"}, "", DropControlChar, "TAB inside"},
		{IdentifierRef{"user_id", "u\x7fx"}, "", DropControlChar, "DEL"},
		{IdentifierRef{"user_id", "u\u0085x"}, "", DropControlChar, "C1 NEL inside"},
		{IdentifierRef{"user_id", "u\u009fx"}, "", DropControlChar, "C1 APC"},
		{IdentifierRef{"email", "ann@exa\x01mple.com"}, "", DropControlChar, "control in an email"},
		{IdentifierRef{"user_id", " u1\r\n"}, "user_id:u1", "", "surrounding CR LF trimmed, not refused"},
		{IdentifierRef{"user_id", "u\u200bx"}, "", DropFormatChar, "zero-width space"},
		{IdentifierRef{"user_id", "u\u200dx"}, "", DropFormatChar, "zero-width joiner"},
		{IdentifierRef{"user_id", "\ufeffu1"}, "", DropFormatChar, "BOM"},
		{IdentifierRef{"user_id", "u\u00adx"}, "", DropFormatChar, "soft hyphen"},
		{IdentifierRef{"user_id", "abc\u202edcba"}, "", DropFormatChar, "bidi override RLO"},
		{IdentifierRef{"user_id", "abc\u2066x\u2069"}, "", DropFormatChar, "bidi isolates"},
		{IdentifierRef{"email", "ann\u200b@example.com"}, "", DropFormatChar, "zero-width in an email"},
		{IdentifierRef{"phone", "+39 333\u202e1234567"}, "", DropFormatChar, "bidi control in a phone"},
		// Characters Unicode makes default-ignorable (rendered as nothing)
		// but that are not in category Cf: as invisible as a zero-width
		// space, so two values a person reads alike would differ, and a
		// value of such characters alone, which reads blank, would join
		// everyone who sends it.
		{IdentifierRef{"email", "ann\u034f@example.com"}, "", DropFormatChar, "combining grapheme joiner in an email"},
		{IdentifierRef{"user_id", "u1\ufe0f"}, "", DropFormatChar, "variation selector 16"},
		{IdentifierRef{"user_id", "u\U000e0100x"}, "", DropFormatChar, "ideographic variation selector"},
		{IdentifierRef{"device_id", "d\u180bx"}, "", DropFormatChar, "Mongolian free variation selector"},
		{IdentifierRef{"user_id", "\u3164"}, "", DropFormatChar, "Hangul filler alone, which reads blank"},
		{IdentifierRef{"user_id", "\uffa0\uffa0"}, "", DropFormatChar, "halfwidth Hangul fillers"},
		{IdentifierRef{"user_id", "\u115f\u1160"}, "", DropFormatChar, "Hangul choseong and jungseong fillers"},
		{IdentifierRef{"user_id", "k\u17b4x"}, "", DropFormatChar, "Khmer inherent vowel"},
		{IdentifierRef{"user_id", "\u1100\u1161"}, "user_id:\uac00", "", "conjoining jamo compose (NFC) and stay"},
		// UTS #46 drops a variation selector from a domain (an emoji
		// domain typed with U+FE0F after its heart): the domain is the
		// same, so the address is kept.
		{IdentifierRef{"email", "ann@example.com\ufe0f"}, "email:ann@example.com", "", "variation selector in a domain, dropped by IDNA"},
		{IdentifierRef{"email", "ann@i\u2764\ufe0f.ws"}, "email:ann@xn--i-7iq.ws", "", "emoji domain typed with a variation selector"},
		{IdentifierRef{"email", "ann@ex\u3164ample.com"}, "", DropInvalidEmail, "Hangul filler in a domain, refused by IDNA"},
		{IdentifierRef{"user_id", "u\ufffdx"}, "user_id:u\ufffdx", "", "a U+FFFD really sent stays"},
		{IdentifierRef{"user_id", "Jose\u0301"}, "user_id:Jos\u00e9", "", "NFC: e + combining acute composes"},
		{IdentifierRef{"user_id", "\u212b"}, "user_id:\u00c5", "", "NFC: the angstrom sign becomes A with ring"},
		{IdentifierRef{"email", "jose\u0301@example.com"}, "email:jos\u00e9@example.com", "", "NFC in an email's local part"},
		// Letters with two lowercase forms (a final sigma, a long s, the
		// micro sign): lowercasing leaves each as written, so an address
		// written in capitals and the same one in small letters would be
		// two. The local part takes the form case folding gives.
		{IdentifierRef{"email", "\u039d\u0399\u039a\u039f\u03a3@example.gr"}, "email:\u03bd\u03b9\u03ba\u03bf\u03c3@example.gr", "", "Greek capitals, sigma at the end"},
		{IdentifierRef{"email", "\u03bd\u03b9\u03ba\u03bf\u03c2@example.gr"}, "email:\u03bd\u03b9\u03ba\u03bf\u03c3@example.gr", "", "Greek small letters, final sigma"},
		{IdentifierRef{"email", "\u017Fam@example.com"}, "email:sam@example.com", "", "long s"},
		{IdentifierRef{"email", "\u00b5@example.com"}, "email:\u03bc@example.com", "", "micro sign"},
		{IdentifierRef{"email", "\u0131lgaz@example.com"}, "email:\u0131lgaz@example.com", "", "dotless i is a letter of its own"},
		{IdentifierRef{"user_id", "\u03bd\u03b9\u03ba\u03bf\u03c2"}, "user_id:\u03bd\u03b9\u03ba\u03bf\u03c2", "", "only an email is folded"},
		{IdentifierRef{"email", "Ann@B\u00dcCHER.example"}, "email:ann@xn--bcher-kva.example", "", "IDNA: domain lowercased and to punycode"},
		{IdentifierRef{"email", "ann@bu\u0308cher.example"}, "email:ann@xn--bcher-kva.example", "", "IDNA: decomposed domain"},
		{IdentifierRef{"email", "ann@XN--BCHER-KVA.example"}, "email:ann@xn--bcher-kva.example", "", "IDNA: ASCII form kept"},
		{IdentifierRef{"email", "ann@\uff45xample.com"}, "email:ann@example.com", "", "IDNA: fullwidth letter mapped"},
		{IdentifierRef{"email", "ann@mail_box.example.com"}, "email:ann@mail_box.example.com", "", "underscore in a domain kept"},
		{IdentifierRef{"email", "ann@\u05d0a.com"}, "", DropInvalidEmail, "IDNA: label breaks the bidi rule"},
		// U+2135 (ALEF SYMBOL) maps to the Hebrew alef after the bidi
		// rule is checked: the domain it gives is refused when given back.
		{IdentifierRef{"email", "ann@a\u2135.com"}, "", DropInvalidEmail, "IDNA: a mapping that breaks the bidi rule"},
		// UTS #46 maps the capital sharp s to ss; lowercasing first would
		// make it the small sharp s, another domain.
		{IdentifierRef{"email", "Ann@STRA\u1e9eE.de"}, "email:ann@strasse.de", "", "IDNA: capital sharp s is ss"},
		{IdentifierRef{"email", "ann@xn--a.com"}, "", DropInvalidEmail, "IDNA: bad punycode"},
		{IdentifierRef{"bad:type", "x"}, "", DropInvalidType, "colon in type"},
		{IdentifierRef{"", "x"}, "", DropInvalidType, "empty type"},
	}
	for _, c := range cases {
		t.Run(c.scenario, func(t *testing.T) {
			got, why := n.Normalize(c.in)
			if why != c.dropWhy {
				t.Fatalf("drop reason = %q (key %q), want %q", why, got.Key(), c.dropWhy)
			}
			if c.want != "" && got.Key() != c.want {
				t.Fatalf("key = %q, want %q", got.Key(), c.want)
			}
			// What is stored must normalize to itself: a profile shows it,
			// and a lookup or erasure by it must reach this identifier.
			if why == "" {
				if again, why := n.Normalize(got); why != "" || again != got {
					t.Fatalf("not idempotent: %q gives %q, which gives %q (%s)", c.in.Value, got.Value, again.Value, why)
				}
			}
		})
	}
}

// TestNormalizeEquivalentForms: the forms a person cannot tell apart give
// one key, and the look-alikes that differ by an invisible or unpaired
// character give none.
func TestNormalizeEquivalentForms(t *testing.T) {
	n := NewNormalizer(DefaultRules())
	same := [][]IdentifierRef{
		{{"user_id", "Ren\u00e9e"}, {"user_id", "Rene\u0301e"}},
		{{"email", "ren\u00e9e@caf\u00e9.example"}, {"email", "RENE\u0301E@CAFE\u0301.EXAMPLE"}, {"email", "ren\u00e9e@xn--caf-dma.example"}},
		{{"anonymous_id", "\u1100\u1161"}, {"anonymous_id", "\uac00"}},
	}
	for _, group := range same {
		want, why := n.Normalize(group[0])
		if why != "" {
			t.Fatalf("%q dropped: %s", group[0].Value, why)
		}
		for _, ref := range group[1:] {
			got, why := n.Normalize(ref)
			if why != "" || got.Key() != want.Key() {
				t.Errorf("%q gives %q (%s), want %q like %q", ref.Value, got.Key(), why, want.Key(), group[0].Value)
			}
		}
	}
	// Two different lone surrogates must not become one value.
	for _, v := range []string{"\xed\xa0\x80", "\xed\xb0\x80", "u-\xed\xaf\xbf"} {
		if got, why := n.Normalize(IdentifierRef{"user_id", v}); why != DropUnpairedSurrogate {
			t.Errorf("%q: key %q, drop %q; want %s", v, got.Key(), why, DropUnpairedSurrogate)
		}
	}
}

// TestNormalizeAllDropsAndOrders: NormalizeAll returns what it dropped and
// counts nothing (ApplyBatch counts once its batch commits).
func TestNormalizeAllDropsAndOrders(t *testing.T) {
	n := NewNormalizer(DefaultRules())
	keys, drops := n.NormalizeAll([]IdentifierRef{
		{"anonymous_id", "a1"}, {"email", "X@y.com"}, {"user_id", "u"}, {"email", "x@y.com "}, {"email", "null"},
	})
	want := []string{"user_id:u", "email:x@y.com", "anonymous_id:a1"}
	if strings.Join(keys, ",") != strings.Join(want, ",") {
		t.Fatalf("keys = %v, want %v", keys, want)
	}
	if len(drops) != 1 || drops[0].Reason != DropBlocked || len(n.Drops()) != 0 {
		t.Fatalf("drops = %v, counts %v", drops, n.Drops())
	}
}

func TestParseRules(t *testing.T) {
	r, err := ParseRules([]byte(`{
  "defaultRegion": "it",
  "types": {
    "email": {"blocked": ["test@test.com"], "blockedPatterns": ["@example\\.invalid$"]},
    "loyalty_id": {"priority": 6, "limit": 2}
  }
}`))
	if err != nil {
		t.Fatal(err)
	}
	if r.Rule("email").Limit != 5 || r.Rule("email").Priority != 2 {
		t.Fatalf("email rule lost its defaults: %+v", r.Rule("email"))
	}
	if r.Rule("loyalty_id").Limit != 2 || r.Rule("unknown_type").Limit != 5 {
		t.Fatal("custom and default rules not applied")
	}
	n := NewNormalizer(r)
	if _, why := n.Normalize(IdentifierRef{"email", "TEST@test.com"}); why != DropBlocked {
		t.Fatalf("per-type blocked value not applied: %q", why)
	}
	if _, why := n.Normalize(IdentifierRef{"email", "a@example.invalid"}); why != DropBlocked {
		t.Fatalf("per-type pattern not applied: %q", why)
	}
	if got, _ := n.Normalize(IdentifierRef{"phone", "333 123 4567"}); got.Value != "+393331234567" {
		t.Fatalf("default region not applied: %q", got.Value)
	}
}

// What a rules file leaves out keeps the built-in value: a new type
// without a priority takes default's (100), not 0, so it does not outrank
// user_id; a default with only a limit keeps default's priority. A type's
// blocked values are blocked in their normalized form too.
func TestParseRulesFillsWhatIsLeftOut(t *testing.T) {
	r, err := ParseRules([]byte(`{"default": {"limit": 3}, "types": {"loyalty_id": {"limit": 2}, "crm_id": {"blocked": ["0"]},
  "phone": {"blocked": ["555-555-5555"]}, "email": {"blocked": ["test@bücher.example"]}}}`))
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Rule("loyalty_id"); got.Priority != 100 || got.Limit != 2 {
		t.Errorf("loyalty_id rule %+v, want priority 100 (default's) and limit 2", got)
	}
	if got := r.Rule("crm_id"); got.Priority != 100 || got.Limit != 3 {
		t.Errorf("crm_id rule %+v, want default's priority 100 and limit 3", got)
	}
	if got := r.Rule("other"); got.Priority != 100 || got.Limit != 3 {
		t.Errorf("default rule %+v, want priority 100 kept and limit 3", got)
	}
	// A priority of 0 given outranks user_id (1); left out, it would be
	// default's 100.
	z, err := ParseRules([]byte(`{"types": {"crm_id": {"priority": 0, "limit": 2}}}`))
	if err != nil {
		t.Fatal(err)
	}
	if got := z.Rule("crm_id"); got.Priority != 0 || got.Limit != 2 {
		t.Errorf("crm_id rule %+v, want priority 0 as given and limit 2", got)
	}
	if keys, _ := NewNormalizer(z).NormalizeAll([]IdentifierRef{{"user_id", "u1"}, {"crm_id", "C1"}}); len(keys) != 2 || keys[0] != "crm_id:C1" {
		t.Errorf("keys by priority %v, want crm_id (priority 0) first", keys)
	}
	n := NewNormalizer(r)
	keys, _ := n.NormalizeAll([]IdentifierRef{{"loyalty_id", "L1"}, {"user_id", "u1"}})
	if len(keys) != 2 || keys[0] != "user_id:u1" {
		t.Errorf("keys by priority %v, want user_id first", keys)
	}
	for _, v := range []IdentifierRef{{"phone", "(555) 555-5555"}, {"phone", "+1 555 555 5555"}, {"email", "test@xn--bcher-kva.example"}, {"email", "TEST@Bücher.example"}} {
		if _, why := n.Normalize(v); why != DropBlocked {
			t.Errorf("%s %q: drop %q, want blocked by its normalized form", v.Type, v.Value, why)
		}
	}
}

func TestParseRulesErrors(t *testing.T) {
	cases := []struct{ in, want string }{
		{`{"defaultRegion": "UK"}`, `defaultRegion: "UK" is not a region code`},
		{"{\n  \"types\": {\n    \"email\": {\"limit\": 0,}\n  }\n}", "line 3"},
		{`{"types": {"email": {"limit": "five"}}}`, `"types.email.limit" must be int, not string`},
		{`{"types": {"email": {"limit": 5}, "loyalty_id": {"limit": "five"}}}`, `line 1, column 65: field "types.loyalty_id.limit" must be int, not string`},
		{"{\"types\": {\"email\": {\"limit\": 5},\n  \"crm\": {\"priority\": 3, \"blocked\": \"x\"}}}", `line 2, column 40: field "types.crm.blocked" must be []string, not string`},
		{`{"typos": {}}`, `unknown field "typos"`},
		{`{"types": {"email": {"limit": -1}}}`, "types.email.limit: must be at least 1"},
		{`{"types": {"Bad Type": {"limit": 1}}}`, "types.Bad Type"},
		{`{"types": {"email": {"blockedPatterns": ["("]}}}`, "types.email.blockedPatterns[0]"},
		// An empty pattern matches every value: it would block every
		// identifier of its type, or, at the top level, all of them.
		{`{"blockedPatterns": ["^[0-]*$", ""]}`, "blockedPatterns[1]: an empty pattern matches every value"},
		{`{"types": {"crm_id": {"blockedPatterns": [""]}}}`, "types.crm_id.blockedPatterns[0]: an empty pattern matches every value"},
		// So do patterns that match whatever they are given, or every
		// value of a kind they apply to.
		{`{"blockedPatterns": ["^[0-]*$", ".*"]}`, `blockedPatterns[1]: matches every ordinary email tried`},
		{`{"blockedPatterns": ["^"]}`, `blockedPatterns[0]: matches every ordinary email tried`},
		{`{"blockedPatterns": ["@"]}`, `blockedPatterns[0]: matches every ordinary email tried, so it would block every identifier of type email`},
		{`{"blockedPatterns": ["^\\+\\d"]}`, `blockedPatterns[0]: matches every ordinary phone number tried`},
		{`{"blockedPatterns": ["^[\\w-]+$"]}`, `blockedPatterns[0]: matches every ordinary id (a user id, a UUID, a customer number) tried`},
		{`{"types": {"email": {"blockedPatterns": ["(?s)."]}}}`, `types.email.blockedPatterns[0]: matches every ordinary email tried`},
		{`{"types": {"phone": {"blockedPatterns": ["^\\+"]}}}`, `types.phone.blockedPatterns[0]: matches every ordinary phone number tried, so it would block every identifier of type phone`},
		{`{"types": {"email": {"blockedPatterns": ["@"]}}}`, `types.email.blockedPatterns[0]: matches every ordinary email tried`},
		{`{"types": {"crm_id": {"blockedPatterns": ["\\w"]}}}`, `types.crm_id.blockedPatterns[0]: matches every ordinary id (a user id, a UUID, a customer number) tried, so it would block every identifier it applies to`},
		{`{"default": {"blockedPatterns": ["."]}}`, `default.blockedPatterns[0]: matches every ordinary id`},
		{`{"defaultRegion": "ITALY"}`, "defaultRegion"},
		{`{"consent": {"purposes": []}}`, "consent.purposes: list at least one purpose"},
		{`{"consent": {"purposes": ["email", "Ads"]}}`, `consent.purposes[1]: "Ads" is not a purpose name`},
		{`{"consent": {"purposes": ["a-b"]}}`, `consent.purposes[0]: "a-b"`},
		{`{"consent": {"purposes": ["email", "sms", "email"]}}`, `consent.purposes[2]: "email" is listed twice`},
		{`{"consent": {"categories": {"C0004": "targeting"}}}`, `consent.categories.C0004: "targeting" is not a purpose; the purposes are analytics, personalization, advertising, email, sms, push`},
		{`{"consent": {"purposes": ["email"], "categories": {"Advertising": "advertising"}}}`, `consent.categories.Advertising: "advertising" is not a purpose; the purposes are email`},
		{`{"consent": {"categories": {"Ads": "advertising", "ADS": "advertising"}}}`, `consent.categories: "ADS" and "Ads" are the same category`},
		{`{"consent": {"categories": {" ": "email"}}}`, `consent.categories: category " " must be 1 to 128 bytes`},
		{`{"consent": {"categories": {"a\u0007": "email"}}}`, `consent.categories: category "a\a" must be`},
		{`{"consent": {"purposes": "email"}}`, `"consent.purposes" must be []string, not string`},
		{`{"consent": {"purpose": ["email"]}}`, `unknown field "purpose"`},
		// A 0 given is a 0, not a value left out: refused where it must
		// be at least 1.
		{`{"types": {"device_id": {"limit": 0}}}`, "types.device_id.limit: must be at least 1, got 0"},
		{`{"types": {"loyalty_id": {"limit": 0}}}`, "types.loyalty_id.limit: must be at least 1, got 0"},
		{`{"default": {"limit": 0}}`, "default.limit: must be at least 1, got 0"},
		{`{"maxIdentifiers": 0}`, "maxIdentifiers: must be at least 1, got 0"},
	}
	for _, c := range cases {
		_, err := ParseRules([]byte(c.in))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("ParseRules(%s) error = %v, want it to mention %q", c.in, err, c.want)
		}
	}
}

func TestConsentRules(t *testing.T) {
	d := DefaultRules().Consent
	if strings.Join(d.Purposes, ",") != "analytics,personalization,advertising,email,sms,push" || len(d.Categories) != 0 {
		t.Fatalf("default consent rules = %+v", d)
	}
	// A file that says nothing of consent keeps the defaults.
	r, err := ParseRules([]byte(`{"defaultRegion": "IT"}`))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(r.Consent.Purposes, ",") != "analytics,personalization,advertising,email,sms,push" {
		t.Fatalf("purposes = %v, want the defaults", r.Consent.Purposes)
	}
	// A list replaces the defaults, in its order; categories map onto it.
	r, err = ParseRules([]byte(`{"consent": {"purposes": ["sms", "marketing_2"], "categories": {"C0004": "marketing_2", "Texts": "sms"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(r.Consent.Purposes, ",") != "sms,marketing_2" {
		t.Fatalf("purposes = %v, want [sms marketing_2]", r.Consent.Purposes)
	}
	if len(r.Consent.Categories) != 2 || r.Consent.Categories["C0004"] != "marketing_2" || r.Consent.Categories["Texts"] != "sms" {
		t.Fatalf("categories = %v", r.Consent.Categories)
	}
	// Categories alone keep the default purposes.
	r, err = ParseRules([]byte(`{"consent": {"categories": {"Targeting": "advertising"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Consent.Purposes) != 6 || r.Consent.Categories["Targeting"] != "advertising" {
		t.Fatalf("consent = %+v", r.Consent)
	}
}

func TestProfileIDFor(t *testing.T) {
	a, b := ProfileIDFor("email:a@b.co", 0), ProfileIDFor("email:a@b.co", 1)
	if a == b || a != ProfileIDFor("email:a@b.co", 0) || !strings.HasPrefix(a, "p_") || len(a) != 23 {
		t.Fatalf("ids %q %q", a, b)
	}
}

// TestNarrowBlockedPatternsAccepted: patterns meant for junk values, which
// match some ordinary values of a kind but not all, are accepted where a
// pattern that matches them all is refused (TestParseRulesErrors).
func TestNarrowBlockedPatternsAccepted(t *testing.T) {
	for _, in := range []string{
		`{"blockedPatterns": ["^[0-]*$", "@example\\.com$", "^test"]}`,
		`{"types": {"phone": {"blockedPatterns": ["^\\+1555"]}}}`,
		`{"types": {"email": {"blockedPatterns": ["^noreply@"]}}}`,
		`{"types": {"device_id": {"blockedPatterns": ["^[0-9a-f-]+$"]}}}`,
		`{"default": {"blockedPatterns": ["^cust0+$"]}}`,
	} {
		if _, err := ParseRules([]byte(in)); err != nil {
			t.Errorf("ParseRules(%s): %v, want it accepted", in, err)
		}
	}
}

// TestBlockedPatternsJudgeTheIdentifier: every spelling of one identifier
// gets the same verdict from a blocked pattern, since they are one
// identifier. A pattern is matched against the value as stored (and a
// phone's national digits), never against one spelling as sent: matched
// as sent, ^Test blocked "Test@x.io" and let "test@x.io", the same
// address, through, and a phone pattern with "(" or "-" blocked only the
// spellings that had them.
func TestBlockedPatternsJudgeTheIdentifier(t *testing.T) {
	spellings := map[string][][]string{
		TypeEmail: {
			{"Test@Example.com", "test@example.com", "TEST@EXAMPLE.COM", " test@Example.com "},
			{"ann@example.org", "Ann@EXAMPLE.org"},
		},
		TypePhone: {
			{"(555) 555-0199", "+1 555 555 0199", "+15555550199", "555-555-0199", "555.555.0199"},
			{"+44 20 7946 0958", "+442079460958"},
		},
	}
	patterns := map[string][]string{
		TypeEmail: {`^Test`, `^test`, `@Example\.com$`, `@example\.com$`, `^ `, `^ANN`, `^ann@`},
		TypePhone: {`^\+1555`, `^555`, `\(555\)`, `-`, `\.`, `\s`, `^\+44`, `^20`},
	}
	for typ, pats := range patterns {
		for _, pat := range pats {
			rules, err := ParseRules([]byte(`{"types": {"` + typ + `": {"blockedPatterns": [` + strconv.Quote(pat) + `]}}}`))
			if err != nil {
				t.Fatalf("pattern %q: %v", pat, err)
			}
			n := NewNormalizer(rules)
			for _, group := range spellings[typ] {
				verdicts := map[string][]string{}
				for _, s := range group {
					got, why := n.Normalize(IdentifierRef{Type: typ, Value: s})
					v := "stored as " + got.Value
					if why != "" {
						v = "dropped: " + why
					}
					verdicts[v] = append(verdicts[v], s)
				}
				if len(verdicts) != 1 {
					t.Errorf("%s pattern %q judges one identifier's spellings differently: %v", typ, pat, verdicts)
				}
			}
		}
	}
}

// TestBlockedValuesJudgeTheIdentifier is TestBlockedPatternsJudgeTheIdentifier
// for blocked values. A type's value is compared as written and in its
// normalized form; an address as written may be another address's
// spelling (a capital sharp s lowercases to ß, but is ss in a domain), so
// "ANN@STRAẞE.de" under types.email blocks ann@strasse.de and no spelling
// of ann@straße.de (ann@xn--strae-oqa.de), as it does at the top level.
func TestBlockedValuesJudgeTheIdentifier(t *testing.T) {
	groups := [][]string{
		{"ann@straße.de", "Ann@Straße.DE", "ann@xn--strae-oqa.de"},
		{"ann@strasse.de", "ANN@STRASSE.DE", "ANN@STRAẞE.de"},
		{"test@example.com", "Test@Example.COM"},
	}
	for _, in := range []string{
		`{"types": {"email": {"blocked": ["ANN@STRAẞE.de", "Test@Example.com"]}}}`,
		`{"blocked": ["null", "ANN@STRAẞE.de", "Test@Example.com"]}`,
	} {
		rules, err := ParseRules([]byte(in))
		if err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		n := NewNormalizer(rules)
		want := []string{"stored as ann@xn--strae-oqa.de", "dropped: blocked", "dropped: blocked"}
		for i, group := range groups {
			for _, s := range group {
				got, why := n.Normalize(IdentifierRef{Type: TypeEmail, Value: s})
				v := "stored as " + got.Value
				if why != "" {
					v = "dropped: " + why
				}
				if v != want[i] {
					t.Errorf("rules %s: email %q is %s, want %s", in, s, v, want[i])
				}
			}
		}
	}
}
