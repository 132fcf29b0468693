package rest_test

import (
	"testing"
)

// protectedRow is a call that acts on an account: in token mode it needs
// that account's bearer token; in legacy mode the body names the account.
type protectedRow struct {
	path   string
	dealer bool // the account is a dealer (else an agent)
	file   bool
	// prepare readies a successful call on a and returns its parameters,
	// which name a, and the token of the account the call acts on.
	prepare func(t *testing.T, c *client, a account) (params, string)
}

func protectedPaths() []protectedRow {
	named := func(p func(a account) params) func(t *testing.T, c *client, a account) (params, string) {
		return func(t *testing.T, c *client, a account) (params, string) { return p(a), a.token }
	}
	return []protectedRow{
		{path: "/user/proxy/identifyPUser", prepare: named(func(a account) params { return params{"telephone": a.phone} })},
		{
			path: "/user/proxy/switchPUser",
			prepare: func(t *testing.T, c *client, a account) (params, string) {
				// The new phone is verified with a's openId, which moves the
				// openId there and signs the old phone out: the token to switch
				// with is the new phone's.
				phone := newPhone()
				token := c.signIn(t, "proxy", phone, a.openID)
				return params{"telephone": phone, "openId": a.openID}, token
			},
		},
		{path: "/user/proxy/uploadFrontImg", file: true, prepare: named(func(a account) params { return params{"telephone": a.phone} })},
		{path: "/user/proxy/uploadQualification", file: true, prepare: named(func(a account) params { return params{"telephone": a.phone} })},
		{
			path: "/user/proxy/submitPUser",
			prepare: func(t *testing.T, c *client, a account) (params, string) {
				// The uploads are made with a's token (none in legacy mode).
				front, qual := c.certificationImages(t, a)
				return params{"telephone": a.phone, "realName": "张三", "idNo": validIDNo, "frontImg": front, "qualification": qual}, a.token
			},
		},
		{path: "/user/dealer/reset", dealer: true, prepare: named(func(a account) params {
			return params{"username": a.phone, "oldPS": a.password, "newPS": "a brand new passphrase"}
		})},
		{
			path: "/user/dealer/editPhone", dealer: true,
			prepare: func(t *testing.T, c *client, a account) (params, string) {
				phone := newPhone()
				code := c.codeFor(t, "dealer", phone, a.device)
				return params{"username": a.phone, "telephone": phone, "deviceId": a.device, "phoneNum": code}, a.token
			},
		},
		{path: "/user/dealer/editGender", dealer: true, prepare: named(func(a account) params { return params{"username": a.phone, "gender": "1"} })},
		{path: "/user/dealer/editNickname", dealer: true, prepare: named(func(a account) params { return params{"username": a.phone, "nickName": "车行"} })},
		{
			path: "/user/dealer/editFavicon", dealer: true,
			prepare: func(t *testing.T, c *client, a account) (params, string) {
				return params{"username": a.phone, "favicon": c.avatar(t, a)}, a.token
			},
		},
		// The document names no account for avatar uploads; a client that
		// does name one names its own.
		{path: "/user/dealer/uploadFavicon", dealer: true, file: true, prepare: named(func(a account) params { return params{"username": a.phone} })},
		{path: "/user/dealer/euploadFavicon", dealer: true, file: true, prepare: named(func(a account) params { return params{"username": a.phone} })},
	}
}

func (c *client) callRow(t *testing.T, row protectedRow, token string, p params) reply {
	t.Helper()
	if row.file {
		return c.upload(t, row.path, token, p, "photo.png", pngImage(t))
	}
	return c.post(t, row.path, token, p)
}

func (c *client) newAccount(t *testing.T, dealer bool) account {
	t.Helper()
	if dealer {
		return c.newDealer(t)
	}
	return c.newAgent(t)
}

func TestTokenModeNeedsTheTokenOfTheAccountACallActsOn(t *testing.T) {
	c := newClient(t, false, false)
	for _, row := range protectedPaths() {
		t.Run(pathName(row.path), func(t *testing.T) {
			a, other := c.newAccount(t, row.dealer), c.newAccount(t, row.dealer)
			p, token := row.prepare(t, c, a)
			t.Run("without a token it answers 2002", func(t *testing.T) {
				c.callRow(t, row, "", p).fails(t, 2002)
			})
			t.Run("with an unknown token it answers 2002", func(t *testing.T) {
				c.callRow(t, row, "not-a-session-token", p).fails(t, 2002)
			})
			t.Run("with another account's token it answers 2003", func(t *testing.T) {
				c.callRow(t, row, other.token, p).fails(t, 2003)
			})
			t.Run("with the account's own token it succeeds", func(t *testing.T) {
				c.callRow(t, row, token, p).ok(t)
			})
		})
	}
}

func TestLegacyModeTrustsTheAccountNamedInTheBody(t *testing.T) {
	c := newClient(t, true, false)
	for _, row := range protectedPaths() {
		t.Run(pathName(row.path), func(t *testing.T) {
			a := c.newAccount(t, row.dealer)
			p, _ := row.prepare(t, c, a)
			c.callRow(t, row, "", p).ok(t)
		})
	}
}

func TestTokenModeAcceptsTheOwnTokenWithTheAccountUnnamedOrFormattedDifferently(t *testing.T) {
	c := newClient(t, false, false)
	a := c.newAgent(t)
	if s := c.post(t, "/user/proxy/identifyPUser", a.token, params{}).ok(t).num(t, "status"); s != 0 {
		t.Fatalf("status %d", s)
	}
	for _, format := range []string{"+86" + a.phone, "86" + a.phone, " " + a.phone[:3] + "-" + a.phone[3:7] + "-" + a.phone[7:] + " "} {
		c.post(t, "/user/proxy/identifyPUser", a.token, params{"telephone": format}).ok(t)
	}
	d := c.newDealer(t)
	c.post(t, "/user/dealer/editNickname", d.token, params{"nickName": "车行"}).ok(t)
	if n := c.login(t, d.phone, d.password).ok(t).str(t, "nickName"); n != "车行" {
		t.Fatalf("nickName %q", n)
	}
}

func TestAuditPUserNeedsAnAdminsTokenInBothModes(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			c := newClient(t, m.legacy, false)
			a := c.newAgent(t)
			c.submit(t, a)
			d := c.newDealer(t)
			audit := params{"telephone": a.phone, "status": "3"}
			c.post(t, "/user/proxy/auditPUser", "", audit).fails(t, 2002)
			c.post(t, "/user/proxy/auditPUser", a.token, audit).fails(t, 2003)
			c.post(t, "/user/proxy/auditPUser", d.token, audit).fails(t, 2003)
			if s := c.status(t, a); s != 1 {
				t.Fatalf("a refused audit changed the status to %d", s)
			}
			c.post(t, "/user/proxy/auditPUser", c.admin(t), audit).ok(t)
			if s := c.status(t, a); s != 3 {
				t.Fatalf("status %d after approval, want 3", s)
			}
		})
	}
}

func TestSwitchPUserRefusesATokenOfAnAccountWithoutTheOpenID(t *testing.T) {
	c := newClient(t, false, false)
	victim := c.newAgent(t)
	d := c.newDealer(t)
	// The agent's phone holds its openId, so switchPUser needs no code.
	r := c.post(t, "/user/proxy/switchPUser", d.token, params{"telephone": victim.phone, "openId": victim.openID})
	r.fails(t, 2003)
}
