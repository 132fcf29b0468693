package rest_test

import (
	"net/http"
	"strings"
	"testing"
)

func TestParametersAreReadFromEveryEncodingOldClientsUse(t *testing.T) {
	c := newClient(t, true, false)
	d := c.newDealer(t)
	for _, enc := range encodings {
		t.Run("login from "+string(enc), func(t *testing.T) {
			r := c.call(t, enc, "/user/dealer/login", "", params{"telephone": d.phone, "password": d.password}).ok(t)
			if r.str(t, "telephone") != d.phone {
				t.Fatalf("logged in as %s, want %s", r.Data["telephone"], d.phone)
			}
		})
	}
	t.Run("an upload's other parameters are multipart form fields", func(t *testing.T) {
		a := c.newAgent(t)
		r := c.upload(t, "/user/proxy/uploadFrontImg", "", params{"telephone": a.phone}, "front.png", pngImage(t)).ok(t)
		fetchPNG(t, r.str(t, "frontImg"))
	})
	t.Run("an upload's telephone may also come from the query string", func(t *testing.T) {
		a := c.newAgent(t)
		c.upload(t, "/user/proxy/uploadFrontImg?telephone="+a.phone, "", params{}, "front.png", pngImage(t)).ok(t)
	})
}

func TestUnknownParametersAreIgnored(t *testing.T) {
	c := newClient(t, true, false)
	d := c.newDealer(t)
	extra := params{
		"telephone": d.phone, "password": d.password,
		"version": "1.0.3", "platform": 2, "debug": true, "nothing": nil,
		"device": map[string]any{"os": "iOS", "model": []any{"iPhone", 8}},
		"tags":   []any{"a", 1, nil},
	}
	for _, enc := range []encoding{jsonBody, formBody, multipartBody} {
		t.Run("in "+string(enc), func(t *testing.T) {
			c.call(t, enc, "/user/dealer/login", "", extra).ok(t)
		})
	}
}

func TestNumbersAreAcceptedAsStringsAndAsNumbers(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			c := newClient(t, m.legacy, false)
			d := c.newDealer(t)
			for _, tc := range []struct {
				gender any
				want   int
			}{{"2", 2}, {1, 1}, {" 3 ", 3}, {0, 0}, {"1", 1}} {
				r := c.post(t, "/user/dealer/editGender", c.auth(d.token), params{"username": d.phone, "gender": tc.gender}).ok(t)
				if g := r.num(t, "gender"); g != tc.want {
					t.Errorf("editGender %#v: gender %d, want %d", tc.gender, g, tc.want)
				}
			}
			for _, bad := range []any{"4", -1, "two", 2.5, true, ""} {
				c.post(t, "/user/dealer/editGender", c.auth(d.token), params{"username": d.phone, "gender": bad}).fails(t, 2001)
			}

			a := c.newAgent(t)
			c.submit(t, a)
			c.post(t, "/user/proxy/auditPUser", c.admin(t), params{"telephone": a.phone, "status": "2"}).ok(t)
			if s := c.status(t, a); s != 2 {
				t.Fatalf("status after a rejection sent as \"2\" = %d, want 2", s)
			}
			c.submit(t, a)
			c.post(t, "/user/proxy/auditPUser", c.admin(t), params{"telephone": a.phone, "status": 3}).ok(t)
			if s := c.status(t, a); s != 3 {
				t.Fatalf("status after an approval sent as 3 = %d, want 3", s)
			}

			// A phone sent as a JSON number.
			r := c.post(t, "/user/dealer/login", "", params{"telephone": mustNumber(t, d.phone), "password": d.password}).ok(t)
			if r.str(t, "telephone") != d.phone {
				t.Fatalf("login with a numeric telephone: %s", r.Body)
			}
		})
	}
}

func TestParameterNamesAreExactlyTheDocumentedOnes(t *testing.T) {
	c := newClient(t, true, false)
	d := c.newDealer(t)
	t.Run("for dealers username is the account's phone", func(t *testing.T) {
		c.post(t, "/user/dealer/login", "", params{"username": d.phone, "password": d.password}).ok(t)
		c.post(t, "/user/dealer/editNickname", "", params{"username": d.phone, "nickName": "老王"}).ok(t)
	})
	t.Run("a differently spelled name is not read", func(t *testing.T) {
		for _, tc := range []struct {
			path string
			p    params
		}{
			{"/user/dealer/editNickname", params{"username": d.phone, "nickname": "老王"}},
			{"/user/dealer/editGender", params{"username": d.phone, "Gender": 1}},
			{"/user/dealer/login", params{"phone": d.phone, "password": d.password}},
			{"/user/dealer/reset", params{"username": d.phone, "oldPassword": d.password, "newPassword": "another passphrase"}},
			{"/user/custom/sendPhoneNum", params{"openid": "o", "telephone": newPhone()}},
		} {
			c.post(t, tc.path, "", tc.p).fails(t, 2001)
		}
		phone := newPhone()
		code := c.codeFor(t, "proxy", phone, "o-"+phone)
		c.post(t, "/user/proxy/verifyPhoneNum", "", params{"openId": "o-" + phone, "telephone": phone, "code": code}).fails(t, 2001)
		c.post(t, "/user/proxy/verifyPhoneNum", "", params{"openId": "o-" + phone, "telephone": phone, "phoneNum": code}).ok(t).token(t)
	})
}

func TestTheBodyWinsOverTheQueryString(t *testing.T) {
	c := newClient(t, true, false)
	d := c.newDealer(t)
	target := "/user/dealer/login?telephone=" + newPhone() + "&password=wrong"
	for _, enc := range []encoding{jsonBody, formBody, multipartBody} {
		t.Run("in "+string(enc), func(t *testing.T) {
			c.call(t, enc, target, "", params{"telephone": d.phone, "password": d.password}).ok(t)
		})
	}
}

func TestEditCallsAlsoAnswerGETWithQueryParameters(t *testing.T) {
	// The document gives the edit* calls no method ("http").
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			c := newClient(t, m.legacy, false)
			d := c.newDealer(t)
			c.get(t, "/user/dealer/editGender", c.auth(d.token), params{"username": d.phone, "gender": 1}).ok(t)
			c.get(t, "/user/dealer/editNickname", c.auth(d.token), params{"username": d.phone, "nickName": "车行"}).ok(t)
			url := c.avatar(t, d)
			c.get(t, "/user/dealer/editFavicon", c.auth(d.token), params{"username": d.phone, "favicon": url}).ok(t)
			r := c.login(t, d.phone, d.password).ok(t)
			if r.num(t, "gender") != 1 || r.str(t, "nickName") != "车行" || r.str(t, "favicon") != url {
				t.Fatalf("profile after GET edits: %s", r.Body)
			}
		})
	}
}

func TestMalformedBodiesAreRefusedWith2001(t *testing.T) {
	c := newClient(t, true, false)
	for _, tc := range []struct {
		name, contentType, body string
	}{
		{"truncated JSON", "application/json", `{"telephone":"13800138000",`},
		{"a JSON array", "application/json", `["telephone"]`},
		{"a JSON string", "application/json", `"telephone"`},
		{"JSON labelled as a form", "application/x-www-form-urlencoded", `{"telephone":}`},
		{"a form with a broken escape", "application/x-www-form-urlencoded", "telephone=%zz"},
		{"multipart without a boundary", "multipart/form-data", "--x\r\n"},
		{"multipart that does not match its boundary", "multipart/form-data; boundary=abc", "garbage"},
		{"bytes that are not UTF-8", "application/json", "\xff\xfe{"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c.send(t, http.MethodPost, "/user/dealer/login", tc.contentType, "", strings.NewReader(tc.body)).fails(t, 2001)
		})
	}
}

func mustNumber(t *testing.T, digits string) rawNumber {
	t.Helper()
	for _, r := range digits {
		if r < '0' || r > '9' {
			t.Fatalf("%q is not digits", digits)
		}
	}
	return rawNumber(digits)
}

// rawNumber marshals as a JSON number (a phone as an old JS client may send it).
type rawNumber string

func (n rawNumber) MarshalJSON() ([]byte, error) { return []byte(n), nil }
