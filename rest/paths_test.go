package rest_test

import (
	"regexp"
	"slices"
	"strings"
	"testing"
)

// pathRow is one path of legacy-api.md: its request parameters and data
// names as the document lists them, and how to make a call of it succeed.
type pathRow struct {
	path   string
	params []string // the document's request parameters
	data   []string // the document's data names, plus "token" where the shim adds it
	file   bool     // an upload: multipart with the image in the field "file"
	// prepare readies what the call needs and returns the parameter values
	// and the token the client sends (none in legacy mode, except an
	// admin's for auditPUser).
	prepare func(t *testing.T, c *client) (params, string)
	// check looks at the values of a successful answer.
	check func(t *testing.T, c *client, r reply, p params)
}

// numberData are the data names the document types int; the others are strings.
var numberData = []string{"status", "gender"}

var (
	picURL     = regexp.MustCompile(`^http://127\.0\.0\.1:[0-9]+/captcha/[0-9a-f]{32}\.png$`)
	privateURL = regexp.MustCompile(`^http://127\.0\.0\.1:[0-9]+/files/private/[a-z_]+/[0-9a-f]{32}\.png\?`)
	publicURL  = regexp.MustCompile(`^http://127\.0\.0\.1:[0-9]+/files/public/avatars/[0-9a-f]{32}\.png$`)
)

func documentedPaths() []pathRow {
	profile := []string{"telephone", "nickName", "favicon", "gender", "status", "token"}
	checkProfile := func(t *testing.T, c *client, r reply, p params) {
		if got := r.str(t, "telephone"); got != p["telephone"] {
			t.Errorf("telephone = %q, want %q", got, p["telephone"])
		}
		if r.str(t, "nickName") != "" || r.str(t, "favicon") != "" || r.num(t, "gender") != 0 || r.num(t, "status") != 0 {
			t.Errorf("a new dealer's profile = %s, want empty nickName and favicon, gender 0, status 0", r.Body)
		}
	}
	sendCode := func(kind string) func(t *testing.T, c *client) (params, string) {
		return func(t *testing.T, c *client) (params, string) {
			phone := newPhone()
			if kind == "dealer" {
				return params{"deviceId": "device-" + phone, "telephone": phone}, ""
			}
			return params{"openId": "openid-" + phone, "telephone": phone}, ""
		}
	}
	verifyCode := func(kind string) func(t *testing.T, c *client) (params, string) {
		return func(t *testing.T, c *client) (params, string) {
			phone := newPhone()
			openID := "openid-" + phone
			return params{"openId": openID, "telephone": phone, "phoneNum": c.codeFor(t, kind, phone, openID)}, ""
		}
	}
	uploadFavicon := func(path string) pathRow {
		return pathRow{
			path: path, params: nil, data: []string{"favicon"}, file: true,
			prepare: func(t *testing.T, c *client) (params, string) {
				return params{}, c.auth(c.newDealer(t).token)
			},
			check: func(t *testing.T, c *client, r reply, _ params) {
				u := r.str(t, "favicon")
				if !publicURL.MatchString(u) {
					t.Errorf("favicon = %q, want a public avatar URL", u)
				}
				fetchPNG(t, u)
			},
		}
	}
	agentUpload := func(path, field string) pathRow {
		return pathRow{
			path: path, params: []string{"telephone"}, data: []string{field}, file: true,
			prepare: func(t *testing.T, c *client) (params, string) {
				a := c.newAgent(t)
				return params{"telephone": a.phone}, c.auth(a.token)
			},
			check: func(t *testing.T, c *client, r reply, _ params) {
				u := r.str(t, field)
				if !privateURL.MatchString(u) {
					t.Errorf("%s = %q, want a signed URL of a private file", field, u)
				}
				fetchPNG(t, u)
			},
		}
	}

	return []pathRow{
		{path: "/user/custom/sendPhoneNum", params: []string{"openId", "telephone"}, prepare: sendCode("custom")},
		{path: "/user/custom/verifyPhoneNum", params: []string{"openId", "telephone", "phoneNum"}, data: []string{"token"}, prepare: verifyCode("custom")},

		{path: "/user/proxy/sendPhoneNum", params: []string{"openId", "telephone"}, prepare: sendCode("proxy")},
		{path: "/user/proxy/verifyPhoneNum", params: []string{"openId", "telephone", "phoneNum"}, data: []string{"token"}, prepare: verifyCode("proxy")},
		{
			path: "/user/proxy/identifyPUser", params: []string{"telephone"}, data: []string{"status"},
			prepare: func(t *testing.T, c *client) (params, string) {
				a := c.newAgent(t)
				return params{"telephone": a.phone}, c.auth(a.token)
			},
			check: func(t *testing.T, c *client, r reply, _ params) {
				if s := r.num(t, "status"); s != 0 {
					t.Errorf("a new agent's status = %d, want 0 (未认证)", s)
				}
			},
		},
		{
			path: "/user/proxy/switchPUser", params: []string{"telephone", "openId"},
			prepare: func(t *testing.T, c *client) (params, string) {
				a := c.newAgent(t)
				// The client first verifies the new phone with the same openId.
				phone := newPhone()
				token := c.signIn(t, "proxy", phone, a.openID)
				return params{"telephone": phone, "openId": a.openID}, c.auth(token)
			},
			check: func(t *testing.T, c *client, r reply, _ params) {
				// Legacy mode proves nothing here (the verification already
				// gave the token), so it issues no session.
				if !c.legacy {
					r.token(t)
				}
			},
		},
		agentUpload("/user/proxy/uploadFrontImg", "frontImg"),
		agentUpload("/user/proxy/uploadQualification", "qualification"),
		{
			path:   "/user/proxy/submitPUser",
			params: []string{"telephone", "realName", "idNo", "frontImg", "qualification"},
			data:   []string{"realName", "idNo", "frontImg", "qualification", "status"},
			prepare: func(t *testing.T, c *client) (params, string) {
				a := c.newAgent(t)
				front, qual := c.certificationImages(t, a)
				return params{"telephone": a.phone, "realName": "张三", "idNo": validIDNo, "frontImg": front, "qualification": qual}, c.auth(a.token)
			},
			check: func(t *testing.T, c *client, r reply, p params) {
				if r.str(t, "realName") != "张三" || r.str(t, "idNo") != maskedIDNo || r.num(t, "status") != 1 {
					t.Errorf("submitPUser data = %s, want realName 张三, idNo %s, status 1 (审核中)", r.Body, maskedIDNo)
				}
				if r.str(t, "frontImg") != p["frontImg"] || r.str(t, "qualification") != p["qualification"] {
					t.Errorf("submitPUser image URLs = %s, want the submitted ones", r.Body)
				}
			},
		},
		{
			path: "/user/proxy/auditPUser", params: []string{"telephone", "status"},
			prepare: func(t *testing.T, c *client) (params, string) {
				a := c.newAgent(t)
				c.submit(t, a)
				return params{"telephone": a.phone, "status": "3"}, c.admin(t)
			},
			check: func(t *testing.T, c *client, _ reply, p params) {
				// An admin's token may read any account.
				if s := c.post(t, "/user/proxy/identifyPUser", c.admin(t), params{"telephone": p["telephone"]}).ok(t).num(t, "status"); s != 3 {
					t.Errorf("status after approval = %d, want 3 (已通过)", s)
				}
			},
		},

		{
			path: "/user/dealer/login", params: []string{"telephone", "password"}, data: profile,
			prepare: func(t *testing.T, c *client) (params, string) {
				d := c.newDealer(t)
				return params{"telephone": d.phone, "password": d.password}, ""
			},
			check: checkProfile,
		},
		{path: "/user/dealer/sendPhoneNum", params: []string{"deviceId", "telephone"}, prepare: sendCode("dealer")},
		{
			path: "/user/dealer/verifyPhoneNum", params: []string{"deviceId", "telephone", "phoneNum"},
			prepare: func(t *testing.T, c *client) (params, string) {
				// Even a dealer's phone is only verified: dealers sign in with their password.
				d := c.newDealer(t)
				c.afterCooldown()
				return params{"deviceId": d.device, "telephone": d.phone, "phoneNum": c.codeFor(t, "dealer", d.phone, d.device)}, ""
			},
		},
		{
			path: "/user/dealer/sendGraphCode", params: []string{"deviceId"}, data: []string{"picUrl"},
			prepare: func(t *testing.T, c *client) (params, string) {
				return params{"deviceId": "device-" + newPhone()}, ""
			},
			check: func(t *testing.T, c *client, r reply, _ params) {
				if u := r.str(t, "picUrl"); !picURL.MatchString(u) {
					t.Errorf("picUrl = %q, want http://<host>/captcha/<32 hex>.png", u)
				}
			},
		},
		{
			path: "/user/dealer/verifyPicCode", params: []string{"deviceId", "picCode"},
			prepare: func(t *testing.T, c *client) (params, string) {
				device := "device-" + newPhone()
				c.post(t, "/user/dealer/sendGraphCode", "", params{"deviceId": device}).ok(t)
				return params{"deviceId": device, "picCode": testCaptcha}, ""
			},
		},
		{
			path: "/user/dealer/register", params: []string{"deviceId", "telephone", "phoneNum", "picCode", "password"}, data: profile,
			prepare: func(t *testing.T, c *client) (params, string) {
				phone := newPhone()
				device := "device-" + phone
				c.post(t, "/user/dealer/sendGraphCode", "", params{"deviceId": device}).ok(t)
				code := c.codeFor(t, "dealer", phone, device)
				return params{"deviceId": device, "telephone": phone, "phoneNum": code, "picCode": testCaptcha, "password": "a long enough passphrase"}, ""
			},
			check: checkProfile,
		},
		{
			path: "/user/dealer/reset", params: []string{"username", "oldPS", "newPS"},
			prepare: func(t *testing.T, c *client) (params, string) {
				d := c.newDealer(t)
				return params{"username": d.phone, "oldPS": d.password, "newPS": "a brand new passphrase"}, c.auth(d.token)
			},
			check: func(t *testing.T, c *client, _ reply, p params) {
				c.login(t, p["username"].(string), "a brand new passphrase").ok(t)
			},
		},
		{
			path: "/user/dealer/editPhone", params: []string{"username", "telephone", "deviceId", "phoneNum"},
			prepare: func(t *testing.T, c *client) (params, string) {
				d := c.newDealer(t)
				phone := newPhone()
				code := c.codeFor(t, "dealer", phone, d.device)
				return params{"username": d.phone, "telephone": phone, "deviceId": d.device, "phoneNum": code}, c.auth(d.token)
			},
			check: func(t *testing.T, c *client, _ reply, p params) {
				c.login(t, p["telephone"].(string), "correct horse battery staple").ok(t)
			},
		},
		{
			path: "/user/dealer/editGender", params: []string{"username", "gender"},
			prepare: func(t *testing.T, c *client) (params, string) {
				d := c.newDealer(t)
				return params{"username": d.phone, "gender": "2"}, c.auth(d.token)
			},
			check: func(t *testing.T, c *client, _ reply, p params) {
				if g := c.login(t, p["username"].(string), "correct horse battery staple").ok(t).num(t, "gender"); g != 2 {
					t.Errorf("gender after editGender = %d, want 2", g)
				}
			},
		},
		{
			path: "/user/dealer/editNickname", params: []string{"username", "nickName"},
			prepare: func(t *testing.T, c *client) (params, string) {
				d := c.newDealer(t)
				return params{"username": d.phone, "nickName": "车城老王"}, c.auth(d.token)
			},
			check: func(t *testing.T, c *client, _ reply, p params) {
				if n := c.login(t, p["username"].(string), "correct horse battery staple").ok(t).str(t, "nickName"); n != "车城老王" {
					t.Errorf("nickName after editNickname = %q, want 车城老王", n)
				}
			},
		},
		{
			path: "/user/dealer/editFavicon", params: []string{"username", "favicon"},
			prepare: func(t *testing.T, c *client) (params, string) {
				d := c.newDealer(t)
				return params{"username": d.phone, "favicon": c.avatar(t, d)}, c.auth(d.token)
			},
			check: func(t *testing.T, c *client, _ reply, p params) {
				if f := c.login(t, p["username"].(string), "correct horse battery staple").ok(t).str(t, "favicon"); f != p["favicon"] {
					t.Errorf("favicon after editFavicon = %q, want %q", f, p["favicon"])
				}
			},
		},
		uploadFavicon("/user/dealer/uploadFavicon"),
		uploadFavicon("/user/dealer/euploadFavicon"), // the document's spelling
	}
}

func TestEveryDocumentedPathAnswersItsDocumentedDataOnSuccess(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			c := newClient(t, m.legacy, m.numeric)
			for _, row := range documentedPaths() {
				t.Run(pathName(row.path), func(t *testing.T) {
					p, token := row.prepare(t, c)
					names := make([]string, 0, len(p))
					for k := range p {
						names = append(names, k)
					}
					if !sameNames(names, row.params) {
						t.Fatalf("the row sends %v, the document lists %v", names, row.params)
					}
					var r reply
					if row.file {
						r = c.upload(t, row.path, token, p, "photo.png", pngImage(t))
					} else {
						r = c.post(t, row.path, token, p)
					}
					r.ok(t)
					for _, name := range row.data {
						if slices.Contains(numberData, name) {
							r.num(t, name)
						} else {
							r.str(t, name)
						}
					}
					if slices.Contains(row.data, "token") {
						r.token(t)
					} else if _, ok := r.Data["token"]; ok && row.check == nil {
						t.Errorf("data.token on a call that does not sign in: %s", r.Body)
					}
					if row.check != nil {
						row.check(t, c, r, p)
					}
				})
			}
		})
	}
}

// pathName names a subtest after a path: "custom sendPhoneNum".
func pathName(path string) string {
	return strings.ReplaceAll(strings.TrimPrefix(path, "/user/"), "/", " ")
}

func sameNames(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

func TestEveryDocumentedPathIsRouted(t *testing.T) {
	// An empty body reaches each path's call: a validation or auth failure,
	// never the 404 of an unknown path nor the 405 of a wrong method.
	c := newClient(t, true, false)
	for _, row := range documentedPaths() {
		t.Run(pathName(row.path), func(t *testing.T) {
			r := c.post(t, row.path, "", params{})
			if r.Status != 200 {
				t.Fatalf("POST %s with no parameters: HTTP %d %s", row.path, r.Status, r.Body)
			}
		})
	}
	if n := len(documentedPaths()); n != 23 {
		t.Fatalf("%d documented paths in the table, want 23", n)
	}
}
