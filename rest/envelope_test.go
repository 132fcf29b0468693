package rest_test

import (
	"bytes"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestErrCodeIsAJSONStringByDefaultAndANumberWithNumericErrCode(t *testing.T) {
	for _, numeric := range []bool{false, true} {
		name := `errCode is "200" by default`
		want := []string{`"errCode":"200"`, `"errCode":"2017"`, `"errCode":"2004"`}
		if numeric {
			name = "errCode is 200 with REST_ERRCODE=number"
			want = []string{`"errCode":200`, `"errCode":2017`, `"errCode":2004`}
		}
		t.Run(name, func(t *testing.T) {
			c := newClient(t, false, numeric)
			ok := c.post(t, "/user/dealer/sendGraphCode", "", params{"deviceId": "d-1"}).ok(t)
			wrong := c.login(t, newPhone(), "not the password").fails(t, 2017)
			unknown := c.post(t, "/user/dealer/nothing", "", params{}).failsWith(t, http.StatusNotFound, 2004)
			for i, r := range []reply{ok, wrong, unknown} {
				if !bytes.Contains(r.Body, []byte(want[i])) {
					t.Errorf("%s: body %s, want %s", r.what, r.Body, want[i])
				}
			}
		})
	}
}

func TestEverySuccessIsHTTP200WithMsgSuccess(t *testing.T) {
	// readEnvelope checks this on every answer; this test shows it on the
	// raw bytes of one call without data in the document.
	c := newClient(t, true, false)
	r := c.post(t, "/user/custom/sendPhoneNum", "", params{"openId": "o", "telephone": newPhone()}).ok(t)
	if r.Status != 200 || r.Header.Get("Content-Type") != "application/json; charset=utf-8" {
		t.Fatalf("HTTP %d, Content-Type %q", r.Status, r.Header.Get("Content-Type"))
	}
	if got := strings.TrimSpace(string(r.Body)); got != `{"errCode":"200","msg":"success","data":{}}` {
		t.Fatalf("body %s", got)
	}
}

func TestWrongOrExpiredSMSCodesAnswer2016OnEveryVerifyPath(t *testing.T) {
	c := newClient(t, true, false)
	for _, kind := range []string{"custom", "proxy", "dealer"} {
		subject := func(phone string) params {
			if kind == "dealer" {
				return params{"deviceId": "device-" + phone, "telephone": phone}
			}
			return params{"openId": "openid-" + phone, "telephone": phone}
		}
		verify := func(phone, code string) reply {
			p := subject(phone)
			p["phoneNum"] = code
			return c.post(t, "/user/"+kind+"/verifyPhoneNum", "", p)
		}
		sendCode := func(phone string) string {
			c.post(t, "/user/"+kind+"/sendPhoneNum", "", subject(phone)).ok(t)
			return c.SMS.LastCode(t, phone)
		}
		t.Run("a wrong code on "+kind, func(t *testing.T) {
			phone := newPhone()
			code := sendCode(phone)
			r := verify(phone, otherCode(code)).fails(t, 2016)
			if r.Msg != "手机验证码错误" {
				t.Errorf("msg = %q, want the document's 手机验证码错误", r.Msg)
			}
			verify(phone, code).ok(t)
		})
		t.Run("an expired code on "+kind, func(t *testing.T) {
			phone := newPhone()
			code := sendCode(phone)
			c.Clock.Advance(5*time.Minute + time.Second)
			verify(phone, code).fails(t, 2016)
		})
		t.Run("a code asked for by another openId or device on "+kind, func(t *testing.T) {
			phone := newPhone()
			code := sendCode(phone)
			p := params{"telephone": phone, "phoneNum": code, "openId": "someone-else", "deviceId": "another-device"}
			c.post(t, "/user/"+kind+"/verifyPhoneNum", "", p).fails(t, 2016)
		})
	}
	t.Run("a wrong code on register and editPhone", func(t *testing.T) {
		phone, device := newPhone(), "device-x"
		c.post(t, "/user/dealer/sendGraphCode", "", params{"deviceId": device}).ok(t)
		code := c.codeFor(t, "dealer", phone, device)
		c.post(t, "/user/dealer/register", "", params{
			"deviceId": device, "telephone": phone, "phoneNum": otherCode(code), "picCode": testCaptcha, "password": "a long enough passphrase",
		}).fails(t, 2016)

		d := c.newDealer(t)
		newPh := newPhone()
		code = c.codeFor(t, "dealer", newPh, d.device)
		c.post(t, "/user/dealer/editPhone", "", params{"username": d.phone, "telephone": newPh, "deviceId": d.device, "phoneNum": otherCode(code)}).fails(t, 2016)
	})
}

// otherCode is a 6-digit code that is not code.
func otherCode(code string) string {
	b := []byte(code)
	b[5] = '0' + (b[5]-'0'+1)%10
	return string(b)
}

func TestAWrongPasswordAndAnUnknownPhoneAnswerTheSame2017(t *testing.T) {
	c := newClient(t, true, false)
	d := c.newDealer(t)
	wrong := c.login(t, d.phone, "not the password at all").fails(t, 2017)
	unknown := c.login(t, newPhone(), "not the password at all").fails(t, 2017)
	if wrong.Msg != unknown.Msg {
		t.Fatalf("messages differ: %q (wrong password) vs %q (unknown phone)", wrong.Msg, unknown.Msg)
	}
	t.Run("an account without a password cannot log in", func(t *testing.T) {
		a := c.newAgent(t)
		if r := c.login(t, a.phone, "anything at all"); r.fails(t, 2017).Msg != wrong.Msg {
			t.Fatalf("msg %q, want %q", r.Msg, wrong.Msg)
		}
	})
	t.Run("reset with a wrong old password", func(t *testing.T) {
		c.post(t, "/user/dealer/reset", "", params{"username": d.phone, "oldPS": "not the password", "newPS": "a brand new passphrase"}).fails(t, 2017)
		c.login(t, d.phone, d.password).ok(t)
	})
}

func TestUnknownPathsAnswer404WithTheEnvelope(t *testing.T) {
	c := newClient(t, false, false)
	for _, path := range []string{
		"/user/dealer/nothing",
		"/user/",
		"/user/dealer/login/",
		"/user/Dealer/login",
		"/user/dealer/LOGIN",
		"/user/proxy/editGender",
		"/user/dealer/uploadFrontImg",
	} {
		t.Run(path, func(t *testing.T) {
			r := c.post(t, path, "", params{}).failsWith(t, http.StatusNotFound, 2004)
			if r.Msg != "接口不存在" {
				t.Errorf("msg = %q", r.Msg)
			}
		})
	}
}

func TestWrongMethodsAnswer405WithTheEnvelope(t *testing.T) {
	c := newClient(t, false, false)
	for _, tc := range []struct {
		method, path, allow string
	}{
		{http.MethodGet, "/user/dealer/login", "POST"},
		{http.MethodGet, "/user/proxy/submitPUser", "POST"},
		{http.MethodPut, "/user/custom/sendPhoneNum", "POST"},
		{http.MethodDelete, "/user/proxy/auditPUser", "POST"},
		{http.MethodPatch, "/user/dealer/uploadFavicon", "POST"},
		{http.MethodPut, "/user/dealer/editGender", "GET, POST"},
		{http.MethodOptions, "/user/dealer/editNickname", "GET, POST"},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			r := c.send(t, tc.method, tc.path, "", "", http.NoBody).failsWith(t, http.StatusMethodNotAllowed, 2005)
			if got := r.Header.Get("Allow"); got != tc.allow {
				t.Errorf("Allow = %q, want %q", got, tc.allow)
			}
		})
	}
}

func TestFailuresNeverAnswer200NorAnEmptyMessage(t *testing.T) {
	// readEnvelope fails any answer whose errCode is 200 with another msg,
	// or whose failure msg is empty or not Chinese; these are the other
	// failures a client meets, with their errCode.
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			c := newClient(t, m.legacy, true)
			d := c.newDealer(t)
			a := c.newAgent(t)
			for _, tc := range []struct {
				name string
				code int
				call func(t *testing.T) reply
			}{
				{"a malformed phone", 2001, func(t *testing.T) reply {
					return c.post(t, "/user/custom/sendPhoneNum", "", params{"openId": "o", "telephone": "12345"})
				}},
				{"a second code within 60 seconds", 2029, func(t *testing.T) reply {
					phone := newPhone()
					c.post(t, "/user/proxy/sendPhoneNum", "", params{"openId": "o1", "telephone": phone}).ok(t)
					r := c.post(t, "/user/proxy/sendPhoneNum", "", params{"openId": "o1", "telephone": phone})
					if r.Header.Get("Retry-After") == "" {
						t.Errorf("no Retry-After on a rate limit")
					}
					return r
				}},
				{"a wrong captcha", 2015, func(t *testing.T) reply {
					c.post(t, "/user/dealer/sendGraphCode", "", params{"deviceId": "captcha-device"}).ok(t)
					return c.post(t, "/user/dealer/verifyPicCode", "", params{"deviceId": "captcha-device", "picCode": "0000"})
				}},
				{"a captcha that was never asked for", 2015, func(t *testing.T) reply {
					return c.post(t, "/user/dealer/verifyPicCode", "", params{"deviceId": "no-captcha", "picCode": testCaptcha})
				}},
				{"a registered phone registering again", 2018, func(t *testing.T) reply {
					device := "device-again"
					c.post(t, "/user/dealer/sendGraphCode", "", params{"deviceId": device}).ok(t)
					c.afterCooldown()
					code := c.codeFor(t, "dealer", d.phone, device)
					return c.post(t, "/user/dealer/register", "", params{
						"deviceId": device, "telephone": d.phone, "phoneNum": code, "picCode": testCaptcha, "password": "yet another passphrase",
					})
				}},
				{"a common password", 2020, func(t *testing.T) reply {
					return c.post(t, "/user/dealer/reset", c.auth(d.token), params{"username": d.phone, "oldPS": d.password, "newPS": "password1234"})
				}},
				{"switching to a phone not verified with the openId", 2021, func(t *testing.T) reply {
					return c.post(t, "/user/proxy/switchPUser", c.auth(a.token), params{"telephone": newPhone(), "openId": a.openID})
				}},
				{"auditing an agent who submitted nothing", 2004, func(t *testing.T) reply {
					return c.post(t, "/user/proxy/auditPUser", c.admin(t), params{"telephone": a.phone, "status": "3"})
				}},
				{"auditing with a status outside 1-3", 2001, func(t *testing.T) reply {
					return c.post(t, "/user/proxy/auditPUser", c.admin(t), params{"telephone": a.phone, "status": "0"})
				}},
				{"submitting twice while under review", 2009, func(t *testing.T) reply {
					b := c.newAgent(t)
					c.submit(t, b)
					front, qual := c.certificationImages(t, b)
					return c.post(t, "/user/proxy/submitPUser", c.auth(b.token), params{
						"telephone": b.phone, "realName": "李四", "idNo": validIDNo, "frontImg": front, "qualification": qual,
					})
				}},
				{"a dealer uploading an ID photo", 2003, func(t *testing.T) reply {
					return c.upload(t, "/user/proxy/uploadFrontImg", c.auth(d.token), params{"telephone": d.phone}, "id.png", pngImage(t))
				}},
				{"a nickname over 32 characters", 2001, func(t *testing.T) reply {
					return c.post(t, "/user/dealer/editNickname", c.auth(d.token), params{"username": d.phone, "nickName": strings.Repeat("车", 33)})
				}},
				{"an avatar that is not the account's upload", 2001, func(t *testing.T) reply {
					return c.post(t, "/user/dealer/editFavicon", c.auth(d.token), params{"username": d.phone, "favicon": "https://evil.example/me.png"})
				}},
				{"an upload without a file", 2001, func(t *testing.T) reply {
					return c.post(t, "/user/proxy/uploadQualification", c.auth(a.token), params{"telephone": a.phone})
				}},
			} {
				t.Run(tc.name, func(t *testing.T) {
					tc.call(t).fails(t, tc.code)
				})
			}
		})
	}
}
